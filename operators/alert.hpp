#pragma once
// type: alert. Turns a detection into the alert document consumers read: an
// ECS event of kind alert (operators/alert/document.hpp, docs/alerts.md). The
// id is a hash of the source position and the detector, so the same event
// seen again after a crash yields the same id (idempotent writes downstream).
// With `per_rule`, an event that matched several rules gives one alert per
// rule, whose id also hashes the rule's id: Sigma rules are separate
// detections an analyst triages one by one.
#include <string>
#include <vector>

#include "engine/component.hpp"
#include "engine/rule.hpp"
#include "operators/alert/document.hpp"

namespace socstream {

class AlertOp final : public Operator {
 public:
  explicit AlertOp(const Settings& s);
  void process(Batch&& in, Outputs& out) override;
  std::vector<FieldRead> reads() const override { return field_reads_; }
  FieldWrites writes() const override;

  // The first 32 hex digits (128 bits) of SHA-256 over
  // "detector\0source\0stream\0partition\0offset\0origin", numbers in decimal;
  // with a rule, "\0rule" follows (docs/alerts.md has a reference implementation).
  static std::string alert_id(std::string_view detector, const SourcePos& pos, std::string_view rule = {});
  // Appends the alert JSON for e (all its rules); created is an RFC 3339 UTC time.
  void render(std::string& out, const Event& e, std::string_view created) const;
  // The alert for one of e's rules (per_rule).
  void render_rule(std::string& out, const Event& e, size_t rule, std::string_view created) const;

 private:
  alert::Document document_;
  Severity min_severity_ = Severity::Info;
  double min_score_ = 0;
  Severity model_severity_ = Severity::Medium;
  bool per_rule_ = false;
  std::vector<FieldRead> field_reads_;

  alert::Detection detection(const Event& e) const;
};

}  // namespace socstream
