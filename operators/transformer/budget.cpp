#include "operators/transformer/budget.hpp"

#include <algorithm>
#include <tuple>

namespace socstream {

namespace {
// Bytes outside letters, digits and space: injections are made of them.
size_t punctuation(std::string_view t) {
  size_t n = 0;
  for (unsigned char c : t) n += !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ');
  return n;
}
}  // namespace

bool TextBudget::flagged(const Event& e, std::string_view text) {
  for (const Rule* r : e.rules) {
    if (r->kind != "regex" || r->pattern.empty()) continue;
    auto& re = patterns_[r];
    if (!re) {
      RE2::Options o;
      o.set_log_errors(false);
      o.set_max_mem(64 << 20);  // as regex_prefilter compiles them: a rule it took must compile here too
      re = std::make_unique<RE2>(r->pattern, o);
    }
    if (re->ok() && RE2::PartialMatch(text, *re)) return true;
  }
  return false;
}

void TextBudget::rank(const Event& e, const std::string* texts, size_t n) {
  struct Key {
    bool flagged;
    size_t punctuation;
  };
  std::vector<Key> keys;
  keys.reserve(n);
  for (size_t i = 0; i < n; ++i) keys.push_back({flagged(e, texts[i]), punctuation(texts[i])});
  order_.resize(n);
  for (uint32_t i = 0; i < order_.size(); ++i) order_[i] = i;
  std::stable_sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) {
    return std::forward_as_tuple(!keys[a].flagged, keys[b].punctuation, texts[a]) <
           std::forward_as_tuple(!keys[b].flagged, keys[a].punctuation, texts[b]);
  });
}

}  // namespace socstream
