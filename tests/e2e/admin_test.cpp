// Issue 14: the admin endpoint, read by a real HTTP client (curl) while a
// topology runs: health, readiness, Prometheus metrics against known counts,
// the bearer token, and no endpoint beyond loopback without one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fmt/format.h>

#include "tests/support/test_support.hpp"

using namespace socstream::testing;

namespace {

int free_port() { return 20000 + static_cast<int>(::getpid() % 20000); }

// Runs the topology on three lines (one not JSON) held open for 3 s, and
// meanwhile the curl command line `probe` (after 1.5 s); returns its output.
std::string probe_while_running(const TempDir& dir, const std::string& admin, const std::string& probe,
                                const std::string& env = "") {
  auto f = dir.write("t.yaml", admin + R"(
sources:
  in: {type: stdin}
operators:
  parse: {type: json_parse, inputs: [in], fields: {a: /a}}
sinks:
  out: {type: blackhole, inputs: [parse]}
  dlq: {type: blackhole, inputs: [parse.dlq]}
)");
  auto r = run_command(fmt::format(
      "((printf '{{\"a\":1}}\\n{{\"a\":2}}\\nnot json\\n'; sleep 3) | {} {} run {} >/dev/null 2>{} &) ; sleep 1.5; {}",
      env, SOCSTREAM_BIN, f.string(), (dir.path() / "err.log").string(), probe));
  sleep(2);  // the run ends; the next test may use the port
  return r.out;
}

}  // namespace

TEST(Admin, HealthReadinessAndMetricsWhileRunning) {
  TempDir dir;
  const std::string url = fmt::format("http://127.0.0.1:{}", free_port());
  const std::string out = probe_while_running(
      dir, fmt::format("admin: {{address: \"127.0.0.1:{}\"}}", free_port()),
      fmt::format("curl -s {0}/health; echo; curl -s {0}/ready; echo; curl -s {0}/metrics; curl -s -o /dev/null -w "
                  "'status %{{http_code}}\\n' {0}/nothing",
                  url));
  EXPECT_NE(out.find(R"({"status":"ok"})"), std::string::npos) << out << read_file(dir.path() / "err.log");
  EXPECT_NE(out.find(R"({"ready":true,"not_ready":[],"why":{}})"), std::string::npos) << out;
  // Three lines of 7, 7 and 8 bytes: the figures are known exactly.
  for (const char* line : {
           R"(socstream_component_received_events_total{component_id="parse",component_kind="operator",component_type="json_parse"} 3)",
           R"(socstream_component_received_event_bytes_total{component_id="parse",component_kind="operator",component_type="json_parse"} 22)",
           R"(socstream_component_sent_events_total{component_id="in",component_kind="source",component_type="stdin",output="default"} 3)",
           R"(socstream_component_sent_events_total{component_id="parse",component_kind="operator",component_type="json_parse",output="default"} 2)",
           R"(socstream_component_sent_events_total{component_id="parse",component_kind="operator",component_type="json_parse",output="dlq"} 1)",
           R"(socstream_component_dead_letters_total{component_id="parse",component_kind="operator",component_type="json_parse",reason="invalid_json"} 1)",
           R"(socstream_component_received_events_total{component_id="out",component_kind="sink",component_type="blackhole"} 2)",
           R"(socstream_component_received_events_total{component_id="dlq",component_kind="sink",component_type="blackhole"} 1)",
           R"(socstream_source_unacknowledged_events{component_id="in",component_kind="source",component_type="stdin"} 0)",
           R"(socstream_component_open{component_id="out",component_kind="sink",component_type="blackhole"} 1)",
           R"(socstream_component_received_batch_events_count{component_id="parse",component_kind="operator",component_type="json_parse"} )",
           R"(socstream_reloads_total 0)",
           R"(socstream_topology_generation 1)",
           "# TYPE socstream_component_sent_events_total counter",
           "# TYPE socstream_component_received_batch_events histogram"})
    EXPECT_NE(out.find(line), std::string::npos) << line << "\n" << out;
  EXPECT_NE(out.find("status 404"), std::string::npos) << out;
}

TEST(Admin, ATokenIsRequiredWhenOneIsSet) {
  TempDir dir;
  const std::string url = fmt::format("http://127.0.0.1:{}/metrics", free_port());
  const std::string out = probe_while_running(
      dir, fmt::format("admin: {{address: \"127.0.0.1:{}\", token_env: ADMIN_TOKEN_T}}", free_port()),
      fmt::format("curl -s -o /dev/null -w 'none %{{http_code}}\\n' {0}; "
                  "curl -s -o /dev/null -w 'wrong %{{http_code}}\\n' -H 'Authorization: Bearer nope' {0}; "
                  "curl -s -o /dev/null -w 'right %{{http_code}}\\n' -H 'Authorization: Bearer t0k-3n-55' {0}",
                  url),
      "ADMIN_TOKEN_T=t0k-3n-55");
  EXPECT_NE(out.find("none 401"), std::string::npos) << out << read_file(dir.path() / "err.log");
  EXPECT_NE(out.find("wrong 401"), std::string::npos) << out;
  EXPECT_NE(out.find("right 200"), std::string::npos) << out;
  EXPECT_EQ(read_file(dir.path() / "err.log").find("t0k-3n-55"), std::string::npos) << "the token is never logged";
}

TEST(Admin, BeyondLoopbackOnlyWithAToken) {
  TempDir dir;
  auto f = dir.write("t.yaml", R"(admin: {address: "0.0.0.0:9598"}
sources:
  in: {type: stdin}
sinks:
  out: {type: blackhole, inputs: [in]}
)");
  auto r = run_socstream("validate " + f.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("t.yaml:1:8: error: admin: an endpoint beyond loopback (0.0.0.0) needs token_env"),
            std::string::npos) << r.err;
  auto flag = run_socstream("--admin 0.0.0.0:9598 run " + f.string());
  EXPECT_NE(flag.exit_code, 0);
}
