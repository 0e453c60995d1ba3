// Issue 14, hot reload on the real broker and Redis: the 500,000-event stream
// of the other KafkaRedis tests through config/kafka-redis.yaml, with five
// reloads while it runs (unchanged; the rules' descriptions changed; an
// invalid rules file; an operator setting changed; back to the first), and
// nothing lost or doubled.
//
// Which generation processed an event is known exactly, from the broker: a
// reload drains the old generation, whose Kafka source commits what completed
// and leaves the group, and the new one resumes from those offsets. The topology
// commits only then (commit_interval_ms of an hour, the one setting this test
// adds to config/kafka-redis.yaml), so the committed offsets read after each
// reload are that reload's boundary however late the test reads them: with the
// default 1 s interval the new generation's first commit would race the read.
// The changed rules differ only in their descriptions, which an alert carries
// (rule.description), so the alert set is the same in every generation and is
// compared whole with the file pipeline's, while each alert's description must
// be the one of the generation that its partition and offset fall in. An event
// processed twice across a swap would be a duplicate in the alerts topic (Redis
// writes once per id) and, in Redis, an old description past the boundary.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <map>
#include <set>
#include <sstream>

#include "tests/integration/cluster.hpp"
#include "tests/support/test_support.hpp"

using namespace socstream::it;
using socstream::testing::expected_alert_id;
using socstream::testing::read_file;
using socstream::testing::run_command;
using socstream::testing::source_dir;
using socstream::testing::TempDir;

namespace {

constexpr int kEvents = 500000;
constexpr const char* kV2 = " (rules v2)";

std::string replace_once(std::string text, const std::string& what, const std::string& with) {
  const size_t at = text.find(what);
  // The topology is derived from the bundled file: if that changed shape, say so instead of testing something else.
  if (at == std::string::npos || text.find(what, at + 1) != std::string::npos)
    throw std::runtime_error("expected exactly one '" + what + "' in the bundled file");
  return text.replace(at, what.size(), with);
}

int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

// A rules file's descriptions by rule id (the bundled file: one `- id:` line, then its `description:` line).
std::map<std::string, std::string> descriptions(const std::string& rules) {
  std::map<std::string, std::string> out;
  std::istringstream in(rules);
  std::string id;
  for (std::string line; std::getline(in, line);) {
    const size_t i = line.find("- id: "), d = line.find("description: ");
    if (i != std::string::npos) id = line.substr(i + 6);
    if (d != std::string::npos && !id.empty()) out[id] = line.substr(d + 13);
  }
  return out;
}

// Every rule's description with kV2 appended: the same matches, a different text in each alert.
std::string rules_v2(const std::string& rules) {
  std::string out;
  std::istringstream in(rules);
  for (std::string line; std::getline(in, line);) {
    if (line.find("    description: ") == 0) line += kV2;
    out += line + "\n";
  }
  return out;
}

// The value of one component's series in a /metrics scrape; -1 if absent.
double metric(const std::string& scrape, const std::string& name, const std::string& component) {
  const std::string head = name + "{component_id=\"" + component + "\"";
  for (size_t at = scrape.find(head); at != std::string::npos; at = scrape.find(head, at + 1)) {
    if (at != 0 && scrape[at - 1] != '\n') continue;
    const size_t eol = scrape.find('\n', at);
    const std::string line = scrape.substr(at, eol - at);
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

// "2026-11-30T05:15:54.285Z" (event.created) as ms since the epoch.
int64_t utc_ms(std::string_view t) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(std::string(t).c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms) != 7)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The spdlog time ("[2026-11-30 05:15:54.285] ...") of the n-th (from 0) log line holding `text`, in ms; -1 if none.
int64_t log_time(const std::string& log, const std::string& text, int n) {
  size_t at = std::string::npos;
  for (int k = 0; k <= n; ++k) {
    at = log.find(text, at == std::string::npos ? 0 : at + 1);
    if (at == std::string::npos) return -1;
  }
  const size_t bol = log.rfind('\n', at) == std::string::npos ? 0 : log.rfind('\n', at) + 1;
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(log.c_str() + bol, "[%d-%d-%d %d:%d:%d.%d]", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms) != 7)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tm.tm_isdst = -1;
  return static_cast<int64_t>(std::mktime(&tm)) * 1000 + ms;
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The engine's own figure for a reload: "generation N running, X s after the request".
double reported_seconds(const std::string& log, uint64_t generation) {
  const std::string head = "generation " + std::to_string(generation) + " running, ";
  const size_t at = log.find(head);
  return at == std::string::npos ? -1 : std::atof(log.c_str() + at + head.size());
}

// What the engine said generation `old`'s reload changed: "reload (...): SUMMARY; draining generation OLD".
std::string reload_summary(const std::string& log, uint64_t old) {
  const size_t at = log.find("; draining generation " + std::to_string(old) + "\n");
  if (at == std::string::npos) return "<no drain of generation " + std::to_string(old) + ">";
  const size_t from = log.rfind("): ", at);
  return log.substr(from + 3, at - from - 3);
}

struct Alert {
  std::string id, rule, description, key;
  bool model_only = false;
  int32_t partition = -1;
  int64_t offset = -1, created_ms = -1;
};

Alert parse_alert(const std::string& json) {
  simdjson::dom::parser p;
  simdjson::dom::element a = p.parse(json);
  Alert out;
  out.id = std::string(std::string_view(a["event"]["id"]));
  out.rule = std::string(std::string_view(a["rule"]["id"]));
  // An alert of the model's own (mode: augment, no rule matched) has no rule description.
  std::string_view d;
  if (a["rule"]["description"].get(d) == simdjson::SUCCESS) out.description = std::string(d);
  out.model_only = a["socstream"]["rules"].get_array().size() == 0;
  out.partition = static_cast<int32_t>(int64_t(a["socstream"]["source"]["partition"]));
  out.offset = int64_t(a["socstream"]["source"]["offset"]);
  out.created_ms = utc_ms(std::string_view(a["event"]["created"]));
  out.key = web_alert_key(json);
  return out;
}

class KafkaRedisReload : public ServerTest {};

}  // namespace

TEST_F(KafkaRedisReload, FiveReloadsMidRunLoseAndDoubleNothing) {
  const KafkaRedisNames names;
  const std::string &topic = names.topic, &group = names.group, &stream = names.stream,
                    &alerts_topic = names.alerts;
  create_topic(topic, 4);
  const auto file = web_events(kEvents);
  produce_file(topic, file);
  const auto expected = expected_web_alert_keys(file);
  const auto total = static_cast<int64_t>(expected.size());
  ASSERT_GT(total, 50000);

  // The topology: config/kafka-redis.yaml as it is, with the admin endpoint, its
  // rules and model found from a temporary directory, and commits only at drains.
  TempDir dir;
  const int port = free_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const std::string bundled = read_file(source_dir() / "config/kafka-redis.yaml");
  std::string first = "admin: {address: \"127.0.0.1:" + std::to_string(port) + "\"}\n" + bundled;
  first = replace_once(first, "model: ../models/", "model: " + (source_dir() / "models").string() + "/");
  first = replace_once(first, "    poll_timeout_ms: 10\n", "    poll_timeout_ms: 10\n    commit_interval_ms: 3600000\n");
  // (d): an operator's setting that changes how it batches, not what it outputs.
  const std::string batching = replace_once(replace_once(first, "max_batch: 16", "max_batch: 32"), "max_delay_ms: 5",
                                            "max_delay_ms: 8");
  const std::string rules_v1 = read_file(source_dir() / "config/rules/web.yaml");
  const std::string rules_2 = rules_v2(rules_v1);
  const auto desc_v1 = descriptions(rules_v1), desc_v2 = descriptions(rules_2);
  ASSERT_GE(desc_v1.size(), 20u);
  ASSERT_EQ(desc_v1.size(), desc_v2.size());
  // (c): one pattern that RE2 refuses, on a line the error must name.
  const size_t bad_at = rules_2.find("    pattern: ");
  const std::string rules_bad = rules_2.substr(0, bad_at) + "    pattern: '(unclosed'\n" +
                                rules_2.substr(rules_2.find('\n', bad_at) + 1);
  const int bad_line = static_cast<int>(std::count(rules_2.begin(), rules_2.begin() + static_cast<long>(bad_at), '\n')) + 1;
  const auto topo = dir.write("kafka-redis.yaml", first);
  dir.write("rules/web.yaml", rules_v1);

  Engine e(topo,
           names.env(),
           log_);
  e.start();
  ASSERT_TRUE(eventually([&] { return run_command("curl -sf " + url + "/health").exit_code == 0; }, std::chrono::seconds(30)))
      << "the admin endpoint did not answer";

  struct Reload {
    const char* what;
    bool sighup;
    std::string topology, rules;
    bool valid;
  };
  const std::vector<Reload> reloads = {
      {"(a) unchanged, SIGHUP", true, first, rules_v1, true},
      {"(b) rules' descriptions changed, POST", false, first, rules_2, true},
      {"(c) invalid rules file, POST", false, first, rules_bad, false},
      {"(d) an operator's batching changed, SIGHUP", true, batching, rules_2, true},
      {"(e) back to the first, POST", false, first, rules_v1, true},
  };
  // Generation g (1-based) ran with rules v2 or not; bounds[g] is where it ended, per partition.
  const std::vector<bool> v2_in = {false, false, false, true, true, false};
  std::vector<std::vector<int64_t>> bounds = {std::vector<int64_t>(4, 0)};
  std::vector<int64_t> requested_ms, responded_ms;
  std::vector<double> engine_seconds;
  std::vector<std::string> summaries;
  uint64_t generation = 1;

  for (size_t k = 0; k < reloads.size(); ++k) {
    const Reload& r = reloads[k];
    // Spread through the run: after 1/6, 2/6, ... of the alerts.
    const int64_t at = total * static_cast<int64_t>(k + 1) / 6;
    ASSERT_TRUE(eventually([&] { return redis_xlen(stream) >= at; }, std::chrono::seconds(180)))
        << r.what << ": " << redis_xlen(stream) << " of " << total << " alerts";
    ASSERT_TRUE(e.running());
    // Only what differs is written: an unchanged reload rewrites nothing.
    if (read_file(topo) != r.topology) dir.write("kafka-redis.yaml", r.topology);
    if (read_file(dir.path() / "rules/web.yaml") != r.rules) dir.write("rules/web.yaml", r.rules);
    const PartitionOffsets before = partition_offsets(group, topic);
    // What the drain has to complete: the events read and not yet acknowledged.
    const double in_flight =
        metric(run_command("curl -s " + url + "/metrics").out, "socstream_source_unacknowledged_events", "access");
    const int64_t t0 = now_ms();
    std::string body;
    if (r.sighup) {
      ::kill(e.pid(), SIGHUP);
      const std::string running = "generation " + std::to_string(generation + 1) + " running";
      ASSERT_TRUE(eventually([&] { return read_file(log_).find(running) != std::string::npos; }, std::chrono::seconds(120)))
          << r.what << ": no '" << running << "'";
    } else {
      body = run_command("curl -s --max-time 120 -w ' %{http_code}' -X POST " + url + "/api/reload").out;
    }
    const int64_t t1 = now_ms();
    std::cout << "[ info     ] " << r.what << " with " << in_flight << " events in flight: " << (t1 - t0) << " ms to "
              << (r.valid ? "the new generation running" : "the refusal") << "\n";
    if (!r.valid) {
      EXPECT_NE(body.find(R"("ok":false,"generation":3)"), std::string::npos) << body;
      EXPECT_EQ(body.substr(body.size() - 4), " 422") << body;
      // The pattern's value starts after "    pattern: ", at column 14.
      EXPECT_NE(body.find("rules/web.yaml:" + std::to_string(bad_line) + ":14: error"), std::string::npos)
          << "the error names the file, line " << bad_line << " and column: " << body;
      const std::string scrape = run_command("curl -s " + url + "/metrics").out;
      for (const char* line : {"socstream_reloads_failed_total 1\n", "socstream_reloads_total 2\n",
                               "socstream_topology_generation 3\n", "socstream_config_last_reload_successful 0\n"})
        EXPECT_NE(scrape.find(line), std::string::npos) << line;
      // Generation 3 goes on: it did not drain (a drain commits, and nothing else does) and alerts keep coming.
      EXPECT_EQ(partition_offsets(group, topic).committed, before.committed) << "the refused reload drained";
      const int64_t then = redis_xlen(stream);
      EXPECT_TRUE(eventually([&] { return redis_xlen(stream) > then + 1000; }, std::chrono::seconds(60)))
          << "generation 3 stopped after the refused reload";
      EXPECT_NE(read_file(log_).find("generation 3 goes on unchanged"), std::string::npos);
      continue;
    }
    if (!r.sighup) {
      EXPECT_NE(body.find(R"("ok":true,"generation":)" + std::to_string(generation + 1)), std::string::npos) << body;
      EXPECT_EQ(body.substr(body.size() - 4), " 200") << body;
    }
    ++generation;
    requested_ms.push_back(t0);
    responded_ms.push_back(t1);
    engine_seconds.push_back(reported_seconds(read_file(log_), generation));
    summaries.push_back(reload_summary(read_file(log_), generation - 1));
    const PartitionOffsets after = partition_offsets(group, topic);
    int64_t committed = 0, end = 0;
    for (size_t p = 0; p < 4; ++p) {
      EXPECT_GE(after.committed[p], bounds.back()[p]) << r.what << ": partition " << p << " went back";
      committed += after.committed[p];
      end += after.end[p];
    }
    // Partitions are not read evenly: one may have ended, but not all.
    EXPECT_LT(committed, end) << r.what << ": the run had ended";
    bounds.push_back(after.committed);
  }
  ASSERT_EQ(generation, 5u);
  // What each reload saw change (every component is rebuilt either way; the summary is for the operator).
  EXPECT_EQ(summaries[0], "0 changed, 0 added, 0 removed, 8 unchanged");
  EXPECT_EQ(summaries[1], "1 changed (suspect), 0 added, 0 removed, 7 unchanged");
  EXPECT_NE(summaries[2].find("classify"), std::string::npos) << summaries[2];
  EXPECT_NE(summaries[3].find("classify"), std::string::npos) << summaries[3];
  EXPECT_NE(summaries[3].find("suspect"), std::string::npos) << summaries[3];

  // The end: every event read once (the counter carries over the swaps) and none unacknowledged.
  std::string scrape;
  ASSERT_TRUE(eventually([&] {
    scrape = run_command("curl -s " + url + "/metrics").out;
    return metric(scrape, "socstream_component_received_events_total", "parse") >= kEvents &&
           metric(scrape, "socstream_source_unacknowledged_events", "access") == 0 && redis_xlen(stream) >= total;
  }, std::chrono::seconds(180))) << redis_xlen(stream) << " of " << total << " alerts\n" << scrape;
  EXPECT_EQ(metric(scrape, "socstream_component_received_events_total", "parse"), kEvents)
      << "an event went through the pipeline twice";
  EXPECT_NE(scrape.find("socstream_reloads_total 4\n"), std::string::npos);
  EXPECT_EQ(e.terminate(), 0);
  const PartitionOffsets last = partition_offsets(group, topic);
  EXPECT_EQ(last.committed, last.end) << "the group's committed offsets reach the end of every partition";
  int64_t sum = 0;
  for (auto x : last.end) sum += x;
  EXPECT_EQ(sum, kEvents);
  bounds.push_back(last.end);

  // Which generation an alert's event belongs to, from its partition and offset.
  auto generation_of = [&](const Alert& a) -> size_t {
    for (size_t g = 1; g < bounds.size(); ++g)
      if (a.offset < bounds[g][static_cast<size_t>(a.partition)]) return g;
    return 0;
  };
  const auto origins = message_timestamps(topic);
  ASSERT_EQ(origins.size(), static_cast<size_t>(kEvents));

  // Redis: each expected alert once, with the id its event gives and the generation's description.
  std::vector<Alert> in_redis;
  for (const auto& j : redis_stream_alerts(stream)) in_redis.push_back(parse_alert(j));
  std::multiset<std::string> keys;
  std::set<std::string> ids;
  std::set<std::pair<int32_t, int64_t>> positions;
  std::vector<int64_t> per_generation(bounds.size(), 0), first_ms(bounds.size(), INT64_MAX), last_ms(bounds.size(), 0);
  size_t wrong_description = 0, wrong_id = 0;
  for (const Alert& a : in_redis) {
    keys.insert(a.key);
    ids.insert(a.id);
    positions.insert({a.partition, a.offset});
    const size_t g = generation_of(a);
    ASSERT_GE(g, 1u) << "an alert past the end: " << a.partition << "@" << a.offset;
    ++per_generation[g];
    first_ms[g] = std::min(first_ms[g], a.created_ms);
    last_ms[g] = std::max(last_ms[g], a.created_ms);
    const auto& want = v2_in[g] ? desc_v2 : desc_v1;
    const auto d = want.find(a.rule);
    if (a.model_only ? !a.description.empty() || a.rule != "web-attack-classifier"
                     : d == want.end() || d->second != a.description) {
      if (wrong_description++ < 5)
        ADD_FAILURE() << "partition " << a.partition << " offset " << a.offset << " is generation " << g << "'s ("
                      << (v2_in[g] ? "rules v2" : "rules v1") << ") but its alert says '" << a.description << "'";
    }
    const auto origin = origins.find({a.partition, a.offset});
    if (origin == origins.end() ||
        a.id != expected_alert_id("web-attacks", "access", topic, a.partition, a.offset, origin->second))
      ++wrong_id;
  }
  EXPECT_EQ(wrong_description, 0u) << "alerts whose description is not their generation's";
  EXPECT_EQ(wrong_id, 0u) << "alerts whose id is not the one their event gives";
  EXPECT_EQ(static_cast<int64_t>(in_redis.size()), total);
  EXPECT_EQ(ids.size(), in_redis.size()) << "an id twice in Redis";
  EXPECT_EQ(positions.size(), in_redis.size()) << "an event alerted twice in Redis";
  EXPECT_TRUE(keys == expected) << "exactly the file pipeline's alerts in Redis: " << keys.size() << " for "
                                << expected.size() << " expected";

  // The alerts topic: every alert once. A drain completes everything in flight
  // before the next generation starts, so nothing is delivered twice.
  std::vector<Alert> in_kafka;
  for (const auto& j : consume_all(alerts_topic)) in_kafka.push_back(parse_alert(j));
  std::set<std::string> kafka_ids;
  size_t kafka_wrong_description = 0;
  for (const Alert& a : in_kafka) {
    kafka_ids.insert(a.id);
    const size_t g = generation_of(a);
    const auto& want = v2_in[g] ? desc_v2 : desc_v1;
    if (g == 0 || (a.model_only ? !a.description.empty()
                                : !want.count(a.rule) || want.at(a.rule) != a.description))
      ++kafka_wrong_description;
  }
  EXPECT_EQ(kafka_ids, ids) << "the alerts topic and Redis hold the same alerts";
  EXPECT_EQ(in_kafka.size(), kafka_ids.size()) << in_kafka.size() - kafka_ids.size() << " duplicates in the alerts topic";
  EXPECT_EQ(kafka_wrong_description, 0u);

  // Each generation took its partitions once, and each reload came mid-run.
  const std::string log = read_file(log_);
  EXPECT_EQ(occurrences(log, "access: assigned 4 partition(s)"), 5u) << "one assignment per generation";
  for (size_t g = 1; g < bounds.size(); ++g) {
    int64_t events = 0;
    for (size_t p = 0; p < 4; ++p) events += bounds[g][p] - bounds[g - 1][p];
    std::cout << "[ info     ] generation " << g << (v2_in[g] ? " (rules v2)" : "") << ": " << events << " events, "
              << per_generation[g] << " alerts\n";
    EXPECT_GT(per_generation[g], 0) << "generation " << g << " alerted on nothing";
  }
  // What a reload costs: the engine's request to running (of which the drain),
  // the new consumer's join and model load (running to partitions assigned, to
  // the model loaded), and the gap in alert output (event.created).
  for (size_t k = 0; k < requested_ms.size(); ++k) {
    const size_t g = k + 2;  // the generation this reload started
    const int n = static_cast<int>(g - 1);
    const int64_t draining = log_time(log, "draining generation " + std::to_string(g - 1), 0);
    const int64_t running = log_time(log, "generation " + std::to_string(g) + " running", 0);
    const int64_t assigned = log_time(log, "access: assigned 4 partition(s)", n);
    const int64_t loaded = log_time(log, "transformer: web-attack-classifier v1 (classify) loaded", n);
    std::cout << "[ info     ] reload to generation " << g << ": " << engine_seconds[k] * 1000
              << " ms request to running (engine; " << running - draining << " ms drain), "
              << responded_ms[k] - requested_ms[k] << " ms seen by the test; running to partitions assigned "
              << assigned - running << " ms, to the model loaded " << loaded - running << " ms; "
              << first_ms[g] - last_ms[g - 1] << " ms between the last alert of generation " << g - 1
              << " and the first of " << g << ", " << first_ms[g] - requested_ms[k] << " ms request to the first alert\n";
  }
}

// A reload that fixes a wrong Redis address must not wait for the old
// generation's sink to reach the old one: past shutdown_timeout_s the old sink
// gives its batch up unacknowledged, the new generation reads it again from
// the commits, and the run still ends 0 (those events were acknowledged later).
TEST_F(KafkaRedisReload, AReloadThatFixesTheRedisPortIsNotHeldByTheOldSink) {
  const KafkaRedisNames names;
  const std::string &topic = names.topic, &group = names.group, &stream = names.stream,
                    &alerts_topic = names.alerts;
  create_topic(topic, 1);
  std::vector<std::string> events;
  {
    std::istringstream in(read_file(source_dir() / "config/samples/web-access.jsonl"));
    for (std::string l; events.size() < 3000 && std::getline(in, l);) events.push_back(l);
  }
  produce_messages(topic, events);
  TempDir dir;
  std::string lines;
  for (const auto& l : events) lines += l + "\n";
  const auto expected = expected_web_alert_keys(dir.write("events.jsonl", lines));
  ASSERT_GT(expected.size(), 100u);

  const int port = free_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  std::string wrong = "admin: {address: \"127.0.0.1:" + std::to_string(port) + "\"}\nshutdown_timeout_s: 3\n" +
                      read_file(source_dir() / "config/kafka-redis.yaml");
  wrong = replace_once(wrong, "model: ../models/", "model: " + (source_dir() / "models").string() + "/");
  wrong = replace_once(wrong, "rules: rules/", "rules: " + (source_dir() / "config/rules").string() + "/");
  wrong = replace_once(wrong, "    poll_timeout_ms: 10\n", "    poll_timeout_ms: 10\n    drain_timeout_ms: 3000\n");
  const std::string fixed = replace_once(wrong, "port: \"${REDIS_PORT:-6379}\"", "port: " + std::to_string(redis_port()));
  const auto topo = dir.write("kafka-redis.yaml", wrong);
  auto env = names.env();
  env["REDIS_PORT"] = std::to_string(free_port());  // nothing listens there
  Engine e(topo, env, log_);
  e.start();
  // The pipeline is held by the sink: the source has read, nothing is acknowledged.
  ASSERT_TRUE(eventually([&] {
    return metric(run_command("curl -s " + url + "/metrics").out, "socstream_source_unacknowledged_events", "access") > 0;
  }, std::chrono::seconds(30)));

  dir.write("kafka-redis.yaml", fixed);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string body = run_command("curl -s --max-time 30 -w ' %{http_code}' -X POST " + url + "/api/reload").out;
  EXPECT_NE(body.find(R"("ok":true,"generation":2)"), std::string::npos) << body;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(15)) << "the drain waited past shutdown_timeout_s";
  ASSERT_TRUE(eventually([&] {
    auto [committed, end] = committed_and_end(group, topic);
    return redis_xlen(stream) >= static_cast<int64_t>(expected.size()) && committed == end;
  }, std::chrono::seconds(60))) << redis_xlen(stream) << " of " << expected.size();
  EXPECT_EQ(e.terminate(), 0);
  EXPECT_EQ(web_alert_keys(redis_stream_alerts(stream)), expected) << "every alert once in Redis";
  // The alerts topic may hold some twice: the old generation's Kafka sink
  // delivered alerts whose Redis writes it gave up, and the new one reads them again.
  const auto in_kafka = web_alert_keys(consume_all(alerts_topic));
  EXPECT_EQ(std::set<std::string>(in_kafka.begin(), in_kafka.end()),
            std::set<std::string>(expected.begin(), expected.end()));
}

// The same with a file source: it hands over the first line not acknowledged,
// not its read position, so the lines the old sink gave up are read again.
TEST_F(KafkaRedisReload, AFileSourceReadsAgainWhatTheOldSinkGaveUp) {
  TempDir dir;
  std::string lines;
  for (int i = 0; i < 200; ++i) lines += "{\"n\":" + std::to_string(i) + "}\n";
  dir.write("in.jsonl", lines);
  const std::string stream = unique("file-reload");
  const int port = free_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto topology = [&](int redis) {
    return "admin: {address: \"127.0.0.1:" + std::to_string(port) + "\"}\nshutdown_timeout_s: 2\n" + R"(sources:
  in: {type: file, path: in.jsonl, follow: true, batch_size: 50}
operators:
  parse: {type: json_parse, inputs: [in], fields: all}
  alerts: {type: alert, inputs: [parse], detector: probe}
sinks:
  redis: {type: redis, inputs: [alerts], port: )" + std::to_string(redis) + ", key: " + stream +
           ", idempotent: true, backoff_initial_ms: 50, backoff_max_ms: 200}\n";
  };
  const auto topo = dir.write("t.yaml", topology(free_port()));  // nothing listens there
  Engine e(topo, {}, log_);
  e.start();
  ASSERT_TRUE(eventually([&] {
    return metric(run_command("curl -s " + url + "/metrics").out, "socstream_source_unacknowledged_events", "in") > 0;
  }, std::chrono::seconds(30)));
  dir.write("t.yaml", topology(redis_port()));
  const std::string body = run_command("curl -s --max-time 30 -w ' %{http_code}' -X POST " + url + "/api/reload").out;
  EXPECT_NE(body.find(R"("ok":true,"generation":2)"), std::string::npos) << body;
  EXPECT_TRUE(eventually([&] { return redis_xlen(stream) == 200; }, std::chrono::seconds(30)))
      << redis_xlen(stream) << " of 200\n" << read_file(log_);
  EXPECT_EQ(e.terminate(), 0) << read_file(log_);
  EXPECT_EQ(redis_xlen(stream), 200);
}
