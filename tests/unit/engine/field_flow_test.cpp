// validate's field-flow check: a field a component reads that nothing upstream
// gives is a warning at the position the name is written, with the fields that
// do reach it; fields named by the data (json_parse fields: all) silence it.
#include <gtest/gtest.h>

#include "tests/support/test_support.hpp"

using namespace socstream;
using namespace socstream::testing;

namespace {

const char* kRules = "rules:\n  - id: r1\n    pattern: 'union\\s+select'\n    severity: high\n";

// The warnings as text, file paths made relative; the topology must load.
std::string warnings_of(const std::string& yaml) {
  TempDir dir;
  dir.write("rules.yaml", kRules);
  Diagnostics diag;
  auto topo = load_from_string(dir, yaml, diag);
  EXPECT_NE(topo, nullptr) << diag.str();
  std::string s = diag.warnings_str();
  const std::string prefix = dir.path().string() + "/";
  for (size_t at; (at = s.find(prefix)) != std::string::npos;) s.erase(at, prefix.size());
  return s;
}

}  // namespace

TEST(FieldFlow, ATypoIsWarnedAtItsPositionWithWhatReachesIt) {
  auto w = warnings_of(R"(sources:
  in: {type: stdin}
operators:
  parse: {type: json_parse, inputs: [in], fields: {url.query: /q, source.ip: /ip}}
  suspect: {type: regex_prefilter, inputs: [parse], fields: [source.ip, url.qeury], rules: rules.yaml}
sinks:
  out: {type: stdout, inputs: [suspect.match]}
)");
  EXPECT_EQ(w, "topology.yaml:5:73: warning: 'suspect': no component upstream gives events the field 'url.qeury' "
               "(the field to match); upstream gives: source.ip, url.query; did you mean 'url.query'?\n");
}

TEST(FieldFlow, EventsWithNoParserAreToldToParseFirst) {
  auto w = warnings_of(R"(sources:
  in: {type: stdin}
operators:
  suspect: {type: regex_prefilter, inputs: [in], field: q, rules: rules.yaml}
sinks:
  out: {type: stdout, inputs: [suspect.match]}
)");
  EXPECT_NE(w.find("topology.yaml:4:57: warning: 'suspect': no component upstream gives events the field 'q'"),
            std::string::npos) << w;
  EXPECT_NE(w.find("parse them first"), std::string::npos) << w;
}

TEST(FieldFlow, ASinkKeyTheAlertsDoNotCarry) {
  const std::string head = R"(sources:
  in: {type: stdin}
operators:
  parse: {type: json_parse, inputs: [in], fields: {q: /q}}
  suspect: {type: regex_prefilter, inputs: [parse], field: q, rules: rules.yaml}
  alerts: {type: alert, inputs: [suspect.match]}
sinks:
)";
  auto w = warnings_of(head + "  k: {type: kafka, inputs: [alerts], brokers: 127.0.0.1:1, topic: t, key_field: event.id}\n");
  EXPECT_NE(w.find("topology.yaml:8:81: warning: 'k': no component upstream gives events the field 'event.id' (the "
                   "message key); upstream gives: alert_id, q"),
            std::string::npos) << w;
  EXPECT_EQ(warnings_of(head + "  k: {type: kafka, inputs: [alerts], brokers: 127.0.0.1:1, topic: t, key_field: alert_id}\n"),
            "");
  // The idempotent Redis sink reads alert_id unless told otherwise; events that never met an alert operator lack it.
  w = warnings_of(head + "  r: {type: redis, inputs: [suspect.match], key: s, idempotent: true}\n");
  EXPECT_NE(w.find("'r': no component upstream gives events the field 'alert_id' (the id written once)"),
            std::string::npos) << w;
  EXPECT_EQ(warnings_of(head + "  r: {type: redis, inputs: [alerts], key: s, idempotent: true}\n"), "");
}

TEST(FieldFlow, FieldsNamedByTheDataOrAParserAreTrusted) {
  // json_parse fields: all and key_value take their names from the data: anything may be there.
  EXPECT_EQ(warnings_of(R"(sources:
  in: {type: stdin}
operators:
  parse: {type: json_parse, inputs: [in], fields: all}
  suspect: {type: regex_prefilter, inputs: [parse], field: anything.at.all, rules: rules.yaml}
sinks:
  out: {type: stdout, inputs: [suspect.match]}
)"), "");
  EXPECT_EQ(warnings_of(R"(sources:
  in: {type: stdin, format: lines}
operators:
  kv: {type: parse, inputs: [in], format: key_value}
  suspect: {type: regex_prefilter, inputs: [kv], field: whatever, rules: rules.yaml}
sinks:
  out: {type: stdout, inputs: [suspect.match]}
)"), "");
  // A lines source gives message; nginx_combined its ECS names, a regex its groups, rename its targets.
  const std::string lines = R"(sources:
  in: {type: stdin, format: lines}
operators:
)";
  EXPECT_EQ(warnings_of(lines + R"(  a: {type: regex_prefilter, inputs: [in], field: message, rules: rules.yaml}
  p: {type: parse, inputs: [in], format: nginx_combined, rename: {url.query: query}}
  b: {type: regex_prefilter, inputs: [p], fields: [query, user_agent.original, message], rules: rules.yaml}
  r: {type: parse, inputs: [in], format: regex, pattern: '(?P<client__ip>\S+) (?P<verb>\S+)'}
  c: {type: regex_prefilter, inputs: [r], fields: [client.ip, verb], rules: rules.yaml}
sinks:
  out: {type: stdout, inputs: [a.match, b.match, c.match]}
)"), "");
  auto w = warnings_of(lines + R"(  p: {type: parse, inputs: [in], format: nginx_combined}
  b: {type: regex_prefilter, inputs: [p], field: url.qurey, rules: rules.yaml}
sinks:
  out: {type: stdout, inputs: [b.match]}
)");
  EXPECT_NE(w.find("did you mean 'url.query'?"), std::string::npos) << w;
  // A parser's time field may be one of its own.
  EXPECT_EQ(warnings_of(lines + R"(  p: {type: parse, inputs: [in], format: regex, pattern: '(?P<time>\S+) (?P<verb>\S+)', timestamp_field: time}
sinks:
  out: {type: stdout, inputs: [p]}
)"), "");
  w = warnings_of(lines + R"(  p: {type: parse, inputs: [in], format: regex, pattern: '(?P<time>\S+) (?P<verb>\S+)', timestamp_field: tiem}
sinks:
  out: {type: stdout, inputs: [p]}
)");
  EXPECT_NE(w.find("'p': no component upstream gives events the field 'tiem' (the log's time)"), std::string::npos) << w;
}

// Dead letters are raw bytes and a reason: a sink that reads an id or key from them finds none.
TEST(FieldFlow, DeadLettersCarryNoFields) {
  auto w = warnings_of(R"(sources:
  in: {type: stdin}
operators:
  parse: {type: json_parse, inputs: [in], fields: all}
  alerts: {type: alert, inputs: [parse]}
sinks:
  r: {type: redis, inputs: [alerts, parse.dlq], key: s, idempotent: true}
)");
  EXPECT_NE(w.find("topology.yaml:7:37: warning: 'r': dead letters from 'parse.dlq' carry no fields, so none has "
                   "'alert_id'"),
            std::string::npos) << w;
  // Downstream of the dead-letter port nothing is given, even after fields: all.
  w = warnings_of(R"(sources:
  in: {type: stdin}
operators:
  parse: {type: json_parse, inputs: [in], fields: all}
sinks:
  k: {type: kafka, inputs: [parse.dlq], brokers: 127.0.0.1:1, topic: t, key_field: source.ip}
)");
  EXPECT_NE(w.find("'k': no component upstream gives events the field 'source.ip'"), std::string::npos) << w;
}

// A rename of a field nothing gives does nothing; its target would then hide the typo downstream.
TEST(FieldFlow, ARenameOfNothingIsWarned) {
  auto w = warnings_of(R"(sources:
  in: {type: stdin, format: lines}
operators:
  p: {type: parse, inputs: [in], format: nginx_combined, rename: {url.qeury: query}}
sinks:
  out: {type: stdout, inputs: [p]}
)");
  EXPECT_NE(w.find("'p': no component upstream gives events the field 'url.qeury' (a field to rename)"),
            std::string::npos) << w;
  EXPECT_NE(w.find("did you mean 'url.query'?"), std::string::npos) << w;
}

