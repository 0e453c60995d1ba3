#pragma once
// type: json_parse. Validates each event as a JSON object with simdjson and
// extracts configured fields by JSON pointer, or with `fields: all` every field,
// nested objects flattened to dotted names (Event.EventData.Image) so any rule
// can name any field. Anything else goes to `dlq` with a reason: empty,
// too_large, invalid_utf8, invalid_json, too_deep, not_object, duplicate_key.
//
// Duplicate keys are refused by default: JSON readers disagree on which value
// of a repeated key wins (simdjson and Python's json keep different ones), so an
// attacker can show a benign value to the detector and a malicious one to the
// consumer. `duplicate_keys: first|last` chooses instead. With `fields: all` a
// dotted key that collides with a nested one ({"a.b":1,"a":{"b":2}}) counts as
// a duplicate too; with pointers, only the extracted fields are checked.
//
// It uses simdjson's DOM parser, not On-Demand. The operator must reject any
// input that is not JSON, so it must validate the whole document; On-Demand is
// only cheaper when it skips what it does not read, which lets malformed JSON
// through. An On-Demand operator that walks every value (with zero-copy field
// views as a bonus) was built and measured against this one in the same
// end-to-end runs: it used ~15% more CPU (bench/RESULTS.md), mostly in a
// store-forwarding stall that GCC 12's copies of simdjson's iterator structs
// cause on every value. The DOM parser also checks depth as it builds the tape.
#include <simdjson.h>

#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "engine/component.hpp"
#include "engine/field_names.hpp"

namespace socstream {

class JsonParse final : public Operator {
 public:
  struct Target {
    std::string name;     // the field name events carry
    std::string pointer;  // as configured, for messages
  };

  explicit JsonParse(const Settings& s);
  void process(Batch&& in, Outputs& out) override;
  FieldWrites writes() const override {
    FieldWrites w{{}, all_};
    for (const auto& t : targets_) w.names.push_back(t.name);
    return w;
  }

  // Parses one payload into e's fields; returns nullptr or the reason to reject it.
  // `padded`: raw is followed by Batch::kRawPadding readable bytes.
  const char* parse(std::string_view raw, Event& e, Arena& arena, std::string_view& detail, bool padded = false);

 private:
  // The configured pointers as a trie over their tokens, so one walk finds them all.
  struct PathNode {
    std::string token;
    int target = -1;
    std::vector<PathNode> children;
    const PathNode* child(std::string_view key) const {
      // Most keys of an event are not configured: reject on length and first byte before memcmp.
      for (const auto& c : children)
        if (c.token.size() == key.size() && (key.empty() || c.token[0] == key[0]) &&
            std::memcmp(c.token.data(), key.data(), key.size()) == 0)
          return &c;
      return nullptr;
    }
  };
  enum class Duplicates { Reject, First, Last };

  void capture(std::string_view name, simdjson::dom::element el, Event& e, Arena& arena);
  void extract(const PathNode* node, simdjson::dom::element el, Event& e, Arena& arena);
  void flatten(simdjson::dom::object obj, Event& e, Arena& arena);
  void add_pointer(const Settings& s, const std::string& name, const std::string& pointer);
  // Finds fields named twice among e.fields[from..]; applies the policy. Returns
  // false (with the name in detail) when the event must be refused.
  bool resolve_duplicates(Event& e, size_t from, Arena& arena, std::string_view& detail);

  std::string big_numbers_;  // an event re-written with its out-of-range numbers as strings
  bool all_ = false;
  Duplicates duplicates_ = Duplicates::Reject;
  FieldNames names_{65536, 4u << 20};  // the dotted names of fields: all
  uint64_t event_seq_ = 0;
  bool uninterned_ = false;      // this event has names outside names_ (a bound was reached)
  std::vector<std::string_view> uninterned_objects_;  // their object prefixes, for the duplicate check
  size_t name_bytes_ = 0;        // the event's dotted names so far: bounded by max_bytes
  const char* flatten_error_ = nullptr;
  const char* flatten_reason_ = nullptr;
  std::string path_;  // the dotted name being built while flattening
  std::vector<std::pair<uint64_t, uint32_t>> name_hashes_;
  std::vector<Target> targets_;
  PathNode root_;
  size_t max_bytes_;
  size_t max_depth_;
  simdjson::dom::parser parser_;
  std::unique_ptr<char[]> padded_;
  size_t padded_cap_ = 0;
  std::string minified_;
};

}  // namespace socstream
