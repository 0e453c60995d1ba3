// formats: apache_common, apache_combined, nginx_combined. The Common and
// Combined Log Formats, read by hand in one pass (a line costs a few hundred
// nanoseconds):
//   %h %l %u [%t] "%r" %>s %b                               apache_common
//   %h %l %u [%t] "%r" %>s %b "%{Referer}i" "%{User-agent}i" apache_combined, nginx_combined
// Fields (ECS): source.address (and source.ip when it is an address),
// user.name, @timestamp, http.request.method, url.original, url.path,
// url.query, http.version, http.response.status_code,
// http.response.body.bytes, http.request.referrer, user_agent.original.
// A "-" is no value. Apache escapes a quote inside a field as \", nginx as
// \x22; both are read as they are written (url.original is what the client sent).
#include <arpa/inet.h>

#include <cstring>

#include "operators/parse/format.hpp"
#include "engine/timestamp.hpp"

namespace socstream::parse {

namespace {

// "..." with \" inside; `at` on the opening quote.
bool quoted(std::string_view line, size_t& at, std::string_view& out) {
  if (at >= line.size() || line[at] != '"') return false;
  // Quote to quote by memchr (a byte-at-a-time scan was a quarter of a line's
  // cost); a quote after an odd run of backslashes is escaped.
  size_t from = at + 1, i;
  for (;;) {
    const void* q = from < line.size() ? std::memchr(line.data() + from, '"', line.size() - from) : nullptr;
    if (!q) return false;
    i = static_cast<size_t>(static_cast<const char*>(q) - line.data());
    size_t slashes = 0;
    while (i - slashes > from && line[i - slashes - 1] == '\\') ++slashes;
    if (slashes % 2 == 0) break;
    from = i + 1;
  }
  out = line.substr(at + 1, i - at - 1);
  at = i + 1;
  if (at < line.size()) {
    if (line[at] != ' ') return false;
    ++at;
  }
  return true;
}

bool is_ip(std::string_view s) {
  char buf[64];
  unsigned char addr[16];
  if (s.empty() || s.size() >= sizeof buf) return false;
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = 0;
  return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

bool digits_only(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

class AccessLog final : public Format {
 public:
  explicit AccessLog(bool combined) : combined_(combined) {}

  FieldWrites writes() const override {
    FieldWrites w{{"source.address", "source.ip", "user.name", "http.request.method", "url.original", "url.path",
                   "url.query", "http.version", "http.response.status_code", "http.response.body.bytes"}};
    if (combined_) w.names.insert(w.names.end(), {"http.request.referrer", "user_agent.original"});
    return w;
  }

  bool parse(std::string_view line, Output& out, std::string& detail) override {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t at = 0;
    std::string_view host, ident, user, time, request, status, bytes;
    if (!next_word(line, at, host) || !next_word(line, at, ident) || !next_word(line, at, user)) return fail(detail, "host, ident and user");
    if (at >= line.size() || line[at] != '[') return fail(detail, "[time]");
    const size_t close = line.find(']', at);
    if (close == std::string_view::npos) return fail(detail, "[time]");
    time = line.substr(at + 1, close - at - 1);
    auto t = timestamp::parse_clf(time);
    if (!t) return fail(detail, "the time (10/Oct/2000:13:55:36 -0700)");
    at = close + 1;
    if (at >= line.size() || line[at] != ' ') return fail(detail, "a space after the time");
    ++at;
    if (!quoted(line, at, request)) return fail(detail, "the quoted request");
    if (!next_word(line, at, status) || !digits_only(status) || status.size() != 3) return fail(detail, "the status");
    if (!next_word(line, at, bytes) || (bytes != "-" && !digits_only(bytes))) return fail(detail, "the size");
    std::string_view referrer, agent;
    if (combined_) {
      if (!quoted(line, at, referrer) || !quoted(line, at, agent)) return fail(detail, "the quoted referrer and user agent");
    }
    if (at < line.size()) {
      // Anything after: nginx and Apache setups often append fields. Not this format.
      return fail(detail, "the end of the line");
    }
    out.add("source.address", host);
    if (is_ip(host)) out.add("source.ip", host);
    if (user != "-") out.add("user.name", user);
    out.time = *t;
    if (request != "-") {
      // METHOD URL PROTOCOL; anything else (a scanner's junk) is kept whole as the URL.
      const size_t sp1 = request.find(' '), sp2 = request.rfind(' ');
      if (sp1 != std::string_view::npos && sp2 != sp1 && request.substr(sp2 + 1).rfind("HTTP/", 0) == 0) {
        out.add("http.request.method", request.substr(0, sp1));
        const std::string_view url = request.substr(sp1 + 1, sp2 - sp1 - 1);
        out.add("url.original", url);
        const size_t q = url.find('?');
        out.add("url.path", url.substr(0, q));
        if (q != std::string_view::npos) out.add("url.query", url.substr(q + 1));
        out.add("http.version", request.substr(sp2 + 6));
      } else {
        out.add("url.original", request);
      }
    }
    // Digits, but "007" is no JSON number: number_or_string keeps such a value a string.
    out.add("http.response.status_code", status, Output::number_or_string(status));
    if (bytes != "-") out.add("http.response.body.bytes", bytes, Output::number_or_string(bytes));
    if (combined_) {
      if (referrer != "-") out.add("http.request.referrer", referrer);
      if (agent != "-") out.add("user_agent.original", agent);
    }
    return true;
  }

 private:
  static bool fail(std::string& detail, const char* what) {
    detail = std::string("expected ") + what;
    return false;
  }
  bool combined_;
};

}  // namespace

std::unique_ptr<Format> make_access_log(const Settings&, const std::string& variant) {
  return std::make_unique<AccessLog>(variant != "apache_common");
}

}  // namespace socstream::parse
