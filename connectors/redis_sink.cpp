// type: redis (sink). Writes events to a stream (XADD, approximate MAXLEN), a
// channel (PUBLISH) or a list (LPUSH), one pipelined round trip per batch. An
// event completes when Redis has answered for it. While Redis is unreachable
// the sink retries with backoff and holds its batch, so upstream blocks (the
// engine's backpressure) and nothing is dropped; so do errors that say "not
// now" (OOM under maxmemory, READONLY in a failover, LOADING, BUSY). Errors
// that say "never" (WRONGTYPE on the target) dead-letter the event. With
// `idempotent: true` a write happens only if the event's id was not seen
// before (the write, then a marker with a TTL, atomically in one Lua script),
// so redelivered alerts are written once.
#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <thread>

#include "connectors/connectors.hpp"
#include "engine/json_writer.hpp"

namespace socstream {

namespace {

// One call writes a chunk of events, each only if its id is new: the script's
// per-call cost (measured: 46K calls/s against 138K plain XADD/s) is paid once
// per chunk. Scripts run without interleaving, so each check-and-write is atomic.
// The ids written are remembered as fields of one hash per time bucket, not as
// a key each: a chunk looks its ids up with one HMGET per bucket and records
// them with one HSET, so that Redis's single thread spends its time on the
// writes themselves (a key with a TTL per alert, EXISTS + SET EX, cost more
// than the XADD: bench/RESULTS.md, "Redis"). A bucket expires as a whole, so an
// id is remembered for dedupe_ttl_s at least and at most two buckets more.
// The write comes first and its record only after it succeeded: Redis does not
// roll a script back, so a record made before a write that then failed
// (WRONGTYPE, OOM) would skip that alert on every replay. A transient refusal
// (OOM, READONLY, ...) ends the call with that error, after recording what the
// call already wrote, and the sink retries the batch; a permanent one is that
// event's result, and the rest of the chunk goes on.
// KEYS: target, the bucket written (the current one), then the others to
// look in. ARGV: the written bucket's TTL, mode, maxlen, stream field, n, then
// n ids, then n payloads. Returns, per event, 1 (written), 0 (seen before) or
// the error Redis gave its write.
const char* kIdempotentWrite = R"lua(
local ttl, mode, maxlen, field, n = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local transient = {'OOM', 'READONLY', 'LOADING', 'BUSY', 'MASTERDOWN', 'TRYAGAIN', 'CLUSTERDOWN', 'NOREPLICAS'}
local seen = {}
for k = 2, #KEYS do
  local found = redis.call('HMGET', KEYS[k], unpack(ARGV, 6, 5 + n))
  for i = 1, n do
    if found[i] then seen[ARGV[5 + i]] = true end
  end
end
local results, marks = {}, {}
local function record()
  if #marks > 0 then
    redis.call('HSET', KEYS[2], unpack(marks))
    redis.call('EXPIRE', KEYS[2], ttl)
  end
end
for i = 1, n do
  local id = ARGV[5 + i]
  if seen[id] then
    results[i] = 0
  else
    local payload = ARGV[5 + n + i]
    local r
    if mode == 'xadd' then
      if maxlen > 0 then
        r = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', field, payload)
      else
        r = redis.pcall('XADD', KEYS[1], '*', field, payload)
      end
    elseif mode == 'publish' then
      r = redis.pcall('PUBLISH', KEYS[1], payload)
    else
      r = redis.pcall('LPUSH', KEYS[1], payload)
    end
    if type(r) == 'table' and r.err then
      for _, p in ipairs(transient) do
        if r.err == p or string.sub(r.err, 1, #p + 1) == p .. ' ' then
          record()
          return redis.error_reply(r.err)
        end
      end
      results[i] = r.err
    else
      seen[id] = true
      marks[#marks + 1] = id
      marks[#marks + 1] = '1'
      results[i] = 1
    end
  end
end
record()
return results
)lua";

// Errors that say "not now" rather than "never": the sink holds its batch and
// retries with backoff, as in an outage, instead of dead-lettering alerts that
// a moment later would have landed. NOSCRIPT: a restarted server, which a
// reconnect (reloading the script) answers.
bool transient_error(std::string_view msg) {
  for (std::string_view p : {"OOM", "READONLY", "LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN",
                             "NOREPLICAS", "NOSCRIPT"})
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

constexpr size_t kChunk = 256;  // events per script call: long enough to amortise, short enough not to stall Redis

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

class RedisSink final : public Sink {
 public:
  explicit RedisSink(const Settings& s)
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
        // Remembered ids are per destination: two pipelines writing to two keys
        // of one Redis must not swallow each other's alerts.
        seen_prefix_(prefix_ + key_ + ":"),
        ttl_s_(s.integer("dedupe_ttl_s", 7 * 86400, 1, 10LL * 365 * 86400)),
        // Eight buckets span the TTL: a chunk looks in about ten hashes.
        bucket_s_(std::max<int64_t>(60, (ttl_s_ + 6) / 7)),
        id_where_(s.where(s.has("id_field") ? "id_field" : "idempotent")) {}
  ~RedisSink() override { disconnect(); }

  std::vector<FieldRead> reads() const override {
    if (!idempotent_) return {};
    return {{id_field_, id_where_, "the id written once"}};
  }

  void open() override { connect(); }  // a first failure is not fatal: process() retries

  void process(Batch&& in, Outputs& out) override {
    int64_t backoff = backoff_min_ms_;
    for (;;) {
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
    if (!password_env_.empty()) {
      // The secret comes from the environment and is never logged.
      const char* pw = std::getenv(password_env_.c_str());
      if (!pw) throw std::runtime_error("redis sink: environment variable " + password_env_ + " is not set");
      if (!simple({"AUTH", pw})) return false;
    }
    if (db_ && !simple({"SELECT", std::to_string(db_)})) return false;
    if (idempotent_) {
      Reply r(static_cast<redisReply*>(redisCommand(ctx_, "SCRIPT LOAD %s", kIdempotentWrite)));
      if (r && r->type == REDIS_REPLY_ERROR && configuration_error(std::string_view(r->str, r->len)))
        refuse(std::string(r->str, r->len), "SCRIPT LOAD");
      if (!r || r->type != REDIS_REPLY_STRING) {
        note_failure(r ? r->str : ctx_->errstr);
        disconnect();
        return false;
      }
      sha_.assign(r->str, r->len);
    }
    if (failures_) spdlog::info("redis '{}' {}:{}: connected after {} failed attempt(s)", name_, host_, port_, failures_);
    failures_ = 0;
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
  }

  void disconnect() {
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
  }

  // One pipelined round trip. False if the connection failed (nothing completed).
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
    // The commands: one per event, or one script call per chunk of events with ids.
    struct Command {
      size_t first, count;  // the events it answers for
    };
    std::vector<Command> commands;
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    std::vector<std::string> buckets;  // the hash written first, then the others looked in
    std::deque<std::string> counts;    // deque: the views in argv stay valid
    if (idempotent_) {
      const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count() / bucket_s_;
      // One bucket ahead too: another instance's clock may run ahead of this one's.
      // "b:" keeps them apart from the key-per-id markers of earlier versions
      // (prefix + key + ":" + id), which a numeric id would collide with.
      buckets.push_back(seen_prefix_ + "b:" + std::to_string(now));
      for (int64_t b = now + 1; b >= now - (ttl_s_ + bucket_s_ - 1) / bucket_s_; --b)
        if (b != now) buckets.push_back(seen_prefix_ + "b:" + std::to_string(b));
    }
    const std::string numkeys = std::to_string(1 + buckets.size());
    auto arg = [&](std::string_view v) {
      argv.push_back(v.data());
      lens.push_back(v.size());
    };
    auto send = [&](size_t first, size_t count) {
      commands.push_back({first, count});
      return redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) == REDIS_OK;
    };
    for (size_t i = 0; i < n;) {
      argv.clear();
      lens.clear();
      if (!idempotent_) {
        if (mode_ == "xadd") {
          arg("XADD"), arg(key_);
          if (maxlen_ != "0") arg("MAXLEN"), arg("~"), arg(maxlen_);
          arg("*"), arg(stream_field_), arg(values[i]);
        } else {
          arg(mode_ == "publish" ? "PUBLISH" : "LPUSH"), arg(key_), arg(values[i]);
        }
        if (!send(i, 1)) return false;
        ++i;
        continue;
      }
      if (!has_id[i]) {
        ++i;  // rejected below
        continue;
      }
      size_t end = i;
      while (end < n && has_id[end] && end - i < kChunk) ++end;
      arg("EVALSHA"), arg(sha_), arg(numkeys), arg(key_);
      for (const auto& k : buckets) arg(k);
      arg(bucket_ttl_), arg(mode_), arg(maxlen_), arg(stream_field_);
      const std::string& count = counts.emplace_back(std::to_string(end - i));
      arg(count);
      for (size_t k = i; k < end; ++k) arg(in.events[k].field(id_field_)->value);
      for (size_t k = i; k < end; ++k) arg(values[k]);
      if (!send(i, end - i)) return false;
      i = end;
    }
    std::vector<std::string> errors(n);
    bool transient = false;
    for (const auto& c : commands) {
      void* raw = nullptr;
      if (redisGetReply(ctx_, &raw) != REDIS_OK) {
        note_failure(ctx_->errstr);
        return false;
      }
      Reply r(static_cast<redisReply*>(raw));
      if (r->type == REDIS_REPLY_ERROR) {
        std::string_view msg(r->str, r->len);
        if (configuration_error(msg)) refuse(std::string(msg), mode_ == "xadd" ? "XADD" : "the write");
        if (transient_error(msg)) {
          note_failure(r->str);
          transient = true;  // read the remaining replies first: the connection stays in step
          continue;
        }
        for (size_t k = c.first; k < c.first + c.count; ++k) errors[k] = msg;
      } else if (r->type == REDIS_REPLY_ARRAY) {
        // The script's per-event results: an error string is that event's permanent refusal.
        for (size_t k = 0; k < r->elements && k < c.count; ++k) {
          const redisReply* e = r->element[k];
          if (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS || e->type == REDIS_REPLY_ERROR)
            errors[c.first + k].assign(e->str, e->len);
        }
      }
    }
    if (transient) return false;  // nothing is completed; the retry dedupes what did land
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
  std::string seen_prefix_;
  int64_t ttl_s_, bucket_s_;
  std::string bucket_ttl_ = std::to_string(ttl_s_ + 2 * bucket_s_);
  Location id_where_;
  redisContext* ctx_ = nullptr;
  std::string sha_;
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
       {"dedupe_prefix", SettingType::String, false, "key prefix of remembered ids, before the target key (default socstream:seen:)"},
       {"password_env", SettingType::String, false, "the environment variable holding the password"},
       {"db", SettingType::Int, false, "the database number"},
       {"connect_timeout_ms", SettingType::Int, false, ""},
       {"io_timeout_ms", SettingType::Int, false, ""},
       {"backoff_initial_ms", SettingType::Int, false, "first reconnect delay (doubles up to backoff_max_ms)"},
       {"backoff_max_ms", SettingType::Int, false, ""}},
      false,
      [](const Settings& s) { return std::make_unique<RedisSink>(s); }};
}

}  // namespace socstream
