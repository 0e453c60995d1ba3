// type: kafka (sink). An idempotent producer: an event completes when its
// delivery report arrives; a permanent failure (after librdkafka's retries,
// within message.timeout.ms) sends the event to this sink's `dlq` port.
#include <spdlog/spdlog.h>

#include <thread>

#include "connectors/connectors.hpp"
#include "connectors/kafka_common.hpp"
#include "engine/json_writer.hpp"

namespace socstream {

namespace {

// What rides along with each message until its delivery report.
struct InFlight {
  Ack ack;
  SourcePos pos;
};

class KafkaSink final : public Sink {
 public:
  explicit KafkaSink(const Settings& s)
      : topic_(s.str("topic")), key_field_(s.str("key_field")), key_where_(s.where("key_field")) {
    config_ = kafka_config(s, {{"enable.idempotence", "true"},
                               {"linger.ms", std::to_string(s.integer("linger_ms", 5, 0, 60000))},
                               {"batch.num.messages", std::to_string(s.integer("batch_messages", 10000, 1, 1000000))},
                               {"compression.type", s.choice("compression", {"none", "gzip", "snappy", "lz4", "zstd"}, "lz4")}});
  }
  ~KafkaSink() override {
    if (rk_) rd_kafka_flush(rk_.get(), 1000);
  }

  std::vector<FieldRead> reads() const override {
    if (key_field_.empty()) return {};
    return {{key_field_, key_where_, "the message key"}};
  }

  void open() override {
    rk_ = make_kafka(RD_KAFKA_PRODUCER, config_, this,
                     [](rd_kafka_conf_t* c) { rd_kafka_conf_set_dr_msg_cb(c, &KafkaSink::on_delivery); });
    expect_brokers(rk_.get(), config_);
    expect_topics(rk_.get(), config_, {topic_}, context().name());
    // The handle lives until the sink goes; librdkafka's calls are thread-safe.
    rd_kafka_t* rk = rk_.get();
    context().metrics().collect("socstream_kafka_producer_queue_messages",
                                "Messages a Kafka sink handed to librdkafka that the broker has not confirmed yet.",
                                MetricType::Gauge, [rk](std::vector<MetricSample>& out) {
                                  out.push_back({{}, static_cast<double>(rd_kafka_outq_len(rk))});
                                });
  }

  void process(Batch&& in, Outputs& out) override {
    for (auto& e : in.events) {
      const std::string_view value = json::payload(e, scratch_);
      auto* f = new InFlight{std::move(e.ack), e.pos};
      std::string_view key;
      if (!key_field_.empty())
        if (const Field* kf = e.field(key_field_)) key = kf->value;
      // A dead letter of a Kafka message leaves with that message's key and
      // headers: whoever replays or routes it needs them as they were.
      rd_kafka_headers_t* headers = nullptr;
      if (!e.error.empty() && !e.source_meta.empty()) {
        auto meta = kafka_meta::unpack(e.source_meta);
        if (key.empty() && meta.key) key = *meta.key;
        headers = meta.headers;
      }
      for (;;) {
        // librdkafka owns the headers once a produce succeeds; a copy goes with each attempt.
        rd_kafka_headers_t* attempt = headers ? rd_kafka_headers_copy(headers) : nullptr;
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
            RD_KAFKA_V_KEY(key.empty() ? nullptr : const_cast<char*>(key.data()), key.size()),
            RD_KAFKA_V_HEADERS(attempt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(f), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR && attempt) rd_kafka_headers_destroy(attempt);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          ++in_flight_;
          break;
        }
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          // The producer's queue is the backpressure: serve delivery reports until there is room.
          rd_kafka_poll(rk_.get(), 50);
          continue;
        }
        failed_.emplace_back(std::move(f->ack), f->pos, std::string(value), rd_kafka_err2str(err));
        delete f;
        break;
      }
      if (headers) rd_kafka_headers_destroy(headers);
    }
    in.events.clear();
    rd_kafka_poll(rk_.get(), 0);
    emit_failures(out);
  }

  std::optional<Clock::time_point> next_deadline() const override {
    // Delivery reports arrive only when polled: poll while anything is in flight.
    if (in_flight_ == 0) return std::nullopt;
    return Clock::now() + std::chrono::milliseconds(20);
  }
  void on_deadline(Outputs& out) override {
    rd_kafka_poll(rk_.get(), 0);
    emit_failures(out);
  }
  void finish(Outputs& out) override {
    while (rd_kafka_outq_len(rk_.get()) > 0) rd_kafka_flush(rk_.get(), 1000);
    rd_kafka_poll(rk_.get(), 0);
    emit_failures(out);
  }

 private:
  struct Failure {
    Failure(Ack a, SourcePos p, std::string r, std::string why)
        : ack(std::move(a)), pos(p), raw(std::move(r)), reason(std::move(why)) {}
    Ack ack;
    SourcePos pos;
    std::string raw;
    std::string reason;
  };

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<KafkaSink*>(opaque);
    auto* f = static_cast<InFlight*>(m->_private);
    --self->in_flight_;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      f->ack.complete();
    } else {
      self->failed_.emplace_back(std::move(f->ack), f->pos,
                                 std::string(static_cast<const char*>(m->payload), m->len), rd_kafka_err2str(m->err));
    }
    delete f;
  }

  void emit_failures(Outputs& out) {
    if (failed_.empty()) return;
    auto arena = std::make_shared<Arena>();
    Batch dlq;
    for (auto& f : failed_) {
      Event e;
      e.raw = arena->copy(f.raw);
      e.pos = f.pos;
      e.ack = std::move(f.ack);
      out.reject(dlq, std::move(e), "delivery_failed", arena->copy(f.reason));
    }
    spdlog::warn("{}: {} event(s) could not be delivered to {}: {}", out.component(), failed_.size(), topic_,
                 failed_.front().reason);
    failed_.clear();
    dlq.hold(std::move(arena));
    out.dead_letter(std::move(dlq));
  }

  std::string topic_;
  std::string key_field_;
  Location key_where_;
  KafkaConfig config_;
  KafkaHandle rk_;
  int64_t in_flight_ = 0;
  std::vector<Failure> failed_;
  std::string scratch_;
};

}  // namespace

ComponentSpec kafka_sink_spec() {
  auto settings = kafka_common_settings();
  settings.push_back({"topic", SettingType::String, true, "the topic to write"});
  settings.push_back({"key_field", SettingType::String, false, "the event field used as the message key"});
  settings.push_back({"linger_ms", SettingType::Int, false, "how long the producer waits to fill a batch (default 5)"});
  settings.push_back({"batch_messages", SettingType::Int, false, "messages per produce request (default 10000)"});
  settings.push_back({"compression", SettingType::String, false, "none, gzip, snappy, lz4 (default), zstd"});
  return ComponentSpec{"kafka", Kind::Sink, "an idempotent Kafka producer; delivery reports complete events",
                       settings, false, [](const Settings& s) { return std::make_unique<KafkaSink>(s); }};
}

}  // namespace socstream
