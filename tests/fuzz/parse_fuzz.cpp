// The `parse` operator (operators/parse.cpp, operators/parse/*.cpp): every
// text log format. The first byte picks a configuration (format and settings,
// kSetups below); the rest is a log, one event per line, run through the
// operator as a line source would give it. Checked: every line leaves exactly
// once, parsed or as a dead letter with a reason, and what the engine writes
// of it (its fields, its dead-letter record) is JSON.
#include "operators/operators.hpp"
#include "operators/parse.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace socstream;
using namespace socstream::fuzz;

namespace {

// Settings for `type: parse`. The index is the input's first byte (modulo the count).
const char* const kSetups[] = {
    // 0
    R"x({format: regex, pattern: '(?P<source__ip>\S+) (?<user__name>\S+) \[(?P<ts>[^\]]+)\] "(?P<message>[^"]*)" (?P<n>-?\d+(?:\.\d+)?)',
        types: {n: number}, timestamp_field: ts})x",
    // 1: the ECS library's Apache pattern
    "{format: grok, pattern: '%{HTTPD_COMBINEDLOG}'}",
    // 2: the legacy library, typed conversions, patterns of one's own
    R"({format: grok, grok_library: legacy, pattern: '%{TICKET:ticket} %{IP:ip} %{NUMBER:n:int} %{NUMBER:f:float} %{GREEDYDATA:rest}',
        patterns: {TICKET: 'T-[0-9]+'}})",
    // 3
    "{format: syslog, timezone: '+01:00'}",
    // 4
    "{format: apache_common}",
    // 5
    "{format: apache_combined, timezone: local}",
    // 6
    "{format: nginx_combined}",
    // 7
    "{format: cef, timezone: '-05:30'}",
    // 8
    "{format: leef}",
    // 9: with the time read from a field in any common form, and the mapping steps
    R"({format: key_value, timestamp_field: ts, rename: {src: source.ip, dst: source.ip}, set: {event.dataset: fuzz.kv},
        drop: [secret]})",
    // 10
    R"({format: key_value, field_split: ',;', value_split: ':', prefix: 'kv.', timestamp_field: time,
        timestamp_format: '%Y-%m-%d %H:%M:%S'})",
    // 11
    "{format: csv, columns: [a, b, c, '@timestamp'], delimiter: ';'}",
    // 12: the header is the first line (a new operator for each input: it keeps the header)
    "{format: csv, header: true, timestamp_field: time}",
    // 13: grok's syslog line
    "{format: grok, pattern: '%{SYSLOGLINE}'}",
};
constexpr size_t kCount = sizeof kSetups / sizeof kSetups[0];
constexpr size_t kStateful = 12;

std::unique_ptr<ParseOp> make(size_t i) {
  Config c(kSetups[i], "parse", scratch_dir());
  c.settings->check(parse_spec().settings);
  auto op = std::make_unique<ParseOp>(*c.settings);
  FUZZ_CHECK(c.diag.ok(), std::string(kSetups[i]) + ": " + c.diag.str());
  return op;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Grok and regex compile once: built on first use, kept for the process.
  static std::unique_ptr<ParseOp> ops[kCount];
  if (size == 0) return 0;
  const size_t which = data[0] % kCount;
  std::unique_ptr<ParseOp> fresh;
  ParseOp* op;
  if (which == kStateful) {
    fresh = make(which);
    op = fresh.get();
  } else {
    if (!ops[which]) ops[which] = make(which);
    op = ops[which].get();
  }
  static const std::string source = "fuzz";
  Routed r;
  run(*op, lines_batch(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), &source), r);
  for (const auto& port : r.events)
    for (const auto& e : port) check_event_json(e);
  return 0;
}
