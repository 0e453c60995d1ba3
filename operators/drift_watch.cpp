#include "operators/drift_watch.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "engine/json_writer.hpp"

namespace socstream {

DriftWatch::DriftWatch(const Settings& s, uint64_t default_warmup)
    : warmup_(static_cast<uint64_t>(s.integer("drift_warmup", static_cast<int64_t>(default_warmup), 0))),
      // The error rate of a good model is a few in a thousand: 20 is about 20
      // excess errors in a short run, yet quiet over 100,000 verdicts at 1%
      // (tests/unit/models). Suspicion is mostly near 0 or 1 (variance ~0.2):
      // it needs a wider band to stay quiet on a stationary stream.
      errors_(online::DriftOptions{0.005, s.number("drift_error_threshold", 20), 30}, online::PageHinkley::Direction::Up),
      scores_(online::DriftOptions{0.02, s.number("drift_score_threshold", 200), 30},
              online::PageHinkley::Direction::Both) {}

std::vector<SettingSpec> DriftWatch::settings() {
  return {{"drift_warmup", SettingType::Int, false, "updates before the score detector watches"},
          {"drift_error_threshold", SettingType::Double, false, "Page-Hinkley lambda for the error rate (default 20)"},
          {"drift_score_threshold", SettingType::Double, false, "Page-Hinkley lambda for the suspicion (default 200)"}};
}

std::optional<std::string> DriftWatch::verdict(bool wrong, const Context& c) {
  if (!errors_.add(wrong ? 1 : 0)) return std::nullopt;
  return fired("error_rate", errors_, c);
}

std::optional<std::string> DriftWatch::score(float suspicion, const Context& c) {
  if (c.updates < warmup_ || !scores_.add(suspicion)) return std::nullopt;
  return fired("score", scores_, c);
}

std::string DriftWatch::fired(const char* detector, const online::PageHinkley& d, const Context& c) {
  ++drifts_;
  spdlog::warn("{}: drift in its {} (mean {:.4f} before), after {} updates", c.model, detector, d.mean_before(),
               c.updates);
  auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  std::string doc = "{\"type\":\"drift\",\"model\":";
  json::append_string(doc, c.model);
  doc += fmt::format(",\"model_version\":{},\"detector\":\"{}\",\"mean_before\":{:.6f},\"updates\":{},"
                     "\"detections\":{},\"@timestamp\":\"{:%FT%T}Z\",\"source\":",
                     c.version, detector, d.mean_before(), c.updates, d.detections(), now);
  json::append_source(doc, c.pos);
  doc += '}';
  return doc;
}

Event document_event(Arena& arena, std::string_view doc, const SourcePos& pos) {
  Event e;
  e.raw = arena.copy(doc);
  e.pos = pos;
  return e;
}

}  // namespace socstream
