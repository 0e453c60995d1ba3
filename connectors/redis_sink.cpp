// type: redis (sink). Writes events to a stream (XADD, approximate MAXLEN), a
// channel (PUBLISH) or a list (LPUSH), one pipelined round trip per batch. An
// event completes when Redis has answered for it. While Redis is unreachable
// the sink retries with backoff and holds its batch, so upstream blocks (the
// engine's backpressure) and nothing is dropped; so do errors that say "not
// now" (OOM under maxmemory, READONLY in a failover, LOADING, BUSY). Errors
// that say "never" (WRONGTYPE on the target) dead-letter the event. With
// `idempotent: true` a write happens only if the event's id was not seen
// before (looked up under WATCH, then the writes and their record in one
// MULTI/EXEC transaction per chunk), so redelivered alerts are written once.
#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <optional>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "connectors/connectors.hpp"
#include "engine/json_writer.hpp"

namespace socstream {

namespace {

// Idempotent writes go as one transaction per chunk of events, in two round
// trips on the sink's connection:
//   1. WATCH the dedupe buckets, HMGET the chunk's ids in each, MULTI;
//   2. the native write (XADD, PUBLISH or LPUSH) of each id not seen, kRecord
//      (those ids into the current bucket), EXEC.
// The payloads go from the socket to the stream and never through Lua: a script
// that wrote them (this sink's first design) spent ~9 µs of Redis's single
// thread per 1.3 KB alert carrying the payload into Lua and back out, more
// than the XADD itself (bench/RESULTS.md, "Issue 13, item 7"). Only the ids
// meet Lua, in kRecord.
// Why this is exactly once:
// - EXEC applies the transaction whole or not at all: an engine that dies
//   before EXEC leaves nothing (Redis discards a closed connection's MULTI) and
//   AOF logs the transaction as one write. No write without its record, no
//   record without its write.
// - WATCH fails EXEC (a nil reply, nothing run) if a bucket changed after the
//   look-up: another instance (a zombie after a rebalance) may have written one
//   of these ids meanwhile. The chunk is looked up again. Writes of other ids
//   by other instances abort it too, since the bucket is shared: a retry, not
//   an error.
// - Redis does not roll back a command that fails inside EXEC. The failure a
//   write meets there is WRONGTYPE on the target, and it fails every write of
//   the transaction alike (they all go to one key), so kRecord records the ids
//   only if the target, after the writes, has the type they give it: a refused
//   chunk leaves no record and a replay writes it. "Not now" errors (OOM,
//   READONLY, LOADING, ...) refuse commands while they are queued, and EXEC
//   then answers EXECABORT having run nothing. Any other failure of a write
//   whose id kRecord did record (a stream whose last id is the largest there is,
//   after XSETID) is undone by HDEL after EXEC; see undo_records().
// The ids are remembered as fields of one hash per time bucket, not as a key
// each: a chunk looks them up with one HMGET per bucket and records them with
// one HSET (a key with a TTL per alert, EXISTS + SET EX, cost more than the
// XADD: bench/RESULTS.md, "Redis"). A bucket expires as a whole, so an id is
// remembered for dedupe_ttl_s at least and at most two buckets more.
// KEYS: the target, the bucket written. ARGV: the bucket's TTL, the target's
// type after a write ('' for a channel, which has none), then each id and "1"
// (HSET's field-value pairs as they come: pairing them in Lua cost Redis
// about 0.1 µs more per alert). Returns how many ids it recorded: all, or none.
const char* kRecord = R"lua(
if ARGV[2] ~= '' and redis.call('TYPE', KEYS[1]).ok ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[2], ARGV[1])
return (#ARGV - 2) / 2
)lua";

// Errors that say "not now" rather than "never": the sink holds its batch and
// retries with backoff, as in an outage, instead of dead-lettering alerts that
// a moment later would have landed.
bool transient_error(std::string_view msg) {
  for (std::string_view p : {"OOM", "READONLY", "LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN",
                             "NOREPLICAS"})
    if (msg.substr(0, p.size()) == p && (msg.size() == p.size() || msg[p.size()] == ' ')) return true;  // not BUSYGROUP
  return false;
}

// Errors no retry can fix: the credentials or the database number are wrong.
// They stop the sink (and the run, exit 2) with a message, instead of a retry
// loop that would hold the pipeline forever.
bool configuration_error(std::string_view msg) {
  for (std::string_view p : {"WRONGPASS", "NOAUTH", "NOPERM", "ERR AUTH", "ERR invalid password", "ERR Client sent AUTH",
                             "ERR DB index is out of range", "ERR invalid DB index"})
    if (msg.substr(0, p.size()) == p) return true;
  return false;
}

// EXEC answers "EXECABORT Transaction discarded because of: <error>" when it
// refuses the transaction itself (OOM reached after the commands were queued):
// the error to act on is the one after the colon.
std::string_view exec_abort_reason(std::string_view msg) {
  constexpr std::string_view kPrefix = "EXECABORT Transaction discarded because of: ";
  return msg.substr(0, kPrefix.size()) == kPrefix ? msg.substr(kPrefix.size()) : msg;
}

// WATCH aborts in a row before the sink treats the contention as "not now" and
// backs off: other instances writing the same key keep touching the bucket.
constexpr int kMaxAborts = 16;

// Commands in Redis's wire format, built in one reused buffer and handed to
// hiredis once per round trip: redisAppendCommandArgv formats each command
// into an sds of its own, with a format call per argument, which was half of
// the sink thread's CPU with 1.3 KB alerts.
class Resp {
 public:
  // Starts a command of argc arguments, which << must then give.
  Resp& command(size_t argc) {
    if (owed_) throw std::logic_error("redis sink: a command is missing arguments");
    owed_ = argc;
    header('*', argc);
    return *this;
  }
  Resp& operator<<(std::string_view v) {
    if (!owed_--) throw std::logic_error("redis sink: a command has more arguments than announced");
    header('$', v.size());
    buf_.append(v);
    buf_ += "\r\n";
    return *this;
  }
  std::string_view wire() const {
    if (owed_) throw std::logic_error("redis sink: a command is missing arguments");
    return buf_;
  }
  void clear() {
    buf_.clear();
    owed_ = 0;
  }

 private:
  void header(char kind, size_t n) {
    char digits[24];
    digits[0] = kind;
    char* end = std::to_chars(digits + 1, digits + sizeof digits - 2, n).ptr;
    *end++ = '\r';
    *end++ = '\n';
    buf_.append(digits, end);
  }
  std::string buf_;
  size_t owed_ = 0;
};

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

class RedisSink final : public Sink {
 public:
  RedisSink(const Settings& s, std::function<void(uint64_t)> before_transaction)
      : name_(s.component()),
        host_(s.str("host", "127.0.0.1")),
        port_(static_cast<int>(s.integer("port", 6379, 1, 65535))),
        mode_(s.choice("mode", {"xadd", "publish", "lpush"}, "xadd")),
        key_(s.str("key")),
        maxlen_(std::to_string(s.integer("maxlen", 1000000, 0))),
        stream_field_(s.str("stream_field", "alert")),
        idempotent_(s.flag("idempotent", false)),
        id_field_(s.str("id_field", "alert_id")),
        prefix_(s.str("dedupe_prefix", "socstream:seen:")),
        password_env_(s.str("password_env")),
        db_(s.integer("db", 0, 0, 1 << 20)),
        connect_timeout_ms_(s.integer("connect_timeout_ms", 1000, 1, 600000)),
        io_timeout_ms_(s.integer("io_timeout_ms", 5000, 1, 600000)),
        backoff_min_ms_(s.integer("backoff_initial_ms", 100, 1, 600000)),
        backoff_max_ms_(s.integer("backoff_max_ms", 5000, 1, 600000)),
        // Up to 2048: kRecord unpacks two values per id onto Lua's stack (8000 slots).
        transaction_events_(static_cast<size_t>(s.integer("transaction_events", 1024, 1, 2048))),
        // Remembered ids are per destination: two pipelines writing to two keys
        // of one Redis must not swallow each other's alerts.
        seen_prefix_(prefix_ + key_ + ":"),
        ttl_s_(s.integer("dedupe_ttl_s", 7 * 86400, 1, 10LL * 365 * 86400)),
        // Eight buckets span the TTL: a chunk looks in about ten hashes.
        bucket_s_(std::max<int64_t>(60, (ttl_s_ + 6) / 7)),
        id_where_(s.where(s.has("id_field") ? "id_field" : "idempotent")),
        before_transaction_(std::move(before_transaction)) {}
  ~RedisSink() override { disconnect(); }

  std::vector<FieldRead> reads() const override {
    if (!idempotent_) return {};
    return {{id_field_, id_where_, "the id written once"}};
  }

  void open() override {
    auto& g = context().metrics();
    retries_ = &g.counter("socstream_redis_retries_total",
                          "Times a Redis sink met an outage or a \"not now\" error and tried again after a pause.");
    round_trip_ = &g.histogram("socstream_redis_round_trip_seconds",
                               "Seconds from a Redis sink's request to its first reply (one per pipelined round trip).",
                               Histogram::exponential(0.0001, 2, 16));
    context().manage_readiness();
    context().set_ready(false, "not connected to Redis yet");
    connect();  // a first failure is not fatal: process() retries
  }

  void process(Batch&& in, Outputs& out) override {
    int64_t backoff = backoff_min_ms_;
    for (;;) {
      // Stopping, and past the drain's deadline: what this batch holds is
      // left unacknowledged (a Kafka source delivers it again after the
      // restart), so a stop or a reload is not held up by a Redis outage.
      if (context().drain_expired()) {
        spdlog::warn("redis '{}': the drain's deadline passed with Redis unreachable; {} event(s) left to be delivered "
                     "again", name_, in.size());
        in.abandon_all();
        return;
      }
      if (!ctx_ && !connect()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
        backoff = std::min(backoff * 2, backoff_max_ms_);
        continue;
      }
      if (write(in, out)) return;
      // The connection failed mid-batch, or Redis said "not now": resend the
      // whole batch on a new connection after a pause. In idempotent mode what
      // already landed is skipped; otherwise it may repeat.
      disconnect();
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
      backoff = std::min(backoff * 2, backoff_max_ms_);
    }
  }

 private:
  bool connect() {
    timeval tv{connect_timeout_ms_ / 1000, static_cast<suseconds_t>((connect_timeout_ms_ % 1000) * 1000)};
    redisContext* c = redisConnectWithTimeout(host_.c_str(), port_, tv);
    if (!c || c->err) {
      note_failure(c ? c->errstr : "cannot allocate a context");
      if (c) redisFree(c);
      return false;
    }
    timeval io{io_timeout_ms_ / 1000, static_cast<suseconds_t>((io_timeout_ms_ % 1000) * 1000)};
    redisSetTimeout(c, io);
    ctx_ = c;
    in_multi_ = false;
    if (!password_env_.empty()) {
      // The secret comes from the environment and is never logged.
      const char* pw = std::getenv(password_env_.c_str());
      if (!pw) throw std::runtime_error("redis sink: environment variable " + password_env_ + " is not set");
      if (!simple({"AUTH", pw})) return false;
    }
    if (db_ && !simple({"SELECT", std::to_string(db_)})) return false;
    // A server that wants a password nobody gave (NOAUTH) stops the run now,
    // not when the first alert arrives.
    if (!simple({"PING"})) return false;
    if (failures_) spdlog::info("redis '{}' {}:{}: connected after {} failed attempt(s)", name_, host_, port_, failures_);
    failures_ = 0;
    context().set_ready(true);
    return true;
  }

  bool simple(std::vector<std::string> args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    Reply r(static_cast<redisReply*>(redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (r && r->type == REDIS_REPLY_ERROR && configuration_error(std::string_view(r->str, r->len)))
      refuse(std::string(r->str, r->len), args.front());
    if (!r || r->type == REDIS_REPLY_ERROR) {
      note_failure(r ? r->str : ctx_->errstr);
      disconnect();
      return false;
    }
    return true;
  }

  [[noreturn]] void refuse(const std::string& error, const std::string& command) {
    disconnect();
    std::string hint;
    if (command == "AUTH") hint = password_env_.empty() ? "" : " (the password in $" + password_env_ + ")";
    else if (command == "SELECT") hint = " (db " + std::to_string(db_) + ")";
    else hint = password_env_.empty() ? " (the server wants a password: set password_env)" : "";
    throw std::runtime_error(fmt::format("redis {}:{} refused {}{}: {}", host_, port_, command, hint, error));
  }

  void note_failure(const char* why) {
    // One line per failure streak step, not one per retry at full speed.
    if (failures_++ % 20 == 0) spdlog::warn("redis '{}' {}:{}: {} (retrying)", name_, host_, port_, why);
    if (retries_) retries_->inc();
    context().set_ready(false, std::string("Redis: ") + why);
  }

  // An error reply that is not the event's fault: true if it says "not now"
  // (noted; the batch is held), false if it says "never". Wrong credentials
  // stop the run.
  bool transient(std::string_view msg) {
    if (configuration_error(msg)) refuse(std::string(msg), mode_ == "xadd" ? "XADD" : "the write");
    if (!transient_error(msg)) return false;
    note_failure(std::string(msg).c_str());
    return true;
  }

  void disconnect() {
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
  }

  // Hands what resp_ holds to hiredis, which sends it with the first read.
  bool send() {
    const std::string_view w = resp_.wire();
    const bool ok = redisAppendFormattedCommand(ctx_, w.data(), w.size()) == REDIS_OK;
    resp_.clear();
    if (!sent_at_) sent_at_ = Clock::now();
    return ok;
  }
  // The next pipelined reply; null if the connection failed (noted).
  Reply next_reply() {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK) {
      sent_at_.reset();
      note_failure(ctx_->errstr);
      return nullptr;
    }
    if (sent_at_ && round_trip_) {
      round_trip_->observe(std::chrono::duration<double>(Clock::now() - *sent_at_).count());
      sent_at_.reset();
    }
    return Reply(static_cast<redisReply*>(raw));
  }

  void write_command(std::string_view value) {
    if (mode_ == "xadd") {
      const bool capped = maxlen_ != "0";
      resp_.command(capped ? 8 : 5) << "XADD" << key_;
      if (capped) resp_ << "MAXLEN" << "~" << maxlen_;
      resp_ << "*" << stream_field_ << value;
    } else {
      resp_.command(3) << (mode_ == "publish" ? "PUBLISH" : "LPUSH") << key_ << value;
    }
  }

  // False if the connection failed or Redis said "not now" (nothing completed).
  bool write(Batch& in, Outputs& out) {
    const size_t n = in.events.size();
    std::vector<std::string> records;  // dead-letter records, built before any pointer to them is taken
    records.reserve(n);
    std::vector<std::string_view> values(n);
    std::vector<bool> has_id(n, true);
    for (size_t i = 0; i < n; ++i) {
      const Event& e = in.events[i];
      values[i] = e.raw;
      if (!e.error.empty()) {
        records.emplace_back();
        values[i] = json::payload(e, records.back());
      }
      if (idempotent_) has_id[i] = e.field(id_field_) != nullptr;
    }
    std::vector<std::string> errors(n);
    if (!(idempotent_ ? write_once(in, values, has_id, errors) : write_plain(values, errors))) return false;
    // Everything answered: complete what landed, dead-letter what Redis refused.
    auto arena = std::make_shared<Arena>();
    Batch done = in.derive(n);
    Batch rejected;
    for (size_t i = 0; i < n; ++i) {
      Event& e = in.events[i];
      if (!has_id[i]) {
        out.reject(rejected, std::move(e), "missing_id", "idempotent writes need the event's id field");
      } else if (!errors[i].empty()) {
        out.reject(rejected, std::move(e), "redis_error", arena->copy(errors[i]));
      } else {
        done.events.push_back(std::move(e));
      }
    }
    in.events.clear();
    done.complete_all();
    if (!rejected.empty()) {
      rejected.hold_all(in.holds);
      rejected.hold(std::move(arena));
      out.dead_letter(std::move(rejected));
    }
    return true;
  }

  // One command per event, the whole batch in one round trip.
  bool write_plain(const std::vector<std::string_view>& values, std::vector<std::string>& errors) {
    for (auto v : values) write_command(v);
    if (!send()) return false;
    bool hold = false;
    for (size_t i = 0; i < values.size(); ++i) {
      Reply r = next_reply();
      if (!r) return false;
      if (r->type != REDIS_REPLY_ERROR) continue;
      std::string_view msg(r->str, r->len);
      if (transient(msg)) hold = true;  // read the remaining replies first: the connection stays in step
      else errors[i] = msg;
    }
    return !hold;
  }

  bool write_once(const Batch& in, const std::vector<std::string_view>& values, const std::vector<bool>& has_id,
                  std::vector<std::string>& errors) {
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count() / bucket_s_;
    // The bucket written first, then the others looked in. One bucket ahead
    // too: another instance's clock may run ahead of this one's. "b:" keeps
    // them apart from the key-per-id markers of earlier versions (prefix + key
    // + ":" + id), which a numeric id would collide with.
    std::vector<std::string> buckets{seen_prefix_ + "b:" + std::to_string(now)};
    for (int64_t b = now + 1; b >= now - (ttl_s_ + bucket_s_ - 1) / bucket_s_; --b)
      if (b != now) buckets.push_back(seen_prefix_ + "b:" + std::to_string(b));
    for (size_t i = 0; i < in.events.size();) {
      if (!has_id[i]) {
        ++i;  // rejected by write()
        continue;
      }
      size_t end = i;
      while (end < in.events.size() && has_id[end] && end - i < transaction_events_) ++end;
      if (!write_chunk(in, values, i, end, buckets, errors)) return false;
      i = end;
    }
    return true;
  }

  // Events [first, end), all with ids, as one transaction (see kRecord). False
  // if the batch must be held; else errors has each refused write's error.
  bool write_chunk(const Batch& in, const std::vector<std::string_view>& values, size_t first, size_t end,
                   const std::vector<std::string>& buckets, std::vector<std::string>& errors) {
    auto id = [&](size_t k) { return in.events[k].field(id_field_)->value; };
    // An id twice in a chunk (a source that repeats itself) is written once;
    // the copy shares the first one's outcome.
    constexpr size_t kFirst = static_cast<size_t>(-1);
    std::vector<size_t> unique, copy_of(end - first, kFirst);
    std::unordered_map<std::string_view, size_t> firsts;
    firsts.reserve(end - first);
    for (size_t k = first; k < end; ++k) {
      auto [it, fresh] = firsts.try_emplace(id(k), k);
      if (fresh) unique.push_back(k);
      else copy_of[k - first] = it->second;
    }
    auto fail_all = [&](std::string_view msg) {
      for (size_t k = first; k < end; ++k) errors[k] = msg;
      return true;
    };
    std::vector<size_t> writes;  // the events whose ids no bucket has
    for (int aborts = 0;;) {
      // 1. The look-up, ending in MULTI so that a refused MULTI is seen before
      // any write is sent (a write sent outside a transaction would land
      // without its record). A chunk that needed no transaction left its
      // MULTI open: DISCARD it (which also forgets its WATCH).
      if (in_multi_) resp_.command(1) << "DISCARD";
      resp_.command(1 + buckets.size()) << "WATCH";
      for (const auto& b : buckets) resp_ << b;
      for (const auto& b : buckets) {
        resp_.command(2 + unique.size()) << "HMGET" << b;
        for (size_t k : unique) resp_ << id(k);
      }
      resp_.command(1) << "MULTI";
      if (!send()) return false;
      if (in_multi_) {
        if (!next_reply()) return false;
        in_multi_ = false;
      }
      std::vector<Reply> replies(buckets.size() + 2);  // WATCH, the HMGETs, MULTI
      for (auto& r : replies)
        if (!(r = next_reply())) return false;
      in_multi_ = replies.back()->type != REDIS_REPLY_ERROR;
      for (const auto& r : replies)
        if (r->type == REDIS_REPLY_ERROR) {
          // WRONGTYPE on a bucket (something else owns that key): nothing can be
          // checked, so nothing is written.
          std::string_view msg(r->str, r->len);
          return !transient(msg) && fail_all(msg);
        }
      std::vector<bool> seen(unique.size(), false);
      for (size_t b = 1; b <= buckets.size(); ++b) {
        const redisReply* r = replies[b].get();
        if (r->type != REDIS_REPLY_ARRAY || r->elements != unique.size()) {
          note_failure("unexpected reply to HMGET");
          return false;
        }
        for (size_t j = 0; j < unique.size(); ++j)
          if (r->element[j]->type != REDIS_REPLY_NIL) seen[j] = true;
      }
      writes.clear();
      for (size_t j = 0; j < unique.size(); ++j)
        if (!seen[j]) writes.push_back(unique[j]);
      if (writes.empty()) return true;  // a replay: every id written before

      if (before_transaction_) before_transaction_(transactions_);
      ++transactions_;
      // 2. The writes, their record, EXEC.
      for (size_t k : writes) write_command(values[k]);
      resp_.command(7 + 2 * writes.size()) << "EVAL" << kRecord << "2" << key_ << buckets.front() << bucket_ttl_
                                           << (mode_ == "xadd" ? "stream" : mode_ == "lpush" ? "list" : "");
      for (size_t k : writes) resp_ << id(k) << "1";
      resp_.command(1) << "EXEC";
      if (!send()) return false;
      std::string queue_error;  // a command refused while queued (OOM, READONLY): EXEC then runs nothing
      for (size_t j = 0; j <= writes.size(); ++j) {
        Reply q = next_reply();
        if (!q) return false;
        if (q->type == REDIS_REPLY_ERROR && queue_error.empty()) queue_error.assign(q->str, q->len);
      }
      Reply x = next_reply();
      if (!x) return false;
      in_multi_ = false;
      if (x->type == REDIS_REPLY_NIL) {
        // A bucket changed since the look-up: look again.
        if (++aborts == kMaxAborts) {
          note_failure("transactions aborted by concurrent writes to the dedupe buckets");
          return false;
        }
        spdlog::debug("redis '{}': transaction aborted by WATCH, retrying", name_);
        continue;
      }
      if (x->type == REDIS_REPLY_ERROR) {
        const std::string msg = queue_error.empty() ? std::string(exec_abort_reason({x->str, x->len})) : queue_error;
        return !transient(msg) && fail_all(msg);
      }
      if (x->type != REDIS_REPLY_ARRAY || x->elements != writes.size() + 1) {
        note_failure("unexpected reply to EXEC");
        return false;
      }
      const redisReply* rec = x->element[writes.size()];
      if (rec->type == REDIS_REPLY_ERROR)
        spdlog::error("redis '{}': {} alerts written, their ids not recorded in {} ({}): a replay writes them again",
                      name_, writes.size(), buckets.front(), std::string_view(rec->str, rec->len));
      std::vector<size_t> failed;
      bool hold = false;
      for (size_t j = 0; j < writes.size(); ++j) {
        const redisReply* r = x->element[j];
        if (r->type != REDIS_REPLY_ERROR) continue;
        std::string_view msg(r->str, r->len);
        failed.push_back(writes[j]);
        if (transient(msg)) hold = true;
        else errors[writes[j]] = msg;
      }
      if (!failed.empty() && rec->type == REDIS_REPLY_INTEGER && rec->integer > 0) {
        std::vector<std::string_view> ids;
        for (size_t k : failed) ids.push_back(id(k));
        undo_records(buckets.front(), ids);
      }
      for (size_t k = first; k < end; ++k)
        if (copy_of[k - first] != kFirst) errors[k] = errors[copy_of[k - first]];
      return !hold;
    }
  }

  // Removes the records of writes that failed inside EXEC although kRecord
  // recorded them (the target had the right type, yet the write failed: a
  // stream whose last id is the largest there is). A record without its write
  // would skip that alert on every replay, so this retries until Redis confirms,
  // holding the pipeline as in an outage. Only an engine crash before it is
  // confirmed leaves such records: those alerts are then in Kafka and in
  // the dlq of no run, never in Redis. WRONGTYPE, the failure a misconfigured
  // target gives, never gets here.
  void undo_records(const std::string& bucket, const std::vector<std::string_view>& ids) {
    for (int64_t backoff = backoff_min_ms_;; backoff = std::min(backoff * 2, backoff_max_ms_)) {
      if (ctx_ || connect()) {
        resp_.command(2 + ids.size()) << "HDEL" << bucket;
        for (auto v : ids) resp_ << v;
        Reply r = send() ? next_reply() : nullptr;
        if (r && r->type != REDIS_REPLY_ERROR) return;
        if (r) note_failure(r->str);
        disconnect();
      }
      // A stop or reload past its deadline is not held here either: say what is left behind.
      if (context().drain_expired()) {
        spdlog::error("redis '{}': the drain's deadline passed before {} record(s) in {} could be undone; those alerts "
                      "will be skipped in Redis on a replay", name_, ids.size(), bucket);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
    }
  }

  std::string name_;
  std::string host_;
  int port_;
  std::string mode_;
  std::string key_;
  std::string maxlen_;
  std::string stream_field_;
  bool idempotent_;
  std::string id_field_;
  std::string prefix_;
  std::string password_env_;
  int64_t db_;
  int64_t connect_timeout_ms_;
  int64_t io_timeout_ms_;
  int64_t backoff_min_ms_;
  int64_t backoff_max_ms_;
  Counter* retries_ = nullptr;
  Histogram* round_trip_ = nullptr;
  std::optional<Clock::time_point> sent_at_;  // the first request of a round trip not answered yet
  size_t transaction_events_;
  std::string seen_prefix_;
  int64_t ttl_s_, bucket_s_;
  std::string bucket_ttl_ = std::to_string(ttl_s_ + 2 * bucket_s_);
  Location id_where_;
  std::function<void(uint64_t)> before_transaction_;
  redisContext* ctx_ = nullptr;
  bool in_multi_ = false;  // the connection is inside MULTI: a chunk needed no writes
  Resp resp_;
  uint64_t transactions_ = 0;
  uint64_t failures_ = 0;
};

}  // namespace

ComponentSpec redis_sink_spec() {
  return ComponentSpec{
      "redis",
      Kind::Sink,
      "events to a Redis stream, channel or list, pipelined; optionally written once per id",
      {{"key", SettingType::String, true, "the stream, channel or list"},
       {"mode", SettingType::String, false, "xadd (default), publish or lpush"},
       {"host", SettingType::String, false, "default 127.0.0.1"},
       {"port", SettingType::Int, false, "default 6379"},
       {"maxlen", SettingType::Int, false, "xadd: approximate stream length cap (default 1000000; 0: none)"},
       {"stream_field", SettingType::String, false, "xadd: the entry's field name (default alert)"},
       {"idempotent", SettingType::Bool, false, "write an event only once per id (default false)"},
       {"id_field", SettingType::String, false, "the event field with the id (default alert_id)"},
       {"dedupe_ttl_s", SettingType::Int, false, "how long an id is remembered at least (default 7 days, at most 10 years)"},
       {"transaction_events", SettingType::Int, false, "idempotent: events per transaction (default 1024, at most 2048)"},
       {"dedupe_prefix", SettingType::String, false, "key prefix of remembered ids, before the target key (default socstream:seen:)"},
       {"password_env", SettingType::String, false, "the environment variable holding the password"},
       {"db", SettingType::Int, false, "the database number"},
       {"connect_timeout_ms", SettingType::Int, false, ""},
       {"io_timeout_ms", SettingType::Int, false, ""},
       {"backoff_initial_ms", SettingType::Int, false, "first reconnect delay (doubles up to backoff_max_ms)"},
       {"backoff_max_ms", SettingType::Int, false, ""}},
      false,
      [](const Settings& s) { return std::make_unique<RedisSink>(s, nullptr); }};
}

std::unique_ptr<Sink> make_redis_sink(const Settings& s, std::function<void(uint64_t)> before_transaction) {
  return std::make_unique<RedisSink>(s, std::move(before_transaction));
}

}  // namespace socstream
