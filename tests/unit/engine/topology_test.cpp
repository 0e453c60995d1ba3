// Every kind of topology error names the file, line and column.
#include <gtest/gtest.h>

#include "tests/support/test_support.hpp"

using namespace socstream;
using namespace socstream::testing;

namespace {

// The diagnostics as text, one error a line, file paths made relative.
std::string errors_of(const std::string& yaml, const TempDir& dir) {
  Diagnostics diag;
  auto topo = load_from_string(dir, yaml, diag);
  EXPECT_EQ(topo, nullptr);
  std::string s = diag.str();
  const std::string prefix = dir.path().string() + "/";
  for (size_t at; (at = s.find(prefix)) != std::string::npos;) s.erase(at, prefix.size());
  return s;
}

const char* kRules = "rules:\n  - id: r1\n    pattern: 'union\\s+select'\n    severity: high\n";

}  // namespace

TEST(Topology, ValidTopologyLoads) {
  TempDir dir;
  dir.write("rules.yaml", kRules);
  Diagnostics diag;
  auto topo = load_from_string(dir, R"(sources:
  in: {type: stdin}
operators:
  parse: {type: json_parse, inputs: [in], fields: {q: /q}}
  suspect: {type: regex_prefilter, inputs: [parse], field: q, rules: rules.yaml}
sinks:
  out: {type: stdout, inputs: [suspect.match, suspect.nomatch]}
  dlq: {type: stdout, inputs: [in.dlq, parse.dlq]}
)", diag);
  ASSERT_NE(topo, nullptr) << diag.str();
  EXPECT_EQ(topo->nodes.size(), 5u);
  const Node* out = topo->find("out");
  ASSERT_NE(out, nullptr);
  ASSERT_EQ(out->inputs.size(), 2u);
  EXPECT_EQ(topo->nodes[out->inputs[0].node].name, "suspect");
  EXPECT_EQ(out->inputs[0].port, 0u);  // match
  EXPECT_EQ(out->inputs[1].port, 1u);  // nomatch
}

TEST(Topology, UnknownKeyWithSuggestion) {
  TempDir dir;
  auto e = errors_of(R"(sources:
  in: {type: stdin}
operators:
  parse:
    type: json_parse
    inputs: [in]
    feilds: {q: /q}
sinks:
  out: {type: stdout, inputs: [parse]}
)", dir);
  EXPECT_NE(e.find("topology.yaml:7:5: error: 'parse': unknown key 'feilds'; did you mean 'fields'?"), std::string::npos) << e;
}

// Found by tests/fuzz/topology_fuzz: a component whose body is a scalar made
// the input check index it like a map, and yaml-cpp's exception aborted validate.
TEST(Topology, ComponentThatIsNotAMap) {
  TempDir dir;
  auto e = errors_of("sources:\n  in: {type: stdin}\noperators:\n  p: /q\nsinks:\n  out: {type: stdout, inputs: [p]}\n", dir);
  EXPECT_NE(e.find("topology.yaml:4:6: error: 'p': expected a map of settings with a 'type'"), std::string::npos) << e;
}

TEST(Topology, UnknownTopLevelKey) {
  TempDir dir;
  auto e = errors_of("sources:\n  in: {type: stdin}\nsink:\n  out: {type: stdout, inputs: [in]}\n", dir);
  EXPECT_NE(e.find("topology.yaml:3:1: error: unknown top-level key 'sink'; did you mean 'sinks'?"), std::string::npos) << e;
}

TEST(Topology, WrongType) {
  TempDir dir;
  auto e = errors_of(R"(sources:
  in:
    type: stdin
    batch_size: lots
operators:
  parse: {type: json_parse, inputs: [in], fields: [a, b]}
sinks:
  out: {type: stdout, inputs: [parse]}
)", dir);
  EXPECT_NE(e.find("topology.yaml:4:17: error: 'in': setting 'batch_size': expected an integer, got 'lots'"), std::string::npos) << e;
  EXPECT_NE(e.find("topology.yaml:6:51: error: 'parse': setting 'fields': expected 'all' or a map of field name -> JSON pointer"), std::string::npos) << e;
}

TEST(Topology, UnknownComponentType) {
  TempDir dir;
  auto e = errors_of(R"(sources:
  in: {type: stdin}
operators:
  parse: {type: json_prase, inputs: [in]}
sinks:
  out: {type: stdout, inputs: [parse]}
)", dir);
  EXPECT_NE(e.find("topology.yaml:4:17: error: 'parse': unknown operator type 'json_prase'; did you mean 'json_parse'?"), std::string::npos) << e;
  // The bad operator does not also make its consumer's input dangle.
  EXPECT_EQ(e.find("names no component"), std::string::npos) << e;
}

TEST(Topology, DanglingInputAndBadPort) {
  TempDir dir;
  dir.write("rules.yaml", kRules);
  auto e = errors_of(R"(sources:
  in: {type: stdin}
operators:
  suspect: {type: regex_prefilter, inputs: [in], field: q, rules: rules.yaml}
sinks:
  a: {type: stdout, inputs: [suspekt]}
  b: {type: stdout, inputs: [suspect.matches]}
  c: {type: stdout, inputs: [suspect]}
)", dir);
  EXPECT_NE(e.find("topology.yaml:6:30: error: 'a': input 'suspekt' names no component; did you mean 'suspect'?"), std::string::npos) << e;
  EXPECT_NE(e.find("topology.yaml:7:30: error: 'b': input 'suspect.matches': 'suspect' has no output 'matches'; its outputs are: suspect.match, suspect.nomatch, suspect.dlq"), std::string::npos) << e;
  EXPECT_NE(e.find("topology.yaml:8:30: error: 'c': input 'suspect': 'suspect' has no default output"), std::string::npos) << e;
}

TEST(Topology, Cycle) {
  TempDir dir;
  auto e = errors_of(R"(sources:
  in: {type: stdin}
operators:
  a: {type: json_parse, inputs: [in, c]}
  b: {type: json_parse, inputs: [a]}
  c: {type: json_parse, inputs: [b]}
sinks:
  out: {type: stdout, inputs: [c]}
)", dir);
  EXPECT_NE(e.find("makes a cycle"), std::string::npos) << e;
  EXPECT_NE(e.find("topology.yaml:5:34: error: 'b': input 'a' makes a cycle: a <- c <- b <- a"), std::string::npos) << e;
}

TEST(Topology, MissingRequiredSetting) {
  TempDir dir;
  auto e = errors_of(R"(sources:
  logs:
    type: file
    format: json
sinks:
  out: {type: stdout, inputs: [logs]}
)", dir);
  EXPECT_NE(e.find("topology.yaml:3:5: error: 'logs': missing required setting 'path' (the file to read)"), std::string::npos) << e;
}

TEST(Topology, EveryErrorIsListedNotJustTheFirst) {
  TempDir dir;
  auto e = errors_of(R"(sources:
  in: {type: stdin, colour: red}
operators:
  p: {type: nope, inputs: [in]}
sinks:
  out: {type: stdout, inputs: [ghost]}
)", dir);
  EXPECT_NE(e.find(":2:21: error: 'in': unknown key 'colour'"), std::string::npos) << e;
  EXPECT_NE(e.find(":4:13: error: 'p': unknown operator type 'nope'"), std::string::npos) << e;
  EXPECT_NE(e.find(":6:32: error: 'out': input 'ghost' names no component"), std::string::npos) << e;
}

TEST(Topology, YamlSyntaxError) {
  TempDir dir;
  auto e = errors_of("sources:\n  in: {type: stdin\nsinks: {}\n", dir);
  EXPECT_NE(e.find("topology.yaml:3:"), std::string::npos) << e;
  EXPECT_NE(e.find("YAML syntax"), std::string::npos) << e;
}

TEST(Topology, EnvironmentSubstitution) {
  TempDir dir;
  ::setenv("SOCSTREAM_TEST_BATCH", "77", 1);
  ::unsetenv("SOCSTREAM_TEST_UNSET");
  Diagnostics diag;
  auto topo = load_from_string(dir, R"(sources:
  in: {type: stdin, batch_size: "${SOCSTREAM_TEST_BATCH}", format: "${SOCSTREAM_TEST_UNSET:-lines}"}
sinks:
  out: {type: stdout, inputs: [in]}
)", diag);
  EXPECT_NE(topo, nullptr) << diag.str();
  auto e = errors_of(R"(sources:
  in: {type: stdin, format: "${SOCSTREAM_TEST_UNSET}"}
sinks:
  out: {type: stdout, inputs: [in]}
)", dir);
  EXPECT_NE(e.find("topology.yaml:2:29: error: 'in': environment variable SOCSTREAM_TEST_UNSET is not set"), std::string::npos) << e;
}

TEST(Topology, RuleThatDoesNotCompileNamesTheRuleAndItsLine) {
  TempDir dir;
  dir.write("bad-rules.yaml", R"(rules:
  - id: fine
    pattern: 'select'
  - id: broken-group
    pattern: 'union (select'
    severity: high
)");
  auto e = errors_of(R"(sources:
  in: {type: stdin}
operators:
  suspect: {type: regex_prefilter, inputs: [in], field: q, rules: bad-rules.yaml}
sinks:
  out: {type: stdout, inputs: [suspect.match]}
)", dir);
  EXPECT_NE(e.find("bad-rules.yaml:5:14: error: rule 'broken-group': pattern does not compile: missing ): union (select"), std::string::npos) << e;
}

TEST(Topology, BadRulesFileEntries) {
  TempDir dir;
  dir.write("rules.yaml", R"(rules:
  - id: a
    pattern: 'x'
    severity: extreme
  - id: a
    pattern: 'y'
  - pattern: 'z'
    sevrity: low
)");
  auto e = errors_of(R"(sources:
  in: {type: stdin}
operators:
  suspect: {type: regex_prefilter, inputs: [in], field: q, rules: rules.yaml}
sinks:
  out: {type: stdout, inputs: [suspect.match]}
)", dir);
  EXPECT_NE(e.find("rules.yaml:4:15: error: severity 'extreme' is not one of"), std::string::npos) << e;
  EXPECT_NE(e.find("rules.yaml:5:5: error: duplicate rule id 'a'"), std::string::npos) << e;
  EXPECT_NE(e.find("rules.yaml:8:5: error: unknown rule key 'sevrity'; did you mean 'severity'?"), std::string::npos) << e;
  EXPECT_NE(e.find("rules.yaml:7:5: error: rule without an 'id'"), std::string::npos) << e;
}

TEST(Topology, NoSourcesOrSinks) {
  TempDir dir;
  auto e = errors_of("operators: {}\n", dir);
  EXPECT_NE(e.find("the topology has no sources"), std::string::npos) << e;
  EXPECT_NE(e.find("the topology has no sinks"), std::string::npos) << e;
}

TEST(Topology, WorkersBuildInstancesOfParallelComponentsOnly) {
  TempDir dir;
  Diagnostics diag;
  auto topo = load_from_string(dir, R"(sources:
  in: {type: stdin}
operators:
  parse: {type: json_parse, inputs: [in], fields: {q: /q}, workers: 3}
  classify: {type: transformer, inputs: [parse], model: )" + (source_dir() / "models/web-attack-classifier").string() +
                                          R"(, field: q, workers: 2}
sinks:
  out: {type: stdout, inputs: [classify, classify.negative]}
)", diag);
  ASSERT_NE(topo, nullptr) << diag.str();
  EXPECT_EQ(topo->find("parse")->instances.size(), 3u);
  EXPECT_EQ(topo->find("classify")->instances.size(), 2u);
  auto e = errors_of(R"(sources:
  in: {type: stdin, workers: 2}
sinks:
  out: {type: stdout, inputs: [in]}
)", dir);
  EXPECT_NE(e.find("topology.yaml:2:21: error: 'in': unknown key 'workers'"), std::string::npos) << e;
}
