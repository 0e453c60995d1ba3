// The socstream command line.
#include <signal.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "engine/admin.hpp"
#include "engine/admin_client.hpp"
#include "engine/builtins.hpp"
#include "engine/json_writer.hpp"
#include "engine/runtime.hpp"
#include "engine/service.hpp"
#include "engine/test_cases.hpp"
#include "engine/topology.hpp"
#include "models/model.hpp"

#ifndef SOCSTREAM_VERSION
#define SOCSTREAM_VERSION "0.0.0"
#endif

namespace po = boost::program_options;
using namespace socstream;

namespace {

const char* kUsage = R"(usage: socstream <command> [options]

commands:
  run FILE        run the topology in FILE until its sources end or SIGINT/SIGTERM;
                  SIGHUP (or --watch, or POST /api/reload) reloads it without losing an event
  validate FILE   check FILE (and the files it names) without running; every error, as file:line:col
  test FILE --cases CASES [--junit REPORT]
                  run CASES' golden events through FILE's operators and check the outputs they expect
                  (sources and sinks are not run); exit 1 if a case fails, REPORT in JUnit XML
  predict --model DIR [--precision float32|int8] [TEXT...]
                  print each text's label and scores (lines from stdin when no TEXT is given);
                  --precision serves another of model.yaml's precisions
  top [--admin HOST:PORT] [--token-env VAR] [--interval S] [--once]
                  a live view of a running instance: events/s in and out, channel fill, dead letters, lag
  tap COMPONENT[.PORT] [--admin HOST:PORT] [--token-env VAR] [--limit N] [--timeout S]
                  print a running instance's events leaving a port, as JSON lines (until Ctrl-C without --limit)

options)";

// --log-format json: the message as a JSON string (a log line may hold
// anything an event held: quotes, newlines, bytes that are not UTF-8).
class JsonMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string out;
    json::append_string(out, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(out.data(), out.data() + out.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessage>(); }
};
bool json_log = false;

// Whether the run has ended, for the shutdown watchdog.
struct RunEnded {
  std::mutex m;
  std::condition_variable cv;
  bool ended = false;
  void set() {
    std::lock_guard lk(m);
    ended = true;
    cv.notify_all();
  }
};

// After a stop is asked for, the drain has `timeout`: a sink that cannot
// deliver (Redis down) would otherwise hold the process forever. Past it the
// process exits 3, naming what was not acknowledged: sources that commit
// (Kafka) deliver it again to the next run.
void watchdog(Service& rt, RunEnded& ended, std::chrono::seconds timeout) {
  std::thread([&rt, &ended, timeout] {
    std::unique_lock lk(ended.m);
    if (ended.cv.wait_for(lk, timeout, [&] { return ended.ended; })) return;
    std::string what;
    for (const auto& [source, n] : rt.pending())
      if (n) what += fmt::format("{}{}: {} events", what.empty() ? "" : ", ", source, n);
    spdlog::error("the drain did not finish within shutdown_timeout_s ({} s); exiting without it. Not acknowledged, "
                  "so to be read again: {}",
                  timeout.count(), what.empty() ? "nothing" : what);
    spdlog::default_logger()->flush();
    std::fflush(stdout);
    std::_Exit(3);
  }).detach();
}

// One line at info level every `interval` while the topology runs: what a
// service's log needs to show it is alive and how fast it goes.
void progress(Service& rt, RunEnded& ended, std::chrono::seconds interval) {
  if (interval.count() == 0) return;
  std::thread([&rt, &ended, interval] {
    RunStats last;
    std::unique_lock lk(ended.m);
    while (!ended.cv.wait_for(lk, interval, [&] { return ended.ended; })) {
      const RunStats now = rt.snapshot();
      const double secs = now.seconds - last.seconds;
      const auto [lag, kafka] = rt.metrics().total("socstream_kafka_consumer_lag_messages");
      spdlog::info("progress: {} events read ({:.0f}/s), {} delivered ({:.0f}/s), {} dead-lettered, {} in flight{}",
                   now.read, (now.read - last.read) / secs, now.delivered, (now.delivered - last.delivered) / secs,
                   now.dead_lettered, now.pending, kafka ? fmt::format(", Kafka lag {:.0f}", lag) : std::string());
      last = now;
    }
  }).detach();
}

// Signals are taken by a dedicated thread (blocked everywhere else), so the
// handler can do real work: the first stop signal asks for a drain, the
// second exits now; SIGHUP asks for a reload.
void watch_signals(Service& rt, RunEnded& ended, std::chrono::seconds timeout) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  std::thread([&rt, &ended, timeout, set] {
    int sig = 0, seen = 0;
    while (sigwait(&set, &sig) == 0) {
      if (sig == SIGHUP) {
        spdlog::info("received SIGHUP; reloading");
        rt.request_reload("SIGHUP");
        continue;
      }
      if (++seen == 1) {
        spdlog::info("received {}; draining in-flight events for up to {} s (send again to exit at once)",
                     strsignal(sig), timeout.count());
        rt.request_stop();
        watchdog(rt, ended, timeout);
      } else {
        spdlog::warn("received {} again; exiting without draining", strsignal(sig));
        std::_Exit(130);
      }
    }
  }).detach();
}

int cmd_validate(const std::string& file) {
  Diagnostics diag;
  auto topo = load_topology(file, diag);
  if (!topo) {
    std::fputs(diag.str().c_str(), stderr);
    std::fprintf(stderr, "%zu error(s)\n", diag.count());
    return 1;
  }
  std::fputs(diag.warnings_str().c_str(), stderr);
  size_t counts[3] = {0, 0, 0};
  for (const auto& n : topo->nodes) {
    ++counts[static_cast<int>(n.kind)];
    if (n.instances.empty()) continue;
    const std::string report = n.instances.front()->report();
    if (!report.empty()) std::fprintf(stderr, "%s: %s\n", n.name.c_str(), report.c_str());
  }
  std::fprintf(stderr, "%s: ok (%zu sources, %zu operators, %zu sinks)%s\n", file.c_str(), counts[0], counts[1],
               counts[2],
               diag.warnings().empty() ? "" : (", " + std::to_string(diag.warnings().size()) + " warning(s)").c_str());
  return 0;
}

std::string admin_flag;  // --admin HOST:PORT, over the topology's admin.address
bool watch_flag = false;

int cmd_run(const std::string& file) {
  // SIGINT/SIGTERM/SIGHUP are blocked since main's start, so every thread inherits the mask.
  ::signal(SIGPIPE, SIG_IGN);

  ServiceOptions service_options;
  service_options.file = file;
  service_options.watch = watch_flag;
  // Static: the watchdog thread may still look at it while main returns.
  static Service service(service_options);
  if (auto diag = service.load()) {
    std::fputs(diag->str().c_str(), stderr);
    return 1;
  }
  for (const auto& w : service.load_diagnostics().warnings()) spdlog::warn("{}", w.str());
  // The first generation's settings for the process: a reload cannot move the admin endpoint.
  const Topology* topo = &service.topology();
  Topology::Admin admin_settings = topo->admin;
  if (!admin_flag.empty()) {
    if (auto problem = admin_problem(admin_flag, topo->admin.token_env)) {
      std::fprintf(stderr, "socstream: --admin: %s\n", problem->c_str());
      return 64;
    }
    admin_settings.address = admin_flag;
  }
  AdminOptions admin_options;
  if (!admin_settings.address.empty()) {
    const std::string& a = admin_settings.address;
    admin_options.host = a.substr(0, a.rfind(':'));
    if (admin_options.host.front() == '[') admin_options.host = admin_options.host.substr(1, admin_options.host.size() - 2);
    admin_options.port = static_cast<uint16_t>(std::stoi(a.substr(a.rfind(':') + 1)));
    if (!topo->admin.token_env.empty()) {
      const char* token = std::getenv(topo->admin.token_env.c_str());
      if (!token || !*token) {
        std::fprintf(stderr, "%s: admin: the variable %s (token_env) is not set\n", topo->admin.where.str().c_str(),
                     topo->admin.token_env.c_str());
        return 1;
      }
      admin_options.token = token;
    }
  }
  static RunEnded ended;
  watch_signals(service, ended, topo->shutdown_timeout);
  spdlog::info("running {} ({} components){}", file, topo->nodes.size(),
               watch_flag ? "; --watch: reloading when it or a file it names changes" : "");
  std::unique_ptr<AdminServer> admin;
  if (!admin_settings.address.empty()) {
    try {
      admin = std::make_unique<AdminServer>(service, admin_options);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "socstream: admin endpoint on %s: %s\n", admin_settings.address.c_str(), e.what());
      return 2;
    }
  }
  progress(service, ended, topo->progress_interval);
  RunStats st = service.run();
  // The run is over: the watchdog stands down and the progress thread leaves
  // (it reads the metrics) before the admin's threads and the last generation go.
  ended.set();
  admin.reset();
  service.release();
  std::fflush(stdout);
  if (json_log)
    spdlog::info("{}", st.summary());
  else
    std::fprintf(stderr, "%s\n", st.summary().c_str());
  if (st.failed) return 2;
  if (st.batches_failed) {
    std::string what;
    for (const auto& [source, n] : st.unacknowledged) what += fmt::format("{}{}: {} events", what.empty() ? "" : ", ", source, n);
    spdlog::error("not acknowledged, so to be read again by sources that commit: {}", what.empty() ? "none" : what);
    return 3;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // predict's texts may look like anything, options included: they bypass the option parser.
  if (argc > 1 && std::string_view(argv[1]) == "predict") return predict_main(argc - 1, argv + 1);
  // top and tap are clients of a running instance's admin endpoint: their own
  // options, and Ctrl-C theirs to take (before the stop signals are blocked).
  if (argc > 1 && std::string_view(argv[1]) == "top") return top_main(argc - 1, argv + 1);
  if (argc > 1 && std::string_view(argv[1]) == "tap") return tap_main(argc - 1, argv + 1);
  // Block SIGINT/SIGTERM before anything else: a stop request during start-up
  // must drain like any other, not kill.
  // `run` takes them with sigwait; other commands restore the default below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2")) {
    std::fprintf(stderr, "socstream: this build needs AVX2 (rebuild with -DSOCSTREAM_MARCH=x86-64 for older CPUs)\n");
    return 1;
  }
  po::options_description opts("");
  opts.add_options()("help,h", "show this help")("version", "print the version")(
      "admin", po::value<std::string>(), "serve /health, /ready, /metrics and /api on HOST:PORT (the topology's admin.address)")(
      "watch", "run: reload when the topology file or a rules file, Sigma directory or model directory it names changes")(
      "cases", po::value<std::string>(), "test: the cases file")("junit", po::value<std::string>(),
                                                                   "test: write a JUnit XML report to this file")(
      "log-format", po::value<std::string>()->default_value("text"),
      "text, or json: one JSON object a line (time, level, message) for a log collector")(
      "log-level,l", po::value<std::string>()->default_value("info"),
      "trace, debug, info, warn, error or off (logs go to stderr)");
  po::options_description hidden;
  hidden.add_options()("command", po::value<std::string>())("args", po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("command", 1).add("args", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "socstream: %s\n%s\n", e.what(), kUsage);
    return 64;
  }
  if (vm.count("version")) {
    std::printf("socstream %s\n", SOCSTREAM_VERSION);
    return 0;
  }
  if (vm.count("help") || !vm.count("command")) {
    std::cout << kUsage << opts << "\n";
    return vm.count("help") ? 0 : 64;
  }

  if (vm.count("admin")) admin_flag = vm["admin"].as<std::string>();
  watch_flag = vm.count("watch") > 0;
  const std::string log_format = vm["log-format"].as<std::string>();
  if (log_format != "text" && log_format != "json") {
    std::fprintf(stderr, "socstream: unknown log format '%s' (text or json)\n", log_format.c_str());
    return 64;
  }
  auto logger = log_format == "json" ? spdlog::stderr_logger_mt("socstream") : spdlog::stderr_color_mt("socstream");
  if (log_format == "json") {
    auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    f->add_flag<JsonMessage>('*').set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","message":%*})");
    logger->set_formatter(std::move(f));
    json_log = true;
  }
  spdlog::set_default_logger(logger);
  auto level = spdlog::level::from_str(vm["log-level"].as<std::string>());
  if (level == spdlog::level::off && vm["log-level"].as<std::string>() != "off") {
    std::fprintf(stderr, "socstream: unknown log level '%s'\n", vm["log-level"].as<std::string>().c_str());
    return 64;
  }
  spdlog::set_level(level);

  register_builtins();
  const std::string cmd = vm["command"].as<std::string>();
  if (cmd != "run") pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
  const auto args = vm.count("args") ? vm["args"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (cmd == "test" && vm["log-level"].defaulted()) spdlog::set_level(spdlog::level::warn);  // the report, not the engine's chatter
  if (cmd != "run" && cmd != "validate" && cmd != "test") {
    std::fprintf(stderr, "socstream: unknown command '%s'\n%s\n", cmd.c_str(), kUsage);
    return 64;
  }
  if (args.size() != 1) {
    std::fprintf(stderr, "socstream: %s needs one topology file\n", cmd.c_str());
    return 64;
  }
  if (cmd == "test") {
    if (!vm.count("cases")) {
      std::fprintf(stderr, "socstream: test needs --cases FILE\n");
      return 64;
    }
    return run_test_cases({args[0], vm["cases"].as<std::string>(), vm.count("junit") ? vm["junit"].as<std::string>() : ""});
  }
  return cmd == "run" ? cmd_run(args[0]) : cmd_validate(args[0]);
}
