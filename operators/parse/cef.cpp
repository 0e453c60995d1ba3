// formats: cef and leef. ArcSight's Common Event Format and IBM QRadar's Log
// Event Extended Format, as firewalls, proxies and EDRs send them (after a
// syslog header, which is skipped: the line is read from "CEF:" / "LEEF:").
//   CEF:Version|Vendor|Product|Version|Signature ID|Name|Severity|key=value key=value ...
//   LEEF:1.0|Vendor|Product|Version|EventID|key=value<TAB>key=value ...
//   LEEF:2.0|Vendor|Product|Version|EventID|delimiter|key=value<delim>key=value ...
// CEF escapes: \| and \\ in the header; \= \\ \n \r in extension values, a
// value running until the next " key=". Every extension is kept as
// cef.extensions.<key> (leef.extensions.<key>), and the common ones are also
// given their ECS names (source.ip, destination.port, CEF's suser as
// source.user.name, LEEF's usrName as user.name, ...).
#include <array>
#include <cstring>

#include "engine/timestamp.hpp"
#include "operators/parse/format.hpp"

namespace socstream::parse {

namespace {

struct Ecs {
  std::string_view key;  // a view: compared per extension key, strlen'd never
  const char* field;
  bool number;
};

// The extension keys whose ECS names are plain (what each means in the CEF and
// LEEF specifications); the rest stay under cef./leef.extensions only.
const Ecs kCef[] = {{"src", "source.ip", false},          {"dst", "destination.ip", false},
                    {"spt", "source.port", true},         {"dpt", "destination.port", true},
                    {"shost", "source.domain", false},    {"dhost", "destination.domain", false},
                    {"suser", "source.user.name", false}, {"duser", "destination.user.name", false},
                    {"smac", "source.mac", false},        {"dmac", "destination.mac", false},
                    {"act", "event.action", false},       {"msg", "message", false},
                    {"proto", "network.transport", false}, {"request", "url.original", false},
                    {"requestMethod", "http.request.method", false}, {"requestClientApplication", "user_agent.original", false},
                    {"fname", "file.name", false},        {"filePath", "file.path", false},
                    {"dvchost", "observer.hostname", false}, {"dvc", "observer.ip", false},
                    {"sproc", "process.name", false},     {"spid", "process.pid", true},
                    {"in", "source.bytes", true},         {"out", "destination.bytes", true}};
const Ecs kLeef[] = {{"src", "source.ip", false},          {"dst", "destination.ip", false},
                     {"srcPort", "source.port", true},     {"dstPort", "destination.port", true},
                     {"usrName", "user.name", false},      {"proto", "network.transport", false},
                     {"srcMAC", "source.mac", false},      {"dstMAC", "destination.mac", false},
                     {"identHostName", "host.hostname", false}, {"url", "url.original", false},
                     {"srcBytes", "source.bytes", true},   {"dstBytes", "destination.bytes", true},
                     {"sev", "event.severity", true},      {"action", "event.action", false}};

template <size_t N>
const Ecs* ecs_of(const Ecs (&table)[N], std::string_view key) {
  for (const auto& e : table)
    if (key == e.key) return &e;
  return nullptr;
}

// A table: the extension scan asks this for most bytes of a line.
const std::array<bool, 256> kKeyChar = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[static_cast<size_t>(c)] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                c == '_' || c == '.' || c == '[' || c == ']' || c == '-';
  return t;
}();
bool key_char(char c) { return kKeyChar[static_cast<unsigned char>(c)]; }

// Splits `n` header fields off at unescaped pipes; what follows the last is the extension.
bool header(std::string_view s, size_t n, std::vector<std::string>& fields, size_t& at) {
  fields.clear();
  std::string cur;
  for (; at < s.size() && fields.size() < n; ++at) {
    const char c = s[at];
    if (c == '\\' && at + 1 < s.size() && (s[at + 1] == '|' || s[at + 1] == '\\')) {
      cur += s[++at];
    } else if (c == '|') {
      fields.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return fields.size() == n;
}

// Times without a zone are in the operator's `timezone`; a year-less one is
// the year nearest the clock at the line, not at start-up.
void put_time(Output& out, std::string_view v, const Clock& clock, const std::string& format) {
  std::optional<int64_t> t;
  if (!format.empty()) t = timestamp::parse_format(v, format, clock.offset_ms);
  if (!t) t = timestamp::parse_epoch(v);
  if (!t) t = timestamp::parse_format(v, "%b %d %Y %H:%M:%S", clock.offset_ms);  // CEF's "MMM dd yyyy HH:mm:ss"
  if (!t) t = timestamp::parse_any(v, clock.now_ms(), clock.offset_ms);
  if (t) out.time = *t;
}

// LEEF 2.0's delimiter: one character, or its hex code (x09, 0x5E). Never throws: the line is the sender's.
std::optional<char> leef_delimiter(const std::string& d) {
  if (d.size() == 1) return d[0];
  std::string_view hex = d;
  if (hex.size() >= 2 && (hex.substr(0, 2) == "0x" || hex.substr(0, 2) == "0X")) hex.remove_prefix(2);
  else if (!hex.empty() && (hex[0] == 'x' || hex[0] == 'X')) hex.remove_prefix(1);
  else return std::nullopt;
  if (hex.empty() || hex.size() > 2) return std::nullopt;
  int v = 0;
  for (char c : hex) {
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (digit < 0) return std::nullopt;
    v = v * 16 + digit;
  }
  if (v == 0) return std::nullopt;
  return static_cast<char>(v);
}

class Cef final : public Format {
 public:
  explicit Cef(const Clock& clock) : clock_(clock) {}
  bool parse(std::string_view line, Output& out, std::string& detail) override {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t at = line.find("CEF:");
    if (at == std::string_view::npos) return fail(detail, "\"CEF:\"");
    at += 4;
    if (!header(line, 7, h_, at)) return fail(detail, "seven |-separated header fields");
    out.add("cef.version", out.copy(h_[0]));
    out.add("observer.vendor", out.copy(h_[1]));
    out.add("observer.product", out.copy(h_[2]));
    out.add("observer.version", out.copy(h_[3]));
    out.add("event.code", out.copy(h_[4]));
    out.add("cef.name", out.copy(h_[5]));
    out.add("cef.severity", out.copy(h_[6]), Output::number_or_string(h_[6]));
    if (Output::number_or_string(h_[6]) == ValueKind::Number) out.add("event.severity", out.copy(h_[6]), ValueKind::Number);
    bool has_msg = false;
    if (!extensions(line.substr(at), out, detail, has_msg)) return false;
    if (!has_msg) out.add("message", out.copy(h_[5]));
    return true;
  }

 private:
  static bool fail(std::string& detail, const char* what) {
    detail = std::string("expected ") + what;
    return false;
  }

  // key=value pairs where a value ends at the space before the next key=.
  bool extensions(std::string_view ext, Output& out, std::string& detail, bool& has_msg) {
    // Where each key starts: a run of key characters ending in an unescaped '=',
    // at the start or after a space.
    starts_.clear();
    for (size_t i = 0; i < ext.size(); ++i) {
      const void* eq = std::memchr(ext.data() + i, '=', ext.size() - i);
      if (!eq) break;
      i = static_cast<size_t>(static_cast<const char*>(eq) - ext.data());
      if (i > 0 && ext[i - 1] == '\\') continue;
      size_t k = i;
      while (k > 0 && key_char(ext[k - 1])) --k;
      if (k == i || (k > 0 && ext[k - 1] != ' ')) continue;
      starts_.emplace_back(k, i);
    }
    if (starts_.empty()) {
      size_t first = ext.find_first_not_of(' ');
      if (first != std::string_view::npos) return fail(detail, "key=value extensions");
      return true;
    }
    if (ext.substr(0, starts_[0].first).find_first_not_of(' ') != std::string_view::npos)
      return fail(detail, "a key=value at the start of the extension");
    for (size_t j = 0; j < starts_.size(); ++j) {
      const auto [k, eq] = starts_[j];
      const std::string_view key = ext.substr(k, eq - k);
      size_t end = j + 1 < starts_.size() ? starts_[j + 1].first : ext.size();
      while (end > eq + 1 && ext[end - 1] == ' ') --end;
      const std::string_view raw = ext.substr(eq + 1, end - eq - 1);
      std::string_view v = raw;  // the line's own bytes unless there is an escape to undo
      if (raw.find('\\') != std::string_view::npos) {
        value_.clear();
        for (size_t i = 0; i < raw.size(); ++i) {
          if (raw[i] == '\\' && i + 1 < raw.size()) {
            const char n = raw[++i];
            value_ += n == 'n' ? '\n' : n == 'r' ? '\r' : n;
          } else {
            value_ += raw[i];
          }
        }
        v = out.copy(value_);
      }
      name_.assign("cef.extensions.").append(key);
      out.add_named(name_, v);
      if (const Ecs* e = ecs_of(kCef, key)) {
        has_msg |= std::string_view(e->field) == "message";
        out.add(e->field, v, e->number ? Output::number_or_string(v) : ValueKind::String);
      }
      if (key == "rt" || key == "end") put_time(out, v, clock_, "");
    }
    return true;
  }

  std::vector<std::string> h_;
  std::vector<std::pair<size_t, size_t>> starts_;
  std::string value_, name_;
  Clock clock_;
};

class Leef final : public Format {
 public:
  explicit Leef(const Clock& clock) : clock_(clock) {}
  bool parse(std::string_view line, Output& out, std::string& detail) override {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t at = line.find("LEEF:");
    if (at == std::string_view::npos) return fail(detail, "\"LEEF:\"");
    at += 5;
    const bool v2 = line.substr(at, 3) == "2.0";
    if (!header(line, v2 ? 6 : 5, h_, at)) return fail(detail, v2 ? "six |-separated header fields" : "five |-separated header fields");
    char delim = '\t';
    if (v2 && !h_[5].empty()) {
      const auto d = leef_delimiter(h_[5]);
      if (!d) return fail(detail, "a one-character delimiter or its hex (x09)");
      delim = *d;
    }
    out.add("leef.version", out.copy(h_[0]));
    out.add("observer.vendor", out.copy(h_[1]));
    out.add("observer.product", out.copy(h_[2]));
    out.add("observer.version", out.copy(h_[3]));
    out.add("event.code", out.copy(h_[4]));
    std::string_view rest = line.substr(at);
    std::string dev_time, dev_time_format;
    size_t pairs = 0;
    while (!rest.empty()) {
      size_t end = rest.find(delim);
      const std::string_view pair = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      if (eq == std::string_view::npos || eq == 0) return fail(detail, "key=value attributes");
      const std::string_view key = pair.substr(0, eq), v = pair.substr(eq + 1);
      name_.assign("leef.extensions.").append(key);
      out.add_named(name_, v);
      if (const Ecs* e = ecs_of(kLeef, key)) out.add(e->field, v, e->number ? Output::number_or_string(v) : ValueKind::String);
      if (key == "devTime") dev_time = v;
      if (key == "devTimeFormat") dev_time_format = v;
      ++pairs;
    }
    if (!dev_time.empty()) put_time(out, dev_time, clock_, java_to_strptime(dev_time_format));
    (void)pairs;
    return true;
  }

 private:
  static bool fail(std::string& detail, const char* what) {
    detail = std::string("expected ") + what;
    return false;
  }
  // LEEF's devTimeFormat is a Java pattern: the usual ones, as strptime formats.
  static std::string java_to_strptime(const std::string& j) {
    if (j.empty()) return {};
    std::string f = j;
    const std::pair<const char*, const char*> map[] = {{"yyyy", "%Y"}, {"MMM", "%b"}, {"MM", "%m"}, {"dd", "%d"},
                                                       {"HH", "%H"},   {"mm", "%M"},  {"ss", "%S"}, {"Z", "%z"}};
    for (const auto& [from, to] : map)
      for (size_t at; (at = f.find(from)) != std::string::npos;) f.replace(at, std::strlen(from), to);
    for (size_t at; (at = f.find(".SSS")) != std::string::npos;) f.erase(at, 4);  // fractions are read anyway
    return f;
  }
  std::vector<std::string> h_;
  std::string name_;
  Clock clock_;
};

}  // namespace

std::unique_ptr<Format> make_cef(const Settings&, const Clock& clock) { return std::make_unique<Cef>(clock); }
std::unique_ptr<Format> make_leef(const Settings&, const Clock& clock) { return std::make_unique<Leef>(clock); }

}  // namespace socstream::parse
