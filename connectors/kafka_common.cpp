#include "connectors/kafka_common.hpp"

#include <stdexcept>

namespace socstream {

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

std::vector<SettingSpec> kafka_common_settings() {
  return {{"brokers", SettingType::String, true, "bootstrap servers, host:port[,host:port]"},
          {"librdkafka", SettingType::StringMap, false, "librdkafka properties passed through as is"}};
}

KafkaConfig kafka_config(const Settings& s, std::vector<std::pair<std::string, std::string>> defaults) {
  KafkaConfig c;
  c.props = std::move(defaults);
  c.props.emplace_back("bootstrap.servers", s.str("brokers"));
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

}  // namespace socstream
