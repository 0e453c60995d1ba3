#pragma once
// The alert document: an Elastic Common Schema event of kind alert
// (docs/alerts.md, docs/alert.schema.json). What ECS has a place for goes
// there: the event's own time, the rule, the ATT&CK technique, the event's
// fields at their ECS paths; what only socstream knows (which component and
// offset, every matched rule in full, the model's verdict, fields without an
// ECS path) goes under `socstream`, so nothing the event said is lost and
// nothing it said can pose as the alert's own (an event's `rule.name` or
// `event.kind` lands under socstream.fields).
#include <string>
#include <unordered_map>
#include <string_view>
#include <vector>

#include "engine/component.hpp"
#include "engine/rule.hpp"
#include "operators/alert/ecs.hpp"
#include "operators/verdict_fields.hpp"

namespace socstream::alert {

// What an event was flagged by: its rules' highest severity (raised to the
// model's severity by a verdict) and the verdict's fields.
struct Detection {
  Severity severity = Severity::Info;
  const Field* label = nullptr;
  const Field* score = nullptr;
  const Field* model = nullptr;
  const Field* version = nullptr;
  const Field* explanation = nullptr;
  const Field* unscored = nullptr;  // texts the model left out over its budget
};

class Document {
 public:
  // Reads the document's settings: detector, fields, timestamp_field,
  // field_map, ecs_fields, original, model_prefix.
  explicit Document(const Settings& s);

  // Appends the alert for e. `only`: the index of the one rule it is for
  // (per_rule), or npos for all of e's rules.
  void render(std::string& out, const Event& e, const Detection& d, std::string_view created, std::string_view id,
              size_t only = npos) const;

  const std::string& detector() const { return detector_; }
  const VerdictFields& verdict_names() const { return names_; }
  // The event field names the document reads, for validate.
  const std::vector<std::string>& fields() const { return fields_; }

  static constexpr size_t npos = static_cast<size_t>(-1);
  // ECS event.severity (1 info .. 5 critical) and event.risk_score (Elastic's
  // defaults per severity: 21 low, 47 medium, 73 high, 99 critical; 0 info).
  static int severity_number(Severity s);
  static int risk_score(Severity s);

 private:
  std::string detector_;
  std::vector<std::string> fields_;  // empty: every field the event carries
  std::vector<std::string> timestamp_fields_;
  VerdictFields names_;
  FieldMap map_;
  bool original_ = false;
  // A document is rendered by one operator instance's thread at a time: its
  // scratch and its per-rule fragments are reused from alert to alert.
  mutable NestedJson doc_;
  // What a list of matched rules makes of an alert (rule.*, threat.*, tags,
  // the rules' part of event.reason), which does not change while they live:
  // built once per list, in match order. Most alerts of the web rules match
  // two to six rules, and building these per alert was a third of its cost.
  struct Fragment {
    NestedJson doc;
    std::string reason;
  };
  struct RulesHash {
    size_t operator()(const std::vector<const Rule*>& v) const {
      size_t h = v.size();
      for (const Rule* r : v) h = h * 1000003 ^ std::hash<const Rule*>()(r);
      return h;
    }
  };
  // Bounded: a Sigma corpus can match in many combinations; past the bound a
  // list's fragment is built for each alert into scratch_.
  static constexpr size_t kMaxFragments = 4096;
  mutable std::unordered_map<std::vector<const Rule*>, Fragment, RulesHash> fragments_;
  mutable Fragment scratch_;
  // Each rule's socstream.rules entry up to what matched, which the event adds.
  mutable std::unordered_map<const Rule*, std::string> entries_;

  const Fragment& fragment(const std::vector<const Rule*>& rules) const;
  void rule_entry(std::string& out, const Event& e, size_t i) const;
  static void rule_entry_fields(std::string& out, const Rule* r);
  void rule_fields(NestedJson& doc, const Rule& r) const;
  void model_rule(NestedJson& doc, const Detection& d) const;
  void threat(NestedJson& doc, const std::vector<const Rule*>& rules) const;
  void tags(NestedJson& doc, const std::vector<const Rule*>& rules) const;
  static std::string rules_reason(const std::vector<const Rule*>& rules);
  std::string reason(const std::string& rules_part, const Detection& d) const;
  bool reserved(std::string_view path) const;
};

}  // namespace socstream::alert
