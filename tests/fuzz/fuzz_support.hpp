#pragma once
// What the libFuzzer targets share: a scratch directory for inputs that are
// read from files, settings from YAML text, an operator run on one batch with
// every event accounted for, and an independent JSON validator to check that
// what the engine writes is JSON.
//
// Checks that fail call fuzz_fail(), which aborts: libFuzzer reports that as a
// crash and keeps the input, like a sanitizer report.
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/channel.hpp"
#include "engine/component.hpp"
#include "engine/config.hpp"
#include "engine/event.hpp"
#include "engine/json_writer.hpp"

namespace socstream::fuzz {

[[noreturn]] inline void fuzz_fail(const std::string& what) {
  std::fprintf(stderr, "fuzz check failed: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_CHECK(cond, what)                                                             \
  do {                                                                                     \
    if (!(cond)) ::socstream::fuzz::fuzz_fail(std::string(#cond ": ") + std::string(what)); \
  } while (0)

// Quiet logs: a target runs millions of inputs, most of them refused.
inline void quiet() { spdlog::set_level(spdlog::level::off); }

// A directory of this process's own, removed at exit; for code that reads
// files (topologies, rules files, model directories). Under /dev/shm when it
// exists, so writing an input costs no disk I/O.
inline const std::filesystem::path& scratch_dir() {
  static std::filesystem::path dir;
  if (dir.empty()) {
    const std::filesystem::path base = std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                           : std::filesystem::temp_directory_path();
    dir = base / ("socstream-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
  }
  return dir;
}

inline std::filesystem::path write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) fuzz_fail("cannot write " + p.string());
  return p;
}

// Settings of a component named `name`, from YAML text, based in `base`.
struct Config {
  Diagnostics diag;
  YAML::Node node;
  std::unique_ptr<Settings> settings;
  Config(const std::string& yaml, const std::string& name, const std::filesystem::path& base)
      : node(YAML::Load(yaml)), settings(std::make_unique<Settings>(node, name, "fuzz.yaml", base, &diag)) {}
};

// A batch of one event per line of `text` (without the newline), its bytes
// copied into a buffer the batch holds, followed by Batch::kRawPadding
// readable bytes as a line source guarantees.
inline Batch lines_batch(std::string_view text, const std::string* source, size_t max_events = 4096) {
  auto buf = std::make_shared<std::string>(text);
  buf->append(Batch::kRawPadding, '\0');
  Batch b;
  b.raw_padded = true;
  size_t at = 0;
  int64_t offset = 0;
  while (at < text.size() && b.events.size() < max_events) {
    size_t nl = text.find('\n', at);
    if (nl == std::string_view::npos) nl = text.size();
    Event e;
    e.raw = std::string_view(buf->data() + at, nl - at);
    e.pos.source = source;
    e.pos.stream = *source;
    e.pos.offset = offset;
    offset += static_cast<int64_t>(nl - at + 1);
    b.events.push_back(std::move(e));
    at = nl + 1;
  }
  b.hold(buf);
  return b;
}

// The events an operator emitted for one batch, per output port.
struct Routed {
  std::vector<std::string> ports;
  std::vector<std::vector<Event>> events;  // parallel to ports
  std::vector<Batch> kept;                 // keeps the events' bytes alive
  const std::vector<Event>& port(std::string_view name) const {
    for (size_t i = 0; i < ports.size(); ++i)
      if (ports[i] == name) return events[i];
    fuzz_fail("no port " + std::string(name));
  }
  ~Routed() {
    for (auto& p : events)
      for (auto& e : p) e.ack.complete();
  }
};

// Runs one batch through `op` and collects every port. Checks that each event
// came out exactly once (nothing dropped, nothing invented) unless the
// operator may fan out, and that dead letters carry a reason.
inline void run(Processor& op, Batch&& in, Routed& r, bool conserves = true) {
  static const std::string component = "fuzz";
  const size_t n = in.size();
  r.ports = op.output_ports();
  r.events.clear();
  r.events.resize(r.ports.size());
  Outputs out(&component, r.ports);
  std::deque<Channel> channels;
  for (size_t i = 0; i < r.ports.size(); ++i) {
    // Never full: a full channel would block this thread for ever.
    out.connect(i, &channels.emplace_back(size_t{1} << 40, size_t{1} << 40));
  }
  op.process(std::move(in), out);
  size_t total = 0;
  for (size_t i = 0; i < r.ports.size(); ++i) {
    Batch b;
    while (channels[i].pop(b, Clock::now()) == Channel::Pop::Item) {
      for (auto& e : b.events) {
        if (r.ports[i] == "dlq") {
          FUZZ_CHECK(!e.error.empty(), "a dead letter without a reason");
        } else {
          FUZZ_CHECK(e.error.empty(), "an event with an error on port '" + r.ports[i] + "'");
        }
        r.events[i].push_back(std::move(e));
        ++total;
      }
      r.kept.push_back(std::move(b));
      b = Batch{};
    }
  }
  if (conserves) FUZZ_CHECK(total == n, std::to_string(n) + " events in, " + std::to_string(total) + " out");
}

// A strict RFC 8259 validator, independent of simdjson (whose DOM refuses
// numbers JSON allows, such as 1e400): whether `s` is one JSON value with
// valid UTF-8 strings. Depth is bounded by the caller's input size.
class JsonCheck {
 public:
  static bool valid(std::string_view s) {
    JsonCheck c{s};
    c.ws();
    if (!c.value(0)) return false;
    c.ws();
    return c.at_ == s.size();
  }

 private:
  explicit JsonCheck(std::string_view s) : s_(s) {}
  bool eof() const { return at_ >= s_.size(); }
  char peek() const { return eof() ? '\0' : s_[at_]; }
  void ws() {
    while (!eof() && (s_[at_] == ' ' || s_[at_] == '\t' || s_[at_] == '\n' || s_[at_] == '\r')) ++at_;
  }
  bool lit(std::string_view w) {
    if (s_.substr(at_, w.size()) != w) return false;
    at_ += w.size();
    return true;
  }
  bool value(int depth) {
    if (depth > 2000) return false;
    switch (peek()) {
      case '{': return object(depth);
      case '[': return array(depth);
      case '"': return string();
      case 't': return lit("true");
      case 'f': return lit("false");
      case 'n': return lit("null");
      default: return number();
    }
  }
  bool object(int depth) {
    ++at_;
    ws();
    if (peek() == '}') return ++at_, true;
    for (;;) {
      ws();
      if (!string()) return false;
      ws();
      if (peek() != ':') return false;
      ++at_;
      ws();
      if (!value(depth + 1)) return false;
      ws();
      if (peek() == ',') {
        ++at_;
        continue;
      }
      if (peek() == '}') return ++at_, true;
      return false;
    }
  }
  bool array(int depth) {
    ++at_;
    ws();
    if (peek() == ']') return ++at_, true;
    for (;;) {
      ws();
      if (!value(depth + 1)) return false;
      ws();
      if (peek() == ',') {
        ++at_;
        continue;
      }
      if (peek() == ']') return ++at_, true;
      return false;
    }
  }
  bool string() {
    if (peek() != '"') return false;
    size_t start = ++at_;
    for (;;) {
      if (eof()) return false;
      unsigned char c = static_cast<unsigned char>(s_[at_]);
      if (c == '"') break;
      if (c < 0x20) return false;
      if (c == '\\') {
        ++at_;
        if (eof()) return false;
        char e = s_[at_];
        if (e == 'u') {
          for (int i = 1; i <= 4; ++i)
            if (at_ + i >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[at_ + i]))) return false;
          at_ += 4;
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return false;
        }
      }
      ++at_;
    }
    const bool ok = json::valid_utf8(s_.substr(start, at_ - start));
    ++at_;
    return ok;
  }
  bool digits() {
    size_t from = at_;
    while (!eof() && s_[at_] >= '0' && s_[at_] <= '9') ++at_;
    return at_ > from;
  }
  bool number() {
    if (peek() == '-') ++at_;
    if (peek() == '0') {
      ++at_;
    } else if (!digits()) {
      return false;
    }
    if (peek() == '.') {
      ++at_;
      if (!digits()) return false;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++at_;
      if (peek() == '+' || peek() == '-') ++at_;
      if (!digits()) return false;
    }
    return true;
  }

  std::string_view s_;
  size_t at_ = 0;
};

// An event's fields as one JSON object, written by the engine's writer, and
// its dead-letter record: both must be JSON whatever the input was.
inline void check_event_json(const Event& e) {
  std::string out = "{";
  for (const auto& f : e.fields) {
    if (out.size() > 1) out += ',';
    json::append_string(out, f.name);
    out += ':';
    json::append_value(out, f);
  }
  out += '}';
  if (!JsonCheck::valid(out)) fuzz_fail("the event's fields are not JSON when written: " + out);
  if (!e.error.empty()) {
    std::string dl;
    json::append_dead_letter(dl, e);
    if (!JsonCheck::valid(dl)) fuzz_fail("a dead-letter record is not JSON: " + dl);
  }
}

}  // namespace socstream::fuzz
