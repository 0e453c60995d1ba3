#pragma once
// The drift detectors of a model in a pipeline (models/drift.hpp): Page-Hinkley
// on its error rate over analysts' verdicts (rising) and on the suspicion it
// gives scored events, 1 - P(negative label) (either way: a flood of new
// attacks or a blind spot). When one fires, it makes the drift document that
// the operator sends to its `drift` port (docs/alerts.md). Settings:
// drift_warmup, drift_error_threshold, drift_score_threshold.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/component.hpp"
#include "models/drift.hpp"

namespace socstream {

class DriftWatch {
 public:
  DriftWatch(const Settings& s, uint64_t default_warmup);
  DriftWatch() = default;
  static std::vector<SettingSpec> settings();

  struct Context {
    std::string_view model, version;
    uint64_t updates;  // what the model has learnt from so far
    const SourcePos& pos;
  };
  // A verdict the live model got wrong or right.
  std::optional<std::string> verdict(bool wrong, const Context& c);
  // A scored event's suspicion; ignored until the model has `drift_warmup`
  // updates (an empty model's scores move while it learns).
  std::optional<std::string> score(float suspicion, const Context& c);
  uint64_t drifts() const { return drifts_; }

 private:
  std::string fired(const char* detector, const online::PageHinkley& d, const Context& c);
  uint64_t warmup_ = 0;
  online::PageHinkley errors_, scores_;
  uint64_t drifts_ = 0;
};

// A new event carrying a document of its own (drift, metrics): it has no source
// batch to acknowledge, so its Ack is empty. The arena holds its bytes.
Event document_event(Arena& arena, std::string_view doc, const SourcePos& pos);

}  // namespace socstream
