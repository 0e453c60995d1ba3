// format: grok. %{NAME:field:type} patterns over the standard grok library
// (config/grok, logstash-patterns-core: `grok_library: ecs-v1` (default) or
// `legacy`), compiled to one RE2 that matches the whole line. Field names in
// ECS style ([source][address]) become dotted names (source.address); types
// int and float make numbers. `patterns: {NAME: regex}` adds patterns of
// your own. RE2 has no lookaround or atomic groups: config/grok/re2-overrides
// restates the library's patterns that use them (`grok_re2_overrides: false`
// to refuse instead), and any other use of them is refused with the
// pattern's name, never quietly changed.
#include <map>
#include <set>

#include "operators/embedded.hpp"
#include "operators/parse/format.hpp"
#include "operators/parse/regex_format.hpp"

namespace socstream::parse {

namespace {

struct Library {
  std::map<std::string, std::string> patterns;
  void load(std::string_view text) {
    size_t at = 0;
    while (at < text.size()) {
      size_t end = text.find('\n', at);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(at, end - at);
      at = end + 1;
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
      if (line.empty() || line[0] == '#') continue;
      const size_t sp = line.find(' ');
      if (sp == std::string_view::npos) continue;
      size_t rx = sp;
      while (rx < line.size() && line[rx] == ' ') ++rx;
      patterns[std::string(line.substr(0, sp))] = std::string(line.substr(rx));
    }
  }
};

// The library's files, as embedded (operators/CMakeLists.txt); each library has most of them.
const std::vector<std::string>& library_files() {
  static const std::vector<std::string> files{
      "aws", "bacula", "bind", "bro", "exim", "firewalls", "grok-patterns", "haproxy", "httpd", "java", "junos",
      "linux-syslog", "maven", "mcollective", "mcollective-patterns", "mongodb", "nagios", "postgresql", "rails", "redis", "ruby", "squid",
      "zeek"};
  return files;
}

// [source][address] -> source.address
std::string field_name(std::string_view f) {
  if (f.empty() || f[0] != '[') return std::string(f);
  std::string out;
  for (char c : f) {
    if (c == '[') continue;
    if (c == ']') {
      out += '.';
      continue;
    }
    out += c;
  }
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

class Compiler {
 public:
  Compiler(const Library& lib) : lib_(lib) {}
  std::map<int, std::string> fields;
  std::map<std::string, bool> numeric;
  std::string error;

  std::string expand(const std::string& text, int depth, const std::string& where) {
    if (depth > 40) {
      error = "patterns nest more than 40 deep (a cycle?) at " + where;
      return {};
    }
    std::string out;
    for (size_t i = 0; i < text.size() && error.empty();) {
      const char c = text[i];
      if (c == '\\' && i + 1 < text.size()) {
        out.append(text, i, 2);
        i += 2;
        continue;
      }
      if (c == '[') {  // a character class: copied as it is
        size_t j = i + 1;
        if (j < text.size() && text[j] == '^') ++j;
        if (j < text.size() && text[j] == ']') ++j;
        for (; j < text.size() && text[j] != ']'; ++j)
          if (text[j] == '\\') ++j;
        out.append(text, i, j + 1 - i);
        i = j + 1;
        continue;
      }
      if (c == '%' && i + 1 < text.size() && text[i + 1] == '{') {
        const size_t close = text.find('}', i);
        if (close == std::string::npos) {
          error = "an unclosed %{ in " + where;
          return {};
        }
        std::string ref = text.substr(i + 2, close - i - 2), name = ref, field, type;
        if (size_t c1 = ref.find(':'); c1 != std::string::npos) {
          name = ref.substr(0, c1);
          field = ref.substr(c1 + 1);
          if (size_t c2 = field.rfind(':'); c2 != std::string::npos && field.find(']', c2) == std::string::npos) {
            type = field.substr(c2 + 1);
            field = field.substr(0, c2);
          }
        }
        auto it = lib_.patterns.find(name);
        if (it == lib_.patterns.end()) {
          error = "unknown grok pattern %{" + name + "} in " + where;
          return {};
        }
        if (!field.empty()) {
          const int index = ++groups_;
          fields[index] = field_name(field);
          if (type == "int" || type == "float") numeric[field_name(field)] = true;
          out += '(';
          out += expand(it->second, depth + 1, name);
          out += ')';
        } else {
          out += "(?:" + expand(it->second, depth + 1, name) + ")";
        }
        i = close + 1;
        continue;
      }
      if (c == '(' && i + 1 < text.size() && text[i + 1] == '?') {
        // (?<name>...) is Oniguruma's named capture: a field too. Lookarounds and
        // atomic groups have no RE2 form.
        if (text.compare(i, 3, "(?<") == 0 && i + 3 < text.size() && text[i + 3] != '=' && text[i + 3] != '!') {
          const size_t close = text.find('>', i);
          if (close == std::string::npos) {
            error = "an unclosed (?< in " + where;
            return {};
          }
          const int index = ++groups_;
          fields[index] = field_name(text.substr(i + 3, close - i - 3));
          out += '(';
          i = close + 1;
          continue;
        }
        if (text.compare(i, 3, "(?>") == 0 || text.compare(i, 3, "(?=") == 0 || text.compare(i, 3, "(?!") == 0 ||
            text.compare(i, 4, "(?<=") == 0 || text.compare(i, 4, "(?<!") == 0) {
          error = "grok pattern " + where + " uses lookaround or an atomic group, which RE2 (linear time) does not have";
          return {};
        }
        out += c;
        ++i;
        continue;
      }
      if (c == '(') {  // a plain group of the library's: not a field
        out += "(?:";
        ++i;
        continue;
      }
      out += c;
      ++i;
    }
    return out;
  }

 private:
  const Library& lib_;
  int groups_ = 0;
};

}  // namespace

std::unique_ptr<Format> make_grok(const Settings& s) {
  if (!s.has("pattern")) {
    s.error("format", "format grok needs a 'pattern' such as '%{HTTPD_COMBINEDLOG}'");
    return nullptr;
  }
  const std::string which = s.choice("grok_library", {"ecs-v1", "legacy"}, "ecs-v1");
  Library lib;
  for (const auto& f : library_files())
    if (auto text = embedded_file("grok/" + which + "/" + f)) lib.load(*text);
  if (s.flag("grok_re2_overrides", true))
    if (auto text = embedded_file("grok/re2-overrides")) lib.load(*text);
  for (const auto& [name, regex] : s.map("patterns")) lib.patterns[name] = regex;
  Compiler c(lib);
  const std::string regex = c.expand(s.str("pattern"), 0, "'pattern'");
  if (!c.error.empty()) {
    s.error("pattern", c.error);
    return nullptr;
  }
  if (c.fields.empty()) s.error("pattern", "the pattern names no field (%{NAME:field})");
  auto f = std::make_unique<RegexFormat>(regex, s, "pattern", c.fields);
  for (const auto& [field, number] : c.numeric)
    if (number) f->set_kind(field, ValueKind::Number);
  return f;
}

}  // namespace socstream::parse
