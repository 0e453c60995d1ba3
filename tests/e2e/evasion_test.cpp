// Issue 13: requests shaped to slip past the detectors of the bundled web
// topology (config/default.yaml, its rules and its real model): the attack
// must alert, or be dead-lettered with a reason, never be judged benign by
// accident. The padded parameters and the nested escaped query got through
// before; the padded value was caught by the model of issue 4 only because it
// called long runs of ordinary words an attack. The windows that cover a long
// value are checked against PyTorch in tests/unit/models/model_test.cpp.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <fmt/format.h>

#include <map>
#include <sstream>

#include "tests/support/test_support.hpp"

using namespace socstream::testing;

namespace {
std::string request(std::string_view query_json) {
  return fmt::format(R"({{"@timestamp":"2026-11-30T08:00:00Z","url":{{"path":"/search","query":{}}}}})", query_json);
}
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}
}  // namespace

TEST(Evasion, PaddedDuplicatedAndNestedAttacksStillAlert) {
  const std::string payload = "1' union select password from users--";
  std::map<int64_t, std::string> cases;  // line number -> what it tries
  std::string input;
  int64_t line = 0;
  auto add = [&](const std::string& what, const std::string& json) {
    cases[line++] = what;
    input += json + "\n";
  };
  // 1. 100 distinct dummy parameters before the injection (the model's budget
  // is 64 distinct texts; letters, since values that differ only in digits
  // share one cache key and one score).
  std::string padded;
  for (int i = 0; i < 100; ++i) padded += fmt::format("p{}=v{}{}&", i, char('a' + i / 26), char('a' + i % 26));
  add("padding with parameters", request(quote(padded + "id=" + payload)));
  // 2. One value padded with 3,000 words before the payload (the model reads 62 word pieces at a time).
  std::string words;
  for (int i = 0; i < 3000; ++i) words += "a ";
  add("padding inside a value", request(quote("id=" + words + payload)));
  // 3. The query nested in an array, the payload behind JSON escapes.
  add("nested and escaped", request(R"(["x=1", "id=1\u0027 union\u0020select password from users--"])"));
  // 4. The query twice: readers that keep the first and the last disagree.
  const int64_t duplicate = line;
  add("duplicate key",
      R"({"url":{"path":"/search","query":"id=1","query":)" + quote("id=" + payload) + "}}");
  // A harmless request for contrast.
  add("benign", request(quote("q=shoes&page=2")));

  TempDir dir;
  dir.write("input.jsonl", input);
  auto r = run_socstream("run " + (source_dir() / "config/default.yaml").string(),
                         "SOCSTREAM_INPUT=" + (dir.path() / "input.jsonl").string() +
                             " SOCSTREAM_DLQ=" + (dir.path() / "dlq.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;

  std::map<int64_t, std::string> alerted;  // line -> the model's label
  std::vector<std::string> docs;
  std::stringstream out(r.out);
  simdjson::dom::parser p;
  for (std::string l; std::getline(out, l);) {
    docs.push_back(l);
    simdjson::dom::element a = p.parse(l);
    // The file source's offsets are bytes: find the line.
    const int64_t at = int64_t(a["socstream"]["source"]["offset"]);
    int64_t n = 0;
    for (size_t i = 0; i < static_cast<size_t>(at); ++i) n += input[i] == '\n';
    std::string_view label;
    ASSERT_EQ(a["socstream"]["model"]["label"].get(label), simdjson::SUCCESS) << l.substr(0, 300);
    alerted[n] = std::string(label);
    if (cases[n] == "padding with parameters") {
      EXPECT_EQ(int64_t(a["socstream"]["model"]["unscored"]), 101 - 64) << "the alert says what went unscored";
    }
  }
  expect_schema_valid(docs, "evasion alerts");
  for (const auto& [n, what] : cases) {
    if (what == "benign" || n == duplicate) {
      EXPECT_FALSE(alerted.count(n)) << what;
      continue;
    }
    ASSERT_TRUE(alerted.count(n)) << what << ": no alert";
    // Under mode: augment the rules' hit alerts whatever the model says. The
    // retrained model (issue 15) calls the payload behind 3,000 words normal:
    // the window that holds it is mostly padding. Only the rules catch that one.
    if (what != std::string_view("padding inside a value")) {
      EXPECT_NE(alerted[n], "norm") << what;
    }
  }
  // The duplicate key is refused where it is read, with its reason, not guessed at.
  const std::string dlq = read_file(dir.path() / "dlq.jsonl");
  simdjson::dom::element rec = p.parse(dlq.substr(0, dlq.find('\n')));
  EXPECT_EQ(std::string_view(rec["error"]["reason"]), "duplicate_key");
  EXPECT_EQ(std::count(dlq.begin(), dlq.end(), '\n'), 1);
}
