// `socstream tap COMPONENT[.PORT]`: the events leaving a port of a running
// instance, as JSON lines, from its admin endpoint's GET /api/tap.
//
// The endpoint answers one request with what it saw within that request's
// timeout, so the command asks again and again, each time for at most a
// second: that is how it streams until Ctrl-C when no --limit is given, and
// how a --limit larger than one answer holds (the endpoint gives 10,000 at
// most) is reached. Events that pass between two requests are not seen (a
// round trip on loopback, about a millisecond): a tap is a sample for a person
// to look at, not a capture; a file sink on the port is the way to keep all.
#include <signal.h>

#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <optional>

#include "engine/admin_client.hpp"

namespace socstream {

namespace {

using Clock = std::chrono::steady_clock;

const char* kTapUsage =
    "usage: socstream tap COMPONENT[.PORT] [--admin HOST:PORT] [--token-env VAR] [--limit N] [--timeout S]\n"
    "  prints the events leaving a component's port (default: its default port) in a running socstream\n"
    "  (its admin endpoint, default 127.0.0.1:9598), one JSON object a line:\n"
    "  {\"component\",\"port\",\"fields\",\"rules\",\"raw\",\"source\"} (a dead letter: \"dead_letter\").\n"
    "  --token-env VAR   the variable holding the endpoint's bearer token\n"
    "  --limit N         stop after N events; without it, tap until Ctrl-C (or --timeout)\n"
    "  --timeout S       stop after S seconds (default with --limit: 10; without: none)\n";

std::atomic<bool> g_quit{false};
void on_quit_signal(int) { g_quit.store(true); }

// The endpoint's own caps on one request (engine/admin.cpp).
constexpr uint64_t kMaxPerRequest = 10000;
constexpr std::chrono::milliseconds kSlice{1000};
// Above the slice: the endpoint answers when its tap's wait ends.
constexpr std::chrono::milliseconds kAnswerMargin{5000};

uint64_t positive_number(const std::string& option, const std::string& text) {
  uint64_t n = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size() || n == 0)
    throw AdminError(fmt::format("{}: a whole number above 0, not '{}'", option, text), 64);
  return n;
}

}  // namespace

int tap_main(int argc, char** argv) {
  std::string admin = "127.0.0.1:9598", token_env, limit_text, timeout_text, spec;
  AdminAddress address;
  std::string token;
  uint64_t limit = 0;  // 0: until Ctrl-C
  std::optional<Clock::duration> duration;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string_view a = argv[i];
      if (a == "--help" || a == "-h") {
        std::fputs(kTapUsage, stdout);
        return 0;
      }
      if (option_value(argc, argv, i, "--admin", admin) || option_value(argc, argv, i, "--token-env", token_env) ||
          option_value(argc, argv, i, "--limit", limit_text) || option_value(argc, argv, i, "--timeout", timeout_text))
        continue;
      if (a.substr(0, 1) == "-" || !spec.empty()) throw AdminError(fmt::format("unknown argument '{}'\n{}", a, kTapUsage), 64);
      spec = std::string(a);
    }
    if (spec.empty()) throw AdminError(std::string("which component?\n") + kTapUsage, 64);
    address = parse_admin_address(admin);
    if (!limit_text.empty()) limit = positive_number("--limit", limit_text);
    if (!timeout_text.empty()) {
      char* end = nullptr;
      const double s = std::strtod(timeout_text.c_str(), &end);
      if (*end || !(s > 0 && s <= 86400 * 365)) throw AdminError("--timeout: seconds, above 0", 64);
      duration = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
    } else if (limit) {
      duration = std::chrono::seconds(10);
    }
    token = token_from_env(token_env);
  } catch (const AdminError& e) {
    std::fprintf(stderr, "socstream tap: %s\n", e.what());
    return e.exit_code();
  }

  struct sigaction sa {};
  sa.sa_handler = on_quit_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  const AdminClient client(address, token, &g_quit);
  const auto started = Clock::now();
  uint64_t taken = 0;
  try {
    while (!g_quit.load() && (!limit || taken < limit)) {
      auto slice = kSlice;
      if (duration) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(started + *duration - Clock::now());
        if (left.count() <= 0) break;
        slice = std::min(slice, left);
      }
      const uint64_t want = limit ? std::min(limit - taken, kMaxPerRequest) : kMaxPerRequest;
      const std::string target = fmt::format("/api/tap?component={}&limit={}&timeout_ms={}", url_encode(spec), want,
                                             std::max<int64_t>(slice.count(), 1));
      const HttpAnswer a = client.checked(target, slice + kAnswerMargin);
      // Whole lines at once, flushed: a reader downstream (jq, a pipe) sees each line complete.
      std::string_view body = a.body;
      std::string out;
      while (!body.empty() && taken < (limit ? limit : UINT64_MAX)) {
        const size_t nl = body.find('\n');
        const std::string_view line = body.substr(0, nl);
        body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
        if (line.empty()) continue;
        out.append(line);
        out += '\n';
        ++taken;
      }
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fflush(stdout);
    }
  } catch (const AdminError& e) {
    if (e.exit_code() != 130) {
      std::fprintf(stderr, "socstream tap: %s\n", e.what());
      return e.exit_code();
    }
  }
  if (limit && taken < limit && !g_quit.load())
    std::fprintf(stderr, "socstream tap: %llu of %llu events left %s within %.3g s\n",
                 static_cast<unsigned long long>(taken), static_cast<unsigned long long>(limit), spec.c_str(),
                 std::chrono::duration<double>(*duration).count());
  return 0;
}

}  // namespace socstream
