#include "operators/parse/format.hpp"

#include <chrono>

#include "engine/json_writer.hpp"

namespace socstream::parse {

void Output::add_named(std::string_view name, std::string_view value, ValueKind kind) {
  if (FieldNames::Entry* n = names_.find_or_add(name)) {
    if (n->seen == seq_) {
      if (!duplicate) duplicate = n->name.c_str();
      return;
    }
    n->seen = seq_;
    e_.fields.push_back(Field{n->name, value, kind, true});
    return;
  }
  // Past the name table's bounds: the name lives in the batch's arena, and a
  // repeat of it is found by comparison.
  for (const auto& f : e_.fields)
    if (f.name == name && !duplicate) duplicate = "a repeated key";
  e_.fields.push_back(Field{arena_.copy(name), value, kind, false});
}

ValueKind Output::number_or_string(std::string_view v) {
  // A Number is written into JSON as it is, so it must be a JSON number, and
  // short enough to read back exactly.
  return !v.empty() && v.size() <= 24 && json::is_number(v) ? ValueKind::Number : ValueKind::String;
}

int64_t Clock::now_ms() const {
  if (fixed) return *fixed;
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> format_names() {
  return {"regex", "grok", "syslog", "apache_common", "apache_combined", "nginx_combined", "cef", "leef", "key_value", "csv"};
}

std::unique_ptr<Format> make_format(const Settings& s, const std::string& format, const Clock& clock) {
  if (format == "regex") return make_regex(s);
  if (format == "grok") return make_grok(s);
  if (format == "syslog") return make_syslog(s, clock);
  if (format == "apache_common" || format == "apache_combined" || format == "nginx_combined")
    return make_access_log(s, format);
  if (format == "cef") return make_cef(s, clock);
  if (format == "leef") return make_leef(s, clock);
  if (format == "key_value") return make_key_value(s);
  if (format == "csv") return make_csv(s);
  return nullptr;
}

}  // namespace socstream::parse
