// The parse operator, format by format, against the same run's line-splitting
// ceiling: what a line source does for every line before any parser runs
// (find the newline, make an event whose raw bytes are the line, batch it, hand
// the batch on). Each benchmark runs batches of 1,024 lines through
// ParseOp::process, as the runtime does, on lines of about 200 bytes:
//   apache_combined, nginx_combined, grok (%{COMBINEDAPACHELOG}) and regex
//     (the same fields as named groups; and four of them): the bundled nginx
//     sample's lines;
//   syslog: the bundled syslog sample (RFC 3164 and 5424);
//   key_value, cef, leef, csv: lines made here from a fixed seed, firewall
//     and IDS records shaped as those products write them.
// Counters: lines/s (items), bytes/s, `rejected` (must be 0: a line that went
// to the dead-letter port did not pay for a whole parse).
#include <benchmark/benchmark.h>

#include <cstring>
#include <fstream>
#include <random>

#include "engine/component.hpp"
#include "operators/parse.hpp"

using namespace socstream;

namespace {

std::vector<std::string> read_lines(const char* name) {
  std::vector<std::string> v;
  std::ifstream in(std::string(SOCSTREAM_SOURCE_DIR) + "/config/samples/" + name);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

// The nginx sample's requests: less the lines that are not combined format on
// purpose, and the two without a request line (a 400 and a TLS handshake),
// which the regex below does not cover.
std::vector<std::string> access_lines() {
  std::vector<std::string> v;
  for (auto& l : read_lines("nginx-access.log"))
    if (l.find(" HTTP/") != std::string::npos && l.back() == '"' && l.find("[error]") == std::string::npos)
      v.push_back(l);
  return v;
}

std::string ip(std::mt19937& r) {
  return "10." + std::to_string(r() % 256) + "." + std::to_string(r() % 256) + "." + std::to_string(r() % 254 + 1);
}

std::vector<std::string> made_lines(const std::string& kind) {
  std::mt19937 r(20261130);
  const char* actions[] = {"allow", "deny", "drop", "reset"};
  const char* apps[] = {"ssl", "web-browsing", "dns", "ms-rdp", "smb", "ssh"};
  const char* users[] = {"alice", "bob", "svc_backup", "carol", "dave"};
  std::vector<std::string> v;
  for (int i = 0; i < 5000; ++i) {
    const std::string src = ip(r), dst = ip(r), sport = std::to_string(1024 + r() % 60000),
                      dport = std::to_string(r() % 2 ? 443 : 1 + r() % 1024), bytes = std::to_string(r() % 900000),
                      act = actions[r() % 4], app = apps[r() % 6], user = users[r() % 5];
    const std::string ts = "2026-11-30T22:" + std::to_string(10 + r() % 50) + ":" + std::to_string(10 + r() % 50) + "Z";
    if (kind == "key_value") {
      v.push_back("ts=" + ts + " level=info src=" + src + " spt=" + sport + " dst=" + dst + " dpt=" + dport +
                  " proto=tcp app=" + app + " action=" + act + " user=" + user + " bytes=" + bytes +
                  " rule=\"outbound " + app + " policy\" msg=\"session end, reason \\\"aged-out\\\"\"");
    } else if (kind == "cef") {
      v.push_back("CEF:0|Palo Alto Networks|PAN-OS|10.2|end|TRAFFIC|3|rt=1796076000000 src=" + src + " dst=" + dst +
                  " spt=" + sport + " dpt=" + dport + " proto=TCP act=" + act + " suser=" + user + " app=" + app +
                  " out=" + bytes + " msg=session end a\\=b cs1Label=Rule cs1=outbound-" + app);
    } else if (kind == "leef") {
      v.push_back("LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=" + src + "^dst=" + dst + "^srcPort=" + sport +
                  "^dstPort=" + dport + "^proto=tcp^usrName=" + user + "^sev=5^action=" + act + "^app=" + app +
                  "^bytes=" + bytes + "^devTime=" + ts + "^msg=flow ended after idle timeout");
    } else {  // csv
      v.push_back(ts + "," + src + "," + sport + "," + dst + "," + dport + ",tcp," + app + "," + act + "," + user +
                  "," + bytes + ",\"outbound " + app + ", default policy\",\"session end, reason aged-out\"");
    }
  }
  return v;
}

struct Format {
  const char* name;
  std::string settings;
  std::vector<std::string> (*lines)();
};

const std::string kCombinedRegex =
    R"x('(?P<source__ip>\S+) \S+ (?P<user__name>\S+) \[(?P<time>[^\]]+)\] "(?P<http__request__method>\S+) )x"
    R"x((?P<url__original>\S+) HTTP/(?P<http__version>[^"]+)" (?P<http__response__status_code>\d{3}) )x"
    R"x((?P<http__response__body__bytes>\d+|-) "(?P<http__request__referrer>[^"]*)" "(?P<user_agent__original>[^"]*)"')x";

// Four groups: RE2 extracts up to four with its one-pass matcher, more by backtracking (BitState).
const std::string kFourGroupRegex =
    R"x('(?P<source__ip>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<http__request__method>\S+) (?P<url__original>\S+) [^"]*" .*')x";

const std::vector<Format>& formats() {
  static const std::vector<Format> f{
      {"apache_combined", "{format: apache_combined}", access_lines},
      {"nginx_combined", "{format: nginx_combined}", access_lines},
      {"regex", "{format: regex, timestamp_field: time, timestamp_format: '%d/%b/%Y:%H:%M:%S %z', pattern: " +
                    kCombinedRegex + "}",
       access_lines},
      {"regex_4_groups", "{format: regex, timestamp_field: time, timestamp_format: '%d/%b/%Y:%H:%M:%S %z', pattern: " +
                             kFourGroupRegex + "}",
       access_lines},
      {"grok", "{format: grok, pattern: '%{COMBINEDAPACHELOG}'}", access_lines},
      {"syslog", "{format: syslog}", [] { return read_lines("syslog.log"); }},
      {"key_value", "{format: key_value, timestamp_field: ts}", [] { return made_lines("key_value"); }},
      {"cef", "{format: cef}", [] { return made_lines("cef"); }},
      {"leef", "{format: leef}", [] { return made_lines("leef"); }},
      {"csv", "{format: csv, timestamp_field: ts, columns: [ts, source.ip, source.port, destination.ip, "
              "destination.port, network.transport, network.application, event.action, user.name, "
              "destination.bytes, rule.name, message]}",
       [] { return made_lines("csv"); }},
  };
  return f;
}

// The lines in one buffer, as a line source holds them, with the newlines.
struct Input {
  std::string buffer;
  size_t lines = 0;
  explicit Input(const std::vector<std::string>& v) {
    for (const auto& l : v) buffer += l + "\n";
    buffer.append(Batch::kRawPadding, ' ');
    lines = v.size();
  }
};

// Splits up to n lines from `at` into a batch of events, wrapping at the end of the buffer.
Batch split(const Input& in, size_t& at, size_t n) {
  Batch b;
  b.events.reserve(n);
  const char* base = in.buffer.data();
  const size_t end = in.buffer.size() - Batch::kRawPadding;
  for (size_t i = 0; i < n; ++i) {
    if (at >= end) at = 0;
    const char* nl = static_cast<const char*>(std::memchr(base + at, '\n', end - at));
    const size_t len = static_cast<size_t>(nl - (base + at));
    Event e;
    e.raw = std::string_view(base + at, len);
    e.pos.offset = static_cast<int64_t>(at);
    b.events.push_back(std::move(e));
    at += len + 1;
  }
  b.raw_padded = true;
  return b;
}

constexpr size_t kBatch = 1024;

void counters(benchmark::State& st, size_t lines, size_t bytes) {
  st.SetItemsProcessed(static_cast<int64_t>(lines));
  st.SetBytesProcessed(static_cast<int64_t>(bytes));
}

void BM_Ceiling_LineSplitting(benchmark::State& st) {
  const Input in(access_lines());
  const std::string name = "split";
  Outputs out(&name, {"", "dlq"});
  size_t at = 0, lines = 0, bytes = 0;
  for (auto _ : st) {
    Batch b = split(in, at, kBatch);
    lines += b.size();
    bytes += b.bytes();
    out.emit(0, std::move(b));
  }
  counters(st, lines, bytes);
}
BENCHMARK(BM_Ceiling_LineSplitting);

void BM_Parse(benchmark::State& st, const Format* f) {
  const Input in(f->lines());
  Diagnostics diag;
  Settings s(YAML::Load(f->settings), "parse", "bench", SOCSTREAM_SOURCE_DIR, &diag);
  ParseOp op(s);
  if (!diag.ok()) {
    st.SkipWithError(diag.str().c_str());
    return;
  }
  const std::string name = "parse";
  Outputs out(&name, op.output_ports());
  size_t at = 0, lines = 0, bytes = 0;
  for (auto _ : st) {
    Batch b = split(in, at, kBatch);
    lines += b.size();
    bytes += b.bytes();
    op.process(std::move(b), out);
  }
  counters(st, lines, bytes);
  st.counters["rejected"] = static_cast<double>(out.dead_lettered());
  st.counters["bytes_per_line"] = static_cast<double>(in.buffer.size() - Batch::kRawPadding) / static_cast<double>(in.lines) - 1;
}

const bool registered = [] {
  for (const auto& f : formats()) benchmark::RegisterBenchmark(("BM_Parse/" + std::string(f.name)).c_str(), BM_Parse, &f);
  return true;
}();

}  // namespace
