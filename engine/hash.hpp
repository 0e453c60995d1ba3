#pragma once
// A fast hash for short strings such as field names, where std::hash's
// general-purpose mixing costs more than the lookup it serves (measured in
// bench/model/sigma_bench: field lookups were a third of the Sigma stage).
// FxHash's word-at-a-time mix: not for adversarial tables that grow (use it
// where the key set is fixed, or where equal hashes are resolved by compare).
#include <cstdint>
#include <cstring>
#include <string_view>

namespace socstream {

inline uint64_t name_hash(std::string_view s) {
  constexpr uint64_t k = 0x517cc1b727220a95ull;
  auto mix = [](uint64_t h, uint64_t w) { return (((h << 5) | (h >> 59)) ^ w) * k; };
  const char* p = s.data();
  const size_t n = s.size();
  uint64_t h = n * 0x9e3779b97f4a7c15ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = mix(h, w);
  }
  if (i < n) {
    uint64_t w = 0;
    std::memcpy(&w, p + i, n - i);
    h = mix(h, w);
  }
  return h ^ (h >> 29);
}

}  // namespace socstream
