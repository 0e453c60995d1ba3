// config/nginx.yaml on the bundled nginx log, checked line by line against the
// log's truth table (config/samples/nginx-access.truth.csv, written by the
// generator, not by socstream): each alert names a real line, carries that
// line's own time and address at their ECS paths, and conforms to the alert
// schema; the lines that are not combined format, and only they, are
// dead-lettered as no_match.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "tests/support/test_support.hpp"

using namespace socstream::testing;

namespace {

struct Line {
  std::string text, label, time;
};

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string l; std::getline(ss, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

}  // namespace

TEST(Nginx, AlertsCarryTheLogLinesOwnFieldsAndBadLinesAreDeadLettered) {
  const auto sample = source_dir() / "config/samples/nginx-access.log";
  std::vector<Line> lines;
  std::map<int64_t, size_t> line_at;  // byte offset -> line number
  {
    std::ifstream in(sample, std::ios::binary);
    int64_t offset = 0;
    for (std::string l; std::getline(in, l);) {
      line_at[offset] = lines.size();
      offset += static_cast<int64_t>(l.size()) + 1;
      lines.push_back({l, "", ""});
    }
    std::ifstream truth(source_dir() / "config/samples/nginx-access.truth.csv");
    std::string row;
    std::getline(truth, row);  // header
    while (std::getline(truth, row)) {
      std::stringstream ss(row);
      std::string n, label, time;
      std::getline(ss, n, ',');
      std::getline(ss, label, ',');
      std::getline(ss, time, ',');
      lines.at(std::stoul(n)).label = label;
      lines.at(std::stoul(n)).time = time;
    }
  }
  ASSERT_EQ(lines.size(), 5000u);

  TempDir dir;
  const auto dlq = dir.path() / "dlq.jsonl";
  auto r = run_socstream("run " + (source_dir() / "config/nginx.yaml").string(), "SOCSTREAM_DLQ=" + dlq.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto alerts = lines_of(r.out);
  expect_schema_valid(alerts, "config/nginx.yaml");

  simdjson::dom::parser p;
  std::map<std::string, size_t> alerted, total;  // by truth label
  for (const auto& l : lines) ++total[l.label];
  std::set<size_t> seen;
  for (const auto& text : alerts) {
    simdjson::dom::element a;
    ASSERT_EQ(p.parse(text).get(a), simdjson::SUCCESS) << text;
    int64_t offset = a["socstream"]["source"]["offset"];
    ASSERT_TRUE(line_at.count(offset)) << "the alert names no line start: " << text;
    const size_t n = line_at[offset];
    ASSERT_TRUE(seen.insert(n).second) << "two alerts on line " << n;
    const Line& line = lines[n];
    ++alerted[line.label];
    // The log's time ($time_local at +0100) in UTC, not the time of detection.
    std::string ts{std::string_view(a["@timestamp"])};
    EXPECT_EQ(ts.substr(0, 19) + "Z", line.time) << "line " << n;
    // The client address and the query exactly as the line has them.
    const std::string ip{std::string_view(a["source"]["ip"])};
    EXPECT_EQ(line.text.substr(0, line.text.find(' ')), ip) << "line " << n;
    const std::string query{std::string_view(a["url"]["query"])};
    EXPECT_NE(line.text.find("?" + query + " HTTP/"), std::string::npos) << "line " << n << ": " << query;
    EXPECT_EQ(std::string_view(a["message"]), line.text) << "the line itself is the alert's message";
    EXPECT_EQ(std::string_view(a["event"]["kind"]), "alert");
  }
  EXPECT_EQ(alerted["malformed"], 0u);
  // Loose floors, a regression guard: the figures that decide anything are in bench/RESULTS.md.
  size_t attacks = 0, attacks_alerted = 0;
  for (const char* l : {"sqli", "xss", "path-traversal", "cmdi"}) {
    attacks += total[l];
    attacks_alerted += alerted[l];
  }
  // The figures the notes quote (on the classifier's own data set: a regression guard, not a quality figure).
  std::cout << "[ info     ] nginx sample: " << attacks_alerted << " of " << attacks << " attack lines alerted, "
            << alerted["norm"] << " of " << total["norm"] << " normal lines\n";
  EXPECT_GT(attacks_alerted, attacks * 9 / 10) << "of " << attacks << " attack lines";
  EXPECT_LT(alerted["norm"], total["norm"] / 100) << "of " << total["norm"] << " normal lines";

  // Exactly the lines that are not combined format are dead-lettered, each with the format that refused it.
  std::set<size_t> dead;
  for (const auto& text : lines_of(read_file(dlq))) {
    simdjson::dom::element d;
    ASSERT_EQ(p.parse(text).get(d), simdjson::SUCCESS) << text;
    EXPECT_EQ(std::string_view(d["error"]["reason"]), "no_match") << text;
    EXPECT_EQ(std::string_view(d["error"]["component"]), "parse") << text;
    EXPECT_NE(std::string_view(d["error"]["detail"]).find("nginx_combined"), std::string_view::npos) << text;
    int64_t offset = d["source"]["offset"];
    ASSERT_TRUE(line_at.count(offset)) << text;
    dead.insert(line_at[offset]);
    EXPECT_EQ(std::string_view(d["raw"]), lines[line_at[offset]].text);
  }
  std::set<size_t> malformed;
  for (size_t i = 0; i < lines.size(); ++i)
    if (lines[i].label == "malformed") malformed.insert(i);
  EXPECT_EQ(malformed.size(), 4u);
  EXPECT_EQ(dead, malformed);
}
