#pragma once
// One text log format behind the `parse` operator (operators/parse.cpp): a
// line in, fields out. Formats name their fields after ECS where ECS has a
// name for them (source.ip, http.response.status_code, log.syslog.*), so the
// rules, models and alerts downstream read the same names whatever the source.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/component.hpp"
#include "engine/field_names.hpp"

namespace socstream::parse {

// Where a format writes what it found in one line.
class Output {
 public:
  Output(Event& e, Arena& arena, FieldNames& names, uint64_t seq) : e_(e), arena_(arena), names_(names), seq_(seq) {}

  // A field whose name lives as long as the format (a literal, configuration text).
  void add(std::string_view name, std::string_view value, ValueKind kind = ValueKind::String) {
    e_.fields.push_back(Field{name, value, kind, true});
  }
  // A field named by the data (a key=value key, a CEF extension): interned,
  // and refused when the line names it twice (duplicate()).
  void add_named(std::string_view name, std::string_view value, ValueKind kind = ValueKind::String);
  // The value bytes in the batch's arena (for values a format unescaped).
  std::string_view copy(std::string_view s) { return arena_.copy(s); }
  // A JSON number (-12, 3.5, 1e3; not 007 or +1): a Number field; else a String.
  static ValueKind number_or_string(std::string_view v);

  std::optional<int64_t> time;           // the line's own time, in ms since the epoch
  const char* duplicate = nullptr;       // a name the line gave twice

 private:
  Event& e_;
  Arena& arena_;
  FieldNames& names_;
  uint64_t seq_;
};

class Format {
 public:
  virtual ~Format() = default;
  // False when the line is not in this format; `detail` says where it failed.
  virtual bool parse(std::string_view line, Output& out, std::string& detail) = 0;
  // The fields a line can give; open unless the format's names are fixed by its definition or settings.
  virtual FieldWrites writes() const { return {{}, true}; }
};

// The time zone a format's zone-less times are in, and the clock (for RFC 3164's missing year).
struct Clock {
  int64_t offset_ms = 0;
  std::optional<int64_t> fixed;  // tests pin the clock; the engine reads the system's
  int64_t now_ms() const;
};

// Reads up to the next space into `out` and moves `at` past it; false at the
// end of the line or on an empty word (two spaces).
inline bool next_word(std::string_view line, size_t& at, std::string_view& out) {
  if (at >= line.size()) return false;
  size_t end = line.find(' ', at);
  if (end == std::string_view::npos) end = line.size();
  out = line.substr(at, end - at);
  at = end + 1;
  return !out.empty();
}

// Builds the format the settings name; errors go to the settings' diagnostics.
std::unique_ptr<Format> make_format(const Settings& s, const std::string& format, const Clock& clock);
std::vector<std::string> format_names();

// Each format file's maker.
std::unique_ptr<Format> make_regex(const Settings& s);
std::unique_ptr<Format> make_grok(const Settings& s);
std::unique_ptr<Format> make_access_log(const Settings& s, const std::string& variant);
std::unique_ptr<Format> make_syslog(const Settings& s, const Clock& clock);
std::unique_ptr<Format> make_cef(const Settings& s, const Clock& clock);
std::unique_ptr<Format> make_leef(const Settings& s, const Clock& clock);
std::unique_ptr<Format> make_key_value(const Settings& s);
std::unique_ptr<Format> make_csv(const Settings& s);

}  // namespace socstream::parse
