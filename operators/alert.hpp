#pragma once
// type: alert. Turns a detection into the alert document consumers read. The
// id is a hash of the source position and the detector, so the same event
// seen again after a crash yields the same id (idempotent writes downstream).
// With `per_rule`, an event that matched several rules gives one alert per
// rule, whose id also hashes the rule's id: Sigma rules are separate
// detections an analyst triages one by one.
#include <string>
#include <vector>

#include "engine/component.hpp"
#include "engine/rule.hpp"
#include "operators/verdict_fields.hpp"

namespace socstream {

class AlertOp final : public Operator {
 public:
  explicit AlertOp(const Settings& s);
  void process(Batch&& in, Outputs& out) override;

  // The first 32 hex digits (128 bits) of SHA-256 over
  // "detector\0source\0stream\0partition\0offset\0origin", numbers in decimal;
  // with a rule, "\0rule" follows (docs/alerts.md has a reference implementation).
  static std::string alert_id(std::string_view detector, const SourcePos& pos, std::string_view rule = {});
  // Appends the alert JSON for e; detected_at is an RFC 3339 UTC time.
  void render(std::string& out, const Event& e, std::string_view detected_at) const;
  void render(std::string& out, const Event& e, std::string_view detected_at, std::string_view id) const;
  // The alert for one of e's rules (per_rule).
  void render_rule(std::string& out, const Event& e, size_t rule, std::string_view detected_at) const;

 private:
  std::string detector_;
  std::vector<std::string> fields_;  // empty: every field the event carries
  std::string timestamp_field_;
  Severity min_severity_ = Severity::Info;
  VerdictFields names_;  // where a transformer's verdict is (model_prefix)
  double min_score_ = 0;
  Severity model_severity_ = Severity::Medium;
  bool per_rule_ = false;

  // What an event was flagged by: its rules' highest severity (raised to
  // model_severity by a model's verdict) and the verdict's fields.
  struct Detection {
    Severity severity = Severity::Info;
    const Field* label = nullptr;
    const Field* score = nullptr;
    const Field* model = nullptr;
    const Field* version = nullptr;
    const Field* explanation = nullptr;
  };
  Detection detection(const Event& e) const;
  // `only`: the index of the one rule to render (per_rule), or npos for all of them.
  void render(std::string& out, const Event& e, const Detection& d, std::string_view detected_at,
              std::string_view id, size_t only = static_cast<size_t>(-1)) const;
  void render_rule_entry(std::string& out, const Event& e, size_t i) const;
};

}  // namespace socstream
