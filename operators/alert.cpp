#include "operators/alert.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <charconv>
#include <chrono>

#include "engine/json_writer.hpp"
#include "engine/sha256.hpp"
#include "engine/timestamp.hpp"
#include "operators/operators.hpp"

namespace socstream {

namespace {
const std::string kIdField = "alert_id";
}

AlertOp::AlertOp(const Settings& s) : document_(s) {
  auto severity_setting = [&](const char* key, const char* dflt, Severity& into) {
    std::string sev = s.str(key, dflt);
    if (auto v = parse_severity(sev))
      into = *v;
    else
      s.error(key, "'" + sev + "' is not one of: info, low, medium, high, critical");
  };
  severity_setting("min_severity", "info", min_severity_);
  severity_setting("model_severity", "medium", model_severity_);
  min_score_ = s.number("min_score", 0);
  per_rule_ = s.flag("per_rule", false);
  const auto& fields = document_.fields();
  for (size_t i = 0; i < fields.size(); ++i)
    field_reads_.push_back({fields[i], s.where("fields", i), "a field copied into the alert"});
}

FieldWrites AlertOp::writes() const { return {{kIdField}}; }

alert::Detection AlertOp::detection(const Event& e) const {
  alert::Detection d;
  for (const Rule* r : e.rules) d.severity = std::max(d.severity, r->severity);
  const VerdictFields& names = document_.verdict_names();
  if (!e.scored) return d;
  d.label = e.field(names.label);
  if (!d.label) return d;
  d.severity = std::max(d.severity, model_severity_);
  d.score = e.field(names.score);
  d.model = e.field(names.model);
  d.version = e.field(names.version);
  d.explanation = e.field(names.explanation);
  d.unscored = e.field(names.unscored);
  return d;
}

std::string AlertOp::alert_id(std::string_view detector, const SourcePos& pos, std::string_view rule) {
  std::string in;
  in.reserve(128);
  in.append(detector);
  in += '\0';
  if (pos.source) in.append(*pos.source);
  in += '\0';
  in.append(pos.stream);
  in += '\0';
  in += std::to_string(pos.partition);
  in += '\0';
  in += std::to_string(pos.offset);
  in += '\0';
  in += std::to_string(pos.origin);
  if (!rule.empty()) {
    in += '\0';
    in.append(rule);
  }
  // 128 bits of SHA-256: parts of the input are the sender's to choose (a Kafka
  // timestamp, a log's first line), and an id they could collide with an
  // earlier alert's would have the idempotent sink drop theirs.
  return sha256_hex(in).substr(0, 32);
}

void AlertOp::render(std::string& out, const Event& e, std::string_view created) const {
  document_.render(out, e, detection(e), created, alert_id(document_.detector(), e.pos));
}

void AlertOp::render_rule(std::string& out, const Event& e, size_t rule, std::string_view created) const {
  alert::Detection d = detection(e);
  d.severity = e.rules[rule]->severity;
  document_.render(out, e, d, created, alert_id(document_.detector(), e.pos, e.rules[rule]->id), rule);
}

void AlertOp::process(Batch&& in, Outputs& out) {
  // One clock read per batch: alerts of a batch share their detection time.
  auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  const std::string detected_at = timestamp::rfc3339(now.time_since_epoch().count());
  auto arena = std::make_shared<Arena>();
  Batch alerts = in.derive(in.size());
  alerts.raw_padded = false;  // alert documents are packed end to end in the arena
  std::string doc;
  for (auto& e : in.events) {
    const alert::Detection d = detection(e);
    bool below = d.severity < min_severity_;
    // A verdict on part of the event's texts is no reason to drop it.
    if (min_score_ > 0 && d.score && !d.unscored) {
      double v = 0;
      std::from_chars(d.score->value.data(), d.score->value.data() + d.score->value.size(), v);
      below |= v < min_score_;
    }
    if (below) {
      e.ack.complete();  // below a threshold: dropped on purpose
      continue;
    }
    if (per_rule_ && e.rules.size() > 0) {
      // One alert per rule; the copies share the event's acknowledgement.
      const size_t n = e.rules.size();
      for (size_t i = 0; i < n; ++i) {
        if (e.rules[i]->severity < min_severity_) continue;
        Event a;
        a.pos = e.pos;
        a.fields = e.fields;
        a.rules = {e.rules[i]};
        if (i < e.matched.size()) a.matched = {e.matched[i]};
        a.ack = e.ack.share();
        doc.clear();
        render_rule(doc, e, i, detected_at);
        a.raw = arena->copy(doc);
        a.set_field(kIdField, arena->copy(alert_id(document_.detector(), e.pos, e.rules[i]->id)));
        alerts.events.push_back(std::move(a));
      }
      e.ack.complete();  // each alert holds its own reference now
      continue;
    }
    const std::string id = alert_id(document_.detector(), e.pos);
    doc.clear();
    document_.render(doc, e, d, detected_at, id);
    e.raw = arena->copy(doc);
    // The id as a field too, for sinks that key or deduplicate on it (redis idempotent, kafka key_field).
    e.set_field(kIdField, arena->copy(id));
    alerts.events.push_back(std::move(e));
  }
  alerts.hold(std::move(arena));
  out.emit(0, std::move(alerts));
}

ComponentSpec alert_spec() {
  return ComponentSpec{
      "alert",
      Kind::Operator,
      "builds ECS alert documents (docs/alerts.md) with deterministic ids",
      {{"detector", SettingType::String, false, "the detector name in alerts and ids (default: the component's name)"},
       {"fields", SettingType::StringList, false, "event fields copied into the alert (default: all)"},
       {"timestamp_field", SettingType::Any, false,
        "the field (or fields, the first present wins) holding the event's time, for @timestamp "
        "(default: [\"@timestamp\", timestamp])"},
       {"field_map", SettingType::String, false,
        "event field names to ECS paths: a built-in map (windows) or a YAML file (config/ecs/maps)"},
       {"ecs_fields", SettingType::StringMap, false, "event field -> ECS field, over the field map"},
       {"original", SettingType::Bool, false, "carry the event's original text as event.original (default: false)"},
       {"min_severity", SettingType::String, false, "drop detections below this severity (default: info)"},
       {"min_score", SettingType::Double, false, "drop model verdicts scoring below this (default: 0)"},
       {"model_severity", SettingType::String, false, "the severity a model verdict contributes (default: medium)"},
       {"model_prefix", SettingType::String, false, "the transformer's field prefix, if it set one"},
       {"per_rule", SettingType::Bool, false,
        "one alert per matched rule, its id hashing the rule's too (default false: one per event)"}},
      true,
      [](const Settings& s) { return std::make_unique<AlertOp>(s); }};
}

}  // namespace socstream
