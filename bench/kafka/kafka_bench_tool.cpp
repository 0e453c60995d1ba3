// Helpers for bench/run_kafka.sh, on librdkafka directly:
//   kafka_bench_tool create-topic TOPIC PARTITIONS
//   kafka_bench_tool produce TOPIC FILE [RATE]     lines as messages; RATE per second (0: as fast as possible)
//   kafka_bench_tool consume TOPIC COUNT           the raw consume ceiling: a fresh group reads COUNT
//                                                  messages; prints events/s from the first to the last
//   kafka_bench_tool latency TOPIC STREAM REDIS_PORT [SINCE_MS]
//       per alert in the Redis stream: the stream entry's time (its id, ms) minus the
//       CreateTime of the Kafka message it came from (found by partition and offset);
//       prints p50, p99 and max
//   kafka_bench_tool labels STREAM REDIS_PORT
//       alerts per model label in the Redis stream, as "label count" lines
//   kafka_bench_tool committed TOPIC GROUP         "COMMITTED END": the group's committed offsets and the end offsets, summed
//   kafka_bench_tool parse FILE                    the parse ceiling: simdjson's DOM parse of each line, events/s
// Brokers from $KAFKA_BROKERS.
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <simdjson.h>

#include <algorithm>
#include <map>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

rd_kafka_conf_t* conf_for(const std::vector<std::pair<const char*, std::string>>& props) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  const char* b = std::getenv("KAFKA_BROKERS");
  rd_kafka_conf_set(conf, "bootstrap.servers", b ? b : "127.0.0.1:19092", err, sizeof err);
  for (auto& [k, v] : props)
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "%s: %s\n", k, err);
      std::exit(2);
    }
  return conf;
}

int create_topic(const char* topic, int partitions) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf_for({}), err, sizeof err);
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof err);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  int rc = 0;
  size_t n = 0;
  const rd_kafka_topic_result_t** res =
      ev ? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n) : nullptr;
  if (!ev || (n == 1 && rd_kafka_topic_result_error(res[0]) &&
              rd_kafka_topic_result_error(res[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)) {
    std::fprintf(stderr, "create-topic %s failed\n", topic);
    rc = 1;
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return rc;
}

int produce(const char* topic, const char* file, double rate) {
  char err[512];
  // Paced: 5 ms of linger, as a real producer would; 0 would send one request per message and
  // load the broker (on the same two cores) far more than the traffic itself does.
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf_for({{"linger.ms", rate > 0 ? "5" : "20"},
                                                               {"compression.type", "lz4"},
                                                               {"partitioner", "random"}}),
                                err, sizeof err);
  std::ifstream in(file);
  const auto start = Clock::now();
  uint64_t n = 0;
  for (std::string line; std::getline(in, line); ++n) {
    if (rate > 0) {
      // Paced against the start, so a slow moment is made up rather than lost.
      auto due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(n / rate));
      if (due > Clock::now()) std::this_thread::sleep_until(due);
    }
    while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(line.data(), line.size()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
      rd_kafka_poll(rk, 10);
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 120000);
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("produced %llu messages in %.2f s (%.0f/s)\n", static_cast<unsigned long long>(n), s, n / s);
  rd_kafka_destroy(rk);
  return 0;
}

int consume(const char* topic, uint64_t count) {
  char err[512];
  const std::string group = "bench-raw-" + std::to_string(Clock::now().time_since_epoch().count());
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER,
                                conf_for({{"group.id", group}, {"auto.offset.reset", "earliest"},
                                          {"enable.auto.commit", "false"}}),
                                err, sizeof err);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* subs = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk, subs);
  rd_kafka_topic_partition_list_destroy(subs);
  rd_kafka_queue_t* q = rd_kafka_queue_get_consumer(rk);
  std::vector<rd_kafka_message_t*> msgs(2048);
  uint64_t got = 0, bytes = 0;
  Clock::time_point first{};
  const auto deadline = Clock::now() + std::chrono::minutes(5);
  while (got < count && Clock::now() < deadline) {
    ssize_t n = rd_kafka_consume_batch_queue(q, 100, msgs.data(), msgs.size());
    for (ssize_t i = 0; i < n; ++i) {
      if (!msgs[i]->err) {
        if (got++ == 0) first = Clock::now();
        bytes += msgs[i]->len;
      }
      rd_kafka_message_destroy(msgs[i]);
    }
  }
  const double s = std::chrono::duration<double>(Clock::now() - first).count();
  std::printf("consumed %llu messages (%llu bytes) in %.3f s: %.0f events/s\n", static_cast<unsigned long long>(got),
              static_cast<unsigned long long>(bytes), s, got / s);
  rd_kafka_queue_destroy(q);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return got == count ? 0 : 1;
}

// Every message's CreateTime by (partition, offset), read with an assign-based consumer.
std::map<std::pair<int32_t, int64_t>, int64_t> message_times(const char* topic) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf_for({{"group.id", "bench-latency"}, {"enable.auto.commit", "false"}}),
                                err, sizeof err);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic, nullptr);
  rd_kafka_metadata(rk, 0, rkt, &md, 10000);
  const int parts = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(parts);
  int64_t want = 0;
  for (int p = 0; p < parts; ++p) {
    int64_t lo = 0, hi = 0;
    rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
    want += hi - lo;
    rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  std::map<std::pair<int32_t, int64_t>, int64_t> times;
  while (static_cast<int64_t>(times.size()) < want) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 1000);
    if (!m) continue;
    if (!m->err) times[{m->partition, m->offset}] = rd_kafka_message_timestamp(m, nullptr);
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return times;
}

template <class F>
void each_alert(const char* stream, int port, F&& f) {
  redisContext* c = redisConnect("127.0.0.1", port);
  simdjson::dom::parser parser;
  std::string from = "-";
  for (;;) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "XRANGE %s %s + COUNT 5000", stream, from.c_str()));
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) break;
    for (size_t i = 0; i < r->elements; ++i) {
      std::string id(r->element[i]->element[0]->str);
      redisReply* kv = r->element[i]->element[1];
      f(id, parser.parse(kv->element[1]->str, kv->element[1]->len).value());
      from = "(" + id;
    }
    freeReplyObject(r);
  }
  redisFree(c);
}

// Only messages produced at or after since_ms count (0: all): a warm-up before it is not measured.
int latency(const char* topic, const char* stream, int port, int64_t since_ms) {
  auto times = message_times(topic);
  std::erase_if(times, [&](const auto& kv) { return kv.second < since_ms; });
  std::vector<int64_t> lat;
  each_alert(stream, port, [&](const std::string& id, simdjson::dom::element a) {
    auto src = a["socstream"]["source"];
    auto t = times.find({static_cast<int32_t>(int64_t(src["partition"])), int64_t(src["offset"])});
    if (t != times.end()) lat.push_back(std::stoll(id.substr(0, id.find('-'))) - t->second);
  });
  if (lat.empty()) return 1;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double q) { return lat[std::min(lat.size() - 1, static_cast<size_t>(q * lat.size()))]; };
  std::printf("latency over %zu alerts: p50 %lld ms, p99 %lld ms, max %lld ms\n", lat.size(),
              static_cast<long long>(pct(0.5)), static_cast<long long>(pct(0.99)), static_cast<long long>(lat.back()));
  return 0;
}

int labels(const char* stream, int port) {
  std::map<std::string, long> n;
  each_alert(stream, port, [&](const std::string&, simdjson::dom::element a) {
    std::string_view l;
    if (a["socstream"]["model"]["label"].get(l) != simdjson::SUCCESS) l = "(none)";
    ++n[std::string(l)];
  });
  for (auto& [l, c] : n) std::printf("%s %ld\n", l.c_str(), c);
  return 0;
}

int committed(const char* topic, const char* group) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf_for({{"group.id", group}}), err, sizeof err);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic, nullptr);
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) return 1;
  const int parts = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(parts);
  int64_t end = 0, done = 0;
  for (int p = 0; p < parts; ++p) {
    int64_t lo = 0, hi = 0;
    rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
    end += hi;
    rd_kafka_topic_partition_list_add(list, topic, p);
  }
  rd_kafka_committed(rk, list, 10000);
  for (int i = 0; i < list->cnt; ++i) done += std::max<int64_t>(0, list->elems[i].offset);
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
  std::printf("%lld %lld\n", static_cast<long long>(done), static_cast<long long>(end));
  return 0;
}

int parse(const char* file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(std::move(l));
  simdjson::dom::parser p;
  size_t ok = 0;
  auto t0 = Clock::now();
  for (const auto& l : lines) ok += p.parse(l).error() == simdjson::SUCCESS;
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("parsed %zu of %zu events in %.3f s: %.0f events/s\n", ok, lines.size(), s, lines.size() / s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "create-topic" && argc == 4) return create_topic(argv[2], std::atoi(argv[3]));
  if (cmd == "produce" && argc >= 4) return produce(argv[2], argv[3], argc > 4 ? std::atof(argv[4]) : 0);
  if (cmd == "consume" && argc == 4) return consume(argv[2], std::strtoull(argv[3], nullptr, 10));
  if (cmd == "latency" && (argc == 5 || argc == 6))
    return latency(argv[2], argv[3], std::atoi(argv[4]), argc == 6 ? std::atoll(argv[5]) : 0);
  if (cmd == "labels" && argc == 4) return labels(argv[2], std::atoi(argv[3]));
  if (cmd == "parse" && argc == 3) return parse(argv[2]);
  if (cmd == "committed" && argc == 4) return committed(argv[2], argv[3]);
  std::fprintf(stderr, "usage: kafka_bench_tool create-topic TOPIC PARTITIONS | produce TOPIC FILE [RATE] | consume TOPIC COUNT | latency TOPIC STREAM REDIS_PORT [SINCE_MS] | labels STREAM REDIS_PORT | committed TOPIC GROUP | parse FILE\n");
  return 64;
}
