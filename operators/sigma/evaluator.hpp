#pragma once
// Runs a RuleSet over one event at a time: indexes the event's fields by id,
// scans each field once with the prefilter's literal sets, and evaluates only
// the variants whose literals the event holds (plus those without any) whose
// log-source guard holds. One Evaluator per thread; the RuleSet is shared.
//
// Semantics (Sigma's, as pySigma's backends implement them): a test on a field
// the event lacks is false, so `not filter` on a missing field is true; `null`
// matches a missing field or JSON null; an array matches when any element
// does; string tests ignore ASCII case unless `cased`.
#include <simdjson.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/event.hpp"
#include "operators/sigma/compiler.hpp"

namespace socstream::sigma {

struct Match {
  uint32_t rule;
  uint32_t variant;
};

class Evaluator {
 public:
  explicit Evaluator(std::shared_ptr<const RuleSet> rules);

  // The detection rules `e` matches, each once, in rule order.
  void match(const Event& e, std::vector<Match>& out);
  // What a match of the last event matched on: {"selections":[..],"fields":{..}}.
  void explain(const Match& m, std::string& out);

  // The event's time in ms since the epoch, from the pipeline's timestamp fields.
  std::optional<int64_t> event_time();
  // The value of the first present field among ids, as text (empty optional if none).
  std::optional<std::string_view> value_of(const std::vector<FieldId>& ids);

  uint64_t evaluated() const { return evaluated_; }  // variants evaluated, over all events
  // Per variant: how often it was evaluated (the prefilter let it through) and matched.
  const std::vector<uint64_t>& evaluations() const { return evaluations_; }
  const RuleSet& rules() const { return *rules_; }

 private:
  void index(const Event& e);
  void consider(uint32_t vi, std::vector<Match>& out);
  bool guard(int g);
  bool eval(const Expr& x, const std::vector<Item>& items, const std::vector<Expr>* searches);
  bool eval_item(const Item& item, const Field** witness = nullptr);
  bool test_field(const ValueTest& t, FieldId id, const Field* f);
  bool test_text(const ValueTest& t, std::string_view text, std::string_view folded);
  bool test_value(const ValueTest& t, const Field& f, FieldId id);
  bool keyword_test(const ValueTest& t, const Field** witness);
  std::string_view folded(FieldId id, std::string_view text);
  template <class F>
  void for_each_element(const Field& f, F&& fn);

  // The field id of a name, through a cache keyed on the name's address when
  // the parser interned it (one multiply instead of hashing the bytes).
  std::optional<FieldId> id_of(const Field& f);
  std::optional<FieldId> lookup(std::string_view name);

  std::shared_ptr<const RuleSet> rules_;
  struct CacheSlot {
    const char* name = nullptr;
    size_t size = 0;
    int64_t id = -1;  // -1: not a field the rules name
  };
  std::vector<CacheSlot> by_address_ = std::vector<CacheSlot>(4096);
  size_t cached_ = 0;
  const Event* event_ = nullptr;
  std::vector<const Field*> slot_;  // by field id
  std::vector<FieldId> present_;
  std::vector<uint32_t> fold_epoch_, fold_off_;
  std::string fold_buf_, scratch_;
  std::vector<int8_t> guard_state_;
  std::vector<uint32_t> variant_epoch_, rule_epoch_;
  uint32_t epoch_ = 0;
  std::vector<uint32_t> hits_;
  std::vector<int8_t> memo_;  // per search of the variant being evaluated
  Scratch scratch_space_;
  simdjson::dom::parser array_parser_;
  uint64_t evaluated_ = 0;
  std::vector<uint64_t> evaluations_;
};

}  // namespace socstream::sigma
