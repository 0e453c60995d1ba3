// type: kafka (source). A consumer-group member that commits, per partition,
// only the offset below which every event is complete (delivered by every sink
// it reached, dead-lettered, or dropped on purpose). A crash therefore loses
// nothing: what was not committed is consumed again.
#include <spdlog/spdlog.h>

#include <cstring>
#include <map>
#include <set>
#include <mutex>

#include "connectors/connectors.hpp"
#include "connectors/kafka_common.hpp"
#include "connectors/line_reader.hpp"

namespace socstream {

namespace {

using PartitionKey = std::pair<std::string, int32_t>;

struct BatchPart {
  PartitionKey key;
  uint64_t generation;
  uint64_t seq;
  int64_t last_offset;
};

// Written by whichever thread completes a batch, read by the source thread.
struct Completions {
  std::mutex m;
  std::vector<std::pair<std::vector<BatchPart>, bool>> done;
  std::atomic<int64_t> in_flight{0};
};

class KafkaToken final : public AckToken {
 public:
  KafkaToken(std::shared_ptr<Completions> c, std::vector<BatchPart> parts, uint32_t n, SourceContext* ctx)
      : c_(std::move(c)), parts_(std::move(parts)), n_(n), ctx_(ctx) {}

 protected:
  void on_done(bool ok) override {
    (ok ? ctx_->batches_completed : ctx_->batches_failed)++;
    if (!ok) ctx_->events_failed += n_;
    ctx_->events_pending -= n_;
    std::lock_guard lk(c_->m);
    c_->done.emplace_back(std::move(parts_), ok);
    c_->in_flight -= n_;
  }

 private:
  std::shared_ptr<Completions> c_;
  std::vector<BatchPart> parts_;
  uint32_t n_;
  SourceContext* ctx_;
};

class KafkaSource final : public Source {
 public:
  explicit KafkaSource(const Settings& s)
      : topics_(s.list("topics")),
        pattern_(s.str("pattern")),
        batch_size_(static_cast<size_t>(s.integer("batch_size", 2048, 1, 1 << 20))),
        poll_ms_(static_cast<int>(s.integer("poll_timeout_ms", 100, 0, 60000))),
        commit_every_(s.integer("commit_interval_ms", 1000, 1, 3600000)),
        drain_ms_(s.integer("drain_timeout_ms", 30000, 0, 3600000)) {
    if (topics_.empty() == pattern_.empty()) s.error("", "give either 'topics: [..]' or 'pattern: REGEX'");
    if (!pattern_.empty() && pattern_[0] != '^') pattern_ = "^" + pattern_;
    const std::string start = s.choice("start_at", {"earliest", "latest"}, "earliest");
    config_ = kafka_config(s, {{"group.id", s.str("group")},
                               {"enable.auto.commit", "false"},
                               {"enable.auto.offset.store", "false"},
                               {"auto.offset.reset", start},
                               {"enable.partition.eof", "false"}});
  }

  void run(SourceContext& ctx) override {
    ctx_ = &ctx;
    // Ready once the group has given this member its partitions (none is an
    // answer too: more members than partitions).
    context().manage_readiness();
    context().set_ready(false, "waiting for the consumer group to assign partitions");
    register_metrics();
    rk_ = make_kafka(RD_KAFKA_CONSUMER, config_, this,
                     [](rd_kafka_conf_t* c) { rd_kafka_conf_set_rebalance_cb(c, &KafkaSource::on_rebalance); });
    expect_brokers(rk_.get(), config_);
    expect_topics(rk_.get(), config_, topics_, ctx.name);
    rd_kafka_poll_set_consumer(rk_.get());
    rd_kafka_topic_partition_list_t* subs = rd_kafka_topic_partition_list_new(1);
    for (const auto& t : topics_) rd_kafka_topic_partition_list_add(subs, t.c_str(), RD_KAFKA_PARTITION_UA);
    if (!pattern_.empty()) rd_kafka_topic_partition_list_add(subs, pattern_.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_.get(), subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e) throw std::runtime_error(std::string("subscribing: ") + rd_kafka_err2str(e));
    queue_ = rd_kafka_queue_get_consumer(rk_.get());

    std::vector<rd_kafka_message_t*> msgs(batch_size_);
    last_commit_ = Clock::now();
    while (!ctx.stopping()) {
      ssize_t n = rd_kafka_consume_batch_queue(queue_, poll_ms_, msgs.data(), msgs.size());
      if (n < 0) throw std::runtime_error(std::string("consuming: ") + rd_kafka_err2str(rd_kafka_last_error()));
      Batch b = to_batch(msgs.data(), static_cast<size_t>(n));
      housekeeping();
      if (b.empty()) continue;
      ctx.out.emit(0, std::move(b), [this] { while_blocked(); });
      if (paused_) set_paused(false);
    }
    shutdown();
  }

 private:
  struct Range {
    int64_t last_offset;
    int state;  // 0 in flight, 1 done, 2 failed
  };
  struct Track {
    uint64_t generation = 0;
    uint64_t next_seq = 0;
    std::map<uint64_t, Range> ranges;
    int64_t commit_next = -1;  // the offset to commit next (one past the last complete event)
    int64_t committed = -1;
    bool stuck_logged = false;
  };

  // Copies the payloads into one padded buffer and releases the messages at once,
  // so no event outlives the consumer handle and json_parse can parse in place.
  Batch to_batch(rd_kafka_message_t** msgs, size_t n) {
    // Per-partition bookkeeping, looked up once per partition per batch, not per message.
    struct Seen {
      rd_kafka_topic_t* rkt;
      int32_t partition;
      Track* track;  // null: not assigned (revoked during the call): drop its messages
      std::string_view stream;
      int64_t last = -1;
    };
    std::vector<Seen> seen;
    auto lookup = [&](const rd_kafka_message_t* m) -> size_t {
      for (size_t i = 0; i < seen.size(); ++i)
        if (seen[i].rkt == m->rkt && seen[i].partition == m->partition) return i;
      auto it = tracks_.find(key_of(m));
      Track* t = it == tracks_.end() ? nullptr : &it->second;
      seen.push_back(Seen{m->rkt, m->partition, t, *topic_names_.insert(rd_kafka_topic_name(m->rkt)).first, -1});
      return seen.size() - 1;
    };
    Batch b;
    size_t bytes = 0, kept = 0;
    std::vector<size_t> where(n), meta(n, 0);
    for (size_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = msgs[i];
      if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
          spdlog::warn("{}: {}", ctx_->name, rd_kafka_message_errstr(m));
        if (m->err == RD_KAFKA_RESP_ERR__FATAL) throw std::runtime_error(rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        msgs[i] = nullptr;
        continue;
      }
      where[i] = lookup(m);
      // A rebalance during the call can hand us messages of a partition we just gave up.
      if (!seen[where[i]].track) {
        rd_kafka_message_destroy(m);
        msgs[i] = nullptr;
        continue;
      }
      // The key and headers ride in the same buffer, after the payloads, for a dead letter to take along.
      meta[i] = kafka_meta::size(m);
      bytes += m->len + meta[i];
      ++kept;
    }
    if (!kept) return b;
    auto buf = std::make_shared<LineBuffer>();
    buf->data.reset(new char[bytes + LineReader::kSlack]);
    std::memset(buf->data.get() + bytes, 0, LineReader::kSlack);
    buf->capacity = bytes;
    b.events.reserve(kept);
    b.raw_padded = true;
    size_t at = 0, meta_at = bytes;
    for (size_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = msgs[i];
      if (!m) continue;
      Seen& sp = seen[where[i]];
      if (m->len) std::memcpy(buf->data.get() + at, m->payload, m->len);
      Event e;
      e.raw = std::string_view(buf->data.get() + at, m->len);
      if (meta[i]) {
        // Payloads are contiguous and padded by the buffer's slack; metadata goes at its end.
        meta_at -= meta[i];
        kafka_meta::pack(m, buf->data.get() + meta_at);
        e.source_meta = std::string_view(buf->data.get() + meta_at, meta[i]);
      }
      // The message's timestamp tells this topic's offset 7 from a re-created topic's offset 7.
      rd_kafka_timestamp_type_t ts_type;
      const int64_t ts = rd_kafka_message_timestamp(m, &ts_type);
      e.pos = SourcePos{&ctx_->name, m->partition, m->offset, sp.stream, ts < 0 ? 0 : static_cast<uint64_t>(ts)};
      at += m->len;
      sp.last = std::max(sp.last, m->offset);
      b.events.push_back(std::move(e));
      rd_kafka_message_destroy(m);
    }
    b.hold(buf);
    std::vector<BatchPart> parts;
    for (auto& sp : seen) {
      if (!sp.track || sp.last < 0) continue;
      Track& t = *sp.track;
      parts.push_back(BatchPart{{std::string(sp.stream), sp.partition}, t.generation, t.next_seq, sp.last});
      t.ranges[t.next_seq++] = Range{sp.last, 0};
    }
    auto* token = new KafkaToken(completions_, std::move(parts), static_cast<uint32_t>(kept), ctx_);
    token->set_pending(static_cast<uint32_t>(kept));
    completions_->in_flight += static_cast<int64_t>(kept);
    ctx_->events_pending += kept;
    for (auto& e : b.events) e.ack = Ack(token);
    return b;
  }

  static PartitionKey key_of(const rd_kafka_message_t* m) {
    return {rd_kafka_topic_name(m->rkt), m->partition};
  }

  // Applies finished batches to the partitions' commit points.
  void apply_completions() {
    std::vector<std::pair<std::vector<BatchPart>, bool>> done;
    {
      std::lock_guard lk(completions_->m);
      done.swap(completions_->done);
    }
    for (auto& [parts, ok] : done) {
      for (auto& p : parts) {
        auto it = tracks_.find(p.key);
        if (it == tracks_.end() || it->second.generation != p.generation) continue;  // revoked since
        auto r = it->second.ranges.find(p.seq);
        if (r != it->second.ranges.end()) r->second.state = ok ? 1 : 2;
      }
    }
    for (auto& [k, t] : tracks_) {
      while (!t.ranges.empty() && t.ranges.begin()->second.state == 1) {
        t.commit_next = t.ranges.begin()->second.last_offset + 1;
        t.ranges.erase(t.ranges.begin());
      }
      if (!t.ranges.empty() && t.ranges.begin()->second.state == 2 && !t.stuck_logged) {
        spdlog::error("{}: events of {}[{}] up to offset {} were not acknowledged; not committing past them",
                      ctx_->name, k.first, k.second, t.ranges.begin()->second.last_offset);
        t.stuck_logged = true;
      }
    }
  }

  // Commits what is complete, for every partition or only those in `only`.
  void commit(bool sync, const rd_kafka_topic_partition_list_t* only = nullptr) {
    apply_completions();
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(tracks_.size()));
    std::vector<Track*> sent;
    for (auto& [k, t] : tracks_) {
      if (t.commit_next <= t.committed) continue;
      if (only && !rd_kafka_topic_partition_list_find(only, k.first.c_str(), k.second)) continue;
      rd_kafka_topic_partition_list_add(list, k.first.c_str(), k.second)->offset = t.commit_next;
      sent.push_back(&t);
    }
    if (list->cnt > 0) {
      rd_kafka_resp_err_t e = rd_kafka_commit(rk_.get(), list, sync ? 0 : 1);
      if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        spdlog::warn("{}: commit failed: {}", ctx_->name, rd_kafka_err2str(e));
      } else {
        for (auto* t : sent) t->committed = t->commit_next;
      }
    }
    rd_kafka_topic_partition_list_destroy(list);
    last_commit_ = Clock::now();
  }

  void housekeeping() {
    if (Clock::now() - last_commit_ >= std::chrono::milliseconds(commit_every_)) {
      commit(false);
      publish_figures();
    }
  }

  // Per partition, what /metrics shows: read on the admin's thread, so
  // copied here (the tracks are the source thread's alone). The high
  // watermark is librdkafka's cached one from the last fetch: no broker call.
  struct Figure {
    std::string topic;
    int32_t partition;
    int64_t committed, high;
  };
  void publish_figures() {
    std::vector<Figure> f;
    for (const auto& [k, t] : tracks_) {
      int64_t low = -1, high = -1;
      rd_kafka_get_watermark_offsets(rk_.get(), k.first.c_str(), k.second, &low, &high);
      f.push_back(Figure{k.first, k.second, t.committed, high});
    }
    std::lock_guard lk(figures_m_);
    figures_ = std::move(f);
  }

  void register_metrics() {
    auto read = [this](auto pick) {
      return [this, pick](std::vector<MetricSample>& out) {
        std::lock_guard lk(figures_m_);
        for (const auto& f : figures_)
          if (auto v = pick(f); v >= 0)
            out.push_back({{{"topic", f.topic}, {"partition", std::to_string(f.partition)}}, static_cast<double>(v)});
      };
    };
    auto& g = context().metrics();
    g.collect("socstream_kafka_consumer_lag_messages",
              "Messages of a partition after the offset this group committed (high watermark - committed).",
              MetricType::Gauge, read([](const Figure& f) {
                return f.committed >= 0 && f.high >= 0 ? std::max<int64_t>(0, f.high - f.committed) : -1;
              }));
    g.collect("socstream_kafka_committed_offset", "The offset this group committed last, per partition.",
              MetricType::Gauge, read([](const Figure& f) { return f.committed; }));
    g.collect("socstream_kafka_high_watermark_offset", "A partition's end as the last fetch saw it.", MetricType::Gauge,
              read([](const Figure& f) { return f.high; }));
    g.collect("socstream_kafka_partitions_assigned", "Partitions the group assigned to this member.", MetricType::Gauge,
              [this](std::vector<MetricSample>& out) {
                std::lock_guard lk(figures_m_);
                out.push_back({{}, static_cast<double>(figures_.size())});
              });
  }

  // The pipeline is full: stop fetching but keep serving the group (heartbeats,
  // rebalances), and keep committing what completes.
  void while_blocked() {
    if (!paused_) set_paused(true);
    rd_kafka_message_t* m = nullptr;
    // Paused partitions deliver nothing; this call serves rebalance events.
    while ((m = rd_kafka_consume_queue(queue_, 0)) != nullptr) {
      // A message fetched just before the pause: give it back by seeking to it.
      if (!m->err && tracks_.count(key_of(m))) rd_kafka_seek(m->rkt, m->partition, m->offset, 1000);
      rd_kafka_message_destroy(m);
    }
    housekeeping();
  }

  void set_paused(bool on) {
    if (on && !paused_) ++pauses_;
    rd_kafka_topic_partition_list_t* parts = nullptr;
    if (rd_kafka_assignment(rk_.get(), &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts) {
      if (on)
        rd_kafka_pause_partitions(rk_.get(), parts);
      else
        rd_kafka_resume_partitions(rk_.get(), parts);
      rd_kafka_topic_partition_list_destroy(parts);
    }
    paused_ = on;
  }

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                           void* opaque) {
    auto* self = static_cast<KafkaSource*>(opaque);
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      for (int i = 0; i < parts->cnt; ++i) {
        Track& t = self->tracks_[{parts->elems[i].topic, parts->elems[i].partition}];
        t = Track{};
        t.generation = ++self->generation_;
      }
      if (cooperative)
        rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
      else
        rd_kafka_assign(rk, parts);
      if (self->paused_) rd_kafka_pause_partitions(rk, parts);
      spdlog::info("{}: assigned {} partition(s)", self->ctx_->name, parts->cnt);
      self->context().set_ready(true);
      self->publish_figures();
    } else {
      // Commit what is complete for the partitions we lose; their in-flight
      // events are left to finish but not committed: the next owner re-reads them.
      self->commit(true, parts);
      for (int i = 0; i < parts->cnt; ++i) self->tracks_.erase({parts->elems[i].topic, parts->elems[i].partition});
      if (cooperative)
        rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
      else
        rd_kafka_assign(rk, nullptr);
      spdlog::info("{}: revoked {} partition(s)", self->ctx_->name, parts->cnt);
      if (self->tracks_.empty()) self->context().set_ready(false, "its partitions were revoked; waiting for the group");
      self->publish_figures();
    }
  }

  // Stop fetching, let what is in flight finish, commit it, leave the group.
  void shutdown() {
    set_paused(true);
    // Not past the topology's drain deadline either: a reload or stop that gives up there must not wait here longer.
    const auto until = std::min(Clock::now() + std::chrono::milliseconds(drain_ms_), context().drain_deadline());
    while (completions_->in_flight > 0 && Clock::now() < until) {
      while_blocked();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (completions_->in_flight > 0)
      spdlog::warn("{}: {} events still in flight after {} ms; they will be consumed again", ctx_->name,
                   completions_->in_flight.load(), drain_ms_);
    commit(true);
    publish_figures();
    spdlog::info("{}: paused for backpressure {} time(s)", ctx_->name, pauses_);
    rd_kafka_queue_destroy(queue_);
    rd_kafka_consumer_close(rk_.get());
    rk_.reset();
  }

  std::vector<std::string> topics_;
  std::string pattern_;
  size_t batch_size_;
  int poll_ms_;
  int64_t commit_every_;
  int64_t drain_ms_;
  KafkaConfig config_;
  SourceContext* ctx_ = nullptr;
  KafkaHandle rk_;
  rd_kafka_queue_t* queue_ = nullptr;
  std::map<PartitionKey, Track> tracks_;
  std::set<std::string> topic_names_;  // events' stream views point here; nodes never move
  uint64_t generation_ = 0;
  bool paused_ = false;
  uint64_t pauses_ = 0;
  Clock::time_point last_commit_;
  std::shared_ptr<Completions> completions_ = std::make_shared<Completions>();
  std::mutex figures_m_;
  std::vector<Figure> figures_;
};

}  // namespace

ComponentSpec kafka_source_spec() {
  auto settings = kafka_common_settings();
  settings.push_back({"group", SettingType::String, true, "the consumer group"});
  settings.push_back({"topics", SettingType::StringList, false, "topics to consume"});
  settings.push_back({"pattern", SettingType::String, false, "or a regular expression of topic names"});
  settings.push_back({"start_at", SettingType::String, false, "earliest or latest: where a new group starts"});
  settings.push_back({"batch_size", SettingType::Int, false, "messages per batch (default 2048)"});
  settings.push_back({"poll_timeout_ms", SettingType::Int, false, "longest wait to fill a batch (default 100): latency against batch size"});
  settings.push_back({"commit_interval_ms", SettingType::Int, false, "how often complete offsets are committed"});
  settings.push_back({"drain_timeout_ms", SettingType::Int, false, "at shutdown, how long to wait for in-flight events"});
  return ComponentSpec{"kafka", Kind::Source, "a Kafka consumer group; commits only completed offsets", settings,
                       false, [](const Settings& s) { return std::make_unique<KafkaSource>(s); }};
}

}  // namespace socstream
