#pragma once
// The text transforms that operators apply to a field before matching or
// classifying it, shared so that rules and models see the same text.
#include <string>
#include <string_view>
#include <vector>

#include "engine/config.hpp"

namespace socstream {

class TextTransforms {
 public:
  // Reads `transforms: [query_values, url_decode, lowercase]` from settings.
  explicit TextTransforms(const Settings& s);
  TextTransforms() = default;

  // Calls f(text) for each text the field yields: the whole value, or with
  // query_values each parameter value of a form-encoded query string (as a WAF
  // matches ARGS), after url_decode and lowercase. `scratch` backs the view.
  template <class F>
  void for_each(std::string_view value, std::string& scratch, F&& f) const {
    if (!query_values_) {
      f(apply(value, scratch));
      return;
    }
    while (!value.empty()) {
      size_t amp = value.find('&');
      std::string_view pair = value.substr(0, amp);
      value = amp == std::string_view::npos ? std::string_view() : value.substr(amp + 1);
      size_t eq = pair.find('=');
      // A bare "name" without '=' is taken whole: it may be the payload itself.
      f(apply(eq == std::string_view::npos ? pair : pair.substr(eq + 1), scratch));
    }
  }

  // The text after url_decode/lowercase (a view of `text` when there are none).
  std::string_view apply(std::string_view text, std::string& scratch) const;

  static void url_decode(std::string& s);

 private:
  enum class Step { UrlDecode, Lowercase };
  bool query_values_ = false;
  std::vector<Step> steps_;
};

}  // namespace socstream
