#pragma once
// What the Kafka source and sink share: configuration from settings, with the
// `librdkafka:` map passed through as is (TLS, SASL, tuning).
#include <librdkafka/rdkafka.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/component.hpp"

namespace socstream {

struct KafkaConfig {
  std::vector<std::pair<std::string, std::string>> props;
  std::string brokers;
  int connect_timeout_ms = 30000;
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

// A message's key and headers as Event::source_meta carries them: the source
// packs them beside the payload, the sink gives a dead letter its original's.
// Layout: u32 key length (or kNone), the key, u32 header count, then per header
// u32 name length, the name, u32 value length (or kNone), the value.
namespace kafka_meta {
constexpr uint32_t kNone = 0xFFFFFFFF;
// Bytes `pack` writes for m (0: no key and no headers, nothing to carry).
size_t size(const rd_kafka_message_t* m);
// Writes them at out (size(m) bytes).
void pack(const rd_kafka_message_t* m, char* out);
struct Unpacked {
  std::optional<std::string_view> key;
  rd_kafka_headers_t* headers = nullptr;  // owned by the caller (librdkafka takes it on a successful produce)
};
Unpacked unpack(std::string_view meta);
}  // namespace kafka_meta

// A client from the configuration; `setup` adds callbacks and the opaque to the conf first.
KafkaHandle make_kafka(rd_kafka_type_t type, const KafkaConfig& config, void* opaque,
                       const std::function<void(rd_kafka_conf_t*)>& setup);

// At start, waits up to connect_timeout_ms for a broker to answer and throws if
// none does: a wrong address is a configuration error (the run exits 2 with
// it), not an outage to wait out. Once running, outages block with backoff.
void expect_brokers(rd_kafka_t* rk, const KafkaConfig& config);
// At start, for topics named (not a pattern): a topic that does not exist on
// a broker that will not create it (auto.create.topics.enable=false) is an
// error no retry fixes: thrown, naming it, so the run fails (exit 2) instead
// of waiting for it without end. Where the broker creates topics, or its
// configuration cannot be read, a missing topic is only logged.
void expect_topics(rd_kafka_t* rk, const KafkaConfig& config, const std::vector<std::string>& topics,
                   const std::string& component);

}  // namespace socstream
