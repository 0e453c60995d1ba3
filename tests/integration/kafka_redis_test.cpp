// The delivery promise on a real broker and server: offsets are committed only
// after every sink confirmed, so crashes and outages lose nothing.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <simdjson.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <random>
#include <thread>

#include "tests/integration/cluster.hpp"
#include "tests/support/test_support.hpp"

using namespace socstream::it;
using socstream::testing::read_file;
using socstream::testing::run_command;
using socstream::testing::source_dir;
using socstream::testing::TempDir;
using socstream::testing::base64_decode;

namespace {

using Names = KafkaRedisNames;

class KafkaRedis : public ServerTest {
 protected:
  Engine engine(const Names& n) { return Engine(source_dir() / "config/kafka-redis.yaml", n.env(), log_); }
};

}  // namespace

TEST_F(KafkaRedis, HundredThousandEventsOnFourPartitions) {
  Names n;
  create_topic(n.topic, 4);
  const auto file = web_events(100000);
  produce_file(n.topic, file);
  const auto expected = expected_web_alert_keys(file);
  ASSERT_GT(expected.size(), 20000u);

  Engine e = engine(n);
  e.start();
  ASSERT_TRUE(eventually([&] { return redis_xlen(n.stream) >= static_cast<int64_t>(expected.size()); },
                         std::chrono::seconds(180)))
      << "redis has " << redis_xlen(n.stream) << " of " << expected.size();
  // Committed offsets lag completion by up to commit_interval_ms; the drain at shutdown commits the rest.
  EXPECT_EQ(e.terminate(), 0);

  EXPECT_EQ(web_alert_keys(redis_stream_alerts(n.stream)), expected) << "exactly the expected alerts in Redis";
  const auto from_kafka = consume_all(n.alerts);
  EXPECT_EQ(web_alert_keys(from_kafka), expected) << "exactly the expected alerts in the alerts topic";
  socstream::testing::expect_schema_valid(redis_stream_alerts(n.stream), "config/kafka-redis.yaml, Redis");
  socstream::testing::expect_schema_valid(from_kafka, "config/kafka-redis.yaml, Kafka");
  auto [committed, end] = committed_and_end(n.group, n.topic);
  EXPECT_EQ(end, 100000);
  EXPECT_EQ(committed, end) << "the group's committed offsets equal the end offsets";
}


TEST_F(KafkaRedis, BadInputGoesToTheDeadLetterTopic) {
  Names n;
  create_topic(n.topic, 2);
  // Good events: the first 300 of the sample; bad ones of every kind between them.
  std::vector<std::string> good;
  {
    std::ifstream in(source_dir() / "config/samples/web-access.jsonl");
    for (std::string l; good.size() < 300 && std::getline(in, l);) good.push_back(l);
  }
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += "{\"a\":";
  deep += '1';
  deep.append(10000, '}');
  std::multimap<std::string, std::string> bad = {
      {"{\"broken\": ", "invalid_json"},
      {"{\"k\":\"caf\xe9 \xff\xfe\"}", "invalid_utf8"},
      {"{\"blob\":\"" + std::string(8u << 20, 'A') + "\"}", "too_large"},
      {deep, "too_deep"},
      {std::string(10000, '[') + std::string(10000, ']'), "too_deep"},
      {std::string("{\"k\":\"a\0b\"}", 11), "invalid_json"},
      {std::string(16, '\0'), "invalid_utf8"},  // binary: not UTF-8 text
      {"", "empty"},
      {"not json at all", "invalid_json"},
      {"[1,2,3]", "not_object"},
  };
  std::vector<std::string> msgs;
  auto b = bad.begin();
  for (size_t i = 0; i < good.size(); ++i) {
    msgs.push_back(good[i]);
    if (i % 30 == 0 && b != bad.end()) msgs.push_back((b++)->first);
  }
  for (; b != bad.end(); ++b) msgs.push_back(b->first);
  produce_messages(n.topic, msgs);

  TempDir tmp;
  std::string good_file;
  for (auto& g : good) good_file += g + "\n";
  const auto expected = expected_web_alert_keys(tmp.write("good.jsonl", good_file));

  Engine e = engine(n);
  e.start();
  ASSERT_TRUE(eventually([&] { return consume_all(n.dlq).size() >= bad.size(); }, std::chrono::seconds(90)));
  ASSERT_TRUE(eventually([&] { return redis_xlen(n.stream) >= static_cast<int64_t>(expected.size()); },
                         std::chrono::seconds(60)));
  EXPECT_EQ(e.terminate(), 0);

  std::multimap<std::string, std::string> got;
  simdjson::dom::parser p;
  for (const auto& rec : consume_all(n.dlq)) {
    simdjson::dom::element d;
    ASSERT_EQ(p.parse(rec).get(d), simdjson::SUCCESS) << rec.substr(0, 200);
    std::string raw;
    if (std::string_view s; d["raw"].get(s) == simdjson::SUCCESS)
      raw = std::string(s);
    else
      raw = base64_decode(std::string_view(d["raw_base64"]));
    got.emplace(raw, std::string(std::string_view(d["error"]["reason"])));
    EXPECT_EQ(std::string_view(d["source"]["name"]), "access");
  }
  EXPECT_TRUE(got == bad) << "every bad event in the DLQ topic, with its reason (" << got.size() << " of " << bad.size() << ")";
  EXPECT_EQ(web_alert_keys(redis_stream_alerts(n.stream)), expected) << "every good event processed";
  auto [committed, end] = committed_and_end(n.group, n.topic);
  EXPECT_EQ(committed, end);
}

namespace {

// Resident memory of a running process, from /proc.
long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string l; std::getline(in, l);)
    if (l.rfind("VmRSS:", 0) == 0) return std::stol(l.substr(6));
  return 0;
}

struct Prepared {
  Names names;
  std::multiset<std::string> expected;
};

// A topic with 4 partitions holding the 500,000-event stream, and what it should alert on.
Prepared prepare_500k() {
  Prepared p;
  create_topic(p.names.topic, 4);
  const auto file = web_events(500000);
  produce_file(p.names.topic, file);
  static const std::multiset<std::string> expected = expected_web_alert_keys(file);
  p.expected = expected;
  return p;
}

// Done means acknowledged: every offset committed (the engine commits about every
// second), which comes after the alerts reached both sinks.
bool wait_done(const Prepared& p) {
  const auto total = static_cast<int64_t>(p.expected.size());
  return eventually([&] {
    if (redis_xlen(p.names.stream) < total) return false;
    auto [committed, end] = committed_and_end(p.names.group, p.names.topic);
    return committed == end && end == 500000;
  }, std::chrono::seconds(300));
}

void expect_complete(const Prepared& p, const char* what) {
  EXPECT_EQ(web_alert_keys(redis_stream_alerts(p.names.stream)), p.expected) << what << ": every alert in Redis exactly once";
  auto kafka = web_alert_keys(consume_all(p.names.alerts));
  std::set<std::string> distinct(kafka.begin(), kafka.end());
  std::set<std::string> want(p.expected.begin(), p.expected.end());
  EXPECT_EQ(distinct, want) << what << ": every alert at least once in Kafka";
  std::cout << "[ info     ] " << what << ": " << kafka.size() << " alerts in Kafka for " << p.expected.size()
            << " expected: " << (kafka.size() - p.expected.size()) << " duplicates\n";
  auto [committed, end] = committed_and_end(p.names.group, p.names.topic);
  EXPECT_EQ(end, 500000);
  EXPECT_EQ(committed, end);
}

}  // namespace

TEST_F(KafkaRedis, RedisOutageBlocksWithoutLoss) {
  Prepared p = prepare_500k();
  const auto total = static_cast<int64_t>(p.expected.size());
  Engine e = engine(p.names);
  e.start();
  ASSERT_TRUE(eventually([&] { return redis_xlen(p.names.stream) > total / 10; }, std::chrono::seconds(120)));
  ASSERT_EQ(run_command((source_dir() / "scripts/redis.sh").string() + " stop").exit_code, 0);
  const long at_outage = rss_kb(e.pid());
  long peak_during = 0;
  for (int i = 0; i < 50; ++i) {  // 10 s without Redis
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_TRUE(e.running()) << "the engine must wait for Redis, not exit";
    peak_during = std::max(peak_during, rss_kb(e.pid()));
  }
  ASSERT_EQ(run_command((source_dir() / "scripts/redis.sh").string() + " restart").exit_code, 0);
  const int64_t at_restart = redis_xlen(p.names.stream);
  // Blocked for 10 s, the source paused its partitions and kept polling: it never left the group.
  EXPECT_EQ(read_file(log_).find("revoked"), std::string::npos) << "no rebalance while the pipeline was blocked";
  EXPECT_LT(at_restart, total) << "the outage should have come before the end of the run";
  ASSERT_TRUE(wait_done(p)) << redis_xlen(p.names.stream) << " of " << total;
  EXPECT_EQ(e.terminate(), 0);
  std::cout << "[ info     ] RSS when Redis went away " << at_outage / 1024 << " MiB, peak during the outage "
            << peak_during / 1024 << " MiB, over the run " << e.peak_rss_kb() / 1024 << " MiB; " << at_restart << " of "
            << total << " alerts were in Redis when it came back\n";
  // Blocked, a bounded pipeline stops reading: 10 s at full speed would be
  // far more than the channels and librdkafka's queue hold (the input is 233 MB).
  EXPECT_LT(peak_during - at_outage, 128 * 1024) << "memory must not grow while Redis is away";
  // The fixed part: an idle engine takes 11 MiB without a model, 211 MiB with this one.
  EXPECT_LT(e.peak_rss_kb(), 800 * 1024) << "memory must stay bounded over the run";
  expect_complete(p, "redis outage");
}

TEST_F(KafkaRedis, BrokerRestartLosesNothing) {
  Prepared p = prepare_500k();
  const auto total = static_cast<int64_t>(p.expected.size());
  Engine e = engine(p.names);
  e.start();
  ASSERT_TRUE(eventually([&] { return redis_xlen(p.names.stream) > total / 10; }, std::chrono::seconds(120)));
  ASSERT_EQ(run_command((source_dir() / "scripts/kafka.sh").string() + " restart").exit_code, 0);
  EXPECT_LT(redis_xlen(p.names.stream), total) << "the restart should have come before the end of the run";
  ASSERT_TRUE(wait_done(p)) << redis_xlen(p.names.stream) << " of " << total;
  EXPECT_EQ(e.terminate(), 0);
  expect_complete(p, "broker restart");
}

TEST_F(KafkaRedis, KillNineThreeTimesLosesNothing) {
  Prepared p = prepare_500k();
  const auto total = static_cast<int64_t>(p.expected.size());
  const unsigned seed = static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::mt19937 rng(seed);
  std::cout << "[ info     ] kill -9 moments drawn with seed " << seed << "\n";
  for (int kill = 1; kill <= 3; ++kill) {
    Engine e = engine(p.names);
    e.start();
    // A random moment: after a random share of the alerts that are still to come.
    const int64_t before = redis_xlen(p.names.stream);
    const int64_t target = before + static_cast<int64_t>((total - before) * std::uniform_real_distribution<>(0.1, 0.4)(rng));
    // Polled every few ms: the engine writes thousands of alerts a second, and a
    // slow poll would let the last kills land after the run has ended.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    while (redis_xlen(p.names.stream) < target && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<>(0, 50)(rng)));
    e.kill9();
    std::cout << "[ info     ] kill -9 #" << kill << " with " << redis_xlen(p.names.stream) << " of " << total
              << " alerts in Redis\n";
  }
  Engine last = engine(p.names);
  last.start();
  ASSERT_TRUE(wait_done(p)) << redis_xlen(p.names.stream) << " of " << total;
  EXPECT_EQ(last.terminate(), 0);
  expect_complete(p, "kill -9 x3");
}

// A dead letter of a Kafka message keeps that message's key and headers.
TEST_F(KafkaRedis, DeadLettersKeepTheMessagesKeyAndHeaders) {
  Names n;
  create_topic(n.topic, 1);
  auto r = run_command("printf 'user-42:{\"broken\": \\n' | kcat -b " + brokers() + " -t " + n.topic +
                       " -P -K: -H trace-id=7f3a -H tenant=acme");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_command("printf '%s\\n' 'not json either' | kcat -b " + brokers() + " -t " + n.topic + " -P");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Engine e = engine(n);
  e.start();
  ASSERT_TRUE(eventually([&] { return consume_all(n.dlq).size() >= 2; }, std::chrono::seconds(60))) << read_file(log_);
  EXPECT_EQ(e.terminate(), 0);
  auto got = run_command("kcat -b " + brokers() + " -t " + n.dlq + " -C -e -q -f '%k|%h|%S\\n'");
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_NE(got.out.find("user-42|trace-id=7f3a,tenant=acme|"), std::string::npos) << got.out;
  EXPECT_NE(got.out.find("||"), std::string::npos) << "a message without either gets none: " << got.out;
}

TEST_F(KafkaRedis, UndeliverableEventsGoToTheSinkDlq) {
  Names n;
  TempDir dir;
  // Events larger than the producer accepts fail permanently: they must reach the sink's dlq port.
  std::string big = "{\"pad\":\"" + std::string(3000, 'x') + "\"}";
  dir.write("in.jsonl", "{\"small\":1}\n" + big + "\n{\"small\":2}\n");
  auto topo = dir.write("t.yaml", R"(sources:
  in: {type: file, path: in.jsonl}
sinks:
  out:
    type: kafka
    inputs: [in]
    brokers: "${KAFKA_BROKERS}"
    topic: ")" + n.alerts + R"("
    librdkafka: {message.max.bytes: "2000"}
  failed: {type: file, inputs: [out.dlq], path: failed.jsonl}
)");
  Engine e(topo, {{"KAFKA_BROKERS", brokers()}}, log_);
  e.start();
  EXPECT_EQ(e.wait_exit(), 0);
  auto delivered = consume_all(n.alerts);
  EXPECT_EQ(delivered, (std::vector<std::string>{"{\"small\":1}", "{\"small\":2}"}));
  std::string failed = read_file(dir.path() / "failed.jsonl");
  EXPECT_NE(failed.find("\"reason\":\"delivery_failed\""), std::string::npos) << failed.substr(0, 300);
  EXPECT_NE(failed.find(std::string(3000, 'x')), std::string::npos) << "the event is kept whole";
}

TEST_F(KafkaRedis, RedisListAndChannelModes) {
  Names n;
  TempDir dir;
  dir.write("in.jsonl", "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
  const std::string list = unique("list"), channel = unique("channel");
  auto topo = dir.write("t.yaml", R"(sources:
  in: {type: file, path: in.jsonl}
sinks:
  to_list: {type: redis, inputs: [in], mode: lpush, port: "${REDIS_PORT}", key: ")" + list + R"("}
  to_channel: {type: redis, inputs: [in], mode: publish, port: "${REDIS_PORT}", key: ")" + channel + R"("}
)");
  // A real subscriber, listening before the engine publishes.
  auto sub_out = dir.path() / "sub.txt";
  std::string cmd = "timeout 10 redis-cli -p " + std::to_string(redis_port()) + " --no-raw SUBSCRIBE " + channel + " > " +
                    sub_out.string() + " 2>&1 &";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ASSERT_TRUE(eventually([&] { return redis_cli("PUBSUB NUMSUB " + channel).find("\n1") != std::string::npos; },
                         std::chrono::seconds(5)));
  Engine e(topo, {{"REDIS_PORT", std::to_string(redis_port())}}, log_);
  e.start();
  EXPECT_EQ(e.wait_exit(), 0);
  EXPECT_EQ(redis_cli("LRANGE " + list + " 0 -1"), "{\"a\":3}\n{\"a\":2}\n{\"a\":1}");
  ASSERT_TRUE(eventually([&] { return read_file(sub_out).find("{\\\"a\\\":3}") != std::string::npos; }, std::chrono::seconds(5)))
      << read_file(sub_out);
}
