#pragma once
// type: alert. Turns a detection into the alert document consumers read. The
// id is a hash of the source position and the detector, so the same event
// seen again after a crash yields the same id (idempotent writes downstream).
#include <string>
#include <vector>

#include "engine/component.hpp"
#include "engine/rule.hpp"

namespace socstream {

class AlertOp final : public Operator {
 public:
  explicit AlertOp(const Settings& s);
  void process(Batch&& in, Outputs& out) override;

  // FNV-1a 64 of "detector\0source\0stream\0partition\0offset", as 16 hex digits.
  static std::string alert_id(std::string_view detector, const SourcePos& pos);
  // Appends the alert JSON for e; detected_at is an RFC 3339 UTC time.
  void render(std::string& out, const Event& e, std::string_view detected_at) const;
  void render(std::string& out, const Event& e, std::string_view detected_at, std::string_view id) const;

 private:
  std::string detector_;
  std::vector<std::string> fields_;  // empty: every field the event carries
  std::string timestamp_field_;
  Severity min_severity_ = Severity::Info;
  // A transformer's verdict (fields <model_prefix>label, score, model, model_version).
  std::string label_field_, score_field_, model_field_, version_field_;
  double min_score_ = 0;
  Severity model_severity_ = Severity::Medium;

  struct ModelVerdict {
    const Field* label = nullptr;
    const Field* score = nullptr;
    const Field* model = nullptr;
    const Field* version = nullptr;
  };
  ModelVerdict verdict(const Event& e) const;
  Severity severity(const Event& e) const;
};

}  // namespace socstream
