#pragma once
// The texts an operator reads from an event: the fields it names and the
// transforms applied to them, shared so that rules and models see the same text.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/component.hpp"
#include "engine/config.hpp"
#include "engine/event.hpp"

namespace socstream {

class TextTransforms {
 public:
  // Reads `field: NAME` or `fields: [A, B]`, and `transforms: [query_values,
  // url_decode, lowercase]`; `verb` names what the operator does with the texts.
  TextTransforms(const Settings& s, std::string_view verb);
  TextTransforms() = default;

  // Calls f(text) for each text of each named field the event carries. An
  // object or array yields each of its strings, unescaped, at any depth: its
  // JSON text would hide a payload behind escapes (\u003cscript) and would be
  // split as one query, so a value nested where a string was expected is read
  // as the strings it holds, never skipped and never scored as JSON.
  template <class F>
  void for_each(const Event& e, std::string& scratch, F&& f) const {
    for (const auto& name : fields_) {
      const Field* field = e.field(name);
      if (!field) continue;
      if (field->kind == ValueKind::Json)
        json_strings(field->value, [&](std::string_view s) { for_each(s, scratch, f); });
      else
        for_each(field->value, scratch, f);
    }
  }

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

  // Appends the event's non-empty texts to `out`, '\0'-separated (the form
  // kept for learning and explanations); returns how many.
  size_t join(const Event& e, std::string& out, std::string& scratch) const {
    size_t n = 0;
    for_each(e, scratch, [&](std::string_view t) {
      if (t.empty()) return;
      if (n++ || !out.empty()) out.push_back('\0');
      out.append(t);
    });
    return n;
  }

  // The text after url_decode/lowercase (a view of `text` when there are none).
  std::string_view apply(std::string_view text, std::string& scratch) const;

  static void url_decode(std::string& s);

  // Calls f(s) for each string in a JSON document, in document order (an
  // unparsable document is given whole).
  static void json_strings(std::string_view json, const std::function<void(std::string_view)>& f);

  // The fields named, where the topology names them, for validate's field-flow check.
  std::vector<FieldRead> reads(const std::string& role) const {
    std::vector<FieldRead> r;
    for (size_t i = 0; i < fields_.size(); ++i) r.push_back({fields_[i], where_[i], role});
    return r;
  }

 private:
  enum class Step { UrlDecode, Lowercase };
  std::vector<std::string> fields_;
  std::vector<Location> where_;
  bool query_values_ = false;
  std::vector<Step> steps_;
};

// Calls f(part) for each '\0'-separated part of texts made by TextTransforms::join.
template <class F>
void for_each_joined(std::string_view joined, F&& f) {
  for (;;) {
    size_t cut = joined.find('\0');
    f(joined.substr(0, cut));
    if (cut == std::string_view::npos) return;
    joined.remove_prefix(cut + 1);
  }
}

}  // namespace socstream
