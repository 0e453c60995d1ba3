// The alert operator on the web sample's events as config/default.yaml hands
// them over (seven parsed fields, one regex rule hit; or three, as most of
// bench/run_kafka.sh's alerts have: 92% match two to six rules), against a baseline
// measured in the same run: the least an alert can be, the event's fields
// written as one flat JSON object (json::append_value per field).
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include "bench/micro/bench_data.hpp"
#include "engine/json_writer.hpp"
#include "engine/rule.hpp"
#include "operators/alert.hpp"
#include "operators/sigma/attack.hpp"

using namespace socstream;

namespace {

const char* kPointers[][2] = {{"@timestamp", "/@timestamp"},
                              {"source.ip", "/source/ip"},
                              {"http.request.method", "/http/request/method"},
                              {"url.path", "/url/path"},
                              {"url.query", "/url/query"},
                              {"user_agent.original", "/user_agent/original"},
                              {"http.response.status_code", "/http/response/status_code"}};

// The sample's events with their fields, as json_parse leaves them.
struct Sample {
  std::vector<std::vector<Field>> events;
  std::vector<std::string> store;
  Rule rule, quote, cmdi;
  std::string source = "access";
  Sample() {
    rule.id = "sqli-union-select";
    rule.severity = Severity::High;
    rule.tags = {"sqli", "attack.initial_access", "T1190"};
    rule.description = "UNION-based SQL injection";
    rule.ruleset = "web";
    quote.id = "sqli-quote-break";
    quote.severity = Severity::Medium;
    quote.tags = {"sqli", "T1190"};
    quote.description = "a quote that breaks out of a SQL string";
    quote.ruleset = "web";
    cmdi.id = "cmdi-binary-path";
    cmdi.severity = Severity::High;
    cmdi.tags = {"cmdi", "T1059"};
    cmdi.description = "a shell or binary path";
    cmdi.ruleset = "web";
    for (Rule* r : {&rule, &quote, &cmdi})  // as regex_prefilter does at load
      sigma::AttackTables::builtin().classify(r->tags, r->tactics, r->techniques);
    simdjson::dom::parser p;
    store.reserve(bench::sample_lines().size() * 7);
    for (const auto& line : bench::sample_lines()) {
      simdjson::dom::element doc = p.parse(line);
      std::vector<Field> fields;
      for (const auto& [name, ptr] : kPointers) {
        simdjson::dom::element v;
        if (doc.at_pointer(ptr).get(v) != simdjson::SUCCESS) continue;
        if (v.is_string()) {
          store.emplace_back(std::string_view(v));
          fields.push_back(Field{name, store.back(), ValueKind::String});
        } else {
          store.emplace_back(simdjson::minify(v));
          fields.push_back(Field{name, store.back(), ValueKind::Number});
        }
      }
      events.push_back(std::move(fields));
    }
  }
  Batch batch(size_t at, size_t n, bool three = false) {
    Batch b;
    for (size_t i = 0; i < n; ++i) {
      Event e;
      const auto& f = events[(at + i) % events.size()];
      e.fields.assign(f.begin(), f.end());
      e.rules.push_back(&rule);
      if (three) e.rules.push_back(&quote), e.rules.push_back(&cmdi);
      e.pos = SourcePos{&source, 0, static_cast<int64_t>(at + i), "web-access", 1};
      b.events.push_back(std::move(e));
    }
    return b;
  }
};

Sample& sample() {
  static Sample s;
  return s;
}

constexpr size_t kBatch = 256;

void run_operator(benchmark::State& st, bool three) {
  Diagnostics diag;
  YAML::Node n = YAML::Load("{detector: web-attacks}");
  Settings s(n, "alerts", "bench", ".", &diag);
  AlertOp op(s);
  static const std::string name = "alerts";
  Outputs out(&name, op.output_ports());
  Channel ch(4, 1 << 30);
  out.connect(0, &ch);
  size_t at = 0, bytes = 0;
  for (auto _ : st) {
    st.PauseTiming();
    Batch in = sample().batch(at, kBatch, three);
    at += kBatch;
    st.ResumeTiming();
    op.process(std::move(in), out);
    Batch got;
    ch.pop(got, Clock::now());
    for (const auto& e : got.events) bytes += e.raw.size();
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * kBatch));
  st.counters["bytes_per_alert"] = static_cast<double>(bytes) / static_cast<double>(st.iterations() * kBatch);
}
void BM_Alert_Operator(benchmark::State& st) { run_operator(st, false); }
BENCHMARK(BM_Alert_Operator);
void BM_Alert_OperatorThreeRules(benchmark::State& st) { run_operator(st, true); }
BENCHMARK(BM_Alert_OperatorThreeRules);

// Baseline: the fields as one flat JSON object, nothing else.
void BM_Alert_FlatFieldsBaseline(benchmark::State& st) {
  size_t at = 0;
  std::string doc;
  for (auto _ : st) {
    st.PauseTiming();
    Batch in = sample().batch(at, kBatch);
    at += kBatch;
    st.ResumeTiming();
    for (const auto& e : in.events) {
      doc.clear();
      doc += '{';
      for (size_t i = 0; i < e.fields.size(); ++i) {
        if (i) doc += ',';
        json::append_string(doc, e.fields[i].name);
        doc += ':';
        json::append_value(doc, e.fields[i]);
      }
      doc += '}';
      benchmark::DoNotOptimize(doc.data());
    }
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * kBatch));
}
BENCHMARK(BM_Alert_FlatFieldsBaseline);

}  // namespace
