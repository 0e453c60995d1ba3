#include "operators/sigma/rule.hpp"

#include <glob.h>

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>
#include <fstream>
#include <set>

#include <yaml-cpp/eventhandler.h>

namespace socstream::sigma {

namespace {

[[noreturn]] void fail(const YAML::Node& n, const std::string& file, std::string reason, std::string message) {
  throw RuleError{location_of(n, file), std::move(reason), std::move(message)};
}

// [-+]? digits [. digits] [e [-+]? digits], or .digits: YAML 1.2's decimal
// numbers, checked by hand (std::regex recurses per character: a scalar of
// 100,000 digits would overflow the stack).
bool is_number(std::string_view t) {
  size_t i = 0;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
  size_t digits = 0;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i, ++digits;
  if (i < t.size() && t[i] == '.') {
    ++i;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i, ++digits;
  }
  if (!digits) return false;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    size_t exp = 0;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i, ++exp;
    if (!exp) return false;
  }
  return i == t.size();
}

// YAML 1.2 core schema for plain scalars; quoted scalars are strings whatever they say.
Scalar scalar_of(const YAML::Node& n, const std::string& file) {
  Scalar s;
  s.where = location_of(n, file);
  if (n.IsNull()) {
    s.kind = Scalar::Kind::Null;
    return s;
  }
  s.text = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted
  if (s.text == "true" || s.text == "True" || s.text == "TRUE") {
    s.kind = Scalar::Kind::Bool;
    s.text = "true";
  } else if (s.text == "false" || s.text == "False" || s.text == "FALSE") {
    s.kind = Scalar::Kind::Bool;
    s.text = "false";
  } else if (is_number(s.text)) {
    s.kind = Scalar::Kind::Number;
  }
  return s;
}

std::string text_of(const YAML::Node& n, const std::string& file, const char* what) {
  if (!n.IsDefined() || n.IsNull()) return {};
  if (!n.IsScalar()) fail(n, file, "bad_rule", std::string("'") + what + "' must be a string");
  return n.Scalar();
}

std::vector<std::string> texts_of(const YAML::Node& n, const std::string& file, const char* what) {
  std::vector<std::string> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (n.IsScalar()) return {n.Scalar()};
  if (!n.IsSequence()) fail(n, file, "bad_rule", std::string("'") + what + "' must be a list of strings");
  for (const auto& item : n) {
    if (!item.IsScalar()) fail(item, file, "bad_rule", std::string("'") + what + "' must be a list of strings");
    out.push_back(item.Scalar());
  }
  return out;
}

FieldItem parse_item(const YAML::Node& key, const YAML::Node& value, const std::string& file) {
  FieldItem item;
  item.where = location_of(key, file);
  const std::string k = key.Scalar();
  size_t bar = k.find('|');
  item.field = k.substr(0, bar);
  while (bar != std::string::npos) {
    size_t next = k.find('|', bar + 1);
    item.modifiers.push_back(k.substr(bar + 1, next == std::string::npos ? std::string::npos : next - bar - 1));
    bar = next;
  }
  if (value.IsSequence()) {
    for (const auto& v : value) {
      if (!v.IsScalar() && !v.IsNull())
        fail(v, file, "bad_detection", "the values of '" + k + "' must be strings, numbers, booleans or null");
      item.values.push_back(scalar_of(v, file));
    }
    if (item.values.empty()) fail(value, file, "bad_detection", "'" + k + "' has an empty list of values");
  } else if (value.IsScalar() || value.IsNull()) {
    item.values.push_back(scalar_of(value, file));
  } else {
    fail(value, file, "bad_detection", "the value of '" + k + "' must be a string, number, boolean, null or a list");
  }
  return item;
}

std::vector<FieldItem> parse_map(const YAML::Node& map, const std::string& file) {
  std::vector<FieldItem> items;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) fail(kv.first, file, "bad_detection", "a detection key must be a field name");
    items.push_back(parse_item(kv.first, kv.second, file));
  }
  if (items.empty()) fail(map, file, "bad_detection", "an empty map matches nothing");
  return items;
}

Search parse_search(const std::string& name, const YAML::Node& key, const YAML::Node& body, const std::string& file) {
  Search s;
  s.name = name;
  s.where = location_of(key, file);
  if (body.IsMap()) {
    s.alternatives.push_back(parse_map(body, file));
  } else if (body.IsSequence()) {
    // A list of maps is OR over the maps; a list of plain values is a keyword search.
    FieldItem keywords;
    keywords.where = location_of(body, file);
    for (const auto& item : body) {
      if (item.IsMap()) {
        s.alternatives.push_back(parse_map(item, file));
      } else if (item.IsScalar()) {
        keywords.values.push_back(scalar_of(item, file));
      } else {
        fail(item, file, "bad_detection", "search '" + name + "': a list holds maps or values, not " +
                                             (item.IsNull() ? std::string("null") : std::string("lists")));
      }
    }
    if (!keywords.values.empty()) s.alternatives.push_back({std::move(keywords)});
    if (s.alternatives.empty()) fail(body, file, "bad_detection", "search '" + name + "' is an empty list");
  } else if (body.IsScalar()) {
    FieldItem keyword;
    keyword.where = location_of(body, file);
    keyword.values.push_back(scalar_of(body, file));
    s.alternatives.push_back({std::move(keyword)});
  } else {
    fail(key, file, "bad_detection", "search '" + name + "' is empty");
  }
  return s;
}

int64_t parse_timespan(const YAML::Node& n, const std::string& file) {
  const std::string t = n.IsScalar() ? n.Scalar() : "";
  int64_t v = 0;
  auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  static const std::string units = "smhdw";
  static const int64_t ms[] = {1000, 60'000, 3'600'000, 86'400'000, 7 * 86'400'000};
  const size_t unit = r.ec == std::errc() && r.ptr + 1 == t.data() + t.size() ? units.find(*r.ptr) : std::string::npos;
  if (t.empty() || t[0] == '-' || t[0] == '+' || unit == std::string::npos || v <= 0)
    fail(n, file, "bad_correlation", "timespan '" + t + "' is not a positive number followed by s, m, h or d (as in 90m)");
  if (v > 366LL * 86'400'000 / ms[unit] * 10)  // ten years: longer is a mistake, and would overflow below
    fail(n, file, "bad_correlation", "timespan '" + t + "' is longer than ten years");
  return v * ms[unit];
}

Correlation parse_correlation(const YAML::Node& n, const std::string& file) {
  if (!n.IsMap()) fail(n, file, "bad_correlation", "'correlation' must be a map");
  Correlation c;
  c.where = location_of(n, file);
  static const std::vector<std::string> keys{"type", "rules", "group-by", "timespan", "condition", "aliases", "generate"};
  for (const auto& kv : n) {
    const std::string k = kv.first.Scalar();
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      std::string msg = "unknown correlation key '" + k + "'";
      if (auto near = closest(k, keys)) msg += "; did you mean '" + *near + "'?";
      fail(kv.first, file, "bad_correlation", msg);
    }
  }
  c.type = text_of(n["type"], file, "type");
  static const std::vector<std::string> types{"event_count", "value_count", "temporal", "temporal_ordered"};
  if (std::find(types.begin(), types.end(), c.type) == types.end())
    fail(n["type"].IsDefined() ? n["type"] : n, file, "unsupported_correlation",
         "correlation type '" + c.type + "' is not one of event_count, value_count, temporal, temporal_ordered");
  c.rules = texts_of(n["rules"], file, "rules");
  if (c.rules.empty()) fail(n, file, "bad_correlation", "a correlation needs 'rules'");
  c.group_by = texts_of(n["group-by"], file, "group-by");
  if (!n["timespan"].IsDefined()) fail(n, file, "bad_correlation", "a correlation needs 'timespan'");
  c.timespan_ms = parse_timespan(n["timespan"], file);
  if (const YAML::Node cond = n["condition"]; cond.IsDefined()) {
    if (!cond.IsMap()) fail(cond, file, "bad_correlation", "'condition' must be a map such as {gte: 10}");
    static const std::vector<std::string> ops{"gt", "gte", "lt", "lte", "eq", "neq"};
    for (const auto& kv : cond) {
      const std::string op = kv.first.Scalar();
      if (op == "field") {
        c.field = text_of(kv.second, file, "field");
        continue;
      }
      if (std::find(ops.begin(), ops.end(), op) == ops.end())
        fail(kv.first, file, "bad_correlation", "condition operator '" + op + "' is not one of gt, gte, lt, lte, eq, neq");
      const std::string text = kv.second.IsScalar() ? kv.second.Scalar() : "";
      double v = 0;
      auto r = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size() || !std::isfinite(v) || v < 0)
        fail(kv.second, file, "bad_correlation", "condition '" + op + "' needs a number of events or values");
      c.condition.emplace_back(op, v);
    }
  }
  if ((c.type == "event_count" || c.type == "value_count") && c.condition.empty())
    fail(n, file, "bad_correlation", c.type + " needs a condition such as {gte: 10}");
  // A stream decides as events arrive: a count that only has to stay below a
  // bound (lt, lte) or differ from one (neq) is known only when a window closes.
  if (!c.condition.empty() && std::none_of(c.condition.begin(), c.condition.end(), [](const auto& p) {
        return p.first == "gt" || p.first == "gte" || p.first == "eq";
      }))
    fail(n["condition"], file, "unsupported_correlation",
         "a condition without gt, gte or eq (only lt, lte or neq) is decided when a window closes; socstream decides "
         "as events arrive: give it a lower bound");
  if (c.type == "value_count" && c.field.empty())
    fail(n, file, "bad_correlation", "value_count needs the counted field as condition.field");
  if (const YAML::Node a = n["aliases"]; a.IsDefined()) {
    if (!a.IsMap()) fail(a, file, "bad_correlation", "'aliases' maps an alias to {rule name or id: field}");
    for (const auto& kv : a) {
      if (!kv.second.IsMap()) fail(kv.second, file, "bad_correlation", "alias '" + kv.first.Scalar() + "' maps rule names or ids to fields");
      for (const auto& rf : kv.second) c.aliases[kv.first.Scalar()][rf.first.Scalar()] = text_of(rf.second, file, "alias");
    }
  }
  if (const YAML::Node g = n["generate"]; g.IsDefined()) {
    const std::string t = g.IsScalar() ? g.Scalar() : "";
    if (t != "true" && t != "false") fail(g, file, "bad_correlation", "'generate' is true or false");
    c.generate = t == "true";
  }
  return c;
}

}  // namespace

std::vector<FieldItem> parse_selection(const YAML::Node& map, const std::string& file) {
  if (!map.IsMap()) fail(map, file, "bad_detection", "expected a map of field: value");
  return parse_map(map, file);
}

std::string Refusal::str() const {
  std::string s = where.str() + ": ";
  if (!rule_id.empty() || !title.empty()) s += "rule '" + rule_id + "' (" + title + "): ";
  return s + reason + ": " + message;
}

std::string Rule::key() const {
  if (!id.empty()) return id;
  if (!name.empty()) return name;
  return file + "#" + title;
}

Rule parse_rule(const YAML::Node& doc, const std::string& file) {
  if (!doc.IsMap()) fail(doc, file, "not_a_rule", "a Sigma rule is a YAML map with title, logsource and detection");
  Rule r;
  r.file = file;
  r.where = location_of(doc, file);
  r.title = text_of(doc["title"], file, "title");
  r.id = text_of(doc["id"], file, "id");
  r.name = text_of(doc["name"], file, "name");
  r.status = text_of(doc["status"], file, "status");
  r.description = text_of(doc["description"], file, "description");
  r.author = text_of(doc["author"], file, "author");
  r.level = text_of(doc["level"], file, "level");
  r.date = text_of(doc["date"], file, "date");
  r.modified = text_of(doc["modified"], file, "modified");
  r.references = texts_of(doc["references"], file, "references");
  r.falsepositives = texts_of(doc["falsepositives"], file, "falsepositives");
  r.tags = texts_of(doc["tags"], file, "tags");
  if (doc["action"].IsDefined())
    fail(doc["action"], file, "unsupported", "rule collections with 'action' are Sigma 1.0 syntax; write one rule per document");
  if (r.title.empty()) fail(doc, file, "not_a_rule", "a Sigma rule needs a 'title'");
  static const std::vector<std::string> levels{"informational", "low", "medium", "high", "critical"};
  if (!r.level.empty() && std::find(levels.begin(), levels.end(), r.level) == levels.end())
    fail(doc["level"], file, "bad_rule", "level '" + r.level + "' is not one of informational, low, medium, high, critical");

  if (doc["correlation"].IsDefined()) {
    r.correlation = parse_correlation(doc["correlation"], file);
    return r;
  }
  if (doc["filter"].IsDefined() && !doc["detection"].IsDefined())
    fail(doc["filter"], file, "unsupported", "Sigma global filters (meta filter documents) are not supported yet");

  const YAML::Node ls = doc["logsource"];
  if (!ls.IsDefined() || !ls.IsMap()) fail(doc, file, "not_a_rule", "a Sigma rule needs a 'logsource' map");
  r.logsource.product = text_of(ls["product"], file, "product");
  r.logsource.category = text_of(ls["category"], file, "category");
  r.logsource.service = text_of(ls["service"], file, "service");

  const YAML::Node det = doc["detection"];
  if (!det.IsDefined() || !det.IsMap()) fail(doc, file, "not_a_rule", "a Sigma rule needs a 'detection' map");
  for (const auto& kv : det) {
    const std::string key = kv.first.Scalar();
    if (key == "condition") {
      const YAML::Node& c = kv.second;
      if (c.IsScalar()) {
        r.conditions.emplace_back(c.Scalar(), location_of(c, file));
      } else if (c.IsSequence()) {
        for (const auto& one : c) {
          if (!one.IsScalar()) fail(one, file, "bad_condition", "each condition is a string");
          r.conditions.emplace_back(one.Scalar(), location_of(one, file));
        }
      } else {
        fail(c, file, "bad_condition", "'condition' is a string or a list of strings");
      }
      continue;
    }
    if (key == "timeframe")
      fail(kv.first, file, "unsupported", "'timeframe' belongs to the Sigma 1.0 aggregations; use a correlation rule");
    r.searches.push_back(parse_search(key, kv.first, kv.second, file));
  }
  if (r.conditions.empty()) fail(det, file, "bad_condition", "the detection has no 'condition'");
  return r;
}

std::vector<std::filesystem::path> expand_rule_paths(const std::vector<std::filesystem::path>& entries,
                                                     std::vector<Refusal>& refused) {
  namespace fs = std::filesystem;
  std::set<fs::path> out;
  auto is_rule_file = [](const fs::path& p) { return p.extension() == ".yml" || p.extension() == ".yaml"; };
  auto add_dir = [&](const fs::path& dir) {
    std::error_code ec;
    // Symbolic links are not followed into: a rules tree is read as it is.
    for (fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end; !ec && it != end;
         it.increment(ec))
      if (it->is_regular_file() && is_rule_file(it->path())) out.insert(it->path());
    if (ec) refused.push_back({Location{dir.string()}, "", "", "unreadable", ec.message()});
  };
  for (const auto& e : entries) {
    std::error_code ec;
    const auto st = fs::symlink_status(e, ec);
    if (!ec && fs::is_directory(st)) {
      add_dir(e);
      continue;
    }
    if (!ec && fs::is_regular_file(st)) {
      out.insert(e);
      continue;
    }
    const std::string pattern = e.string();
    if (pattern.find_first_of("*?[") != std::string::npos) {
      glob_t g{};
      const int rc = ::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g);
      size_t found = 0;
      if (rc == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) {
          fs::path p(g.gl_pathv[i]);
          const auto pst = fs::symlink_status(p, ec);
          if (!ec && fs::is_directory(pst)) {
            add_dir(p);
            ++found;
          } else if (!ec && fs::is_regular_file(pst) && is_rule_file(p)) {
            out.insert(p);
            ++found;
          }
        }
      }
      globfree(&g);
      if (found == 0) refused.push_back({Location{pattern}, "", "", "no_rules", "the pattern matches no rule file"});
      continue;
    }
    refused.push_back({Location{pattern}, "", "", "no_rules",
                       fs::is_symlink(st) ? "a symbolic link (not followed)" : "no such file or directory"});
  }
  return {out.begin(), out.end()};
}

namespace {

// yaml-cpp 0.7's LoadAll never returns on a document that starts with a flow
// indicator outside a flow (`, title: x`): its parser hands the same empty
// document back for ever (the sigma fuzzer found it; one crafted rules file
// would hang a start or a reload). A first pass that builds nothing checks each
// document starts past the one before; the real load then cannot loop.
struct Progress final : YAML::EventHandler {
  YAML::Mark start;
  void OnDocumentStart(const YAML::Mark& m) override { start = m; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

std::vector<YAML::Node> load_all(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw YAML::BadFile(file);
  YAML::Parser parser(in);
  Progress p;
  int last = -1;
  while (parser.HandleNextDocument(p)) {
    if (p.start.pos <= last)
      throw YAML::ParserException(p.start, "a document that the YAML parser cannot get past (a flow indicator such as ',' at its start?)");
    last = p.start.pos;
  }
  return YAML::LoadAllFromFile(file);
}

}  // namespace

std::vector<Rule> load_rules(const std::vector<std::filesystem::path>& files, std::vector<Refusal>& refused) {
  std::vector<Rule> rules;
  for (const auto& path : files) {
    const std::string file = path.string();
    std::vector<YAML::Node> docs;
    try {
      docs = load_all(file);
    } catch (const YAML::ParserException& e) {
      refused.push_back({location_of(e.mark, file), "", "", "yaml_syntax", e.msg});
      continue;
    } catch (const YAML::BadFile&) {
      refused.push_back({Location{file}, "", "", "unreadable", "cannot open the file"});
      continue;
    }
    for (const auto& doc : docs) {
      if (!doc.IsDefined() || doc.IsNull()) continue;
      try {
        rules.push_back(parse_rule(doc, file));
      } catch (const RuleError& e) {
        std::string id, title;
        if (doc.IsMap()) {
          if ((doc["id"].IsDefined() && doc["id"].IsScalar())) id = doc["id"].Scalar();
          if ((doc["title"].IsDefined() && doc["title"].IsScalar())) title = doc["title"].Scalar();
        }
        refused.push_back({e.where, id, title, e.reason, e.message});
      }
    }
  }
  return rules;
}

}  // namespace socstream::sigma
