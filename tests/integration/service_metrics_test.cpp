// Issue 14: the admin endpoint of a Kafka -> Redis topology on the real
// broker and redis-server, read with curl: readiness follows the consumer
// group's assignment and the Redis connection, and /metrics holds the
// committed offsets, lag and Redis round trips against known counts.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>
#include <string>
#include <thread>

#include "tests/integration/cluster.hpp"
#include "tests/support/test_support.hpp"

using namespace socstream::it;
using socstream::testing::read_file;
using socstream::testing::run_command;
using socstream::testing::source_dir;
using socstream::testing::TempDir;

namespace {

class ServiceMetrics : public ServerTest {};

std::string get(int port, const std::string& path) {
  return run_command(fmt::format("curl -s -w ' %{{http_code}}' http://127.0.0.1:{}{}", port, path)).out;
}

// The sum of a family's samples whose labels contain `filter`.
double sum(const std::string& metrics, const std::string& family, const std::string& filter = "") {
  double total = 0;
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(family + "{", 0) != 0 && line.rfind(family + " ", 0) != 0) continue;
    if (!filter.empty() && line.find(filter) == std::string::npos) continue;
    total += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

}  // namespace

TEST_F(ServiceMetrics, ReadinessAndKafkaAndRedisFiguresAgainstKnownCounts) {
  const std::string topic = unique("svc"), group = unique("svc-g"), stream = unique("svc-s");
  create_topic(topic, 4);
  std::vector<std::string> msgs;
  for (int i = 0; i < 2000; ++i) msgs.push_back(fmt::format("{{\"n\":{}}}", i));
  produce_messages(topic, msgs);
  TempDir dir;
  const int port = 20000 + static_cast<int>((::getpid() + 29) % 20000);
  const auto topo = dir.write("t.yaml", fmt::format(R"(admin: {{address: "127.0.0.1:{}"}}
progress_interval_s: 1
sources:
  in: {{type: kafka, brokers: "${{KAFKA_BROKERS}}", topics: [{}], group: {}, commit_interval_ms: 200}}
operators:
  parse: {{type: json_parse, inputs: [in], fields: all}}
  alerts: {{type: alert, inputs: [parse], detector: probe}}
sinks:
  redis: {{type: redis, inputs: [alerts], port: "${{REDIS_PORT}}", key: {}, idempotent: true,
          backoff_initial_ms: 50, backoff_max_ms: 200}}
)",
                                                    port, topic, group, stream));
  Engine e(topo, {{"KAFKA_BROKERS", brokers()}, {"REDIS_PORT", std::to_string(redis_port())}}, log_);
  e.start();
  ASSERT_TRUE(eventually([&] { return redis_xlen(stream) == 2000; }, std::chrono::seconds(60))) << redis_xlen(stream);
  EXPECT_NE(get(port, "/ready").find(R"({"ready":true,"not_ready":[],"why":{}} 200)"), std::string::npos)
      << get(port, "/ready");
  // Commits follow completion within commit_interval_ms.
  std::string metrics;
  ASSERT_TRUE(eventually([&] {
    metrics = get(port, "/metrics");
    return sum(metrics, "socstream_kafka_committed_offset") == 2000;
  }, std::chrono::seconds(20))) << metrics;
  EXPECT_EQ(sum(metrics, "socstream_kafka_consumer_lag_messages"), 0) << metrics;
  // The progress line says it too.
  EXPECT_TRUE(eventually([&] { return read_file(log_).find("2000 delivered") != std::string::npos &&
                                      read_file(log_).find(", Kafka lag 0\n") != std::string::npos; },
                         std::chrono::seconds(10))) << read_file(log_);
  EXPECT_EQ(sum(metrics, "socstream_kafka_high_watermark_offset"), 2000) << metrics;
  EXPECT_EQ(sum(metrics, "socstream_kafka_partitions_assigned"), 4) << metrics;
  EXPECT_EQ(sum(metrics, "socstream_component_received_events_total", "component_id=\"redis\""), 2000) << metrics;
  EXPECT_GT(sum(metrics, "socstream_redis_round_trip_seconds_count"), 0) << metrics;
  EXPECT_EQ(sum(metrics, "socstream_redis_retries_total"), 0) << metrics;
  // Any partition: the producer's sticky partitioner may put all 2,000 in one.
  EXPECT_NE(metrics.find(fmt::format("socstream_kafka_committed_offset{{component_id=\"in\",component_kind=\"source\","
                                     "component_type=\"kafka\",topic=\"{}\",partition=\"",
                                     topic)),
            std::string::npos)
      << metrics;

  // Redis goes away: the sink is not ready, says why, and counts its retries; then it comes back.
  ASSERT_EQ(run_command((source_dir() / "scripts/redis.sh").string() + " stop").exit_code, 0);
  produce_messages(topic, {R"({"n":2000})"});
  std::string ready;
  EXPECT_TRUE(eventually([&] {
    ready = get(port, "/ready");
    return ready.find(" 503") != std::string::npos;
  }, std::chrono::seconds(20))) << ready;
  EXPECT_NE(ready.find(R"("not_ready":["redis"])"), std::string::npos) << ready;
  EXPECT_NE(ready.find(R"("redis":"Redis: )"), std::string::npos) << ready;
  EXPECT_GT(sum(get(port, "/metrics"), "socstream_redis_retries_total"), 0);
  ASSERT_EQ(run_command((source_dir() / "scripts/redis.sh").string() + " restart").exit_code, 0);
  EXPECT_TRUE(eventually([&] { return redis_xlen(stream) == 2001; }, std::chrono::seconds(30))) << redis_xlen(stream);
  EXPECT_TRUE(eventually([&] { return get(port, "/ready").find(" 200") != std::string::npos; }, std::chrono::seconds(10)));
  EXPECT_EQ(e.terminate(), 0) << read_file(log_);
}

// A topic that does not exist, on a broker that will not create it: a source
// or sink would wait for it for ever; it fails at start instead, naming it.
TEST_F(ServiceMetrics, AMissingTopicFailsAtStartWhenTheBrokerCreatesNone) {
  const std::string dir = (std::filesystem::path(SOCSTREAM_BUILD_DIR) / "it-work" / unique("noauto")).string();
  const std::string env = fmt::format("KAFKA_PORT=29392 KAFKA_CONTROLLER_PORT=29393 KAFKA_RUN_DIR={} KAFKA_AUTO_CREATE=false", dir);
  const std::string kafka = (source_dir() / "scripts/kafka.sh").string();
  ASSERT_EQ(run_command(env + " " + kafka + " start").exit_code, 0) << "a second broker, without auto-creation";
  TempDir t;
  for (const char* kind : {"source", "sink"}) {
    const auto topo = t.write("t.yaml", std::string(kind) == "source" ? R"(sources:
  in: {type: kafka, brokers: "127.0.0.1:29392", topics: [nowhere], group: g, connect_timeout_ms: 10000}
sinks:
  out: {type: blackhole, inputs: [in]}
)"
                                                                          : R"(sources:
  in: {type: stdin}
sinks:
  out: {type: kafka, inputs: [in], brokers: "127.0.0.1:29392", topic: nowhere, connect_timeout_ms: 10000}
)");
    const auto r = run_command(fmt::format("timeout 60 {} run {} </dev/null", SOCSTREAM_BIN, topo.string()));
    EXPECT_EQ(r.exit_code, 2) << kind << ": " << r.err;
    EXPECT_NE(r.err.find("topic 'nowhere' does not exist at 127.0.0.1:29392, and the broker does not create topics"),
              std::string::npos)
        << kind << ": " << r.err;
  }
  run_command(env + " " + kafka + " stop");
  std::filesystem::remove_all(dir);
}
