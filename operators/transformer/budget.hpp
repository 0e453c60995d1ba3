#pragma once
// Which of an event's texts a transformer scores. A forward pass is the
// engine's dearest step, so an event's texts have a budget (`max_values`
// distinct texts and `max_text_bytes` bytes sent to the model); an attacker
// who knows it pads: 64 dummy parameters before the injection, or a value of
// 100 KiB with the payload at its end. Within the budget every text is scored
// as before. Beyond it, the texts a rule of the event flagged go first, then
// the most punctuated (payloads are, dummies rarely), each distinct text once;
// a text the remaining bytes cannot hold gives its head and its tail; and what
// was left out is counted, so the event is marked and never judged benign by
// omission (the transformer's `overflow:` decides what a mark costs).
#include <re2/re2.h>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/event.hpp"
#include "engine/rule.hpp"

namespace socstream {

class TextBudget {
 public:
  TextBudget(size_t max_texts, size_t max_bytes) : max_texts_(max_texts), max_bytes_(max_bytes) {}

  size_t max_texts() const { return max_texts_; }
  size_t max_bytes() const { return max_bytes_; }

  // True when the texts (count and total size) fit: all are scored, in order.
  bool fits(size_t texts, size_t bytes) const { return texts <= max_texts_ && bytes <= max_bytes_; }

  struct Choice {
    std::vector<std::string_view> scored;  // views of the texts given, or of their heads and tails
    size_t unscored = 0;                   // texts left out, or scored only in part
  };
  // For texts that do not fit: the ones to score, in the order of the rules
  // above. `key(text, out)` gives the text's cache key (texts with one key
  // share one result, as the transformer's batches and cache share them) and
  // says whether it is answered without the model; either way it costs
  // nothing more. The views point into texts[0, n).
  template <class Key>
  Choice choose(const Event& e, const std::string* texts, size_t n, Key&& key) {
    Choice c;
    rank(e, texts, n);
    keys_.clear();
    size_t jobs = 0, bytes = 0;
    auto free = [&](std::string_view t) {
      const bool cached = key(t, key_);
      return !keys_.insert(key_).second || cached;
    };
    for (uint32_t i : order_) {
      std::string_view t = texts[i];
      if (free(t)) {
        c.scored.push_back(t);
        continue;
      }
      if (jobs < max_texts_ && bytes + t.size() <= max_bytes_) {
        c.scored.push_back(t);
        ++jobs;
        bytes += t.size();
        continue;
      }
      // Too long for what is left: its head and its tail (or its head alone,
      // with one slot left), so that the payload padded on either side is seen.
      keys_.erase(key_);
      const size_t room = max_bytes_ - bytes, slots = max_texts_ - jobs;
      if (slots > 0 && t.size() > room && room >= kMinPart * 2) {
        const size_t part = slots >= 2 ? room / 2 : room;
        c.scored.push_back(t.substr(0, part));
        if (slots >= 2) c.scored.push_back(t.substr(t.size() - part));
        jobs += slots >= 2 ? 2 : 1;
        bytes += slots >= 2 ? part * 2 : part;
      }
      ++c.unscored;
    }
    return c;
  }

 private:
  static constexpr size_t kMinPart = 64;  // a head or tail shorter than this says little
  // Sorts order_ over texts: flagged by a rule of the event first, then by
  // punctuation, then by text (equal texts adjacent), then as given.
  void rank(const Event& e, const std::string* texts, size_t n);
  bool flagged(const Event& e, std::string_view text);

  size_t max_texts_, max_bytes_;
  std::vector<uint32_t> order_;
  std::unordered_set<std::string> keys_;  // the cache keys chosen for this event
  std::string key_;
  // Regex rules compiled on first use; rules live as long as the topology.
  std::unordered_map<const Rule*, std::unique_ptr<RE2>> patterns_;
};

}  // namespace socstream
