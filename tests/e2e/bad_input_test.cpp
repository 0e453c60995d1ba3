// Survive any input: a file mixing malformed JSON, invalid UTF-8, an 8 MiB
// line, 10,000-deep nesting, NUL bytes and empty lines. The run finishes, every
// bad line is in the DLQ with its reason, and no good line is lost.
#include <gtest/gtest.h>

#include <algorithm>
#include <simdjson.h>

#include <map>
#include <sstream>

#include "tests/support/test_support.hpp"

using namespace socstream::testing;


TEST(BadInput, EveryBadLineIsDeadLetteredAndNoGoodLineIsLost) {
  struct Line {
    std::string raw, reason;  // reason "" for good lines
  };
  std::vector<Line> plan;
  auto good = [&](int i) { plan.push_back({"{\"n\":" + std::to_string(i) + ",\"msg\":\"ok " + std::to_string(i) + "\"}", ""}); };
  std::string deep_obj, deep_arr(10000, '[');
  for (int i = 0; i < 10000; ++i) deep_obj += "{\"a\":";
  deep_obj += "1" + std::string(10000, '}');
  deep_arr += std::string(10000, ']');
  std::string huge = "{\"blob\":\"" + std::string(8u << 20, 'A') + "\"}";
  int n = 0;
  good(n++);
  plan.push_back({"{\"broken\": ", "invalid_json"});
  good(n++);
  plan.push_back({"{\"k\":\"caf\xe9 \xff\xfe\"}", "invalid_utf8"});
  plan.push_back({huge, "too_large"});
  good(n++);
  plan.push_back({deep_obj, "too_deep"});
  plan.push_back({deep_arr, "too_deep"});
  plan.push_back({"[1,2,3]", "not_object"});
  plan.push_back({std::string("{\"k\":\"a\0b\"}", 11), "invalid_json"});
  plan.push_back({std::string(16, '\0'), "invalid_utf8"});  // binary: not UTF-8 text
  plan.push_back({"", "empty"});
  plan.push_back({"", "empty"});
  good(n++);
  plan.push_back({"not json at all", "invalid_json"});
  plan.push_back({"{\"a\":1}{\"b\":2}", "invalid_json"});
  for (int i = 0; i < 2000; ++i) good(n++);  // enough to span several batches
  plan.push_back({"{\"a\":[1,2,}", "invalid_json"});
  good(n++);

  TempDir dir;
  std::string content;
  for (const auto& l : plan) content += l.raw + "\n";
  dir.write("input.jsonl", content);
  dir.write("topology.yaml", R"(sources:
  in: {type: file, path: input.jsonl}
operators:
  parse: {type: json_parse, inputs: [in], fields: {n: /n}}
sinks:
  good: {type: file, inputs: [parse], path: good.jsonl}
  dlq: {type: file, inputs: [in.dlq, parse.dlq], path: dlq.jsonl}
)");
  auto r = run_socstream("run " + (dir.path() / "topology.yaml").string(), "");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // Good lines: all of them, byte for byte, in order.
  std::vector<std::string> want_good, got_good;
  for (const auto& l : plan)
    if (l.reason.empty()) want_good.push_back(l.raw);
  std::stringstream g(read_file(dir.path() / "good.jsonl"));
  for (std::string l; std::getline(g, l);) got_good.push_back(l);
  EXPECT_EQ(got_good, want_good);

  // Bad lines: each once, with its reason and its exact bytes.
  std::multimap<std::string, std::string> want_bad, got_bad;  // raw -> reason
  for (const auto& l : plan)
    if (!l.reason.empty()) want_bad.emplace(l.raw, l.reason);
  std::stringstream d(read_file(dir.path() / "dlq.jsonl"));
  simdjson::dom::parser p;
  for (std::string l; std::getline(d, l);) {
    simdjson::dom::element rec;
    ASSERT_EQ(p.parse(l).get(rec), simdjson::SUCCESS) << "every dead letter is valid JSON: " << l.substr(0, 200);
    std::string raw;
    if (std::string_view s; rec["raw"].get(s) == simdjson::SUCCESS)
      raw = std::string(s);
    else
      raw = base64_decode(std::string_view(rec["raw_base64"]));
    EXPECT_EQ(std::string_view(rec["error"]["component"]), "parse");
    EXPECT_FALSE(std::string_view(rec["error"]["detail"]).empty());
    EXPECT_EQ(int64_t(rec["size"]), static_cast<int64_t>(raw.size()));
    got_bad.emplace(raw, std::string(std::string_view(rec["error"]["reason"])));
  }
  EXPECT_EQ(got_bad.size(), want_bad.size());
  EXPECT_TRUE(got_bad == want_bad) << "every bad line with its reason";
  EXPECT_NE(r.err.find(std::to_string(plan.size()) + " events read"), std::string::npos) << r.err;
}

TEST(BadInput, OverlongLineGoesToTheSourceDlq) {
  TempDir dir;
  dir.write("input.jsonl", "{\"a\":1}\n" + std::string(5000, 'z') + "\n{\"a\":2}\n");
  dir.write("topology.yaml", R"(sources:
  in: {type: file, path: input.jsonl, max_line_bytes: 1KiB, read_buffer_bytes: 256}
sinks:
  good: {type: file, inputs: [in], path: good.jsonl}
  dlq: {type: file, inputs: [in.dlq], path: dlq.jsonl}
)");
  auto r = run_socstream("run " + (dir.path() / "topology.yaml").string(), "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(dir.path() / "good.jsonl"), "{\"a\":1}\n{\"a\":2}\n");
  std::string dlq = read_file(dir.path() / "dlq.jsonl");
  EXPECT_NE(dlq.find("\"reason\":\"line_too_long\""), std::string::npos) << dlq.substr(0, 300);
  EXPECT_NE(dlq.find("\"component\":\"in\""), std::string::npos);
}

// max_line_bytes bounds every line, however the reads cut it: a line over the
// limit that arrives whole in one read, one that spans many, and one the input
// ends inside, each dead-lettered with its real length; nothing else is lost.
TEST(BadInput, EveryOverlongLineIsDeadLetteredWithItsRealLength) {
  for (const char* buffer : {"256", "8MiB"}) {
    TempDir dir;
    dir.write("input.jsonl", "{\"a\":1}\n" + std::string(3000, 'x') + "\n{\"a\":2}\n" + std::string(1025, 'y') + "\n{\"a\":3}\n" +
                                 std::string(2048, 'z'));
    dir.write("topology.yaml", std::string(R"(sources:
  in: {type: file, path: input.jsonl, max_line_bytes: 1KiB, read_buffer_bytes: )") + buffer + R"(}
sinks:
  good: {type: file, inputs: [in], path: good.jsonl}
  dlq: {type: file, inputs: [in.dlq], path: dlq.jsonl}
)");
    auto r = run_socstream("run " + (dir.path() / "topology.yaml").string(), "");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read_file(dir.path() / "good.jsonl"), "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n") << "read_buffer_bytes " << buffer;
    const std::string dlq = read_file(dir.path() / "dlq.jsonl");
    EXPECT_EQ(std::count(dlq.begin(), dlq.end(), '\n'), 3) << dlq.substr(0, 600);
    for (const char* length : {"the line is 3000 bytes", "the line is 1025 bytes", "the line is 2048 bytes"})
      EXPECT_NE(dlq.find(length), std::string::npos) << buffer << ": " << length << "\n" << dlq.substr(0, 600);
  }
}

TEST(BadInput, ZeroBuffersAreConfigurationErrors) {
  TempDir dir;
  dir.write("topology.yaml", R"(sources:
  in: {type: file, path: input.jsonl, max_line_bytes: 0, read_buffer_bytes: 0}
sinks:
  out: {type: stdout, inputs: [in]}
)");
  auto r = run_socstream("validate " + (dir.path() / "topology.yaml").string(), "");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("topology.yaml:2:55: error: 'in': setting 'max_line_bytes': must be at least 1 byte"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("setting 'read_buffer_bytes': must be at least 1 byte"), std::string::npos) << r.err;
}
