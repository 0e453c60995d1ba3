// format: syslog. RFC 5424 (<PRI>VERSION TIMESTAMP HOST APP PROCID MSGID
// [SD...] MSG) and RFC 3164 (<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG), told
// apart by the version digit after the priority; the priority may be absent
// (files that rsyslog writes). Fields (ECS): log.syslog.priority,
// log.syslog.facility.code, log.syslog.severity.code, log.syslog.version,
// host.hostname, process.name, process.pid, log.syslog.msgid, message, and
// each structured-data parameter as log.syslog.structured_data.<id>.<name>
// (\" \\ \] unescaped). RFC 3164 times have no year and no zone: the year is
// the one nearest the clock, the zone the operator's `timezone`.
#include "engine/timestamp.hpp"
#include "operators/parse/format.hpp"

namespace socstream::parse {

namespace {

class Syslog final : public Format {
 public:
  explicit Syslog(const Clock& clock) : clock_(clock) {}

  bool parse(std::string_view line, Output& out, std::string& detail) override {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t at = 0;
    if (!line.empty() && line[0] == '<') {
      const size_t close = line.find('>');
      int pri = 0;
      if (close == std::string_view::npos || close < 2 || close > 4) return fail(detail, "a priority such as <34>");
      for (size_t i = 1; i < close; ++i) {
        if (line[i] < '0' || line[i] > '9') return fail(detail, "a priority such as <34>");
        pri = pri * 10 + (line[i] - '0');
      }
      if (pri > 191) return fail(detail, "a priority of at most 191");
      pri_text_ = std::to_string(pri);
      fac_text_ = std::to_string(pri / 8);
      sev_text_ = std::to_string(pri % 8);
      out.add("log.syslog.priority", out.copy(pri_text_), ValueKind::Number);
      out.add("log.syslog.facility.code", out.copy(fac_text_), ValueKind::Number);
      out.add("log.syslog.severity.code", out.copy(sev_text_), ValueKind::Number);
      at = close + 1;
    }
    if (at + 1 < line.size() && line[at] >= '1' && line[at] <= '9' && line[at + 1] == ' ')
      return rfc5424(line, at, out, detail);
    return rfc3164(line, at, out, detail);
  }

 private:
  static bool fail(std::string& detail, const char* what) {
    detail = std::string("expected ") + what;
    return false;
  }


  bool rfc5424(std::string_view line, size_t at, Output& out, std::string& detail) {
    out.add("log.syslog.version", line.substr(at, 1), ValueKind::Number);
    at += 2;
    std::string_view ts, host, app, proc, msgid;
    if (!next_word(line, at, ts) || !next_word(line, at, host) || !next_word(line, at, app) || !next_word(line, at, proc) ||
        !next_word(line, at, msgid))
      return fail(detail, "TIMESTAMP HOSTNAME APP-NAME PROCID MSGID after the version");
    if (ts != "-") {
      auto t = timestamp::parse_iso8601(ts, clock_.offset_ms);
      if (!t) return fail(detail, "an RFC 3339 timestamp");
      out.time = *t;
    }
    if (host != "-") out.add("host.hostname", host);
    if (app != "-") out.add("process.name", app);
    if (proc != "-") out.add("process.pid", proc, Output::number_or_string(proc));
    if (msgid != "-") out.add("log.syslog.msgid", msgid);
    if (at >= line.size()) return fail(detail, "STRUCTURED-DATA");
    if (line[at] == '-') {
      ++at;
    } else {
      while (at < line.size() && line[at] == '[') {
        if (!element(line, at, out)) return fail(detail, "structured data: [id name=\"value\" ...]");
      }
    }
    if (at < line.size()) {
      if (line[at] != ' ') return fail(detail, "a space before the message");
      std::string_view msg = line.substr(at + 1);
      if (msg.substr(0, 3) == "\xEF\xBB\xBF") msg.remove_prefix(3);  // the BOM RFC 5424 allows
      out.add("message", msg);
    }
    return true;
  }

  // [id name="value" name="value"]
  bool element(std::string_view line, size_t& at, Output& out) {
    ++at;
    const size_t id_end = line.find_first_of(" ]", at);
    if (id_end == std::string_view::npos || id_end == at) return false;
    const std::string_view id = line.substr(at, id_end - at);
    at = id_end;
    while (at < line.size() && line[at] == ' ') {
      ++at;
      const size_t eq = line.find('=', at);
      if (eq == std::string_view::npos || eq == at || eq + 1 >= line.size() || line[eq + 1] != '"') return false;
      const std::string_view name = line.substr(at, eq - at);
      at = eq + 2;
      value_.clear();
      bool closed = false;
      for (; at < line.size(); ++at) {
        const char c = line[at];
        if (c == '\\' && at + 1 < line.size() && (line[at + 1] == '"' || line[at + 1] == '\\' || line[at + 1] == ']')) {
          value_ += line[++at];
        } else if (c == '"') {
          closed = true;
          ++at;
          break;
        } else {
          value_ += c;
        }
      }
      if (!closed) return false;
      name_.assign("log.syslog.structured_data.").append(id).append(".").append(name);
      out.add_named(name_, out.copy(value_));
    }
    if (at >= line.size() || line[at] != ']') return false;
    ++at;
    return true;
  }

  bool rfc3164(std::string_view line, size_t at, Output& out, std::string& detail) {
    if (line.size() < at + 15) return fail(detail, "a time such as Oct 11 22:14:15");
    auto t = timestamp::parse_bsd(line.substr(at, 15), clock_.now_ms(), clock_.offset_ms);
    if (!t) return fail(detail, "a time such as Oct 11 22:14:15");
    out.time = *t;
    at += 15;
    if (at >= line.size() || line[at] != ' ') return fail(detail, "a host after the time");
    ++at;
    std::string_view host;
    size_t before_host = at;
    if (!next_word(line, at, host)) return fail(detail, "a host after the time");
    // A sender without a hostname writes the tag right after the time.
    if (host.back() == ':' || host.find('[') != std::string_view::npos) {
      at = before_host;
    } else {
      out.add("host.hostname", host);
    }
    // TAG[PID]: MSG, or TAG: MSG; a message without a tag is all message.
    const size_t colon = line.find(": ", at);
    const size_t space = line.find(' ', at);
    if (colon != std::string_view::npos && colon <= space) {
      std::string_view tag = line.substr(at, colon - at);
      const size_t open = tag.find('[');
      if (open != std::string_view::npos && tag.back() == ']') {
        const std::string_view pid = tag.substr(open + 1, tag.size() - open - 2);
        out.add("process.pid", pid, Output::number_or_string(pid));
        tag = tag.substr(0, open);
      }
      if (!tag.empty()) out.add("process.name", tag);
      at = colon + 2;
    }
    if (at < line.size()) out.add("message", line.substr(at));
    return true;
  }

  Clock clock_;
  std::string pri_text_, fac_text_, sev_text_, value_, name_;
};

}  // namespace

std::unique_ptr<Format> make_syslog(const Settings&, const Clock& clock) { return std::make_unique<Syslog>(clock); }

}  // namespace socstream::parse
