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
// What a verdict does to the rules' hits (`mode`: confirm, augment, fuse) and
// where the model may veto them at all (its `domain:`): operators/transformer/cascade.hpp.
//
// Long texts are scored in windows that cover them whole (models/model.hpp),
// and an event's texts have a budget (operators/transformer/budget.hpp): an
// event with texts left unscored carries their count (`model_unscored`), and
// with `overflow: alert` (the default) it leaves on the default port even when
// what was scored looks benign, since padding is how a payload is hidden.
//
// With `learn: true` it learns from analysts' verdicts
// (operators/transformer/head_learner.hpp), and watches for drift
// (operators/drift_watch.hpp) in the live head's errors on held-back verdicts
// and in its scores: `drift` port.
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
#include "operators/drift_watch.hpp"
#include "operators/feedback.hpp"
#include "operators/text_cache.hpp"
#include "operators/text_transforms.hpp"
#include "operators/transformer/budget.hpp"
#include "operators/transformer/cascade.hpp"
#include "operators/transformer/endpoint.hpp"
#include "operators/transformer/head_learner.hpp"
#include "operators/verdict_fields.hpp"

namespace socstream {

class TransformerOp final : public Operator {
 public:
  explicit TransformerOp(const Settings& s);
  ~TransformerOp() override;
  std::vector<std::string> output_ports() const override { return {"", "negative", "dlq", "drift"}; }
  std::vector<FieldRead> reads() const override { return texts_.reads("the field to score"); }
  FieldWrites writes() const override {
    return {{names_.label, names_.score, names_.model, names_.version, names_.embedding, names_.unscored,
             names_.fused, names_.out_of_domain}};
  }
  // The live head's version (model.yaml's until a shadow is promoted).
  std::string version() const { return *version_.load(); }
  void open() override;
  void process(Batch&& in, Outputs& out) override;
  std::optional<Clock::time_point> next_deadline() const override;
  void on_deadline(Outputs& out) override { close_batch(out); }
  void finish(Outputs& out) override;

  // The model served: model.yaml as read, with the topology's precision and thresholds.
  const ModelInfo& model_info() const { return info_; }
  // For tests and benchmarks: a model other than the configured directory's.
  void use_model(std::unique_ptr<TextModel> m);

  struct Stats {
    uint64_t rule_hits = 0;         // scored events that carried a rule
    uint64_t vetoed = 0;            // rule hits the model sent to `negative`
    uint64_t out_of_domain = 0;     // rule hits passed because the model could not judge them
    uint64_t model_only = 0;        // alerts no rule flagged
    uint64_t texts = 0;             // texts looked up
    uint64_t cache_hits = 0;        // answered by the cache
    uint64_t batch_duplicates = 0;  // sharing a forward pass with the same text earlier in the batch
    uint64_t forwards = 0;          // forward passes
    uint64_t forward_texts = 0;
    uint64_t model_errors = 0;      // events sent to dlq
    uint64_t overflows = 0;         // events with texts left unscored
    uint64_t verdicts = 0, rejected_verdicts = 0, trained = 0, held_back = 0, promotions = 0, discards = 0;
  };
  Stats stats() const;

 private:
  friend class TransformerEndpoint;
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
    uint32_t unscored;
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
  // Looks the event's texts (those its budget allows) up; the misses become
  // jobs of open_, referenced from open_.refs. Returns the texts left unscored.
  uint32_t collect(Event& e, Verdict& v, std::vector<float>& embedding, bool& embedded);
  void lookup(std::string_view text, Verdict& v, std::vector<float>& embedding, bool& embedded);
  void route(Event&& e, const Verdict& v, uint32_t unscored, const std::vector<float>* embedding, Batch& pos, Batch& neg,
             Arena& arena);
  // Hands the open batch to the inference thread (or runs it here without one).
  void close_batch(Outputs& out);
  // Scores a closed batch and emits its events: on the inference thread.
  void run(Open& b, Outputs& out);
  void inference_loop();
  void stop_inference();
  void set_version(uint64_t v);
  // Drift documents found on either thread go out with the next emit.
  void watch(bool verdict, float value, const SourcePos& pos);
  void flush_drift(Outputs& out);

  ModelInfo info_;
  std::unique_ptr<TextModel> model_;
  TextTransforms texts_;
  size_t max_batch_;
  std::chrono::milliseconds max_delay_;
  TextBudget budget_;
  bool overflow_alert_;
  Cascade cascade_;
  std::vector<std::string> texts_buf_;  // an event's texts; the strings keep their buffers from event to event
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

  HeadLearner learner_;  // on the inference thread, which owns the model
  HeadLearner::Hooks hooks_;
  bool learn_ = false;
  FeedbackJoin join_;
  std::mutex join_mu_;  // remember() runs on both threads
  DriftWatch drift_;
  std::mutex drift_mu_;
  std::vector<std::pair<std::string, SourcePos>> drift_docs_;

  TextNormalizer normalizer_;
  std::mutex cache_mu_;  // the operator thread reads, the inference thread writes
  size_t cache_capacity_ = 0;  // set once: read on both threads without the lock
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
  // Forward passes, learning and pins take it: the model API runs on the admin's threads.
  std::mutex model_mu_;
  struct Metrics {
    Counter* lookups = nullptr;
    Counter* hits = nullptr;
    Histogram* forward_seconds = nullptr;
    Histogram* forward_texts = nullptr;
  } metrics_;
  std::unique_ptr<TransformerEndpoint> endpoint_;
};

}  // namespace socstream
