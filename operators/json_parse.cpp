#include "operators/json_parse.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "engine/hash.hpp"
#include "engine/json_writer.hpp"
#include "operators/operators.hpp"

namespace socstream {

using namespace simdjson;

namespace {
constexpr size_t kDefaultMaxBytes = 1u << 20;
constexpr size_t kDefaultMaxDepth = 128;
}  // namespace

JsonParse::JsonParse(const Settings& s)
    : max_bytes_(s.bytes("max_bytes", kDefaultMaxBytes)),
      max_depth_(static_cast<size_t>(s.integer("max_depth", kDefaultMaxDepth, 1, 1024))),
      parser_(max_bytes_) {
  // The parser checks depth as it builds the tape, so a 10,000-deep line costs nothing extra.
  if (auto err = parser_.allocate(4096, max_depth_)) throw std::runtime_error(error_message(err));
  const std::string dup = s.choice("duplicate_keys", {"reject", "first", "last"}, "reject");
  duplicates_ = dup == "first" ? Duplicates::First : dup == "last" ? Duplicates::Last : Duplicates::Reject;
  const YAML::Node f = s.node()["fields"];
  if (f.IsDefined() && f.IsScalar()) {
    if (s.str("fields") == "all")
      all_ = true;
    else
      s.error("fields", "expected 'all' or a map of field name -> JSON pointer");
    return;
  }
  if (f.IsDefined() && !f.IsNull() && !f.IsMap()) {
    s.error("fields", "expected 'all' or a map of field name -> JSON pointer");
    return;
  }
  auto fields = s.map("fields");
  targets_.reserve(fields.size());
  for (auto& [name, pointer] : fields) add_pointer(s, name, pointer);
}

void JsonParse::add_pointer(const Settings& s, const std::string& name, const std::string& pointer) {
  if (pointer.empty() || pointer[0] != '/') {
    s.error("fields", "'" + name + "': '" + pointer + "' is not a JSON pointer (it starts with '/', as in /url/query)");
    return;
  }
  PathNode* node = &root_;
  size_t at = 1;
  for (;;) {
    size_t end = pointer.find('/', at);
    std::string raw = pointer.substr(at, end == std::string::npos ? std::string::npos : end - at);
    std::string token;  // RFC 6901: ~1 is '/', ~0 is '~'
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[i + 1] == '1' ? '/' : '~';
        ++i;
      } else {
        token += raw[i];
      }
    }
    if (node->target >= 0) {
      s.error("fields", "'" + name + "': " + pointer + " is inside " + targets_[node->target].pointer + ", which '" +
                            targets_[node->target].name + "' extracts whole");
      return;
    }
    PathNode* next = nullptr;
    for (auto& c : node->children)
      if (c.token == token) next = &c;
    if (!next) {
      node->children.push_back(PathNode{token, -1, {}});
      next = &node->children.back();
    }
    node = next;
    if (end == std::string::npos) break;
    at = end + 1;
  }
  if (node->target >= 0) {
    s.error("fields", "'" + name + "' and '" + targets_[node->target].name + "' name the same pointer " + pointer);
    return;
  }
  if (!node->children.empty()) {
    s.error("fields", "'" + name + "': " + pointer + " is the parent of another configured pointer");
    return;
  }
  node->target = static_cast<int>(targets_.size());
  targets_.push_back(Target{name, pointer});
}

// Follows the configured pointers only: a validated DOM needs no full walk.
void JsonParse::extract(const PathNode* node, dom::element el, Event& e, Arena& arena) {
  if (el.is_object()) {
    for (auto [key, value] : dom::object(el)) {
      if (const PathNode* c = node->child(key)) {
        if (c->target < 0) {
          extract(c, value, e, arena);
        } else {
          capture(targets_[c->target].name, value, e, arena);
          e.fields.back().interned = true;  // configuration text: stable, one copy per name
        }
      }
    }
  } else if (el.is_array()) {
    size_t index = 0;
    char digits[24];
    for (dom::element item : dom::array(el)) {
      auto n = std::snprintf(digits, sizeof digits, "%zu", index++);
      if (const PathNode* c = node->child(std::string_view(digits, static_cast<size_t>(n)))) {
        if (c->target < 0) {
          extract(c, item, e, arena);
        } else {
          capture(targets_[c->target].name, item, e, arena);
          e.fields.back().interned = true;
        }
      }
    }
  }
}

// Every key, depth first; objects become prefixes, everything else a field.
// An empty object is kept as a field ({}), so `exists` still sees it. Object
// prefixes are stamped too: {"a":{"b":1},"a":{"c":2}} repeats "a" as surely as
// {"a":1,"a":2} does, and {"a":"x","a":{"b":1}} as well.
void JsonParse::flatten(dom::object obj, Event& e, Arena& arena) {
  for (auto [key, value] : obj) {
    if (flatten_error_) return;
    const size_t len = path_.size();
    if (len) path_ += '.';
    path_.append(key.data(), key.size());
    // Every name repeats its prefix: without a bound, one event of a long key
    // over many short ones would cost prefix x leaves.
    name_bytes_ += path_.size();
    if (name_bytes_ > max_bytes_) {
      flatten_error_ = "the event's field names (nested keys joined with dots) add up to more than max_bytes";
      flatten_reason_ = "too_large";
      return;
    }
    dom::object inner;
    const bool object = value.get_object().get(inner) == SUCCESS && inner.size() != 0;
    FieldNames::Entry* n = names_.find_or_add(path_);
    if (!n) {
      uninterned_ = true;
      if (object) {
        uninterned_objects_.push_back(arena.copy(path_));
        flatten(inner, e, arena);
      } else {
        capture(arena.copy(path_), value, e, arena);
      }
    } else if (n->seen == event_seq_) {
      // The same name twice in this event: a repeated key (a value or an object),
      // or a dotted key colliding with a nested one.
      if (duplicates_ == Duplicates::Reject) {
        flatten_error_ = n->name.c_str();
        flatten_reason_ = "duplicate_key";
        return;
      }
      if (duplicates_ == Duplicates::Last) {
        if (object) {
          flatten(inner, e, arena);  // its leaves overwrite the earlier ones of the same names
        } else if (n->field != FieldNames::kObject && n->field < e.fields.size() && e.fields[n->field].name.data() == n->name.data()) {
          const size_t before = e.fields.size();
          capture(n->name, value, e, arena);
          e.fields[n->field].value = e.fields[before].value;
          e.fields[n->field].kind = e.fields[before].kind;
          e.fields.resize(before);
        } else {
          n->field = static_cast<uint32_t>(e.fields.size());
          capture(n->name, value, e, arena);
          e.fields.back().interned = true;
        }
      }
      // First: the later one is skipped.
    } else {
      n->seen = event_seq_;
      if (object) {
        n->field = FieldNames::kObject;
        flatten(inner, e, arena);
      } else {
        n->field = static_cast<uint32_t>(e.fields.size());
        capture(n->name, value, e, arena);
        e.fields.back().interned = true;
      }
    }
    path_.resize(len);
  }
}

bool JsonParse::resolve_duplicates(Event& e, size_t from, Arena& arena, std::string_view& detail) {
  // An object prefix named twice, or named as a value too, is a repeated key as well.
  if (!uninterned_objects_.empty() && duplicates_ == Duplicates::Reject) {
    std::vector<std::string_view> names(uninterned_objects_);
    for (size_t i = from; i < e.fields.size(); ++i) names.push_back(e.fields[i].name);
    std::sort(names.begin(), names.end());
    for (size_t i = 1; i < names.size(); ++i)
      if (names[i] == names[i - 1]) {
        detail = arena.copy("the field '" + std::string(names[i]) + "' appears more than once");
        return false;
      }
  }
  const size_t n = e.fields.size() - from;
  if (n < 2) return true;
  name_hashes_.clear();
  for (size_t i = from; i < e.fields.size(); ++i)
    name_hashes_.emplace_back(name_hash(e.fields[i].name), static_cast<uint32_t>(i));
  // By hash, then name, then position: equal names end up side by side even when
  // other names share their hash (a crafted collision cannot hide a duplicate).
  std::sort(name_hashes_.begin(), name_hashes_.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    const int c = e.fields[a.second].name.compare(e.fields[b.second].name);
    return c != 0 ? c < 0 : a.second < b.second;
  });
  std::vector<uint32_t> drop;
  for (size_t i = 1; i < name_hashes_.size(); ++i) {
    if (name_hashes_[i].first != name_hashes_[i - 1].first) continue;
    const uint32_t a = name_hashes_[i - 1].second, b = name_hashes_[i].second;
    if (e.fields[a].name != e.fields[b].name) continue;
    if (duplicates_ == Duplicates::Reject) {
      std::string msg = "the field '" + std::string(e.fields[a].name) + "' appears more than once";
      detail = arena.copy(msg);
      return false;
    }
    // a is the earlier occurrence: keep its slot, so the event's field order stays
    // stable, with the value the policy picks.
    if (duplicates_ == Duplicates::Last) {
      e.fields[a].value = e.fields[b].value;
      e.fields[a].kind = e.fields[b].kind;
    }
    drop.push_back(b);
    name_hashes_[i].second = a;  // a third occurrence compares against the kept slot
  }
  if (drop.empty()) return true;
  std::sort(drop.begin(), drop.end());
  size_t out = from, d = 0;
  for (size_t i = from; i < e.fields.size(); ++i) {
    if (d < drop.size() && drop[d] == i) {
      ++d;
      continue;
    }
    if (out != i) e.fields[out] = e.fields[i];
    ++out;
  }
  e.fields.resize(out);
  return true;
}

void JsonParse::capture(std::string_view name, dom::element el, Event& e, Arena& arena) {
  char num[32];
  auto number = [&](auto v) {
    auto r = std::to_chars(num, num + sizeof num, v);
    e.fields.push_back(Field{name, arena.copy(std::string_view(num, static_cast<size_t>(r.ptr - num))),
                             ValueKind::Number});
  };
  switch (el.type()) {
    case dom::element_type::STRING: e.fields.emplace_back(Field{name, arena.copy(el.get_string().value_unsafe())}); break;
    case dom::element_type::INT64: number(el.get_int64().value_unsafe()); break;
    case dom::element_type::UINT64: number(el.get_uint64().value_unsafe()); break;
    case dom::element_type::DOUBLE: number(el.get_double().value_unsafe()); break;
    case dom::element_type::BOOL:
      e.fields.emplace_back(Field{name, el.get_bool().value_unsafe() ? "true" : "false", ValueKind::Bool});
      break;
    case dom::element_type::NULL_VALUE: e.fields.emplace_back(Field{name, "null", ValueKind::Null}); break;
    case dom::element_type::OBJECT:
    case dom::element_type::ARRAY:
      minified_ = simdjson::minify(el);
      e.fields.emplace_back(Field{name, arena.copy(minified_), ValueKind::Json});
      break;
  }
}

namespace {

// Beyond a 64-bit integer or a double: JSON allows it, simdjson's DOM does not.
bool beyond_dom(std::string_view v) {
  if (v.find_first_of(".eE") == std::string_view::npos) {
    int64_t i;
    uint64_t u;
    return std::from_chars(v.data(), v.data() + v.size(), i).ec != std::errc() &&
           std::from_chars(v.data(), v.data() + v.size(), u).ec != std::errc();
  }
  double d;
  return std::from_chars(v.data(), v.data() + v.size(), d).ec == std::errc::result_out_of_range && std::abs(std::strtod(std::string(v).c_str(), nullptr)) > 1;
}

// The event with each number simdjson cannot hold written as a string of its
// text (30-digit ids, 1e400): valid JSON is never dead-lettered for it, and
// the number's digits are kept exactly. Nullopt when there is none.
std::optional<std::string> quote_big_numbers(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  bool in_string = false, changed = false;
  // Only numbers in value position are quoted: one where a key belongs must stay the error it is.
  std::string open;  // the containers around this point, innermost last
  char prev = 0;     // the last significant character outside strings
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < s.size()) {
        out += s[i + 1];
        i += 2;
        continue;
      }
      if (c == '"') in_string = false;
      ++i;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') open += c;
    if ((c == '}' || c == ']') && !open.empty()) open.pop_back();
    const bool value_position = prev == ':' || prev == '[' || (prev == ',' && !open.empty() && open.back() == '[');
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') prev = c;
    if (value_position && (c == '-' || (c >= '0' && c <= '9'))) {
      size_t j = i;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '-' || s[j] == '+' || s[j] == '.' ||
                              s[j] == 'e' || s[j] == 'E'))
        ++j;
      const std::string_view token = s.substr(i, j - i);
      prev = '0';
      if (json::is_number(token) && beyond_dom(token)) {
        out += '"';
        out += token;
        out += '"';
        changed = true;
      } else {
        out += token;
      }
      i = j;
      continue;
    }
    out += c;
    ++i;
  }
  if (!changed) return std::nullopt;
  return out;
}

// Why bytes that are not JSON are not: a feed in another encoding is told apart from bad JSON.
const char* encoding_problem(std::string_view raw, std::string_view& detail) {
  const auto b = [&](size_t i) { return i < raw.size() ? static_cast<unsigned char>(raw[i]) : 0x100u; };
  if ((b(0) == 0xFF && b(1) == 0xFE) || (b(0) == 0xFE && b(1) == 0xFF) || (b(0) == 0 && b(1) != 0 && b(1) < 0x80) ||
      (b(0) < 0x80 && b(0) != 0 && b(1) == 0)) {
    detail = "the event is UTF-16 (or UTF-32) text: feeds must be UTF-8";
    return "invalid_utf8";
  }
  // A stray NUL in a JSON string is bad JSON; many of them are binary data.
  const size_t nuls = static_cast<size_t>(std::count(raw.begin(), raw.end(), '\0'));
  if ((nuls > 1 && nuls * 16 > raw.size()) || !simdjson::validate_utf8(raw.data(), raw.size())) {
    detail = "the event is not UTF-8 text (binary data, or another encoding)";
    return "invalid_utf8";
  }
  return nullptr;
}

}  // namespace

const char* JsonParse::parse(std::string_view raw, Event& e, Arena& arena, std::string_view& detail, bool padded) {
  size_t first = raw.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    detail = "the event is empty or only white space";
    return "empty";
  }
  if (raw.size() > max_bytes_) {
    detail = "the event is larger than max_bytes";
    return "too_large";
  }
  // simdjson reads up to SIMDJSON_PADDING bytes past the end (their content does not matter).
  static_assert(Batch::kRawPadding >= SIMDJSON_PADDING);
  const char* input = raw.data();
  if (!padded) {
    if (padded_cap_ < raw.size()) {
      padded_cap_ = std::max<size_t>(raw.size(), 4096);
      padded_.reset(new char[padded_cap_ + SIMDJSON_PADDING]);
    }
    std::memcpy(padded_.get(), raw.data(), raw.size());
    input = padded_.get();
  }
  dom::element root;
  error_code err = parser_.parse(input, raw.size(), false).get(root);
  if (err == NUMBER_ERROR) {
    if (auto quoted = quote_big_numbers(raw)) {
      big_numbers_.assign(*quoted);
      big_numbers_.append(SIMDJSON_PADDING, ' ');
      err = parser_.parse(big_numbers_.data(), quoted->size(), false).get(root);
    }
  }
  if (!err && !root.is_object()) {
    detail = "the event is JSON but not an object";
    return "not_object";
  }
  if (err) {
    detail = error_message(err);
    if (err == DEPTH_ERROR) {
      detail = "the event nests deeper than max_depth";
      return "too_deep";
    }
    if (const char* why = encoding_problem(raw, detail)) return why;
    return err == UTF8_ERROR ? "invalid_utf8" : "invalid_json";
  }
  const size_t before = e.fields.size();
  if (all_) {
    path_.clear();
    ++event_seq_;
    uninterned_ = false;
    uninterned_objects_.clear();
    name_bytes_ = 0;
    flatten_error_ = nullptr;
    // Windows events carry 20 to 60 fields: one allocation instead of three regrowths.
    e.fields.reserve(before + 48);
    flatten(dom::object(root), e, arena);
    if (flatten_error_) {
      e.fields.resize(before);
      if (std::string_view(flatten_reason_) == "too_large") {
        detail = flatten_error_;
        return "too_large";
      }
      detail = arena.copy("the field '" + std::string(flatten_error_) + "' appears more than once");
      return "duplicate_key";
    }
    // Names past the table's bounds have no stamp: check them the slow way.
    if (!uninterned_) return nullptr;
  } else if (!root_.children.empty()) {
    extract(&root_, root, e, arena);
  }
  if (!resolve_duplicates(e, before, arena, detail)) {
    e.fields.resize(before);
    return "duplicate_key";
  }
  return nullptr;
}

void JsonParse::process(Batch&& in, Outputs& out) {
  auto arena = std::make_shared<Arena>();
  Batch ok = in.derive(in.size());
  Batch bad;
  for (auto& e : in.events) {
    std::string_view detail;
    if (const char* reason = parse(e.raw, e, *arena, detail, in.raw_padded)) {
      out.reject(bad, std::move(e), reason, detail);
    } else {
      ok.events.push_back(std::move(e));
    }
  }
  if (!bad.empty()) {
    bad.hold_all(in.holds);
    bad.hold(arena);  // a duplicate_key detail lives in the arena
    out.dead_letter(std::move(bad));
  }
  ok.hold(std::move(arena));
  out.emit(0, std::move(ok));
}

ComponentSpec json_parse_spec() {
  return ComponentSpec{
      "json_parse",
      Kind::Operator,
      "validates JSON objects and extracts fields by JSON pointer",
      {{"fields", SettingType::Any, false,
        "field name -> JSON pointer, e.g. query: /url/query; or 'all': every field, nested objects as dotted names"},
       {"duplicate_keys", SettingType::String, false, "a key named twice: reject (dlq duplicate_key, default), first or last"},
       {"max_bytes", SettingType::Bytes, false, "larger events are dead-lettered (default 1MiB)"},
       {"max_depth", SettingType::Int, false, "deeper nesting is dead-lettered (default 128)"}},
      true,
      [](const Settings& s) { return std::make_unique<JsonParse>(s); }};
}

}  // namespace socstream
