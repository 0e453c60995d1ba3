#pragma once
// type: regex_prefilter. One RE2::Set holds every rule, so an event costs one
// DFA pass per field however many rules there are. Events that match any rule
// leave on `match` carrying the matched rules; the rest leave on `nomatch`.
#include <re2/re2.h>
#include <re2/set.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/component.hpp"
#include "engine/rule.hpp"
#include "operators/text_transforms.hpp"

namespace socstream {

class RegexPrefilter final : public Operator {
 public:
  explicit RegexPrefilter(const Settings& s);
  std::vector<std::string> output_ports() const override { return {"match", "nomatch", "dlq"}; }
  std::vector<FieldRead> reads() const override { return texts_.reads("the field to match"); }
  void process(Batch&& in, Outputs& out) override;

  // The rules that match one event (indices into rules()), without duplicates.
  void match(const Event& e, std::vector<int>& hits);
  const std::vector<Rule>& rules() const { return *rules_; }

 private:
  // Matches one transformed text and appends the rules it hits.
  void match_text(std::string_view text, std::vector<int>& hits);

  TextTransforms texts_;
  // Shared by the instances of a parallel operator: compiled once, read-only.
  std::shared_ptr<const std::vector<Rule>> rules_;
  std::shared_ptr<const RE2::Set> set_;
  // Per-rule regexes, used only when the set's DFA exceeds its memory budget on
  // an input (RE2::Set then cannot answer; single RE2s fall back to the NFA).
  std::shared_ptr<const std::vector<std::unique_ptr<RE2>>> singles_;
  std::string scratch_;
  std::vector<int> set_hits_;
  uint64_t fallbacks_ = 0;
};

}  // namespace socstream
