// `socstream top`: a live view of a running instance, from its admin endpoint
// (GET /api/status for the components, their kinds and channels; GET /metrics
// for the counters, which carry over a hot reload where /api/status's restart
// with each generation, and for the Kafka sources' lag when the metrics have it).
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>

#include "engine/admin_client.hpp"

namespace socstream {

namespace {

using Clock = std::chrono::steady_clock;

const char* kTopUsage =
    "usage: socstream top [--admin HOST:PORT] [--token-env VAR] [--interval S] [--once]\n"
    "  a live view of a running socstream (its admin endpoint, default 127.0.0.1:9598): per component\n"
    "  events/s in and out, input channel fill, dead letters/s and Kafka lag; q or Ctrl-C quits.\n"
    "  --token-env VAR   the variable holding the endpoint's bearer token\n"
    "  --interval S      seconds between polls (default 1)\n"
    "  --once            print one frame (two polls apart, so rates exist) and exit\n";

std::atomic<bool> g_quit{false};
void on_quit_signal(int) { g_quit.store(true); }

// Counts, not rates: a rate needs two polls. Negative: the component has none.
struct Figures {
  std::string name, kind, type;
  double in = -1, out = -1, dlq = -1, lag = -1;
  uint64_t queued = 0, capacity = 0;
  bool ready = true;
};

struct Poll {
  Clock::time_point at;
  uint64_t generation = 0;
  double uptime = 0;
  double reloads = -1, reloads_failed = -1;
  std::vector<Figures> components;
  std::vector<std::string> not_ready;  // "name (why)"
};

constexpr std::chrono::seconds kRequestTimeout{5};

// A field of /api/status, or `dflt` when it is missing or of another type
// (an older or newer endpoint's shape should cost a column, not the view).
template <class T, class J>
T field(J&& json, T dflt) {
  T v{};
  return std::forward<J>(json).get(v) == simdjson::SUCCESS ? v : dflt;
}

std::string not_socstream(const AdminClient& c, std::string_view what) {
  return fmt::format("no socstream admin endpoint at {}: {}", c.address().text(), what);
}

Poll take_poll(const AdminClient& c) {
  Poll p;
  const HttpAnswer status = c.checked("/api/status", kRequestTimeout);
  const HttpAnswer metrics = c.checked("/metrics", kRequestTimeout);
  p.at = Clock::now();

  // Per component, from the metrics: what it took in, sent on its ports
  // other than dlq, dead-lettered (its dlq port), and the Kafka lag summed
  // over its partitions.
  struct Counts {
    std::optional<double> received, sent, dead, lag;
  };
  std::map<std::string, Counts> counts;
  for (const auto& s : parse_prometheus(metrics.body)) {
    if (s.name == "socstream_reloads_total") p.reloads = s.value;
    if (s.name == "socstream_reloads_failed_total") p.reloads_failed = s.value;
    auto id = s.labels.find("component_id");
    if (id == s.labels.end()) continue;
    Counts& k = counts[id->second];
    auto add = [&](std::optional<double>& to) { to = to.value_or(0) + s.value; };
    if (s.name == "socstream_component_received_events_total") add(k.received);
    if (s.name == "socstream_component_sent_events_total") {
      auto out = s.labels.find("output");
      add(out != s.labels.end() && out->second == "dlq" ? k.dead : k.sent);
    }
    if (s.name == "socstream_kafka_consumer_lag_messages") add(k.lag);
  }

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array components;
  if (parser.parse(status.body).get(doc) != simdjson::SUCCESS || doc["components"].get(components) != simdjson::SUCCESS)
    throw AdminError(not_socstream(c, "GET /api/status did not answer as socstream does"), 2);
  p.generation = field<uint64_t>(doc["generation"], 0);
  p.uptime = field<double>(doc["uptime_seconds"], 0);
  bool all_ready = true;
  for (auto e : components) {
    Figures f;
    f.name = std::string(field<std::string_view>(e["name"], ""));
    f.kind = std::string(field<std::string_view>(e["kind"], ""));
    f.type = std::string(field<std::string_view>(e["type"], ""));
    const auto received = field<uint64_t>(e["received"], 0);
    f.queued = field<uint64_t>(e["queued"], 0);
    // A source reads no channel.
    f.capacity = f.kind == "source" ? 0 : field<uint64_t>(e["capacity"], 0);
    f.ready = field<bool>(e["ready"], true);
    all_ready = all_ready && f.ready;
    // /api/status's own counts stand in where the metrics have no series.
    double sent = -1, dead = -1;
    simdjson::dom::object ports;
    if (e["sent"].get(ports) == simdjson::SUCCESS)
      for (auto [port, n] : ports) {
        double& to = port == "dlq" ? dead : sent;
        to = std::max(to, 0.0) + static_cast<double>(field<uint64_t>(n, 0));
      }
    const Counts& k = counts[f.name];
    if (k.sent) sent = *k.sent;
    if (k.dead) dead = *k.dead;
    f.out = sent;
    f.dlq = dead;
    // What a source takes in is what it read: everything it sent, dead letters included.
    if (f.kind == "source")
      f.in = sent < 0 && dead < 0 ? -1 : std::max(sent, 0.0) + std::max(dead, 0.0);
    else
      f.in = k.received ? *k.received : static_cast<double>(received);
    if (k.lag) f.lag = *k.lag;
    p.components.push_back(std::move(f));
  }
  if (!all_ready) {
    // /ready says why (503 while something is not ready: an answer, not an error).
    const HttpAnswer r = c.get("/ready", kRequestTimeout);
    simdjson::dom::parser rp;
    simdjson::dom::object why;
    std::map<std::string, std::string, std::less<>> reasons;
    if (rp.parse(r.body)["why"].get(why) == simdjson::SUCCESS)
      for (auto [name, text] : why) {
        std::string_view t;
        if (text.get(t) == simdjson::SUCCESS) reasons.emplace(std::string(name), std::string(t));
      }
    for (const auto& f : p.components)
      if (!f.ready) {
        auto it = reasons.find(f.name);
        p.not_ready.push_back(it == reasons.end() ? f.name : f.name + " (" + it->second + ")");
      }
  }
  return p;
}

std::string rate_text(double r) {
  if (r < 0 || !std::isfinite(r)) return "-";
  if (r < 100) return fmt::format("{:.1f}", r);
  if (r < 10000) return fmt::format("{:.0f}", r);
  if (r < 1e6) return fmt::format("{:.1f}k", r / 1e3);
  return fmt::format("{:.2f}M", r / 1e6);
}

std::string duration_text(double seconds) {
  const auto s = static_cast<uint64_t>(seconds);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}d{:02}h{:02}m", s / 86400, s / 3600 % 24, s / 60 % 60);
}

struct Style {
  bool ansi = false;
  std::string bold(const std::string& s) const { return ansi ? "\x1b[1m" + s + "\x1b[0m" : s; }
  std::string green(const std::string& s) const { return ansi ? "\x1b[32m" + s + "\x1b[0m" : s; }
  std::string red(const std::string& s) const { return ansi ? "\x1b[31m" + s + "\x1b[0m" : s; }
  std::string dim(const std::string& s) const { return ansi ? "\x1b[2m" + s + "\x1b[0m" : s; }
};

std::string header(const Poll& p, const std::string& address, const Style& st) {
  std::string reloads;
  if (p.reloads >= 0)
    reloads = fmt::format(" ({:.0f} reload{}{})", p.reloads, p.reloads == 1 ? "" : "s",
                          p.reloads_failed > 0 ? fmt::format(", {:.0f} refused", p.reloads_failed) : "");
  std::string ready = st.green("ready");
  if (!p.not_ready.empty()) {
    std::string names;
    for (const auto& n : p.not_ready) names += (names.empty() ? "" : ", ") + n;
    ready = st.red("not ready: " + names);
  }
  return fmt::format("socstream at {}  up {}  generation {}{}  {}\n", address, duration_text(p.uptime), p.generation,
                     reloads, ready);
}

// One frame; `prev` null (the first poll, or after the endpoint was lost) shows no rates.
std::string render(const Poll* prev, const Poll& cur, const std::string& address, const Style& st) {
  size_t name_w = 4, type_w = 4;
  for (const auto& f : cur.components) {
    name_w = std::max(name_w, f.name.size());
    type_w = std::max(type_w, f.type.size());
  }
  std::string out = header(cur, address, st) + "\n";
  out += st.bold(fmt::format("{:<{}}  {:<8}  {:<{}}  {:>9}  {:>9}  {:>5}  {:>8}  {:>9}", "NAME", name_w, "KIND", "TYPE",
                             type_w, "IN/S", "OUT/S", "FILL", "DLQ/S", "LAG")) +
         "\n";
  const double dt = prev ? std::chrono::duration<double>(cur.at - prev->at).count() : 0;
  for (const auto& f : cur.components) {
    const Figures* before = nullptr;
    if (prev)
      for (const auto& b : prev->components)
        if (b.name == f.name) before = &b;
    // A count that went down belongs to a component rebuilt by a reload: no rate this once.
    auto rate = [&](double now, double then) {
      return !before || dt <= 0 || now < 0 || then < 0 || now < then ? -1.0 : (now - then) / dt;
    };
    const std::string in = rate_text(rate(f.in, before ? before->in : -1));
    const std::string sent = rate_text(rate(f.out, before ? before->out : -1));
    const std::string dlq = rate_text(rate(f.dlq, before ? before->dlq : -1));
    const std::string fill =
        f.capacity ? fmt::format("{:.0f}%", 100.0 * static_cast<double>(f.queued) / static_cast<double>(f.capacity)) : "-";
    const std::string lag = f.lag >= 0 ? fmt::format("{:.0f}", f.lag) : "-";
    out += fmt::format("{:<{}}  {:<8}  {:<{}}  {:>9}  {:>9}  {:>5}  {:>8}  {:>9}\n", f.name, name_w, f.kind, f.type,
                       type_w, in, sent, fill, dlq, lag);
  }
  return out;
}

// Raw keys on a terminal's stdin and the alternate screen on its stdout, put
// back however top ends (q, Ctrl-C, SIGTERM, an exception).
class Terminal {
 public:
  Terminal(bool screen, bool keys) : screen_(screen) {
    if (keys && ::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      // No echo and no line buffering, so q acts at once; ISIG stays, so Ctrl-C is a signal.
      raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
      raw.c_cc[VMIN] = 1;
      raw.c_cc[VTIME] = 0;
      keys_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    if (screen_) write("\x1b[?1049h\x1b[?25l");
  }
  ~Terminal() {
    if (screen_) write("\x1b[?25h\x1b[?1049l");
    if (keys_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  Terminal(const Terminal&) = delete;
  bool keys() const { return keys_; }
  static void write(const std::string& s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
  }

 private:
  bool screen_, keys_ = false;
  termios saved_{};
};

// Sleeps `d`; false when it is time to quit (q typed, or a signal).
bool wait_or_quit(Clock::duration d, bool keys) {
  const auto until = Clock::now() + d;
  while (!g_quit.load()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return true;
    pollfd fd{STDIN_FILENO, POLLIN, 0};
    const int n = ::poll(keys ? &fd : nullptr, keys ? 1 : 0, static_cast<int>(left));
    if (n > 0) {
      char buf[64];
      const ssize_t got = ::read(STDIN_FILENO, buf, sizeof buf);
      if (got <= 0) keys = false;
      for (ssize_t i = 0; i < got; ++i)
        if (buf[i] == 'q' || buf[i] == 'Q') return false;
    }
  }
  return false;
}

}  // namespace

int top_main(int argc, char** argv) {
  std::string admin = "127.0.0.1:9598", token_env, interval_text = "1";
  bool once = false;
  AdminAddress address;
  std::chrono::milliseconds interval{1000};
  std::string token;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string_view a = argv[i];
      if (a == "--help" || a == "-h") {
        std::fputs(kTopUsage, stdout);
        return 0;
      }
      if (a == "--once") {
        once = true;
      } else if (!option_value(argc, argv, i, "--admin", admin) && !option_value(argc, argv, i, "--token-env", token_env) &&
                 !option_value(argc, argv, i, "--interval", interval_text)) {
        throw AdminError(fmt::format("unknown argument '{}'\n{}", a, kTopUsage), 64);
      }
    }
    address = parse_admin_address(admin);
    char* end = nullptr;
    const double s = std::strtod(interval_text.c_str(), &end);
    if (interval_text.empty() || *end || !(s >= 0.1 && s <= 3600))
      throw AdminError("--interval: seconds between polls, 0.1 to 3600", 64);
    interval = std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
    token = token_from_env(token_env);
  } catch (const AdminError& e) {
    std::fprintf(stderr, "socstream top: %s\n", e.what());
    return e.exit_code();
  }

  struct sigaction sa {};
  sa.sa_handler = on_quit_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a signal must cut a sleep or a request short
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  const AdminClient client(address, token, &g_quit);
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  const Style st{tty};
  const std::string where = address.text();
  std::optional<Poll> prev;
  try {
    // Before the screen is taken: an endpoint that is not there is said plainly and ends top.
    prev = take_poll(client);
    if (once) {
      if (!wait_or_quit(interval, false)) return 0;
      const Poll cur = take_poll(client);
      Terminal::write(render(&*prev, cur, where, st));
      return 0;
    }
  } catch (const AdminError& e) {
    if (e.exit_code() == 130) return 0;
    std::fprintf(stderr, "socstream top: %s\n", e.what());
    return e.exit_code();
  }

  Terminal term(tty, tty && ::isatty(STDIN_FILENO) == 1);
  // On a terminal a frame overwrites the last one; elsewhere (a file, a pipe)
  // frames follow each other, a blank line apart.
  auto show = [&](const std::string& frame) {
    if (!tty) return Terminal::write(frame + "\n");
    std::string out = "\x1b[H";
    for (size_t at = 0; at < frame.size();) {
      const size_t nl = frame.find('\n', at);
      out += frame.substr(at, nl - at) + "\x1b[K\n";
      at = nl == std::string::npos ? frame.size() : nl + 1;
    }
    out += st.dim(fmt::format("every {:.3g} s; q quits", std::chrono::duration<double>(interval).count())) + "\x1b[J";
    Terminal::write(out);
  };
  show(render(nullptr, *prev, where, st));
  while (wait_or_quit(interval, term.keys())) {
    try {
      Poll cur = take_poll(client);
      show(render(prev ? &*prev : nullptr, cur, where, st));
      prev = std::move(cur);
    } catch (const AdminError& e) {
      if (e.exit_code() == 130) break;
      // The instance may be restarting: say so and keep trying; rates start again when it is back.
      prev.reset();
      show(fmt::format("socstream at {}: {}\n{}\n", where, st.red("no answer"),
                       fmt::format("{}; trying again", e.what())));
    }
  }
  return 0;
}

}  // namespace socstream
