// Issue 14: hot reload through the binary. SIGHUP, POST /api/reload and
// --watch take one path; a valid new topology replaces the running one after
// a drain, with no line lost or doubled (a half-written line included); an
// invalid one is refused at file:line:col and the old one goes on.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "tests/support/test_support.hpp"

extern char** environ;

using namespace socstream::testing;

namespace {

// socstream run in the background, its stderr in a file, for signals and waits.
class Running {
 public:
  Running(const std::filesystem::path& log, const std::vector<std::string>& args) : log_(log) {
    std::vector<std::string> argv{SOCSTREAM_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (posix_spawn(&pid_, SOCSTREAM_BIN, &fa, nullptr, cargv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Running() {
    if (pid_ > 0 && !waited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  void signal(int sig) const { ::kill(pid_, sig); }
  std::string log() const { return read_file(log_); }
  // Until the log holds `text` `times` times, or `seconds` pass.
  bool wait_log(const std::string& text, int times = 1, int seconds = 30) const {
    return wait_for([&] {
      const std::string l = log();
      int n = 0;
      for (size_t at = l.find(text); at != std::string::npos; at = l.find(text, at + 1)) ++n;
      return n >= times;
    }, seconds);
  }
  int wait_exit(int seconds = 30) {
    for (int i = 0; i < seconds * 20; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        waited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }
  static bool wait_for(const std::function<bool()>& ok, int seconds) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return ok();
  }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  bool waited_ = false;
};

size_t lines_in(const std::filesystem::path& p) {
  const std::string s = read_file(p);
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

void append(const std::filesystem::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::app);
  f << text;
}

// Lines n in [from, to): {"n":N,"msg":"alpha N"} for even N, "beta N" for odd.
std::string numbered(int from, int to) {
  std::string out;
  for (int n = from; n < to; ++n) out += fmt::format(R"({{"n":{},"msg":"{} {}"}})", n, n % 2 ? "beta" : "alpha", n) + "\n";
  return out;
}

const char* kRules = R"(rules:
  - {id: word, pattern: '%s', severity: high, description: the word of the day}
)";

std::string rules(const std::string& word) {
  std::string r = kRules;
  r.replace(r.find("%s"), 2, word);
  return r;
}

std::string topology(const TempDir& dir, const std::string& extra = "") {
  return fmt::format(R"({}
sources:
  in: {{type: file, path: "{}", follow: true, poll_interval_ms: 20}}
operators:
  parse: {{type: json_parse, inputs: [in], fields: {{n: /n, msg: /msg}}}}
  rules: {{type: regex_prefilter, inputs: [parse], field: msg, rules: rules.yaml}}
sinks:
  hit: {{type: file, inputs: [rules.match], path: "{}"}}
  miss: {{type: file, inputs: [rules.nomatch], path: "{}"}}
)",
                     extra, (dir.path() / "in.jsonl").string(), (dir.path() / "hit.jsonl").string(),
                     (dir.path() / "miss.jsonl").string());
}

// Every output line's n, with how often it came out and where.
std::map<int, std::vector<std::string>> outputs(const TempDir& dir) {
  std::map<int, std::vector<std::string>> seen;
  for (const char* f : {"hit.jsonl", "miss.jsonl"}) {
    std::istringstream in(read_file(dir.path() / f));
    for (std::string line; std::getline(in, line);) {
      const size_t at = line.find("\"n\":");
      if (at == std::string::npos) continue;
      seen[std::stoi(line.substr(at + 4))].push_back(std::string(f) + " " + line);
    }
  }
  return seen;
}

}  // namespace

TEST(Reload, SighupSwapsTheRulesAndLosesOrDoublesNoLine) {
  TempDir dir;
  dir.write("in.jsonl", "");
  dir.write("rules.yaml", rules("alpha"));
  auto topo = dir.write("t.yaml", topology(dir));
  Running run(dir.path() / "err.log", {"run", topo.string()});
  auto total = [&] { return lines_in(dir.path() / "hit.jsonl") + lines_in(dir.path() / "miss.jsonl"); };

  append(dir.path() / "in.jsonl", numbered(0, 1000));
  ASSERT_TRUE(Running::wait_for([&] { return total() == 1000; }, 30)) << total() << "\n" << run.log();
  // Half a line is in the file when the reload comes: it must come out once, whole.
  append(dir.path() / "in.jsonl", R"({"n":1000,"msg":"alpha )");
  dir.write("rules.yaml", rules("beta"));
  run.signal(SIGHUP);
  ASSERT_TRUE(run.wait_log("generation 2 running")) << run.log();
  append(dir.path() / "in.jsonl", "and beta\"}\n" + numbered(1001, 2000));
  ASSERT_TRUE(Running::wait_for([&] { return total() == 2000; }, 30)) << total() << "\n" << run.log();

  // An invalid rules file: refused where it is wrong, and the running rules go on.
  dir.write("rules.yaml", "rules:\n  - {id: broken, pattern: '(unclosed'}\n");
  run.signal(SIGHUP);
  ASSERT_TRUE(run.wait_log("refused")) << run.log();
  EXPECT_NE(run.log().find("rules.yaml:2:"), std::string::npos) << "the error names the file and line:\n" << run.log();
  EXPECT_NE(run.log().find("generation 2 goes on unchanged"), std::string::npos) << run.log();
  append(dir.path() / "in.jsonl", numbered(2000, 3000));
  ASSERT_TRUE(Running::wait_for([&] { return total() == 3000; }, 30)) << total() << "\n" << run.log();

  run.signal(SIGTERM);
  EXPECT_EQ(run.wait_exit(), 0) << run.log();

  const auto seen = outputs(dir);
  ASSERT_EQ(seen.size(), 3000u) << run.log();
  for (const auto& [n, where] : seen) {
    ASSERT_EQ(where.size(), 1u) << "line " << n << " came out " << where.size() << " times";
    const bool hit = where.front().rfind("hit.jsonl", 0) == 0;
    // Before the reload the word was alpha (even lines); after it, beta (odd
    // lines, and line 1000, which says both); the refused reload changed nothing.
    const bool expect_hit = n < 1000 ? n % 2 == 0 : (n == 1000 || n % 2 == 1);
    EXPECT_EQ(hit, expect_hit) << "line " << n << ": " << where.front();
  }
  EXPECT_NE(seen.at(1000).front().find(R"("msg":"alpha and beta")"), std::string::npos) << seen.at(1000).front();
}

TEST(Reload, TheApiReloadsAndTheCountsGoOn) {
  TempDir dir;
  dir.write("in.jsonl", "");
  dir.write("rules.yaml", rules("alpha"));
  const int port = 20000 + static_cast<int>((::getpid() + 7) % 20000);
  const std::string url = fmt::format("http://127.0.0.1:{}", port);
  auto topo = dir.write("t.yaml", topology(dir, fmt::format("admin: {{address: \"127.0.0.1:{}\"}}", port)));
  Running run(dir.path() / "err.log", {"run", topo.string()});
  append(dir.path() / "in.jsonl", numbered(0, 100));
  ASSERT_TRUE(Running::wait_for([&] { return lines_in(dir.path() / "hit.jsonl") == 50; }, 30)) << run.log();

  auto reload = run_command(fmt::format("curl -s -w ' %{{http_code}}' -X POST {}/api/reload", url));
  EXPECT_NE(reload.out.find(R"("ok":true,"generation":2)"), std::string::npos) << reload.out << run.log();
  EXPECT_NE(reload.out.find(" 200"), std::string::npos) << reload.out;
  EXPECT_NE(reload.out.find("0 changed, 0 added, 0 removed, 5 unchanged"), std::string::npos) << reload.out;
  append(dir.path() / "in.jsonl", numbered(100, 200));
  ASSERT_TRUE(Running::wait_for([&] { return lines_in(dir.path() / "hit.jsonl") == 100; }, 30)) << run.log();

  // A topology that does not load: 422, every error at its place, the old one still serving.
  const std::string good = read_file(topo);
  dir.write("t.yaml", good + "  extra: {type: file, inputs: [nowhere], path: x}\n");
  auto refused = run_command(fmt::format("curl -s -w ' %{{http_code}}' -X POST {}/api/reload", url));
  EXPECT_NE(refused.out.find(R"("ok":false,"generation":2)"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("t.yaml:10:32: error"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("names no component"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find(" 422"), std::string::npos) << refused.out;

  const auto metrics = run_command(fmt::format("curl -s {}/metrics", url)).out;
  for (const char* line : {
           "socstream_reloads_total 1\n", "socstream_reloads_failed_total 1\n", "socstream_topology_generation 2\n",
           "socstream_config_last_reload_successful 0\n",
           // 200 lines over two generations: the counter carries over instead of starting again.
           R"(socstream_component_received_events_total{component_id="parse",component_kind="operator",component_type="json_parse"} 200)"})
    EXPECT_NE(metrics.find(line), std::string::npos) << line << "\n" << metrics;
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait_exit(), 0) << run.log();
}

TEST(Reload, WatchReloadsWhenARulesFileChanges) {
  TempDir dir;
  dir.write("in.jsonl", "");
  dir.write("rules.yaml", rules("alpha"));
  auto topo = dir.write("t.yaml", topology(dir));
  Running run(dir.path() / "err.log", {"run", "--watch", topo.string()});
  append(dir.path() / "in.jsonl", numbered(0, 10));
  ASSERT_TRUE(Running::wait_for([&] { return lines_in(dir.path() / "hit.jsonl") == 5; }, 30))
      << run.log() << read_file(topo) << "in:\n" << read_file(dir.path() / "in.jsonl") << "hit:\n" << read_file(dir.path() / "hit.jsonl");
  dir.write("rules.yaml", rules("beta"));
  ASSERT_TRUE(run.wait_log("generation 2 running")) << run.log();
  EXPECT_NE(run.log().find("1 changed (rules)"), std::string::npos) << "only the rules operator changed:\n" << run.log();
  append(dir.path() / "in.jsonl", numbered(10, 20));
  ASSERT_TRUE(Running::wait_for([&] { return lines_in(dir.path() / "hit.jsonl") == 10; }, 30)) << run.log();
  const auto seen = outputs(dir);
  for (int n = 10; n < 20; ++n)
    EXPECT_EQ(seen.at(n).front().rfind("hit.jsonl", 0) == 0, n % 2 == 1) << seen.at(n).front();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait_exit(), 0) << run.log();
}
