// The feedback loop on the real broker and server (config/online-feedback.yaml):
// analysts' verdicts produced to a Kafka topic change what the live online
// model says about the next events, verdicts naming an alert are joined with
// it, bad ones reach the dead-letter topic, and a verdict's offset is
// committed once a snapshot holds it.
#include <gtest/gtest.h>
#include <simdjson.h>

#include "tests/integration/cluster.hpp"
#include "tests/support/http_params.hpp"
#include "tests/support/test_support.hpp"

using namespace socstream::it;
using socstream::testing::read_file;
using socstream::testing::source_dir;
using socstream::testing::TempDir;

namespace {

std::string event(const std::string& query) {
  std::string q;
  for (char c : query) q += c == '"' ? std::string("\\\"") : std::string(1, c);
  return R"({"@timestamp":"2026-11-22T10:00:00Z","source":{"ip":"203.0.113.9"},"http":{"request":{"method":"GET"},"response":{"status_code":200}},"url":{"path":"/search","query":"q=)" +
         q + R"("},"user_agent":{"original":"curl/8.0"}})";
}

std::string verdict_text(const std::string& text, const std::string& label) {
  std::string doc = "{\"text\":\"";
  for (char c : text) {
    if (c == '"' || c == '\\') doc += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    doc += c;
  }
  return doc + "\",\"label\":\"" + label + "\",\"analyst\":\"it\"}";
}

struct Alert {
  std::string id, query, label;
};

std::vector<Alert> alerts(const std::string& stream) {
  std::vector<Alert> out;
  simdjson::dom::parser p;
  for (const auto& doc : redis_stream_alerts(stream)) {
    simdjson::dom::element a = p.parse(doc);
    std::string_view label;
    if (a["socstream"]["model"]["label"].get(label) != simdjson::SUCCESS) label = "";
    out.push_back({std::string(std::string_view(a["event"]["id"])), std::string(std::string_view(a["url"]["query"])),
                   std::string(label)});
  }
  return out;
}

// The alert on the event whose query parameter q was `value`.
const Alert* find(const std::vector<Alert>& all, const std::string& value) {
  for (const auto& a : all)
    if (a.query == "q=" + value) return &a;
  return nullptr;
}

// The model's update count in its newest metrics event.
int64_t updates(const std::string& metrics_stream) {
  auto docs = redis_stream_alerts(metrics_stream);
  if (docs.empty()) return -1;
  simdjson::dom::parser p;
  return int64_t(p.parse(docs.back())["updates"]);
}

}  // namespace

TEST(OnlineFeedback, VerdictsOnAKafkaTopicChangeTheLiveModelsNextPredictions) {
  std::string missing = check_servers();
  ASSERT_TRUE(missing.empty()) << "integration tests need the real servers: " << missing;
  const std::string topic = unique("access"), feedback = unique("feedback"), dlq = unique("dlq"),
                    stream = unique("alerts"), metrics = unique("metrics"), drift = unique("drift"),
                    fgroup = unique("fgroup");
  create_topic(topic, 1);  // one partition each: a later sentinel's alert means the probe before it was scored
  create_topic(feedback, 1);
  TempDir state;
  const auto log = std::filesystem::path(SOCSTREAM_BUILD_DIR) / "it-work" / "online-feedback.log";
  std::filesystem::create_directories(log.parent_path());
  Engine engine(source_dir() / "config/online-feedback.yaml",
                {{"KAFKA_BROKERS", brokers()},
                 {"REDIS_PORT", std::to_string(redis_port())},
                 {"SOCSTREAM_TOPIC", topic},
                 {"SOCSTREAM_GROUP", unique("group")},
                 {"SOCSTREAM_FEEDBACK_TOPIC", feedback},
                 {"SOCSTREAM_FEEDBACK_GROUP", fgroup},
                 {"SOCSTREAM_STREAM", stream},
                 {"SOCSTREAM_METRICS_STREAM", metrics},
                 {"SOCSTREAM_DRIFT_STREAM", drift},
                 {"SOCSTREAM_DLQ_TOPIC", dlq},
                 {"SOCSTREAM_STATE_DIR", state.path().string()},
                 {"SOCSTREAM_METRICS_INTERVAL_S", "1"},
                 {"SOCSTREAM_SNAPSHOT_INTERVAL_S", "1"}},
                log);

  // Analysts' labelled examples first: the model starts empty.
  const auto rows = socstream::testing::http_params((source_dir() / "tests/data/http_params/train.csv").string());
  std::vector<std::string> verdicts;
  for (size_t i = 0; i < 4000; ++i) verdicts.push_back(verdict_text(rows[i].text, rows[i].label));
  produce_messages(feedback, verdicts);
  engine.start();
  ASSERT_TRUE(eventually([&] { return updates(metrics) >= 4000; }, std::chrono::seconds(60)))
      << "updates: " << updates(metrics) << "\n" << read_file(log);

  // A scanner's probes look benign to it; a known attack after each probe tells when the probe was scored.
  const std::string probe1 = "zqx-scan-7781", sentinel1 = "1' union select password from users--";
  produce_messages(topic, {event(probe1), event(sentinel1)});
  ASSERT_TRUE(eventually([&] { return find(alerts(stream), sentinel1) != nullptr; }, std::chrono::seconds(30)))
      << read_file(log);
  EXPECT_EQ(find(alerts(stream), probe1), nullptr) << "the probe was flagged before any verdict on it";

  // Analysts say such probes are attacks (xss, say); the model learns on the fly.
  std::vector<std::string> probes;
  for (int i = 0; i < 30; ++i) probes.push_back(verdict_text("zqx-scan-" + std::to_string(1000 + 37 * i), "xss"));
  produce_messages(feedback, probes);
  ASSERT_TRUE(eventually([&] { return updates(metrics) >= 4030; }, std::chrono::seconds(30))) << read_file(log);

  const std::string probe2 = "zqx-scan-9913", sentinel2 = "../../../../etc/passwd";
  produce_messages(topic, {event(probe2), event(sentinel2)});
  ASSERT_TRUE(eventually([&] { return find(alerts(stream), sentinel2) != nullptr; }, std::chrono::seconds(30)))
      << read_file(log);
  const auto now = alerts(stream);
  const Alert* flagged = find(now, probe2);
  ASSERT_NE(flagged, nullptr) << "the verdicts did not change the live model's prediction";
  EXPECT_EQ(flagged->label, "xss");
  EXPECT_EQ(find(now, sentinel2)->label, "path-traversal");
  socstream::testing::expect_schema_valid(redis_stream_alerts(stream), "config/online-feedback.yaml");

  // A verdict by alert id joins the alert the model remembered; an unknown id is dead-lettered.
  produce_messages(feedback, {"{\"alert_id\":\"" + flagged->id + "\",\"label\":\"true_positive\"}",
                              "{\"alert_id\":\"00000000deadbeef\",\"label\":\"xss\"}"});
  ASSERT_TRUE(eventually([&] { return updates(metrics) >= 4031; }, std::chrono::seconds(30))) << read_file(log);
  ASSERT_TRUE(eventually([&] { return consume_all(dlq).size() >= 1; }, std::chrono::seconds(30))) << read_file(log);
  auto dead = consume_all(dlq);
  ASSERT_EQ(dead.size(), 1u);
  simdjson::dom::parser p;
  simdjson::dom::element d = p.parse(dead[0]);
  EXPECT_EQ(std::string_view(d["error"]["reason"]), "unknown_alert");
  EXPECT_EQ(std::string_view(d["source"]["name"]), "feedback");

  EXPECT_EQ(engine.terminate(), 0);
  EXPECT_EQ(updates(metrics), 4031) << "the shutdown metrics count every verdict once";
  // Every verdict was acknowledged, and so committed, once a snapshot held it.
  auto [committed, end] = committed_and_end(fgroup, feedback);
  EXPECT_EQ(end, 4000 + 30 + 2);
  EXPECT_EQ(committed, end);
  bool snapshot = false;
  for (const auto& f : std::filesystem::directory_iterator(state.path() / "online"))
    snapshot |= f.path().extension() == ".snap";
  EXPECT_TRUE(snapshot);
}
