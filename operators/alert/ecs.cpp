#include "operators/alert/ecs.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_set>

#include "engine/json_writer.hpp"
#include "engine/timestamp.hpp"
#include "operators/embedded.hpp"

namespace socstream::alert {

namespace {

EcsType type_of(std::string_view t) {
  if (t == "long" || t == "integer" || t == "short" || t == "byte" || t == "unsigned_long") return EcsType::Long;
  if (t == "float" || t == "double" || t == "scaled_float" || t == "half_float") return EcsType::Float;
  if (t == "boolean") return EcsType::Bool;
  if (t == "ip") return EcsType::Ip;
  if (t == "date" || t == "date_nanos") return EcsType::Date;
  if (t == "object" || t == "nested" || t == "flattened" || t == "geo_point") return EcsType::Object;
  return EcsType::Keyword;  // keyword, wildcard, match_only_text, constant_keyword, text
}

std::string_view next_line(std::string_view& text) {
  const size_t nl = text.find('\n');
  std::string_view line = text.substr(0, nl);
  text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  return line;
}

bool parse_integer(std::string_view s, std::string& out) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), v, 16);
    if (ec != std::errc() || p != s.data() + s.size() || v > static_cast<uint64_t>(INT64_MAX)) return false;
    out += std::to_string(v);
    return true;
  }
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return false;
  out += std::to_string(v);
  return true;
}

bool parse_float(std::string_view s, std::string& out) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || !std::isfinite(v)) return false;
  out += fmt::format("{}", v);
  return true;
}

bool is_ip(std::string_view s) {
  if (s.empty() || s.size() > 45) return false;
  char buf[48];
  s.copy(buf, s.size());
  buf[s.size()] = '\0';
  unsigned char addr[16];
  return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

// An array of strings for an array keyword field; an object, or an array of
// objects, for an object field. Anything else would not index as the field.
bool append_json(std::string& out, std::string_view json, const EcsField& type) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) return false;
  bool fits = false;
  simdjson::dom::array items;
  const bool array = doc.get_array().get(items) == simdjson::SUCCESS;
  if (type.type == EcsType::Object) {
    fits = doc.is_object();
    if (array) {
      fits = true;
      for (simdjson::dom::element item : items) fits &= item.is_object();
    }
  } else if (type.type == EcsType::Keyword && type.array && array) {
    fits = true;
    for (simdjson::dom::element item : items) fits &= item.is_string();
  }
  if (fits) out.append(json);
  return fits;
}

}  // namespace

EcsSchema::EcsSchema(std::string_view tsv) {
  while (!tsv.empty()) {
    std::string_view line = next_line(tsv);
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (line.rfind("# ecs ", 0) == 0) version_ = std::string(line.substr(6));
      continue;
    }
    const size_t t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
    if (t1 == std::string_view::npos || t2 == std::string_view::npos) continue;
    const std::string_view type = line.substr(t1 + 1, t2 - t1 - 1);
    fields_.emplace(std::string(line.substr(0, t1)),
                    EcsField{type_of(type), line.substr(t2 + 1) == "1", type == "object" || type == "flattened"});
  }
}

const EcsSchema& EcsSchema::builtin() {
  static const EcsSchema s(embedded_file("ecs/fields.tsv").value_or(""));
  return s;
}

const EcsField* EcsSchema::find(std::string_view name) const {
  // Names are the sender's: a long one is no ECS field, and costs no more than this to say so.
  if (name.size() > 256) return nullptr;
  if (auto it = fields_.find(name); it != fields_.end()) return &it->second;
  // labels.team: one key below an object or flattened field holds a keyword.
  // Not deeper (a document nested past a SIEM's depth limit does not index),
  // and not below geo_point or nested fields, whose mappings refuse it.
  static const EcsField keyword{EcsType::Keyword, false, false};
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return nullptr;
  auto it = fields_.find(name.substr(0, dot));
  return it != fields_.end() && it->second.keyword_keys ? &keyword : nullptr;
}

bool append_as(std::string& out, const Field& v, const EcsField& type) {
  const size_t mark = out.size();
  auto fail = [&] {
    out.resize(mark);
    return false;
  };
  if (v.kind == ValueKind::Null) return false;
  if (v.kind == ValueKind::Json) return append_json(out, v.value, type);
  switch (type.type) {
    case EcsType::Keyword:
      json::append_string(out, v.value);
      return true;
    case EcsType::Long:
      return parse_integer(v.value, out) ? true : fail();
    case EcsType::Float:
      return parse_float(v.value, out) ? true : fail();
    case EcsType::Bool:
      if (v.value == "true" || v.value == "True" || v.value == "TRUE") {
        out += "true";
        return true;
      }
      if (v.value == "false" || v.value == "False" || v.value == "FALSE") {
        out += "false";
        return true;
      }
      return false;
    case EcsType::Ip:
      if (v.kind != ValueKind::String || !is_ip(v.value)) return false;
      json::append_string(out, v.value);
      return true;
    case EcsType::Date: {
      // A year-less date cannot be placed without a clock; none of the formats here lacks one.
      auto ms = timestamp::parse_iso8601(v.value);
      if (!ms) ms = timestamp::parse_clf(v.value);
      if (!ms) ms = timestamp::parse_epoch(v.value);
      if (!ms || !timestamp::representable(*ms)) return false;
      json::append_string(out, timestamp::rfc3339(*ms));
      return true;
    }
    case EcsType::Object:
      return false;
  }
  return false;
}

std::vector<std::string> FieldMap::builtin_names() { return {"windows"}; }

void FieldMap::load(const std::string& name_or_file, const std::filesystem::path& base_dir, const Location& where,
                    Diagnostics& diag) {
  const bool builtin = name_or_file.find('/') == std::string::npos && name_or_file.find('.') == std::string::npos;
  if (builtin) {
    auto text = embedded_file("ecs/maps/" + name_or_file + ".yaml");
    if (!text) {
      std::string names;
      for (const auto& n : builtin_names()) names += (names.empty() ? "" : ", ") + n;
      diag.error(where, "'" + name_or_file + "' is not a built-in field map (" + names +
                            ") nor a file path (a path has a '/' or an extension)");
      return;
    }
    try {
      load_yaml(YAML::Load(std::string(*text)), "<built-in field map " + name_or_file + ">", diag);
    } catch (const YAML::Exception& e) {
      diag.error(where, "the built-in field map '" + name_or_file + "' does not parse: " + e.what());
    }
    return;
  }
  const std::filesystem::path file = std::filesystem::path(name_or_file).is_absolute() ? std::filesystem::path(name_or_file)
                                                                                       : base_dir / name_or_file;
  try {
    load_yaml(load_yaml_file(file), file.string(), diag);
  } catch (const ConfigError& e) {
    diag.error(e.where(), e.message());
  } catch (const std::exception& e) {
    diag.error(where, "field map " + file.string() + ": " + e.what());
  }
}

void FieldMap::load_yaml(const YAML::Node& doc, const std::string& file, Diagnostics& diag) {
  if (!doc.IsMap()) {
    diag.error(location_of(doc, file), "a field map is a mapping with 'fields' (and 'strip_prefixes')");
    return;
  }
  for (const auto& kv : doc) {
    const std::string key = kv.first.as<std::string>();
    if (key == "strip_prefixes") {
      if (!kv.second.IsSequence()) {
        diag.error(location_of(kv.second, file), "'strip_prefixes' must be a list of strings");
        continue;
      }
      for (const auto& p : kv.second) strip_prefixes_.push_back(p.as<std::string>());
    } else if (key == "fields") {
      if (!kv.second.IsMap()) {
        diag.error(location_of(kv.second, file), "'fields' must map event field names to ECS fields");
        continue;
      }
      for (const auto& f : kv.second) {
        if (!f.second.IsScalar()) {
          diag.error(location_of(f.second, file), "an ECS field name (a string)");
          continue;
        }
        add(f.first.as<std::string>(), f.second.as<std::string>(), location_of(f.second, file), diag);
      }
    } else if (key != "description") {
      diag.error(location_of(kv.first, file), "unknown key '" + key + "' (fields, strip_prefixes, description)");
    }
  }
}

bool written_by_alert(std::string_view p) {
  auto under = [&](std::string_view prefix) {
    return p.size() > prefix.size() && p.compare(0, prefix.size(), prefix) == 0 && p[prefix.size()] == '.';
  };
  return p == "@timestamp" || p == "ecs.version" || p == "tags" || p == "event.kind" || p == "event.id" ||
         p == "event.created" || p == "event.severity" || p == "event.risk_score" || p == "event.reason" ||
         p == "rule" || under("rule") || p == "threat" || under("threat") || p == "socstream" || under("socstream");
}

void FieldMap::add(const std::string& from, const std::string& to, const Location& where, Diagnostics& diag) {
  const EcsField* f = EcsSchema::builtin().find(to);
  if (!f || f->type == EcsType::Object) {
    diag.error(where, "'" + to + "' is not an ECS field (ECS " + EcsSchema::builtin().version() +
                          ", config/ecs/fields.tsv)");
    return;
  }
  // What the alert writes itself: a value mapped there could only ever land in socstream.fields.
  if (written_by_alert(to)) {
    diag.error(where, "'" + to + "' is written by the alert itself (docs/alerts.md): map the field elsewhere");
    return;
  }
  map_[from] = to;
}

std::string_view FieldMap::target(std::string_view name) const {
  if (map_.empty()) return name;
  if (auto it = map_.find(name); it != map_.end()) return it->second;
  for (const auto& p : strip_prefixes_) {
    if (name.size() > p.size() && name.compare(0, p.size(), p) == 0) {
      if (auto it = map_.find(name.substr(p.size())); it != map_.end()) return it->second;
    }
  }
  return name;
}

void NestedJson::add(std::string_view path, std::string_view json, size_t tag) {
  Entry e{static_cast<uint32_t>(buf_.size()), static_cast<uint32_t>(path.size()), 0, static_cast<uint32_t>(json.size()), tag};
  buf_.append(path);
  e.json_at = static_cast<uint32_t>(buf_.size());
  buf_.append(json);
  entries_.push_back(e);
  resolved_ = false;
}

void NestedJson::add(const NestedJson& other) {
  // Room first: appending must not move the bytes the views below point at
  // (other may be this document).
  buf_.reserve(buf_.size() + other.buf_.size());
  std::vector<Entry> from = other.entries_;
  std::sort(from.begin(), from.end(), [](const Entry& a, const Entry& b) { return a.path_at < b.path_at; });
  for (const Entry& e : from) add(other.path(e), other.json(e), e.tag);
}

bool NestedJson::has(std::string_view p) const {
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return path(e) == p; });
}

bool NestedJson::any_clash() const {
  // Sorted, every path that is a prefix of a later one is still on the stack
  // when that one comes: the strings between them share the prefix.
  std::vector<std::string_view> stack;
  for (const Entry& e : entries_) {
    const std::string_view p = path(e);
    while (!stack.empty() && p.substr(0, stack.back().size()) != stack.back()) stack.pop_back();
    if (!stack.empty() && (p.size() == stack.back().size() || p[stack.back().size()] == '.')) return true;
    stack.push_back(p);
  }
  return false;
}

void NestedJson::resolve(std::vector<size_t>* refused) {
  if (resolved_) return;
  resolved_ = true;
  // write() nests by walking the paths in order; equal paths keep the order
  // added, which is their order in buf_.
  auto by_path = [&](const Entry& a, const Entry& b) {
    const int c = path(a).compare(path(b));
    return c < 0 || (c == 0 && a.path_at < b.path_at);
  };
  std::sort(entries_.begin(), entries_.end(), by_path);
  if (!any_clash()) return;
  // In the order added (the earlier of two clashing paths wins), a path is
  // refused if it is taken, lies under a taken leaf, or has taken paths under
  // it. Hash sets of leaves and of their parents keep this linear in the
  // paths' length: an event can carry thousands of fields that share a prefix.
  std::vector<Entry> added;
  added.swap(entries_);
  std::sort(added.begin(), added.end(), [](const Entry& a, const Entry& b) { return a.path_at < b.path_at; });
  std::unordered_set<std::string_view> leaves, parents;
  for (const Entry& e : added) {
    const std::string_view p = path(e);
    bool clash = leaves.count(p) || parents.count(p);
    for (size_t dot = p.find('.'); !clash && dot != std::string_view::npos; dot = p.find('.', dot + 1))
      clash = leaves.count(p.substr(0, dot)) > 0;
    if (clash) {
      if (refused) refused->push_back(e.tag);
      continue;
    }
    leaves.insert(p);
    for (size_t dot = p.find('.'); dot != std::string_view::npos; dot = p.find('.', dot + 1)) parents.insert(p.substr(0, dot));
    entries_.push_back(e);
  }
  std::sort(entries_.begin(), entries_.end(), by_path);
}

void NestedJson::write(std::string& out) {
  resolve(nullptr);
  // Sorted, so one pass with a stack of open objects writes the nesting.
  open_.clear();
  out += '{';
  bool first = true;
  for (const Entry& e : entries_) {
    std::string_view rest = path(e);
    // The segments this path shares with the open objects stay open.
    size_t common = 0;
    for (; common < open_.size(); ++common) {
      const size_t dot = rest.find('.');
      if (dot == std::string_view::npos || rest.substr(0, dot) != open_[common]) break;
      rest.remove_prefix(dot + 1);
    }
    while (open_.size() > common) {
      out += '}';
      open_.pop_back();
    }
    if (!first) out += ',';
    first = false;
    for (size_t dot; (dot = rest.find('.')) != std::string_view::npos; rest.remove_prefix(dot + 1)) {
      json::append_string(out, rest.substr(0, dot));
      out += ":{";
      open_.push_back(rest.substr(0, dot));
    }
    json::append_string(out, rest);
    out += ':';
    out += json(e);
  }
  while (!open_.empty()) {
    out += '}';
    open_.pop_back();
  }
  out += '}';
}

}  // namespace socstream::alert
