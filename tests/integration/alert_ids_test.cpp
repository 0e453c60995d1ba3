// Alert ids never collide: a rotated or copytruncated file, a re-created topic
// and two pipelines sharing one Redis each restart offsets or share a server,
// and every alert must still arrive in the idempotent Redis sink (before,
// the second alert at a reused position took the first one's id and was
// dropped as a duplicate, without a word).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <thread>

#include "tests/integration/cluster.hpp"
#include "tests/support/test_support.hpp"

using namespace socstream::it;
using socstream::testing::read_file;
using socstream::testing::source_dir;
using socstream::testing::TempDir;

namespace {


// A web access event the starter rules flag, distinct per n.
std::string attack(int n) {
  return R"({"@timestamp":"2026-11-30T10:00:0)" + std::to_string(n) + R"(Z","url":{"query":"q=<script>alert()" +
         std::to_string(n) + R"()</script>"}})";
}

// source -> json_parse -> regex_prefilter -> alert -> idempotent Redis stream.
std::filesystem::path topology(const TempDir& dir, const std::string& source) {
  return dir.write("t.yaml", "sources:\n  in: " + source +
                                 "\noperators:\n  parse: {type: json_parse, inputs: [in], fields: {query: /url/query}}\n"
                                 "  rules: {type: regex_prefilter, inputs: [parse], field: query, transforms: [url_decode], rules: '" +
                                 (source_dir() / "config/rules/web.yaml").string() +
                                 "'}\n  alerts: {type: alert, inputs: [rules.match], detector: web}\n"
                                 "sinks:\n  redis: {type: redis, inputs: [alerts], port: \"${REDIS_PORT}\", key: \"${STREAM}\", idempotent: true}\n");
}

std::set<std::string> ids_in(const std::string& stream) {
  std::set<std::string> ids;
  simdjson::dom::parser p;
  for (const auto& a : redis_stream_alerts(stream)) ids.insert(std::string(std::string_view(p.parse(a)["event"]["id"])));
  return ids;
}

void append_line(const std::filesystem::path& f, const std::string& line) {
  std::ofstream(f, std::ios::app) << line << "\n";
}

class AlertIds : public ServerTest {};

}  // namespace

TEST_F(AlertIds, RotationAndCopytruncateKeepEveryAlert) {
  TempDir dir;
  const auto log = dir.path() / "access.log";
  append_line(log, attack(1));
  const std::string stream = unique("ids-file");
  const auto topo = topology(dir, "{type: file, path: '" + log.string() + "', follow: true, poll_interval_ms: 50}");
  Engine e(topo, {{"REDIS_PORT", std::to_string(redis_port())}, {"STREAM", stream}}, log_);
  e.start();
  ASSERT_TRUE(eventually([&] { return redis_xlen(stream) == 1; }, std::chrono::seconds(30)));
  // Rotation: the log moves away and a new file starts at offset 0.
  std::filesystem::rename(log, dir.path() / "access.log.1");
  append_line(log, attack(2));
  EXPECT_TRUE(eventually([&] { return redis_xlen(stream) == 2; }, std::chrono::seconds(30)))
      << "the new file's first alert took the old one's id: " << redis_xlen(stream);
  // copytruncate: the same inode is copied, emptied and written from offset 0 again.
  std::filesystem::copy_file(log, dir.path() / "access.log.2");
  ::close(::open(log.c_str(), O_WRONLY | O_TRUNC));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the source notices the truncation
  append_line(log, attack(3).substr(0, attack(3).size()));
  EXPECT_TRUE(eventually([&] { return redis_xlen(stream) == 3; }, std::chrono::seconds(30)))
      << "the truncated file's first alert took an old id: " << redis_xlen(stream);
  EXPECT_EQ(e.terminate(), 0);
  EXPECT_EQ(ids_in(stream).size(), 3u);
  // The same file read again (a restart) gives the same ids: nothing is written twice.
  Engine again(topo, {{"REDIS_PORT", std::to_string(redis_port())}, {"STREAM", stream}}, log_);
  again.start();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(again.terminate(), 0);
  EXPECT_EQ(redis_xlen(stream), 3) << "a redelivered event keeps its id";
}

TEST_F(AlertIds, ARecreatedTopicKeepsEveryAlert) {
  TempDir dir;
  const std::string topic = unique("ids-topic"), stream = unique("ids-kafka");
  auto run = [&](const std::string& group) {
    const auto topo = topology(dir, "{type: kafka, brokers: '" + brokers() + "', topics: [" + topic + "], group: " + group +
                                        ", start_at: earliest, poll_timeout_ms: 10}");
    Engine e(topo, {{"REDIS_PORT", std::to_string(redis_port())}, {"STREAM", stream}}, log_);
    e.start();
    const bool done = eventually([&] {
      auto [committed, end] = committed_and_end(group, topic);
      return end > 0 && committed == end;
    }, std::chrono::seconds(60));
    EXPECT_EQ(e.terminate(), 0);
    return done;
  };
  create_topic(topic, 1);
  produce_messages(topic, {attack(1)});
  ASSERT_TRUE(run(unique("g")));
  ASSERT_EQ(redis_xlen(stream), 1);
  // The topic is deleted and created again: its first message is offset 0 once more.
  delete_topic(topic);
  ASSERT_TRUE(eventually([&] {
    try {
      create_topic(topic, 1);
      return true;
    } catch (const std::exception&) {
      return false;  // still being deleted
    }
  }, std::chrono::seconds(30)));
  produce_messages(topic, {attack(2)});
  ASSERT_TRUE(run(unique("g")));
  EXPECT_EQ(redis_xlen(stream), 2) << "offset 0 of the new topic took the old offset 0's id";
}

TEST_F(AlertIds, TwoPipelinesShareARedis) {
  // Two pipelines on the same input, each into its own stream of one Redis:
  // their dedupe records must not swallow each other's alerts.
  TempDir dir;
  const auto log = dir.write("access.log", attack(1) + "\n" + attack(2) + "\n");
  const std::string first = unique("ids-a"), second = unique("ids-b");
  const auto topo = topology(dir, "{type: file, path: '" + log.string() + "'}");
  for (const auto& stream : {first, second}) {
    Engine e(topo, {{"REDIS_PORT", std::to_string(redis_port())}, {"STREAM", stream}}, log_);
    e.start();
    EXPECT_EQ(e.wait_exit(), 0);
  }
  EXPECT_EQ(redis_xlen(first), 2);
  EXPECT_EQ(redis_xlen(second), 2) << "the second pipeline's alerts were taken as the first's";
}
