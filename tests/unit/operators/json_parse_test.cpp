#include "operators/json_parse.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "tests/support/test_support.hpp"

using namespace socstream;
using namespace socstream::testing;

namespace {

struct Harness {
  TempDir dir;
  Diagnostics diag;
  std::unique_ptr<JsonParse> op;
  Arena arena;
  explicit Harness(const std::string& settings) {
    YAML::Node n = YAML::Load(settings);
    Settings s(n, "parse", "inline.yaml", dir.path(), &diag);
    op = std::make_unique<JsonParse>(s);
  }
  // Returns the reject reason, or "" when the event parsed.
  std::string parse(std::string_view raw, Event& e, bool padded = false) {
    std::string_view detail;
    const char* r = op->parse(raw, e, arena, detail, padded);
    if (r) {
      EXPECT_FALSE(detail.empty());
    }
    return r ? r : "";
  }
};

std::string value(const Event& e, std::string_view name) {
  const Field* f = e.field(name);
  return f ? std::string(f->value) : "<absent>";
}

}  // namespace

TEST(JsonParse, ExtractsFieldsByPointer) {
  Harness h(R"({fields: {ip: /source/ip, q: /url/query, status: /http/status, ok: /flags/ok, none: /flags/none,
               tag1: /tags/1, slash: /a~1b, tilde: /c~0d, obj: /nested, esc: /esc, missing: /nope/deeper}})");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  Event e;
  ASSERT_EQ(h.parse(R"({"source":{"ip":"10.0.0.1"},"url":{"query":"q=%27"},"http":{"status":404},
      "flags":{"ok":true,"none":null},"tags":["a","b","c"],"a/b":"slash","c~d":"tilde",
      "nested":{"x":[1, 2], "y":{}} ,"esc":"tab\tquote\"uA\u00e9"})",
                    e),
            "");
  EXPECT_EQ(value(e, "ip"), "10.0.0.1");
  EXPECT_EQ(value(e, "q"), "q=%27");
  EXPECT_EQ(value(e, "status"), "404");
  EXPECT_EQ(e.field("status")->kind, ValueKind::Number);
  EXPECT_EQ(value(e, "ok"), "true");
  EXPECT_EQ(e.field("ok")->kind, ValueKind::Bool);
  EXPECT_EQ(value(e, "none"), "null");
  EXPECT_EQ(value(e, "tag1"), "b");
  EXPECT_EQ(value(e, "slash"), "slash");
  EXPECT_EQ(value(e, "tilde"), "tilde");
  EXPECT_EQ(value(e, "obj"), R"({"x":[1,2],"y":{}})") << "objects and arrays are kept as minified JSON";
  EXPECT_EQ(e.field("obj")->kind, ValueKind::Json);
  EXPECT_EQ(value(e, "esc"), "tab\tquote\"uA\xc3\xa9");
  EXPECT_EQ(e.field("missing"), nullptr);
}

TEST(JsonParse, EscapedStringsWithAndWithoutPadding) {
  Harness h("{fields: {a: /a, b: /b, c: /c, d: /d, n: /n}}");
  for (bool padded : {false, true}) {
    std::string raw = R"({"a":"plain","b":"q\"uote","c":"back\\","d":"\\\"","n":-12.5e3})";
    raw.append(64, ' ');  // the padding a line source guarantees
    std::string_view view(raw.data(), raw.size() - 64);
    Event e;
    ASSERT_EQ(h.parse(view, e, padded), "");
    EXPECT_EQ(value(e, "a"), "plain");
    EXPECT_EQ(value(e, "b"), "q\"uote");
    EXPECT_EQ(value(e, "c"), "back\\");
    EXPECT_EQ(value(e, "d"), "\\\"");
    EXPECT_EQ(value(e, "n"), "-12500") << "numbers are written back, shortest form, from their parsed value";
  }
}

TEST(JsonParse, EveryDeadLetterReason) {
  Harness h("{fields: {a: /a}, max_bytes: 1000, max_depth: 16}");
  struct Case {
    std::string raw, reason;
  };
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < 40; ++i) deep += "}";
  const Case cases[] = {
      {"", "empty"},
      {"   \r", "empty"},
      {"{\"a\":\"" + std::string(2000, 'x') + "\"}", "too_large"},
      {"{\"a\":\"caf\xe9\"}", "invalid_utf8"},
      {"{\"b\":\"\xff\xfe\"}", "invalid_utf8"},
      {"{\"a\":1,}", "invalid_json"},
      {"{\"a\":tru}", "invalid_json"},
      {"{\"a\":1} trailing", "invalid_json"},
      {"{\"a\":1}{\"b\":2}", "invalid_json"},
      {"{\"a\":1} {}", "invalid_json"},
      {"[1] [2]", "invalid_json"},
      {"{\"a\":1}  \r", ""},
      {"{\"a\":\"\\q\"}", "invalid_json"},
      {"{\"b\":\"\\q\"}", "invalid_json"},  // a bad escape where no field is extracted is still caught
      {std::string("{\"a\":\"x\0y\"}", 11), "invalid_json"},
      {std::string("\0\0\0", 3), "invalid_utf8"},
      // A feed in another encoding is told apart from bad JSON.
      {std::string("\xff\xfe{\0\"\0a\0\"\0:\0\"\0x\0\"\0}\0", 20), "invalid_utf8"},  // UTF-16LE with BOM
      {std::string("{\0\"\0a\0\"\0:\0\"\0x\0\"\0}\0", 18), "invalid_utf8"},          // UTF-16LE
      {std::string("\0{\0\"\0a\0\"\0:\0\"\0x\0\"\0}", 18), "invalid_utf8"},          // UTF-16BE
      {std::string("\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00", 16), "invalid_utf8"},  // an ELF header
      {"{\"a\":01}", "invalid_json"},
      {"{\"a\":1.}", "invalid_json"},
      {"{\"a\":-}", "invalid_json"},
      {"hello world", "invalid_json"},
      {"{\"a\":1", "invalid_json"},
      {deep, "too_deep"},
      {"[1,2,3]", "not_object"},
      {"\"just a string\"", "not_object"},
      {"42", "not_object"},
      {"null", "not_object"},
      {"nope", "invalid_json"},
      {"[1,2,", "invalid_json"},
      {std::string(40, '[') + std::string(40, ']'), "too_deep"},
  };
  for (const auto& c : cases) {
    Event e;
    EXPECT_EQ(h.parse(c.raw, e), c.reason) << "input: " << c.raw.substr(0, 60);
    if (!c.reason.empty()) {
      EXPECT_TRUE(e.fields.empty()) << "a rejected event carries no fields";
    }
  }
}

// JSON allows numbers of any size; those beyond 64 bits or a double keep their text.
TEST(JsonParse, NumbersBeyondTheDomKeepTheirText) {
  Harness h("{fields: all}");
  Event e;
  EXPECT_EQ(h.parse(R"({"id":123456789012345678901234567890,"big":1e400,"neg":-98765432109876543210,"s":"1e400 ok","n":5})", e), "");
  EXPECT_EQ(value(e, "id"), "123456789012345678901234567890");
  EXPECT_EQ(value(e, "big"), "1e400");
  EXPECT_EQ(value(e, "neg"), "-98765432109876543210");
  EXPECT_EQ(value(e, "s"), "1e400 ok") << "a string that looks like one is untouched";
  EXPECT_EQ(value(e, "n"), "5");
  EXPECT_EQ(e.field("n")->kind, ValueKind::Number);
  Event bad;
  EXPECT_EQ(h.parse(R"({"a":1e400,"b":tru})", bad), "invalid_json") << "a big number does not excuse bad JSON";
  Event key;
  EXPECT_EQ(h.parse(R"({"a":1e400, 99999999999999999999999:1})", key), "invalid_json") << "a number where a key belongs";
  Event arr;
  EXPECT_EQ(h.parse(R"({"a":[1e400, 123456789012345678901234567890, 2]})", arr), "");
  EXPECT_EQ(value(arr, "a"), R"(["1e400","123456789012345678901234567890",2])");
}

TEST(JsonParse, RejectsBadPointers) {
  Harness h("{fields: {a: url/query, b: /x, c: /x, d: /y, e: /y/z}}");
  EXPECT_NE(h.diag.str().find("'a': 'url/query' is not a JSON pointer"), std::string::npos) << h.diag.str();
  EXPECT_NE(h.diag.str().find("'c' and 'b' name the same pointer /x"), std::string::npos) << h.diag.str();
  EXPECT_NE(h.diag.str().find("/y/z"), std::string::npos) << h.diag.str();
}

TEST(JsonParse, ProcessRoutesBadEventsToDlqWithReason) {
  Harness h("{fields: {a: /a}}");
  std::string c1 = "parse";
  Outputs out(&c1, h.op->output_ports());
  Channel ok(1000, 1 << 20), dlq(1000, 1 << 20);
  out.connect(0, &ok);
  out.connect(out.dlq_port(), &dlq);
  ok.add_producer();
  dlq.add_producer();
  Batch in;
  for (const char* raw : {"{\"a\":1}", "nope", "{\"a\":\"x\"}"}) {
    Event e;
    e.raw = raw;
    in.events.push_back(std::move(e));
  }
  h.op->process(std::move(in), out);
  Batch good, bad;
  ASSERT_EQ(ok.pop(good, Clock::now()), Channel::Pop::Item);
  ASSERT_EQ(dlq.pop(bad, Clock::now()), Channel::Pop::Item);
  ASSERT_EQ(good.size(), 2u);
  EXPECT_EQ(value(good.events[0], "a"), "1");
  EXPECT_EQ(value(good.events[1], "a"), "x");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad.events[0].raw, "nope");
  EXPECT_EQ(bad.events[0].error, "invalid_json");
  EXPECT_EQ(*bad.events[0].error_component, "parse");
}

TEST(JsonParse, AllFieldsFlattenedToDottedNames) {
  Harness h("{fields: all}");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  Event e;
  ASSERT_EQ(h.parse(R"({"Event":{"System":{"EventID":4688,"Channel":"Security","Empty":{}},"EventData":{"A":"x","N":null}},
                       "tags":["a",1],"ok":true})",
                    e),
            "");
  EXPECT_EQ(value(e, "Event.System.EventID"), "4688");
  EXPECT_EQ(e.field("Event.System.EventID")->kind, ValueKind::Number);
  EXPECT_EQ(value(e, "Event.System.Channel"), "Security");
  EXPECT_EQ(value(e, "Event.System.Empty"), "{}") << "an empty object stays a field, so exists sees it";
  EXPECT_EQ(value(e, "Event.EventData.A"), "x");
  EXPECT_EQ(e.field("Event.EventData.N")->kind, ValueKind::Null);
  EXPECT_EQ(value(e, "tags"), R"(["a",1])") << "arrays are kept as JSON";
  EXPECT_EQ(e.field("tags")->kind, ValueKind::Json);
  EXPECT_EQ(value(e, "ok"), "true");
  EXPECT_EQ(e.fields.size(), 7u);
}

TEST(JsonParse, DuplicateKeysAreRefusedOrResolvedAsConfigured) {
  // A repeated key, at any depth, or a dotted key colliding with a nested one:
  // readers disagree on which value wins, so by default the event is refused.
  for (const char* raw : {R"({"CommandLine":"benign","CommandLine":"evil -enc"})",
                          R"({"a":{"b":1,"c":2,"b":3}})", R"({"a.b":"x","a":{"b":"y"}})"}) {
    Harness h("{fields: all}");
    Event e;
    EXPECT_EQ(h.parse(raw, e), "duplicate_key") << raw;
    EXPECT_TRUE(e.fields.empty()) << "a refused event keeps no half-extracted fields";
  }
  Harness first("{fields: all, duplicate_keys: first}"), last("{fields: all, duplicate_keys: last}");
  Event f, l;
  const char* raw = R"({"x":1,"CommandLine":"benign","y":2,"CommandLine":"evil -enc","CommandLine":"third"})";
  ASSERT_EQ(first.parse(raw, f), "");
  ASSERT_EQ(last.parse(raw, l), "");
  EXPECT_EQ(value(f, "CommandLine"), "benign");
  EXPECT_EQ(value(l, "CommandLine"), "third");
  EXPECT_EQ(f.fields.size(), 3u);
  EXPECT_EQ(l.fields.size(), 3u);
  // With pointers, the extracted fields are checked.
  Harness ptr("{fields: {cmd: /CommandLine}}");
  Event p;
  EXPECT_EQ(ptr.parse(R"({"CommandLine":"benign","CommandLine":"evil"})", p), "duplicate_key");
  Event q;
  EXPECT_EQ(ptr.parse(R"({"CommandLine":"benign","other":1,"other":2})", q), "") << "keys nobody reads are not checked";
  Harness bad("{fields: everything}");
  EXPECT_FALSE(bad.diag.ok());
}

TEST(JsonParse, RepeatedObjectsAndCollidingShapesAreDuplicates) {
  for (const char* raw : {R"({"a":{"b":1},"a":{"c":2}})", R"({"a":"x","a":{"b":1}})", R"({"a":{"b":1},"a":"x"})"}) {
    Harness h("{fields: all}");
    Event e;
    EXPECT_EQ(h.parse(raw, e), "duplicate_key") << raw;
  }
  Harness first("{fields: all, duplicate_keys: first}");
  Event f;
  ASSERT_EQ(first.parse(R"({"a":{"b":1},"a":{"b":2,"c":3}})", f), "");
  EXPECT_EQ(value(f, "a.b"), "1");
  EXPECT_EQ(f.field("a.c"), nullptr) << "first: the later object is skipped whole";
}

TEST(JsonParse, NameBytesAreBounded) {
  // A long key over many short ones: every dotted name repeats the prefix.
  std::string raw = "{\"" + std::string(100000, 'k') + "\":{";
  for (int i = 0; i < 9000; ++i) raw += (i ? ",\"" : "\"") + std::to_string(i) + "\":0";
  raw += "}}";
  Harness h("{fields: all}");
  Event e;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(h.parse(raw, e), "too_large");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1)) << "refused before copying 900 MB of names";
  EXPECT_TRUE(e.fields.empty());
}

TEST(JsonParse, DuplicatesFoundOnceTheNameTableIsFull) {
  // 70,000 distinct names fill the interned table (65,536); later names are
  // kept per event, and a repeated key among them is still found.
  Harness h("{fields: all}");
  for (int batch = 0; batch < 7; ++batch) {
    std::string raw = "{";
    for (int i = 0; i < 10000; ++i) raw += (i ? ",\"n" : "\"n") + std::to_string(batch * 10000 + i) + "\":1";
    raw += "}";
    Event e;
    ASSERT_EQ(h.parse(raw, e), "");
    EXPECT_EQ(e.fields.size(), 10000u);
  }
  for (const char* raw : {R"({"fresh1":1,"fresh1":2})", R"({"fresh2":{"x":1},"fresh2":{"y":2}})"}) {
    Event e;
    EXPECT_EQ(h.parse(raw, e), "duplicate_key") << raw;
  }
  Event ok;
  EXPECT_EQ(h.parse(R"({"fresh3":1,"fresh4":{"a":2}})", ok), "");
  EXPECT_FALSE(ok.fields[0].interned) << "past the bound, names live in the batch's arena";
}
