// config/sigma-kafka.yaml on the real broker and server: the bundled Windows
// sample produced to a topic gives exactly the alerts the file topology gives,
// once each in Redis (also when a second group replays the topic) and in the
// alerts topic, with every offset committed.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <set>
#include <sstream>

#include "tests/integration/cluster.hpp"
#include "tests/support/test_support.hpp"

using namespace socstream::it;
using socstream::testing::read_file;
using socstream::testing::source_dir;
using socstream::testing::TempDir;

namespace {

const std::filesystem::path kWork = std::filesystem::path(SOCSTREAM_BUILD_DIR) / "it-work";

// An alert independent of where its event was read: all of it but its provenance.
std::string key_of(std::string_view alert) { return socstream::testing::alert_content(alert); }

std::multiset<std::string> keys_of(const std::vector<std::string>& alerts) {
  std::multiset<std::string> keys;
  for (const auto& a : alerts) keys.insert(key_of(a));
  return keys;
}

}  // namespace

TEST(SigmaKafka, SampleThroughKafkaToRedisOnceEach) {
  std::string missing = check_servers();
  ASSERT_TRUE(missing.empty()) << "integration tests need the real servers: " << missing;
  std::filesystem::create_directories(kWork);
  const auto log = kWork / "SigmaKafka.log";
  const auto sample = source_dir() / "config/samples/windows-events.jsonl";

  // What the file topology alerts on (tested against the pySigma oracle).
  auto file_run = socstream::testing::run_socstream("run " + (source_dir() / "config/sigma-windows.yaml").string(),
                                                    "SOCSTREAM_DLQ=/dev/null");
  ASSERT_EQ(file_run.exit_code, 0) << file_run.err;
  std::vector<std::string> file_alerts;
  std::stringstream ss(file_run.out);
  for (std::string l; std::getline(ss, l);) file_alerts.push_back(l);
  const auto expected = keys_of(file_alerts);
  ASSERT_GT(expected.size(), 150u);

  TempDir state;
  const std::string topic = unique("windows"), stream = unique("sigma-alerts"), alerts = unique("sigma-alerts"),
                    dlq = unique("windows-dlq");
  create_topic(topic, 4);
  produce_file(topic, sample);
  auto env = [&](const std::string& group) {
    return std::map<std::string, std::string>{{"KAFKA_BROKERS", brokers()},
                                              {"REDIS_PORT", std::to_string(redis_port())},
                                              {"SOCSTREAM_TOPIC", topic},
                                              {"SOCSTREAM_GROUP", group},
                                              {"SOCSTREAM_STREAM", stream},
                                              {"SOCSTREAM_ALERTS_TOPIC", alerts},
                                              {"SOCSTREAM_DLQ_TOPIC", dlq},
                                              {"SOCSTREAM_STATE_DIR", state.path().string()}};
  };
  const std::string group = unique("sigma");
  {
    Engine e(source_dir() / "config/sigma-kafka.yaml", env(group), log);
    e.start();
    ASSERT_TRUE(eventually([&] { return redis_xlen(stream) >= static_cast<int64_t>(expected.size()); },
                           std::chrono::seconds(120)))
        << "redis has " << redis_xlen(stream) << " of " << expected.size() << "\n" << read_file(log).substr(0, 5000);
    ASSERT_TRUE(eventually([&] {
      auto [committed, end] = committed_and_end(group, topic);
      return committed == end;
    }, std::chrono::seconds(60)));
    EXPECT_EQ(e.terminate(), 0) << read_file(log).substr(0, 5000);
  }
  EXPECT_EQ(keys_of(redis_stream_alerts(stream)), expected) << "exactly the file topology's alerts, once each";
  EXPECT_EQ(keys_of(consume_all(alerts)), expected);
  socstream::testing::expect_schema_valid(redis_stream_alerts(stream), "config/sigma-kafka.yaml, Redis");
  socstream::testing::expect_schema_valid(consume_all(alerts), "config/sigma-kafka.yaml, Kafka");

  // Another group replays the whole topic: the same alert ids, so Redis keeps one of each.
  {
    const std::string again = unique("sigma-replay");
    Engine e(source_dir() / "config/sigma-kafka.yaml", env(again), log);
    e.start();
    ASSERT_TRUE(eventually([&] {
      auto [committed, end] = committed_and_end(again, topic);
      return end > 0 && committed == end;
    }, std::chrono::seconds(120)));
    EXPECT_EQ(e.terminate(), 0);
  }
  EXPECT_EQ(redis_xlen(stream), static_cast<int64_t>(expected.size())) << "the replay wrote nothing twice to Redis";
  auto both = keys_of(consume_all(alerts));
  auto twice = expected;
  twice.insert(expected.begin(), expected.end());
  EXPECT_EQ(both, twice) << "the replay did alert: Kafka, at least once, has every alert twice";
}
