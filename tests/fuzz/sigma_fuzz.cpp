// The Sigma rule parser and compiler (operators/sigma/: rule.cpp, condition.cpp,
// values.cpp, compiler.cpp, literal_set.cpp) and the evaluator and correlator
// behind them, through the sigma operator. The input is a rules file (YAML,
// several documents), with two optional parts written as YAML comments so a
// plain rules file is an input too:
//   #pipeline: nxlog        first line: a built-in pipeline (default none)
//   ...rules...
//   #events                 the lines after it: JSON events, run through
//   {"Image": "..."}        json_parse (fields: all) and then the rules
//
// The rules are compiled twice, with the literal prefilter and without it.
// Checked: the prefilter changes no detection (each event matches the same
// rules either way); every event leaves exactly once; each match's
// explanation is JSON.
#include <algorithm>

#include "operators/json_parse.hpp"
#include "operators/operators.hpp"
#include "operators/sigma.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace socstream;
using namespace socstream::fuzz;

namespace {

std::string pipeline_of(std::string_view& text) {
  constexpr std::string_view tag = "#pipeline:";
  if (text.substr(0, tag.size()) != tag) return "none";
  size_t nl = text.find('\n');
  std::string name(text.substr(tag.size(), nl == std::string_view::npos ? std::string_view::npos : nl - tag.size()));
  name.erase(0, name.find_first_not_of(' '));
  text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  auto names = sigma::builtin_pipelines();
  return std::find(names.begin(), names.end(), name) != names.end() ? name : "none";
}

// Per event (by offset): the detection rules it matched, as "id|title".
std::map<int64_t, std::vector<std::string>> detections(const Routed& r) {
  std::map<int64_t, std::vector<std::string>> out;
  for (const auto& port : r.events)
    for (const auto& e : port) {
      auto& ids = out[e.pos.offset];
      for (const Rule* rule : e.rules)
        if (rule->kind != "sigma_correlation") ids.push_back(rule->id + "|" + rule->title);
    }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string pipeline = pipeline_of(text);
  std::string_view events;
  constexpr std::string_view marker = "\n#events\n";
  if (size_t at = text.find(marker); at != std::string_view::npos) {
    events = text.substr(at + marker.size());
    text = text.substr(0, at + 1);
  }
  write_file(scratch_dir() / "rules.yml", text);

  static const std::string source = "fuzz";
  Config parse_config("{fields: all, duplicate_keys: last}", "parse", scratch_dir());
  JsonParse parse(*parse_config.settings);

  // The events point at their rules, which live as long as the operator that compiled them.
  std::unique_ptr<SigmaOp> ops[2];
  Routed results[2];
  for (int prefilter = 0; prefilter < 2; ++prefilter) {
    Config c(std::string("{rules: rules.yml, pipeline: ") + pipeline + ", prefilter: " + (prefilter ? "true" : "false") +
                 ", explain: true, max_groups: 16, placeholders: {Admins: [adm_*, root], Servers: 'srv-*'}}",
             "sigma", scratch_dir());
    c.settings->check(sigma_spec().settings);
    ops[prefilter] = std::make_unique<SigmaOp>(*c.settings);
    SigmaOp& op = *ops[prefilter];
    if (!c.diag.ok()) return 0;  // nothing loaded (each rule's own problems are refusals, not errors)
    if (events.empty()) continue;
    Routed parsed;
    run(parse, lines_batch(events, &source, 256), parsed);
    Batch in;
    in.events = std::move(parsed.events[0]);
    in.events.erase(std::remove_if(in.events.begin(), in.events.end(), [](const Event& e) { return e.fields.empty(); }),
                    in.events.end());
    for (const auto& b : parsed.kept) in.hold_all(b.holds);
    run(op, std::move(in), results[prefilter]);
    for (const auto& e : results[prefilter].port("")) {
      FUZZ_CHECK(!e.rules.empty(), "a match without a rule");
      FUZZ_CHECK(e.matched.size() == e.rules.size(), "explanations and rules differ in number");
      for (auto m : e.matched)
        if (!m.empty()) FUZZ_CHECK(JsonCheck::valid(m), "an explanation that is not JSON: " + std::string(m));
    }
  }
  auto with = detections(results[1]), without = detections(results[0]);
  if (with != without) {
    std::string diff;
    for (const auto& [offset, ids] : without)
      if (with[offset] != ids) {
        diff += "event at " + std::to_string(offset) + ": without the prefilter";
        for (const auto& id : ids) diff += " " + id;
        diff += "; with it";
        for (const auto& id : with[offset]) diff += " " + id;
        diff += "\n";
      }
    fuzz_fail("the prefilter changed what matched:\n" + diff);
  }
  return 0;
}
