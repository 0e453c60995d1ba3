#include "operators/regex_prefilter.hpp"

#include <gtest/gtest.h>

#include "tests/support/test_support.hpp"

using namespace socstream;
using namespace socstream::testing;

namespace {

const char* kRules = R"(rules:
  - id: sqli-union
    pattern: '(?i)union\s+select'
    severity: high
    tags: [sqli]
  - id: xss-script
    pattern: '(?i)<script'
    severity: medium
  - id: traversal
    pattern: '\.\./'
    severity: low
)";

struct Harness {
  TempDir dir;
  Diagnostics diag;
  std::unique_ptr<RegexPrefilter> op;
  explicit Harness(const std::string& settings, const std::string& rules = kRules) {
    dir.write("rules.yaml", rules);
    YAML::Node n = YAML::Load(settings);
    Settings s(n, "suspect", "inline.yaml", dir.path(), &diag);
    op = std::make_unique<RegexPrefilter>(s);
  }
  std::vector<std::string> ids(std::initializer_list<std::pair<const char*, const char*>> fields) {
    Event e;
    for (auto& [k, v] : fields) e.fields.push_back(Field{k, v});
    std::vector<int> hits;
    op->match(e, hits);
    std::vector<std::string> out;
    for (int h : hits) out.push_back(op->rules()[h].id);
    return out;
  }
};

using Ids = std::vector<std::string>;

}  // namespace

TEST(RegexPrefilter, MatchesEveryRuleThatApplies) {
  Harness h("{field: q, rules: rules.yaml}");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  EXPECT_EQ(h.ids({{"q", "1 UNION SELECT <script>"}}), (Ids{"sqli-union", "xss-script"}));
  EXPECT_EQ(h.ids({{"q", "../../etc/passwd"}}), (Ids{"traversal"}));
  EXPECT_EQ(h.ids({{"q", "plain value"}}), Ids{});
  EXPECT_EQ(h.ids({{"other", "union select"}}), Ids{}) << "only the configured field is matched";
}

TEST(RegexPrefilter, SeveralFieldsAreUnited) {
  Harness h("{fields: [q, ua], rules: rules.yaml}");
  EXPECT_EQ(h.ids({{"q", "<script>"}, {"ua", "union select"}}), (Ids{"sqli-union", "xss-script"}));
  EXPECT_EQ(h.ids({{"q", "<script>"}, {"ua", "<SCRIPT>"}}), (Ids{"xss-script"})) << "no duplicates";
}

TEST(RegexPrefilter, QueryValuesAreDecodedAndMatchedOneByOne) {
  Harness h("{field: q, rules: rules.yaml, transforms: [query_values, url_decode]}",
            "rules:\n  - {id: starts-dotdot, pattern: '^\\.\\./'}\n  - {id: union, pattern: '(?i)union\\s+select'}\n");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  EXPECT_EQ(h.ids({{"q", "a=1&file=..%2F..%2Fetc"}}), (Ids{"starts-dotdot"})) << "anchors apply per value";
  EXPECT_EQ(h.ids({{"q", "id=1+UNION+SELECT+2"}}), (Ids{"union"})) << "'+' is a space";
  EXPECT_EQ(h.ids({{"q", "id=1%20union%20select"}}), (Ids{"union"}));
  EXPECT_EQ(h.ids({{"q", "bad=%zz%2"}}), Ids{}) << "bad escapes are kept, not a crash";
}

TEST(RegexPrefilter, ObjectsAndArraysAreMatchedOnTheStringsTheyHold) {
  Harness h("{field: q, rules: rules.yaml, transforms: [query_values, url_decode]}");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  auto ids = [&](const char* json) {
    Event e;
    e.fields.push_back(Field{"q", json, ValueKind::Json});
    std::vector<int> hits;
    h.op->match(e, hits);
    Ids out;
    for (int i : hits) out.push_back(h.op->rules()[i].id);
    return out;
  };
  // As JSON text the escapes hide the payload from every rule.
  EXPECT_EQ(ids(R"x(["a=1", "b=\u003cscript\u003ealert(1)"])x"), (Ids{"xss-script"}));
  EXPECT_EQ(ids(R"({"outer": {"inner": [["..%2F..%2Fetc%2Fpasswd"]]}})"), (Ids{"traversal"})) << "any depth, decoded";
  EXPECT_EQ(ids(R"({"1 union select 2": 1})"), (Ids{"sqli-union"})) << "keys are text too";
  EXPECT_EQ(ids(R"([1, true, null, {}])"), Ids{});
  EXPECT_EQ(ids("[\"<script"), (Ids{"xss-script"})) << "JSON that does not parse is matched whole";
}

TEST(RegexPrefilter, PortsCarryMatchedRules) {
  Harness h("{field: q, rules: rules.yaml}");
  std::string name = "suspect";
  Outputs out(&name, h.op->output_ports());
  Channel match(100, 1 << 20), nomatch(100, 1 << 20);
  out.connect(out.port_index("match"), &match);
  out.connect(out.port_index("nomatch"), &nomatch);
  Batch in;
  for (const char* q : {"union select", "hello", "<script>"}) {
    Event e;
    e.fields.push_back(Field{"q", q});
    in.events.push_back(std::move(e));
  }
  h.op->process(std::move(in), out);
  Batch m, n;
  ASSERT_EQ(match.pop(m, Clock::now()), Channel::Pop::Item);
  ASSERT_EQ(nomatch.pop(n, Clock::now()), Channel::Pop::Item);
  ASSERT_EQ(m.size(), 2u);
  ASSERT_EQ(m.events[0].rules.size(), 1u);
  EXPECT_EQ(m.events[0].rules[0]->id, "sqli-union");
  EXPECT_EQ(m.events[0].rules[0]->severity, Severity::High);
  EXPECT_EQ(m.events[0].rules[0]->tags, std::vector<std::string>{"sqli"});
  EXPECT_EQ(m.events[1].rules[0]->id, "xss-script");
  ASSERT_EQ(n.size(), 1u);
  EXPECT_TRUE(n.events[0].rules.empty());
}

TEST(RegexPrefilter, HundredRulesInOneSet) {
  std::string rules = "rules:\n";
  for (int i = 0; i < 100; ++i) rules += "  - {id: r" + std::to_string(i) + ", pattern: 'token" + std::to_string(i) + "\\b'}\n";
  Harness h("{field: q, rules: rules.yaml}", rules);
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  EXPECT_EQ(h.ids({{"q", "token7 and token42 but not token1000"}}), (Ids{"r7", "r42"}));
}

TEST(RegexPrefilter, ConfigErrors) {
  Harness h("{rules: rules.yaml, transforms: [rot13]}");
  EXPECT_NE(h.diag.str().find("give the field to match"), std::string::npos) << h.diag.str();
  EXPECT_NE(h.diag.str().find("unknown transform 'rot13'"), std::string::npos) << h.diag.str();
  Harness missing("{field: q, rules: nowhere.yaml}");
  EXPECT_NE(missing.diag.str().find("nowhere.yaml does not exist"), std::string::npos) << missing.diag.str();
}
