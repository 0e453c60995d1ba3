#include "operators/alert.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "tests/support/test_support.hpp"

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

TEST(Alert, RendersTheDocumentedSchema) {
  Diagnostics diag;
  auto op = make("{detector: web, fields: [ip, status, note]}", diag);
  ASSERT_TRUE(diag.ok()) << diag.str();
  Rule r1 = regex_rule("sqli-union", Severity::Medium, {"sqli", "T1190"});
  Rule r2 = regex_rule("xss", Severity::Critical, {});
  std::string src = "access";
  Event e;
  e.pos = SourcePos{&src, 3, 42, {}};
  e.rules = {&r1, &r2};
  e.fields.push_back(Field{"timestamp", "2026-01-02T03:04:05Z"});
  e.fields.push_back(Field{"ip", "10.1.2.3"});
  e.fields.push_back(Field{"status", "404", ValueKind::Number});
  e.fields.push_back(Field{"note", "quote\" and \x01"});
  e.fields.push_back(Field{"secret", "not copied"});
  std::string doc;
  op->render(doc, e, "2026-11-21T00:00:00.000Z");
  simdjson::dom::parser p;
  simdjson::dom::element a;
  ASSERT_EQ(p.parse(doc).get(a), simdjson::SUCCESS) << doc;
  EXPECT_EQ(std::string_view(a["id"]), AlertOp::alert_id("web", e.pos));
  EXPECT_EQ(std::string_view(a["@timestamp"]), "2026-01-02T03:04:05Z");
  EXPECT_EQ(std::string_view(a["detected_at"]), "2026-11-21T00:00:00.000Z");
  EXPECT_EQ(std::string_view(a["detector"]), "web");
  EXPECT_EQ(std::string_view(a["severity"]), "critical") << "the highest severity of the matched rules";
  EXPECT_EQ(std::string_view(a["rules"].at(0)["id"]), "sqli-union");
  EXPECT_EQ(std::string_view(a["rules"].at(0)["tags"].at(1)), "T1190");
  EXPECT_EQ(std::string_view(a["rules"].at(1)["severity"]), "critical");
  EXPECT_EQ(std::string_view(a["fields"]["ip"]), "10.1.2.3");
  EXPECT_EQ(int64_t(a["fields"]["status"]), 404);
  EXPECT_EQ(std::string_view(a["fields"]["note"]), "quote\" and \x01");
  EXPECT_TRUE(a["fields"]["secret"].error()) << "only the configured fields are copied";
  EXPECT_EQ(std::string_view(a["source"]["name"]), "access");
  EXPECT_EQ(std::string_view(a["source"]["stream"]), "");
  EXPECT_EQ(int64_t(a["source"]["partition"]), 3);
  EXPECT_EQ(int64_t(a["source"]["offset"]), 42);
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
  EXPECT_NE(got.events[0].raw.find("\"severity\":\"high\""), std::string_view::npos);
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
    in.events.push_back(std::move(e));
  }
  Batch got = process(*op, std::move(in));
  ASSERT_EQ(got.size(), 1u) << "the 0.7 verdict is below min_score";
  simdjson::dom::parser p;
  simdjson::dom::element a = p.parse(std::string(got.events[0].raw));
  EXPECT_EQ(std::string_view(a["model"]["name"]), "web");
  EXPECT_EQ(int64_t(a["model"]["version"]), 2);
  EXPECT_EQ(std::string_view(a["model"]["label"]), "sqli");
  EXPECT_DOUBLE_EQ(double(a["model"]["score"]), 0.95);
  EXPECT_EQ(std::string_view(a["severity"]), "medium") << "the model's verdict raises a low rule to model_severity";
  EXPECT_EQ(a["fields"]["label"].error(), simdjson::NO_SUCH_FIELD) << "the verdict is not repeated among the fields";
  EXPECT_EQ(std::string_view(a["fields"]["q"]), "1 or 1=1");
}
