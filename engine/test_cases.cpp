#include "engine/test_cases.hpp"

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include "engine/json_writer.hpp"
#include "engine/runtime.hpp"
#include "engine/topology.hpp"

namespace socstream {

namespace {

namespace fs = std::filesystem;
using simdjson::dom::element;
using simdjson::dom::element_type;

// How long one case may run, and how long the inputs after the first wait for
// the ones before them (see Feeder). Generous: a case is a handful of events.
constexpr auto kCaseTimeout = std::chrono::seconds(120);
constexpr auto kSettle = std::chrono::seconds(10);
// An event shown whole in a diff up to this size; beyond, its head.
constexpr size_t kShowBytes = 4096;
constexpr size_t kShowValueBytes = 300;
// Events per batch from an injected input: what a file source reads at once.
constexpr size_t kBatchEvents = 1024;

// ---------------------------------------------------------------------------
// The cases file.

// A JSON scalar as a case writes it in YAML. Quoted values are strings; an
// unquoted true, false, null (or ~, or nothing) or JSON number keeps its type;
// any other unquoted text is a string. So `status: 404` is the number and
// `status: "404"` the string, as they differ in the output JSON.
struct Scalar {
  enum Type { String, Number, Bool, Null } type = String;
  std::string text;
};

Scalar scalar_of(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return {Scalar::Null, "null"};
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return {Scalar::String, s};
  if (s == "null" || s == "~") return {Scalar::Null, "null"};
  if (s == "true" || s == "false") return {Scalar::Bool, s};
  if (json::is_number(s)) return {Scalar::Number, s};
  return {Scalar::String, s};
}

std::string scalar_json(const Scalar& v) {
  if (v.type != Scalar::String) return v.text;
  std::string out;
  json::append_string(out, v.text);
  return out;
}

// An event written as YAML, as the JSON text a source would read.
void to_json(const YAML::Node& n, std::string& out, const std::string& file, Diagnostics& diag) {
  if (n.IsMap()) {
    out += '{';
    bool first = true;
    for (const auto& kv : n) {
      if (!kv.first.IsScalar()) {
        diag.error(location_of(kv.first, file), "an event's keys are strings");
        continue;
      }
      if (!first) out += ',';
      first = false;
      json::append_string(out, kv.first.Scalar());
      out += ':';
      to_json(kv.second, out, file, diag);
    }
    out += '}';
  } else if (n.IsSequence()) {
    out += '[';
    for (size_t i = 0; i < n.size(); ++i) {
      if (i) out += ',';
      to_json(n[i], out, file, diag);
    }
    out += ']';
  } else {
    out += scalar_json(scalar_of(n));
  }
}

// What an expected value says about the field at its place. A scalar: equal,
// as JSON scalars (numbers by value: 1 and 1.0 are equal, 1 and "1" are not).
// A list: an array of as many elements, each matching in turn. A map of
// dotted paths: an object holding at least those (a subset match; nested maps
// work the same). A map whose keys are all tests (exists, contains, matches,
// gte, gt, lte, lt): those tests on the value, `exists: false` being how a
// case says a field is absent.
struct NamedMatcher;
struct Matcher {
  enum Kind { Value, List, Object, Test } kind = Value;
  Location where;
  Scalar value;
  std::vector<Matcher> items;
  // Not pair<string, Matcher>: a pair needs Matcher complete here, which libc++ and clang insist on.
  std::vector<NamedMatcher> fields;
  std::optional<bool> exists;
  std::optional<Scalar> contains;
  std::string pattern;
  std::shared_ptr<const std::regex> re;
  std::vector<std::pair<std::string, double>> bounds;  // ("gte", 0.5)

  std::string describe() const;
};

const std::vector<std::string> kTests{"exists", "contains", "matches", "gte", "gt", "lte", "lt"};

bool is_test_map(const YAML::Node& n) {
  if (!n.IsMap() || n.size() == 0) return false;
  for (const auto& kv : n)
    if (!kv.first.IsScalar() || std::find(kTests.begin(), kTests.end(), kv.first.Scalar()) == kTests.end()) return false;
  return true;
}

struct NamedMatcher {
  std::string first;
  Matcher second;
};

std::string Matcher::describe() const {
  switch (kind) {
    case Value: return scalar_json(value);
    case List: {
      std::string s = "[";
      for (size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + items[i].describe();
      return s + "]";
    }
    case Object: {
      std::string s = "{";
      for (size_t i = 0; i < fields.size(); ++i) s += (i ? ", " : "") + fields[i].first + ": " + fields[i].second.describe();
      return s + "}";
    }
    case Test: {
      std::vector<std::string> parts;
      if (exists) parts.push_back(*exists ? "present" : "absent");
      if (contains) parts.push_back("containing " + scalar_json(*contains));
      if (re) parts.push_back("matching /" + pattern + "/");
      for (const auto& [op, v] : bounds)
        parts.push_back(fmt::format("{} {}", op == "gte" ? ">=" : op == "gt" ? ">" : op == "lte" ? "<=" : "<", v));
      std::string s;
      for (const auto& p : parts) s += (s.empty() ? "" : " and ") + p;
      return s;
    }
  }
  return "?";
}

Matcher compile_matcher(const YAML::Node& n, const std::string& file, Diagnostics& diag) {
  Matcher m;
  m.where = location_of(n, file);
  if (n.IsSequence()) {
    m.kind = Matcher::List;
    for (const auto& item : n) m.items.push_back(compile_matcher(item, file, diag));
    return m;
  }
  if (is_test_map(n)) {
    m.kind = Matcher::Test;
    for (const auto& kv : n) {
      const std::string op = kv.first.Scalar();
      const Location at = location_of(kv.second, file);
      if (!kv.second.IsScalar() && !kv.second.IsNull()) {
        diag.error(at, "'" + op + "': expected a scalar");
        continue;
      }
      const Scalar v = scalar_of(kv.second);
      if (op == "exists") {
        if (v.type != Scalar::Bool) diag.error(at, "'exists': expected true or false");
        else m.exists = v.text == "true";
      } else if (op == "contains") {
        m.contains = v;
      } else if (op == "matches") {
        try {
          m.re = std::make_shared<const std::regex>(v.text, std::regex::ECMAScript);
          m.pattern = v.text;
        } catch (const std::regex_error& e) {
          diag.error(at, "'matches': not a regular expression (ECMAScript): " + std::string(e.what()));
        }
      } else if (v.type != Scalar::Number) {
        diag.error(at, "'" + op + "': expected a number");
      } else {
        m.bounds.emplace_back(op, std::strtod(v.text.c_str(), nullptr));
      }
    }
    if (m.exists && !*m.exists && n.size() > 1)
      diag.error(m.where, "'exists: false' says the field is absent: no other test can hold with it");
    return m;
  }
  if (n.IsMap()) {
    m.kind = Matcher::Object;
    std::set<std::string> seen;
    for (const auto& kv : n) {
      if (!kv.first.IsScalar()) {
        diag.error(location_of(kv.first, file), "a field is named by a string (a dotted path: rule.id)");
        continue;
      }
      if (!seen.insert(kv.first.Scalar()).second) {
        diag.error(location_of(kv.first, file), "field '" + kv.first.Scalar() + "' is given twice");
        continue;
      }
      m.fields.push_back(NamedMatcher{kv.first.Scalar(), compile_matcher(kv.second, file, diag)});
    }
    return m;
  }
  m.value = scalar_of(n);
  return m;
}

struct Input {
  Location where;
  std::string name;  // the source, or with `at`, the operator
  Location name_where;
  bool at = false;
  std::vector<std::string> events;  // each event's bytes
};

struct Expect {
  std::string key;  // as written: "alerts", "parse.dlq"
  Location where;
  std::string component, port;
  bool sink = false;  // what the sink would write (its inputs), not a port of its own
  std::optional<size_t> count;
  std::vector<Matcher> events;
};

struct Case {
  std::string name;
  Location where;
  std::vector<Input> inputs;
  std::vector<Expect> expect;
};

// Reports keys of a map that are not among `known`, with a suggestion.
void unknown_keys(const YAML::Node& n, const std::vector<std::string>& known, const std::string& what,
                  const std::string& file, Diagnostics& diag) {
  std::set<std::string> seen;
  for (const auto& kv : n) {
    const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    if (!seen.insert(k).second) {
      diag.error(location_of(kv.first, file), what + ": '" + k + "' is given twice");
      continue;
    }
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    std::string msg = what + ": unknown key '" + k + "'";
    if (auto c = closest(k, known)) msg += "; did you mean '" + *c + "'?";
    std::string all;
    for (const auto& s : known) all += (all.empty() ? "" : ", ") + s;
    diag.error(location_of(kv.first, file), msg + " (known: " + all + ")");
  }
}

std::vector<std::string> file_lines(const fs::path& p, bool& ok) {
  std::ifstream in(p, std::ios::binary);
  ok = static_cast<bool>(in);
  std::vector<std::string> out;
  std::string line;
  // As the file source reads: a line per '\n', the last one also without it.
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

Input load_input(const YAML::Node& n, const std::string& file, const fs::path& base, const std::string& what,
                 Diagnostics& diag) {
  Input in;
  in.where = location_of(n, file);
  if (!n.IsMap()) {
    diag.error(in.where, what + ": expected a map: {source: NAME, events: [...]}, or at: OPERATOR, or lines: / file: for raw text");
    return in;
  }
  unknown_keys(n, {"source", "at", "events", "lines", "file"}, what, file, diag);
  const YAML::Node source = n["source"], at = n["at"];
  if (source.IsDefined() == at.IsDefined()) {
    diag.error(in.where, what + ": give either 'source: NAME' (events as that source emits them) or 'at: OPERATOR' "
                                "(events into that operator's input)");
    return in;
  }
  const YAML::Node& name = source.IsDefined() ? source : at;
  in.at = at.IsDefined();
  in.name_where = location_of(name, file);
  if (!name.IsScalar() || name.Scalar().empty()) {
    diag.error(in.name_where, what + ": expected a component's name");
    return in;
  }
  in.name = name.Scalar();
  const int given = n["events"].IsDefined() + n["lines"].IsDefined() + n["file"].IsDefined();
  if (given != 1) {
    diag.error(in.where, what + ": give one of 'events: [JSON objects]', 'lines: [raw text]' or 'file: PATH' "
                                "(raw lines, relative to the cases file)");
    return in;
  }
  if (const YAML::Node events = n["events"]; events.IsDefined()) {
    if (!events.IsSequence()) {
      diag.error(location_of(events, file), what + ": 'events' is a list of events (JSON objects)");
      return in;
    }
    for (const auto& e : events) {
      if (!e.IsMap()) {
        diag.error(location_of(e, file), what + ": an event is a map (a JSON object); raw text goes under 'lines:'");
        continue;
      }
      std::string text;
      to_json(e, text, file, diag);
      in.events.push_back(std::move(text));
    }
  } else if (const YAML::Node lines = n["lines"]; lines.IsDefined()) {
    if (!lines.IsSequence()) {
      diag.error(location_of(lines, file), what + ": 'lines' is a list of strings, each an event's raw bytes");
      return in;
    }
    for (const auto& l : lines) {
      if (l.IsNull()) in.events.emplace_back();
      else if (l.IsScalar()) in.events.push_back(l.Scalar());
      else diag.error(location_of(l, file), what + ": a line is a string");
    }
  } else {
    const YAML::Node f = n["file"];
    if (!f.IsScalar()) {
      diag.error(location_of(f, file), what + ": 'file' is a path");
      return in;
    }
    fs::path p = f.Scalar();
    if (p.is_relative()) p = base / p;
    bool ok = false;
    in.events = file_lines(p, ok);
    if (!ok) diag.error(location_of(f, file), what + ": cannot read " + p.string());
  }
  return in;
}

Expect load_expect(const YAML::Node& key, const YAML::Node& body, const std::string& file, Diagnostics& diag) {
  Expect x;
  x.where = location_of(key, file);
  x.key = key.IsScalar() ? key.Scalar() : "";
  const size_t dot = x.key.find('.');
  x.component = x.key.substr(0, dot);
  x.port = dot == std::string::npos ? "" : x.key.substr(dot + 1);
  const std::string what = "expect '" + x.key + "'";
  if (x.component.empty()) diag.error(x.where, "expect: a key names a component or COMPONENT.PORT");
  if (body.IsMap() && body.size() == 1 && body["count"].IsDefined()) {
    const YAML::Node c = body["count"];
    size_t v = 0;
    const std::string s = c.IsScalar() ? c.Scalar() : "";
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size())
      diag.error(location_of(c, file), what + ": 'count' is a number of events (0 or more)");
    else
      x.count = v;
    return x;
  }
  if (!body.IsSequence()) {
    diag.error(location_of(body, file), what + ": expected a list with one map of fields per expected event, in order "
                                               "([] for no output), or {count: N}");
    return x;
  }
  // Mostly maps of fields ({} for any event); a string or a test for an
  // output that is not JSON (a line of a plain-text source, passed on as read).
  for (const auto& e : body) x.events.push_back(compile_matcher(e, file, diag));
  return x;
}

std::vector<Case> load_cases(const fs::path& path, Diagnostics& diag) {
  const std::string file = path.string();
  std::vector<Case> cases;
  YAML::Node root;
  try {
    root = load_yaml_file(path);
  } catch (const ConfigError& e) {
    diag.error(e.where(), e.message());
    return cases;
  }
  if (!root.IsMap() || !root["cases"].IsDefined()) {
    diag.error(location_of(root, file), "a cases file is a map whose 'cases' is a list of cases (name, inputs, expect)");
    return cases;
  }
  unknown_keys(root, {"cases"}, "cases file", file, diag);
  const YAML::Node list = root["cases"];
  if (!list.IsSequence() || list.size() == 0) {
    diag.error(location_of(list, file), "'cases' is a non-empty list of cases (name, inputs, expect)");
    return cases;
  }
  const fs::path base = path.parent_path();
  std::map<std::string, Location> names;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node n = list[i];
    Case c;
    c.where = location_of(n, file);
    if (!n.IsMap()) {
      diag.error(c.where, "case " + std::to_string(i + 1) + ": expected a map with name, inputs and expect");
      continue;
    }
    std::string what = "case " + std::to_string(i + 1);
    unknown_keys(n, {"name", "inputs", "expect"}, what, file, diag);
    const YAML::Node name = n["name"];
    if (!name.IsDefined() || !name.IsScalar() || name.Scalar().empty()) {
      diag.error(c.where, what + ": missing 'name' (what the case shows)");
    } else {
      c.name = name.Scalar();
      what += " '" + c.name + "'";
      if (auto [it, fresh] = names.emplace(c.name, location_of(name, file)); !fresh)
        diag.error(location_of(name, file), what + ": the name is already that of the case at " + it->second.str());
    }
    const YAML::Node inputs = n["inputs"];
    if (!inputs.IsDefined() || !inputs.IsSequence() || inputs.size() == 0)
      diag.error(inputs.IsDefined() ? location_of(inputs, file) : c.where,
                 what + ": 'inputs' is a non-empty list of {source: NAME, events: [...]}");
    else
      for (size_t k = 0; k < inputs.size(); ++k)
        c.inputs.push_back(load_input(inputs[k], file, base, what + ", input " + std::to_string(k + 1), diag));
    const YAML::Node expect = n["expect"];
    if (!expect.IsDefined() || !expect.IsMap() || expect.size() == 0) {
      diag.error(expect.IsDefined() ? location_of(expect, file) : c.where,
                 what + ": 'expect' is a map from a component (or COMPONENT.PORT) to its expected events");
    } else {
      std::set<std::string> keys;
      for (const auto& kv : expect) {
        Expect x = load_expect(kv.first, kv.second, file, diag);
        if (!keys.insert(x.key).second) diag.error(x.where, what + ": expect '" + x.key + "' is given twice");
        c.expect.push_back(std::move(x));
      }
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<std::string> names_of(const Topology& t, std::optional<Kind> kind = std::nullopt) {
  std::vector<std::string> out;
  for (const auto& n : t.nodes)
    if (!kind || n.kind == *kind) out.push_back(n.name);
  return out;
}

std::string outputs_of(const Node& n) {
  std::string s;
  for (const auto& p : n.ports) s += (s.empty() ? "" : ", ") + (p.empty() ? n.name : n.name + "." + p);
  return s;
}

// Every name a case uses must be in the topology: found before anything runs.
void check_against(const Topology& topo, std::vector<Case>& cases, Diagnostics& diag) {
  const auto all = names_of(topo);
  auto unknown = [&](const Location& at, const std::string& name, std::optional<Kind> kind) {
    std::string msg = "'" + name + "' names no " + (kind ? std::string(kind_name(*kind)) : "component") + " of " +
                      topo.file.string();
    if (auto c = closest(name, names_of(topo, kind))) msg += "; did you mean '" + *c + "'?";
    diag.error(at, msg);
  };
  for (auto& c : cases) {
    for (const auto& in : c.inputs) {
      if (in.name.empty()) continue;
      const Node* n = topo.find(in.name);
      if (!n) {
        unknown(in.name_where, in.name, in.at ? Kind::Operator : Kind::Source);
      } else if (!in.at && n->kind != Kind::Source) {
        diag.error(in.name_where, "'" + in.name + "' is " + (n->kind == Kind::Operator ? "an operator" : "a sink") +
                                      ": 'source:' names a source" +
                                      (n->kind == Kind::Operator ? "; to send events into it write 'at: " + in.name + "'" : ""));
      } else if (in.at && n->kind != Kind::Operator) {
        diag.error(in.name_where, "'at:' names an operator, and '" + in.name + "' is a " + kind_name(n->kind) +
                                      (n->kind == Kind::Source ? ": write 'source: " + in.name + "'"
                                                               : ": sinks do not run under test; expect on '" + in.name +
                                                                     "' to check what it would write"));
      }
    }
    for (auto& x : c.expect) {
      if (x.component.empty()) continue;
      const Node* n = topo.find(x.component);
      if (!n) {
        unknown(x.where, x.component, std::nullopt);
        continue;
      }
      if (n->kind == Kind::Sink) {
        x.sink = true;
        if (!x.port.empty())
          diag.error(x.where, "'" + x.key + "': sinks are replaced under test and never fail, so '" + x.component +
                                  "' has no output to check; expect on '" + x.component + "' for what it would write");
        continue;
      }
      if (std::find(n->ports.begin(), n->ports.end(), x.port) == n->ports.end()) {
        std::string msg = "'" + x.key + "': '" + x.component + "' has no " +
                          (x.port.empty() ? "default output" : "output '" + x.port + "'");
        if (auto p = x.port.empty() ? std::nullopt : closest(x.port, n->ports)) msg += "; did you mean '" + x.component + "." + *p + "'?";
        diag.error(x.where, msg + " (its outputs: " + outputs_of(*n) + ")");
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Learning state. A case's outputs must follow from the case alone, and a
// test must not change what a running engine would restore, so no case
// reads or writes an operator's state on disk. Snapshots and correlation
// windows (snapshot_dir, state_dir) are optional: under test they are left
// out, so that state lives in memory, starts empty and ends with the case.
// In memory also means a verdict is acknowledged once learnt rather than once
// a snapshot holds it, which lets the next input wait for it (Feeder), and
// that no timer-driven snapshot renumbers a model's version mid-case. A
// learning transformer needs a versions_dir: it gets a fresh empty one per
// case, removed after. A pinned version is one saved on disk: refused.
const std::vector<std::string> kMemoryState{"snapshot_dir", "state_dir"};
const std::string kVersionsDir = "versions_dir";

void check_state(const YAML::Node& root, const std::string& file, Diagnostics& diag) {
  const YAML::Node ops = root["operators"];
  if (!ops.IsDefined() || !ops.IsMap()) return;
  for (const auto& kv : ops) {
    if (!kv.second.IsDefined() || !kv.second.IsMap()) continue;
    if (const YAML::Node pin = kv.second["pin_version"]; pin.IsDefined())
      diag.error(location_of(pin, file),
                 "'" + kv.first.Scalar() + "': pin_version serves a version saved in versions_dir, learning state on "
                 "disk that `socstream test` never reads (each case starts from the bundled model); test a copy of "
                 "the topology without the pin");
  }
}

// A directory of the system's temporary directory, removed with its contents at destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "socstream-case-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary directory in " + tmpl);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Rebuilds the operators that name learning state, without it (see above).
void isolate_state(Topology& topo, const YAML::Node& root, const fs::path& scratch, Diagnostics& diag) {
  const YAML::Node ops = root["operators"];
  if (!ops.IsDefined() || !ops.IsMap()) return;
  const std::string file = topo.file.string();
  for (auto& node : topo.nodes) {
    if (node.kind != Kind::Operator || !node.spec) continue;
    const YAML::Node original = ops[node.name];
    if (!original.IsDefined() || !original.IsMap()) continue;
    YAML::Node body = YAML::Clone(original);
    bool changed = false;
    for (const auto& key : kMemoryState)
      if (body[key].IsDefined()) changed |= body.remove(key);
    if (body[kVersionsDir].IsDefined()) {
      const fs::path dir = scratch / (node.name + "-versions");
      fs::create_directories(dir);
      body[kVersionsDir] = dir.string();
      changed = true;
    }
    if (!changed) continue;
    Settings settings(body, node.name, file, topo.file.parent_path(), &diag);
    std::vector<std::unique_ptr<Component>> fresh;
    for (size_t i = 0; i < node.instances.size(); ++i) fresh.push_back(node.spec->make(settings));
    node.instances = std::move(fresh);
  }
}

// ---------------------------------------------------------------------------
// Running a case.

// The order inputs enter in. Each source of a topology runs on its own
// thread, so two inputs at different places (an access event, then an
// analyst's verdict) would otherwise race. An input enters once every event of
// the inputs before it has completed: delivered to a sink, dead-lettered or
// dropped; in a topology where an operator holds events longer than kSettle,
// it enters anyway, and the case says so.
class Feeder {
 public:
  explicit Feeder(size_t steps) : done_(steps, false), emitted_(steps) {}

  // Waits until step may enter; false if the run is stopping.
  bool wait_turn(size_t step, const SourceContext& ctx) {
    std::unique_lock lk(m_);
    while (turn_ < step) {
      if (ctx.stopping()) return false;
      const auto& at = emitted_[turn_];
      if (at && Clock::now() - *at > kSettle) {
        notes_.push_back(fmt::format("input {} had not completed {} s after it entered; input {} entered all the same",
                                     turn_ + 1, kSettle.count(), turn_ + 2));
        done_[turn_] = true;
        advance();
        continue;
      }
      cv_.wait_for(lk, std::chrono::milliseconds(20));
    }
    emitted_[step] = Clock::now();
    return true;
  }
  void done(size_t step, bool ok) {
    std::lock_guard lk(m_);
    if (!ok) ++failed_;
    done_[step] = true;
    advance();
    cv_.notify_all();
  }
  std::vector<std::string> notes() {
    std::lock_guard lk(m_);
    return notes_;
  }
  size_t failed() {
    std::lock_guard lk(m_);
    return failed_;
  }

 private:
  void advance() {
    while (turn_ < done_.size() && done_[turn_]) ++turn_;
  }
  std::mutex m_;
  std::condition_variable cv_;
  size_t turn_ = 0;
  std::vector<bool> done_;
  std::vector<std::optional<Clock::time_point>> emitted_;
  std::vector<std::string> notes_;
  size_t failed_ = 0;
};

class StepToken final : public AckToken {
 public:
  StepToken(Feeder* f, size_t step) : feeder_(f), step_(step) {}

 protected:
  void on_done(bool ok) override { feeder_->done(step_, ok); }

 private:
  Feeder* feeder_;
  size_t step_;
};

const std::string kMessage = "message";

// Stands in for a source, or enters events at an operator's input. Events
// get stable positions: the input's name as their source, stream "case-N"
// (N the case's number), partition 0, offset the event's index among those
// the case sends there, origin 0; alert ids are therefore the same every run.
class Injector final : public Source {
 public:
  struct Step {
    size_t index;
    std::vector<std::string> events;
  };
  Injector(std::string name, std::string stream, bool plain, Feeder* feeder)
      : name_(std::move(name)), stream_(std::move(stream)), plain_(plain), feeder_(feeder) {}

  const std::string* name() const { return &name_; }
  // Adds a step; returns the offset of its first event.
  int64_t add(size_t index, std::vector<std::string> events) {
    const int64_t first = next_offset_;
    next_offset_ += static_cast<int64_t>(events.size());
    steps_.push_back(Step{index, std::move(events)});
    return first;
  }

  void run(SourceContext& ctx) override {
    int64_t offset = 0;
    for (auto& step : steps_) {
      if (!feeder_->wait_turn(step.index, ctx)) return;
      if (step.events.empty()) {
        feeder_->done(step.index, true);
        continue;
      }
      auto* token = new StepToken(feeder_, step.index);
      token->set_pending(static_cast<uint32_t>(step.events.size()));
      for (size_t at = 0; at < step.events.size(); at += kBatchEvents) {
        Batch b;
        const size_t end = std::min(step.events.size(), at + kBatchEvents);
        for (size_t i = at; i < end; ++i) {
          Event e;
          e.raw = step.events[i];
          e.pos = SourcePos{&name_, 0, offset++, stream_, 0};
          e.ack = Ack(token);
          if (plain_) e.fields.push_back(Field{kMessage, e.raw, ValueKind::String});
          b.events.push_back(std::move(e));
        }
        ctx.out.emit(0, std::move(b));
      }
    }
  }

 private:
  std::string name_;
  std::string stream_;
  bool plain_;
  Feeder* feeder_;
  std::vector<Step> steps_;
  int64_t next_offset_ = 0;
};

// What one expected output received, in the JSON a sink would write.
struct Captured {
  struct Out {
    size_t order;    // the injected event it came from, in input order
    size_t arrival;  // then the order it arrived in
    std::string text;
  };
  std::mutex m;
  std::vector<Out> events;
};

// Injected events by position, to put outputs in input order: with several
// workers, or a sink fed by several ports, arrival order is the scheduler's.
using Order = std::map<std::pair<const std::string*, int64_t>, size_t>;

class CaptureSink final : public Sink {
 public:
  CaptureSink(Captured* into, const Order* order) : into_(into), order_(order) {}
  void process(Batch&& in, Outputs&) override {
    if (into_) {
      std::lock_guard lk(into_->m);
      for (const auto& e : in.events) {
        std::string line;
        json::append_line(line, e);
        line.pop_back();
        auto it = order_->find({e.pos.source, e.pos.offset});
        into_->events.push_back(
            Captured::Out{it == order_->end() ? SIZE_MAX : it->second, into_->events.size(), std::move(line)});
      }
    }
    in.complete_all();
  }

 private:
  Captured* into_;
  const Order* order_;
};

// The warnings and errors logged while a case runs: a failed component says why there.
class CaseLog final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> lines() {
    std::lock_guard lk(mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (msg.level < spdlog::level::warn || lines_.size() >= 50) return;
    lines_.push_back(fmt::format("{}: {}", spdlog::level::to_string_view(msg.level),
                                 std::string_view(msg.payload.data(), msg.payload.size())));
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

struct Result {
  std::string name;
  Location where;
  double seconds = 0;
  bool failed = false;  // an expectation did not hold
  bool error = false;   // the case could not run to its end
  std::string headline;  // the first problem, in a line
  std::string detail;    // the whole diff
};

std::string show(std::string_view text, size_t limit) {
  if (text.size() <= limit) return std::string(text);
  size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
  return fmt::format("{}... ({} bytes in all)", text.substr(0, cut), text.size());
}

std::string show(const element& e) { return show(simdjson::minify(e), kShowValueBytes); }

// The element at a dotted path. At each object, a key equal to the rest of
// the path wins, then the longest key that is a prefix of it, so flat names
// ("url.query" as one key) and nested objects both resolve; in an array, a
// segment is an index.
std::optional<element> lookup(element cur, std::string_view path) {
  while (!path.empty()) {
    if (cur.type() == element_type::OBJECT) {
      std::optional<element> next;
      size_t best = 0;
      simdjson::dom::object obj;
      if (cur.get(obj)) return std::nullopt;
      for (auto [k, v] : obj) {
        if (k == path) return v;
        if (k.size() < path.size() && path[k.size()] == '.' && path.substr(0, k.size()) == k && k.size() >= best) {
          best = k.size();
          next = v;
        }
      }
      if (!next) return std::nullopt;
      cur = *next;
      path.remove_prefix(best + 1);
    } else if (cur.type() == element_type::ARRAY) {
      const size_t dot = path.find('.');
      const std::string_view seg = path.substr(0, dot);
      size_t i = 0;
      auto r = std::from_chars(seg.data(), seg.data() + seg.size(), i);
      if (r.ec != std::errc() || r.ptr != seg.data() + seg.size()) return std::nullopt;
      simdjson::dom::array arr;
      element item;
      if (cur.get(arr) || arr.at(i).get(item)) return std::nullopt;
      cur = item;
      path.remove_prefix(dot == std::string_view::npos ? path.size() : dot + 1);
    } else {
      return std::nullopt;
    }
  }
  return cur;
}

bool number_of(const element& e, double& out) {
  switch (e.type()) {
    case element_type::INT64: out = static_cast<double>(e.get_int64().value_unsafe()); return true;
    case element_type::UINT64: out = static_cast<double>(e.get_uint64().value_unsafe()); return true;
    case element_type::DOUBLE: out = e.get_double().value_unsafe(); return true;
    default: return false;
  }
}

bool equal(const Scalar& want, const element& got) {
  switch (want.type) {
    case Scalar::String: return got.type() == element_type::STRING && got.get_string().value_unsafe() == want.text;
    case Scalar::Bool: return got.type() == element_type::BOOL && got.get_bool().value_unsafe() == (want.text == "true");
    case Scalar::Null: return got.type() == element_type::NULL_VALUE;
    case Scalar::Number: {
      // Integers exactly (ids and offsets beyond 2^53 too), anything else as doubles.
      const bool integral = want.text.find_first_of(".eE") == std::string::npos;
      int64_t i = 0;
      const char* b = want.text.data();
      const char* end = b + want.text.size();
      if (integral && std::from_chars(b, end, i).ptr == end) {
        if (got.type() == element_type::INT64) return got.get_int64().value_unsafe() == i;
        if (got.type() == element_type::UINT64) return i >= 0 && got.get_uint64().value_unsafe() == static_cast<uint64_t>(i);
      }
      double d = 0;
      return number_of(got, d) && d == std::strtod(want.text.c_str(), nullptr);
    }
  }
  return false;
}

struct Mismatch {
  std::string path;
  std::string expected;
  std::string actual;
  Location where;
};

void match(const Matcher& m, const std::optional<element>& got, const std::string& path, std::vector<Mismatch>& out) {
  auto fail = [&](std::string actual) { out.push_back(Mismatch{path, m.describe(), std::move(actual), m.where}); };
  const std::string none = "no such field";
  switch (m.kind) {
    case Matcher::Test: {
      if (m.exists && !*m.exists) {
        if (got) fail(show(*got));
        return;
      }
      if (!got) return fail(none);
      bool ok = true;
      if (m.contains) {
        if (got->type() == element_type::STRING && m.contains->type == Scalar::String)
          ok = got->get_string().value_unsafe().find(m.contains->text) != std::string_view::npos;
        else if (simdjson::dom::array arr; !got->get(arr)) {
          ok = false;
          for (element item : arr) ok = ok || equal(*m.contains, item);
        } else
          ok = false;
      }
      if (ok && m.re) {
        ok = got->type() == element_type::STRING;
        if (ok) {
          const std::string_view s = got->get_string().value_unsafe();
          ok = std::regex_search(s.begin(), s.end(), *m.re);
        }
      }
      double v = 0;
      if (ok && !m.bounds.empty()) {
        ok = number_of(*got, v);
        for (const auto& [op, bound] : m.bounds)
          ok = ok && (op == "gte" ? v >= bound : op == "gt" ? v > bound : op == "lte" ? v <= bound : v < bound);
      }
      if (!ok) fail(show(*got));
      return;
    }
    case Matcher::Value:
      if (!got) return fail(none);
      if (!equal(m.value, *got)) fail(show(*got));
      return;
    case Matcher::List: {
      if (!got) return fail(none);
      simdjson::dom::array arr;
      if (got->get(arr)) return fail(show(*got));
      if (arr.size() != m.items.size()) return fail(show(*got));
      size_t i = 0;
      for (element item : arr) {
        match(m.items[i], item, path + "." + std::to_string(i), out);
        ++i;
      }
      return;
    }
    case Matcher::Object:
      if (!got) return fail(none);
      if (got->type() != element_type::OBJECT) return fail(show(*got));
      for (const auto& [key, sub] : m.fields) match(sub, lookup(*got, key), path.empty() ? key : path + "." + key, out);
      return;
  }
}

std::string plural(size_t n, const char* one) { return fmt::format("{} {}{}", n, one, n == 1 ? "" : "s"); }

// Compares one expected output with what it received; appends the diff.
bool check(const Expect& x, std::vector<Captured::Out>& got, std::string& diff, std::string& headline) {
  std::stable_sort(got.begin(), got.end(), [](const Captured::Out& a, const Captured::Out& b) {
    return a.order != b.order ? a.order < b.order : a.arrival < b.arrival;
  });
  auto note = [&](const std::string& line) {
    if (headline.empty()) headline = line;
  };
  const size_t want = x.count ? *x.count : x.events.size();
  const bool count_ok = got.size() == want;
  bool ok = count_ok;
  if (!count_ok) {
    const std::string line = fmt::format("{}: expected {}, got {}", x.key,
                                         want == 0 ? std::string("no events") : plural(want, "event"), got.size());
    note(line);
    diff += fmt::format("  {} ({})\n", line, x.where.str());
  }
  simdjson::dom::parser parser;
  for (size_t i = 0; i < got.size(); ++i) {
    const std::string shown = show(got[i].text, kShowBytes);
    if (x.count || i >= x.events.size()) {
      // With a count, or beyond the list: only the number was wrong, and these are what came.
      if (!count_ok) diff += fmt::format("    got {}: {}\n", i + 1, shown);
      continue;
    }
    std::vector<Mismatch> mm;
    element doc;
    if (parser.parse(simdjson::padded_string(got[i].text)).get(doc)) {
      // Not JSON: compared as the string it is.
      std::string quoted;
      json::append_string(quoted, got[i].text);
      if (parser.parse(simdjson::padded_string(quoted)).get(doc)) continue;  // unreachable: append_string writes JSON
    }
    match(x.events[i], doc, "", mm);
    if (mm.empty()) {
      if (!count_ok) diff += fmt::format("    got {} (as expected): {}\n", i + 1, shown);
      continue;
    }
    ok = false;
    diff += fmt::format("  {}: event {} of {} differs from the expected one at {}\n", x.key, i + 1, got.size(),
                        x.events[i].where.str());
    for (const auto& m : mm) {
      const std::string line =
          fmt::format("{}: expected {}, got {}", m.path.empty() ? "the event" : m.path, m.expected, m.actual);
      note(fmt::format("{} event {}: {}", x.key, i + 1, line));
      diff += fmt::format("    {}   ({})\n", line, m.where.str());
    }
    diff += "    the event: " + shown + "\n";
  }
  if (!x.count)
    for (size_t i = got.size(); i < x.events.size(); ++i)
      diff += fmt::format("    expected {} ({}) did not come: {}\n", i + 1, x.events[i].where.str(),
                          show(x.events[i].describe(), kShowValueBytes));
  return ok;
}

struct Loaded {
  std::unique_ptr<Topology> topo;
  YAML::Node root;
};

Result run_case(const Case& c, size_t number, Loaded loaded) {
  Result r;
  r.name = c.name;
  r.where = c.where;
  // Declared first, destroyed last: components may release an event (and so
  // call into the feeder) until they are destroyed with the topology.
  Feeder feeder(c.inputs.size());
  std::unique_ptr<ScratchDir> scratch;
  std::map<std::string, Captured> captured;
  Order order;
  auto& topo = loaded.topo;
  try {
    scratch = std::make_unique<ScratchDir>();
    Diagnostics diag;
    isolate_state(*topo, loaded.root, scratch->path(), diag);
    if (!diag.ok()) throw std::runtime_error("rebuilding the operators without their state on disk:\n" + diag.str());

    // Injection points, sources first: a source keeps its node (and its ports, which others read).
    const std::string stream = "case-" + std::to_string(number);
    std::map<std::pair<bool, std::string>, Injector*> injectors;
    auto injector_for = [&](const Input& in) -> Injector* {
      auto& slot = injectors[{in.at, in.name}];
      if (slot) return slot;
      const size_t target = static_cast<size_t>(topo->find(in.name) - topo->nodes.data());
      if (!in.at) {
        Node& n = topo->nodes[target];
        // A source of plain lines gives each event its line as `message`: so does its stand-in.
        bool plain = false;
        if (!n.instances.empty())
          for (const auto& f : n.instances.front()->writes().names) plain = plain || f == kMessage;
        auto inj = std::make_unique<Injector>(n.name, stream, plain, &feeder);
        slot = inj.get();
        n.instances.clear();
        n.instances.push_back(std::move(inj));
        return slot;
      }
      Node n;
      n.name = "test-input:" + in.name;
      n.kind = Kind::Source;
      n.ports = {""};
      auto inj = std::make_unique<Injector>(in.name, stream, false, &feeder);
      slot = inj.get();
      n.instances.push_back(std::move(inj));
      topo->nodes.push_back(std::move(n));
      topo->nodes[target].inputs.push_back(InputRef{in.name, topo->nodes.size() - 1, 0, in.where});
      return slot;
    };
    // Every source is replaced, also those this case sends nothing from: none may read a real input.
    for (size_t i = 0; i < topo->nodes.size(); ++i)
      if (topo->nodes[i].kind == Kind::Source) {
        Input in;
        in.name = topo->nodes[i].name;
        injector_for(in);
      }
    size_t ordinal = 0;
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      Injector* inj = injector_for(c.inputs[i]);
      const int64_t first = inj->add(i, c.inputs[i].events);
      for (size_t k = 0; k < c.inputs[i].events.size(); ++k) order[{inj->name(), first + static_cast<int64_t>(k)}] = ordinal++;
    }

    for (const auto& x : c.expect) captured[x.key];
    // Sinks keep what they receive (for an expectation on them) and write nothing.
    for (auto& n : topo->nodes) {
      if (n.kind != Kind::Sink) continue;
      auto it = captured.find(n.name);
      n.instances.clear();
      n.instances.push_back(std::make_unique<CaptureSink>(it == captured.end() ? nullptr : &it->second, &order));
    }
    // A port under test gets one more consumer: what reads it already reads it still.
    for (const auto& x : c.expect) {
      if (x.sink) continue;
      const size_t from = static_cast<size_t>(topo->find(x.component) - topo->nodes.data());
      const auto& ports = topo->nodes[from].ports;
      Node n;
      n.name = "test-expect:" + x.key;
      n.kind = Kind::Sink;
      n.buffer_events = 8192;
      n.buffer_bytes = 16u << 20;
      n.inputs.push_back(InputRef{x.key, from, static_cast<size_t>(std::find(ports.begin(), ports.end(), x.port) - ports.begin()), x.where});
      n.instances.push_back(std::make_unique<CaptureSink>(&captured[x.key], &order));
      topo->nodes.push_back(std::move(n));
    }

    auto log = std::make_shared<CaseLog>();
    auto logger = spdlog::default_logger();
    logger->sinks().push_back(log);
    RunStats st;
    bool timed_out = false;
    {
      Runtime rt(*topo);
      std::mutex m;
      std::condition_variable cv;
      bool ended = false;
      std::thread guard([&] {
        std::unique_lock lk(m);
        if (cv.wait_for(lk, kCaseTimeout, [&] { return ended; })) return;
        timed_out = true;
        rt.request_stop();
        // A component that ignores the stop would hold the command forever.
        if (!cv.wait_for(lk, std::chrono::seconds(30), [&] { return ended; })) {
          std::fprintf(stderr, "socstream test: case %zu '%s' did not stop within 30 s of its %lld s timeout; giving up\n",
                       number, c.name.c_str(), static_cast<long long>(kCaseTimeout.count()));
          std::fflush(stdout);
          std::_Exit(1);
        }
      });
      rt.start();
      st = rt.wait();
      {
        std::lock_guard lk(m);
        ended = true;
      }
      cv.notify_all();
      guard.join();
    }
    logger->sinks().pop_back();

    const auto lines = log->lines();
    std::vector<std::string> problems;
    if (timed_out) problems.push_back(fmt::format("the case did not end within {} s", kCaseTimeout.count()));
    if (st.failed) problems.push_back("a component failed");
    if (const size_t n = feeder.failed())
      problems.push_back(fmt::format("{} of its inputs had events that were not acknowledged", n));
    if (!problems.empty()) {
      r.error = true;
      for (const auto& p : problems) r.detail += "  " + p + "\n";
      r.headline = problems.front();
      for (const auto& l : lines) r.detail += "    log: " + l + "\n";
    }
    for (const auto& n : feeder.notes()) r.detail += "  note: " + n + "\n";
    if (!r.error) {
      for (const auto& x : c.expect) {
        std::string diff;
        if (!check(x, captured[x.key].events, diff, r.headline)) r.failed = true;
        r.detail += diff;
      }
      if (r.failed && !lines.empty())
        for (const auto& l : lines) r.detail += "  log: " + l + "\n";
    }
  } catch (const std::exception& e) {
    r.error = true;
    r.headline = e.what();
    r.detail += "  " + std::string(e.what()) + "\n";
  }
  // Components (which may still hold events) go before the feeder and captures they point at.
  loaded.topo.reset();
  return r;
}

// ---------------------------------------------------------------------------
// The JUnit report: the shape Jenkins, GitLab and GitHub's test reporters read.

std::string xml(std::string_view s) {
  std::string out;
  const bool utf8 = json::valid_utf8(s);
  for (unsigned char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 allows no other control character, even escaped.
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || (c >= 0x80 && !utf8)) out += fmt::format("\\x{:02x}", c);
        else out += static_cast<char>(c);
    }
  }
  return out;
}

bool write_junit(const fs::path& path, const TestOptions& opts, const std::vector<Result>& results, double seconds) {
  size_t failures = 0, errors = 0;
  for (const auto& r : results) {
    failures += r.failed;
    errors += r.error;
  }
  const std::string suite = opts.topology.stem().string();
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"socstream test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3f}\">\n",
                     results.size(), failures, errors, seconds);
  out += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3f}\" file=\"{}\">\n",
                     xml(opts.topology.string()), results.size(), failures, errors, seconds, xml(opts.cases.string()));
  for (const auto& r : results) {
    out += fmt::format("    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3f}\" file=\"{}\" line=\"{}\"", xml(r.name),
                       xml(suite), r.seconds, xml(r.where.file), r.where.line);
    if (!r.failed && !r.error) {
      out += "/>\n";
      continue;
    }
    const char* tag = r.error ? "error" : "failure";
    out += fmt::format(">\n      <{} message=\"{}\" type=\"{}\">{}</{}>\n    </testcase>\n", tag, xml(r.headline),
                       r.error ? "error" : "mismatch", xml(r.detail), tag);
  }
  out += "  </testsuite>\n</testsuites>\n";
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << out;
  return static_cast<bool>(f.flush());
}

}  // namespace

int run_test_cases(const TestOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  Diagnostics diag;
  auto cases = load_cases(opts.cases, diag);
  Loaded first;
  // Apart: load_topology gives up on a Diagnostics that already holds errors.
  Diagnostics topo_diag;
  first.topo = load_topology(opts.topology, topo_diag);
  for (const auto& d : topo_diag.list()) diag.error(d.where, d.message);
  for (const auto& d : topo_diag.warnings()) diag.warn(d.where, d.message);
  if (first.topo) {
    first.root = load_yaml_file(opts.topology);
    check_state(first.root, opts.topology.string(), diag);
    check_against(*first.topo, cases, diag);
  }
  if (!diag.ok()) {
    std::fputs(diag.str().c_str(), stderr);
    std::fprintf(stderr, "%zu error(s)\n", diag.count());
    if (!opts.junit.empty()) {
      Result r;
      r.name = "loading " + opts.cases.string();
      r.where = Location{opts.cases.string(), 0, 0};
      r.error = true;
      r.headline = diag.list().front().str();
      r.detail = diag.str();
      write_junit(opts.junit, opts, {r}, 0);
    }
    return 1;
  }
  std::fputs(diag.warnings_str().c_str(), stderr);

  std::vector<Result> results;
  size_t failed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto loading = std::chrono::steady_clock::now();
    Loaded loaded;
    if (i == 0) {
      loaded = std::move(first);
    } else {
      // Afresh for each case: no operator carries what one case taught it into the next.
      Diagnostics again;
      loaded.topo = load_topology(opts.topology, again);
      loaded.root = load_yaml_file(opts.topology);
      if (!loaded.topo) {
        std::fputs(again.str().c_str(), stderr);
        return 1;
      }
    }
    Result r = run_case(cases[i], i + 1, std::move(loaded));
    // A case's time includes loading its topology (compiling Sigma rules, say), not only the run.
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - loading).count();
    const char* verdict = r.error ? "ERROR" : r.failed ? "FAIL " : "ok   ";
    std::printf("%s %zu/%zu %s (%s, %.2f s)\n", verdict, i + 1, cases.size(), r.name.c_str(), r.where.str().c_str(),
                r.seconds);
    if (r.error || r.failed) {
      ++failed;
      std::fputs(r.detail.c_str(), stdout);
    } else if (!r.detail.empty()) {
      std::fputs(r.detail.c_str(), stdout);  // notes
    }
    std::fflush(stdout);
    results.push_back(std::move(r));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s: %zu of %s passed%s (%.2f s)\n", opts.cases.string().c_str(), cases.size() - failed,
              plural(cases.size(), "case").c_str(), failed ? fmt::format(", {} failed", failed).c_str() : "", seconds);
  if (!opts.junit.empty() && !write_junit(opts.junit, opts, results, seconds)) {
    std::fprintf(stderr, "socstream test: cannot write %s\n", opts.junit.string().c_str());
    return 1;
  }
  return failed ? 1 : 0;
}

}  // namespace socstream
