#include "connectors/kafka_common.hpp"

#include <optional>

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>

namespace socstream {

namespace {

// librdkafka's own log lines, through the engine's logger: each names the
// component (its client.id) and a line that repeats (a broker down: one per
// reconnect) is written at most every 10 s, with the count of those left out.
void log_line(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  struct Seen {
    std::chrono::steady_clock::time_point last;
    uint64_t suppressed = 0;
  };
  static std::mutex m;
  static std::map<std::string, Seen> seen;
  const std::string client = rd_kafka_name(rk);
  const std::string component = client.substr(0, client.find('#'));
  const auto now = std::chrono::steady_clock::now();
  uint64_t suppressed = 0;
  {
    std::lock_guard lk(m);
    if (seen.size() > 10000) seen.clear();  // bounded: facilities and components are few
    Seen& s = seen[component + '\0' + facility];
    if (s.last != std::chrono::steady_clock::time_point{} && now - s.last < std::chrono::seconds(10)) {
      ++s.suppressed;
      return;
    }
    suppressed = s.suppressed;
    s = Seen{now, 0};
  }
  // syslog levels: 0-3 errors, 4 warnings, 5-6 information, 7 debug.
  const auto lvl = level <= 3 ? spdlog::level::err : level == 4 ? spdlog::level::warn
                   : level <= 6 ? spdlog::level::info : spdlog::level::debug;
  if (suppressed)
    spdlog::log(lvl, "kafka '{}': {}: {} ({} similar lines in the last 10 s not shown)", component, facility, text, suppressed);
  else
    spdlog::log(lvl, "kafka '{}': {}: {}", component, facility, text);
}

}  // namespace

rd_kafka_conf_t* KafkaConfig::build() const {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error("librdkafka property '" + k + "': " + err);
    }
  }
  return conf;
}

KafkaHandle make_kafka(rd_kafka_type_t type, const KafkaConfig& config, void* opaque,
                       const std::function<void(rd_kafka_conf_t*)>& setup) {
  rd_kafka_conf_t* conf = config.build();
  rd_kafka_conf_set_opaque(conf, opaque);
  rd_kafka_conf_set_log_cb(conf, &log_line);
  setup(conf);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("creating the Kafka ") +
                             (type == RD_KAFKA_CONSUMER ? "consumer: " : "producer: ") + err);
  }
  return KafkaHandle(rk);
}

void expect_brokers(rd_kafka_t* rk, const KafkaConfig& config) {
  const struct rd_kafka_metadata* md = nullptr;
  // Metadata of no topic: the cheapest request every broker answers.
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, nullptr, &md, config.connect_timeout_ms);
  if (md) rd_kafka_metadata_destroy(md);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw std::runtime_error("no Kafka broker answered at " + config.brokers + " within connect_timeout_ms (" +
                             std::to_string(config.connect_timeout_ms) + " ms): " + rd_kafka_err2str(err));
}

namespace {

// The broker's auto.create.topics.enable, if it says (DescribeConfigs).
std::optional<bool> broker_creates_topics(rd_kafka_t* rk, int32_t broker, int timeout_ms) {
  char errstr[256];
  rd_kafka_ConfigResource_t* res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, std::to_string(broker).c_str());
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
  rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof errstr);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_DescribeConfigs(rk, &res, 1, opts, q);
  std::optional<bool> answer;
  if (rd_kafka_event_t* ev = rd_kafka_queue_poll(q, timeout_ms + 1000)) {
    if (const auto* result = rd_kafka_event_DescribeConfigs_result(ev); result && !rd_kafka_event_error(ev)) {
      size_t n = 0;
      const rd_kafka_ConfigResource_t** rs = rd_kafka_DescribeConfigs_result_resources(result, &n);
      for (size_t i = 0; i < n; ++i) {
        size_t m = 0;
        const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(rs[i], &m);
        for (size_t k = 0; k < m; ++k)
          if (std::string_view(rd_kafka_ConfigEntry_name(entries[k])) == "auto.create.topics.enable" &&
              rd_kafka_ConfigEntry_value(entries[k]))
            answer = std::string_view(rd_kafka_ConfigEntry_value(entries[k])) == "true";
      }
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_ConfigResource_destroy(res);
  return answer;
}

}  // namespace

void expect_topics(rd_kafka_t* rk, const KafkaConfig& config, const std::vector<std::string>& topics,
                   const std::string& component) {
  if (topics.empty()) return;
  const struct rd_kafka_metadata* md = nullptr;
  // Every topic's metadata: asking for one by name may create it.
  if (const auto err = rd_kafka_metadata(rk, 1, nullptr, &md, config.connect_timeout_ms); err || !md) {
    spdlog::warn("{}: cannot check that its topics exist: {}", component, rd_kafka_err2str(err));
    return;
  }
  // Missing means the broker says so: a topic electing a leader, or one this
  // client may not describe, exists, and its errors belong to the fetches.
  std::vector<std::string> missing;
  for (const auto& t : topics) {
    bool missing_here = true;
    for (int i = 0; i < md->topic_cnt; ++i)
      if (t == md->topics[i].topic) missing_here = md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (missing_here) missing.push_back(t);
  }
  const int32_t broker = md->broker_cnt > 0 ? md->brokers[0].id : -1;
  rd_kafka_metadata_destroy(md);
  if (missing.empty() || broker < 0) return;
  std::string names;
  for (const auto& m : missing) names += (names.empty() ? "'" : ", '") + m + "'";
  const auto creates = broker_creates_topics(rk, broker, config.connect_timeout_ms);
  if (creates && !*creates)
    throw std::runtime_error("topic " + names + " does not exist at " + config.brokers +
                             ", and the broker does not create topics (auto.create.topics.enable=false): create it first");
  spdlog::warn("{}: topic {} does not exist yet at {}{}", component, names, config.brokers,
               creates ? "; the broker creates topics on first use" : "");
}

std::vector<SettingSpec> kafka_common_settings() {
  return {{"brokers", SettingType::String, true, "bootstrap servers, host:port[,host:port]"},
          {"librdkafka", SettingType::StringMap, false, "librdkafka properties passed through as is"},
          {"connect_timeout_ms", SettingType::Int, false, "at start, how long to wait for a broker before failing (default 30000)"}};
}

KafkaConfig kafka_config(const Settings& s, std::vector<std::pair<std::string, std::string>> defaults) {
  KafkaConfig c;
  // The component's name as the client's: brokers' logs and quotas see it, and so do ours.
  c.props.emplace_back("client.id", s.component());
  for (auto& d : defaults) c.props.push_back(std::move(d));
  c.brokers = s.str("brokers");
  c.connect_timeout_ms = static_cast<int>(s.integer("connect_timeout_ms", 30000, 100, 600000));
  c.props.emplace_back("bootstrap.servers", c.brokers);
  for (auto& kv : s.map("librdkafka")) c.props.push_back(kv);
  // Check every property now, so a typo fails at load with its position, not at run time.
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : c.props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      s.error("librdkafka", "'" + k + "': " + err);
  }
  rd_kafka_conf_destroy(conf);
  return c;
}

namespace kafka_meta {

namespace {
void put32(char*& out, uint32_t v) {
  std::memcpy(out, &v, 4);
  out += 4;
}
}  // namespace

size_t size(const rd_kafka_message_t* m) {
  rd_kafka_headers_t* hdrs = nullptr;
  const bool has_headers = rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs &&
                           rd_kafka_header_cnt(hdrs) > 0;
  if (!m->key && !has_headers) return 0;
  size_t n = 4 + (m->key ? m->key_len : 0) + 4;
  if (has_headers) {
    const char* name;
    const void* value;
    size_t len;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &len) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
      n += 4 + std::strlen(name) + 4 + (value ? len : 0);
  }
  return n;
}

void pack(const rd_kafka_message_t* m, char* out) {
  put32(out, m->key ? static_cast<uint32_t>(m->key_len) : kNone);
  if (m->key) {
    std::memcpy(out, m->key, m->key_len);
    out += m->key_len;
  }
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) hdrs = nullptr;
  put32(out, hdrs ? static_cast<uint32_t>(rd_kafka_header_cnt(hdrs)) : 0);
  if (!hdrs) return;
  const char* name;
  const void* value;
  size_t len;
  for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &len) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    const size_t nl = std::strlen(name);
    put32(out, static_cast<uint32_t>(nl));
    std::memcpy(out, name, nl);
    out += nl;
    put32(out, value ? static_cast<uint32_t>(len) : kNone);
    if (value) {
      std::memcpy(out, value, len);
      out += len;
    }
  }
}

Unpacked unpack(std::string_view meta) {
  Unpacked u;
  size_t at = 0;
  auto get32 = [&](uint32_t& v) {
    if (at + 4 > meta.size()) return false;
    std::memcpy(&v, meta.data() + at, 4);
    at += 4;
    return true;
  };
  auto bytes = [&](uint32_t n, std::string_view& v) {
    if (n > meta.size() - at) return false;
    v = meta.substr(at, n);
    at += n;
    return true;
  };
  uint32_t key_len = 0, count = 0;
  if (!get32(key_len)) return u;
  if (key_len != kNone) {
    std::string_view key;
    if (!bytes(key_len, key)) return u;
    u.key = key;
  }
  if (!get32(count) || count == 0) return u;
  u.headers = rd_kafka_headers_new(count);
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t nl = 0, vl = 0;
    std::string_view name, value;
    if (!get32(nl) || !bytes(nl, name) || !get32(vl)) break;
    if (vl != kNone && !bytes(vl, value)) break;
    rd_kafka_header_add(u.headers, name.data(), static_cast<ssize_t>(name.size()), vl == kNone ? nullptr : value.data(),
                        vl == kNone ? 0 : static_cast<ssize_t>(value.size()));
  }
  return u;
}

}  // namespace kafka_meta

}  // namespace socstream
