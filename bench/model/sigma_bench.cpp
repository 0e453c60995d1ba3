// The Sigma stages alone, on one core, for bench/RESULTS.md: what parsing
// every field costs per event, what matching the rule set costs, and how the
// match cost grows with the number of rules. Events are read and parsed into
// memory first, so the figures hold no I/O.
//   sigma_bench EVENTS.jsonl [--events N] [--pipeline nxlog] [--passes 3] [--no-prefilter]
//               [--rules PATH ...]     (default: config/sigma/rules*)
//               [--scale 100,1000]     (also run on 100 and 1,000 of the rule files, evenly spaced in path order)
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "operators/json_parse.hpp"
#include "operators/sigma/evaluator.hpp"

using namespace socstream;
using Seconds = std::chrono::duration<double>;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  if (argc < 2) {
    std::fprintf(stderr, "usage: sigma_bench EVENTS.jsonl [--events N] [--pipeline P] [--passes K] [--no-prefilter] "
                         "[--rules PATH...] [--scale 100,1000]\n");
    return 64;
  }
  size_t max_events = 200000, passes = 3;
  std::string pipeline = "nxlog";
  bool prefilter = true;
  std::vector<std::filesystem::path> rule_paths;
  std::vector<size_t> scale;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--events" && i + 1 < argc) max_events = std::stoul(argv[++i]);
    else if (a == "--pipeline" && i + 1 < argc) pipeline = argv[++i];
    else if (a == "--passes" && i + 1 < argc) passes = std::stoul(argv[++i]);
    else if (a == "--no-prefilter") prefilter = false;
    else if (a == "--scale" && i + 1 < argc) {
      std::string s = argv[++i];
      for (size_t at = 0; at < s.size();) {
        size_t c = s.find(',', at);
        scale.push_back(std::stoul(s.substr(at, c - at)));
        at = c == std::string::npos ? s.size() : c + 1;
      }
    } else if (a == "--rules") {
      while (i + 1 < argc && argv[i + 1][0] != '-') rule_paths.emplace_back(argv[++i]);
    }
  }
  const std::filesystem::path root = SOCSTREAM_SOURCE_DIR;
  if (rule_paths.empty()) rule_paths.push_back(root / "config/sigma/rules*");

  // Events, parsed once to measure the parse and to give the matcher its input.
  std::ifstream in(argv[1], std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; lines.size() < max_events && std::getline(in, line);) lines.push_back(std::move(line));
  Diagnostics diag;
  YAML::Node n = YAML::Load("{fields: all}");
  Settings st(n, "parse", "bench", root, &diag);
  JsonParse parse(st);
  std::vector<double> parse_s;
  std::vector<Event> events;
  auto arena = std::make_unique<Arena>();
  size_t bytes = 0, fields = 0;
  for (size_t p = 0; p < passes; ++p) {
    events.clear();
    arena = std::make_unique<Arena>();
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& l : lines) {
      Event e;
      std::string_view detail;
      if (!parse.parse(l, e, *arena, detail)) events.push_back(std::move(e));
    }
    parse_s.push_back(Seconds(std::chrono::steady_clock::now() - t0).count());
  }
  for (const auto& l : lines) bytes += l.size();
  for (const auto& e : events) fields += e.fields.size();
  std::printf("events: %zu lines of %s (%zu parsed, %.0f bytes and %.1f fields per event)\n", lines.size(), argv[1],
              events.size(), double(bytes) / double(lines.size()), double(fields) / double(events.size()));
  const double ps = median(parse_s);
  std::printf("json_parse fields: all  %8.0f events/s  %6.2f us/event\n", double(lines.size()) / ps,
              1e6 * ps / double(lines.size()));

  std::vector<sigma::Refusal> refused;
  auto files = sigma::expand_rule_paths(rule_paths, refused);
  std::vector<size_t> sizes = scale;
  sizes.push_back(files.size());
  for (size_t count : sizes) {
    // Every k-th file, so a subset mixes log sources as the whole does.
    std::vector<std::filesystem::path> subset;
    const size_t take = std::min(count, files.size());
    for (size_t k = 0; k < take; ++k) subset.push_back(files[k * files.size() / take]);
    std::vector<sigma::Refusal> r2;
    const auto t0 = std::chrono::steady_clock::now();
    auto parsed = sigma::load_rules(subset, r2);
    sigma::CompileOptions o;
    o.prefilter = prefilter;
    auto rs = std::make_shared<const sigma::RuleSet>(parsed, sigma::load_pipeline(pipeline, root), o);
    const double load = Seconds(std::chrono::steady_clock::now() - t0).count();
    sigma::Evaluator ev(rs);
    std::vector<sigma::Match> m;
    std::vector<double> match_s;
    size_t matches = 0;
    for (size_t p = 0; p < passes; ++p) {
      matches = 0;
      const auto t1 = std::chrono::steady_clock::now();
      for (const auto& e : events) {
        ev.match(e, m);
        matches += m.size();
      }
      match_s.push_back(Seconds(std::chrono::steady_clock::now() - t1).count());
    }
    const double ms = median(match_s);
    if (std::getenv("SIGMA_BENCH_FIELDS")) {
      // Which fields the prefilter scans, how many literals each, how many bytes per event.
      std::vector<std::tuple<double, std::string, size_t>> per;
      for (sigma::FieldId id = 0; id < rs->field_count(); ++id) {
        const size_t lits = rs->literal_sets()[id].size();
        if (!lits) continue;
        double bytes_scanned = 0;
        for (const auto& e : events)
          if (const Field* f = e.field(rs->field_name(id))) bytes_scanned += double(f->value.size());
        per.emplace_back(bytes_scanned / double(events.size()), rs->field_name(id), lits);
      }
      std::sort(per.rbegin(), per.rend());
      for (size_t k = 0; k < std::min<size_t>(per.size(), 15); ++k)
        std::printf("  %-28s %6zu literals, %7.1f bytes/event\n", std::get<1>(per[k]).c_str(), std::get<2>(per[k]),
                    std::get<0>(per[k]));
      std::printf("  keywords: %zu literals\n", rs->keyword_set().size());
      std::vector<std::pair<uint64_t, uint32_t>> top;
      for (uint32_t v = 0; v < rs->variants().size(); ++v) top.emplace_back(ev.evaluations()[v], v);
      std::sort(top.rbegin(), top.rend());
      for (size_t k = 0; k < 12; ++k) {
        const auto& var = rs->variants()[top[k].second];
        std::printf("  evaluated %8.3f per event: %s%s (%s)\n", double(top[k].first) / double(events.size() * passes),
                    rs->rules()[var.rule].title.c_str(), var.always ? " [always]" : "",
                    var.guard >= 0 ? rs->guards()[var.guard].describe.c_str() : "no guard");
      }
    }
    std::printf("sigma %5zu rule files (%4zu rules, %4zu variants, %5zu literals, %zu always): load %.2f s, "
                "%8.0f events/s  %6.2f us/event, %zu matches, %.1f variants evaluated per event%s\n",
                subset.size(), rs->stats().loaded, rs->stats().variants, rs->stats().atoms, rs->stats().always, load,
                double(events.size()) / ms, 1e6 * ms / double(events.size()), matches,
                double(ev.evaluated()) / double(events.size() * passes), prefilter ? "" : " (no prefilter)");
  }
  return 0;
}
