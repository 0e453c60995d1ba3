#include "tests/integration/cluster.hpp"

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/test_support.hpp"

namespace socstream::it {

using testing::run_command;

std::string brokers() {
  const char* b = std::getenv("KAFKA_BROKERS");
  return b ? b : "127.0.0.1:19092";
}

int redis_port() {
  const char* p = std::getenv("REDIS_PORT");
  return p ? std::atoi(p) : 16379;
}

std::string check_servers() {
  std::string missing;
  if (run_command("kcat -b " + brokers() + " -L -m 5").exit_code != 0)
    missing += "no Kafka broker at " + brokers() + " (scripts/kafka.sh start). ";
  if (redis_cli("ping") != "PONG") missing += "no redis-server on port " + std::to_string(redis_port()) + " (scripts/redis.sh start).";
  return missing;
}

namespace {
rd_kafka_t* client(rd_kafka_type_t type, const std::string& group = "") {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers().c_str(), err, sizeof err);
  if (!group.empty()) rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) throw std::runtime_error(err);
  return rk;
}
}  // namespace

namespace {

// Runs one admin request (`send` queues it on q) and waits for its one topic's
// result; "" on success or when `ignore` is the topic's error, else what went wrong.
template <class Send, class Results>
std::string admin_request(Send send, Results results, rd_kafka_resp_err_t ignore) {
  rd_kafka_t* rk = client(RD_KAFKA_PRODUCER);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  send(rk, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  std::string failure;
  if (!ev) {
    failure = "no answer";
  } else if (rd_kafka_event_error(ev)) {
    failure = rd_kafka_event_error_string(ev);
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** res = results(ev, &n);
    if (n == 1 && rd_kafka_topic_result_error(res[0]) && rd_kafka_topic_result_error(res[0]) != ignore)
      failure = rd_kafka_topic_result_error_string(res[0]);
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return failure;
}

}  // namespace

void create_topic(const std::string& topic, int partitions) {
  char err[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
  const std::string failure = admin_request(
      [&](rd_kafka_t* rk, rd_kafka_queue_t* q) { rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q); },
      [](rd_kafka_event_t* ev, size_t* n) {
        return rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), n);
      },
      RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
  rd_kafka_NewTopic_destroy(nt);
  if (!failure.empty()) throw std::runtime_error("creating topic " + topic + ": " + failure);
}

void delete_topic(const std::string& topic) {
  rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(topic.c_str());
  const std::string failure = admin_request(
      [&](rd_kafka_t* rk, rd_kafka_queue_t* q) { rd_kafka_DeleteTopics(rk, &dt, 1, nullptr, q); },
      [](rd_kafka_event_t* ev, size_t* n) {
        return rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), n);
      },
      RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_DeleteTopic_destroy(dt);
  if (!failure.empty()) throw std::runtime_error("deleting topic " + topic + ": " + failure);
}

void produce_file(const std::string& topic, const std::filesystem::path& file) {
  // kcat -l: one message per line. A random partitioner spreads lines over partitions.
  auto r = run_command("kcat -b " + brokers() + " -t " + topic + " -P -l -X topic.partitioner=random " +
                       "-X message.max.bytes=16777216 -X compression.type=lz4 " + file.string());
  if (r.exit_code != 0) throw std::runtime_error("kcat produce: " + r.err);
}

std::vector<std::string> consume_all(const std::string& topic) {
  auto r = run_command("kcat -b " + brokers() + " -t " + topic + " -C -e -q -D '\\n\\x1e\\n' -X fetch.message.max.bytes=20000000");
  std::vector<std::string> out;
  const std::string sep = "\n\x1e\n";
  size_t at = 0;
  while (at < r.out.size()) {
    size_t next = r.out.find(sep, at);
    if (next == std::string::npos) break;
    out.push_back(r.out.substr(at, next - at));
    at = next + sep.size();
  }
  return out;
}

PartitionOffsets partition_offsets(const std::string& group, const std::string& topic) {
  rd_kafka_t* rk = client(RD_KAFKA_CONSUMER, group);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  int partitions = 0;
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1)
    partitions = md->topics[0].partition_cnt;
  if (md) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  rd_kafka_committed(rk, list, 10000);
  PartitionOffsets out;
  for (int p = 0; p < partitions; ++p) {
    int64_t lo = 0, hi = 0;
    rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 10000);
    out.end.push_back(hi);
    out.committed.push_back(list->elems[p].offset >= 0 ? list->elems[p].offset : -1);
  }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
  return out;
}

std::pair<int64_t, int64_t> committed_and_end(const std::string& group, const std::string& topic) {
  const PartitionOffsets o = partition_offsets(group, topic);
  int64_t committed = 0, end = 0;
  for (size_t p = 0; p < o.end.size(); ++p) {
    end += o.end[p];
    if (o.committed[p] >= 0) committed += o.committed[p];
  }
  return {committed, end};
}

std::map<std::pair<int32_t, int64_t>, uint64_t> message_timestamps(const std::string& topic) {
  auto r = run_command("kcat -b " + brokers() + " -t " + topic + " -C -e -q -f '%p %o %T\\n'");
  if (r.exit_code != 0) throw std::runtime_error("kcat consume: " + r.err);
  std::map<std::pair<int32_t, int64_t>, uint64_t> out;
  std::istringstream in(r.out);
  int32_t p = 0;
  int64_t o = 0;
  uint64_t ts = 0;
  while (in >> p >> o >> ts) out[{p, o}] = ts;
  return out;
}

std::filesystem::path web_events(int n) {
  const auto work = std::filesystem::path(SOCSTREAM_BUILD_DIR) / "it-work";
  std::filesystem::create_directories(work);
  auto p = work / ("web-" + std::to_string(n) + ".jsonl");
  if (!std::filesystem::exists(p)) {
    auto r = run_command("python3 " + (testing::source_dir() / "scripts/gen_web_access.py").string() + " --count " +
                         std::to_string(n) + " --out " + p.string());
    if (r.exit_code != 0) throw std::runtime_error("generating events: " + r.err);
  }
  return p;
}

std::string web_alert_key(std::string_view alert) {
  simdjson::dom::parser p;
  simdjson::dom::element a = p.parse(alert.data(), alert.size());
  std::string k{std::string_view(a["@timestamp"])};
  k += '|';
  k += std::string_view(a["source"]["ip"]);
  k += '|';
  k += std::string_view(a["url"]["query"]);
  return k;
}

std::multiset<std::string> expected_web_alert_keys(const std::filesystem::path& file) {
  auto r = testing::run_socstream("run " + (testing::source_dir() / "config/default.yaml").string(),
                                  "SOCSTREAM_INPUT=" + file.string() + " SOCSTREAM_DLQ=/dev/null");
  if (r.exit_code != 0) throw std::runtime_error("file pipeline: " + r.err);
  std::multiset<std::string> keys;
  std::stringstream ss(r.out);
  for (std::string l; std::getline(ss, l);) keys.insert(web_alert_key(l));
  return keys;
}

std::multiset<std::string> web_alert_keys(const std::vector<std::string>& alerts) {
  std::multiset<std::string> keys;
  for (const auto& a : alerts) keys.insert(web_alert_key(a));
  return keys;
}

std::string redis_cli(const std::string& args) {
  auto r = run_command("redis-cli -p " + std::to_string(redis_port()) + " " + args);
  std::string s = r.out;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

int64_t redis_xlen(const std::string& stream) {
  std::string s = redis_cli("XLEN " + stream);
  return s.empty() ? -1 : std::stoll(s);
}

std::vector<std::string> redis_stream_alerts(const std::string& stream) {
  redisContext* c = redisConnect("127.0.0.1", redis_port());
  std::vector<std::string> out;
  std::string from = "-";
  for (;;) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "XRANGE %s %s + COUNT 5000", stream.c_str(), from.c_str()));
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
      if (r) freeReplyObject(r);
      break;
    }
    std::string last;
    for (size_t i = 0; i < r->elements; ++i) {
      redisReply* entry = r->element[i];
      last.assign(entry->element[0]->str, entry->element[0]->len);
      redisReply* kv = entry->element[1];
      out.emplace_back(kv->element[1]->str, kv->element[1]->len);
    }
    freeReplyObject(r);
    from = "(" + last;
  }
  redisFree(c);
  return out;
}

Engine::Engine(std::filesystem::path topology, std::map<std::string, std::string> env, std::filesystem::path log)
    : topology_(std::move(topology)), env_(std::move(env)), log_(std::move(log)) {}

Engine::~Engine() {
  if (pid_ > 0) kill9();
}

void Engine::start() {
  pid_ = ::fork();
  if (pid_ == 0) {
    for (auto& [k, v] : env_) ::setenv(k.c_str(), v.c_str(), 1);
    FILE* f = std::fopen(log_.c_str(), "a");
    ::dup2(fileno(f), 2);
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::execl(SOCSTREAM_BIN, "socstream", "run", topology_.c_str(), nullptr);
    ::_exit(127);
  }
}

int Engine::wait_exit() {
  int status = 0;
  rusage ru{};
  ::wait4(pid_, &status, 0, &ru);
  pid_ = -1;
  peak_rss_kb_ = ru.ru_maxrss;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int Engine::terminate() {
  ::kill(pid_, SIGTERM);
  return wait_exit();
}

void Engine::kill9() {
  ::kill(pid_, SIGKILL);
  wait_exit();
}

bool Engine::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  rusage ru{};
  pid_t r = ::wait4(pid_, &status, WNOHANG, &ru);
  if (r == 0) return true;
  pid_ = -1;
  peak_rss_kb_ = ru.ru_maxrss;
  return false;
}

void produce_messages(const std::string& topic, const std::vector<std::string>& msgs) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers().c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "message.max.bytes", "16777216", err, sizeof err);
  rd_kafka_conf_set(conf, "compression.type", "lz4", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  for (const auto& m : msgs) {
    while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_VALUE(const_cast<char*>(m.data()), m.size()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
      rd_kafka_poll(rk, 100);
  }
  rd_kafka_flush(rk, 60000);
  const int left = rd_kafka_outq_len(rk);
  rd_kafka_destroy(rk);
  if (left != 0) throw std::runtime_error(std::to_string(left) + " messages not delivered to " + topic);
}

bool eventually(const std::function<bool()>& pred, std::chrono::seconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return pred();
}

std::string unique(const std::string& base) {
  return base + "-" + std::to_string(::getpid()) + "-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
}

void ServerTest::SetUp() {
  std::string missing = check_servers();
  ASSERT_TRUE(missing.empty()) << "integration tests need the real servers: " << missing;
  const auto work = std::filesystem::path(SOCSTREAM_BUILD_DIR) / "it-work";
  std::filesystem::create_directories(work);
  log_ = work / (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".log");
  std::filesystem::remove(log_);
}

void ServerTest::TearDown() {
  if (HasFailure()) std::cerr << "engine log (" << log_ << "):\n" << socstream::testing::read_file(log_).substr(0, 20000) << "\n";
}

}  // namespace socstream::it
