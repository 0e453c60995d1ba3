// type: parse. Splits plain-text logs into fields, in the format `format:`
// names (operators/parse/: regex, grok, syslog, apache_common,
// apache_combined, nginx_combined, cef, leef, key_value, csv). It reads the
// event's bytes, or `field`. The log's own time becomes `@timestamp` (RFC
// 3339, UTC): formats with a time of their own set it; otherwise
// `timestamp_field` names the field that holds it, read with
// `timestamp_format` (strptime) or any common form. Zone-less times are in
// `timezone` (UTC, local, or an offset such as +01:00).
//
// A line that is not in the format goes to `dlq` as no_match, with the
// format's name and where it failed; a line that names a field twice as
// duplicate_key; a timestamp_field that does not read as a time as
// bad_timestamp. Nothing is dropped silently.
//
// Then, to map fields onto ECS names, in this order: `rename: {from: to}`
// (the renamed value replaces a field already named `to`), `drop: [names]`
// and `set: {name: value}` (constants, such as event.dataset).
#include "operators/parse.hpp"

#include <algorithm>
#include <ctime>

#include "engine/timestamp.hpp"
#include "operators/operators.hpp"

namespace socstream {

namespace {

std::optional<int64_t> zone_offset(const std::string& tz) {
  if (tz.empty() || tz == "UTC" || tz == "utc") return 0;
  if (tz == "local") {
    const time_t now = ::time(nullptr);
    struct tm local {};
    ::localtime_r(&now, &local);
    return local.tm_gmtoff * 1000LL;
  }
  return timestamp::parse_offset(tz);
}

}  // namespace

ParseOp::ParseOp(const Settings& s) : names_(65536, 4u << 20) {
  const std::string format = s.str("format");
  const auto names = parse::format_names();
  if (std::find(names.begin(), names.end(), format) == names.end()) {
    std::string all;
    for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
    std::string msg = "format '" + format + "' is not one of: " + all;
    if (auto c = closest(format, names)) msg = "format '" + format + "': did you mean '" + *c + "'? (" + all + ")";
    s.error("format", msg);
    return;
  }
  format_name_ = format;
  const std::string tz = s.str("timezone", "UTC");
  if (auto off = zone_offset(tz))
    clock_.offset_ms = *off;
  else
    s.error("timezone", "'" + tz + "' is not UTC, local or an offset such as +01:00");
  field_ = s.str("field");
  field_where_ = s.where("field");
  timestamp_where_ = s.where("timestamp_field");
  rename_where_ = s.where("rename");
  timestamp_field_ = s.str("timestamp_field");
  timestamp_format_ = s.str("timestamp_format");
  if (format == "csv" && s.flag("header", false) && s.integer("workers", 1) > 1)
    s.error("header", "a CSV header is read from the first line: one worker only");
  format_ = parse::make_format(s, format, clock_);
  for (auto& [from, to] : s.map("rename")) renames_.emplace_back(from, to);
  for (auto& [name, value] : s.map("set")) sets_.emplace_back(name, value);
  drops_ = s.list("drop");
}

void ParseOp::process(Batch&& in, Outputs& out) {
  auto arena = std::make_shared<Arena>();
  Batch ok = in.derive(in.size());
  Batch bad;
  std::string detail;
  for (auto& e : in.events) {
    std::string_view text = e.raw;
    if (!field_.empty()) {
      const Field* f = e.field(field_);
      if (!f) {
        out.reject(bad, std::move(e), "no_match", arena->copy("the event has no field '" + field_ + "' to parse"));
        continue;
      }
      text = f->value;
    }
    size_t before = e.fields.size();
    parse::Output o(e, *arena, names_, ++seq_);
    detail.clear();
    if (!format_->parse(text, o, detail)) {
      e.fields.resize(before);
      out.reject(bad, std::move(e), "no_match", arena->copy("format " + format_name_ + ": " + detail));
      continue;
    }
    if (o.duplicate) {
      e.fields.resize(before);
      out.reject(bad, std::move(e), "duplicate_key",
                 arena->copy("format " + format_name_ + ": the field '" + std::string(o.duplicate) + "' appears more than once"));
      continue;
    }
    // A parsed field replaces one the event had of the same name (a line
    // source's `message` is the whole line; the parsed message is its text).
    for (size_t i = before; i < e.fields.size(); ++i)
      for (size_t j = 0; j < before; ++j)
        if (e.fields[j].name == e.fields[i].name) {
          e.fields.erase(e.fields.begin() + static_cast<ptrdiff_t>(j));
          --before;
          --i;
          break;
        }
    std::optional<int64_t> time = o.time;
    if (!time && !timestamp_field_.empty()) {
      if (const Field* f = e.field(timestamp_field_)) {
        time = timestamp_format_.empty() ? timestamp::parse_any(f->value, clock_.now_ms(), clock_.offset_ms)
                                         : timestamp::parse_format(f->value, timestamp_format_, clock_.offset_ms);
        if (!time) {
          e.fields.resize(before);
          out.reject(bad, std::move(e), "bad_timestamp",
                     arena->copy("'" + timestamp_field_ + "' does not read as a time: '" + std::string(f->value) + "'"));
          continue;
        }
      }
    }
    if (time && !timestamp::representable(*time)) {
      e.fields.resize(before);
      out.reject(bad, std::move(e), "bad_timestamp", arena->copy("a time outside the years 0000 to 9999"));
      continue;
    }
    if (time) e.set_field("@timestamp", arena->copy(timestamp::rfc3339(*time)));
    for (const auto& [from, to] : renames_) {
      // One field per name after it: two would leave which one a reader takes to chance.
      size_t src = 0;
      while (src < e.fields.size() && e.fields[src].name != from) ++src;
      if (src == e.fields.size()) continue;
      e.fields[src].name = to;  // the setting's bytes live as long as the operator
      for (size_t i = e.fields.size(); i-- > 0;)
        if (i != src && e.fields[i].name == to) {
          e.fields.erase(e.fields.begin() + static_cast<ptrdiff_t>(i));
          if (i < src) --src;
        }
    }
    for (const auto& name : drops_)
      e.fields.erase(std::remove_if(e.fields.begin(), e.fields.end(), [&](const Field& f) { return f.name == name; }),
                     e.fields.end());
    for (const auto& [name, value] : sets_) e.set_field(name, value);
    ok.events.push_back(std::move(e));
  }
  if (!bad.empty()) {
    bad.hold_all(in.holds);
    bad.hold(arena);
    out.dead_letter(std::move(bad));
  }
  ok.hold(std::move(arena));
  out.emit(0, std::move(ok));
}

std::vector<FieldRead> ParseOp::reads() const {
  std::vector<FieldRead> r;
  if (!field_.empty()) r.push_back({field_, field_where_, "the field to parse"});
  // The time field is usually one the format itself gives: checked against what this operator adds too.
  if (!timestamp_field_.empty()) r.push_back({timestamp_field_, timestamp_where_, "the log's time", true});
  // A rename whose source nothing gives does nothing, silently, and its target then hides later typos.
  for (size_t i = 0; i < renames_.size(); ++i) r.push_back({renames_[i].first, rename_where_, "a field to rename", true});
  return r;
}

FieldWrites ParseOp::writes() const {
  FieldWrites w = format_ ? format_->writes() : FieldWrites{{}, true};
  w.names.push_back("@timestamp");
  for (const auto& [from, to] : renames_) w.names.push_back(to);
  for (const auto& [name, value] : sets_) w.names.push_back(name);
  // A dropped field may still be given by a component upstream of this one, so drops remove nothing here.
  return w;
}

ComponentSpec parse_spec() {
  return ComponentSpec{
      "parse",
      Kind::Operator,
      "splits plain-text logs into fields: regex, grok, syslog, apache_common, apache_combined, nginx_combined, cef, "
      "leef, key_value, csv",
      {{"format", SettingType::String, true, "the log format"},
       {"field", SettingType::String, false, "the field to parse (default: the event's bytes)"},
       {"pattern", SettingType::String, false, "regex: RE2 with named groups; grok: %{NAME:field:type} ..."},
       {"types", SettingType::StringMap, false, "regex: field -> number or string"},
       {"patterns", SettingType::StringMap, false, "grok: patterns of your own, NAME -> regex"},
       {"grok_library", SettingType::String, false, "grok: ecs-v1 (default) or legacy"},
       {"grok_re2_overrides", SettingType::Bool, false, "grok: RE2 forms of the library's lookaround patterns (default true)"},
       {"max_mem", SettingType::Bytes, false, "regex, grok: RE2 memory budget (default 64MiB)"},
       {"field_split", SettingType::String, false, "key_value: the characters between pairs (default space and tab)"},
       {"value_split", SettingType::String, false, "key_value: between a key and its value (default =)"},
       {"prefix", SettingType::String, false, "key_value: put before every key"},
       {"columns", SettingType::StringList, false, "csv: the column names"},
       {"header", SettingType::Bool, false, "csv: the first line names the columns"},
       {"delimiter", SettingType::String, false, "csv: one character (default ,)"},
       {"timezone", SettingType::String, false, "zone of times without one: UTC (default), local, +01:00"},
       {"timestamp_field", SettingType::String, false, "the field holding the log's time, for @timestamp"},
       {"timestamp_format", SettingType::String, false, "its strptime format (default: any common form)"},
       {"rename", SettingType::StringMap, false, "field -> new name"},
       {"set", SettingType::StringMap, false, "field -> constant value"},
       {"drop", SettingType::StringList, false, "fields to remove"}},
      true,
      [](const Settings& s) { return std::make_unique<ParseOp>(s); }};
}

}  // namespace socstream
