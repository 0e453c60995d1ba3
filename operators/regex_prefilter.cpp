#include "operators/regex_prefilter.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "operators/operators.hpp"
#include "operators/sigma/attack.hpp"

namespace socstream {

namespace {

struct Compiled {
  std::shared_ptr<const std::vector<Rule>> rules;
  std::shared_ptr<const RE2::Set> set;
  std::shared_ptr<const std::vector<std::unique_ptr<RE2>>> singles;
};

Compiled compile_file(const Settings& s, const std::filesystem::path& file, int64_t max_mem);

RE2::Options re2_options(int64_t max_mem) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(max_mem);
  return o;
}

// Compiles a rules file once per topology, however many instances and
// components use it; the next topology (a hot reload) reads it afresh.
Compiled compile(const Settings& s, const std::filesystem::path& file, int64_t max_mem) {
  const std::string key =
      "regex_prefilter\n" + std::filesystem::weakly_canonical(file).string() + "\n" + std::to_string(max_mem);
  auto c = s.context().shared().get_or_make<Compiled>(key, [&]() -> std::shared_ptr<Compiled> {
    Compiled made = compile_file(s, file, max_mem);
    return made.rules ? std::make_shared<Compiled>(std::move(made)) : nullptr;
  });
  return c ? *c : Compiled{};
}

Compiled compile_file(const Settings& s, const std::filesystem::path& file, int64_t max_mem) {
  Diagnostics& diag = s.diagnostics();
  const size_t before = diag.count();
  if (!std::filesystem::exists(file)) {
    s.error("rules", "rules file " + file.string() + " does not exist");
    return {};
  }
  auto sources = load_rules(file, diag);
  if (sources.empty() && diag.count() == before) diag.error(Location{file.string()}, "the rules file has no rules");
  auto rules = std::make_shared<std::vector<Rule>>();
  auto set = std::make_shared<RE2::Set>(re2_options(max_mem), RE2::UNANCHORED);
  auto singles = std::make_shared<std::vector<std::unique_ptr<RE2>>>();
  for (auto& rs : sources) {
    std::string err;
    if (set->Add(rs.rule.pattern, &err) < 0) {
      diag.error(rs.pattern_where, "rule '" + rs.rule.id + "': pattern does not compile: " + err);
      continue;
    }
    singles->push_back(std::make_unique<RE2>(rs.rule.pattern, re2_options(max_mem)));
    rs.rule.ruleset = file.stem().string();
    sigma::AttackTables::builtin().classify(rs.rule.tags, rs.rule.tactics, rs.rule.techniques);
    rules->push_back(std::move(rs.rule));
  }
  if (diag.count() != before) return {};
  if (!set->Compile()) {
    s.error("rules", "the rule set is too large for max_mem; raise max_mem");
    return {};
  }
  return Compiled{rules, set, singles};
}

}  // namespace

RegexPrefilter::RegexPrefilter(const Settings& s) : texts_(s, "match") {
  const int64_t max_mem = static_cast<int64_t>(s.bytes("max_mem", 64u << 20));
  if (!s.has("rules")) return;  // reported by the schema check
  Compiled c = compile(s, s.config_path("rules"), max_mem);
  rules_ = c.rules;
  set_ = c.set;
  singles_ = c.singles;
}

void RegexPrefilter::match_text(std::string_view text, std::vector<int>& hits) {
  // Most values match nothing, and asking only whether anything matches is much
  // cheaper (no per-call match set, and the DFA may stop early): ask that first.
  RE2::Set::ErrorInfo info{};
  set_hits_.clear();
  if (set_->Match(text, nullptr, &info)) {
    set_->Match(text, &set_hits_, &info);
  } else if (info.kind != RE2::Set::kOutOfMemory) {
    return;
  }
  if (info.kind == RE2::Set::kOutOfMemory) {
    if (fallbacks_++ % 10000 == 0)
      spdlog::warn("regex_prefilter: the DFA ran out of memory on a {}-byte value; matching rule by rule (raise max_mem)",
                   text.size());
    set_hits_.clear();
    for (size_t i = 0; i < singles_->size(); ++i)
      if (RE2::PartialMatch(text, *(*singles_)[i])) set_hits_.push_back(static_cast<int>(i));
  }
  hits.insert(hits.end(), set_hits_.begin(), set_hits_.end());
}

void RegexPrefilter::match(const Event& e, std::vector<int>& hits) {
  hits.clear();
  texts_.for_each(e, scratch_, [&](std::string_view text) { match_text(text, hits); });
  std::sort(hits.begin(), hits.end());
  hits.erase(std::unique(hits.begin(), hits.end()), hits.end());
}

void RegexPrefilter::process(Batch&& in, Outputs& out) {
  Batch matched = in.derive(in.size());
  Batch other = in.derive(in.size());
  std::vector<int> hits;
  for (auto& e : in.events) {
    match(e, hits);
    if (hits.empty()) {
      other.events.push_back(std::move(e));
      continue;
    }
    for (int h : hits) e.rules.push_back(&(*rules_)[h]);
    matched.events.push_back(std::move(e));
  }
  out.emit(0, std::move(matched));
  out.emit(1, std::move(other));
}

ComponentSpec regex_prefilter_spec() {
  return ComponentSpec{
      "regex_prefilter",
      Kind::Operator,
      "matches fields against a rules file with one RE2::Set; ports match and nomatch",
      {{"rules", SettingType::String, true, "the rules file (YAML)"},
       {"field", SettingType::String, false, "the field to match"},
       {"fields", SettingType::StringList, false, "several fields to match"},
       {"transforms", SettingType::StringList, false, "applied before matching: query_values, url_decode, lowercase"},
       {"max_mem", SettingType::Bytes, false, "RE2 memory budget (default 64MiB)"}},
      true,
      [](const Settings& s) { return std::make_unique<RegexPrefilter>(s); }};
}

}  // namespace socstream
