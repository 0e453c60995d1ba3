#pragma once
// A transformer's head learning from analysts' verdicts (operators/feedback.hpp),
// as the issue-6 design has it: a shadow copy of the model's head (model.yaml
// `head:`) trains on mini-batches of verdicts while every `holdout_every`-th
// verdict is held back and scored by both heads. After `gate_examples`
// held-back verdicts the shadow is promoted if it is right at least as often as
// the live head (an A/B gate), else it is discarded. Promoted heads are
// numbered after model.yaml's version and saved atomically in `versions_dir`;
// the newest is restored at start, and `pin_version` serves a given one (the
// model.yaml version: the bundled weights, a rollback) and freezes it.
//
// It runs on the thread that owns the model (the transformer's inference
// thread); what the transformer must do when a version changes (serve its
// number, forget cached verdicts) and what each held-back verdict says of the
// live head (drift) reach it through Hooks.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/component.hpp"
#include "models/model.hpp"
#include "models/snapshots.hpp"

namespace socstream {

class HeadLearner {
 public:
  // Reads learn, versions_dir, pin_version and the learning settings; errors go to `s`.
  explicit HeadLearner(const Settings& s);
  HeadLearner() = default;
  static std::vector<SettingSpec> settings();

  bool learning() const { return learn_; }
  bool pinned() const { return pin_ != 0; }
  bool has_versions() const { return versions_.has_value(); }
  // Verdicts worth handing over at once: a mini-batch for each held-back one.
  size_t window() const { return train_batch_ * holdout_every_; }

  struct Hooks {
    std::function<void(uint64_t)> serve;          // the live head is now this version
    std::function<void()> forget_cache;           // cached verdicts are the old head's
    std::function<void(bool right)> held_back;    // the live head on a held-back verdict
  };
  // At open: serves the pinned version, or restores the newest saved one.
  void open(TextModel& model, const ModelInfo& info, const Hooks& hooks);
  // Trains the shadow on verdicts (text, label index), holds every Nth back,
  // and gates when enough are held back. A failure costs the shadow, never the live head.
  void learn(TextModel& model, const ModelInfo& info, std::vector<std::pair<std::string, uint32_t>>& verdicts,
             const Hooks& hooks);

  // At run time (the model API's PUT): serves `version` ("latest": the newest
  // saved, learning resumed as configured; a number: model.yaml's or one in
  // versions_dir, frozen as pin_version freezes it). On the thread that owns
  // the model, or under its lock. Returns what is wrong, empty when done.
  std::string pin(TextModel& model, const ModelInfo& info, const std::string& version, const Hooks& hooks);
  // model.yaml's version and the saved ones, oldest first.
  std::vector<uint64_t> versions(const ModelInfo& info) const;
  uint64_t pinned_version() const { return static_cast<uint64_t>(pin_); }

  struct Stats {
    uint64_t trained = 0, held_back = 0, promotions = 0, discards = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  void gate(TextModel& model, const ModelInfo& info, const Hooks& hooks);

  bool learn_ = false;
  bool learn_configured_ = false;
  std::string base_head_;  // model.yaml's head, for a rollback to it at run time
  std::optional<online::SnapshotStore> versions_;
  int64_t pin_ = 0;
  size_t holdout_every_ = 5, train_batch_ = 16, gate_examples_ = 200;
  int train_steps_ = 5;
  float learning_rate_ = 0.01f;
  uint64_t seen_ = 0, next_version_ = 0;
  std::vector<std::pair<std::string, uint32_t>> train_;
  uint64_t window_trained_ = 0, held_ = 0, live_right_ = 0, shadow_right_ = 0;
  Stats stats_;
};

}  // namespace socstream
