// format: key_value. logfmt and its relatives: key=value pairs split by
// white space (`field_split`), the value after `value_split` ("="), quoted
// values ("a b", with \" and \\) unquoted, a bare key read as "true" (as
// logfmt does), though a line needs one real pair: prose is not key_value.
// Keys become fields, after an optional `prefix`; a key named twice in a line
// is a duplicate_key (which value should win is the attacker's question to
// pose, not ours to answer).
#include <array>

#include "operators/parse/format.hpp"

namespace socstream::parse {

namespace {

class KeyValue final : public Format {
 public:
  KeyValue(std::string field_split, std::string value_split, std::string prefix)
      : field_split_(std::move(field_split)), value_split_(std::move(value_split)), prefix_(std::move(prefix)) {
    // A table, not a search per byte: the scan below is most of a line's cost.
    for (char c : field_split_) split_[static_cast<unsigned char>(c)] = true;
    if (!value_split_.empty()) value_first_[static_cast<unsigned char>(value_split_[0])] = true;
  }

  bool parse(std::string_view line, Output& out, std::string& detail) override {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t at = 0, pairs = 0;
    auto is_split = [&](char c) { return split_[static_cast<unsigned char>(c)]; };
    auto at_value_split = [&](size_t i) {
      return value_first_[static_cast<unsigned char>(line[i])] && line.compare(i, value_split_.size(), value_split_) == 0;
    };
    while (at < line.size()) {
      while (at < line.size() && is_split(line[at])) ++at;
      if (at >= line.size()) break;
      size_t key_end = at;
      while (key_end < line.size() && !is_split(line[key_end]) && !at_value_split(key_end)) ++key_end;
      const std::string_view key = line.substr(at, key_end - at);
      if (key.empty()) {
        detail = "a key before '" + value_split_ + "'";
        return false;
      }
      name_.assign(prefix_).append(key);
      if (key_end >= line.size() || is_split(line[key_end])) {
        out.add_named(name_, "true", ValueKind::Bool);
        at = key_end;
        continue;
      }
      at = key_end + value_split_.size();
      if (at < line.size() && line[at] == '"') {
        value_.clear();
        size_t i = at + 1;
        bool closed = false;
        for (; i < line.size(); ++i) {
          if (line[i] == '\\' && i + 1 < line.size()) {
            value_ += line[++i];
          } else if (line[i] == '"') {
            closed = true;
            break;
          } else {
            value_ += line[i];
          }
        }
        if (!closed) {
          detail = "a closing quote for '" + std::string(key) + "'";
          return false;
        }
        out.add_named(name_, out.copy(value_));
        at = i + 1;
      } else {
        size_t end = at;
        while (end < line.size() && !is_split(line[end])) ++end;
        out.add_named(name_, line.substr(at, end - at));
        at = end;
      }
      ++pairs;
    }
    if (!pairs) {
      detail = "at least one key" + value_split_ + "value";
      return false;
    }
    return true;
  }

 private:
  std::string field_split_, value_split_, prefix_, name_, value_;
  std::array<bool, 256> split_{}, value_first_{};
};

}  // namespace

std::unique_ptr<Format> make_key_value(const Settings& s) {
  std::string field_split = s.str("field_split", " \t");
  std::string value_split = s.str("value_split", "=");
  if (field_split.empty()) s.error("field_split", "the characters between pairs cannot be none");
  if (value_split.empty()) s.error("value_split", "the text between a key and its value cannot be empty");
  return std::make_unique<KeyValue>(field_split, value_split, s.str("prefix"));
}

}  // namespace socstream::parse
