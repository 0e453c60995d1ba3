// json_parse against the ceilings measured in the same run: simdjson's DOM
// parser (full validation, builds a tape) and a lazy On-Demand lookup of the
// same pointers (no full validation: what the operator would cost if it
// trusted its input).
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include "bench/micro/bench_data.hpp"
#include "operators/json_parse.hpp"

using namespace socstream;

namespace {

const char* kFields = R"({fields: {timestamp: /@timestamp, source_ip: /source/ip, method: /http/request/method,
  path: /url/path, query: /url/query, user_agent: /user_agent/original, status: /http/response/status_code}})";
const char* kPointers[] = {"/@timestamp", "/source/ip", "/http/request/method", "/url/path", "/url/query",
                           "/user_agent/original", "/http/response/status_code"};

void set_counters(benchmark::State& st, size_t bytes) {
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
  st.SetBytesProcessed(static_cast<int64_t>(bytes));
}

void BM_JsonParse_Operator(benchmark::State& st) {
  const auto& lines = bench::sample_lines();
  Diagnostics diag;
  Settings s(YAML::Load(kFields), "parse", "bench", ".", &diag);
  JsonParse op(s);
  auto arena = std::make_unique<Arena>();
  size_t i = 0, bytes = 0, n = 0;
  for (auto _ : st) {
    Event e;
    std::string_view detail;
    const std::string& l = lines[i];
    benchmark::DoNotOptimize(op.parse(l, e, *arena, detail));
    bytes += l.size();
    if (++i == lines.size()) i = 0;
    if (++n % 4096 == 0) arena = std::make_unique<Arena>();  // as a batch would
  }
  set_counters(st, bytes);
}
BENCHMARK(BM_JsonParse_Operator);

void BM_Ceiling_SimdjsonDom(benchmark::State& st) {
  const auto& lines = bench::sample_lines();
  std::vector<simdjson::padded_string> padded(lines.begin(), lines.end());
  simdjson::dom::parser p;
  size_t i = 0, bytes = 0;
  for (auto _ : st) {
    simdjson::dom::element doc;
    benchmark::DoNotOptimize(p.parse(padded[i]).get(doc));
    for (const char* ptr : kPointers) benchmark::DoNotOptimize(doc.at_pointer(ptr).error());
    bytes += padded[i].size();
    if (++i == padded.size()) i = 0;
  }
  set_counters(st, bytes);
}
BENCHMARK(BM_Ceiling_SimdjsonDom);

void BM_Ceiling_OnDemandLazyPointers(benchmark::State& st) {
  const auto& lines = bench::sample_lines();
  std::vector<simdjson::padded_string> padded(lines.begin(), lines.end());
  simdjson::ondemand::parser p;
  size_t i = 0, bytes = 0;
  for (auto _ : st) {
    simdjson::ondemand::document doc;
    benchmark::DoNotOptimize(p.iterate(padded[i]).get(doc));
    for (const char* ptr : kPointers) {
      std::string_view raw;
      benchmark::DoNotOptimize(doc.at_pointer(ptr).raw_json_token().get(raw));
    }
    bytes += padded[i].size();
    if (++i == padded.size()) i = 0;
  }
  set_counters(st, bytes);
}
BENCHMARK(BM_Ceiling_OnDemandLazyPointers);

}  // namespace
