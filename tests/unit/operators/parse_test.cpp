// The parse operator's formats, against the bundled samples' ground truth
// (written by their generators, not by re-parsing) and the corner cases of
// each format's specification.
#include "operators/parse.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/timestamp.hpp"
#include "operators/operators.hpp"
#include "operators/sigma/attack.hpp"
#include "tests/support/test_support.hpp"

using namespace socstream;
using namespace socstream::testing;

namespace {

// A format built from inline settings, with the clock pinned.
struct Rig {
  TempDir dir;
  Diagnostics diag;
  std::unique_ptr<parse::Format> format;
  FieldNames names{65536, 4u << 20};
  Arena arena;
  uint64_t seq = 0;
  std::deque<Event> events;
  std::string detail;
  std::optional<int64_t> time;
  std::map<std::string, ValueKind> kinds;

  Rig(const std::string& format_name, const std::string& settings = "{}", int64_t offset_ms = 0,
      int64_t now_ms = 1796083200000 /* 2026-12-01T00:00:00Z */) {
    YAML::Node n = YAML::Load(settings);
    Settings s(n, "parse", "inline.yaml", dir.path(), &diag);
    parse::Clock clock;
    clock.offset_ms = offset_ms;
    clock.fixed = now_ms;
    format = parse::make_format(s, format_name, clock);
  }
  // The fields of one line (empty map and detail set when it does not parse).
  std::map<std::string, std::string> fields(std::string_view line) {
    events.emplace_back();
    Event& e = events.back();
    parse::Output o(e, arena, names, ++seq);
    detail.clear();
    std::map<std::string, std::string> out;
    if (!format->parse(line, o, detail)) return out;
    if (o.duplicate) {
      detail = std::string("duplicate ") + o.duplicate;
      return out;
    }
    time = o.time;
    kinds.clear();
    for (const auto& f : e.fields) {
      out[std::string(f.name)] = std::string(f.value);
      kinds[std::string(f.name)] = f.kind;
    }
    return out;
  }
};

// The truth tables, with the reader the ATT&CK tables use (quotes, doubled quotes).
std::vector<std::vector<std::string>> read_csv(const std::filesystem::path& p) {
  return sigma::parse_csv(read_file(p));
}

std::vector<std::string> lines_of(const std::filesystem::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST(Parse, NginxCombinedAgainstTheSamplesTruth) {
  Rig r("nginx_combined");
  const auto dir = source_dir() / "config/samples";
  const auto lines = lines_of(dir / "nginx-access.log");
  auto truth = read_csv(dir / "nginx-access.truth.csv");
  ASSERT_EQ(truth.size(), lines.size() + 1);
  size_t parsed = 0, malformed = 0;
  for (size_t i = 1; i < truth.size(); ++i) {
    const auto& row = truth[i];
    const size_t line = std::stoul(row[0]);
    auto f = r.fields(lines[line]);
    if (row[1] == "malformed") {
      EXPECT_TRUE(f.empty()) << "line " << line << " is not combined format: " << lines[line];
      ++malformed;
      continue;
    }
    ASSERT_FALSE(f.empty()) << "line " << line << ": " << r.detail << "\n" << lines[line];
    ++parsed;
    ASSERT_TRUE(r.time);
    EXPECT_EQ(timestamp::rfc3339(*r.time).substr(0, 19), row[2].substr(0, 19)) << line;
    EXPECT_FALSE(f["source.address"].empty());
    EXPECT_EQ(f["http.response.status_code"].size(), 3u);
    if (!row[3].empty()) {
      EXPECT_NE(f["url.query"].find(row[3] + "="), std::string::npos) << line << ": " << row[3];
    }
  }
  EXPECT_EQ(malformed, 4u);
  EXPECT_EQ(parsed, 4996u);
}

TEST(Parse, AccessLogFields) {
  Rig r("apache_combined");
  auto f = r.fields(R"x(127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?a=1 HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)")x");
  EXPECT_EQ(f["source.ip"], "127.0.0.1");
  EXPECT_EQ(f["user.name"], "frank");
  EXPECT_EQ(f["http.request.method"], "GET");
  EXPECT_EQ(f["url.original"], "/apache_pb.gif?a=1");
  EXPECT_EQ(f["url.path"], "/apache_pb.gif");
  EXPECT_EQ(f["url.query"], "a=1");
  EXPECT_EQ(f["http.version"], "1.0");
  EXPECT_EQ(f["http.response.status_code"], "200");
  EXPECT_EQ(f["http.response.body.bytes"], "2326");
  EXPECT_EQ(f["http.request.referrer"], "http://www.example.com/start.html");
  EXPECT_EQ(f["user_agent.original"], "Mozilla/4.08 [en] (Win98; I ;Nav)");
  EXPECT_EQ(timestamp::rfc3339(*r.time), "2000-10-10T20:55:36.000Z") << "the line's own zone";
  auto q = r.fields(R"(10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /\"quoted\" HTTP/1.1" 404 - "-" "-")");
  EXPECT_EQ(q["url.original"], R"(/\"quoted\")") << "Apache's \\\" inside a field, kept as sent";
  EXPECT_EQ(q.count("http.response.body.bytes"), 0u) << "- is no value";
  EXPECT_EQ(q.count("user_agent.original"), 0u);
  // An escaped backslash does not escape the quote after it; an escaped quote does not close.
  auto b = r.fields(R"(h - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "a\\" "b\" \\\" c")");
  EXPECT_EQ(b["http.request.referrer"], R"(a\\)");
  EXPECT_EQ(b["user_agent.original"], R"(b\" \\\" c)");
  Rig common("apache_common");
  EXPECT_FALSE(common.fields(R"(h - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5)").empty());
  EXPECT_TRUE(common.fields(R"(h - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "x" "y")").empty())
      << "more than the format is not the format";
  EXPECT_TRUE(r.fields(R"(h - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 2000 5 "-" "-")").empty());
  EXPECT_TRUE(r.fields(R"(h - - [32/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "-")").empty());
}

TEST(Parse, SyslogAgainstTheSamplesTruth) {
  // RFC 3164 lines have no year and no zone: the generator wrote 2026 at +01:00.
  Rig r("syslog", "{}", 3'600'000);
  const auto dir = source_dir() / "config/samples";
  const auto lines = lines_of(dir / "syslog.log");
  auto truth = read_csv(dir / "syslog.truth.csv");
  ASSERT_EQ(truth.size(), lines.size() + 1);
  simdjson::dom::parser p;
  size_t checked = 0;
  for (size_t i = 1; i < truth.size(); ++i) {
    const auto& row = truth[i];  // line,format,timestamp,hostname,app_name,pid,msgid,structured_data,pri,message,scenario
    const size_t line = std::stoul(row[0]);
    auto f = r.fields(lines[line]);
    ASSERT_FALSE(f.empty()) << "line " << line << ": " << r.detail << "\n" << lines[line];
    if (row[2].empty()) {
      EXPECT_FALSE(r.time) << line;
    } else {
      ASSERT_TRUE(r.time) << line;
      EXPECT_EQ(*r.time, timestamp::parse_iso8601(row[2]).value_or(-1)) << line << " " << row[2];
    }
    EXPECT_EQ(f["host.hostname"], row[3]) << line;
    EXPECT_EQ(f["process.name"], row[4]) << line;
    EXPECT_EQ(f["process.pid"], row[5]) << line;
    EXPECT_EQ(f["log.syslog.msgid"], row[6]) << line;
    EXPECT_EQ(f["log.syslog.priority"], row[8]) << line;
    EXPECT_EQ(f["message"], row[9]) << line;
    size_t sd = 0;
    if (!row[7].empty()) {
      simdjson::dom::object o = p.parse(row[7]);
      for (auto [id, params] : o)
        for (auto [name, value] : simdjson::dom::object(params)) {
          const std::string key = "log.syslog.structured_data." + std::string(id) + "." + std::string(name);
          EXPECT_EQ(f[key], std::string_view(value)) << line << " " << key;
          ++sd;
        }
    }
    size_t sd_fields = 0;
    for (const auto& [k, v] : f) sd_fields += k.rfind("log.syslog.structured_data.", 0) == 0;
    EXPECT_EQ(sd_fields, sd) << line;
    ++checked;
  }
  EXPECT_GT(checked, 2000u);
}

TEST(Parse, SyslogCornerCases) {
  Rig r("syslog", "{}", 0, 1796083200000);  // 2026-12-01
  auto a = r.fields("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8");
  EXPECT_EQ(a["log.syslog.facility.code"], "4");
  EXPECT_EQ(a["log.syslog.severity.code"], "2");
  EXPECT_EQ(a["process.name"], "su");
  EXPECT_EQ(a.count("process.pid"), 0u);
  EXPECT_EQ(timestamp::rfc3339(*r.time), "2026-10-11T22:14:15.000Z");
  Rig jan("syslog", "{}", 0, 1798761600000);  // 2027-01-01: a December line is last year's
  jan.fields("<13>Dec 31 23:59:59 host app[1]: x");
  EXPECT_EQ(timestamp::rfc3339(*jan.time), "2026-12-31T23:59:59.000Z");
  auto nopri = r.fields("Nov 30 10:00:00 host sshd[22]: Accepted publickey for bob");
  EXPECT_EQ(nopri["process.pid"], "22");
  EXPECT_EQ(nopri["message"], "Accepted publickey for bob");
  auto nohost = r.fields("<13>Nov 30 10:00:00 sshd[22]: no host");
  EXPECT_EQ(nohost.count("host.hostname"), 0u);
  EXPECT_EQ(nohost["process.name"], "sshd");
  auto five = r.fields(R"(<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="App\"lication" eventID="1011"][examplePriority@32473 class="high"] An application event)");
  EXPECT_EQ(five["log.syslog.structured_data.exampleSDID@32473.eventSource"], "App\"lication");
  EXPECT_EQ(five["log.syslog.structured_data.examplePriority@32473.class"], "high");
  EXPECT_EQ(five["log.syslog.msgid"], "ID47");
  EXPECT_EQ(five["message"], "An application event");
  EXPECT_TRUE(r.fields(R"(<165>1 2003-10-11T22:14:15.003Z host app - - [id a="1"][id a="2"] m)").empty())
      << "a parameter named twice: " << r.detail;
  EXPECT_TRUE(r.fields("<999>Oct 11 22:14:15 host x: y").empty());
  EXPECT_TRUE(r.fields("not syslog at all").empty());
  EXPECT_TRUE(r.fields(R"(<1>1 2003-10-11T22:14:15Z h a - - [unclosed a="1" m)").empty());
}

TEST(Parse, CefAndLeef) {
  Rig cef("cef");
  auto f = cef.fields(R"(Sep 19 08:26:10 host CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232 msg=Detected a threat. No action needed. act=blocked a \= b rt=1552032000000)");
  EXPECT_EQ(f["observer.vendor"], "Security");
  EXPECT_EQ(f["observer.product"], "threatmanager");
  EXPECT_EQ(f["event.code"], "100");
  EXPECT_EQ(f["event.severity"], "10");
  EXPECT_EQ(f["source.ip"], "10.0.0.1");
  EXPECT_EQ(f["destination.ip"], "2.1.2.2");
  EXPECT_EQ(f["source.port"], "1232");
  EXPECT_EQ(f["message"], "Detected a threat. No action needed.") << "a value runs to the next key=";
  EXPECT_EQ(f["event.action"], "blocked a = b") << "\\= is an equals sign";
  EXPECT_EQ(f["cef.extensions.spt"], "1232");
  EXPECT_EQ(timestamp::rfc3339(*cef.time), "2019-03-08T08:00:00.000Z");
  auto pipes = cef.fields(R"(CEF:0|Vendor \| Inc|Prod\\uct|1|sig|name|Low|)");
  EXPECT_EQ(pipes["observer.vendor"], "Vendor | Inc");
  EXPECT_EQ(pipes["observer.product"], "Prod\\uct");
  EXPECT_EQ(pipes["cef.severity"], "Low");
  EXPECT_EQ(pipes["message"], "name");
  EXPECT_TRUE(cef.fields("CEF:0|a|b|c|d|e").empty()) << "too few header fields";
  EXPECT_TRUE(cef.fields("CEF:0|a|b|c|d|e|1|src=1 src=2").empty()) << "a key named twice: " << cef.detail;

  Rig leef("leef");
  auto l = leef.fields("LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.0\tdst=172.50.123.1\tsev=5\tcat=anomaly\tusrName=bob");
  EXPECT_EQ(l["observer.vendor"], "Microsoft");
  EXPECT_EQ(l["event.code"], "15345");
  EXPECT_EQ(l["source.ip"], "192.0.2.0");
  EXPECT_EQ(l["user.name"], "bob");
  EXPECT_EQ(l["leef.extensions.cat"], "anomaly");
  auto l2 = leef.fields("LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^devTime=Jan 20 2021 13:28:48^devTimeFormat=MMM dd yyyy HH:mm:ss");
  EXPECT_EQ(l2["destination.ip"], "10.0.0.5");
  ASSERT_TRUE(leef.time);
  EXPECT_EQ(timestamp::rfc3339(*leef.time), "2021-01-20T13:28:48.000Z");
  auto hex = leef.fields("LEEF:2.0|V|P|1|E|x09|src=1.2.3.4\tdst=5.6.7.8");
  EXPECT_EQ(hex["destination.ip"], "5.6.7.8");
}

TEST(Parse, KeyValueAndCsv) {
  Rig kv("key_value");
  auto f = kv.fields(R"(level=info msg="user logged in \"twice\"" user=bob latency_ms=12 admin)");
  EXPECT_EQ(f["level"], "info");
  EXPECT_EQ(f["msg"], "user logged in \"twice\"");
  EXPECT_EQ(f["latency_ms"], "12");
  EXPECT_EQ(f["admin"], "true") << "a bare key is true";
  EXPECT_TRUE(kv.fields(R"(a=1 a=2)").empty()) << kv.detail;
  EXPECT_TRUE(kv.fields(R"(msg="unclosed)").empty());
  Rig pref("key_value", "{prefix: kv., field_split: ';', value_split: ':'}");
  auto p = pref.fields("a:1;b:two words");
  EXPECT_EQ(p["kv.a"], "1");
  EXPECT_EQ(p["kv.b"], "two words");

  Rig csv("csv", "{columns: [time, src, action, note]}");
  auto c = csv.fields(R"(2026-11-30T10:00:00Z,10.0.0.1,"deny","said ""no"", twice")");
  EXPECT_EQ(c["src"], "10.0.0.1");
  EXPECT_EQ(c["action"], "deny");
  EXPECT_EQ(c["note"], "said \"no\", twice");
  EXPECT_TRUE(csv.fields("a,b,c,d,e").empty()) << "more values than columns";
  EXPECT_TRUE(csv.fields(R"(a,"unclosed,b)").empty());
  Rig header("csv", "{header: true, delimiter: ';'}");
  EXPECT_TRUE(header.fields("name;ip").empty()) << "the header names the columns";
  auto h = header.fields("web01;10.0.0.7");
  EXPECT_EQ(h["ip"], "10.0.0.7");
}

TEST(Parse, RegexAndGrok) {
  Rig re("regex", R"({pattern: '(?P<source__ip>\S+) (?<user__name>\w+) (?P<n>\d+)', types: {n: number}})");
  auto f = re.fields("10.1.2.3 alice 42");
  EXPECT_EQ(f["source.ip"], "10.1.2.3") << "__ is a dot";
  EXPECT_EQ(f["user.name"], "alice") << "(?<name>) is taken as (?P<name>)";
  EXPECT_EQ(f["n"], "42");
  EXPECT_TRUE(re.fields("10.1.2.3 alice 42 more").empty()) << "the whole line must match";
  Rig bad("regex", "{pattern: '(?<=x)y'}");
  EXPECT_FALSE(bad.diag.ok()) << "RE2 refuses lookbehind, with its message";

  // The standard library's combined log pattern gives what the hand-written reader gives.
  Rig grok("grok", "{pattern: '%{HTTPD_COMBINEDLOG}'}");
  ASSERT_TRUE(grok.diag.ok()) << grok.diag.str();
  Rig nginx("nginx_combined");
  const auto lines = lines_of(source_dir() / "config/samples/nginx-access.log");
  size_t compared = 0;
  for (size_t i = 0; i < lines.size(); i += 7) {
    auto g = grok.fields(lines[i]);
    auto n = nginx.fields(lines[i]);
    if (n.empty()) continue;
    ASSERT_FALSE(g.empty()) << lines[i];
    EXPECT_EQ(g["source.address"], n["source.address"]) << lines[i];
    EXPECT_EQ(g["http.request.method"], n["http.request.method"]) << lines[i];
    EXPECT_EQ(g["url.original"], n["url.original"]) << lines[i];
    EXPECT_EQ(g["http.response.status_code"], n["http.response.status_code"]) << lines[i];
    EXPECT_EQ(g["user_agent.original"], n["user_agent.original"]) << lines[i];
    ++compared;
  }
  EXPECT_GT(compared, 600u);
  Rig unknown("grok", "{pattern: '%{NO_SUCH_PATTERN:x}'}");
  EXPECT_NE(unknown.diag.str().find("unknown grok pattern %{NO_SUCH_PATTERN}"), std::string::npos) << unknown.diag.str();
  Rig look("grok", "{pattern: '%{IPV4:ip}', grok_re2_overrides: false}");
  EXPECT_NE(look.diag.str().find("lookaround"), std::string::npos) << "refused by name, not changed: " << look.diag.str();
  Rig custom("grok", "{pattern: '%{TICKET:ticket} by %{USERNAME:user}', patterns: {TICKET: 'T-[0-9]+'}}");
  auto t = custom.fields("T-1234 by bob");
  EXPECT_EQ(t["ticket"], "T-1234");
}

TEST(Parse, OperatorRoutesAndMaps) {
  TempDir dir;
  Diagnostics diag;
  YAML::Node n = YAML::Load(R"({format: key_value, timestamp_field: ts, timezone: "+02:00",
                                rename: {src: source.ip}, set: {event.dataset: app.kv}, drop: [secret]})");
  Settings s(n, "parse", "inline.yaml", dir.path(), &diag);
  s.check(parse_spec().settings);
  ParseOp op(s);
  ASSERT_TRUE(diag.ok()) << diag.str();
  std::string name = "parse";
  Outputs out(&name, op.output_ports());
  Channel ok{1000, 1 << 20}, dlq{1000, 1 << 20};
  out.connect(0, &ok);
  out.connect(1, &dlq);
  static const std::string source = "in";
  Batch b = make_batch(&source, {{}, {}, {}, {}});
  const std::string raw[] = {"ts=\"2026-11-30 10:00:00\" source.ip=9.9.9.9 src=10.0.0.1 secret=x message=hi", "ts=yesterday src=1",
                             "no pairs here", "a=1 a=2"};
  for (size_t i = 0; i < 4; ++i) b.events[i].raw = raw[i];
  op.process(std::move(b), out);
  std::vector<Batch> kept;
  auto good = drain(ok, kept);
  ASSERT_EQ(good.size(), 1u);
  EXPECT_EQ(field_of(good[0], "@timestamp"), "2026-11-30T08:00:00.000Z") << "a zone-less time in the operator's zone";
  EXPECT_EQ(field_of(good[0], "source.ip"), "10.0.0.1");
  EXPECT_EQ(std::count_if(good[0].fields.begin(), good[0].fields.end(), [](const Field& f) { return f.name == "source.ip"; }), 1)
      << "the renamed value replaces the field of that name, never two of one name";
  EXPECT_EQ(field_of(good[0], "event.dataset"), "app.kv");
  EXPECT_EQ(field_of(good[0], "secret"), "<none>");
  auto bad = drain(dlq, kept);
  ASSERT_EQ(bad.size(), 3u);
  EXPECT_EQ(bad[0].error, "bad_timestamp");
  EXPECT_EQ(bad[1].error, "no_match");
  EXPECT_NE(std::string(bad[1].error_detail).find("format key_value"), std::string::npos);
  EXPECT_EQ(bad[2].error, "duplicate_key");
  for (auto& e : good) e.ack.complete();
}

// Lines shaped to break a parser, and values that must not become bad JSON.
TEST(Parse, HostileLinesAndValues) {
  // A LEEF 2.0 delimiter that is no character or hex code is the line's fault: no_match, never an exception.
  Rig leef("leef");
  for (const char* d : {"xyz", "0x", "x123", "0xZZ", "x00", "ab"}) {
    EXPECT_TRUE(leef.fields(std::string("LEEF:2.0|V|P|1|E|") + d + "|src=1.2.3.4").empty()) << d;
    EXPECT_NE(leef.detail.find("delimiter"), std::string::npos) << d << ": " << leef.detail;
  }
  EXPECT_EQ(leef.fields("LEEF:2.0|V|P|1|E|0x5E|src=1.2.3.4^dst=5.6.7.8")["destination.ip"], "5.6.7.8");

  // CEF and LEEF times without a zone are in the operator's timezone, like every other format's.
  Rig cef("cef", "{}", 3'600'000);
  cef.fields("CEF:0|a|b|c|d|e|1|rt=Mar 08 2019 08:00:00 src=10.0.0.1");
  ASSERT_TRUE(cef.time);
  EXPECT_EQ(timestamp::rfc3339(*cef.time), "2019-03-08T07:00:00.000Z");

  // Numbers are written into JSON as they are: only JSON numbers are numbers.
  EXPECT_EQ(parse::Output::number_or_string("007"), ValueKind::String);
  EXPECT_EQ(parse::Output::number_or_string("+1"), ValueKind::String);
  EXPECT_EQ(parse::Output::number_or_string("1."), ValueKind::String);
  EXPECT_EQ(parse::Output::number_or_string("-"), ValueKind::String);
  EXPECT_EQ(parse::Output::number_or_string("0x1F"), ValueKind::String);
  EXPECT_EQ(parse::Output::number_or_string("-12"), ValueKind::Number);
  EXPECT_EQ(parse::Output::number_or_string("1.5e3"), ValueKind::Number);
  EXPECT_EQ(parse::Output::number_or_string("0"), ValueKind::Number);
  Rig access("apache_combined");
  access.fields(R"(h - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 0042 "-" "-")");
  EXPECT_EQ(access.kinds["http.response.body.bytes"], ValueKind::String) << "0042 is no JSON number";
  EXPECT_EQ(access.kinds["http.response.status_code"], ValueKind::Number);
  Rig typed("regex", R"({pattern: '(?P<a>\S+) (?P<b>\S+)', types: {a: number, b: number}})");
  typed.fields("-1.5 007");
  EXPECT_EQ(typed.kinds["a"], ValueKind::Number) << "a float, negative, typed number";
  EXPECT_EQ(typed.kinds["b"], ValueKind::String);

  // A CSV header that names a column twice: which value a reader takes would be the sender's choice.
  Rig header("csv", "{header: true}");
  EXPECT_TRUE(header.fields("ip,user,ip").empty());
  EXPECT_TRUE(header.fields("10.0.0.1,bob,10.6.6.6").empty());
  EXPECT_NE(header.detail.find("duplicate ip"), std::string::npos) << header.detail;
  Rig columns("csv", "{columns: [ip, user, ip]}");
  EXPECT_FALSE(columns.diag.ok()) << "columns named twice are a configuration error";

  // One field named by two groups that both matched is a duplicate; by alternatives, one of which matched, fine.
  Rig twice("grok", "{pattern: '%{WORD:f} %{WORD:f}'}");
  ASSERT_TRUE(twice.diag.ok()) << twice.diag.str();
  EXPECT_TRUE(twice.fields("a b").empty());
  EXPECT_EQ(twice.detail, "duplicate f");
  Rig either("grok", "{pattern: '(?:%{INT:f}|%{WORD:f}) %{WORD:g}'}");
  ASSERT_TRUE(either.diag.ok()) << either.diag.str();
  EXPECT_EQ(either.fields("12 x")["f"], "12") << either.detail;
  EXPECT_EQ(either.fields("ab x")["f"], "ab") << either.detail;

  // No 31 February: a date that does not exist is not moved to March.
  EXPECT_FALSE(timestamp::parse_clf("31/Feb/2000:13:55:36 +0000"));
  EXPECT_TRUE(timestamp::parse_clf("29/Feb/2000:13:55:36 +0000"));
  EXPECT_FALSE(timestamp::parse_clf("29/Feb/1900:13:55:36 +0000"));
  EXPECT_FALSE(timestamp::parse_iso8601("2026-04-31T00:00:00Z"));
  EXPECT_FALSE(timestamp::parse_iso8601("2026-04-30T24:59:00Z"));
  EXPECT_FALSE(timestamp::parse_format("Feb 31 2019 08:00:00", "%b %d %Y %H:%M:%S", 0)) << "strptime takes %d to 31";
  const int64_t dec_2026 = 1796083200000;  // no leap year within one of 2026
  EXPECT_FALSE(timestamp::parse_bsd("Feb 29 10:00:00", dec_2026, 0)) << "not 1 March";
  ASSERT_TRUE(timestamp::parse_bsd("Feb 29 10:00:00", 1709251200000 /* 2024-03-01 */, 0));
  EXPECT_EQ(timestamp::rfc3339(*timestamp::parse_bsd("Feb 29 10:00:00", 1709251200000, 0)), "2024-02-29T10:00:00.000Z");
}
