// json_parse against what simdjson does alone in the same run:
//  - DOM parse only: the fully validating parse the operator is built on (its ceiling);
//  - On-Demand, walking the whole document to validate it (the alternative the
//    operator does not use, measured here to show why);
//  - On-Demand, looking up the 7 pointers lazily (no full validation: what the
//    operator would cost if malformed input could pass).
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

const std::vector<simdjson::padded_string>& padded_sample() {
  static const std::vector<simdjson::padded_string> v(bench::sample_lines().begin(), bench::sample_lines().end());
  return v;
}

void set_counters(benchmark::State& st, size_t bytes) {
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
  st.SetBytesProcessed(static_cast<int64_t>(bytes));
}

// Lines as a line source delivers them: inside one buffer with slack at its end.
void BM_JsonParse_Operator(benchmark::State& st) {
  std::vector<std::string_view> lines;
  std::string buffer;
  for (const auto& l : bench::sample_lines()) buffer += l + "\n";
  buffer.append(Batch::kRawPadding, ' ');
  for (size_t at = 0, nl; (nl = buffer.find('\n', at)) != std::string::npos; at = nl + 1)
    lines.push_back(std::string_view(buffer).substr(at, nl - at));
  Diagnostics diag;
  Settings s(YAML::Load(kFields), "parse", "bench", ".", &diag);
  JsonParse op(s);
  auto arena = std::make_unique<Arena>();
  size_t i = 0, bytes = 0, n = 0;
  for (auto _ : st) {
    Event e;
    std::string_view detail;
    std::string_view l = lines[i];
    benchmark::DoNotOptimize(op.parse(l, e, *arena, detail, true));
    bytes += l.size();
    if (++i == lines.size()) i = 0;
    if (++n % 4096 == 0) arena = std::make_unique<Arena>();  // as a batch would
  }
  set_counters(st, bytes);
}
BENCHMARK(BM_JsonParse_Operator);

void BM_Ceiling_SimdjsonDomParseOnly(benchmark::State& st) {
  const auto& padded = padded_sample();
  simdjson::dom::parser p;
  size_t i = 0, bytes = 0;
  for (auto _ : st) {
    simdjson::dom::element doc;
    benchmark::DoNotOptimize(p.parse(padded[i]).get(doc));
    bytes += padded[i].size();
    if (++i == padded.size()) i = 0;
  }
  set_counters(st, bytes);
}
BENCHMARK(BM_Ceiling_SimdjsonDomParseOnly);

simdjson::error_code walk(simdjson::ondemand::value v) {
  using namespace simdjson;
  ondemand::json_type t;
  SIMDJSON_TRY(v.type().get(t));
  switch (t) {
    case ondemand::json_type::object: {
      ondemand::object o;
      SIMDJSON_TRY(v.get_object().get(o));
      for (auto fr : o) {
        ondemand::field f;
        SIMDJSON_TRY(std::move(fr).get(f));
        std::string_view k;
        SIMDJSON_TRY(f.unescaped_key().get(k));
        SIMDJSON_TRY(walk(f.value()));
      }
      return SUCCESS;
    }
    case ondemand::json_type::array: {
      ondemand::array a;
      SIMDJSON_TRY(v.get_array().get(a));
      for (auto x : a) {
        ondemand::value xv;
        SIMDJSON_TRY(std::move(x).get(xv));
        SIMDJSON_TRY(walk(xv));
      }
      return SUCCESS;
    }
    case ondemand::json_type::string: return v.get_string().error();
    case ondemand::json_type::number: return v.get_number().error();
    case ondemand::json_type::boolean: return v.get_bool().error();
    case ondemand::json_type::null: return v.is_null().error();
  }
  return SUCCESS;
}

void BM_Alternative_OnDemandFullWalk(benchmark::State& st) {
  const auto& padded = padded_sample();
  simdjson::ondemand::parser p;
  size_t i = 0, bytes = 0;
  for (auto _ : st) {
    simdjson::ondemand::document doc;
    simdjson::ondemand::value v;
    auto err = p.iterate(padded[i]).get(doc);
    if (!err) err = doc.get_value().get(v);
    if (!err) err = walk(v);
    benchmark::DoNotOptimize(err);
    bytes += padded[i].size();
    if (++i == padded.size()) i = 0;
  }
  set_counters(st, bytes);
}
BENCHMARK(BM_Alternative_OnDemandFullWalk);

void BM_Unsafe_OnDemandLazyPointers(benchmark::State& st) {
  const auto& padded = padded_sample();
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
BENCHMARK(BM_Unsafe_OnDemandLazyPointers);

}  // namespace
