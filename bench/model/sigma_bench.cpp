// The Sigma stages alone, on one core, for bench/RESULTS.md: what parsing
// every field costs per event, what matching the rule set costs, and how the
// match cost grows with the number of rules. Events are read and parsed into
// memory first, so the figures hold no I/O.
//   sigma_bench EVENTS.jsonl [--events N] [--pipeline nxlog] [--passes 3] [--no-prefilter]
//               [--rules PATH ...]     (default: config/sigma/rules*)
//               [--scale 100,1000]     (also run on the first 100, 1000 rules, as files sorted by path)
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
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
    std::vector<std::filesystem::path> subset(files.begin(), files.begin() + std::min(count, files.size()));
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
    std::printf("sigma %5zu rule files (%4zu rules, %4zu variants, %5zu literals, %zu always): load %.2f s, "
                "%8.0f events/s  %6.2f us/event, %zu matches, %.1f variants evaluated per event%s\n",
                subset.size(), rs->stats().loaded, rs->stats().variants, rs->stats().atoms, rs->stats().always, load,
                double(events.size()) / ms, 1e6 * ms / double(events.size()), matches,
                double(ev.evaluated()) / double(events.size() * passes), prefilter ? "" : " (no prefilter)");
  }
  return 0;
}
