#include "engine/field_names.hpp"

#include "engine/hash.hpp"

namespace socstream {

FieldNames::Entry* FieldNames::find_or_add(std::string_view name) {
  const uint64_t h = name_hash(name);
  size_t mask = slots_.size() - 1;
  size_t i = h & mask, probes = 0;
  for (; slots_[i]; i = (i + 1) & mask) {
    Entry& e = entries_[slots_[i] - 1];
    if (e.hash == h && e.name == name) return &e;
    if (++probes == kMaxProbes) return nullptr;
  }
  if (entries_.size() >= max_names_ || bytes_ + name.size() > max_bytes_) return nullptr;
  entries_.push_back(Entry{std::string(name), h});
  bytes_ += name.size();
  slots_[i] = static_cast<uint32_t>(entries_.size());
  if (entries_.size() * 2 > slots_.size()) {  // keep probes short: at most half full
    slots_.assign(slots_.size() * 2, 0);
    mask = slots_.size() - 1;
    for (uint32_t k = 0; k < entries_.size(); ++k) {
      size_t j = entries_[k].hash & mask;
      while (slots_[j]) j = (j + 1) & mask;
      slots_[j] = k + 1;
    }
  }
  return &entries_.back();
}

}  // namespace socstream
