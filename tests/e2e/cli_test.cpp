#include <fcntl.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/test_support.hpp"

using namespace socstream::testing;

namespace {
// Starts `socstream run FILE` in the background; returns its pid.
pid_t spawn_run(const std::filesystem::path& topology) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 2);
    ::execl(SOCSTREAM_BIN, "socstream", "run", topology.c_str(), nullptr);
    ::_exit(127);
  }
  return pid;
}
bool wait_for_lines(const std::filesystem::path& p, size_t n) {
  for (int i = 0; i < 250; ++i) {
    std::string s = read_file(p);
    if (static_cast<size_t>(std::count(s.begin(), s.end(), '\n')) >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}
}  // namespace

TEST(Cli, VersionAndHelp) {
  auto v = run_socstream("--version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out.rfind("socstream ", 0), 0u) << v.out;
  auto h = run_socstream("--help");
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("validate FILE"), std::string::npos);
  EXPECT_NE(run_socstream("frobnicate x").exit_code, 0);
  EXPECT_NE(run_socstream("run").exit_code, 0);
}

TEST(Cli, ValidateListsEveryErrorAndFails) {
  TempDir dir;
  auto f = dir.write("bad.yaml", R"(sources:
  in: {type: stdin, batch_size: many}
operators:
  p: {type: json_parse, inputs: [nowhere]}
sinks:
  out: {type: stdot, inputs: [p]}
)");
  auto r = run_socstream("validate " + f.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(f.string() + ":2:33: error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(f.string() + ":4:34: error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(f.string() + ":6:15: error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3 error(s)"), std::string::npos) << r.err;
  auto ok = run_socstream("validate " + (source_dir() / "config/default.yaml").string());
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  // run refuses a bad file too, before starting anything.
  EXPECT_EQ(run_socstream("run " + f.string()).exit_code, 1);
}

TEST(Cli, FieldWarningsAreShownAndDoNotStopARun) {
  TempDir dir;
  auto f = dir.write("typo.yaml", R"(sources:
  in: {type: stdin}
operators:
  p: {type: json_parse, inputs: [in], fields: {url.query: /q}}
  a: {type: alert, inputs: [p], fields: [url.qeury]}
sinks:
  out: {type: stdout, inputs: [a]}
)");
  auto v = run_socstream("validate " + f.string());
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_NE(v.err.find(f.string() + ":5:42: warning: 'a': no component upstream gives events the field 'url.qeury'"),
            std::string::npos) << v.err;
  EXPECT_NE(v.err.find("1 warning(s)"), std::string::npos) << v.err;
  auto r = run_command("printf '%s\\n' '{\"q\":\"x=1\"}' | " + std::string(SOCSTREAM_BIN) + " run " + f.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: 'a': no component upstream gives events the field 'url.qeury'"), std::string::npos)
      << r.err;
  // What the warning is for: the run goes on, and the alert lacks the query the typo meant.
  EXPECT_NE(r.out.find("\"kind\":\"alert\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("x=1"), std::string::npos) << r.out;
}

// The bundled topologies are what users copy: each must validate without a warning.
TEST(Cli, BundledTopologiesValidateWithoutWarnings) {
  size_t checked = 0;
  for (const auto& e : std::filesystem::directory_iterator(source_dir() / "config")) {
    if (e.path().extension() != ".yaml") continue;
    auto r = run_socstream("validate " + e.path().string());
    EXPECT_EQ(r.exit_code, 0) << e.path() << "\n" << r.err;
    EXPECT_EQ(r.err.find("warning"), std::string::npos) << e.path() << "\n" << r.err;
    ++checked;
  }
  EXPECT_GE(checked, 7u);
}

TEST(Cli, StdinToStdout) {
  TempDir dir;
  dir.write("in.jsonl", "{\"a\":1}\n{\"a\":2}\nbroken\n{\"a\":3}");
  auto f = dir.write("t.yaml", R"(sources:
  in: {type: stdin}
operators:
  p: {type: json_parse, inputs: [in], fields: {a: /a}}
sinks:
  out: {type: stdout, inputs: [p]}
)");
  auto r = run_command("cat " + (dir.path() / "in.jsonl").string() + " | " + std::string(SOCSTREAM_BIN) + " run " + f.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
  EXPECT_NE(r.err.find("1 dead-lettered"), std::string::npos) << r.err;
}

TEST(Cli, SigtermDrainsAndExitsCleanly) {
  TempDir dir;
  dir.write("in.jsonl", "{\"a\":1}\n");
  auto f = dir.write("t.yaml", R"(sources:
  in: {type: file, path: in.jsonl, follow: true, poll_interval_ms: 20}
sinks:
  out: {type: file, inputs: [in], path: out.jsonl}
)");
  pid_t pid = spawn_run(f);
  // Append while it follows the file, then stop it.
  ASSERT_TRUE(wait_for_lines(dir.path() / "out.jsonl", 1));
  { std::ofstream(dir.path() / "in.jsonl", std::ios::app) << "{\"a\":2}\n"; }
  ASSERT_TRUE(wait_for_lines(dir.path() / "out.jsonl", 2));
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(read_file(dir.path() / "out.jsonl"), "{\"a\":1}\n{\"a\":2}\n");
}

TEST(Cli, FatalRuntimeErrorExitsNonZero) {
  TempDir dir;
  auto f = dir.write("t.yaml", R"(sources:
  in: {type: file, path: does-not-exist.jsonl}
sinks:
  out: {type: stdout, inputs: [in]}
)");
  auto r = run_socstream("run " + f.string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stopped on error"), std::string::npos) << r.err;
}

// Issue 14: a broker address nothing answers at is a configuration error at
// start (exit 2, naming the component and the address), not an endless wait.
TEST(Cli, AnUnreachableBrokerFailsAtStart) {
  TempDir dir;
  for (const char* topology : {R"(sources:
  in: {type: kafka, brokers: "127.0.0.1:1", topics: [t], group: g, connect_timeout_ms: 1000}
sinks:
  out: {type: stdout, inputs: [in]}
)", R"(sources:
  in: {type: stdin}
sinks:
  out: {type: kafka, inputs: [in], brokers: "127.0.0.1:1", topic: t, connect_timeout_ms: 1000}
)"}) {
    auto f = dir.write("t.yaml", topology);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = run_socstream("run " + f.string() + " < /dev/null");
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
    EXPECT_NE(r.err.find("no Kafka broker answered at 127.0.0.1:1 within connect_timeout_ms (1000 ms)"),
              std::string::npos) << r.err;
    EXPECT_TRUE(r.err.find("source 'in' failed") != std::string::npos || r.err.find("sink 'out' failed") != std::string::npos)
        << r.err;
  }
}

// Issue 14: a running topology says, now and then, that it is alive and how fast it goes.
TEST(Cli, ARunLogsItsProgress) {
  TempDir dir;
  auto f = dir.write("t.yaml", R"(progress_interval_s: 1
sources:
  in: {type: stdin}
sinks:
  out: {type: stdout, inputs: [in]}
)");
  auto r = run_command("(echo '{\"a\":1}'; sleep 2.5) | " + std::string(SOCSTREAM_BIN) + " run " + f.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("progress: 1 events read"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 delivered"), std::string::npos) << r.err;
  auto bad = dir.write("bad.yaml", "progress_interval_s: soon\nsources:\n  in: {type: stdin}\nsinks:\n  out: {type: stdout, inputs: [in]}\n");
  auto v = run_socstream("validate " + bad.string());
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.err.find("bad.yaml:1:22: error: progress_interval_s: expected seconds from 0 to 86400"), std::string::npos) << v.err;
}

// Issue 14: --log-format json writes one JSON object a line, whatever the message holds.
TEST(Cli, JsonLogsAreOneObjectALine) {
  TempDir dir;
  auto f = dir.write("t.yaml", R"(sources:
  in: {type: stdin}
operators:
  parse: {type: json_parse, inputs: [in], fields: {a: /a}}
sinks:
  out: {type: stdout, inputs: [parse]}
  dlq: {type: stdout, inputs: [parse.dlq]}
)");
  auto r = run_command("printf '{\"a\":1}\\n\"quoted\\\\ \\n' | " + std::string(SOCSTREAM_BIN) +
                       " --log-format json run " + f.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser p;
  size_t lines = 0;
  std::stringstream in(r.err);
  for (std::string l; std::getline(in, l); ++lines) {
    simdjson::dom::element o;
    ASSERT_EQ(p.parse(l).get(o), simdjson::SUCCESS) << l;
    EXPECT_FALSE(std::string_view(o["time"]).empty());
    EXPECT_FALSE(std::string_view(o["level"]).empty());
    EXPECT_FALSE(std::string_view(o["message"]).empty());
  }
  EXPECT_GE(lines, 2u) << "'running' and the summary at least";
  EXPECT_NE(r.err.find("events read"), std::string::npos) << r.err;
  EXPECT_EQ(run_socstream("--log-format xml run " + f.string()).exit_code, 64);
}

// librdkafka's lines name the component they concern, and repeats are held back.
TEST(Cli, KafkaLogLinesNameTheirComponent) {
  TempDir dir;
  auto f = dir.write("t.yaml", R"(sources:
  from_kafka: {type: kafka, brokers: "127.0.0.1:1", topics: [t], group: g, connect_timeout_ms: 2500}
sinks:
  out: {type: stdout, inputs: [from_kafka]}
)");
  auto r = run_socstream("run " + f.string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("kafka 'from_kafka': FAIL"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("rdkafka#"), std::string::npos) << "no raw librdkafka lines: " << r.err;
}

TEST(Cli, PlainLinesCarryTheMessageField) {
  TempDir dir;
  dir.write("rules.yaml", "rules:\n  - {id: failed-login, pattern: 'Failed password for', severity: medium}\n");
  dir.write("auth.log", "sshd[1]: Accepted password for bob\nsshd[2]: Failed password for root from 10.0.0.9\n");
  auto f = dir.write("t.yaml", R"(sources:
  in: {type: file, path: auth.log, format: lines}
operators:
  match: {type: regex_prefilter, inputs: [in], field: message, rules: rules.yaml}
  alerts: {type: alert, inputs: [match.match], fields: [message]}
sinks:
  out: {type: stdout, inputs: [alerts]}
)");
  auto r = run_socstream("run " + f.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"message\":\"sshd[2]: Failed password for root from 10.0.0.9\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("bob"), std::string::npos) << r.out;
}


TEST(Cli, FollowSurvivesRotationAndTruncation) {
  TempDir dir;
  const auto log = dir.path() / "app.log";
  dir.write("app.log", "{\"n\":1}\n");
  auto f = dir.write("t.yaml", R"(sources:
  in: {type: file, path: app.log, follow: true, poll_interval_ms: 20}
sinks:
  out: {type: file, inputs: [in], path: out.jsonl}
)");
  pid_t pid = spawn_run(f);
  const auto out = dir.path() / "out.jsonl";
  ASSERT_TRUE(wait_for_lines(out, 1));
  // Rotation: a last line lands in the old file, it is renamed, a new file appears.
  { std::ofstream(log, std::ios::app) << "{\"n\":2}\n"; }
  std::filesystem::rename(log, dir.path() / "app.log.1");
  { std::ofstream(log) << "{\"n\":3}\n"; }
  ASSERT_TRUE(wait_for_lines(out, 3)) << read_file(out);
  // Truncation in place (copytruncate), then new content.
  { std::ofstream(log, std::ios::trunc); }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  { std::ofstream(log, std::ios::app) << "{\"n\":4}\n"; }
  ASSERT_TRUE(wait_for_lines(out, 4)) << read_file(out);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(read_file(out), "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n");
}

// copytruncate while a line is half written: its first part was in the file,
// so it goes on as a line, and does not vanish with the old content.
TEST(Cli, ATruncationKeepsAHalfWrittenLine) {
  TempDir dir;
  const auto log = dir.path() / "app.log";
  dir.write("app.log", "{\"n\":1}\n{\"n\":2,\"half");
  auto f = dir.write("t.yaml", R"(sources:
  in: {type: file, path: app.log, follow: true, poll_interval_ms: 20}
sinks:
  out: {type: file, inputs: [in], path: out.jsonl}
  dlq: {type: file, inputs: [in.dlq], path: dlq.jsonl}
)");
  pid_t pid = spawn_run(f);
  const auto out = dir.path() / "out.jsonl";
  ASSERT_TRUE(wait_for_lines(out, 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the half line has been read
  { std::ofstream(log, std::ios::trunc); }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  { std::ofstream(log, std::ios::app) << "{\"n\":3}\n"; }
  ASSERT_TRUE(wait_for_lines(out, 3)) << read_file(out);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(read_file(out), "{\"n\":1}\n{\"n\":2,\"half\n{\"n\":3}\n");
}

TEST(Cli, PredictPrintsLabelAndScores) {
  const std::string model = (source_dir() / "models/web-attack-classifier").string();
  auto r = run_socstream("predict --model " + model + " \"1' or '1'='1\" madrid predict");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::stringstream ss(r.out);
  std::string first, second;
  std::getline(ss, first);
  std::getline(ss, second);
  EXPECT_EQ(first.rfind("sqli ", 0), 0u) << first;
  EXPECT_NE(first.find("norm="), std::string::npos);
  EXPECT_EQ(second.rfind("norm ", 0), 0u) << second;
  std::string third;
  std::getline(ss, third);
  EXPECT_NE(third.find("\tpredict"), std::string::npos) << "a text that reads 'predict' is a text like any other";
  auto piped = run_command("printf '<script>alert(1)</script>\\n' | " + std::string(SOCSTREAM_BIN) + " predict --model " + model);
  EXPECT_EQ(piped.out.rfind("xss ", 0), 0u) << piped.out << piped.err;
  auto bad = run_socstream("predict --model /nonexistent");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("no model.yaml"), std::string::npos) << bad.err;
}

// --precision serves model.yaml's int8 weights; their forward passes write
// nothing to stderr (torch 1.13's int8 Linear warned once per pass on qnnpack),
// and a precision the model lacks is refused, naming what it offers.
TEST(Cli, PredictServesTheInt8Weights) {
  const std::string model = (source_dir() / "models/web-attack-classifier").string();
  auto r = run_command("printf '1 union select 1,2\\n<script>alert(1)</script>\\nmadrid\\n' | " + std::string(SOCSTREAM_BIN) +
                       " predict --precision int8 --model " + model);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::stringstream ss(r.out);
  std::vector<std::string> lines;
  for (std::string l; std::getline(ss, l);) lines.push_back(l.substr(0, l.find(' ')));
  EXPECT_EQ(lines, (std::vector<std::string>{"sqli", "xss", "norm"})) << r.out;
  EXPECT_EQ(r.err, "");
  TempDir dir;
  for (const char* f : {"model.pt", "vocab.txt"}) std::filesystem::copy_file(source_dir() / "models/web-attack-classifier" / f, dir.path() / f);
  std::string y = read_file(source_dir() / "models/web-attack-classifier/model.yaml");
  dir.write("model.yaml", y.substr(0, y.find("\nvariants:")) + "\n");
  auto none = run_socstream("predict --precision int8 --model " + dir.path().string() + " madrid");
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("offers no int8 weights (precisions: float32)"), std::string::npos) << none.err;
}

TEST(Cli, StartsWithoutLoadingLibtorch) {
  // A stop signal must find the signal mask in place; libtorch's start-up would delay that by a second.
  auto r = run_command("ldd " + std::string(SOCSTREAM_BIN));
  EXPECT_EQ(r.out.find("libtorch"), std::string::npos) << "socstream links libtorch";
}

TEST(Cli, StdinRunsGiveTheirAlertsOwnIds) {
  // Each run reads another stream from offset 0: the same line alerts under a
  // new id, so an idempotent sink does not take it for the earlier run's alert.
  TempDir dir;
  auto topo = dir.write("t.yaml", "sources:\n  in: {type: stdin}\noperators:\n"
                                  "  parse: {type: json_parse, inputs: [in], fields: {query: /q}}\n"
                                  "  rules: {type: regex_prefilter, inputs: [parse], field: query, rules: '" +
                                      (source_dir() / "config/rules/web.yaml").string() +
                                      "'}\n  alerts: {type: alert, inputs: [rules.match]}\nsinks:\n  out: {type: stdout, inputs: [alerts]}\n");
  auto input = dir.write("in.jsonl", "{\"q\":\"<script>alert(1)</script>\"}\n");
  auto one = run_command(std::string(SOCSTREAM_BIN) + " run " + topo.string() + " < " + input.string());
  auto two = run_command(std::string(SOCSTREAM_BIN) + " run " + topo.string() + " < " + input.string());
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(two.exit_code, 0) << two.err;
  auto id = [](const std::string& out) { return out.substr(out.find("\"id\":\"") + 6, 32); };
  ASSERT_NE(one.out.find("\"id\":\""), std::string::npos) << one.out;
  EXPECT_NE(id(one.out), id(two.out));
}

// The file sink as root might run it beside a world-writable directory: it
// follows no symlink, writes only regular files (and /dev/null), and creates
// what it writes 0600.
TEST(Cli, FileSinkFollowsNoSymlinkAndCreatesPrivateFiles) {
  TempDir dir;
  const auto victim = dir.write("victim", "precious\n");
  std::filesystem::create_symlink(victim, dir.path() / "planted");
  ::mkfifo((dir.path() / "fifo").c_str(), 0600);
  auto topo = [&](const std::string& path) {
    return dir.write("t.yaml", "sources:\n  in: {type: stdin}\nsinks:\n  out: {type: file, inputs: [in], path: \"" + path + "\"}\n");
  };
  auto run = [&](const std::string& path) {
    return run_command("printf '{\"a\":1}\\n' | " + std::string(SOCSTREAM_BIN) + " run " + topo(path).string());
  };
  auto planted = run((dir.path() / "planted").string());
  EXPECT_NE(planted.exit_code, 0);
  EXPECT_NE(planted.err.find("symbolic link"), std::string::npos) << planted.err;
  EXPECT_EQ(read_file(victim), "precious\n") << "the symlink's target is untouched";
  auto fifo = run((dir.path() / "fifo").string());
  EXPECT_NE(fifo.exit_code, 0);
  EXPECT_NE(fifo.err.find("not a regular file"), std::string::npos) << fifo.err;
  auto fresh = run((dir.path() / "new" / "dlq.jsonl").string());
  EXPECT_EQ(fresh.exit_code, 0) << fresh.err;
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "new" / "dlq.jsonl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir.path() / "new").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(read_file(dir.path() / "new" / "dlq.jsonl"), "{\"a\":1}\n");
  EXPECT_EQ(run("/dev/null").exit_code, 0);
  // A hard link to a file elsewhere is as good as a planted symlink.
  std::filesystem::create_hard_link(victim, dir.path() / "linked");
  auto linked = run((dir.path() / "linked").string());
  EXPECT_NE(linked.exit_code, 0);
  EXPECT_NE(linked.err.find("other hard links"), std::string::npos) << linked.err;
  EXPECT_EQ(read_file(victim), "precious\n");
}
