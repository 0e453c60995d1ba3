// The alert schema as a contract: the file is what its generator writes, the
// validator refuses what breaks it, and every bundled topology that raises
// alerts has a test that holds its alerts to it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/test_support.hpp"

namespace fs = std::filesystem;
using socstream::testing::read_file;
using socstream::testing::run_command;
using socstream::testing::source_dir;
using socstream::testing::TempDir;

namespace {

std::string valid_alert() {
  return R"({"@timestamp":"2026-01-02T03:04:05.000Z","ecs":{"version":"9.4.0"},)"
         R"("event":{"kind":"alert","id":"0123456789abcdef0123456789abcdef","created":"2026-01-02T03:04:06.000Z",)"
         R"("severity":3,"risk_score":47,"reason":"r"},"message":"m","rule":{"id":"i","name":"n"},"source":{"ip":"10.0.0.1"},)"
         R"("socstream":{"detector":"d","severity":"medium","source":{"name":"s","stream":"f","partition":0,"offset":0},)"
         R"("rules":[],"fields":{}}})";
}

int validate(const std::string& alert) {
  TempDir dir;
  const auto file = dir.path() / "a.jsonl";
  std::ofstream(file) << alert << "\n";
  return run_command(socstream::testing::venv_python() + " " + (source_dir() / "scripts/validate_alerts.py").string() + " " + file.string())
      .exit_code;
}

}  // namespace

TEST(AlertSchema, TheFileIsWhatItsGeneratorWrites) {
  auto r = run_command("python3 " + (source_dir() / "scripts/gen_alert_schema.py").string() + " --check");
  EXPECT_EQ(r.exit_code, 0) << "docs/alert.schema.json is stale: run scripts/gen_alert_schema.py\n" << r.err << r.out;
}

TEST(AlertSchema, TheValidatorRefusesWhatBreaksTheContract) {
  ASSERT_EQ(validate(valid_alert()), 0) << "the reference alert must pass, or the refusals below prove nothing";
  auto with = [&](const std::string& from, const std::string& to) {
    std::string a = valid_alert();
    auto at = a.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return a.replace(at, from.size(), to);
  };
  EXPECT_NE(validate(with(R"("severity":3)", R"("severity":"high")")), 0) << "event.severity is a number";
  EXPECT_NE(validate(with(R"("ip":"10.0.0.1")", R"("ip":"not-an-address")")), 0) << "source.ip is an ip";
  EXPECT_NE(validate(with(R"("ecs":)", R"("query":"x","ecs":)")), 0) << "no field outside ECS at the top";
  EXPECT_NE(validate(with(R"("kind":"alert")", R"("kind":"event")")), 0) << "an alert is event.kind alert";
  EXPECT_NE(validate(with(R"("@timestamp":"2026-01-02T03:04:05.000Z",)", "")), 0) << "@timestamp is required";
}

// A Sigma rule's entry carries what an analyst triages by; the contract says so.
TEST(AlertSchema, ASigmaRuleEntryIsComplete) {
  const std::string entry =
      R"({"id":"x","severity":"high","tags":[],"kind":"sigma","title":"t","level":"high","status":"test",)"
      R"("description":"d","author":"a","references":["https://example.com"],"falsepositives":[],)"
      R"("logsource":{"product":"windows","category":"process_creation","service":""},"threat":{"tactics":[],"techniques":[]}})";
  auto with_rule = [&](const std::string& rule) {
    std::string a = valid_alert();
    const std::string empty = R"("rules":[])";
    return a.replace(a.find(empty), empty.size(), R"("rules":[)" + rule + "]");
  };
  auto without = [&](const std::string& part) {
    std::string e = entry;
    auto at = e.find(part);
    EXPECT_NE(at, std::string::npos) << part;
    return with_rule(e.erase(at, part.size()));
  };
  ASSERT_EQ(validate(with_rule(entry)), 0) << "the complete entry must pass, or the refusals below prove nothing";
  for (const char* part : {R"("description":"d",)", R"("status":"test",)", R"("references":["https://example.com"],)",
                           R"("falsepositives":[],)", R"(,"service":"")"})
    EXPECT_NE(validate(without(part)), 0) << "a Sigma entry without " << part;
  EXPECT_NE(validate(with_rule(std::string(entry).replace(entry.find(R"("logsource":{)"), 13, R"("logsource":{"os":"x",)"))), 0)
      << "logsource has product, category and service only";
  EXPECT_EQ(validate(with_rule(R"({"id":"sqli","severity":"high","tags":["sqli"]})")), 0) << "a regex rule has none of them";
}

// A topology added to config/ without a test that validates its alerts fails here.
TEST(AlertSchema, EveryBundledTopologyWithAlertsIsValidatedByATest) {
  std::set<std::string> with_alerts, validated;
  const std::regex alert_op(R"(type:\s*alert\b)");
  for (const auto& f : fs::directory_iterator(source_dir() / "config"))
    if (f.path().extension() == ".yaml" && std::regex_search(read_file(f.path()), alert_op))
      with_alerts.insert("config/" + f.path().filename().string());
  ASSERT_FALSE(with_alerts.empty());
  const std::regex call(R"(expect_schema_valid\([^;]*"(config/[A-Za-z0-9_.-]+\.yaml))");
  for (const auto& f : fs::recursive_directory_iterator(source_dir() / "tests")) {
    if (f.path().extension() != ".cpp") continue;
    const std::string text = read_file(f.path());
    for (std::sregex_iterator it(text.begin(), text.end(), call), end; it != end; ++it) validated.insert((*it)[1]);
  }
  for (const auto& c : with_alerts) EXPECT_TRUE(validated.count(c)) << c << " raises alerts no test holds to the schema";
}
