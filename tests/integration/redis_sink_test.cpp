// The idempotent Redis sink against a real redis-server made to refuse writes:
// a write that fails leaves no dedupe marker (so a replay writes it), a
// permanent refusal dead-letters only the refused alerts, and a transient one
// (OOM under maxmemory) holds the batch until Redis takes it. Some tests run
// the sink in this process, so that a hook between a chunk's look-up and its
// transaction can play a second writer or break the target at that moment.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "connectors/connectors.hpp"
#include "tests/integration/cluster.hpp"
#include "tests/support/test_support.hpp"

using namespace socstream::it;
using socstream::testing::read_file;
using socstream::testing::TempDir;

namespace {


// Five events, one alert each (no rule: the detector is the rule), into an idempotent stream.
std::filesystem::path topology(const TempDir& dir, const std::string& stream, const std::string& extra = "") {
  std::string events;
  for (int i = 0; i < 5; ++i) events += "{\"n\":" + std::to_string(i) + "}\n";
  dir.write("in.jsonl", events);
  return dir.write("t.yaml", extra + R"(sources:
  in: {type: file, path: in.jsonl}
operators:
  parse: {type: json_parse, inputs: [in], fields: all}
  alerts: {type: alert, inputs: [parse], detector: probe}
sinks:
  redis: {type: redis, inputs: [alerts], port: "${REDIS_PORT}", key: ")" + stream + R"(", idempotent: true,
          backoff_initial_ms: 50, backoff_max_ms: 200, password_env: "${PASSWORD_VAR:-}"}
  failed: {type: file, inputs: [redis.dlq], path: failed.jsonl}
)");
}

// The ids remembered: fields of the sink's time-bucket hashes.
size_t markers(const std::string& stream) {
  const std::string keys = redis_cli("--scan --pattern 'socstream:seen:" + stream + ":*'");
  size_t n = 0;
  std::stringstream in(keys);
  for (std::string k; std::getline(in, k);)
    if (!k.empty()) n += std::stoul(redis_cli("HLEN " + k));
  return n;
}

// The bucket the sink writes today's ids to, with the default week-long TTL (one-day buckets).
std::string today_bucket(const std::string& stream) {
  const int64_t day = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count() / 86400;
  return fmt::format("socstream:seen:{}:b:{}", stream, day);
}

// Events 0..n-1 with ids "<stream>-id-i" and payloads "payload-i".
socstream::Batch alerts(const std::string& stream, int n) {
  socstream::Batch b;
  auto store = std::make_shared<std::deque<std::string>>();
  static const std::string id_name = "alert_id";
  for (int i = 0; i < n; ++i) {
    socstream::Event e;
    e.raw = store->emplace_back(fmt::format("payload-{}", i));
    e.fields.push_back(socstream::Field{id_name, store->emplace_back(fmt::format("{}-id-{}", stream, i))});
    b.events.push_back(std::move(e));
  }
  b.hold(store);
  return b;
}

// The redis sink in this process: one batch through it, the dead letters' errors back.
std::vector<std::string> sink_once(const std::string& settings, socstream::Batch batch,
                                   std::function<void(uint64_t)> before_transaction = {}) {
  socstream::Diagnostics diag;
  socstream::Settings s(YAML::Load(settings), "redis", "inline.yaml", ".", &diag);
  auto sink = socstream::make_redis_sink(s, std::move(before_transaction));
  EXPECT_TRUE(diag.ok()) << diag.str();
  static const std::string name = "redis";
  socstream::Outputs out(&name, sink->output_ports());
  socstream::Channel dlq(1 << 20, 1 << 30);
  out.connect(0, &dlq);
  sink->open();
  sink->process(std::move(batch), out);
  std::vector<socstream::Batch> kept;
  std::vector<std::string> errors;
  for (const auto& e : socstream::testing::drain(dlq, kept)) errors.push_back(std::string(e.error_detail));
  return errors;
}

// How often each payload is in the stream.
std::map<std::string, int> payloads(const std::string& stream) {
  std::map<std::string, int> n;
  for (const auto& a : redis_stream_alerts(stream)) ++n[a];
  return n;
}

class RedisSink : public ServerTest {
 protected:
  void TearDown() override {
    redis_cli("CONFIG SET maxmemory 0");
    ServerTest::TearDown();
  }
};

}  // namespace

TEST_F(RedisSink, AWriteRedisRefusesLeavesNoMarkerAndAReplayWritesIt) {
  TempDir dir;
  const std::string stream = unique("refused");
  const auto topo = topology(dir, stream);
  // The target is a string: every XADD fails with WRONGTYPE, a permanent refusal.
  ASSERT_EQ(redis_cli("SET " + stream + " not-a-stream"), "OK");
  {
    Engine e(topo, {{"REDIS_PORT", std::to_string(redis_port())}}, log_);
    e.start();
    EXPECT_EQ(e.wait_exit(), 0) << read_file(log_);
  }
  const std::string failed = read_file(dir.path() / "failed.jsonl");
  EXPECT_EQ(std::count(failed.begin(), failed.end(), '\n'), 5) << failed;
  EXPECT_NE(failed.find("WRONGTYPE"), std::string::npos) << failed.substr(0, 400);
  EXPECT_EQ(markers(stream), 0u) << "a marker without its write would skip that alert on every replay";

  // The key fixed, the same events again: all five land.
  ASSERT_EQ(redis_cli("DEL " + stream), "1");
  std::filesystem::remove(dir.path() / "failed.jsonl");
  {
    Engine e(topo, {{"REDIS_PORT", std::to_string(redis_port())}}, log_);
    e.start();
    EXPECT_EQ(e.wait_exit(), 0) << read_file(log_);
  }
  EXPECT_EQ(redis_xlen(stream), 5);
  EXPECT_EQ(markers(stream), 5u);
  EXPECT_EQ(read_file(dir.path() / "failed.jsonl"), "");
  const std::string ttl = redis_cli("--scan --pattern 'socstream:seen:" + stream + ":b:*'");
  EXPECT_GE(std::stol(redis_cli("TTL " + ttl.substr(0, ttl.find('\n')))), 7 * 86400) << "remembered a week at least";

  // And once more: every id is remembered, nothing is written twice.
  {
    Engine e(topo, {{"REDIS_PORT", std::to_string(redis_port())}}, log_);
    e.start();
    EXPECT_EQ(e.wait_exit(), 0) << read_file(log_);
  }
  EXPECT_EQ(redis_xlen(stream), 5);
}

// Ids are remembered in one hash per time bucket; those written days ago, in
// an older bucket within dedupe_ttl_s, still stop a replay.
TEST_F(RedisSink, IdsInAnEarlierBucketAreStillRemembered) {
  TempDir dir;
  const std::string stream = unique("buckets");
  const auto topo = topology(dir, stream);
  const uint64_t origin = socstream::testing::expected_file_origin(dir.path() / "in.jsonl");
  const int64_t day = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count() / 86400;
  std::string ids;
  for (int i = 0; i < 5; ++i)  // the alert ids of in.jsonl's lines, 8 bytes each, read three days ago
    ids += fmt::format(" {} 1", socstream::testing::expected_alert_id("probe", "in", "in.jsonl", 0, 8 * i, origin));
  const std::string old_bucket = fmt::format("socstream:seen:{}:b:{}", stream, day - 3);
  ASSERT_EQ(redis_cli("HSET " + old_bucket + ids), "5");
  {
    Engine e(topo, {{"REDIS_PORT", std::to_string(redis_port())}}, log_);
    e.start();
    EXPECT_EQ(e.wait_exit(), 0) << read_file(log_);
  }
  EXPECT_EQ(redis_xlen(stream), 0) << "all five were written three days ago";
  EXPECT_EQ(read_file(dir.path() / "failed.jsonl"), "");
}

TEST_F(RedisSink, OutOfMemoryHoldsTheBatchUntilRedisTakesIt) {
  TempDir dir;
  const std::string stream = unique("oom");
  const auto topo = topology(dir, stream);
  ASSERT_EQ(redis_cli("CONFIG GET maxmemory-policy").find("noeviction") != std::string::npos, true)
      << "the test server evicts nothing, so a full one refuses writes";
  ASSERT_EQ(redis_cli("CONFIG SET maxmemory 1"), "OK");
  Engine e(topo, {{"REDIS_PORT", std::to_string(redis_port())}}, log_);
  e.start();
  // Refused with OOM for a while: nothing written, nothing dead-lettered, the run goes on.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_TRUE(e.running()) << read_file(log_);
  EXPECT_EQ(redis_xlen(stream), 0);
  EXPECT_EQ(read_file(dir.path() / "failed.jsonl"), "") << "OOM is not the alert's fault";
  EXPECT_NE(read_file(log_).find("OOM"), std::string::npos) << read_file(log_);
  ASSERT_EQ(redis_cli("CONFIG SET maxmemory 0"), "OK");
  EXPECT_EQ(e.wait_exit(), 0) << read_file(log_);
  EXPECT_EQ(redis_xlen(stream), 5);
  EXPECT_EQ(read_file(dir.path() / "failed.jsonl"), "");
}

// Issue 14, failing well: a wrong password is no outage. It stops the run at
// once (exit 2) with a message that names the variable, never the password.
TEST_F(RedisSink, AWrongPasswordFailsFastAndSaysSo) {
  const int port = redis_port() + 11;
  const std::string pidfile = (std::filesystem::temp_directory_path() / fmt::format("socstream-auth-{}.pid", port)).string();
  ASSERT_EQ(socstream::testing::run_command(fmt::format(
                "redis-server --port {} --bind 127.0.0.1 --requirepass right-pw-4417 --save '' --appendonly no "
                "--daemonize yes --pidfile {}", port, pidfile)).exit_code, 0);
  const std::string cli = fmt::format("redis-cli -p {} -a right-pw-4417 --no-auth-warning ", port);
  ASSERT_TRUE(eventually([&] { return socstream::testing::run_command(cli + "ping").out.find("PONG") != std::string::npos; },
                         std::chrono::seconds(10)));
  TempDir dir;
  const auto topo = topology(dir, unique("auth"));
  for (const char* password : {"wrong-pw-8812", ""}) {
    std::map<std::string, std::string> env{{"REDIS_PORT", std::to_string(port)}};
    if (*password) env.insert({{"PASSWORD_VAR", "SINK_PW"}, {"SINK_PW", password}});
    Engine e(topo, env, log_);
    const auto t0 = std::chrono::steady_clock::now();
    e.start();
    EXPECT_EQ(e.wait_exit(), 2) << read_file(log_);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20)) << "no retry loop";
    const std::string log = read_file(log_);
    EXPECT_NE(log.find(*password ? "WRONGPASS" : "NOAUTH"), std::string::npos) << log;
    if (*password) {
      EXPECT_NE(log.find("$SINK_PW"), std::string::npos) << log;
      EXPECT_EQ(log.find(password), std::string::npos) << "the password is never logged";
    }
  }
  socstream::testing::run_command(cli + "shutdown nosave");
}

// Issue 14: one SIGTERM ends the run within shutdown_timeout_s even while the
// sink cannot deliver, exit 3, naming what was not acknowledged.
TEST_F(RedisSink, OneSigtermEndsTheRunWithinTheShutdownTimeout) {
  TempDir dir;
  const auto topo = topology(dir, unique("down"), "shutdown_timeout_s: 2\n");
  Engine e(topo, {{"REDIS_PORT", "1"}}, log_);  // nothing listens on port 1: Redis is down
  e.start();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_TRUE(e.running()) << "the sink holds its batch while Redis is down";
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(e.terminate(), 3) << read_file(log_);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(6));
  EXPECT_NE(read_file(log_).find("in: 5 events"), std::string::npos) << read_file(log_);
}

// The WATCH path: a zombie (another instance after a rebalance) writes one of
// the chunk's alerts and records its id after the sink looked the ids up and
// before its EXEC. The transaction must abort and be redone without that id:
// the zombie's alert once, the others once.
TEST_F(RedisSink, AZombieWritingAnIdBetweenLookUpAndExecIsNeitherDoubledNorLosesTheOthers) {
  const std::string stream = unique("zombie");
  std::vector<uint64_t> transactions;
  const auto errors = sink_once(fmt::format("{{key: {}, port: {}, idempotent: true}}", stream, redis_port()),
                                alerts(stream, 10), [&](uint64_t n) {
                                  transactions.push_back(n);
                                  if (n != 0) return;
                                  // What another sink's transaction does, on its own connection.
                                  ASSERT_EQ(redis_cli(fmt::format("XADD {} '*' alert payload-3", stream)).empty(), false);
                                  ASSERT_EQ(redis_cli(fmt::format("HSET {} {}-id-3 1", today_bucket(stream), stream)), "1");
                                });
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(transactions, (std::vector<uint64_t>{0, 1})) << "the first EXEC was aborted by WATCH and redone";
  const auto got = payloads(stream);
  EXPECT_EQ(got.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got.count(fmt::format("payload-{}", i)) ? got.at(fmt::format("payload-{}", i)) : 0, 1) << i;
  EXPECT_EQ(markers(stream), 10u);
}

// A write refused inside EXEC (WRONGTYPE: the target became a string between
// two transactions of one batch) leaves no record for the refused ids, keeps
// the record of an id in that chunk written before, and dead-letters only the
// refused alerts; a replay with the target fixed writes each missing one once.
TEST_F(RedisSink, WritesRefusedInsideTheTransactionLeaveNoRecordAndAReplayWritesEachOnce) {
  const std::string stream = unique("midtx");
  const std::string saved = stream + ":saved";
  const std::string settings =
      fmt::format("{{key: {}, port: {}, idempotent: true, transaction_events: 4}}", stream, redis_port());
  // Alert 4, of the second chunk (4..7), landed in an earlier run.
  ASSERT_FALSE(redis_cli(fmt::format("XADD {} '*' alert payload-4", stream)).empty());
  ASSERT_EQ(redis_cli(fmt::format("HSET {} {}-id-4 1", today_bucket(stream), stream)), "1");
  auto errors = sink_once(settings, alerts(stream, 10), [&](uint64_t n) {
    if (n != 1) return;
    ASSERT_EQ(redis_cli(fmt::format("RENAME {} {}", stream, saved)), "OK");
    ASSERT_EQ(redis_cli(fmt::format("SET {} not-a-stream", stream)), "OK");
  });
  ASSERT_EQ(errors.size(), 5u) << "5, 6, 7 (with 4 seen) and 8, 9";
  for (const auto& e : errors) EXPECT_NE(e.find("WRONGTYPE"), std::string::npos) << e;
  EXPECT_EQ(markers(stream), 5u) << "0..3 and 4: none of the refused ids";
  EXPECT_EQ(redis_cli(fmt::format("HEXISTS {} {}-id-5", today_bucket(stream), stream)), "0");

  ASSERT_EQ(redis_cli("DEL " + stream), "1");
  ASSERT_EQ(redis_cli(fmt::format("RENAME {} {}", saved, stream)), "OK");
  errors = sink_once(settings, alerts(stream, 10));
  EXPECT_TRUE(errors.empty()) << errors.front();
  const auto got = payloads(stream);
  EXPECT_EQ(got.size(), 10u);
  for (const auto& [payload, n] : got) EXPECT_EQ(n, 1) << payload;
  EXPECT_EQ(markers(stream), 10u);
}

// A write that fails inside EXEC although the target is a stream (one whose
// last id is the largest there is, so XADD * has no id left to give): the
// record kRecord made is taken back, so a replay still writes those alerts.
TEST_F(RedisSink, AWriteFailingOnAStreamHasItsRecordUndone) {
  const std::string stream = unique("exhausted");
  ASSERT_FALSE(redis_cli(fmt::format("XADD {} '*' alert first", stream)).empty());
  ASSERT_EQ(redis_cli(fmt::format("XSETID {} 18446744073709551615-18446744073709551615", stream)), "OK");
  const auto errors =
      sink_once(fmt::format("{{key: {}, port: {}, idempotent: true}}", stream, redis_port()), alerts(stream, 3));
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_NE(errors.front().find("exhausted"), std::string::npos) << errors.front();
  EXPECT_EQ(markers(stream), 0u);
}
