#pragma once
// What the Kafka source and sink share: configuration from settings, with the
// `librdkafka:` map passed through as is (TLS, SASL, tuning).
#include <librdkafka/rdkafka.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/component.hpp"

namespace socstream {

struct KafkaConfig {
  std::vector<std::pair<std::string, std::string>> props;
  // Builds the rd_kafka_conf_t, throwing on a property librdkafka rejects.
  rd_kafka_conf_t* build() const;
};

// The settings both connectors take.
std::vector<SettingSpec> kafka_common_settings();
// brokers + the librdkafka map; property errors are reported at the map's position.
KafkaConfig kafka_config(const Settings& s, std::vector<std::pair<std::string, std::string>> defaults);

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

// A client from the configuration; `setup` adds callbacks and the opaque to the conf first.
KafkaHandle make_kafka(rd_kafka_type_t type, const KafkaConfig& config, void* opaque,
                       const std::function<void(rd_kafka_conf_t*)>& setup);

}  // namespace socstream
