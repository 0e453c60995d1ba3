// Issue 14: `socstream top` and `socstream tap`, run against a real instance
// (socstream run in the background, a file source following a file that a
// thread keeps writing), read as a user reads them: top's frame on a pipe,
// tap's JSON lines, and the errors of a wrong port, a closed port and a
// missing token.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/test_support.hpp"

extern char** environ;

using namespace socstream::testing;

namespace {

// A port nothing listens on right now: the kernel's pick, let go at once.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    a.sin_port = htons(static_cast<uint16_t>(21000 + ::getpid() % 20000));
  ::close(fd);
  return ntohs(a.sin_port);
}

// Line n of the input: JSON for most, every 10th not JSON (parse's dead letters).
std::string line(int n) {
  if (n % 10 == 9) return fmt::format("not json {}\n", n);
  return fmt::format(R"({{"user":"alice","n":{},"msg":"login {} {}"}})", n, n % 3 == 0 ? "failed" : "ok", n) + "\n";
}

// The instance under test, running while the test talks to it, fed 500 lines a second.
class LiveInstance : public ::testing::Test {
 protected:
  void start(const std::string& admin_extra = "", const std::string& env = "") {
    port_ = free_port();
    dir_.write("in.jsonl", "");
    dir_.write("rules.yaml", "rules:\n  - {id: failed-login, pattern: 'failed', severity: high, description: a failed login}\n");
    auto topo = dir_.write("t.yaml", fmt::format(R"(admin: {{address: "127.0.0.1:{}"{}}}
sources:
  in: {{type: file, path: "{}", follow: true, poll_interval_ms: 20}}
operators:
  parse: {{type: json_parse, inputs: [in], fields: {{user: /user, n: /n, msg: /msg}}}}
  suspect: {{type: regex_prefilter, inputs: [parse], field: msg, rules: rules.yaml}}
sinks:
  hit: {{type: file, inputs: [suspect.match], path: "{}"}}
  miss: {{type: file, inputs: [suspect.nomatch], path: "{}"}}
  dead: {{type: file, inputs: [parse.dlq], path: "{}"}}
)",
                                                 port_, admin_extra, (dir_.path() / "in.jsonl").string(),
                                                 (dir_.path() / "hit.jsonl").string(), (dir_.path() / "miss.jsonl").string(),
                                                 (dir_.path() / "dead.jsonl").string()));
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) envs.emplace_back(*e);
    if (!env.empty()) envs.push_back(env);
    std::vector<char*> cenv;
    for (auto& e : envs) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    std::vector<std::string> argv{SOCSTREAM_BIN, "run", topo.string()};
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    const std::string log = (dir_.path() / "err.log").string();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_EQ(posix_spawn(&pid_, SOCSTREAM_BIN, &fa, nullptr, cargv.data(), cenv.data()), 0);
    posix_spawn_file_actions_destroy(&fa);
    feeder_ = std::thread([this] {
      std::ofstream f(dir_.path() / "in.jsonl", std::ios::app);
      for (int n = 0; !stop_.load(); n += 10) {
        for (int k = n; k < n + 10; ++k) f << line(k);
        f.flush();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
    // Serving once the sinks have written: the endpoint is up and events flow.
    for (int i = 0; i < 200 && read_file(dir_.path() / "miss.jsonl").empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_FALSE(read_file(dir_.path() / "miss.jsonl").empty()) << log_text();
  }
  void TearDown() override {
    stop_.store(true);
    if (feeder_.joinable()) feeder_.join();
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::string admin() const { return fmt::format("--admin 127.0.0.1:{}", port_); }
  std::string log_text() const { return read_file(dir_.path() / "err.log"); }

  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::atomic<bool> stop_{false};
  std::thread feeder_;
};

class Top : public LiveInstance {};
class Tap : public LiveInstance {};

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

std::vector<std::string> columns(const std::string& row) {
  std::vector<std::string> out;
  std::istringstream in(row);
  for (std::string c; in >> c;) out.push_back(c);
  return out;
}

// A rate as top prints it (12.5, 3400, 12.3k, 1.20M).
double rate(const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str()) return -1;
  if (*end == 'k') v *= 1e3;
  if (*end == 'M') v *= 1e6;
  return v;
}

}  // namespace

TEST_F(Top, OnceShowsEveryComponentWithRatesAndFill) {
  start();
  auto r = run_command(fmt::format("{} top --once --interval 1 {}", SOCSTREAM_BIN, admin()));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << log_text();
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "no escapes on a pipe:\n" << r.out;
  const auto lines = split_lines(r.out);
  ASSERT_GE(lines.size(), 8u) << r.out;
  EXPECT_NE(lines[0].find(fmt::format("socstream at 127.0.0.1:{}", port_)), std::string::npos) << r.out;
  EXPECT_NE(lines[0].find("generation 1 (0 reloads)"), std::string::npos) << r.out;
  EXPECT_NE(lines[0].find("  ready"), std::string::npos) << r.out;
  EXPECT_EQ(columns(lines[1]), (std::vector<std::string>{"NAME", "KIND", "TYPE", "IN/S", "OUT/S", "FILL", "DLQ/S", "LAG"}))
      << r.out;
  std::map<std::string, std::vector<std::string>> rows;
  for (size_t i = 2; i < lines.size(); ++i) {
    auto c = columns(lines[i]);
    ASSERT_EQ(c.size(), 8u) << lines[i];
    rows[c[0]] = c;
  }
  for (const char* name : {"in", "parse", "suspect", "hit", "miss", "dead"}) ASSERT_TRUE(rows.count(name)) << name << "\n" << r.out;
  EXPECT_EQ(rows["in"][1], "source");
  EXPECT_EQ(rows["in"][2], "file");
  EXPECT_EQ(rows["parse"][2], "json_parse");
  EXPECT_EQ(rows["suspect"][1], "operator");
  EXPECT_EQ(rows["suspect"][2], "regex_prefilter");
  EXPECT_EQ(rows["hit"][1], "sink");
  // The feeder writes 500 lines a second, one in ten not JSON: rates near that
  // (a loaded machine reads in bursts, hence the wide bounds).
  const double parse_in = rate(rows["parse"][3]), parse_out = rate(rows["parse"][4]), parse_dlq = rate(rows["parse"][6]);
  EXPECT_GT(parse_in, 50) << r.out;
  EXPECT_LT(parse_in, 5000) << r.out;
  EXPECT_GT(parse_out, 0) << r.out;
  EXPECT_GT(parse_dlq, 0) << "one line in ten is not JSON:\n" << r.out;
  EXPECT_LT(parse_dlq, parse_in) << r.out;
  EXPECT_GT(rate(rows["in"][3]), 50) << r.out;
  EXPECT_GT(rate(rows["miss"][3]), 0) << r.out;
  EXPECT_GT(rate(rows["hit"][3]), 0) << "a third of the lines say failed:\n" << r.out;
  // A fill for every component reading a channel, none for the source; no Kafka, no lag.
  EXPECT_EQ(rows["in"][5], "-");
  for (const char* name : {"parse", "suspect", "hit", "miss", "dead"})
    EXPECT_EQ(rows[name][5].back(), '%') << name << "\n" << r.out;
  for (const auto& [name, c] : rows) EXPECT_EQ(c[7], "-") << name;
  EXPECT_EQ(rows["hit"][4], "-") << "a sink sends nothing on";
}

TEST_F(Top, RedrawsUntilInterruptedAndExitsCleanly) {
  start();
  // On a pipe frames follow each other; SIGINT (Ctrl-C) ends top with 0.
  auto r = run_command(fmt::format("timeout --preserve-status -s INT 2.5 {} top --interval 0.5 {}", SOCSTREAM_BIN, admin()));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  size_t frames = 0;
  for (size_t at = r.out.find("socstream at "); at != std::string::npos; at = r.out.find("socstream at ", at + 1)) ++frames;
  EXPECT_GE(frames, 3u) << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
}

TEST_F(Top, NothingListeningExits2) {
  const int port = free_port();
  auto r = run_command(fmt::format("{} top --once --admin 127.0.0.1:{}", SOCSTREAM_BIN, port));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find(fmt::format("socstream top: no socstream admin endpoint at 127.0.0.1:{}: connection refused", port)),
            std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  auto t = run_command(fmt::format("{} tap parse --admin 127.0.0.1:{}", SOCSTREAM_BIN, port));
  EXPECT_EQ(t.exit_code, 2) << t.err;
  EXPECT_NE(t.err.find("connection refused"), std::string::npos) << t.err;
  auto bad = run_command(fmt::format("{} top --admin nowhere", SOCSTREAM_BIN));
  EXPECT_EQ(bad.exit_code, 64) << bad.err;
  EXPECT_NE(bad.err.find("'nowhere' is not HOST:PORT"), std::string::npos) << bad.err;
}

TEST_F(Tap, PrintsLiveEventsAsJsonLines) {
  start();
  auto r = run_command(fmt::format("{} tap parse --limit 3 {}", SOCSTREAM_BIN, admin()));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << log_text();
  const auto lines = split_lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  simdjson::dom::parser p;
  for (const auto& l : lines) {
    simdjson::dom::element e;
    ASSERT_EQ(p.parse(l).get(e), simdjson::SUCCESS) << l;
    EXPECT_EQ(std::string_view(e["component"]), "parse") << l;
    EXPECT_EQ(std::string_view(e["port"]), "default") << l;
    EXPECT_EQ(std::string_view(e["fields"]["user"]), "alice") << l;
    const int64_t n = e["fields"]["n"];
    EXPECT_NE(n % 10, 9) << "a line that is not JSON leaves by parse.dlq: " << l;
    EXPECT_EQ(std::string_view(e["fields"]["msg"]), fmt::format("login {} {}", n % 3 == 0 ? "failed" : "ok", n)) << l;
    EXPECT_EQ(std::string_view(e["raw"]), line(static_cast<int>(n)).substr(0, line(static_cast<int>(n)).size() - 1)) << l;
    EXPECT_EQ(std::string_view(e["source"]["name"]), "in") << l;
  }
}

TEST_F(Tap, WithoutALimitStreamsUntilItsTimeout) {
  start();
  // No --limit: request after request until Ctrl-C, or here --timeout.
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run_command(fmt::format("{} tap parse.dlq --timeout 2.5 {}", SOCSTREAM_BIN, admin()));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_GE(took, 2.4);
  EXPECT_LT(took, 8);
  const auto lines = split_lines(r.out);
  // 50 dead letters a second for 2.5 s, less the gaps between requests.
  EXPECT_GE(lines.size(), 20u) << r.out;
  simdjson::dom::parser p;
  for (const auto& l : lines) {
    simdjson::dom::element e;
    ASSERT_EQ(p.parse(l).get(e), simdjson::SUCCESS) << l;
    EXPECT_EQ(std::string_view(e["port"]), "dlq") << l;
    EXPECT_EQ(std::string_view(e["dead_letter"]["error"]["reason"]), "invalid_json") << l;
    EXPECT_EQ(std::string_view(e["dead_letter"]["raw"]).substr(0, 9), "not json ") << l;
  }
}

TEST_F(Tap, AWrongComponentOrPortNamesThePorts) {
  start();
  auto r = run_command(fmt::format("{} tap parse.nosuch --limit 1 {}", SOCSTREAM_BIN, admin()));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("'parse' has no port 'nosuch'; its ports: parse, parse.dlq"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  auto s = run_command(fmt::format("{} tap suspect.nosuch {}", SOCSTREAM_BIN, admin()));
  EXPECT_EQ(s.exit_code, 1) << s.err;
  EXPECT_NE(s.err.find("its ports: suspect.match, suspect.nomatch, suspect.dlq"), std::string::npos) << s.err;
  auto n = run_command(fmt::format("{} tap nosuch {}", SOCSTREAM_BIN, admin()));
  EXPECT_EQ(n.exit_code, 1) << n.err;
  EXPECT_NE(n.err.find("no component 'nosuch'"), std::string::npos) << n.err;
}

TEST_F(Tap, ATokenIsAskedForAndNeverShown) {
  const std::string token = "t0p-t4p-s3cr3t";
  start(", token_env: TOPTAP_TOKEN", "TOPTAP_TOKEN=" + token);
  auto none = run_command(fmt::format("{} tap parse --limit 1 {}", SOCSTREAM_BIN, admin()));
  EXPECT_EQ(none.exit_code, 1) << none.out << none.err;
  EXPECT_NE(none.err.find("401 Unauthorized: a bearer token is required"), std::string::npos) << none.err;
  EXPECT_NE(none.err.find("--token-env"), std::string::npos) << "it says what to do:\n" << none.err;
  auto wrong = run_command(fmt::format("TOPTAP_TOKEN=nope {} tap parse --limit 1 --token-env TOPTAP_TOKEN {}", SOCSTREAM_BIN, admin()));
  EXPECT_EQ(wrong.exit_code, 1) << wrong.err;
  EXPECT_NE(wrong.err.find("refused"), std::string::npos) << wrong.err;
  auto unset = run_command(fmt::format("{} tap parse --token-env TOPTAP_UNSET_VAR {}", SOCSTREAM_BIN, admin()));
  EXPECT_EQ(unset.exit_code, 64) << unset.err;
  EXPECT_NE(unset.err.find("TOPTAP_UNSET_VAR is not set"), std::string::npos) << unset.err;

  const std::string env = "TOPTAP_TOKEN=" + token;
  auto tap = run_command(fmt::format("{} {} tap parse --limit 2 --token-env TOPTAP_TOKEN {}", env, SOCSTREAM_BIN, admin()));
  EXPECT_EQ(tap.exit_code, 0) << tap.err;
  EXPECT_EQ(split_lines(tap.out).size(), 2u) << tap.out;
  auto top = run_command(fmt::format("{} {} top --once --token-env TOPTAP_TOKEN {}", env, SOCSTREAM_BIN, admin()));
  EXPECT_EQ(top.exit_code, 0) << top.err;
  EXPECT_NE(top.out.find("json_parse"), std::string::npos) << top.out;
  for (const auto* r : {&none, &wrong, &unset, &tap, &top}) {
    EXPECT_EQ(r->out.find(token), std::string::npos);
    EXPECT_EQ(r->err.find(token), std::string::npos);
  }
}

// What the file topology cannot show: a Kafka source's lag and a component
// that is not ready. A stand-in endpoint (python3's http.server) answers
// with what the real one answers for such a topology (the shapes of
// engine/admin.cpp and connectors/kafka_source.cpp's metrics), held still,
// so the lag and the rates are known exactly.
TEST_F(Top, ShowsKafkaLagAndWhatIsNotReady) {
  const int port = free_port();
  dir_.write("status.json",
             R"({"generation":3,"uptime_seconds":3725.5,"components":[)"
             R"({"name":"logs","kind":"source","type":"kafka","received":0,"queued":0,"capacity":8192,"pending":12,"open":true,"ready":false,"sent":{"default":1000,"dlq":0}},)"
             R"({"name":"redis","kind":"sink","type":"redis","received":1000,"queued":4096,"capacity":8192,"pending":0,"open":false,"ready":false,"sent":{}}]})");
  // Counts as they stand; the stand-in adds 100 events per poll to the source's sent.
  dir_.write("stub.py", R"(import http.server, sys, time
polls = {"n": 0}
status = open(sys.argv[2]).read()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        code, body, kind = 200, "", "application/json"
        if self.path == "/api/status":
            body = status
        elif self.path == "/metrics":
            n = 1000 + 100 * polls["n"]; polls["n"] += 1
            kind = "text/plain; version=0.0.4"
            body = ("# TYPE socstream_component_sent_events_total counter\n"
                    'socstream_component_sent_events_total{component_id="logs",component_kind="source",component_type="kafka",output="default"} %d\n'
                    'socstream_component_sent_events_total{component_id="logs",component_kind="source",component_type="kafka",output="dlq"} 0\n'
                    'socstream_component_received_events_total{component_id="redis",component_kind="sink",component_type="redis"} 1000\n'
                    'socstream_kafka_consumer_lag_messages{component_id="logs",component_kind="source",component_type="kafka",topic="logs",partition="0"} 1200\n'
                    'socstream_kafka_consumer_lag_messages{component_id="logs",component_kind="source",component_type="kafka",topic="logs",partition="1"} 34\n'
                    "socstream_reloads_total 2\nsocstream_reloads_failed_total 1\n") % n
        elif self.path == "/ready":
            code, body = 503, '{"ready":false,"not_ready":["logs","redis"],"why":{"logs":"waiting for partitions","redis":"not open"}}'
        else:
            code, body = 404, '{"error":"no such endpoint"}'
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
s = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
s.timeout = 0.1
end = time.time() + 10
while time.time() < end:
    s.handle_request()
)");
  const std::string url = fmt::format("http://127.0.0.1:{}", port);
  auto r = run_command(fmt::format(
      "python3 {} {} {} & stub=$!; for i in $(seq 50); do curl -s -o /dev/null {}/x && break; sleep 0.1; done; "
      "{} top --once --interval 0.5 --admin 127.0.0.1:{}; rc=$?; kill $stub; exit $rc",
      (dir_.path() / "stub.py").string(), port, (dir_.path() / "status.json").string(), url, SOCSTREAM_BIN, port));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("up 1h02m05s  generation 3 (2 reloads, 1 refused)  not ready: logs (waiting for partitions), "
                       "redis (not open)"),
            std::string::npos)
      << r.out;
  const auto lines = split_lines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  const auto logs = columns(lines[2]), redis = columns(lines[3]);
  ASSERT_EQ(logs.size(), 8u) << r.out;
  ASSERT_EQ(redis.size(), 8u) << r.out;
  // 100 events in about half a second, the lag summed over both partitions.
  EXPECT_EQ(logs[0], "logs");
  EXPECT_GT(rate(logs[3]), 100) << r.out;
  EXPECT_LT(rate(logs[3]), 250) << r.out;
  EXPECT_EQ(logs[7], "1234") << r.out;
  EXPECT_EQ(redis[3], "0.0") << r.out;
  EXPECT_EQ(redis[5], "50%") << r.out;
  EXPECT_EQ(redis[7], "-") << r.out;
}
