#include "operators/text_transforms.hpp"

#include <simdjson.h>

namespace socstream {

namespace {
bool hexval(char c, int& v) {
  if (c >= '0' && c <= '9') v = c - '0';
  else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
  else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
  else return false;
  return true;
}
}  // namespace

TextTransforms::TextTransforms(const Settings& s, std::string_view verb) {
  if (s.has("field")) {
    fields_.push_back(s.str("field"));
    where_.push_back(s.where("field"));
  }
  const auto listed = s.list("fields");
  for (size_t i = 0; i < listed.size(); ++i) {
    fields_.push_back(listed[i]);
    where_.push_back(s.where("fields", i));
  }
  if (fields_.empty())
    s.error("", "give the field to " + std::string(verb) + ": 'field: NAME' or 'fields: [A, B]'");
  for (auto& t : s.list("transforms")) {
    if (t == "query_values") query_values_ = true;
    else if (t == "url_decode") steps_.push_back(Step::UrlDecode);
    else if (t == "lowercase") steps_.push_back(Step::Lowercase);
    else s.error("transforms", "unknown transform '" + t + "' (known: query_values, url_decode, lowercase)");
  }
}

// application/x-www-form-urlencoded: '+' is a space, %XX a byte; a bad escape stays as written.
void TextTransforms::url_decode(std::string& s) {
  size_t w = 0;
  for (size_t r = 0; r < s.size(); ++r) {
    int hi, lo;
    if (s[r] == '%' && r + 2 < s.size() && hexval(s[r + 1], hi) && hexval(s[r + 2], lo)) {
      s[w++] = static_cast<char>(hi << 4 | lo);
      r += 2;
    } else {
      s[w++] = s[r] == '+' ? ' ' : s[r];
    }
  }
  s.resize(w);
}

namespace {
void strings_of(simdjson::dom::element v, const std::function<void(std::string_view)>& f) {
  switch (v.type()) {
    case simdjson::dom::element_type::STRING: {
      std::string_view s;
      if (v.get(s) == simdjson::SUCCESS) f(s);
      break;
    }
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array items;
      if (v.get(items) == simdjson::SUCCESS)
        for (simdjson::dom::element item : items) strings_of(item, f);
      break;
    }
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object members;
      // Keys too: a key is text the sender chose as much as a value is.
      if (v.get(members) == simdjson::SUCCESS)
        for (simdjson::dom::key_value_pair kv : members) {
          f(kv.key);
          strings_of(kv.value, f);
        }
      break;
    }
    default: break;
  }
}
}  // namespace

void TextTransforms::json_strings(std::string_view json, const std::function<void(std::string_view)>& f) {
  // One parser per thread: operators run on their own threads, and its buffers
  // are reused from event to event.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    f(json);
    return;
  }
  strings_of(root, f);
}

std::string_view TextTransforms::apply(std::string_view text, std::string& scratch) const {
  if (steps_.empty()) return text;
  scratch.assign(text);
  for (Step t : steps_) {
    if (t == Step::UrlDecode) {
      url_decode(scratch);
    } else {
      for (auto& c : scratch)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
  }
  return scratch;
}

}  // namespace socstream
