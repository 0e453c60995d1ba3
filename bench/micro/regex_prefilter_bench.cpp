// regex_prefilter with 100 rules in one RE2::Set, against the naive baseline
// measured in the same run: the same 100 rules as separate RE2 objects.
#include <benchmark/benchmark.h>
#include <re2/re2.h>

#include <filesystem>
#include <fstream>

#include "bench/micro/bench_data.hpp"
#include "engine/rule.hpp"
#include "operators/regex_prefilter.hpp"

using namespace socstream;

namespace {

// The starter web rules plus generated keyword-pair rules up to 100, as a
// larger deployment's rule file would have.
std::filesystem::path hundred_rules() {
  static const std::filesystem::path path = [] {
    auto p = std::filesystem::temp_directory_path() / "socstream-bench-rules-100.yaml";
    std::ifstream in(std::string(SOCSTREAM_SOURCE_DIR) + "/config/rules/web.yaml");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    int have = 0;
    for (size_t at = 0; (at = text.find("  - id:", at)) != std::string::npos; ++at) ++have;
    const char* words[] = {"select", "union", "insert", "update", "delete", "drop", "exec", "declare", "cast",
                           "convert", "script", "iframe", "onerror", "onload", "eval", "cookie", "passwd",
                           "shadow", "wget", "curl", "bash", "powershell", "cmd", "system32", "xp_cmdshell"};
    const int nw = sizeof(words) / sizeof(words[0]);
    for (int i = 0; have < 100; ++i, ++have) {
      text += "  - id: gen-" + std::to_string(i) + "\n    pattern: '(?i)\\b" + words[i % nw] + "\\b.{0,30}\\b" +
              words[(i * 7 + 3) % nw] + "\\b'\n    severity: low\n";
    }
    std::ofstream(p) << text;
    return p;
  }();
  return path;
}

void BM_RegexPrefilter_100Rules_Set(benchmark::State& st) {
  Diagnostics diag;
  YAML::Node n = YAML::Load("{field: query, transforms: [query_values, url_decode], rules: " +
                            hundred_rules().string() + "}");
  Settings s(n, "suspect", "bench", ".", &diag);
  RegexPrefilter op(s);
  if (!diag.ok() || op.rules().size() != 100) {
    st.SkipWithError(("bad rules: " + diag.str()).c_str());
    return;
  }
  const auto& qs = bench::sample_queries();
  std::vector<Event> events(qs.size());
  for (size_t i = 0; i < qs.size(); ++i) events[i].fields.push_back(Field{"query", qs[i]});
  std::vector<int> hits;
  size_t i = 0, matched = 0;
  for (auto _ : st) {
    op.match(events[i], hits);
    matched += !hits.empty();
    if (++i == events.size()) i = 0;
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
  st.counters["match_share"] = static_cast<double>(matched) / static_cast<double>(st.iterations());
}
BENCHMARK(BM_RegexPrefilter_100Rules_Set);

void BM_Baseline_100SeparateRE2(benchmark::State& st) {
  Diagnostics diag;
  auto rules = load_rules(hundred_rules(), diag);
  std::vector<std::unique_ptr<RE2>> res;
  for (auto& r : rules) res.push_back(std::make_unique<RE2>(r.rule.pattern));
  // The same decoded values the operator matches.
  std::vector<std::vector<std::string>> values;
  for (const auto& q : bench::sample_queries()) {
    std::vector<std::string> v;
    size_t start = 0;
    while (start <= q.size()) {
      size_t amp = q.find('&', start);
      std::string pair = q.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      size_t eq = pair.find('=');
      std::string val = eq == std::string::npos ? pair : pair.substr(eq + 1), dec;
      for (size_t k = 0; k < val.size(); ++k) {
        if (val[k] == '+') dec += ' ';
        else if (val[k] == '%' && k + 2 < val.size() && isxdigit(val[k + 1]) && isxdigit(val[k + 2])) {
          dec += static_cast<char>(std::stoi(val.substr(k + 1, 2), nullptr, 16));
          k += 2;
        } else dec += val[k];
      }
      v.push_back(dec);
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
    values.push_back(v);
  }
  size_t i = 0;
  for (auto _ : st) {
    int hits = 0;
    for (const auto& v : values[i])
      for (const auto& re : res) hits += RE2::PartialMatch(v, *re);
    benchmark::DoNotOptimize(hits);
    if (++i == values.size()) i = 0;
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}
BENCHMARK(BM_Baseline_100SeparateRE2);

}  // namespace
