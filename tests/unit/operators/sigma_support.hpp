#pragma once
// A Sigma rule set compiled from YAML text and run on JSON events, for the
// language's unit tests: what a rule matches, without a topology around it.
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "operators/json_parse.hpp"
#include "operators/sigma/correlator.hpp"
#include "operators/sigma/evaluator.hpp"
#include "tests/support/test_support.hpp"

namespace socstream::testing {

class SigmaRig {
 public:
  struct Options {
    std::string pipeline = "none";  // a built-in name, or YAML text of a pipeline
    std::map<std::string, std::vector<std::string>> placeholders;
    bool prefilter = true;
    std::vector<std::string> status;  // the operator's filters (empty: its defaults)
    sigma::LogSource logsource;
  };
  explicit SigmaRig(const std::string& rules_yaml) : SigmaRig(rules_yaml, Options{}) {}
  SigmaRig(const std::string& rules_yaml, Options o);

  // The ids of the rules the event (a JSON object) matches.
  std::vector<std::string> match(const std::string& json);
  bool hits(const std::string& json) { return !match(json).empty(); }
  // What the first match of the last event matched on.
  std::string explain();

  const sigma::RuleSet& rules() const { return *rules_; }
  std::shared_ptr<const sigma::RuleSet> shared() const { return rules_; }
  sigma::Evaluator& evaluator() { return *eval_; }
  // The refusals' reasons, in order.
  std::vector<std::string> refusal_reasons() const;

 private:
  TempDir dir_;
  Diagnostics diag_;
  std::unique_ptr<JsonParse> parse_;
  Arena arena_;
  std::deque<Event> events_;  // stable addresses: the evaluator points at the last one
  std::shared_ptr<const sigma::RuleSet> rules_;
  std::unique_ptr<sigma::Evaluator> eval_;
  std::vector<sigma::Match> last_;
};

// One detection rule around a detection block (indented by 4 spaces).
std::string sigma_rule(const std::string& detection, const std::string& id = "r1",
                       const std::string& logsource = "{product: windows}");

}  // namespace socstream::testing
