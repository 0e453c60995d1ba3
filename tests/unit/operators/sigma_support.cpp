#include "tests/unit/operators/sigma_support.hpp"

#include <gtest/gtest.h>

namespace socstream::testing {

SigmaRig::SigmaRig(const std::string& rules_yaml, Options o) {
  YAML::Node n = YAML::Load("{fields: all}");
  Settings s(n, "parse", "inline.yaml", dir_.path(), &diag_);
  parse_ = std::make_unique<JsonParse>(s);
  const auto file = dir_.write("rules.yml", rules_yaml);
  std::vector<sigma::Refusal> refused;
  auto parsed = sigma::load_rules({file}, refused);
  std::string pipeline = o.pipeline;
  if (pipeline.find('\n') != std::string::npos) pipeline = dir_.write("pipeline.yaml", pipeline).string();
  sigma::CompileOptions opts;
  opts.placeholders = o.placeholders;
  opts.prefilter = o.prefilter;
  opts.status = o.status;
  opts.logsource = o.logsource;
  rules_ = std::make_shared<const sigma::RuleSet>(parsed, sigma::load_pipeline(pipeline, dir_.path()), opts,
                                                  std::move(refused));
  eval_ = std::make_unique<sigma::Evaluator>(rules_);
}

std::vector<std::string> SigmaRig::match(const std::string& json) {
  events_.emplace_back();
  Event& e = events_.back();
  std::string_view detail;
  const char* reason = parse_->parse(json, e, arena_, detail);
  EXPECT_EQ(reason, nullptr) << json << ": " << detail;
  eval_->match(e, last_);
  std::vector<std::string> ids;
  for (const auto& m : last_) ids.push_back(rules_->rules()[m.rule].id);
  return ids;
}

std::string SigmaRig::explain() {
  std::string out;
  if (!last_.empty()) eval_->explain(last_.front(), out);
  return out;
}

std::vector<std::string> SigmaRig::refusal_reasons() const {
  std::vector<std::string> out;
  for (const auto& r : rules_->refused()) out.push_back(r.reason);
  return out;
}

std::string sigma_rule(const std::string& detection, const std::string& id, const std::string& logsource) {
  return "title: rule " + id + "\nid: " + id + "\nlevel: high\nlogsource: " + logsource + "\ndetection:\n" + detection +
         "\n";
}

}  // namespace socstream::testing
