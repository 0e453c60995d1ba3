#pragma once
// Field names a parser makes from the data (the dotted names of JSON
// `fields: all`, key=value keys, CSV headers), each stored once for the life
// of the parser: events point at them (no copy per event), a repeated name
// within an event is found by one stamp per name instead of a sort, and
// consumers can key caches on the pointer (Field::interned). Bounded in
// names, bytes and probes per lookup, since names are the sender's to choose
// (a crafted run of colliding hashes must not make every later lookup slow);
// past a bound, find_or_add returns nullptr and the caller keeps the name in
// the batch's arena.
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace socstream {

class FieldNames {
 public:
  struct Entry {
    std::string name;
    uint64_t hash;
    uint64_t seen = 0;   // the event that last used it (a stamp the caller advances)
    uint32_t field = 0;  // its index in that event, or kObject
  };
  static constexpr uint32_t kObject = ~uint32_t{0};
  FieldNames(size_t max_names, size_t max_bytes) : max_names_(max_names), max_bytes_(max_bytes) {}
  Entry* find_or_add(std::string_view name);

 private:
  static constexpr size_t kMaxProbes = 32;
  std::deque<Entry> entries_;  // stable addresses
  std::vector<uint32_t> slots_ = std::vector<uint32_t>(1024, 0);  // entry index + 1
  size_t max_names_, max_bytes_, bytes_ = 0;
};

}  // namespace socstream
