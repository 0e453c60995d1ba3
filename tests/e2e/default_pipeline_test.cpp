// Runs the built binary on config/default.yaml and checks its alerts against
// an independent oracle: the same rules file compiled here with RE2 directly,
// over query values split and decoded by this test's own code, and the
// bundled model's verdicts on those values as PyTorch computed them
// (tests/data/sample_verdicts.jsonl, models/train/make_sample_verdicts.py).
#include <gtest/gtest.h>
#include <re2/re2.h>
#include <re2/set.h>
#include <simdjson.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "tests/support/test_support.hpp"

using namespace socstream::testing;

namespace {

std::string form_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && isxdigit(s[i + 1]) && isxdigit(s[i + 2])) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Expected {
  int64_t offset;
  std::set<std::string> rules;
  std::string label;
};

const std::vector<std::string> kLabels{"norm", "sqli", "xss", "path-traversal", "cmdi"};

// config/default.yaml's transformer: mode augment, alone_min_score 0.8.
constexpr double kAloneMinScore = 0.8;

// The model's verdict on one event as the transformer operator defines it: the
// event is positive when a value's top label is not "norm" and scores at least
// 0.5; it takes the highest-scoring positive value's label, or else the top
// label of its most suspicious value (lowest P(norm)). `sure` is false when a
// decision is within 1e-3 of a boundary (batch padding moves scores by ~1e-6,
// so such an event could go either way).
struct Verdict {
  bool positive = false;
  std::string label;
  double score = 0;
  bool sure = true;
};
Verdict verdict_of(simdjson::dom::array values) {
  Verdict v;
  double best = -1, least_normal = 2;
  std::string negative_label;
  for (auto row : values) {
    std::vector<double> p;
    for (double x : row.get_array()) p.push_back(x);
    size_t top = std::max_element(p.begin(), p.end()) - p.begin();
    std::vector<double> sorted = p;
    std::sort(sorted.rbegin(), sorted.rend());
    if (sorted[0] - sorted[1] < 1e-3 || (top != 0 && std::abs(p[top] - 0.5) < 1e-3) ||
        (top != 0 && std::abs(p[top] - kAloneMinScore) < 1e-4))
      v.sure = false;
    if (top != 0 && p[top] >= 0.5 && p[top] > best) {
      best = p[top];
      v.positive = true;
      v.label = kLabels[top];
      v.score = p[top];
    }
    if (p[0] < least_normal) {
      least_normal = p[0];
      negative_label = kLabels[top];
    }
  }
  if (!v.positive) v.label = negative_label;
  return v;
}

}  // namespace

TEST(DefaultPipeline, AlertsMatchAnIndependentOracle) {
  const auto root = source_dir();
  // The oracle.
  YAML::Node rules = YAML::LoadFile((root / "config/rules/web.yaml").string())["rules"];
  RE2::Options opt;
  opt.set_log_errors(false);
  RE2::Set set(opt, RE2::UNANCHORED);
  std::vector<std::string> ids;
  for (const auto& r : rules) {
    ASSERT_GE(set.Add(r["pattern"].as<std::string>(), nullptr), 0);
    ids.push_back(r["id"].as<std::string>());
  }
  ASSERT_TRUE(set.Compile());
  std::map<int64_t, Verdict> verdicts;
  {
    std::ifstream vf(root / "tests/data/sample_verdicts.jsonl");
    simdjson::dom::parser vp;
    for (std::string line; std::getline(vf, line);) {
      simdjson::dom::element v = vp.parse(line);
      verdicts[int64_t(v["offset"])] = verdict_of(v["values"].get_array());
    }
    ASSERT_EQ(verdicts.size(), 5000u);
  }
  std::set<int64_t> unsure;
  size_t model_disagrees = 0, model_only = 0;
  std::ifstream sample(root / "config/samples/web-access.jsonl", std::ios::binary);
  std::vector<std::string> lines;
  std::map<int64_t, std::string> line_at;
  std::vector<Expected> expected;
  simdjson::dom::parser parser;
  int64_t offset = 0;
  for (std::string line; std::getline(sample, line);) {
    simdjson::dom::element doc = parser.parse(line);
    std::string_view query = doc["url"]["query"];
    std::set<std::string> hit;
    std::stringstream qs{std::string(query)};
    for (std::string pair; std::getline(qs, pair, '&');) {
      auto eq = pair.find('=');
      std::vector<int> v;
      // The rules read values decoded twice (config/default.yaml).
      set.Match(form_decode(form_decode(eq == std::string::npos ? pair : pair.substr(eq + 1))), &v);
      for (int i : v) hit.insert(ids[i]);
    }
    const Verdict& v = verdicts.at(offset);
    // augment: every rule hit alerts with the model's verdict, whatever it is;
    // without one, a confident positive alerts alone.
    if (!hit.empty()) {
      if (!v.sure) unsure.insert(offset);
      expected.push_back({offset, hit, v.label});
      model_disagrees += !v.positive;
    } else if (v.positive && v.score >= kAloneMinScore) {
      if (!v.sure) unsure.insert(offset);
      expected.push_back({offset, {}, v.label});
      ++model_only;
    } else if (!v.sure && v.positive) {
      unsure.insert(offset);
    }
    line_at[offset] = line;
    lines.push_back(line);
    offset += static_cast<int64_t>(line.size()) + 1;
  }
  ASSERT_EQ(lines.size(), 5000u);

  RecordProperty("model_only_alerts", static_cast<int>(model_only));
  EXPECT_GT(model_disagrees, 0u) << "rule hits the model calls normal alert all the same: the sample has some";
  // Every event's verdict may decide an alert now, not only a rule hit's.
  EXPECT_LE(unsure.size(), 25u);

  // The engine, first without the result cache: every verdict is the model's own on that very text.
  TempDir tmp;
  auto r = run_socstream("run " + (root / "config/default.yaml").string(),
                         "SOCSTREAM_MODEL_CACHE=0 SOCSTREAM_DLQ=" + (tmp.path() / "dlq.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("5000 events read"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("0 dead-lettered"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cache hit rate"), std::string::npos) << r.err;

  std::vector<std::string> alerts;
  std::stringstream out(r.out);
  for (std::string l; std::getline(out, l);) alerts.push_back(l);

  struct Got {
    std::set<std::string> rules;
    std::string label;
    double score;
  };
  std::map<int64_t, Got> got;
  for (const auto& a : alerts) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(a).get(doc), simdjson::SUCCESS) << a;
    int64_t off = doc["socstream"]["source"]["offset"];
    Got g;
    for (auto rule : doc["socstream"]["rules"].get_array()) g.rules.insert(std::string(std::string_view(rule["id"])));
    EXPECT_EQ(std::string_view(doc["socstream"]["model"]["name"]), "web-attack-classifier");
    EXPECT_EQ(int64_t(doc["socstream"]["model"]["version"]), 2);  // models/web-attack-classifier/model.yaml
    g.label = std::string(std::string_view(doc["socstream"]["model"]["label"]));
    g.score = double(doc["socstream"]["model"]["score"]);
    if (g.rules.empty()) {
      EXPECT_GE(g.score, kAloneMinScore) << "a verdict alone alerts only when confident";
    }
    got[off] = g;
  }
  size_t exact = 0;
  for (const auto& e : expected) {
    if (unsure.count(e.offset)) continue;
    ++exact;
    ASSERT_TRUE(got.count(e.offset)) << "no alert for the event at byte " << e.offset;
    EXPECT_EQ(got[e.offset].rules, e.rules) << "rules for the event at byte " << e.offset;
    EXPECT_EQ(got[e.offset].label, e.label) << "model label for the event at byte " << e.offset;
  }
  for (const auto& [off, g] : got) {
    bool wanted = std::any_of(expected.begin(), expected.end(), [&](const Expected& e) { return e.offset == off; });
    EXPECT_TRUE(wanted || unsure.count(off)) << "unexpected alert for the event at byte " << off;
  }
  EXPECT_GT(exact, 1000u) << "alerts compared exactly, label and rules";

  // With the default cache, templates share results: nearly the same alerts, fewer forward passes.
  auto cached = run_socstream("run " + (root / "config/default.yaml").string(),
                              "SOCSTREAM_DLQ=" + (tmp.path() / "dlq-c.jsonl").string());
  ASSERT_EQ(cached.exit_code, 0) << cached.err;
  std::set<int64_t> cached_offsets;
  {
    std::stringstream cs(cached.out);
    for (std::string l; std::getline(cs, l);) cached_offsets.insert(int64_t(parser.parse(l)["socstream"]["source"]["offset"]));
  }
  size_t same = 0;
  for (const auto& [off, g] : got) same += cached_offsets.count(off);
  EXPECT_GE(same * 1000, got.size() * 995) << same << " of " << got.size() << " alerts also with the cache";
  EXPECT_LE(cached_offsets.size(), got.size() + got.size() / 200);
  auto hit_rate = [](const std::string& err) {
    auto at = err.find("cache hit rate ");
    return at == std::string::npos ? -1.0 : std::stod(err.substr(at + 15));
  };
  EXPECT_EQ(hit_rate(r.err), 0.0) << r.err;
  EXPECT_GT(hit_rate(cached.err), 20.0) << cached.err;

  // Detection quality against the sample's ground truth, as a guard on the rules.
  std::ifstream truth(root / "config/samples/web-access.truth.csv");
  std::string header, row;
  std::getline(truth, header);
  int attacks = 0, caught = 0, normal = 0, false_pos = 0;
  std::set<int64_t> alerted;
  for (const auto& e : expected) alerted.insert(e.offset);
  offset = 0;
  for (size_t i = 0; std::getline(truth, row); ++i) {
    if (!row.empty() && row.back() == '\r') row.pop_back();  // csv module writes CRLF
    const bool attack = row.substr(row.find(',') + 1) != "norm";
    const bool hit = alerted.count(offset) > 0;
    attacks += attack;
    caught += attack && hit;
    normal += !attack;
    false_pos += !attack && hit;
    offset += static_cast<int64_t>(lines[i].size()) + 1;
  }
  EXPECT_GE(caught, attacks * 98 / 100) << caught << " of " << attacks << " attacks alerted";
  EXPECT_LE(false_pos, normal / 200) << false_pos << " of " << normal << " normal events alerted";

  // The content of a few alerts, against the source lines they came from; the
  // ids as scripts/alert_id.py (the reference implementation) computes them.
  const uint64_t origin = expected_file_origin(root / "config/samples/web-access.jsonl");
  auto py = run_command("python3 " + (root / "scripts/alert_id.py").string() + " --file-origin " +
                        (root / "config/samples/web-access.jsonl").string());
  ASSERT_EQ(py.exit_code, 0) << py.err;
  EXPECT_EQ(py.out, std::to_string(origin) + "\n");
  for (size_t k : {size_t(0), alerts.size() / 2, alerts.size() - 1}) {
    simdjson::dom::parser p1, p2;
    simdjson::dom::element a = p1.parse(alerts[k]);
    int64_t off = a["socstream"]["source"]["offset"];
    simdjson::dom::element src = p2.parse(line_at.at(off));
    EXPECT_EQ(std::string_view(a["event"]["id"]),
              expected_alert_id("web-attacks", "access", "samples/web-access.jsonl", 0, off, origin));
    EXPECT_EQ(std::string_view(a["event"]["kind"]), "alert");
    EXPECT_EQ(std::string_view(a["socstream"]["detector"]), "web-attacks");
    EXPECT_EQ(std::string_view(a["socstream"]["source"]["name"]), "access");
    EXPECT_EQ(std::string_view(a["socstream"]["source"]["stream"]), "samples/web-access.jsonl");
    EXPECT_EQ(std::string_view(a["@timestamp"]), std::string_view(src["@timestamp"]));
    EXPECT_EQ(std::string_view(a["source"]["ip"]), std::string_view(src["source"]["ip"]));
    EXPECT_EQ(std::string_view(a["url"]["query"]), std::string_view(src["url"]["query"]));
    EXPECT_EQ(std::string_view(a["url"]["path"]), std::string_view(src["url"]["path"]));
    EXPECT_EQ(std::string_view(a["user_agent"]["original"]), std::string_view(src["user_agent"]["original"]));
    EXPECT_EQ(int64_t(a["http"]["response"]["status_code"]), int64_t(src["http"]["response"]["status_code"]));
    EXPECT_EQ(std::string_view(a["http"]["request"]["method"]), std::string_view(src["http"]["request"]["method"]));
    std::string_view sev = a["socstream"]["severity"];
    EXPECT_TRUE(sev == "low" || sev == "medium" || sev == "high") << sev;
    EXPECT_EQ(int64_t(a["event"]["severity"]), sev == "low" ? 2 : sev == "medium" ? 3 : 4);
    EXPECT_FALSE(std::string_view(a["rule"]["id"]).empty());
  }

  // Deterministic: a second run gives the same ids.
  auto again = run_socstream("run " + (root / "config/default.yaml").string(),
                             "SOCSTREAM_DLQ=" + (tmp.path() / "dlq2.jsonl").string());
  ASSERT_EQ(again.exit_code, 0);
  std::stringstream out2(again.out);
  std::string first2;
  std::getline(out2, first2);
  simdjson::dom::parser pa, pb;
  EXPECT_EQ(std::string_view(pa.parse(first2)["event"]["id"]), std::string_view(pb.parse(alerts[0])["event"]["id"]));
  expect_schema_valid(alerts, "config/default.yaml");
}

// The comparison topology: no prefilter, the model on every event.
TEST(DefaultPipeline, ModelOnEveryEvent) {
  const auto root = source_dir();
  std::map<int64_t, Verdict> verdicts;
  std::ifstream vf(root / "tests/data/sample_verdicts.jsonl");
  simdjson::dom::parser vp;
  size_t positive = 0, unsure = 0;
  for (std::string line; std::getline(vf, line);) {
    simdjson::dom::element v = vp.parse(line);
    Verdict x = verdict_of(v["values"].get_array());
    positive += x.positive;
    unsure += !x.sure;
  }
  TempDir tmp;
  auto r = run_socstream("run " + (root / "config/model-everything.yaml").string(),
                         "SOCSTREAM_MODEL_CACHE=0 SOCSTREAM_DLQ=" + (tmp.path() / "dlq.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> docs;
  std::stringstream out(r.out);
  for (std::string l; std::getline(out, l);) docs.push_back(l);
  const size_t alerts = docs.size();
  expect_schema_valid(docs, "config/model-everything.yaml");
  EXPECT_LE(alerts, positive + unsure);
  EXPECT_GE(alerts + unsure, positive);
  EXPECT_GT(positive, 1500u);
}
