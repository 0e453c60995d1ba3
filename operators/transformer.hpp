#pragma once
// type: transformer. Runs a model directory (models/model.hpp) over one field
// of each event, in dynamic batches: a batch closes at `max_batch` texts or
// `max_delay_ms` after its first one, whichever comes first.
//
// classify: writes label, score, model and model_version into the event.
//   The event leaves on the default port when the top label is not the
//   model's negative label and its score reaches that label's threshold, and
//   on `negative` otherwise. With query_values each parameter value is scored
//   and the event takes the verdict of its most suspicious value.
// embed: writes the normalised sentence embedding (a JSON array) and leaves on
//   the default port.
// A failed forward pass sends its events to `dlq` (reason model_error).
//
// With `learn: true` it learns from analysts' verdicts (operators/feedback.hpp)
// as the issue-6 design has it: a shadow copy of the model's head (model.yaml
// `head:`) trains on mini-batches of verdicts while every `holdout_every`-th
// verdict is held back and scored by both heads. After `gate_examples` held-back
// verdicts the shadow is promoted if it is right at least as often as the live
// head (an A/B gate), else it is discarded. Promoted heads are numbered after
// model.yaml's version and saved atomically in `versions_dir`; the newest is
// restored at start, and `pin_version` serves a given one (the model.yaml
// version: the bundled weights, a rollback) and freezes it. A learning
// transformer also watches for drift (operators/drift_watch.hpp) in the live
// head's errors on held-back verdicts and in its scores: `drift` port.
//
// Forward passes run on the operator's own inference thread: while it works
// on one closed batch, the operator thread keeps answering cache hits at once
// and fills the next batch (at most one more waits; then it blocks, which is
// the backpressure). A hit never queues behind a miss's forward pass.
#include <chrono>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <optional>
#include <map>
#include <mutex>
#include <thread>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/component.hpp"
#include "models/model.hpp"
#include "models/snapshots.hpp"
#include "operators/drift_watch.hpp"
#include "operators/feedback.hpp"
#include "operators/text_cache.hpp"
#include "operators/text_transforms.hpp"
#include "operators/verdict_fields.hpp"

namespace socstream {

class TransformerOp final : public Operator {
 public:
  explicit TransformerOp(const Settings& s);
  ~TransformerOp() override;
  std::vector<std::string> output_ports() const override { return {"", "negative", "dlq", "drift"}; }
  std::vector<FieldRead> reads() const override { return texts_.reads("the field to score"); }
  FieldWrites writes() const override {
    return {{names_.label, names_.score, names_.model, names_.version, names_.embedding}};
  }
  // The live head's version (model.yaml's until a shadow is promoted).
  std::string version() const { return *version_.load(); }
  void open() override;
  void process(Batch&& in, Outputs& out) override;
  std::optional<Clock::time_point> next_deadline() const override;
  void on_deadline(Outputs& out) override { close_batch(out); }
  void finish(Outputs& out) override;

  // For tests and benchmarks: a model other than the configured directory's.
  void use_model(std::unique_ptr<TextModel> m);

  struct Stats {
    uint64_t texts = 0;             // texts looked up
    uint64_t cache_hits = 0;        // answered by the cache
    uint64_t batch_duplicates = 0;  // sharing a forward pass with the same text earlier in the batch
    uint64_t forwards = 0;          // forward passes
    uint64_t forward_texts = 0;
    uint64_t model_errors = 0;      // events sent to dlq
    uint64_t verdicts = 0, rejected_verdicts = 0, trained = 0, held_back = 0, promotions = 0, discards = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Verdict {
    bool set = false;
    bool positive = false;
    uint32_t label = 0;
    float score = 0;
    float suspicion = 0;  // 1 - P(negative label): orders negative verdicts
    std::string text;     // the deciding text, kept only when remembering alerts for feedback
  };
  struct Pending {
    Event event;
    uint32_t refs_at, refs;  // its texts' jobs: refs[refs_at, refs_at + refs)
    Verdict verdict;
  };
  // A batch of texts to score and the events waiting on them.
  struct Open {
    std::vector<std::string> jobs;  // unique texts
    std::vector<std::string> keys;  // their cache keys
    std::unordered_map<std::string, uint32_t> index;
    std::vector<uint32_t> refs;
    std::vector<Pending> pending;
    Batch holds;  // keeps the waiting events' buffers alive
    std::vector<std::pair<std::string, uint32_t>> learn;  // verdicts: text, label
  };

  Verdict judge(const std::vector<float>& probs) const;
  static void combine(Verdict& into, const Verdict& v);
  // Looks the event's texts up; the misses become jobs of open_, referenced from open_.refs.
  void collect(Event& e, Verdict& v, std::vector<float>& embedding, bool& embedded);
  void route(Event&& e, const Verdict& v, const std::vector<float>* embedding, Batch& pos, Batch& neg, Arena& arena);
  // Hands the open batch to the inference thread (or runs it here without one).
  void close_batch(Outputs& out);
  // Scores a closed batch and emits its events: on the inference thread.
  void run(Open& b, Outputs& out);
  void inference_loop();
  void stop_inference();
  // Feedback, on the inference thread (it owns the model): train, hold back, gate.
  void learn_from(std::vector<std::pair<std::string, uint32_t>>& verdicts);
  void gate();
  void set_version(uint64_t v);
  void load_versions();
  // Drift documents found on either thread go out with the next emit.
  void watch(bool verdict, float value, const SourcePos& pos);
  void flush_drift(Outputs& out);

  ModelInfo info_;
  std::unique_ptr<TextModel> model_;
  TextTransforms texts_;
  size_t max_batch_;
  std::chrono::milliseconds max_delay_;
  size_t max_values_;
  size_t max_text_bytes_;
  bool bucketing_;
  bool async_;
  static constexpr size_t kMinRun = 4;  // below this, per-pass overhead outweighs padding
  std::vector<float> thresholds_;  // per label index
  uint32_t negative_ = 0;
  bool embed_ = false;
  // The live version as text for the verdict fields: every version made
  // stays alive, since events in flight point at it.
  std::deque<std::string> version_texts_;
  std::atomic<const std::string*> version_{nullptr};
  VerdictFields names_;

  bool learn_ = false;
  FeedbackJoin join_;
  std::mutex join_mu_;  // remember() runs on both threads
  std::optional<online::SnapshotStore> versions_;
  int64_t pin_ = 0;
  size_t holdout_every_, train_batch_, gate_examples_;
  int train_steps_;
  float learning_rate_;
  // Inference thread only:
  uint64_t seen_ = 0, next_version_ = 0;
  std::vector<std::pair<std::string, uint32_t>> train_;
  uint64_t window_trained_ = 0, held_ = 0, live_right_ = 0, shadow_right_ = 0;
  DriftWatch drift_;
  std::mutex drift_mu_;
  std::vector<std::pair<std::string, SourcePos>> drift_docs_;

  TextNormalizer normalizer_;
  std::mutex cache_mu_;  // the operator thread reads, the inference thread writes
  ResultCache cache_;

  Open open_;  // the batch being filled
  Clock::time_point first_at_{};

  std::thread inference_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Open> inbox_;  // the closed batch waiting for the inference thread
  bool stopping_ = false;
  Outputs* out_ = nullptr;

  std::string scratch_, key_;
  Stats stats_;
};

}  // namespace socstream
