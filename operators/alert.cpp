#include "operators/alert.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <charconv>
#include <chrono>

#include "engine/json_writer.hpp"
#include "operators/operators.hpp"

namespace socstream {

namespace {
const std::string kIdField = "alert_id";
}

AlertOp::AlertOp(const Settings& s)
    : detector_(s.str("detector", s.component())),
      fields_(s.list("fields")),
      timestamp_field_(s.str("timestamp_field", "timestamp")) {
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
  const std::string prefix = s.str("model_prefix", "");
  label_field_ = prefix + "label";
  score_field_ = prefix + "score";
  model_field_ = prefix + "model";
  version_field_ = prefix + "model_version";
}

AlertOp::ModelVerdict AlertOp::verdict(const Event& e) const {
  ModelVerdict v;
  v.label = e.field(label_field_);
  if (!v.label) return v;
  v.score = e.field(score_field_);
  v.model = e.field(model_field_);
  v.version = e.field(version_field_);
  return v;
}

Severity AlertOp::severity(const Event& e) const {
  Severity sev = Severity::Info;
  for (const Rule* r : e.rules) sev = std::max(sev, r->severity);
  if (e.field(label_field_)) sev = std::max(sev, model_severity_);
  return sev;
}

std::string AlertOp::alert_id(std::string_view detector, const SourcePos& pos) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(detector);
  mix(std::string_view("\0", 1));
  mix(pos.source ? std::string_view(*pos.source) : std::string_view());
  mix(std::string_view("\0", 1));
  mix(pos.stream);
  mix(std::string_view("\0", 1));
  mix(std::to_string(pos.partition));
  mix(std::string_view("\0", 1));
  mix(std::to_string(pos.offset));
  return fmt::format("{:016x}", h);
}

void AlertOp::render(std::string& out, const Event& e, std::string_view detected_at) const {
  render(out, e, detected_at, alert_id(detector_, e.pos));
}

void AlertOp::render(std::string& out, const Event& e, std::string_view detected_at, std::string_view id) const {
  const Severity sev = severity(e);
  const ModelVerdict mv = verdict(e);
  out += "{\"id\":\"";
  out += id;
  out += "\",\"@timestamp\":";
  const Field* ts = e.field(timestamp_field_);
  if (ts && ts->kind == ValueKind::String)
    json::append_string(out, ts->value);
  else
    json::append_string(out, detected_at);
  out += ",\"detected_at\":";
  json::append_string(out, detected_at);
  out += ",\"detector\":";
  json::append_string(out, detector_);
  out += ",\"severity\":\"";
  out += severity_name(sev);
  out += "\",\"rules\":[";
  for (size_t i = 0; i < e.rules.size(); ++i) {
    const Rule* r = e.rules[i];
    if (i) out += ',';
    out += "{\"id\":";
    json::append_string(out, r->id);
    out += ",\"severity\":\"";
    out += severity_name(r->severity);
    out += "\",\"tags\":[";
    for (size_t t = 0; t < r->tags.size(); ++t) {
      if (t) out += ',';
      json::append_string(out, r->tags[t]);
    }
    out += "]}";
  }
  out += ']';
  if (mv.label) {
    out += ",\"model\":{\"name\":";
    if (mv.model) json::append_value(out, *mv.model);
    else out += "null";
    out += ",\"version\":";
    if (mv.version) json::append_value(out, *mv.version);
    else out += "null";
    out += ",\"label\":";
    json::append_value(out, *mv.label);
    out += ",\"score\":";
    if (mv.score) json::append_value(out, *mv.score);
    else out += "null";
    out += '}';
  }
  out += ",\"fields\":{";
  bool first = true;
  auto put = [&](const Field& f) {
    if (!first) out += ',';
    first = false;
    json::append_string(out, f.name);
    out += ':';
    json::append_value(out, f);
  };
  if (fields_.empty()) {
    for (const auto& f : e.fields)
      if (!mv.label || (f.name != label_field_ && f.name != score_field_ && f.name != model_field_ &&
                        f.name != version_field_))
        put(f);
  } else {
    for (const auto& name : fields_)
      if (const Field* f = e.field(name)) put(*f);
  }
  out += "},\"source\":";
  json::append_source(out, e.pos);
  out += '}';
}

void AlertOp::process(Batch&& in, Outputs& out) {
  // One clock read per batch: alerts of a batch share their detection time.
  auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  const std::string detected_at = fmt::format("{:%FT%T}Z", now);
  auto arena = std::make_shared<Arena>();
  Batch alerts = in.derive(in.size());
  alerts.raw_padded = false;  // alert documents are packed end to end in the arena
  std::string doc;
  for (auto& e : in.events) {
    bool below = severity(e) < min_severity_;
    if (min_score_ > 0)
      if (const Field* sc = e.field(score_field_)) {
        double v = 0;
        std::from_chars(sc->value.data(), sc->value.data() + sc->value.size(), v);
        below |= v < min_score_;
      }
    if (below) {
      e.ack.complete();  // below a threshold: dropped on purpose
      continue;
    }
    const std::string id = alert_id(detector_, e.pos);
    doc.clear();
    render(doc, e, detected_at, id);
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
      "builds alert documents (docs/alerts.md) with deterministic ids",
      {{"detector", SettingType::String, false, "the detector name in alerts and ids (default: the component's name)"},
       {"fields", SettingType::StringList, false, "event fields copied into the alert (default: all)"},
       {"timestamp_field", SettingType::String, false, "the field holding the event time (default: timestamp)"},
       {"min_severity", SettingType::String, false, "drop detections below this severity (default: info)"},
       {"min_score", SettingType::Double, false, "drop model verdicts scoring below this (default: 0)"},
       {"model_severity", SettingType::String, false, "the severity a model verdict contributes (default: medium)"},
       {"model_prefix", SettingType::String, false, "the transformer's field prefix, if it set one"}},
      true,
      [](const Settings& s) { return std::make_unique<AlertOp>(s); }};
}

}  // namespace socstream
