#include "operators/alert.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <deque>
#include <fstream>

#include "tests/support/test_support.hpp"
#include "tests/unit/operators/sigma_support.hpp"

using namespace socstream;
using namespace socstream::testing;

namespace {

Rule regex_rule(std::string id, Severity severity, std::vector<std::string> tags) {
  Rule r;
  r.id = std::move(id);
  r.severity = severity;
  r.tags = std::move(tags);
  return r;
}
std::unique_ptr<AlertOp> make(const std::string& settings, Diagnostics& diag) {
  YAML::Node n = YAML::Load(settings);
  Settings s(n, "alerts", "inline.yaml", ".", &diag);
  return std::make_unique<AlertOp>(s);
}

// What the operator emits on its default port for one input batch.
Batch process(AlertOp& op, Batch&& in) {
  static const std::string name = "alerts";
  Outputs out(&name, op.output_ports());
  Channel ch(10, 1 << 20);
  out.connect(0, &ch);
  op.process(std::move(in), out);
  Batch got;
  EXPECT_EQ(ch.pop(got, Clock::now()), Channel::Pop::Item);
  return got;
}
}  // namespace

TEST(Alert, IdIsDeterministicAndDependsOnPositionAndDetector) {
  std::string src = "access", other = "other";
  SourcePos a{&src, 0, 100, {}}, b{&src, 0, 101, {}}, c{&other, 0, 100, {}}, d{&src, 1, 100, {}};
  EXPECT_EQ(AlertOp::alert_id("web", a), AlertOp::alert_id("web", a));
  EXPECT_EQ(AlertOp::alert_id("web", a).size(), 32u);
  EXPECT_NE(AlertOp::alert_id("web", a), AlertOp::alert_id("web", b));
  EXPECT_NE(AlertOp::alert_id("web", a), AlertOp::alert_id("web", c));
  EXPECT_NE(AlertOp::alert_id("web", a), AlertOp::alert_id("web", d));
  EXPECT_NE(AlertOp::alert_id("web", a), AlertOp::alert_id("dns", a));
  SourcePos other_topic = a;
  other_topic.stream = "another-topic";
  EXPECT_NE(AlertOp::alert_id("web", a), AlertOp::alert_id("web", other_topic)) << "same position, other topic";
  SourcePos again = a;
  again.origin = 7;
  EXPECT_NE(AlertOp::alert_id("web", a), AlertOp::alert_id("web", again))
      << "the same position in another instance of the stream (a rotated file, a re-created topic)";
  EXPECT_NE(AlertOp::alert_id("web", a, "rule-1"), AlertOp::alert_id("web", a, "rule-2"));
  EXPECT_EQ(AlertOp::alert_id("web", a), socstream::testing::expected_alert_id("web", "access", "", 0, 100, 0));
  EXPECT_EQ(AlertOp::alert_id("web", again, "r"), socstream::testing::expected_alert_id("web", "access", "", 0, 100, 7, "r"));
  // The documented reference implementation (scripts/alert_id.py), as a consumer would run it.
  auto py = socstream::testing::run_command("python3 " + (socstream::testing::source_dir() / "scripts/alert_id.py").string() +
                                            " web access '' 0 100 7 r");
  ASSERT_EQ(py.exit_code, 0) << py.err;
  EXPECT_EQ(py.out, AlertOp::alert_id("web", again, "r") + "\n");
}

TEST(Alert, RendersAnEcsAlert) {
  Diagnostics diag;
  auto op = make("{detector: web, fields: [timestamp, source.ip, http.response.status_code, note]}", diag);
  ASSERT_TRUE(diag.ok()) << diag.str();
  Rule r1 = regex_rule("sqli-union", Severity::Medium, {"sqli", "T1190"});
  r1.description = "UNION-based SQL injection";
  r1.ruleset = "web";
  Rule r2 = regex_rule("xss", Severity::Critical, {"T1059.007", "attack.execution"});
  std::string src = "access";
  Event e;
  e.pos = SourcePos{&src, 3, 42, {}};
  e.rules = {&r1, &r2};
  e.fields.push_back(Field{"timestamp", "2026-01-02T04:04:05+01:00"});
  e.fields.push_back(Field{"source.ip", "10.1.2.3"});
  e.fields.push_back(Field{"http.response.status_code", "404", ValueKind::Number});
  e.fields.push_back(Field{"note", "quote\" and \x01"});
  e.fields.push_back(Field{"secret", "not copied"});
  std::string doc;
  op->render(doc, e, "2026-11-21T00:00:00.000Z");
  simdjson::dom::parser p;
  simdjson::dom::element a;
  ASSERT_EQ(p.parse(doc).get(a), simdjson::SUCCESS) << doc;
  EXPECT_EQ(std::string_view(a["@timestamp"]), "2026-01-02T03:04:05.000Z") << "the event's own time, in UTC";
  EXPECT_EQ(std::string_view(a["event"]["kind"]), "alert");
  EXPECT_EQ(std::string_view(a["event"]["id"]), AlertOp::alert_id("web", e.pos));
  EXPECT_EQ(std::string_view(a["event"]["created"]), "2026-11-21T00:00:00.000Z");
  EXPECT_EQ(int64_t(a["event"]["severity"]), 5) << "the highest severity of the matched rules";
  EXPECT_EQ(int64_t(a["event"]["risk_score"]), 99);
  EXPECT_EQ(std::string_view(a["event"]["reason"]), "rules \"sqli-union\", \"xss\" matched");
  EXPECT_EQ(std::string_view(a["message"]), std::string_view(a["event"]["reason"])) << "no message of its own";
  EXPECT_EQ(std::string_view(a["rule"]["id"]), "xss") << "rule.* is the most severe rule";
  EXPECT_EQ(std::string_view(a["ecs"]["version"]), "9.4.0");
  EXPECT_EQ(std::string_view(a["threat"]["framework"]), "MITRE ATT&CK");
  EXPECT_EQ(std::string_view(a["threat"]["tactic"]["id"].at(0)), "TA0002");
  EXPECT_EQ(std::string_view(a["threat"]["technique"]["id"].at(0)), "T1190");
  EXPECT_EQ(std::string_view(a["threat"]["technique"]["name"].at(0)), "Exploit Public-Facing Application");
  EXPECT_EQ(std::string_view(a["threat"]["technique"]["id"].at(1)), "T1059") << "the sub-technique's parent";
  EXPECT_EQ(std::string_view(a["threat"]["technique"]["subtechnique"]["id"].at(0)), "T1059.007");
  EXPECT_EQ(std::string_view(a["threat"]["technique"]["subtechnique"]["name"].at(0)), "JavaScript");
  EXPECT_EQ(std::string_view(a["threat"]["technique"]["subtechnique"]["reference"].at(0)),
            "https://attack.mitre.org/techniques/T1059/007/");
  EXPECT_EQ(std::string_view(a["tags"].at(1)), "T1190");
  EXPECT_EQ(std::string_view(a["source"]["ip"]), "10.1.2.3") << "an ECS field at its ECS path";
  EXPECT_EQ(int64_t(a["http"]["response"]["status_code"]), 404);
  auto s = a["socstream"];
  EXPECT_EQ(std::string_view(s["detector"]), "web");
  EXPECT_EQ(std::string_view(s["severity"]), "critical");
  EXPECT_EQ(std::string_view(s["rules"].at(0)["id"]), "sqli-union");
  EXPECT_EQ(std::string_view(s["rules"].at(1)["severity"]), "critical");
  EXPECT_EQ(std::string_view(s["fields"]["note"]), "quote\" and \x01") << "no ECS path: kept under socstream";
  EXPECT_EQ(std::string_view(s["fields"]["timestamp"]), "2026-01-02T04:04:05+01:00");
  EXPECT_TRUE(s["fields"]["secret"].error()) << "only the configured fields are copied";
  EXPECT_EQ(std::string_view(s["source"]["name"]), "access");
  EXPECT_EQ(int64_t(s["source"]["partition"]), 3);
  EXPECT_EQ(int64_t(s["source"]["offset"]), 42);
  expect_schema_valid({doc}, "the unit test's alert");
}

// A Sigma rule as the Sigma compiler makes it, rendered per rule: what an
// analyst triages by (description, status, references, false positives, log
// source) reaches the alert, in socstream.rules and in ECS rule.*.
TEST(Alert, RendersASigmaRuleInFull) {
  SigmaRig sigma(R"(title: Whoami Execution
id: 929a690e-bef0-4204-a928-ef5e620d6fcc
status: test
description: Detects the execution of whoami
author: Florian Roth
date: 2018-08-13
modified: 2023-11-11
references:
    - https://example.com/whoami
    - https://example.com/more
falsepositives:
    - Admin activity
    - Scripts
level: high
tags: [attack.discovery, attack.t1033]
logsource: {category: process_creation, product: windows}
detection:
    sel: {Image|endswith: '\whoami.exe'}
    condition: sel
)");
  ASSERT_EQ(sigma.rules().rules().size(), 1u) << sigma.rules().summary();
  ASSERT_TRUE(sigma.hits(R"({"Image":"C:\\Windows\\System32\\whoami.exe"})"));
  const std::string matched = sigma.explain();
  Diagnostics diag;
  auto op = make("{detector: sigma, per_rule: true, field_map: windows}", diag);
  ASSERT_TRUE(diag.ok()) << diag.str();
  std::string src = "events";
  Event e;
  e.pos = SourcePos{&src, 0, 7, {}};
  e.rules = {&sigma.rules().rules()[0]};
  e.matched = {matched};
  e.fields.push_back(Field{"Image", "C:\\Windows\\System32\\whoami.exe"});
  std::string doc;
  op->render_rule(doc, e, 0, "2026-11-21T00:00:00.000Z");
  simdjson::dom::parser p;
  simdjson::dom::element a;
  ASSERT_EQ(p.parse(doc).get(a), simdjson::SUCCESS) << doc;
  auto strings = [](simdjson::dom::element list) {
    std::vector<std::string> out;
    for (auto v : simdjson::dom::array(list)) out.emplace_back(std::string_view(v));
    return out;
  };
  auto r = a["socstream"]["rules"].at(0);
  EXPECT_EQ(std::string_view(r["kind"]), "sigma");
  EXPECT_EQ(std::string_view(r["title"]), "Whoami Execution");
  EXPECT_EQ(std::string_view(r["status"]), "test");
  EXPECT_EQ(std::string_view(r["description"]), "Detects the execution of whoami");
  EXPECT_EQ(strings(r["references"]), (std::vector<std::string>{"https://example.com/whoami", "https://example.com/more"}));
  EXPECT_EQ(strings(r["falsepositives"]), (std::vector<std::string>{"Admin activity", "Scripts"}));
  EXPECT_EQ(std::string_view(r["logsource"]["product"]), "windows");
  EXPECT_EQ(std::string_view(r["logsource"]["category"]), "process_creation");
  EXPECT_EQ(std::string_view(r["logsource"]["service"]), "") << "every logsource part is there, empty when the rule has none";
  EXPECT_EQ(std::string_view(r["author"]), "Florian Roth");
  EXPECT_EQ(std::string_view(r["level"]), "high");
  EXPECT_EQ(std::string_view(r["severity"]), "high");
  EXPECT_EQ(std::string_view(r["threat"]["techniques"].at(0)["id"]), "T1033");
  EXPECT_EQ(std::string_view(r["matched"]["selections"].at(0)), "sel");
  // ECS: the rule where a SIEM reads it.
  EXPECT_EQ(std::string_view(a["rule"]["name"]), "Whoami Execution");
  EXPECT_EQ(std::string_view(a["rule"]["uuid"]), "929a690e-bef0-4204-a928-ef5e620d6fcc");
  EXPECT_EQ(std::string_view(a["rule"]["description"]), "Detects the execution of whoami");
  EXPECT_EQ(std::string_view(a["rule"]["reference"]), "https://example.com/whoami") << "ECS keeps one reference: the first";
  EXPECT_EQ(std::string_view(a["rule"]["category"]), "process_creation");
  EXPECT_EQ(std::string_view(a["rule"]["version"]), "2023-11-11") << "modified over date";
  EXPECT_EQ(std::string_view(a["event"]["id"]), AlertOp::alert_id("sigma", e.pos, "929a690e-bef0-4204-a928-ef5e620d6fcc"));
  EXPECT_EQ(std::string_view(a["process"]["executable"]), "C:\\Windows\\System32\\whoami.exe") << "field_map: windows";
  expect_schema_valid({doc}, "the unit test's Sigma alert");

  // A rule that says none of them still gives every key, so a consumer need not guess.
  SigmaRig bare("title: Bare\nid: bare\nlogsource: {product: windows}\ndetection:\n    sel: {A: x}\n    condition: sel\n");
  ASSERT_EQ(bare.rules().rules().size(), 1u);
  e.rules = {&bare.rules().rules()[0]};
  e.matched = {std::string_view()};
  doc.clear();
  op->render_rule(doc, e, 0, "2026-11-21T00:00:00.000Z");
  ASSERT_EQ(p.parse(doc).get(a), simdjson::SUCCESS) << doc;
  r = a["socstream"]["rules"].at(0);
  EXPECT_EQ(std::string_view(r["status"]), "");
  EXPECT_EQ(std::string_view(r["description"]), "");
  EXPECT_TRUE(strings(r["references"]).empty());
  EXPECT_TRUE(strings(r["falsepositives"]).empty());
  EXPECT_EQ(std::string_view(r["logsource"]["product"]), "windows");
  EXPECT_TRUE(a["rule"]["description"].error()) << "ECS rule.description only when there is one";
  expect_schema_valid({doc}, "the unit test's bare Sigma alert");
}

TEST(Alert, PlacesOnlyWhatFitsAndNeverWhatTheAlertOwns) {
  Diagnostics diag;
  auto op = make("{detector: win, field_map: windows, ecs_fields: {Team: labels.team}, original: true}", diag);
  ASSERT_TRUE(diag.ok()) << diag.str();
  Rule r = regex_rule("r", Severity::Low, {});
  std::string src = "events";
  Event e;
  e.pos = SourcePos{&src, 0, 7, {}};
  e.rules = {&r};
  e.raw = "{\"the\": \"original\"}";
  const Field fields[] = {
      {"@timestamp", "yesterday"},                       // not a time: the alert's time is its creation
      {"ProcessId", "0x1fc"},                            // Security's hex pid fits process.pid as 508
      {"Event.EventData.CommandLine", "cmd /c whoami"},  // EVTX JSON, the prefix stripped
      {"IpAddress", "-"},                                // not an address: stays where it was
      {"User", "NT AUTHORITY\\SYSTEM"},
      {"SubjectUserName", "bob"},  // user.name again: the first one wins
      {"event.kind", "event"},     // the alert's own: an event cannot pose as it
      {"rule.name", "benign"},
      {"socstream.severity", "info"},
      {"source.port", "65536x"},
      {"Team", "blue"},
      {"labels.env", "prod"},
      {"registry.data.strings", "[\"a\",\"b\"]", ValueKind::Json},
      {"process.args", "[1,2]", ValueKind::Json},  // not strings: not a keyword array
  };
  for (const auto& f : fields) e.fields.push_back(f);
  std::string doc;
  op->render(doc, e, "2026-11-21T00:00:00.000Z");
  simdjson::dom::parser p;
  simdjson::dom::element a;
  ASSERT_EQ(p.parse(doc).get(a), simdjson::SUCCESS) << doc;
  EXPECT_EQ(std::string_view(a["@timestamp"]), "2026-11-21T00:00:00.000Z");
  EXPECT_EQ(int64_t(a["process"]["pid"]), 508);
  EXPECT_EQ(std::string_view(a["process"]["command_line"]), "cmd /c whoami");
  EXPECT_EQ(std::string_view(a["user"]["name"]), "NT AUTHORITY\\SYSTEM");
  EXPECT_EQ(std::string_view(a["event"]["kind"]), "alert");
  EXPECT_EQ(std::string_view(a["rule"]["name"]), "r");
  EXPECT_EQ(std::string_view(a["labels"]["team"]), "blue");
  EXPECT_EQ(std::string_view(a["labels"]["env"]), "prod");
  EXPECT_EQ(std::string_view(a["registry"]["data"]["strings"].at(1)), "b");
  EXPECT_EQ(std::string_view(a["event"]["original"]), "{\"the\": \"original\"}");
  auto kept = a["socstream"]["fields"];
  EXPECT_EQ(std::string_view(kept["@timestamp"]), "yesterday");
  EXPECT_EQ(std::string_view(kept["IpAddress"]), "-");
  EXPECT_EQ(std::string_view(kept["SubjectUserName"]), "bob");
  EXPECT_EQ(std::string_view(kept["event.kind"]), "event");
  EXPECT_EQ(std::string_view(kept["rule.name"]), "benign");
  EXPECT_EQ(std::string_view(kept["socstream.severity"]), "info");
  EXPECT_EQ(std::string_view(kept["source.port"]), "65536x");
  EXPECT_EQ(std::string(simdjson::minify(kept["process.args"])), "[1,2]");
  EXPECT_TRUE(a["source"].error()) << "nothing of source fitted";
  expect_schema_valid({doc}, "the unit test's alert");
}

TEST(Alert, FieldMapsAreCheckedAtLoad) {
  TempDir dir;
  {
    std::ofstream f(dir.path() / "map.yaml");
    f << "fields:\n  Image: process.executable\n  CommandLine: process.commandline\n";
  }
  Diagnostics diag;
  YAML::Node n = YAML::Load("{field_map: map.yaml, ecs_fields: {x: url.queryy}}");
  Settings s(n, "alerts", "inline.yaml", dir.path(), &diag);
  AlertOp op(s);
  const std::string out = diag.str();
  EXPECT_NE(out.find("map.yaml:3:16: error: 'process.commandline' is not an ECS field"), std::string::npos) << out;
  EXPECT_NE(out.find("'url.queryy' is not an ECS field"), std::string::npos) << out;
  Diagnostics d2;
  YAML::Node m = YAML::Load("{field_map: windowz}");
  Settings s2(m, "alerts", "inline.yaml", dir.path(), &d2);
  AlertOp op2(s2);
  EXPECT_NE(d2.str().find("inline.yaml:1:13: error: 'windowz' is not a built-in field map (windows)"), std::string::npos)
      << d2.str();
}

// The alert's Windows map and the Sigma ECS pipeline say where Winlogbeat puts
// a field; where both name an ECS field for one Sigma name, they agree.
TEST(Alert, WindowsMapAgreesWithTheSigmaEcsPipeline) {
  YAML::Node map = YAML::LoadFile((source_dir() / "config/ecs/maps/windows.yaml").string())["fields"];
  YAML::Node pipeline = YAML::LoadFile((source_dir() / "config/sigma/pipelines/ecs.yaml").string())["fields"];
  size_t compared = 0;
  for (const auto& kv : pipeline) {
    const std::string name = kv.first.as<std::string>();
    if (!kv.second.IsScalar() || !map[name]) continue;
    const std::string target = kv.second.as<std::string>();
    if (!alert::EcsSchema::builtin().find(target)) continue;  // winlog.*: not ECS, not placed by the map
    EXPECT_EQ(map[name].as<std::string>(), target) << name;
    ++compared;
  }
  EXPECT_GT(compared, 20u);
}

TEST(Alert, MinSeverityDropsAndCompletes) {
  Diagnostics diag;
  auto op = make("{min_severity: high}", diag);
  ASSERT_TRUE(diag.ok()) << diag.str();
  struct Token final : AckToken {
    int* calls;
    bool* ok;
    Token(int* c, bool* o) : calls(c), ok(o) {}
    void on_done(bool all) override {
      ++*calls;
      *ok = all;
    }
  };
  int calls = 0;
  bool ok = false;
  auto* t = new Token(&calls, &ok);
  t->set_pending(2);
  Rule low = regex_rule("low", Severity::Low, {}), high = regex_rule("high", Severity::High, {});
  std::string src = "s";
  Batch in;
  for (const Rule* r : {&low, &high}) {
    Event e;
    e.pos = SourcePos{&src, 0, static_cast<int64_t>(in.size()), {}};
    e.rules.push_back(r);
    e.ack = Ack(t);
    in.events.push_back(std::move(e));
  }
  Batch got = process(*op, std::move(in));
  ASSERT_EQ(got.size(), 1u) << "the low-severity detection is dropped";
  EXPECT_NE(got.events[0].raw.find("\"severity\":\"high\""), std::string_view::npos) << got.events[0].raw;
  EXPECT_EQ(calls, 0) << "the alert still in flight keeps the batch open";
  got.complete_all();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(ok) << "a dropped detection counts as completed, not lost";

  auto bad = make("{min_severity: urgent}", diag);
  EXPECT_NE(diag.str().find("'urgent' is not one of"), std::string::npos);
}

TEST(Alert, CarriesTheModelVerdictAndFiltersOnScore) {
  Diagnostics diag;
  auto op = make("{min_score: 0.8}", diag);
  ASSERT_TRUE(diag.ok()) << diag.str();
  Rule r = regex_rule("sqli-union", Severity::Low, {});
  std::string src = "s";
  Batch in;
  for (const char* score : {"0.950000", "0.700000"}) {
    Event e;
    e.pos = SourcePos{&src, 0, static_cast<int64_t>(in.size()), {}};
    e.rules.push_back(&r);
    e.fields.push_back(Field{"q", "1 or 1=1"});
    e.fields.push_back(Field{"label", "sqli"});
    e.fields.push_back(Field{"score", score, ValueKind::Number});
    e.fields.push_back(Field{"model", "web"});
    e.fields.push_back(Field{"model_version", "2", ValueKind::Number});
    e.scored = true;  // as a transformer leaves it
    in.events.push_back(std::move(e));
  }
  Batch got = process(*op, std::move(in));
  ASSERT_EQ(got.size(), 1u) << "the 0.7 verdict is below min_score";
  simdjson::dom::parser p;
  simdjson::dom::element a = p.parse(std::string(got.events[0].raw));
  auto s = a["socstream"];
  EXPECT_EQ(std::string_view(s["model"]["name"]), "web");
  EXPECT_EQ(int64_t(s["model"]["version"]), 2);
  EXPECT_EQ(std::string_view(s["model"]["label"]), "sqli");
  EXPECT_DOUBLE_EQ(double(s["model"]["score"]), 0.95);
  EXPECT_EQ(std::string_view(s["severity"]), "medium") << "the model's verdict raises a low rule to model_severity";
  EXPECT_EQ(int64_t(a["event"]["severity"]), 3);
  EXPECT_EQ(s["fields"]["label"].error(), simdjson::NO_SUCH_FIELD) << "the verdict is not repeated among the fields";
  EXPECT_EQ(std::string_view(s["fields"]["q"]), "1 or 1=1");
  EXPECT_NE(std::string_view(a["event"]["reason"]).find("model web labelled it sqli (score 0.950000)"), std::string_view::npos);
}

TEST(Alert, SaysWhatTheModelLeftUnscoredAndKeepsItWhateverTheScore) {
  Diagnostics diag;
  auto op = make("{min_score: 0.8}", diag);
  ASSERT_TRUE(diag.ok()) << diag.str();
  std::string src = "s";
  Batch in;
  Event e;
  e.pos = SourcePos{&src, 0, 0, {}};
  e.fields.push_back(Field{"q", "a=1&b=2"});
  e.fields.push_back(Field{"label", "norm"});
  e.fields.push_back(Field{"score", "0.600000", ValueKind::Number});
  e.fields.push_back(Field{"model", "web"});
  e.fields.push_back(Field{"model_version", "2", ValueKind::Number});
  e.fields.push_back(Field{"model_unscored", "40", ValueKind::Number});
  e.scored = true;
  in.events.push_back(std::move(e));
  Batch got = process(*op, std::move(in));
  ASSERT_EQ(got.size(), 1u) << "a verdict on part of the texts is no reason to drop the alert";
  simdjson::dom::parser p;
  simdjson::dom::element a = p.parse(std::string(got.events[0].raw));
  EXPECT_EQ(int64_t(a["socstream"]["model"]["unscored"]), 40);
  EXPECT_EQ(a["socstream"]["fields"]["model_unscored"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_NE(std::string_view(a["event"]["reason"]).find("leaving 40 of its texts unscored"), std::string_view::npos)
      << std::string_view(a["event"]["reason"]);
  expect_schema_valid({std::string(got.events[0].raw)}, "an alert with unscored texts");
}

// An event's own fields named like a verdict (its JSON has "label", "score",
// "model") are the event's data, not a model's word: no socstream.model, no
// raised severity, and the fields stay in the alert.
TEST(Alert, AnEventCannotPassForAModelsVerdict) {
  Diagnostics diag;
  auto op = make("{}", diag);
  ASSERT_TRUE(diag.ok()) << diag.str();
  Rule r = regex_rule("sqli-union", Severity::Low, {});
  std::string src = "s";
  Batch in;
  Event e;
  e.pos = SourcePos{&src, 0, 0, {}};
  e.rules.push_back(&r);
  e.fields.push_back(Field{"label", "benign"});
  e.fields.push_back(Field{"score", "high"});
  e.fields.push_back(Field{"model", "trusted-model"});
  in.events.push_back(std::move(e));
  Batch got = process(*op, std::move(in));
  ASSERT_EQ(got.size(), 1u);
  const std::string doc(got.events[0].raw);
  simdjson::dom::parser p;
  simdjson::dom::element a = p.parse(doc);
  EXPECT_EQ(a["socstream"]["model"].error(), simdjson::NO_SUCH_FIELD) << doc;
  EXPECT_EQ(std::string_view(a["socstream"]["severity"]), "low") << doc;
  EXPECT_EQ(std::string_view(a["socstream"]["fields"]["label"]), "benign") << doc;
  EXPECT_EQ(std::string_view(a["rule"]["id"]), "sqli-union") << doc;
  EXPECT_EQ(std::string_view(a["event"]["reason"]).find("trusted-model"), std::string_view::npos) << doc;
  expect_schema_valid({doc}, "an alert on an event with verdict-like fields");
}

// Fields an attacker names and fills: the document stays one a SIEM indexes.
TEST(Alert, HostileFieldsStillMakeAValidDocument) {
  Diagnostics diag;
  auto op = make("{}", diag);
  ASSERT_TRUE(diag.ok()) << diag.str();
  Rule r = regex_rule("r", Severity::High, {});
  std::string src = "s";
  const std::string long_name = "labels" + std::string(2000, '.') + "x";
  Batch in;
  Event e;
  e.pos = SourcePos{&src, 0, 0, {}};
  e.rules.push_back(&r);
  e.fields.push_back(Field{"@timestamp", "999999999999999", ValueKind::Number});  // the year 33658
  e.fields.push_back(Field{"note", "caf\xE9 \xFF\xFE"});                         // Latin-1, not UTF-8
  e.fields.push_back(Field{"note", "second"});                                    // a name twice
  e.fields.push_back(Field{"a\"b\\c", "quoted name"});
  e.fields.push_back(Field{long_name, "deep"});
  e.fields.push_back(Field{"labels.team.sub", "too deep"});
  e.fields.push_back(Field{"source.geo.location.lat", "1.0"});
  // Many keys sharing a prefix (placing them must stay linear), one clashing with another's parent.
  std::deque<std::string> names;
  for (int i = 0; i < 5000; ++i) e.fields.push_back(Field{names.emplace_back("labels.k" + std::string(i % 50, 'a') + std::to_string(i)), "v"});
  e.fields.push_back(Field{"labels", "a scalar where an object is"});
  in.events.push_back(std::move(e));
  Batch got = process(*op, std::move(in));
  ASSERT_EQ(got.size(), 1u);
  const std::string doc(got.events[0].raw);
  expect_schema_valid({doc}, "an alert on hostile fields");  // also refuses a key twice and bytes that are not UTF-8
  simdjson::dom::parser p;
  simdjson::dom::element a = p.parse(doc);
  EXPECT_EQ(std::string_view(a["@timestamp"]), std::string_view(a["event"]["created"])) << "no time: the detection's";
  auto fields = a["socstream"]["fields"];
  EXPECT_EQ(std::string_view(fields["note"]), "caf\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD") << "the first, repaired";
  EXPECT_EQ(std::string_view(fields["a\"b\\c"]), "quoted name");
  EXPECT_EQ(std::string_view(fields[long_name]), "deep");
  EXPECT_EQ(std::string_view(fields["labels.team.sub"]), "too deep") << "one key below labels, not two";
  EXPECT_EQ(std::string_view(fields["source.geo.location.lat"]), "1.0") << "no keys below a geo_point";
  EXPECT_EQ(simdjson::dom::object(a["labels"]).size(), 5000u);
  EXPECT_EQ(std::string_view(fields["labels"]), "a scalar where an object is") << "an object field takes no scalar";
  EXPECT_EQ(a["source"].error(), simdjson::NO_SUCH_FIELD);
}

TEST(Alert, AFieldMapCannotTargetWhatTheAlertWrites) {
  for (const char* target : {"event.kind", "rule.name", "threat.technique.id", "@timestamp", "tags"}) {
    TempDir dir;
    Diagnostics diag;
    YAML::Node n = YAML::Load(std::string("{ecs_fields: {x: '") + target + "'}}");
    Settings s(n, "alerts", "inline.yaml", dir.path(), &diag);
    AlertOp op(s);
    EXPECT_NE(diag.str().find("is written by the alert itself"), std::string::npos) << target << ": " << diag.str();
  }
}

