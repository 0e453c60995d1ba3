#include "operators/text_cache.hpp"

namespace socstream {

TextNormalizer::TextNormalizer() {
  // Most specific first: a UUID or an address would otherwise be cut into digit runs.
  const std::pair<const char*, const char*> masks[] = {
      {R"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})", "<uuid>"},
      {R"(\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b)", "<ip>"},
      {R"(\b[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){7}\b|(?:[0-9a-fA-F]{1,4}:)*[0-9a-fA-F]{0,4}::(?:[0-9a-fA-F]{1,4}:)*[0-9a-fA-F]{1,4}\b)",
       "<ip>"},
      {R"(\b(?:0[xX][0-9a-fA-F]+|[0-9a-fA-F]{8,})\b)", "<hex>"},
      {R"(\d+)", "0"},
  };
  RE2::Options o;
  o.set_log_errors(false);
  for (auto [pattern, token] : masks) masks_.push_back({std::make_unique<RE2>(pattern, o), token});
}

void TextNormalizer::normalize(std::string_view text, std::string& out) const {
  out.assign(text);
  // Most texts have no digit at all, and every mask needs one.
  bool digit = false;
  for (char c : text)
    if (c >= '0' && c <= '9') {
      digit = true;
      break;
    }
  if (!digit) return;
  for (const auto& m : masks_) RE2::GlobalReplace(&out, *m.re, m.token);
}

const std::vector<float>* ResultCache::find(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  order_.splice(order_.begin(), order_, it->second);
  return &it->second->value;
}

void ResultCache::put(const std::string& key, std::vector<float> value) {
  if (capacity_ == 0) return;
  if (auto it = index_.find(key); it != index_.end()) {
    it->second->value = std::move(value);
    order_.splice(order_.begin(), order_, it->second);
    return;
  }
  if (index_.size() >= capacity_) {
    index_.erase(order_.back().key);
    order_.pop_back();
  }
  order_.push_front(Entry{key, std::move(value)});
  index_.emplace(order_.front().key, order_.begin());
}

}  // namespace socstream
