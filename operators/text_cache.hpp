#pragma once
// The transformer's result cache. Log and request texts repeat as templates
// whose variable parts are numbers, hex strings, addresses and ids, so the key
// is the text with those masked: "id=1234 from 10.0.0.7" and "id=98 from
// 10.0.0.9" share one model result. Bounded, least recently used out first.
#include <re2/re2.h>

#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace socstream {

// Masks UUIDs, IPv4 and IPv6 addresses, long hex strings and digit runs.
class TextNormalizer {
 public:
  TextNormalizer();
  void normalize(std::string_view text, std::string& out) const;

 private:
  struct Mask {
    std::unique_ptr<RE2> re;
    const char* token;
  };
  std::vector<Mask> masks_;
};

class ResultCache {
 public:
  explicit ResultCache(size_t capacity) : capacity_(capacity) {}
  size_t capacity() const { return capacity_; }
  size_t size() const { return index_.size(); }

  // The cached result, refreshed as most recent; null if absent.
  const std::vector<float>* find(const std::string& key);
  void put(const std::string& key, std::vector<float> value);

 private:
  struct Entry {
    std::string key;
    std::vector<float> value;
  };
  size_t capacity_;
  std::list<Entry> order_;  // most recent first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
};

}  // namespace socstream
