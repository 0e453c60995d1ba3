// The idempotent Redis sink against a real redis-server made to refuse writes:
// a write that fails leaves no dedupe marker (so a replay writes it), a
// permanent refusal dead-letters only the refused alerts, and a transient one
// (OOM under maxmemory) holds the batch until Redis takes it.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <thread>

#include "tests/integration/cluster.hpp"
#include "tests/support/test_support.hpp"

using namespace socstream::it;
using socstream::testing::read_file;
using socstream::testing::TempDir;

namespace {


// Five events, one alert each (no rule: the detector is the rule), into an idempotent stream.
std::filesystem::path topology(const TempDir& dir, const std::string& stream) {
  std::string events;
  for (int i = 0; i < 5; ++i) events += "{\"n\":" + std::to_string(i) + "}\n";
  dir.write("in.jsonl", events);
  return dir.write("t.yaml", R"(sources:
  in: {type: file, path: in.jsonl}
operators:
  parse: {type: json_parse, inputs: [in], fields: all}
  alerts: {type: alert, inputs: [parse], detector: probe}
sinks:
  redis: {type: redis, inputs: [alerts], port: "${REDIS_PORT}", key: ")" + stream + R"(", idempotent: true,
          backoff_initial_ms: 50, backoff_max_ms: 200}
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
  const std::string ttl = redis_cli("--scan --pattern 'socstream:seen:" + stream + ":*'");
  EXPECT_GE(std::stol(redis_cli("TTL " + ttl.substr(0, ttl.find('\n')))), 7 * 86400) << "remembered a week at least";

  // And once more: every id is remembered, nothing is written twice.
  {
    Engine e(topo, {{"REDIS_PORT", std::to_string(redis_port())}}, log_);
    e.start();
    EXPECT_EQ(e.wait_exit(), 0) << read_file(log_);
  }
  EXPECT_EQ(redis_xlen(stream), 5);
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
