#pragma once
// Events and batches. An event does not own its bytes: its views point into
// buffers that the batch keeps alive (`holds`), so reading, parsing, filtering
// and routing never copy payloads or allocate per event.
#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/ack.hpp"

namespace socstream {

struct Rule;  // engine/rule.hpp

enum class ValueKind : uint8_t { String, Number, Bool, Null, Json };

struct Field {
  std::string_view name;   // points at configuration text, or a parser's names, that outlive the run
  std::string_view value;  // unescaped text for String, JSON text otherwise
  ValueKind kind = ValueKind::String;
  // The name's bytes are interned: they live as long as the topology and every
  // field of that name points at the same bytes, so a consumer may key a cache
  // on the pointer instead of hashing the name again.
  bool interned = false;
};

// Where an event came from: what a Kafka source commits and what alert ids hash.
struct SourcePos {
  const std::string* source = nullptr;  // the source component's name
  int32_t partition = 0;
  int64_t offset = -1;      // Kafka offset, or byte offset of the line in a file
  std::string_view stream;  // the Kafka topic, or the file as configured; outlives the run
  // Which instance of the stream: offsets restart when a file is rotated or
  // truncated, a topic is re-created, stdin is read by another run. A file's
  // device, inode and first line; a Kafka message's timestamp; a run's random
  // id for stdin. With the rest it names one event and no other.
  uint64_t origin = 0;
};

struct Event {
  std::string_view raw;
  SourcePos pos;
  boost::container::small_vector<Field, 8> fields;
  boost::container::small_vector<const Rule*, 2> rules;
  // What each rule matched on, as JSON (a Sigma rule's selections and field
  // values), parallel to `rules`; empty where the detector says nothing.
  boost::container::small_vector<std::string_view, 2> matched;
  // Set when the event is dead-lettered: a stable reason code, a human detail,
  // and the component that rejected it.
  std::string_view error;
  std::string_view error_detail;
  const std::string* error_component = nullptr;
  Ack ack;
  // What the source knows of the event beyond its bytes, for that source's
  // sinks (a Kafka message's key and headers, packed by connectors/kafka_common),
  // so a dead letter leaves with them; empty for most sources.
  std::string_view source_meta;
  // A model operator (transformer, online_classifier) wrote its verdict fields.
  // The alert trusts label/score/model only then: an event's own JSON can name
  // a field "label" too, and must not pass for a model's verdict.
  bool scored = false;

  const Field* field(std::string_view name) const {
    for (const auto& f : fields)
      if (f.name == name) return &f;
    return nullptr;
  }
  void set_field(std::string_view name, std::string_view value, ValueKind kind = ValueKind::String) {
    for (auto& f : fields)
      if (f.name == name) {
        f.value = value;
        f.kind = kind;
        return;
      }
    fields.emplace_back(Field{name, value, kind});
  }
};

// Append-only storage whose views stay valid: chunks never move.
class Arena {
 public:
  explicit Arena(size_t chunk = 64 * 1024) : chunk_(chunk) {}
  std::string_view copy(std::string_view s) {
    char* p = alloc(s.size());
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }
  char* alloc(size_t n) {
    if (n > left_) {
      size_t size = n > chunk_ / 4 ? n : chunk_;
      chunks_.emplace_back(new char[size]);
      next_ = chunks_.back().get();
      left_ = size;
    }
    char* p = next_;
    next_ += n;
    left_ -= n;
    return p;
  }
  // Bytes not yet used in the current chunk, for writers that fill in place.
  size_t available() const { return left_; }

 private:
  size_t chunk_;
  std::vector<std::unique_ptr<char[]>> chunks_;
  char* next_ = nullptr;
  size_t left_ = 0;
};

using Hold = std::shared_ptr<const void>;

struct Batch {
  std::vector<Event> events;
  std::vector<Hold> holds;
  // Every event's raw bytes are followed by at least kRawPadding readable bytes
  // (simdjson reads ahead): set by sources whose buffers have that slack, so
  // parsers need not copy. Operators that build new raw bytes clear it.
  static constexpr size_t kRawPadding = 64;
  bool raw_padded = false;

  size_t size() const { return events.size(); }
  bool empty() const { return events.empty(); }
  size_t bytes() const {
    size_t b = 0;
    for (const auto& e : events) b += e.raw.size();
    return b;
  }
  void hold(Hold h) {
    for (const auto& x : holds)
      if (x == h) return;
    holds.push_back(std::move(h));
  }
  void hold_all(const std::vector<Hold>& hs) {
    for (const auto& h : hs) hold(h);
  }
  // A batch that will receive events moved out of this one.
  Batch derive(size_t reserve = 0) const {
    Batch b;
    b.holds = holds;
    b.raw_padded = raw_padded;
    b.events.reserve(reserve);
    return b;
  }
  // Copies for fan-out: views are shared, each copy holds its own references.
  Batch share() const;

  // Completes every event, one atomic operation per run of events from the same token.
  void complete_all();
  void abandon_all();
};

}  // namespace socstream
