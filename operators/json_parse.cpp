#include "operators/json_parse.hpp"

#include <cstring>

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

error_code JsonParse::walk_object(ondemand::object o, const PathNode* node, size_t depth, Event& e, Arena& arena,
                                  ondemand::document& doc) {
  for (auto fr : o) {
    ondemand::field f;
    SIMDJSON_TRY(std::move(fr).get(f));
    std::string_view key;
    SIMDJSON_TRY(f.unescaped_key().get(key));
    SIMDJSON_TRY(walk(f.value(), node ? node->child(key) : nullptr, depth + 1, e, arena, doc));
  }
  return SUCCESS;
}

error_code JsonParse::walk(ondemand::value v, const PathNode* node, size_t depth, Event& e, Arena& arena,
                           ondemand::document& doc) {
  if (depth > max_depth_) {
    too_deep_ = true;
    return DEPTH_ERROR;
  }
  ondemand::json_type type;
  SIMDJSON_TRY(v.type().get(type));
  const bool capture = node && node->target >= 0;
  auto set = [&](std::string_view value, ValueKind kind) {
    e.fields.push_back(Field{targets_[node->target].name, value, kind});
  };
  switch (type) {
    case ondemand::json_type::object:
    case ondemand::json_type::array: {
      const char* start = capture ? v.raw_json_token().data() : nullptr;
      if (type == ondemand::json_type::object) {
        ondemand::object o;
        SIMDJSON_TRY(v.get_object().get(o));
        SIMDJSON_TRY(walk_object(o, capture ? nullptr : node, depth, e, arena, doc));
      } else {
        ondemand::array a;
        SIMDJSON_TRY(v.get_array().get(a));
        size_t index = 0;
        char digits[24];
        for (auto item : a) {
          ondemand::value iv;
          SIMDJSON_TRY(std::move(item).get(iv));
          const PathNode* child = nullptr;
          if (node && !capture) {
            auto n = std::snprintf(digits, sizeof digits, "%zu", index);
            child = node->child(std::string_view(digits, static_cast<size_t>(n)));
          }
          SIMDJSON_TRY(walk(iv, child, depth + 1, e, arena, doc));
          ++index;
        }
      }
      if (capture) {
        // The container's text runs to the next token (its parent's ',' or closing bracket).
        const char* end = nullptr;
        SIMDJSON_TRY(doc.current_location().get(end));
        std::string_view text(start, static_cast<size_t>(end - start));
        while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' ||
                                 text.back() == '\t'))
          text.remove_suffix(1);
        set(arena.copy(text), ValueKind::Json);
      }
      return SUCCESS;
    }
    case ondemand::json_type::string: {
      std::string_view s;
      SIMDJSON_TRY(v.get_string().get(s));
      if (capture) set(arena.copy(s), ValueKind::String);
      return SUCCESS;
    }
    case ondemand::json_type::number: {
      std::string_view token = v.raw_json_token();
      ondemand::number n;
      SIMDJSON_TRY(v.get_number().get(n));
      if (capture) {
        size_t len = 0;
        while (len < token.size() && std::strchr("0123456789+-.eE", token[len]) && token[len]) ++len;
        set(arena.copy(token.substr(0, len)), ValueKind::Number);
      }
      return SUCCESS;
    }
    case ondemand::json_type::boolean: {
      bool b;
      SIMDJSON_TRY(v.get_bool().get(b));
      if (capture) set(b ? "true" : "false", ValueKind::Bool);
      return SUCCESS;
    }
    case ondemand::json_type::null: {
      bool is_null = false;
      SIMDJSON_TRY(v.is_null().get(is_null));
      if (!is_null) return INCORRECT_TYPE;
      if (capture) set("null", ValueKind::Null);
      return SUCCESS;
    }
  }
  return TAPE_ERROR;
}

// On-Demand stops after the root value; anything but white space after it is an error.
bool JsonParse::at_end(ondemand::document& doc) {
  const char* loc = nullptr;
  return doc.current_location().get(loc) != SUCCESS;
}

// The root is not an object: say not_object only if it is valid JSON at all.
const char* JsonParse::valid_non_object(ondemand::document& doc, std::string_view& detail) {
  ondemand::json_type type;
  error_code err = doc.type().get(type);
  if (!err) {
    switch (type) {
      case ondemand::json_type::array: {
        // Walked for validation only: nothing is captured outside an object root.
        ondemand::value v;
        Event unused;
        Arena none;
        err = doc.get_value().get(v);
        if (!err) err = walk(v, nullptr, 1, unused, none, doc);
        if (!err && !at_end(doc)) err = TRAILING_CONTENT;
        break;
      }
      case ondemand::json_type::string: err = doc.get_string().error(); break;
      case ondemand::json_type::number: err = doc.get_number().error(); break;
      case ondemand::json_type::boolean: err = doc.get_bool().error(); break;
      case ondemand::json_type::null: {
        bool is_null = false;
        err = doc.is_null().get(is_null);
        if (!err && !is_null) err = INCORRECT_TYPE;
        break;
      }
      default: err = INCORRECT_TYPE;
    }
  }
  if (!err) {
    detail = "the event is JSON but not an object";
    return "not_object";
  }
  detail = error_message(err == INCORRECT_TYPE ? TAPE_ERROR : err);
  if (err == DEPTH_ERROR || too_deep_) {
    detail = "the event nests deeper than max_depth";
    return "too_deep";
  }
  return "invalid_json";
}

const char* JsonParse::parse(std::string_view raw, Event& e, Arena& arena, std::string_view& detail) {
  size_t first = raw.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    detail = "the event is empty or only white space";
    return "empty";
  }
  if (raw.size() > max_bytes_) {
    detail = "the event is larger than max_bytes";
    return "too_large";
  }
  // simdjson reads up to SIMDJSON_PADDING bytes past the end; sources do not promise that.
  if (padded_cap_ < raw.size()) {
    padded_cap_ = std::max<size_t>(raw.size(), 4096);
    padded_.reset(new char[padded_cap_ + SIMDJSON_PADDING]);
  }
  std::memcpy(padded_.get(), raw.data(), raw.size());
  std::memset(padded_.get() + raw.size(), 0, SIMDJSON_PADDING);

  too_deep_ = false;
  ondemand::document doc;
  error_code err = parser_.iterate(padded_.get(), raw.size(), padded_cap_ + SIMDJSON_PADDING).get(doc);
  ondemand::object root;
  if (!err) err = doc.get_object().get(root);
  if (err == INCORRECT_TYPE) return valid_non_object(doc, detail);
  if (!err) err = walk_object(root, &root_, 1, e, arena, doc);
  if (!err && !at_end(doc)) {
    e.fields.clear();
    detail = "trailing content after the JSON object";
    return "invalid_json";
  }
  if (!err) return nullptr;
  e.fields.clear();
  detail = error_message(err);
  if (err == UTF8_ERROR) return "invalid_utf8";
  if (err == DEPTH_ERROR || too_deep_) {
    detail = "the event nests deeper than max_depth";
    return "too_deep";
  }
  return "invalid_json";
}

void JsonParse::process(Batch&& in, Outputs& out) {
  auto arena = std::make_shared<Arena>();
  Batch ok = in.derive(in.size());
  Batch bad;
  for (auto& e : in.events) {
    std::string_view detail;
    if (const char* reason = parse(e.raw, e, *arena, detail)) {
      out.reject(bad, std::move(e), reason, detail);
    } else {
      ok.events.push_back(std::move(e));
    }
  }
  ok.hold(std::move(arena));
  if (!bad.empty()) {
    bad.hold_all(in.holds);
    out.dead_letter(std::move(bad));
  }
  out.emit(0, std::move(ok));
}

ComponentSpec json_parse_spec() {
  return ComponentSpec{
      "json_parse",
      Kind::Operator,
      "validates JSON objects and extracts fields by JSON pointer",
      {{"fields", SettingType::StringMap, false, "field name -> JSON pointer, e.g. query: /url/query"},
       {"max_bytes", SettingType::Bytes, false, "larger events are dead-lettered (default 1MiB)"},
       {"max_depth", SettingType::Int, false, "deeper nesting is dead-lettered (default 128)"}},
      true,
      [](const Settings& s) { return std::make_unique<JsonParse>(s); }};
}

}  // namespace socstream
