#include "operators/alert.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <charconv>
#include <chrono>

#include "engine/json_writer.hpp"
#include "engine/sha256.hpp"
#include "operators/operators.hpp"

namespace socstream {

namespace {
const std::string kIdField = "alert_id";
}

AlertOp::AlertOp(const Settings& s)
    : detector_(s.str("detector", s.component())),
      fields_(s.list("fields")),
      timestamp_field_(s.str("timestamp_field", "timestamp")),
      names_(s.str("model_prefix", "")) {
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
}

AlertOp::Detection AlertOp::detection(const Event& e) const {
  Detection d;
  for (const Rule* r : e.rules) d.severity = std::max(d.severity, r->severity);
  d.label = e.field(names_.label);
  if (!d.label) return d;
  d.severity = std::max(d.severity, model_severity_);
  d.score = e.field(names_.score);
  d.model = e.field(names_.model);
  d.version = e.field(names_.version);
  d.explanation = e.field(names_.explanation);
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

void AlertOp::render(std::string& out, const Event& e, std::string_view detected_at) const {
  render(out, e, detected_at, alert_id(detector_, e.pos));
}

void AlertOp::render(std::string& out, const Event& e, std::string_view detected_at, std::string_view id) const {
  render(out, e, detection(e), detected_at, id);
}

namespace {

void append_strings(std::string& out, const std::vector<std::string>& v) {
  out += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    json::append_string(out, v[i]);
  }
  out += ']';
}

void append_refs(std::string& out, const std::vector<AttackRef>& v) {
  out += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    out += "{\"id\":";
    json::append_string(out, v[i].id);
    out += ",\"name\":";
    json::append_string(out, v[i].name);
    out += '}';
  }
  out += ']';
}

}  // namespace

// A rule as an alert shows it: what regex rules carry, and for Sigma rules
// what an analyst needs (DRL 1.1 also asks for the author) and what matched.
void AlertOp::render_rule_entry(std::string& out, const Event& e, size_t i) const {
  const Rule* r = e.rules[i];
  out += "{\"id\":";
  json::append_string(out, r->id);
  out += ",\"severity\":\"";
  out += severity_name(r->severity);
  out += "\",\"tags\":";
  append_strings(out, r->tags);
  if (r->kind != "regex") {
    auto text = [&](const char* key, const std::string& v) {
      out += ",\"";
      out += key;
      out += "\":";
      json::append_string(out, v);
    };
    text("kind", r->kind);
    text("title", r->title);
    text("level", r->level);
    text("status", r->status);
    text("description", r->description);
    text("author", r->author);
    out += ",\"references\":";
    append_strings(out, r->references);
    out += ",\"falsepositives\":";
    append_strings(out, r->falsepositives);
    out += ",\"logsource\":{\"product\":";
    json::append_string(out, r->product);
    out += ",\"category\":";
    json::append_string(out, r->category);
    out += ",\"service\":";
    json::append_string(out, r->service);
    out += "},\"threat\":{\"tactics\":";
    append_refs(out, r->tactics);
    out += ",\"techniques\":";
    append_refs(out, r->techniques);
    out += '}';
  }
  if (i < e.matched.size() && !e.matched[i].empty()) {
    out += ",\"matched\":";
    out += e.matched[i];  // JSON the detector wrote
  }
  out += '}';
}

void AlertOp::render_rule(std::string& out, const Event& e, size_t rule, std::string_view detected_at) const {
  Detection d = detection(e);
  d.severity = e.rules[rule]->severity;
  render(out, e, d, detected_at, alert_id(detector_, e.pos, e.rules[rule]->id), rule);
}

void AlertOp::render(std::string& out, const Event& e, const Detection& d, std::string_view detected_at,
                     std::string_view id, size_t only) const {
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
  out += severity_name(d.severity);
  out += "\",\"rules\":[";
  bool first_rule = true;
  for (size_t i = 0; i < e.rules.size(); ++i) {
    if (only != static_cast<size_t>(-1) && i != only) continue;
    if (!first_rule) out += ',';
    first_rule = false;
    render_rule_entry(out, e, i);
  }
  out += ']';
  if (d.label) {
    auto value_or_null = [&](const Field* f) {
      if (f) json::append_value(out, *f);
      else out += "null";
    };
    out += ",\"model\":{\"name\":";
    value_or_null(d.model);
    out += ",\"version\":";
    value_or_null(d.version);
    out += ",\"label\":";
    value_or_null(d.label);
    out += ",\"score\":";
    value_or_null(d.score);
    if (d.explanation) {
      out += ",\"explanation\":";
      json::append_value(out, *d.explanation);
    }
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
      if (!d.label || !names_.is_verdict(f.name)) put(f);
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
    const Detection d = detection(e);
    bool below = d.severity < min_severity_;
    if (min_score_ > 0 && d.score) {
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
        a.set_field(kIdField, arena->copy(alert_id(detector_, e.pos, e.rules[i]->id)));
        alerts.events.push_back(std::move(a));
      }
      e.ack.complete();  // each alert holds its own reference now
      continue;
    }
    const std::string id = alert_id(detector_, e.pos);
    doc.clear();
    render(doc, e, d, detected_at, id);
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
       {"model_prefix", SettingType::String, false, "the transformer's field prefix, if it set one"},
       {"per_rule", SettingType::Bool, false,
        "one alert per matched rule, its id hashing the rule's too (default false: one per event)"}},
      true,
      [](const Settings& s) { return std::make_unique<AlertOp>(s); }};
}

}  // namespace socstream
