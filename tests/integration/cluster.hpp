#pragma once
#include <gtest/gtest.h>
// The real Kafka broker and redis-server that scripts/test.sh starts on
// loopback (scripts/kafka.sh, scripts/redis.sh), and the engine as a process.
// Nothing here is a mock: topics are made with librdkafka's Admin API, data is
// produced and read back with kcat and redis-cli, and socstream runs as the
// built binary.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace socstream::it {

std::string brokers();     // $KAFKA_BROKERS, default 127.0.0.1:19092
int redis_port();          // $REDIS_PORT, default 16379
// Empty if both answer; else what is missing and how to start it.
std::string check_servers();

void create_topic(const std::string& topic, int partitions);
void delete_topic(const std::string& topic);
// Produces every line of a file as one message (kcat), spread over partitions.
void produce_file(const std::string& topic, const std::filesystem::path& file);
// Produces each message (librdkafka), waiting until all are delivered.
void produce_messages(const std::string& topic, const std::vector<std::string>& msgs);
// Every message of a topic (kcat), until its end.
std::vector<std::string> consume_all(const std::string& topic);
// Sum over partitions of (committed offset of the group) and of the end offsets.
std::pair<int64_t, int64_t> committed_and_end(const std::string& group, const std::string& topic);
// Per partition (index = partition): the group's committed offset (-1 if none) and the end offset.
struct PartitionOffsets {
  std::vector<int64_t> committed, end;
};
PartitionOffsets partition_offsets(const std::string& group, const std::string& topic);
// Every message's timestamp (ms), by partition and offset (kcat): an alert id's origin.
std::map<std::pair<int32_t, int64_t>, uint64_t> message_timestamps(const std::string& topic);

// The web access stream the 500,000-event tests share: N events from the
// default sample's generator (made once, under build/it-work), and what the
// file pipeline (config/default.yaml, held to an independent RE2 oracle by the
// e2e tests) alerts on, each alert keyed by its event, not by where it was read:
// its time, address and query.
std::filesystem::path web_events(int n);
std::string web_alert_key(std::string_view alert);
std::multiset<std::string> expected_web_alert_keys(const std::filesystem::path& file);
std::multiset<std::string> web_alert_keys(const std::vector<std::string>& alerts);

// redis-cli
std::string redis_cli(const std::string& args);
int64_t redis_xlen(const std::string& stream);
// Every entry's alert JSON of a stream (hiredis, paged XRANGE).
std::vector<std::string> redis_stream_alerts(const std::string& stream);

// The built socstream binary running a topology with extra environment.
class Engine {
 public:
  Engine(std::filesystem::path topology, std::map<std::string, std::string> env, std::filesystem::path log);
  ~Engine();
  void start();
  int terminate();     // SIGTERM, wait, exit code
  void kill9();        // SIGKILL, wait
  int wait_exit();     // exit code (128+signal if killed)
  bool running();
  long peak_rss_kb() const { return peak_rss_kb_; }  // of the last finished run
  pid_t pid() const { return pid_; }

 private:
  std::filesystem::path topology_;
  std::map<std::string, std::string> env_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
  long peak_rss_kb_ = 0;
};

// A test on the real servers: SetUp checks they are up and names the engine's
// log for this test (build/it-work/<test>.log, emptied); TearDown prints it if the test failed.
class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::filesystem::path log_;
};

// Polls until pred() or the deadline; returns pred().
bool eventually(const std::function<bool()>& pred, std::chrono::seconds limit);

// A name unique to this test run, for topics, groups and streams.
std::string unique(const std::string& base);

// The names config/kafka-redis.yaml reads from the environment, fresh per test,
// and that environment (brokers and Redis of scripts/, a short session timeout).
struct KafkaRedisNames {
  std::string topic = unique("access"), group = unique("group"), stream = unique("alerts"),
              alerts = unique("alerts"), dlq = unique("dlq");
  std::map<std::string, std::string> env() const {
    return {{"KAFKA_BROKERS", brokers()},        {"REDIS_PORT", std::to_string(redis_port())},
            {"SOCSTREAM_TOPIC", topic},          {"SOCSTREAM_GROUP", group},
            {"SOCSTREAM_STREAM", stream},        {"SOCSTREAM_ALERTS_TOPIC", alerts},
            {"SOCSTREAM_DLQ_TOPIC", dlq},        {"SOCSTREAM_SESSION_TIMEOUT_MS", "6000"}};
  }
};

}  // namespace socstream::it
