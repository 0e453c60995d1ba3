#include "operators/alert.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

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
  std::string sev = s.str("min_severity", "info");
  if (auto v = parse_severity(sev))
    min_severity_ = *v;
  else
    s.error("min_severity", "'" + sev + "' is not one of: info, low, medium, high, critical");
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
  Severity sev = Severity::Info;
  for (const Rule* r : e.rules) sev = std::max(sev, r->severity);
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
  out += "],\"fields\":{";
  bool first = true;
  auto put = [&](const Field& f) {
    if (!first) out += ',';
    first = false;
    json::append_string(out, f.name);
    out += ':';
    json::append_value(out, f);
  };
  if (fields_.empty()) {
    for (const auto& f : e.fields) put(f);
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
    Severity sev = Severity::Info;
    for (const Rule* r : e.rules) sev = std::max(sev, r->severity);
    if (sev < min_severity_) {
      e.ack.complete();  // below the threshold: dropped on purpose
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
       {"min_severity", SettingType::String, false, "drop detections below this severity (default: info)"}},
      true,
      [](const Settings& s) { return std::make_unique<AlertOp>(s); }};
}

}  // namespace socstream
