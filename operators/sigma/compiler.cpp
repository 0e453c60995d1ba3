#include "operators/sigma/compiler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "operators/sigma/attack.hpp"

namespace socstream::sigma {

namespace {

struct Lit {
  FieldId field;
  bool caseless;
  std::string text;
  bool operator<(const Lit& o) const { return std::tie(field, caseless, text) < std::tie(o.field, o.caseless, o.text); }
  bool operator==(const Lit& o) const { return field == o.field && caseless == o.caseless && text == o.text; }
};

// A disjunction of literals one of which any matching event holds; `any` when
// nothing is known (a negation, a regex, a number comparison).
struct Need {
  bool any = true;
  std::vector<Lit> lits;

  static Need anything() { return {}; }
  // Longer literals are rarer; fewer of them are cheaper to confirm.
  std::pair<size_t, int64_t> score() const {
    if (any) return {0, 0};
    size_t shortest = SIZE_MAX;
    for (const auto& l : lits) shortest = std::min(shortest, l.text.size());
    return {shortest, -static_cast<int64_t>(lits.size())};
  }
  void unite(const Need& o) {
    if (any || o.any) {
      any = true;
      lits.clear();
      return;
    }
    lits.insert(lits.end(), o.lits.begin(), o.lits.end());
  }
};

Need best_of(std::vector<Need> needs) {
  Need best = Need::anything();
  for (auto& n : needs)
    if (!n.any && (best.any || n.score() > best.score())) best = std::move(n);
  return best;
}

Need item_need(const Item& item) {
  if (item.values.negate) return Need::anything();
  std::vector<Need> groups;
  for (const auto& g : item.values.groups) {
    Need n;
    n.any = false;
    for (const auto& t : g.tests) {
      std::string lit = t.required_literal();
      if (lit.empty()) {
        n = Need::anything();
        break;
      }
      if (item.keyword) {
        n.lits.push_back({kKeywordField, !t.cased, lit});
      } else {
        for (FieldId f : item.fields) n.lits.push_back({f, !t.cased, lit});
      }
    }
    if (item.fields.empty() && !item.keyword) n = Need::anything();
    groups.push_back(std::move(n));
  }
  if (groups.empty()) return Need::anything();
  if (item.values.all) return best_of(std::move(groups));
  Need out;
  out.any = false;
  for (const auto& g : groups) out.unite(g);
  return out;
}

Need need_of(const Expr& e, const std::vector<Item>& items, const std::vector<Expr>& searches) {
  switch (e.op) {
    case Expr::Op::Item: return item_need(items[e.index]);
    case Expr::Op::Search: return need_of(searches[e.index], items, searches);
    case Expr::Op::Not:
    case Expr::Op::True: return Need::anything();
    case Expr::Op::And: {
      std::vector<Need> kids;
      for (const auto& k : e.kids) kids.push_back(need_of(k, items, searches));
      return best_of(std::move(kids));
    }
    case Expr::Op::Or: {
      Need out;
      out.any = false;
      for (const auto& k : e.kids) {
        out.unite(need_of(k, items, searches));
        if (out.any) break;
      }
      return out;
    }
  }
  return Need::anything();
}

void mark_positive(const Cond& c, bool negated, std::vector<bool>& positive) {
  if (c.op == Cond::Op::Search) {
    if (!negated) positive[static_cast<size_t>(c.search)] = true;
    return;
  }
  for (const auto& k : c.kids) mark_positive(k, negated != (c.op == Cond::Op::Not), positive);
}

Severity severity_of_level(const std::string& level) {
  if (level == "informational") return Severity::Info;
  if (level == "low") return Severity::Low;
  if (level == "high") return Severity::High;
  if (level == "critical") return Severity::Critical;
  return Severity::Medium;
}

bool filtered_out(const Rule& r, const CompileOptions& o) {
  if (o.status.empty()) {
    if (r.status == "deprecated" || r.status == "unsupported") return true;
  } else if (std::find(o.status.begin(), o.status.end(), r.status) == o.status.end()) {
    return true;
  }
  if (severity_of_level(r.level) < o.min_level && !r.level.empty()) return true;
  if (r.level.empty() && o.min_level > Severity::Medium) return true;
  if (!r.correlation) {
    if (!o.logsource.product.empty() && o.logsource.product != r.logsource.product) return true;
    if (!o.logsource.category.empty() && o.logsource.category != r.logsource.category) return true;
    if (!o.logsource.service.empty() && o.logsource.service != r.logsource.service) return true;
  }
  return false;
}

std::string describe(const LogSource& ls) {
  std::string s;
  auto add = [&](const char* k, const std::string& v) {
    if (!v.empty()) s += (s.empty() ? "" : " ") + std::string(k) + "=" + v;
  };
  add("product", ls.product);
  add("category", ls.category);
  add("service", ls.service);
  return s.empty() ? "(no logsource)" : s;
}

}  // namespace

FieldId FieldTable::insert(const std::string& name) {
  if (auto id = find(name)) return *id;
  const FieldId id = static_cast<FieldId>(names_.size());
  names_.push_back(name);
  hashes_.push_back(name_hash(name));
  if (names_.size() * 4 > slots_.size()) {
    slots_.assign(slots_.size() * 2, 0);
    mask_ = slots_.size() - 1;
    for (FieldId i = 0; i < names_.size(); ++i) place(i);
  } else {
    place(id);
  }
  return id;
}

void FieldTable::place(FieldId id) {
  size_t i = hashes_[id] & mask_;
  while (slots_[i]) i = (i + 1) & mask_;
  slots_[i] = id + 1;
}

FieldId RuleSet::intern(const std::string& name) { return fields_.insert(name); }

std::vector<FieldId> RuleSet::event_field_ids(const std::string& sigma_field, const PipelineEntry* entry) {
  // A field these events never carry is a field no event has: every test on it
  // is what a missing field gives (false; null and exists: false hold). The
  // name cannot occur in an event: 0xFF is never part of UTF-8 text.
  if (entry && entry->unsupported.count(sigma_field)) return {intern("\xff" "unsupported:" + sigma_field)};
  std::vector<FieldId> ids;
  for (const auto& f : pipeline_.event_fields(sigma_field, entry)) ids.push_back(intern(f));
  return ids;
}

Item RuleSet::compile_item(const FieldItem& fi, const CompiledValues& values, const PipelineEntry* entry) {
  Item item;
  item.sigma_field = fi.field;
  item.values = values;
  item.keyword = fi.field.empty();
  if (!item.keyword) item.fields = event_field_ids(fi.field, entry);
  for (auto& g : item.values.groups)
    for (auto& t : g.tests)
      if (t.kind == ValueTest::Kind::FieldRef) t.ref_fields = event_field_ids(t.ref, entry);
  return item;
}

Expr RuleSet::compile_search(const Search& s, const std::vector<std::vector<CompiledValues>>& values,
                             const PipelineEntry* entry, std::vector<Item>& items) {
  Expr any{Expr::Op::Or, 0, {}};
  for (size_t a = 0; a < s.alternatives.size(); ++a) {
    Expr all{Expr::Op::And, 0, {}};
    for (size_t i = 0; i < s.alternatives[a].size(); ++i) {
      items.push_back(compile_item(s.alternatives[a][i], values[a][i], entry));
      all.kids.push_back(Expr{Expr::Op::Item, static_cast<uint32_t>(items.size() - 1), {}});
    }
    any.kids.push_back(all.kids.size() == 1 ? std::move(all.kids[0]) : std::move(all));
  }
  return any.kids.size() == 1 ? std::move(any.kids[0]) : any;
}

Expr RuleSet::compile_cond(const Cond& c) {
  switch (c.op) {
    case Cond::Op::Search: return Expr{Expr::Op::Search, static_cast<uint32_t>(c.search), {}};
    case Cond::Op::Not: return Expr{Expr::Op::Not, 0, {compile_cond(c.kids[0])}};
    case Cond::Op::And:
    case Cond::Op::Or: {
      Expr e{c.op == Cond::Op::And ? Expr::Op::And : Expr::Op::Or, 0, {}};
      for (const auto& k : c.kids) e.kids.push_back(compile_cond(k));
      return e;
    }
  }
  return {};
}

socstream::Rule RuleSet::meta(const Rule& r, const char* kind) const {
  socstream::Rule m;
  m.id = r.key();
  m.kind = kind;
  m.severity = severity_of_level(r.level);
  m.level = r.level.empty() ? "medium" : r.level;
  m.tags = r.tags;
  m.description = r.description;
  m.title = r.title;
  m.status = r.status;
  m.author = r.author;
  m.date = r.date;
  m.modified = r.modified;
  m.file = r.file;
  // The rules tree a rule comes from (SigmaHQ's rules, rules-emerging-threats,
  // rules-threat-hunting, ...) is its ruleset; elsewhere, the rule's folder.
  const std::filesystem::path file(r.file);
  for (const auto& part : file.parent_path())
    if (part.string() == "rules" || part.string().rfind("rules-", 0) == 0) m.ruleset = part.string();
  if (m.ruleset.empty()) m.ruleset = file.parent_path().filename().string();
  m.references = r.references;
  m.falsepositives = r.falsepositives;
  m.product = r.logsource.product;
  m.category = r.logsource.category;
  m.service = r.logsource.service;
  AttackTables::builtin().classify(r.tags, m.tactics, m.techniques);
  return m;
}

RuleSet::RuleSet(const std::vector<Rule>& rules, Pipeline pipeline, const CompileOptions& opts,
                 std::vector<Refusal> refused_while_loading)
    : pipeline_(std::move(pipeline)), opts_(opts), refused_(std::move(refused_while_loading)) {
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& f : pipeline_.keyword_fields) keyword_fields_.push_back(intern(f));
  for (const auto& f : pipeline_.timestamp) timestamp_fields_.push_back(intern(f));
  guard_of_entry_.assign(pipeline_.logsources.size(), -1);

  std::set<std::string> files;
  std::map<std::string, uint32_t> by_key;  // id and name -> index into rules_
  std::set<std::string> seen;
  std::vector<const Rule*> correlations;
  // The rules a loaded correlation counts load whatever the filters say: the
  // specification puts level and status on the outermost correlation only.
  std::set<std::string> needed;
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& r : rules) {
      if (!r.correlation) continue;
      if (filtered_out(r, opts_) && !needed.count(r.id) && !(r.name.size() && needed.count(r.name))) continue;
      for (const auto& ref : r.correlation->rules) grew |= needed.insert(ref).second;
    }
  }
  for (const auto& r : rules) {
    files.insert(r.file);
    ++stats_.documents;
    if (filtered_out(r, opts_) && !needed.count(r.id) && !(r.name.size() && needed.count(r.name))) {
      ++stats_.filtered;
      continue;
    }
    if (!seen.insert(r.key()).second) {
      refused_.push_back({r.where, r.id, r.title, "duplicate_id", "another rule already has the id '" + r.key() + "'"});
      continue;
    }
    if (r.correlation) {
      correlations.push_back(&r);
      continue;
    }
    try {
      std::vector<Cond> conds;
      for (const auto& [text, where] : r.conditions) conds.push_back(parse_condition(text, where, r.searches));
      std::vector<std::vector<std::vector<CompiledValues>>> values(r.searches.size());
      for (size_t s = 0; s < r.searches.size(); ++s)
        for (const auto& alt : r.searches[s].alternatives) {
          values[s].emplace_back();
          for (const auto& item : alt) values[s].back().push_back(compile_values(item, item.field.empty(), opts_.placeholders));
        }
      std::vector<const PipelineEntry*> entries = pipeline_.covering(r.logsource);
      if (entries.empty()) {
        if (!pipeline_.unmapped_any) {
          ++stats_.skipped["log source not in the pipeline: " + describe(r.logsource)];
          continue;
        }
        entries.push_back(nullptr);
      }
      const uint32_t index = static_cast<uint32_t>(rules_.size());
      std::vector<std::pair<Variant, std::vector<Lit>>> made;
      for (const PipelineEntry* entry : entries) {
        Variant v;
        v.rule = index;
        if (entry) {
          const size_t ei = static_cast<size_t>(entry - pipeline_.logsources.data());
          if (guard_of_entry_[ei] < 0) {
            Guard g;
            g.describe = entry->describe();
            Expr all{Expr::Op::And, 0, {}};
            for (const auto& c : entry->conditions) {
              g.items.push_back(compile_item(c, compile_values(c, false, {}), entry));
              all.kids.push_back(Expr{Expr::Op::Item, static_cast<uint32_t>(g.items.size() - 1), {}});
            }
            g.expr = all.kids.empty() ? Expr{} : std::move(all);
            guard_of_entry_[ei] = static_cast<int>(guards_.size());
            guards_.push_back(std::move(g));
          }
          v.guard = guard_of_entry_[ei];
        }
        for (size_t s = 0; s < r.searches.size(); ++s) {
          v.searches.push_back(compile_search(r.searches[s], values[s], entry, v.items));
          v.search_names.push_back(r.searches[s].name);
        }
        v.positive.assign(r.searches.size(), false);
        Expr cond{Expr::Op::Or, 0, {}};
        for (const auto& c : conds) {
          cond.kids.push_back(compile_cond(c));
          mark_positive(c, false, v.positive);
        }
        v.condition = cond.kids.size() == 1 ? std::move(cond.kids[0]) : std::move(cond);
        Need need = opts_.prefilter ? need_of(v.condition, v.items, v.searches) : Need::anything();
        made.emplace_back(std::move(v), std::move(need.lits));
      }
      for (auto& [v, lits] : made) {
        const uint32_t vi = static_cast<uint32_t>(variants_.size());
        std::sort(lits.begin(), lits.end());
        lits.erase(std::unique(lits.begin(), lits.end()), lits.end());
        v.always = lits.empty();
        for (const auto& l : lits) {
          auto key = std::make_tuple(l.field, l.caseless, l.text);
          auto [it, fresh] = atom_ids_.emplace(key, static_cast<uint32_t>(atom_variants_.size()));
          if (fresh) atom_variants_.emplace_back();
          atom_variants_[it->second].push_back(vi);
        }
        variants_.push_back(std::move(v));
      }
      rules_.push_back(meta(r, "sigma"));
      if (!r.id.empty()) by_key[r.id] = index;
      if (!r.name.empty()) {
        by_key[r.name] = index;
        rule_names_[index] = r.name;
      }
    } catch (const RuleError& e) {
      refused_.push_back({e.where, r.id, r.title, e.reason, e.message});
    }
  }
  const size_t detections = rules_.size();
  build_correlations(correlations, by_key);

  // Always-evaluated variants by guard (index 0: no guard).
  always_by_guard_.assign(guards_.size() + 1, {});
  for (uint32_t vi = 0; vi < variants_.size(); ++vi)
    if (variants_[vi].always) always_by_guard_[static_cast<size_t>(variants_[vi].guard + 1)].push_back(vi);

  // One literal set per field, one for keywords.
  sets_.resize(fields_.size());
  for (const auto& [key, id] : atom_ids_) {
    const auto& [field, caseless, text] = key;
    (field == kKeywordField ? keyword_set_ : sets_[field]).add(text, caseless, id);
  }
  for (auto& s : sets_) {
    if (s.size()) ++stats_.literal_sets;
    s.compile();
  }
  keyword_set_.compile();

  stats_.files = files.size();
  stats_.loaded = detections;
  stats_.variants = variants_.size();
  stats_.always = std::count_if(variants_.begin(), variants_.end(), [](const Variant& v) { return v.always; });
  stats_.atoms = atom_ids_.size();
  stats_.correlations = correlations_.size();
  stats_.compile_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  atom_ids_.clear();
}

void RuleSet::build_correlations(const std::vector<const Rule*>& corr, const std::map<std::string, uint32_t>& by_key_in) {
  std::map<std::string, uint32_t> by_key = by_key_in;
  // Correlations may name each other in any order: give them their indices first.
  std::vector<uint32_t> index(corr.size());
  for (size_t i = 0; i < corr.size(); ++i) {
    index[i] = static_cast<uint32_t>(rules_.size());
    rules_.push_back(meta(*corr[i], "sigma_correlation"));
    if (!corr[i]->id.empty()) by_key[corr[i]->id] = index[i];
    if (!corr[i]->name.empty()) {
      by_key[corr[i]->name] = index[i];
      rule_names_[index[i]] = corr[i]->name;
    }
  }
  std::vector<bool> ok(corr.size(), true);
  for (size_t i = 0; i < corr.size(); ++i) {
    const Rule& r = *corr[i];
    const Correlation& c = *r.correlation;
    CorrelationDef d;
    d.rule = index[i];
    d.spec = c;
    try {
      for (const auto& ref : c.rules) {
        auto it = by_key.find(ref);
        if (it == by_key.end())
          throw RuleError{c.where, "unknown_rule", "the correlation names rule '" + ref + "', which is not loaded"};
        if (it->second == d.rule) throw RuleError{c.where, "bad_correlation", "a correlation cannot count itself"};
        d.inputs.push_back(it->second);
      }
      for (uint32_t input : d.inputs) {
        auto map_one = [&](const std::string& sigma_field) {
          std::string field = sigma_field;
          if (auto a = c.aliases.find(sigma_field); a != c.aliases.end()) {
            // An alias names each rule as `rules:` may, by its name or its id
            // (pySigma resolves both the same way).
            const std::string* by_name = nullptr;
            const std::string* by_id = nullptr;
            if (auto n = rule_names_.find(input); n != rule_names_.end())
              if (auto f = a->second.find(n->second); f != a->second.end()) by_name = &f->second;
            if (auto f = a->second.find(rules_[input].id); f != a->second.end()) by_id = &f->second;
            if (!by_name && !by_id)
              throw RuleError{c.where, "bad_correlation",
                              "alias '" + sigma_field + "' does not say which field rule '" + rules_[input].id + "' uses"};
            if (by_name && by_id && *by_name != *by_id)
              throw RuleError{c.where, "bad_correlation",
                              "alias '" + sigma_field + "' gives rule '" + rules_[input].id + "' two fields, '" + *by_name +
                                  "' by its name and '" + *by_id + "' by its id"};
            field = by_name ? *by_name : *by_id;
          }
          std::vector<FieldId> ids;
          for (const auto& f : pipeline_.event_fields(field, nullptr)) ids.push_back(intern(f));
          return ids;
        };
        std::vector<std::vector<FieldId>> groups;
        for (const auto& g : c.group_by) groups.push_back(map_one(g));
        d.group_fields.push_back(std::move(groups));
        d.value_fields.push_back(c.field.empty() ? std::vector<FieldId>{} : map_one(c.field));
      }
    } catch (const RuleError& e) {
      refused_.push_back({e.where, r.id, r.title, e.reason, e.message});
      ok[i] = false;
      continue;
    }
    correlations_.push_back(std::move(d));
  }
  generates_.assign(rules_.size(), true);
  feeds_.assign(rules_.size(), {});
  std::vector<bool> wanted(rules_.size(), false);
  for (uint32_t ci = 0; ci < correlations_.size(); ++ci)
    for (uint32_t input : correlations_[ci].inputs) {
      feeds_[input].push_back(ci);
      generates_[input] = false;
      if (correlations_[ci].spec.generate) wanted[input] = true;
    }
  for (size_t i = 0; i < rules_.size(); ++i)
    if (wanted[i]) generates_[i] = true;
  // A correlation that failed to load is not an alert of its own either.
  for (size_t i = 0; i < corr.size(); ++i)
    if (!ok[i]) generates_[index[i]] = false;
}

void RuleSet::reserve(hs_scratch_t** scratch) const {
  for (const auto& s : sets_) s.reserve(scratch);
  keyword_set_.reserve(scratch);
}

std::string RuleSet::summary(size_t max_refusals) const {
  std::string s = fmt::format(
      "{} rule(s) loaded from {} file(s) ({} variants for the pipeline '{}', {} correlation(s)); {} refused; {} "
      "filtered out; {} not for this pipeline; prefilter: {} literals in {} sets, {} variant(s) always evaluated; "
      "compiled in {:.2f} s",
      stats_.loaded, stats_.files, stats_.variants, pipeline_.name, stats_.correlations,
      refused_.size(), stats_.filtered,
      [&] {
        size_t n = 0;
        for (const auto& [k, v] : stats_.skipped) n += v;
        return n;
      }(),
      stats_.atoms, stats_.literal_sets + (keyword_set_.size() ? 1 : 0), stats_.always, stats_.compile_seconds);
  if (!refused_.empty()) {
    std::map<std::string, std::vector<const Refusal*>> by_reason;
    for (const auto& r : refused_) by_reason[r.reason].push_back(&r);
    s += "\nrefused, by reason:";
    size_t shown = 0;
    for (const auto& [reason, list] : by_reason) {
      s += fmt::format("\n  {} ({}):", reason, list.size());
      for (const Refusal* r : list) {
        if (shown == max_refusals) break;
        s += "\n    " + r->str();
        ++shown;
      }
    }
    if (shown < refused_.size()) s += fmt::format("\n  ... {} more not listed", refused_.size() - shown);
  }
  if (!stats_.skipped.empty()) {
    s += "\nnot for this pipeline:";
    std::vector<std::pair<size_t, std::string>> sorted;
    for (const auto& [k, v] : stats_.skipped) sorted.emplace_back(v, k);
    std::sort(sorted.rbegin(), sorted.rend());
    size_t shown = 0;
    for (const auto& [n, k] : sorted) {
      if (shown++ == 10) {
        s += fmt::format("\n  ... {} more kinds", sorted.size() - 10);
        break;
      }
      s += fmt::format("\n  {} {}", n, k);
    }
  }
  return s;
}

}  // namespace socstream::sigma
