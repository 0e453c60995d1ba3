#pragma once
// Compiles Sigma rules for one pipeline into a RuleSet the operator runs:
//  - each rule becomes one variant per pipeline log-source entry that covers it
//    (Sysmon 1 and Security 4688 for process_creation), with its fields mapped
//    to event field ids and its values compiled to tests;
//  - each entry's conditions become a guard, evaluated once per event, so an
//    event only reaches the rules of its own log source;
//  - every variant gets the literals one of which a matching event must hold
//    (a disjunction read off its condition: an AND needs only its most
//    selective side, an OR needs all of its sides, a NOT needs nothing), and
//    the literals of all variants are compiled into one Vectorscan set per
//    event field. An event then evaluates only the variants whose literals it
//    holds, plus the few that have none.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/hash.hpp"
#include "engine/rule.hpp"
#include "operators/sigma/condition.hpp"
#include "operators/sigma/literal_set.hpp"
#include "operators/sigma/pipeline.hpp"
#include "operators/sigma/values.hpp"

namespace socstream::sigma {

using FieldId = uint32_t;

// Event field names a rule set knows, by id: an open-addressing table kept at
// most a quarter full, probed once per event field (the names are fixed after
// compiling, so a probe sequence never grows whatever names events bring).
class FieldTable {
 public:
  FieldId insert(const std::string& name);
  std::optional<FieldId> find(std::string_view name) const {
    const uint64_t h = name_hash(name);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint32_t slot = slots_[i];
      if (!slot) return std::nullopt;
      if (hashes_[slot - 1] == h && names_[slot - 1] == name) return slot - 1;
    }
  }
  size_t size() const { return names_.size(); }
  const std::string& name(FieldId id) const { return names_[id]; }

 private:
  void place(FieldId id);
  std::vector<std::string> names_;
  std::vector<uint64_t> hashes_;
  std::vector<uint32_t> slots_ = std::vector<uint32_t>(64, 0);  // id + 1; 0 is empty
  size_t mask_ = 63;
};

struct Item {
  std::vector<FieldId> fields;  // any of these event fields; empty for a keyword item
  bool keyword = false;
  CompiledValues values;
  std::string sigma_field;
};

struct Expr {
  enum class Op : uint8_t { And, Or, Not, Item, Search, True };
  Op op = Op::True;
  uint32_t index = 0;  // Item: into the owner's items; Search: into the variant's searches
  std::vector<Expr> kids;
};

struct Variant {
  uint32_t rule = 0;  // into RuleSet::rules
  int guard = -1;     // into RuleSet::guards; -1 runs on every event
  std::vector<Item> items;
  std::vector<Expr> searches;  // per search identifier of the rule
  std::vector<std::string> search_names;
  std::vector<bool> positive;  // the search appears outside any `not` (what an alert reports)
  Expr condition;
  bool always = false;  // no literal to prefilter on: evaluated whenever its guard holds
};

struct Guard {
  std::vector<Item> items;
  Expr expr;
  std::string describe;
};

struct CorrelationDef {
  uint32_t rule = 0;             // the correlation's own entry in RuleSet::rules
  Correlation spec;
  std::vector<uint32_t> inputs;  // rules it counts (detections or correlations)
  // Per input: per group-by name, the event fields holding it (aliases applied).
  std::vector<std::vector<std::vector<FieldId>>> group_fields;
  std::vector<std::vector<FieldId>> value_fields;  // value_count's field, per input
};

struct CompileOptions {
  std::map<std::string, std::vector<std::string>> placeholders;
  std::vector<std::string> status;      // statuses to load; empty: all but deprecated and unsupported
  Severity min_level = Severity::Info;
  LogSource logsource;                  // filter: non-empty parts must equal the rule's
  bool prefilter = true;                // false: every variant is evaluated (for tests and benchmarks)
};

struct RuleStats {
  size_t files = 0, documents = 0, loaded = 0, variants = 0, always = 0, correlations = 0;
  size_t filtered = 0;                     // status, level or logsource filters
  std::map<std::string, size_t> skipped;  // log source not in the pipeline, by log source
  size_t atoms = 0, literal_sets = 0;
  double compile_seconds = 0;
};

class RuleSet {
 public:
  // Loads and compiles; rules that fail are in refused(), never fatal here.
  RuleSet(const std::vector<Rule>& rules, Pipeline pipeline, const CompileOptions& opts,
          std::vector<Refusal> refused_while_loading = {});

  const Pipeline& pipeline() const { return pipeline_; }
  const std::vector<socstream::Rule>& rules() const { return rules_; }
  const std::vector<Variant>& variants() const { return variants_; }
  const std::vector<Guard>& guards() const { return guards_; }
  const std::vector<CorrelationDef>& correlations() const { return correlations_; }
  const std::vector<Refusal>& refused() const { return refused_; }
  const RuleStats& stats() const { return stats_; }
  // Rules whose matches alert on their own (not only feed a correlation).
  bool generates(uint32_t rule) const { return generates_[rule]; }
  // Correlations fed by a rule.
  const std::vector<uint32_t>& feeds(uint32_t rule) const { return feeds_[rule]; }

  // Field ids: every event field a rule, guard or correlation names.
  std::optional<FieldId> field_id(std::string_view name) const { return fields_.find(name); }
  size_t field_count() const { return fields_.size(); }
  const std::string& field_name(FieldId id) const { return fields_.name(id); }
  const std::vector<FieldId>& keyword_fields() const { return keyword_fields_; }  // empty: all
  const std::vector<FieldId>& timestamp_fields() const { return timestamp_fields_; }

  // The prefilter: literal sets per field (index = FieldId; an empty set where none),
  // the keyword set, and per literal id the variants that need it.
  const std::vector<LiteralSet>& literal_sets() const { return sets_; }
  const LiteralSet& keyword_set() const { return keyword_set_; }
  const std::vector<std::vector<uint32_t>>& atom_variants() const { return atom_variants_; }
  const std::vector<std::vector<uint32_t>>& always_by_guard() const { return always_by_guard_; }  // [guard+1]
  // Grows a scratch for every literal set.
  void reserve(hs_scratch_t** scratch) const;

  // "1,234 rules (1,410 variants) loaded; 12 refused: ..." for logs and validate.
  std::string summary(size_t max_refusals = 20) const;

 private:
  FieldId intern(const std::string& name);
  std::vector<FieldId> event_field_ids(const std::string& sigma_field, const PipelineEntry* entry);
  Item compile_item(const FieldItem& fi, const CompiledValues& values, const PipelineEntry* entry);
  Expr compile_search(const Search& s, const std::vector<std::vector<CompiledValues>>& values,
                      const PipelineEntry* entry, std::vector<Item>& items);
  Expr compile_cond(const Cond& c);
  void build_correlations(const std::vector<const Rule*>& corr, const std::map<std::string, uint32_t>& by_key);
  socstream::Rule meta(const Rule& r, const char* kind) const;

  Pipeline pipeline_;
  CompileOptions opts_;
  std::vector<socstream::Rule> rules_;
  std::vector<Variant> variants_;
  std::vector<Guard> guards_;
  std::vector<int> guard_of_entry_;
  std::vector<CorrelationDef> correlations_;
  std::vector<bool> generates_;
  std::vector<std::vector<uint32_t>> feeds_;
  std::vector<Refusal> refused_;
  std::map<uint32_t, std::string> rule_names_;  // Sigma `name`s, which correlation aliases use
  RuleStats stats_;

  FieldTable fields_;
  std::vector<FieldId> keyword_fields_, timestamp_fields_;

  std::vector<LiteralSet> sets_;
  LiteralSet keyword_set_;
  std::vector<std::vector<uint32_t>> atom_variants_;
  std::vector<std::vector<uint32_t>> always_by_guard_;
  // Literal dedup while compiling: (field, caseless, literal) -> atom id.
  std::map<std::tuple<FieldId, bool, std::string>, uint32_t> atom_ids_;
};

constexpr FieldId kKeywordField = ~FieldId{0};

}  // namespace socstream::sigma
