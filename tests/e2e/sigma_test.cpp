// The sigma operator through the binary: the bundled topology on the bundled
// sample, SigmaHQ's own regression events, and `validate`'s summary.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "operators/sigma/compiler.hpp"
#include "tests/support/test_support.hpp"

using namespace socstream::testing;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < s.size()) {
    size_t end = s.find('\n', at);
    if (end == std::string::npos) end = s.size();
    if (end > at) out.push_back(s.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

fs::path shared_data() { return source_dir() / ".." / "shared" / "data"; }

// SigmaHQ's regression data: for each named rule, EVTX records rendered as JSON
// (several documents per file) on which that rule must fire; one document a line.
struct RegressionTest {
  std::string rule, where;
  std::vector<size_t> lines;
  int64_t match_count = -1;
};
struct Regression {
  std::string events;
  std::vector<RegressionTest> tests;
};

Regression load_regression() {
  const fs::path root = shared_data() / "sigma/regression/regression_data";
  Regression reg;
  if (!fs::is_directory(root)) {
    ADD_FAILURE() << root << " (the shared data sets) is missing";
    return reg;
  }
  simdjson::dom::parser p;
  size_t line = 0;
  std::vector<fs::path> infos;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.path().filename() == "info.yml") infos.push_back(e.path());
  std::sort(infos.begin(), infos.end());
  for (const auto& info : infos) {
    YAML::Node y = YAML::LoadFile(info.string());
    RegressionTest t;
    t.rule = y["rule_metadata"][0]["id"].as<std::string>();
    t.where = fs::relative(info.parent_path(), root).string();
    if (y["regression_tests_info"][0]["match_count"]) t.match_count = y["regression_tests_info"][0]["match_count"].as<int64_t>();
    for (const auto& f : fs::directory_iterator(info.parent_path())) {
      if (f.path().extension() != ".json") continue;
      simdjson::padded_string json = simdjson::padded_string::load(f.path().string());
      simdjson::dom::document_stream docs;
      if (p.parse_many(json).get(docs) != simdjson::SUCCESS) {
        ADD_FAILURE() << f.path();
        continue;
      }
      for (auto doc : docs) {
        simdjson::dom::element el;
        if (doc.get(el) != simdjson::SUCCESS) {
          ADD_FAILURE() << f.path();
          break;
        }
        reg.events += simdjson::minify(el) + "\n";
        t.lines.push_back(line++);
      }
    }
    reg.tests.push_back(std::move(t));
  }
  return reg;
}

// The regression events through the binary (evtx_json pipeline): per event
// line, the ids of the rules that fired on it.
std::map<size_t, std::set<std::string>> run_regression(const Regression& reg, const std::string& rules, const TempDir& dir) {
  std::map<size_t, std::set<std::string>> fired;
  const auto input = dir.write("events.jsonl", reg.events);
  const auto out = dir.path() / "alerts.jsonl";
  dir.write("t.yaml", "sources:\n  events: {type: file, path: " + input.string() +
                          ", format: json}\noperators:\n  parse: {type: json_parse, inputs: [events], fields: all}\n"
                          "  sigma: {type: sigma, inputs: [parse], rules: '" + rules +
                          "', pipeline: evtx_json}\n  alerts: {type: alert, inputs: [sigma], per_rule: true}\n"
                          "sinks:\n  out: {type: file, inputs: [alerts], path: " + out.string() + "}\n");
  auto r = run_socstream("run " + (dir.path() / "t.yaml").string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Alerts name their event by its byte offset; map offsets back to lines.
  std::map<int64_t, size_t> line_at;
  int64_t offset = 0;
  size_t n = 0;
  for (const auto& l : lines_of(reg.events)) {
    line_at[offset] = n++;
    offset += static_cast<int64_t>(l.size()) + 1;
  }
  simdjson::dom::parser p;
  for (const auto& l : lines_of(read_file(out))) {
    simdjson::dom::element a;
    if (p.parse(l).get(a) != simdjson::SUCCESS) {
      ADD_FAILURE() << l;
      continue;
    }
    fired[line_at.at(int64_t(a["socstream"]["source"]["offset"]))].insert(
        std::string(std::string_view(a["socstream"]["rules"].at(0)["id"])));
  }
  return fired;
}

// A rule of the bundled corpus by its id: its file and its YAML document.
std::pair<fs::path, YAML::Node> find_rule(const std::string& id) {
  for (const auto& e : fs::recursive_directory_iterator(source_dir() / "config/sigma")) {
    if (!e.is_regular_file() || e.path().extension() != ".yml") continue;
    const std::string text = read_file(e.path());
    if (text.find(id) == std::string::npos) continue;
    for (const auto& doc : YAML::LoadAll(text))
      if (doc.IsMap() && doc["id"] && doc["id"].IsScalar() && doc["id"].Scalar() == id) return {e.path(), doc};
  }
  return {};
}

// Why a rule did not fire on its events, from the same rules compiled in
// this process with the operator's defaults: refused (with the reason and
// place), filtered out, not for this pipeline, or loaded but not matching
// (with the rules that fired on those events instead).
class MissDiagnosis {
 public:
  MissDiagnosis(const std::vector<fs::path>& rule_paths, const std::string& pipeline) : pipeline_(pipeline) {
    std::vector<socstream::sigma::Refusal> refused;
    auto files = socstream::sigma::expand_rule_paths(rule_paths, refused);
    parsed_ = socstream::sigma::load_rules(files, refused);
    rules_ = std::make_unique<socstream::sigma::RuleSet>(
        parsed_, socstream::sigma::load_pipeline(pipeline, source_dir() / "config"), socstream::sigma::CompileOptions{},
        std::move(refused));
  }

  std::string explain(const RegressionTest& t, const std::map<size_t, std::set<std::string>>& fired) const {
    for (const auto& r : rules_->refused())
      if (r.rule_id == t.rule) return "refused: " + r.reason + ": " + r.message + " (" + r.where.str() + ")";
    const socstream::sigma::Rule* rule = nullptr;
    for (const auto& r : parsed_)
      if (r.id == t.rule) rule = &r;
    if (!rule) return "no rule has this id in the rules loaded (removed or renamed upstream?)";
    bool loaded = false;
    for (const auto& r : rules_->rules()) loaded |= r.id == t.rule;
    if (!loaded) {
      // The operator's default status filter; nothing else filters by default.
      if (rule->status == "deprecated" || rule->status == "unsupported")
        return "filtered out: status '" + rule->status + "' (the default loads all but deprecated and unsupported)";
      std::string ls;
      const std::vector<std::pair<std::string, std::string>> parts{
          {"product", rule->logsource.product}, {"category", rule->logsource.category}, {"service", rule->logsource.service}};
      for (const auto& [k, v] : parts)
        if (!v.empty()) ls += (ls.empty() ? "" : " ") + k + "=" + v;
      return "not for this pipeline (" + pipeline_ + "): " + ls;
    }
    std::set<std::string> instead;
    for (size_t l : t.lines)
      if (auto it = fired.find(l); it != fired.end()) instead.insert(it->second.begin(), it->second.end());
    std::string s = "loaded, but matched none of its " + std::to_string(t.lines.size()) + " event(s); ";
    if (instead.empty()) return s + "no rule fired on them";
    s += "fired there instead:";
    for (const auto& id : instead) s += " " + id;
    return s;
  }

 private:
  std::string pipeline_;
  std::vector<socstream::sigma::Rule> parsed_;
  std::unique_ptr<socstream::sigma::RuleSet> rules_;
};

}  // namespace

TEST(SigmaE2E, BundledTopologyAlertsOnTheSample) {
  TempDir dir;
  const auto dlq = dir.path() / "dlq.jsonl";
  auto r = run_socstream("run " + (source_dir() / "config/sigma-windows.yaml").string(), "SOCSTREAM_DLQ=" + dlq.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser p;
  std::set<std::string> ids, titles, event_times;
  {
    std::ifstream in(source_dir() / "config/samples/windows-events.jsonl");
    std::string line;
    simdjson::dom::parser ep;
    while (std::getline(in, line)) {
      simdjson::dom::element e;
      if (ep.parse(line).get(e)) continue;
      for (const char* k : {"@timestamp", "EventTime", "TimeCreated"}) {
        std::string_view t;
        if (e[k].get(t) || t.size() < 19) continue;
        std::string iso(t.substr(0, 19));
        iso[10] = 'T';
        event_times.insert(iso);
      }
    }
  }
  size_t alerts = 0;
  // Per rule id, what its alerts said of the rule (one alert each is enough: the entry is rendered once per rule).
  struct Said {
    std::string description, status, ecs_description, ecs_reference, product, category, service;
    std::vector<std::string> references, falsepositives;
  };
  std::map<std::string, Said> said;
  auto strings = [](simdjson::dom::element list) {
    std::vector<std::string> out;
    for (auto v : simdjson::dom::array(list)) out.emplace_back(std::string_view(v));
    return out;
  };
  for (const auto& line : lines_of(r.out)) {
    simdjson::dom::element a;
    ASSERT_EQ(p.parse(line).get(a), simdjson::SUCCESS) << line;
    ++alerts;
    {
      auto rule = a["socstream"]["rules"].at(0);
      Said& x = said[std::string(std::string_view(rule["id"]))];
      x.description = std::string_view(rule["description"]);
      x.status = std::string_view(rule["status"]);
      x.references = strings(rule["references"]);
      x.falsepositives = strings(rule["falsepositives"]);
      x.product = std::string_view(rule["logsource"]["product"]);
      x.category = std::string_view(rule["logsource"]["category"]);
      x.service = std::string_view(rule["logsource"]["service"]);
      std::string_view v;
      x.ecs_description = a["rule"]["description"].get(v) == simdjson::SUCCESS ? std::string(v) : "<none>";
      x.ecs_reference = a["rule"]["reference"].get(v) == simdjson::SUCCESS ? std::string(v) : "<none>";
    }
    EXPECT_TRUE(ids.insert(std::string(std::string_view(a["event"]["id"]))).second) << "alert ids never repeat: " << line;
    ASSERT_EQ(simdjson::dom::array(a["socstream"]["rules"]).size(), 1u) << "one alert per (event, rule)";
    auto rule = a["socstream"]["rules"].at(0);
    titles.insert(std::string(std::string_view(rule["title"])));
    EXPECT_FALSE(std::string_view(rule["author"]).empty()) << "DRL 1.1: the author is kept";
    EXPECT_EQ(std::string_view(rule["kind"]), "sigma");
    EXPECT_FALSE(rule["matched"]["selections"].error()) << line;
    EXPECT_EQ(std::string_view(a["socstream"]["severity"]), std::string_view(rule["severity"]));
    // ECS: the rule by its title, the event's host and time where a SIEM looks for them.
    EXPECT_EQ(std::string_view(a["rule"]["name"]), std::string_view(rule["title"]));
    EXPECT_EQ(std::string_view(a["rule"]["uuid"]), std::string_view(rule["id"]));
    EXPECT_EQ(std::string_view(a["rule"]["author"].at(0)), std::string_view(rule["author"]));
    EXPECT_FALSE(std::string_view(a["host"]["name"]).empty()) << line;
    // The event's own time (its @timestamp, else EventTime or TimeCreated; zone-less ones are UTC), never now.
    const std::string ts{std::string_view(a["@timestamp"])};
    EXPECT_TRUE(event_times.count(ts.substr(0, 19))) << ts << " is not a time any sample event carries";
  }
  EXPECT_GT(alerts, 150u);
  // What an analyst triages by is the rule's own, as its YAML in the corpus says.
  ASSERT_GT(said.size(), 10u);
  size_t with_refs = 0, with_fps = 0;
  for (const auto& [id, x] : said) {
    const auto [file, y] = find_rule(id);
    ASSERT_FALSE(file.empty()) << id << " is not in config/sigma";
    auto text = [&](const YAML::Node& n) { return n && n.IsScalar() ? n.Scalar() : std::string(); };
    auto texts = [&](const YAML::Node& n) {
      std::vector<std::string> out;
      if (n && n.IsSequence())
        for (const auto& v : n) out.push_back(v.Scalar());
      return out;
    };
    EXPECT_EQ(x.description, text(y["description"])) << file;
    EXPECT_EQ(x.ecs_description, x.description.empty() ? "<none>" : x.description) << file;
    EXPECT_EQ(x.status, text(y["status"])) << file;
    EXPECT_EQ(x.references, texts(y["references"])) << file;
    EXPECT_EQ(x.ecs_reference, x.references.empty() ? "<none>" : x.references.front()) << file;
    EXPECT_EQ(x.falsepositives, texts(y["falsepositives"])) << file;
    EXPECT_EQ(x.product, text(y["logsource"]["product"])) << file;
    EXPECT_EQ(x.category, text(y["logsource"]["category"])) << file;
    EXPECT_EQ(x.service, text(y["logsource"]["service"])) << file;
    with_refs += !x.references.empty();
    with_fps += !x.falsepositives.empty();
  }
  EXPECT_GT(with_refs, 5u) << "the comparison saw rules with references";
  EXPECT_GT(with_fps, 5u) << "and with false-positive notes";
  // The attack activity in the sample, as the corpus names it.
  for (const char* t : {"Lsass Memory Dump via Comsvcs DLL", "Active Directory Replication from Non Machine Account - DcSync Indicator",
                        "Potential SAM Database Dump", "HackTool - Mimikatz Execution", "Mavinject Inject DLL Into Running Process"})
    EXPECT_TRUE(titles.count(t)) << t;
  // ATT&CK enrichment: the LSASS dump rule's tags are credential access, T1003.001.
  bool enriched = false;
  for (const auto& line : lines_of(r.out)) {
    if (line.find("a49fa4d5-11db-418c-8473-1e014a8dd462") == std::string::npos) continue;
    simdjson::dom::element a;
    ASSERT_EQ(p.parse(line).get(a), simdjson::SUCCESS);
    auto threat = a["socstream"]["rules"].at(0)["threat"];
    for (auto t : simdjson::dom::array(threat["techniques"])) enriched |= std::string_view(t["id"]) == "T1003.001";
    // ECS threat.*: the technique and its sub-technique apart.
    EXPECT_EQ(std::string_view(a["threat"]["technique"]["id"].at(0)), "T1003");
    EXPECT_EQ(std::string_view(a["threat"]["technique"]["name"].at(0)), "OS Credential Dumping");
    EXPECT_EQ(std::string_view(a["threat"]["technique"]["subtechnique"]["id"].at(0)), "T1003.001");
    EXPECT_EQ(std::string_view(a["threat"]["technique"]["subtechnique"]["name"].at(0)), "LSASS Memory");
    EXPECT_EQ(std::string_view(a["threat"]["tactic"]["name"].at(0)), "Credential Access");
  }
  EXPECT_TRUE(enriched);
  expect_schema_valid(lines_of(r.out), "config/sigma-windows.yaml");
  // The sample's two empty lines are dead letters with their reason, nothing else is.
  auto dead = lines_of(read_file(dlq));
  ASSERT_EQ(dead.size(), 2u);
  for (const auto& d : dead) EXPECT_NE(d.find("\"reason\":\"empty\""), std::string::npos) << d;
}

TEST(SigmaE2E, RegressionEventsFireTheirRules) {
  const Regression reg = load_regression();
  ASSERT_GT(reg.tests.size(), 100u);
  TempDir dir;
  const std::string rules = (source_dir() / "config/sigma/rules*").string();
  const auto fired = run_regression(reg, rules, dir);
  std::vector<std::string> missed_ids;
  std::string counts;
  for (const auto& t : reg.tests) {
    size_t hits = 0;
    for (size_t l : t.lines) hits += fired.count(l) && fired.at(l).count(t.rule);
    if (hits == 0) missed_ids.push_back(t.rule);
    // match_count disagrees with the data for two tests: their JSON holds more
    // events that match than the EVTX checker counted (see docs/sigma.md).
    if (t.match_count >= 0 && hits != static_cast<size_t>(t.match_count))
      counts += "\n  " + t.where + ": " + std::to_string(hits) + " of " + std::to_string(t.lines.size()) +
                " events, match_count " + std::to_string(t.match_count);
  }
  std::string missed;
  if (!missed_ids.empty()) {
    // Only a miss pays for the diagnosis: the same rules compiled in-process.
    const MissDiagnosis why({rules}, "evtx_json");
    for (const auto& t : reg.tests)
      if (std::find(missed_ids.begin(), missed_ids.end(), t.rule) != missed_ids.end())
        missed += "\n  " + t.rule + " (" + t.where + "): " + why.explain(t, fired);
  }
  EXPECT_TRUE(missed.empty()) << "rules that did not fire on their regression events:" << missed;
  if (!counts.empty()) std::printf("match_count differences (informational):%s\n", counts.c_str());
}

// The diagnosis the test above prints, on real regression events through the
// binary: each way a rule can fail to fire is told apart.
TEST(SigmaE2E, RegressionMissesSayWhy) {
  const Regression reg = load_regression();
  ASSERT_FALSE(reg.tests.empty());
  const RegressionTest& real = reg.tests.front();
  const auto [real_file, real_rule] = find_rule(real.rule);
  ASSERT_FALSE(real_file.empty()) << real.rule << " is not in config/sigma";
  const std::string logsource = YAML::Dump(YAML::Node(real_rule["logsource"]));
  TempDir dir;
  fs::create_directories(dir.path() / "rules");
  fs::copy_file(real_file, dir.path() / "rules/real.yml");
  auto synthetic = [&](const std::string& id, const std::string& extra, const std::string& ls, const std::string& det) {
    return "title: " + id + "\nid: " + id + "\n" + extra + "logsource:\n  " + ls + "\ndetection:\n" + det + "\n";
  };
  auto indent = [](std::string y) {  // a block map as the value of `logsource:`
    for (size_t at = y.find('\n'); at != std::string::npos; at = y.find('\n', at + 1)) y.insert(at + 1, "  ");
    return y;
  };
  const std::string ls = indent(logsource);
  const std::string quiet = "  sel: {Event.EventData.Image: 'no-such-image-anywhere'}\n  condition: sel";
  dir.write("rules/others.yml",
            synthetic("deprecated-rule", "status: deprecated\n", ls, quiet) + "---\n" +
                synthetic("refused-rule", "", ls, "  sel: {Event.EventData.Image|bogus: x}\n  condition: sel") + "---\n" +
                synthetic("linux-rule", "", "product: linux\n  category: process_creation", quiet) + "---\n" +
                synthetic("quiet-rule", "", ls, quiet));
  const auto fired = run_regression(reg, (dir.path() / "rules").string(), dir);
  size_t real_hits = 0;
  for (size_t l : real.lines) real_hits += fired.count(l) && fired.at(l).count(real.rule);
  ASSERT_GT(real_hits, 0u) << "the copied rule must fire on its events, or nothing below is shown";

  const MissDiagnosis why({dir.path() / "rules"}, "evtx_json");
  auto explain = [&](const std::string& id) {
    RegressionTest t = real;
    t.rule = id;
    return why.explain(t, fired);
  };
  EXPECT_EQ(explain("deprecated-rule").rfind("filtered out: status 'deprecated'", 0), 0u) << explain("deprecated-rule");
  const std::string refused = explain("refused-rule");
  EXPECT_EQ(refused.rfind("refused: unknown_modifier", 0), 0u) << refused;
  EXPECT_NE(refused.find("others.yml:"), std::string::npos) << "with the file and line\n" << refused;
  EXPECT_EQ(explain("linux-rule").rfind("not for this pipeline (evtx_json): product=linux category=process_creation", 0), 0u)
      << explain("linux-rule");
  const std::string quiet_why = explain("quiet-rule");
  EXPECT_EQ(quiet_why.rfind("loaded, but matched none of its " + std::to_string(real.lines.size()) + " event(s)", 0), 0u)
      << quiet_why;
  EXPECT_NE(quiet_why.find("fired there instead: " + real.rule), std::string::npos) << quiet_why;
  EXPECT_EQ(explain("absent-rule").rfind("no rule has this id", 0), 0u) << explain("absent-rule");
}

TEST(SigmaE2E, ValidateSummarisesAndStrictRefuses) {
  auto ok = run_socstream("validate " + (source_dir() / "config/sigma-windows.yaml").string());
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.err.find("rule(s) loaded from"), std::string::npos) << ok.err;
  EXPECT_NE(ok.err.find("refused, by reason:\n  unknown_placeholder ("), std::string::npos) << ok.err;
  EXPECT_NE(ok.err.find("not for this pipeline:"), std::string::npos) << ok.err;

  TempDir dir;
  dir.write("rules/good.yml", "title: Good\nid: good\nlogsource: {product: windows}\ndetection:\n  sel: {A: x}\n  condition: sel\n");
  dir.write("rules/bad.yml",
            "title: Bad\nid: bad-1\nlogsource: {product: windows}\ndetection:\n  sel:\n    A|re: '(?<=x)y'\n  condition: sel\n");
  const std::string topo = "sources:\n  s: {type: stdin}\noperators:\n  p: {type: json_parse, inputs: [s], fields: all}\n"
                           "  sg: {type: sigma, inputs: [p], rules: rules, pipeline: none STRICT}\nsinks:\n  o: {type: stdout, inputs: [sg]}\n";
  std::string lenient_text = topo;
  lenient_text.erase(lenient_text.find(" STRICT"), 7);
  auto lenient = dir.write("lenient.yaml", lenient_text);
  auto v = run_socstream("validate " + lenient.string());
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_NE(v.err.find("1 rule(s) loaded"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("regex_refused (1)"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("bad.yml:6:"), std::string::npos) << "file:line:col of the pattern\n" << v.err;
  EXPECT_NE(v.err.find("rule 'bad-1' (Bad)"), std::string::npos) << v.err;
  auto strict = dir.write("strict.yaml", std::string(topo).replace(topo.find(" STRICT"), 7, ", strict: true"));
  auto s = run_socstream("validate " + strict.string());
  EXPECT_EQ(s.exit_code, 1) << s.err;
  EXPECT_NE(s.err.find("bad.yml:6:"), std::string::npos) << s.err;
  std::string none_text = lenient_text;
  none_text.replace(none_text.find("rules: rules"), 12, "rules: nowhere/*.yml");
  auto none = dir.write("none.yaml", none_text);
  auto n = run_socstream("validate " + none.string());
  EXPECT_EQ(n.exit_code, 1) << "no rule at all is an error";
  EXPECT_NE(n.err.find("no rule loaded"), std::string::npos) << n.err;
}

TEST(SigmaE2E, WinlogbeatDocumentsFireThroughTheEcsPipeline) {
  // Documents in the shape Winlogbeat 8's sysmon and security modules write
  // (tests/data/sigma/README.md says how they were made), not converted by
  // scripts/sigma_shapes.py: the ecs pipeline is checked against Winlogbeat's
  // layout, not against a converter written to invert the pipeline.
  const auto input = source_dir() / "tests/data/sigma/winlogbeat-ecs.jsonl";
  const std::string text = read_file(input);
  std::map<int64_t, size_t> line_at;
  int64_t offset = 0;
  size_t n = 0;
  for (const auto& l : lines_of(text)) {
    line_at[offset] = n++;
    offset += static_cast<int64_t>(l.size()) + 1;
  }
  ASSERT_EQ(n, 5u);
  TempDir dir;
  auto run = [&](const std::string& pipeline, std::vector<std::string>* alerts) {
    auto r = run_socstream("run " + (source_dir() / "config/sigma-windows.yaml").string(),
                           "SOCSTREAM_INPUT=" + input.string() + " SOCSTREAM_SIGMA_PIPELINE=" + pipeline +
                               " SOCSTREAM_DLQ=" + (dir.path() / (pipeline + ".dlq.jsonl")).string());
    EXPECT_EQ(r.exit_code, 0) << pipeline << ": " << r.err;
    EXPECT_TRUE(read_file(dir.path() / (pipeline + ".dlq.jsonl")).empty()) << "every document parses";
    std::vector<std::set<std::string>> fired(n);
    simdjson::dom::parser p;
    for (const auto& l : lines_of(r.out)) {
      simdjson::dom::element a;
      if (p.parse(l).get(a) != simdjson::SUCCESS) {
        ADD_FAILURE() << l;
        continue;
      }
      fired.at(line_at.at(int64_t(a["socstream"]["source"]["offset"])))
          .insert(std::string(std::string_view(a["socstream"]["rules"].at(0)["id"])));
      if (alerts) alerts->push_back(l);
    }
    return fired;
  };
  const std::string comsvcs = "646ea171-dded-4578-8a4d-65e9822892e3";   // Process Memory Dump Via Comsvcs.DLL
  const std::string whoami_priv = "97a80ec7-0e2f-4d05-9ef4-65760e634f6b";  // Security Privileges Enumeration Via Whoami.EXE
  const std::string eventlog = "cc36992a-4671-4f21-a91d-6c2b72a2edf5";  // Suspicious Eventlog Clearing or Configuration Change
  std::vector<std::string> alerts;
  auto ecs = run("ecs", &alerts);
  EXPECT_TRUE(ecs[0].count(comsvcs)) << "Sysmon 1: process.executable and process.command_line";
  EXPECT_TRUE(ecs[1].count(whoami_priv)) << "a renamed whoami, known by process.pe.original_file_name only";
  EXPECT_TRUE(ecs[2].empty()) << "notepad opening a file fires nothing";
  EXPECT_TRUE(ecs[3].count(eventlog)) << "Security 4688: NewProcessName moved to process.executable";
  EXPECT_FALSE(ecs[4].count(eventlog)) << "the rule's msiexec filter reads the parent at process.parent.executable";
  ASSERT_FALSE(alerts.empty());
  expect_schema_valid(alerts, "config/sigma-windows.yaml, Winlogbeat documents");
  simdjson::dom::parser p;
  simdjson::dom::element a;
  ASSERT_EQ(p.parse(alerts.front()).get(a), simdjson::SUCCESS);
  EXPECT_FALSE(std::string_view(a["host"]["name"]).empty()) << "the document's ECS fields stay where Winlogbeat put them";
  EXPECT_FALSE(std::string_view(a["process"]["command_line"]).empty());
  // The shape is what the pipeline reads: through nxlog's flat names these documents fire none of those rules.
  auto flat = run("nxlog", nullptr);
  for (const auto& f : flat)
    for (const auto& id : {comsvcs, whoami_priv, eventlog}) EXPECT_FALSE(f.count(id)) << id;
}

TEST(SigmaE2E, ValidateListsEveryRefusedRule) {
  // More refusals than the start-up log line shows: validate lists each one, under its reason.
  TempDir dir;
  std::string modifiers, regexes;
  for (int i = 0; i < 40; ++i)
    modifiers += (i ? "---\n" : "") + std::string("title: Bad modifier ") + std::to_string(i) + "\nid: mod-" + std::to_string(i) +
                 "\nlogsource: {product: windows}\ndetection:\n  sel: {A|bogus: x}\n  condition: sel\n";
  for (int i = 0; i < 20; ++i)
    regexes += (i ? "---\n" : "") + std::string("title: Bad regex ") + std::to_string(i) + "\nid: re-" + std::to_string(i) +
               "\nlogsource: {product: windows}\ndetection:\n  sel: {A|re: '(?<=x)y'}\n  condition: sel\n";
  dir.write("rules/modifiers.yml", modifiers);
  dir.write("rules/regexes.yml", regexes);
  dir.write("rules/good.yml", "title: Good\nid: good\nlogsource: {product: windows}\ndetection:\n  sel: {A: x}\n  condition: sel\n");
  auto topo = dir.write("t.yaml", "sources:\n  s: {type: stdin}\noperators:\n  p: {type: json_parse, inputs: [s], fields: all}\n"
                                  "  sg: {type: sigma, inputs: [p], rules: rules, pipeline: none}\nsinks:\n  o: {type: stdout, inputs: [sg]}\n");
  auto v = run_socstream("validate " + topo.string());
  ASSERT_EQ(v.exit_code, 0) << v.err;
  EXPECT_NE(v.err.find("60 refused"), std::string::npos) << v.err;
  EXPECT_EQ(v.err.find("more not listed"), std::string::npos) << v.err;
  const size_t mods = v.err.find("\n  unknown_modifier (40):"), res = v.err.find("\n  regex_refused (20):");
  ASSERT_NE(mods, std::string::npos) << v.err;
  ASSERT_NE(res, std::string::npos) << v.err;
  for (int i = 0; i < 40; ++i) {
    const size_t at = v.err.find("rule 'mod-" + std::to_string(i) + "' (Bad modifier " + std::to_string(i) + "): unknown_modifier");
    ASSERT_NE(at, std::string::npos) << "mod-" << i << "\n" << v.err;
    EXPECT_GT(at, mods) << "listed under its reason";
    const size_t line_start = v.err.rfind('\n', at);
    EXPECT_NE(v.err.substr(line_start, at - line_start).find("modifiers.yml:" + std::to_string(7 * i + 5) + ":"),
              std::string::npos)
        << "with its line: " << v.err.substr(line_start, at - line_start);
  }
  for (int i = 0; i < 20; ++i) {
    const size_t at = v.err.find("rule 're-" + std::to_string(i) + "' (Bad regex " + std::to_string(i) + "): regex_refused");
    ASSERT_NE(at, std::string::npos) << "re-" << i << "\n" << v.err;
    EXPECT_GT(at, res) << "listed under its reason";
  }
}

TEST(SigmaE2E, SameMatchesInEveryShape) {
  // The bundled sample as NXLog ships it, and converted (scripts/sigma_shapes.py)
  // into EVTX-as-JSON and Winlogbeat's ECS: each through its pipeline must fire
  // the same rules on the same events.
  TempDir dir;
  const auto sample = source_dir() / "config/samples/windows-events.jsonl";
  std::map<std::string, std::set<std::pair<size_t, std::string>>> by_shape;
  for (const std::string shape : {"nxlog", "evtx_json", "ecs"}) {
    fs::path input = sample;
    if (shape != "nxlog") {
      input = dir.path() / (shape + ".jsonl");
      auto c = run_command("python3 " + (source_dir() / "scripts/sigma_shapes.py").string() + " --to " + shape + " < " +
                           sample.string() + " > " + input.string());
      ASSERT_EQ(c.exit_code, 0) << c.err;
    }
    // The bundled topology, told the input and its shape.
    auto r = run_socstream("run " + (source_dir() / "config/sigma-windows.yaml").string(),
                           "SOCSTREAM_INPUT=" + input.string() + " SOCSTREAM_SIGMA_PIPELINE=" + shape +
                               " SOCSTREAM_DLQ=" + (dir.path() / (shape + ".dlq.jsonl")).string());
    ASSERT_EQ(r.exit_code, 0) << shape << ": " << r.err;
    const auto alerts = lines_of(r.out);
    std::map<int64_t, size_t> line_at;
    int64_t offset = 0;
    size_t n = 0;
    std::string text = read_file(input);
    for (size_t at = 0; at < text.size();) {
      size_t end = text.find('\n', at);
      line_at[offset] = n++;
      offset += static_cast<int64_t>(end - at + 1);
      at = end + 1;
    }
    simdjson::dom::parser p;
    std::set<std::string> hosts, commands;
    for (const auto& l : alerts) {
      simdjson::dom::element a;
      ASSERT_EQ(p.parse(l).get(a), simdjson::SUCCESS);
      by_shape[shape].emplace(line_at.at(int64_t(a["socstream"]["source"]["offset"])),
                              std::string(std::string_view(a["socstream"]["rules"].at(0)["id"])));
      std::string_view v;
      if (a["host"]["name"].get(v) == simdjson::SUCCESS) hosts.insert(std::string(v));
      if (a["process"]["command_line"].get(v) == simdjson::SUCCESS) commands.insert(std::string(v));
    }
    // Whatever the shape, the ECS fields a SIEM groups on are where ECS puts them.
    EXPECT_GT(hosts.size(), 1u) << shape;
    EXPECT_GT(commands.size(), 10u) << shape;
    expect_schema_valid(alerts, "config/sigma-windows.yaml, " + shape + " events");
  }
  EXPECT_GT(by_shape["nxlog"].size(), 150u);
  EXPECT_EQ(by_shape["evtx_json"], by_shape["nxlog"]);
  EXPECT_EQ(by_shape["ecs"], by_shape["nxlog"]);
}
