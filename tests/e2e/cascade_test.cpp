// Issue 15: a model placed after rules it was not made for. The bundled web
// model after Windows command-line rules (as a new user tried it, in the
// cascade's old confirm mode): `validate` says the model is outside its
// domain, where, and the rules' hits all alert, marked, instead of being
// vetoed by a model that calls every command line "norm".
#include <gtest/gtest.h>
#include <simdjson.h>

#include <sstream>

#include "tests/support/test_support.hpp"

using namespace socstream::testing;

TEST(Cascade, AWebModelAfterWindowsRulesVetoesNothingAndValidateSaysWhy) {
  TempDir dir;
  dir.write("windows.yaml", R"(rules:
  - id: vss-delete
    pattern: '(?i)vssadmin(\.exe)?\s+delete\s+shadows'
    severity: high
    tags: [attack.impact, attack.t1490]
  - id: lsass-dump
    pattern: '(?i)comsvcs(\.dll)?[, ]+#?(minidump|24)'
    severity: high
    tags: [attack.credential_access, attack.t1003.001]
  - id: encoded-powershell
    pattern: '(?i)powershell(\.exe)?\s.*-e(nc(odedcommand)?)?\s+[a-z0-9+/=]{20,}'
    severity: medium
    tags: [attack.execution, attack.t1059.001]
)");
  const std::string model = (source_dir() / "models/web-attack-classifier").string();
  dir.write("topology.yaml", R"(sources:
  events: {type: file, path: events.jsonl, format: json}
operators:
  parse: {type: json_parse, inputs: [events], fields: {process.command_line: /process/command_line}}
  suspect: {type: regex_prefilter, inputs: [parse], field: process.command_line, rules: windows.yaml}
  classify:
    type: transformer
    inputs: [suspect.match]
    model: )" + model + R"(
    field: process.command_line
    mode: confirm
  alerts: {type: alert, inputs: [classify], detector: windows}
sinks:
  out: {type: stdout, inputs: [alerts]}
)");
  dir.write("events.jsonl",
            R"({"process":{"command_line":"vssadmin.exe delete shadows /all /quiet"}})"
            "\n"
            R"({"process":{"command_line":"rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\temp\\lsass.dmp full"}})"
            "\n"
            R"({"process":{"command_line":"powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA"}})"
            "\n"
            R"({"process":{"command_line":"notepad.exe C:\\Users\\ana\\todo.txt"}})"
            "\n");
  const auto topology = (dir.path() / "topology.yaml").string();

  auto v = run_socstream("validate " + topology);
  EXPECT_EQ(v.exit_code, 0) << v.err;
  const std::string warning = topology + ":10:12: warning: 'classify': the field 'process.command_line' is outside the domain of "
                                         "web-attack-classifier (URL-decoded HTTP parameter values), made for: url.query, "
                                         "http.request.body.content; web-attack-classifier will veto none of the rules' hits";
  EXPECT_NE(v.err.find(warning), std::string::npos) << v.err;

  auto r = run_socstream("run " + topology);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("3 rule hits scored, 0 vetoed"), std::string::npos) << r.err;
  std::stringstream out(r.out);
  simdjson::dom::parser p;
  std::vector<std::string> docs, rules;
  size_t normal = 0, marked = 0;
  for (std::string l; std::getline(out, l);) {
    docs.push_back(l);
    simdjson::dom::element a = p.parse(l);
    rules.emplace_back(std::string_view(a["rule"]["id"]));
    // Where the model called it normal, the domain is why it alerted, and the alert says so.
    bool mark = false;
    const bool has_mark = a["socstream"]["fields"]["model_out_of_domain"].get(mark) == simdjson::SUCCESS && mark;
    marked += has_mark;
    if (std::string_view(a["socstream"]["model"]["label"]) != "norm") continue;
    ++normal;
    EXPECT_TRUE(has_mark) << l.substr(0, 400);
  }
  EXPECT_GE(normal, 1u) << "the web model calls at least one of these command lines normal: the veto this test is about";
  EXPECT_NE(r.err.find(std::to_string(marked) + " passed outside the model's domain"), std::string::npos) << r.err;
  EXPECT_EQ(rules, (std::vector<std::string>{"vss-delete", "lsass-dump", "encoded-powershell"}))
      << "every Windows detection alerts; the notepad line matched no rule";
  expect_schema_valid(docs, "out-of-domain alerts");
}
