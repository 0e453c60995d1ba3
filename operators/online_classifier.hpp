#pragma once
// type: online_classifier. Scores each event with an online linear model
// (models/online_linear.hpp) in about a microsecond, and learns from analysts'
// verdicts as they arrive.
//
// Verdicts (operators/feedback.hpp: labelled events, {text, label},
// {alert_id, label} joined with the positives it remembered) are scored first
// and then learnt (progressive validation); bad ones go to `dlq` with the reason.
//
// Other events (once the model has learnt from `min_updates` verdicts; until
// then they leave on `negative` unscored) get label, score, model,
// model_version and an `explanation` (the
// features that pushed the score up most) and leave on the default port when
// 1 - P(negative_label) reaches `threshold`, on `negative` otherwise.
//
// Snapshots: every `snapshot_every` updates or `snapshot_interval_s` seconds,
// and at shutdown, written atomically by a writer thread. A verdict's
// acknowledgement waits until a snapshot that learnt from it is on disk, so a
// crash loses no feedback: Kafka redelivers what no snapshot holds yet.
//
// Drift: Page-Hinkley detectors on the error rate over verdicts and on the
// share flagged (mean suspicion) send an event to the `drift` port; progress
// figures go to `metrics` every `metrics_interval_s` and to the log.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/component.hpp"
#include "models/online_linear.hpp"
#include "models/snapshots.hpp"
#include "operators/drift_watch.hpp"
#include "operators/feedback.hpp"
#include "operators/online_classifier/endpoint.hpp"
#include "operators/text_transforms.hpp"
#include "operators/verdict_fields.hpp"

namespace socstream {

class OnlineClassifierOp final : public Operator {
 public:
  explicit OnlineClassifierOp(const Settings& s);
  ~OnlineClassifierOp() override;
  std::vector<std::string> output_ports() const override { return {"", "negative", "drift", "metrics", "dlq"}; }
  std::vector<FieldRead> reads() const override { return texts_.reads("the field to score"); }
  FieldWrites writes() const override { return {{names_.label, names_.score, names_.model, names_.version, names_.explanation}}; }
  void open() override;
  void process(Batch&& in, Outputs& out) override;
  std::optional<Clock::time_point> next_deadline() const override;
  void on_deadline(Outputs& out) override;
  void finish(Outputs& out) override;
  std::string save_state() override;
  void restore_state(std::string_view state) override;

  const online::OnlineLinear& model() const { return *model_; }
  // The newest snapshot's number (written or on disk), and the version verdicts carry.
  uint64_t generation() const { return generation_; }
  const std::string& version() const { return versions_.back(); }
  struct Stats {
    uint64_t scored = 0, positive = 0, untrained = 0, learnt = 0, rejected = 0, snapshots = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  friend class OnlineEndpoint;
  // The feature slots of the event's texts (returns how many texts), or of
  // '\0'-joined texts, into slots_.
  size_t featurize(const Event& e);
  void featurize(std::string_view joined);
  void learn(Event& e, Batch& dlq, Outputs& out, Arena& arena, Batch& drift);
  void score(Event& e, Batch& pos, Batch& neg, Arena& arena, Batch& drift);
  std::string explain(uint32_t label, size_t top = 0);  // top 0: the explain setting
  // The verdict of probabilities: the label reported and whether it is positive.
  std::pair<uint32_t, bool> judge(const float* probs) const;
  void watch_scores(float suspicion, const Event& e, Arena& arena, Batch& drift);
  DriftWatch::Context drift_context(const Event& e) const;
  void emit_metrics(Outputs& out);
  void snapshot(bool wait);
  void set_version(uint64_t v);
  void writer_loop();

  std::string name_;
  std::vector<std::string> labels_;
  uint32_t negative_ = 0;
  float threshold_;
  online::FeatureOptions features_;
  online::FtrlParams ftrl_;
  std::optional<online::OnlineLinear> model_;
  TextTransforms texts_;
  VerdictFields names_;
  std::string explanation_field_;
  size_t explain_;

  uint64_t min_updates_;
  FeedbackJoin join_;

  DriftWatch drift_;

  std::optional<online::SnapshotStore> snapshots_;
  bool handed_over_ = false;  // restore_state gave the model: open() does not read the snapshots
  uint64_t snapshot_every_;
  std::chrono::milliseconds snapshot_interval_;
  uint64_t generation_ = 0;
  std::deque<std::string> versions_{"0"};  // every version's text, for the verdict fields' views
  uint64_t updates_at_snapshot_ = 0;
  Clock::time_point next_snapshot_{};
  std::vector<Ack> unsaved_;  // verdicts learnt since the last snapshot was queued

  // The writer thread: at most one snapshot waits; its acks complete once it is on disk.
  std::thread writer_;
  std::mutex mu_;
  std::condition_variable cv_;
  struct Pending {
    std::string bytes;
    uint64_t generation;
    std::vector<Ack> acks;
  };
  std::optional<Pending> pending_;
  bool writing_ = false, stop_writer_ = false;

  std::chrono::milliseconds metrics_interval_;
  Clock::time_point next_metrics_{};
  uint64_t window_examples_ = 0, window_correct_ = 0;  // since the last metrics event

  std::vector<uint32_t> slots_;
  std::vector<float> probs_;
  std::string scratch_, joined_;
  Stats stats_;

  // The model API reads the model from the admin's threads; batches take it whole.
  mutable std::mutex model_mu_;
  std::unique_ptr<OnlineEndpoint> endpoint_;
  // What /metrics shows, published after each batch: a scrape never waits for the model's lock.
  struct Published {
    std::atomic<double> accuracy{0};
    std::atomic<uint64_t> updates{0}, drifts{0}, rejected{0}, scored{0};
  } published_;
  void publish();
};

}  // namespace socstream
