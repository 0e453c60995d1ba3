// `socstream test`: the bundled topologies pass their cases (config/cases),
// a failing case fails the command with a readable diff and a JUnit report,
// a bad cases file is refused with file:line:col, and no case touches
// learning state on disk.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "tests/support/test_support.hpp"

using namespace socstream::testing;
namespace fs = std::filesystem;

namespace {

// The JUnit report as python3's xml.etree reads it (a real XML parser):
// "tests failures errors" of the suite, then per test case its name and, if
// it failed, the failure's message, one a line.
std::string junit_summary(const fs::path& report) {
  const std::string script =
      "import sys, xml.etree.ElementTree as E\n"
      "root = E.parse(sys.argv[1]).getroot()\n"
      "s = root.find('testsuite')\n"
      "print(s.get('tests'), s.get('failures'), s.get('errors'))\n"
      "for c in s.findall('testcase'):\n"
      "    f = c.find('failure')\n"
      "    if f is None: f = c.find('error')\n"
      "    print(c.get('name'), '|', '' if f is None else f.tag + ': ' + f.get('message') + ' || ' + (f.text or ''))\n";
  TempDir dir;
  const auto py = dir.write("junit.py", script);
  auto r = run_command("python3 " + py.string() + " " + report.string());
  EXPECT_EQ(r.exit_code, 0) << "not valid JUnit XML: " << r.err;
  return r.out;
}

std::vector<std::string> bundled_topologies() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(source_dir() / "config"))
    if (e.path().extension() == ".yaml") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

// A small topology without a model, so these tests take a fraction of a second.
const char* kRulesTopology = R"(sources:
  in: {type: stdin}
operators:
  parse: {type: json_parse, inputs: [in], fields: {url.query: /url/query, source.ip: /source/ip}}
  suspect: {type: regex_prefilter, inputs: [parse], field: url.query, transforms: [query_values, url_decode], rules: RULES}
  alerts: {type: alert, inputs: [suspect.match], detector: web-rules}
sinks:
  out: {type: stdout, inputs: [alerts]}
  dead: {type: file, inputs: [parse.dlq], path: dead.jsonl}
)";

std::string rules_topology() {
  std::string t = kRulesTopology;
  t.replace(t.find("RULES"), 5, (source_dir() / "config/rules/web.yaml").string());
  return t;
}

}  // namespace

class CasesBundled : public ::testing::TestWithParam<std::string> {};

// What ctest runs for each bundled topology: socstream test with its cases.
TEST_P(CasesBundled, PassesItsCases) {
  const std::string name = GetParam();
  const auto topology = source_dir() / "config" / (name + ".yaml");
  const auto cases = source_dir() / "config/cases" / (name + ".yaml");
  ASSERT_TRUE(fs::exists(cases)) << "no cases for " << topology << ": add " << cases;
  TempDir dir;
  const auto report = dir.path() / "junit.xml";
  auto r = run_socstream("test " + topology.string() + " --cases " + cases.string() + " --junit " + report.string());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(" cases passed ("), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  const std::string summary = junit_summary(report);
  EXPECT_NE(summary.find(" 0 0\n"), std::string::npos) << summary;
  // Positive and negative cases in every file: something alerts, something does not.
  const std::string text = read_file(cases);
  EXPECT_NE(text.find(": []"), std::string::npos) << cases << ": no case where an output stays empty";
  EXPECT_NE(text.find("reason"), std::string::npos) << cases << ": no case for a dead letter's reason";
}

INSTANTIATE_TEST_SUITE_P(Config, CasesBundled, ::testing::ValuesIn(bundled_topologies()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string n = p.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(Cases, AFailingCaseExitsOneWithADiffAndAJUnitFailure) {
  TempDir dir;
  const auto topology = dir.write("t.yaml", rules_topology());
  const auto cases = dir.write("cases.yaml", R"(cases:
  - name: passes
    inputs:
      - {source: in, events: [{"url": {"query": "id=1 UNION SELECT password FROM users"}, "source": {"ip": "10.0.0.1"}}]}
    expect:
      alerts:
        - {event.kind: alert, rule.id: sqli-union-select, source.ip: 10.0.0.1}
  - name: wrong rule & a field that is there
    inputs:
      - {source: in, events: [{"url": {"query": "id=1 UNION SELECT password FROM users"}, "source": {"ip": "10.0.0.1"}}]}
    expect:
      alerts:
        - {rule.id: sqli-tautology, source.ip: {exists: false}, socstream.source.offset: 0}
  - name: one dead letter expected, none comes
    inputs:
      - {source: in, events: [{"url": {"query": "q=shoes"}}]}
    expect:
      dead: [{error.reason: invalid_json}]
      alerts: []
)");
  const auto report = dir.path() / "report.xml";
  auto r = run_socstream("test " + topology.string() + " --cases " + cases.string() + " --junit " + report.string());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("ok    1/3 passes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL  2/3 wrong rule & a field that is there"), std::string::npos) << r.out;
  // Per field: which, expected against actual, and where the expectation is written.
  EXPECT_NE(r.out.find("alerts: event 1 of 1 differs from the expected one at " + cases.string() + ":13:11"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rule.id: expected \"sqli-tautology\", got \"sqli-union-select\"   (" + cases.string() + ":13:21)"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("source.ip: expected absent, got \"10.0.0.1\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("socstream.source.offset: expected"), std::string::npos) << "that field matched: " << r.out;
  // And the event in full.
  EXPECT_NE(r.out.find("the event: {\"@timestamp\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"rule\":{"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL  3/3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("dead: expected 1 event, got 0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("expected 1 (" + cases.string() + ":18:14) did not come: {error.reason: \"invalid_json\"}"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 of 3 cases passed, 2 failed"), std::string::npos) << r.out;

  const std::string junit = junit_summary(report);
  EXPECT_EQ(junit.substr(0, junit.find('\n')), "3 2 0") << junit;
  EXPECT_NE(junit.find("passes | \n"), std::string::npos) << junit;
  EXPECT_NE(junit.find("wrong rule & a field that is there | failure: alerts event 1: rule.id: expected "
                       "\"sqli-tautology\", got \"sqli-union-select\" || "),
            std::string::npos) << junit;
  EXPECT_NE(junit.find("one dead letter expected, none comes | failure: dead: expected 1 event, got 0"), std::string::npos)
      << junit;
}

TEST(Cases, ABadCasesFileIsRefusedWithFileLineAndColumn) {
  TempDir dir;
  const auto topology = dir.write("t.yaml", rules_topology());
  const auto cases = dir.write("cases.yaml", R"(cases:
  - name: typos
    inputs:
      - {source: ni, events: [{a: 1}]}
      - {at: in, events: [{a: 1}]}
      - {source: in, event: [{a: 1}]}
    expect:
      suspect.nomach: []
      out.dlq: []
      alerts: [{score: {gte: high}}]
      nowhere: {count: 1}
  - name: typos
    inputs: []
    expect: {alerts: [], alerts: []}
)");
  const auto report = dir.path() / "report.xml";
  auto r = run_socstream("test " + topology.string() + " --cases " + cases.string() + " --junit " + report.string());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const std::string f = cases.string();
  for (const std::string& want : {
           f + ":4:18: error: 'ni' names no source of " + topology.string() + "; did you mean 'in'?",
           f + ":5:14: error: 'at:' names an operator, and 'in' is a source: write 'source: in'",
           f + ":6:22: error: case 1 'typos', input 3: unknown key 'event'; did you mean 'events'?",
           f + ":8:7: error: 'suspect.nomach': 'suspect' has no output 'nomach'; did you mean 'suspect.nomatch'?",
           f + ":9:7: error: 'out.dlq': sinks are replaced under test and never fail",
           f + ":10:30: error: 'gte': expected a number",
           f + ":11:7: error: 'nowhere' names no component of " + topology.string(),
           f + ":12:11: error: case 2 'typos': the name is already that of the case at " + f + ":2:11",
           f + ":13:13: error: case 2 'typos': 'inputs' is a non-empty list",
           f + ":14:26: error: case 2 'typos': expect 'alerts' is given twice",
       })
    EXPECT_NE(r.err.find(want), std::string::npos) << want << "\n" << r.err;
  EXPECT_EQ(r.out, "") << "no case runs from a bad file";
  // CI still gets a report, naming the first error.
  const std::string junit = junit_summary(report);
  EXPECT_EQ(junit.substr(0, junit.find('\n')), "1 0 1") << junit;
  EXPECT_NE(junit.find("error: " + f + ":"), std::string::npos) << junit;

  // A cases file that is not YAML, or has no cases.
  const auto broken = dir.write("broken.yaml", "cases:\n  - name: [\n");
  auto b = run_socstream("test " + topology.string() + " --cases " + broken.string());
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_NE(b.err.find(broken.string() + ":3:1: error: YAML syntax"), std::string::npos) << b.err;
  EXPECT_EQ(run_socstream("test " + topology.string()).exit_code, 64) << "--cases is required";
}

// Events enter at an operator's input with `at:`, carrying its name as their
// source; positions are the case's (stream case-N, offsets from 0), so alert
// ids are known in advance; outputs come in input order.
TEST(Cases, EventsEnterAtAnOperatorWithStablePositions) {
  TempDir dir;
  const auto topology = dir.write("t.yaml", rules_topology());
  const std::string attack = R"({"url": {"query": "q=<script>alert(1)</script>"}})";
  const auto cases = dir.write("cases.yaml", "cases:\n  - name: first\n    inputs: [{source: in, events: [" + attack +
                                                 "]}]\n    expect: {alerts: [{event.id: \"" +
                                                 expected_alert_id("web-rules", "in", "case-1", 0, 0, 0) +
                                                 "\"}]}\n  - name: at parse\n    inputs:\n      - at: parse\n"
                                                 "        lines: ['{\"url\":{\"query\":\"q=shoes\"}}', '" + attack + "', '" +
                                                 attack + "', 'not json']\n    expect:\n      alerts:\n        - {event.id: \"" +
                                                 expected_alert_id("web-rules", "parse", "case-2", 0, 1, 0) +
                                                 "\", socstream.source: {name: parse, stream: case-2, offset: 1}}\n"
                                                 "        - {event.id: \"" +
                                                 expected_alert_id("web-rules", "parse", "case-2", 0, 2, 0) +
                                                 "\", socstream.source.offset: 2}\n      dead:\n"
                                                 "        - {error.reason: invalid_json, raw: not json, source.offset: 3}\n");
  auto r = run_socstream("test " + topology.string() + " --cases " + cases.string());
  EXPECT_EQ(r.exit_code, 0) << read_file(cases) << r.out << r.err;
  EXPECT_NE(r.out.find("2 of 2 cases passed"), std::string::npos) << r.out;
}

// No case reads or writes an operator's learning state: a snapshot planted in
// snapshot_dir is not restored, nothing is written there, each case starts
// from an empty model, and a pinned version (state on disk) is refused.
TEST(Cases, LearningStateOnDiskIsNeitherReadNorWritten) {
  TempDir dir;
  const auto state = dir.path() / "state";
  fs::create_directories(state);
  const std::string planted = "not a snapshot, and restoring it would be logged as refused";
  dir.write("state/online-0000000007.snap", planted);
  const auto topology = dir.write("t.yaml", R"(sources:
  events: {type: stdin}
  feedback: {type: stdin}
operators:
  parse: {type: json_parse, inputs: [events], fields: {q: /q}}
  verdicts: {type: json_parse, inputs: [feedback], fields: {text: /text, label: /label}}
  online:
    type: online_classifier
    inputs: [parse, verdicts]
    feedback_sources: [feedback]
    labels: [norm, attack]
    field: q
    min_updates: 2
    snapshot_dir: state
    snapshot_every: 1
sinks:
  out: {type: stdout, inputs: [online]}
  dead: {type: stdout, inputs: [parse.dlq, verdicts.dlq, online.dlq]}
)");
  const auto cases = dir.write("cases.yaml", R"(cases:
  - name: verdicts first, then the event they taught about
    inputs:
      - source: feedback
        events:
          - {"text": "zqx-probe-1", "label": "attack"}
          - {"text": "madrid", "label": "norm"}
          - {"text": "zqx-probe-1", "label": "attack"}
      - source: events
        events: [{"q": "zqx-probe-1"}]
    expect:
      online: [{q: zqx-probe-1}]
      online.negative: []
  - name: the next case starts from an empty model again
    inputs:
      - source: events
        events: [{"q": "zqx-probe-1"}]
    expect:
      online: []
      online.negative: [{q: zqx-probe-1}]
)");
  auto r = run_socstream("--log-level info test " + topology.string() + " --cases " + cases.string());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err.find("snapshot refused"), std::string::npos) << "the planted snapshot was read: " << r.err;
  EXPECT_EQ(r.err.find("restored snapshot"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(", 0 snapshots (last 0)"), std::string::npos) << "a snapshot was written: " << r.err;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(state)) files.push_back(e.path().filename().string());
  EXPECT_EQ(files, std::vector<std::string>{"online-0000000007.snap"});
  EXPECT_EQ(read_file(state / "online-0000000007.snap"), planted);

  const auto pinned = dir.write("pinned.yaml", R"(sources:
  in: {type: stdin}
operators:
  parse: {type: json_parse, inputs: [in], fields: {q: /q}}
  classify:
    type: transformer
    inputs: [parse]
    model: MODEL
    field: q
    versions_dir: versions
    pin_version: 2
sinks:
  out: {type: stdout, inputs: [classify]}
)");
  std::string text = read_file(pinned);
  text.replace(text.find("MODEL"), 5, (source_dir() / "models/web-attack-classifier").string());
  dir.write("pinned.yaml", text);
  auto p = run_socstream("test " + pinned.string() + " --cases " + cases.string());
  EXPECT_EQ(p.exit_code, 1) << p.out << p.err;
  EXPECT_NE(p.err.find(pinned.string() + ":11:18: error: 'classify': pin_version serves a version saved in versions_dir"),
            std::string::npos) << p.err;
  EXPECT_FALSE(fs::exists(dir.path() / "versions"));
}
