#include "operators/sigma/evaluator.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "engine/json_writer.hpp"
#include "engine/timestamp.hpp"

namespace socstream::sigma {

namespace {

bool scalar(const Field& f) { return f.kind == ValueKind::String || f.kind == ValueKind::Number || f.kind == ValueKind::Bool; }
bool is_array(const Field& f) { return f.kind == ValueKind::Json && !f.value.empty() && f.value[0] == '['; }

}  // namespace

Evaluator::Evaluator(std::shared_ptr<const RuleSet> rules) : rules_(std::move(rules)) {
  slot_.assign(rules_->field_count(), nullptr);
  fold_epoch_.assign(rules_->field_count(), 0);
  fold_off_.assign(rules_->field_count(), 0);
  guard_state_.assign(rules_->guards().size(), -1);
  variant_epoch_.assign(rules_->variants().size(), 0);
  rule_epoch_.assign(rules_->rules().size(), 0);
  evaluations_.assign(rules_->variants().size(), 0);
  rules_->reserve(scratch_space_.ptr());
}

void Evaluator::index(const Event& e) {
  for (FieldId id : present_) slot_[id] = nullptr;
  present_.clear();
  fold_buf_.clear();
  std::fill(guard_state_.begin(), guard_state_.end(), int8_t{-1});
  if (++epoch_ == 0) {  // wrapped: forget every mark
    std::fill(variant_epoch_.begin(), variant_epoch_.end(), 0);
    std::fill(rule_epoch_.begin(), rule_epoch_.end(), 0);
    std::fill(fold_epoch_.begin(), fold_epoch_.end(), 0);
    epoch_ = 1;
  }
  event_ = &e;
  for (const auto& f : e.fields) {
    auto id = id_of(f);
    if (id && !slot_[*id]) {
      slot_[*id] = &f;
      present_.push_back(*id);
    }
  }
}

std::optional<FieldId> Evaluator::lookup(std::string_view name) {
  auto id = rules_->field_id(name);
  if (!id && rules_->pipeline().strip_spaces && name.find(' ') != std::string_view::npos) {
    scratch_.assign(name);
    std::erase(scratch_, ' ');
    id = rules_->field_id(scratch_);
  }
  return id;
}

std::optional<FieldId> Evaluator::id_of(const Field& f) {
  if (!f.interned) return lookup(f.name);
  const size_t mask = by_address_.size() - 1;
  size_t i = (reinterpret_cast<uintptr_t>(f.name.data()) * 0x9e3779b97f4a7c15ull) >> 40 & mask;
  for (;; i = (i + 1) & mask) {
    CacheSlot& c = by_address_[i];
    if (c.name == f.name.data() && c.size == f.name.size())
      return c.id < 0 ? std::nullopt : std::optional<FieldId>(static_cast<FieldId>(c.id));
    if (!c.name) break;
  }
  const auto id = lookup(f.name);
  if (cached_ * 2 >= by_address_.size()) {  // half full: start over rather than probe long
    std::fill(by_address_.begin(), by_address_.end(), CacheSlot{});
    cached_ = 0;
    i = (reinterpret_cast<uintptr_t>(f.name.data()) * 0x9e3779b97f4a7c15ull) >> 40 & mask;
    while (by_address_[i].name) i = (i + 1) & mask;
  }
  by_address_[i] = CacheSlot{f.name.data(), f.name.size(), id ? static_cast<int64_t>(*id) : -1};
  ++cached_;
  return id;
}

std::string_view Evaluator::folded(FieldId id, std::string_view text) {
  if (fold_epoch_[id] != epoch_) {
    fold_epoch_[id] = epoch_;
    fold_off_[id] = static_cast<uint32_t>(fold_buf_.size());
    fold_buf_.resize(fold_buf_.size() + text.size());
    char* out = fold_buf_.data() + fold_off_[id];
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      out[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    }
  }
  return std::string_view(fold_buf_.data() + fold_off_[id], text.size());
}

template <class F>
void Evaluator::for_each_element(const Field& f, F&& fn) {
  simdjson::dom::element root;
  if (array_parser_.parse(f.value.data(), f.value.size()).get(root) != simdjson::SUCCESS) return;
  simdjson::dom::array arr;
  if (root.get_array().get(arr) != simdjson::SUCCESS) return;
  char num[32];
  for (simdjson::dom::element el : arr) {
    std::string_view text;
    switch (el.type()) {
      case simdjson::dom::element_type::STRING: text = el.get_string().value_unsafe(); break;
      case simdjson::dom::element_type::INT64: {
        auto r = std::to_chars(num, num + sizeof num, el.get_int64().value_unsafe());
        text = std::string_view(num, static_cast<size_t>(r.ptr - num));
        break;
      }
      case simdjson::dom::element_type::UINT64: {
        auto r = std::to_chars(num, num + sizeof num, el.get_uint64().value_unsafe());
        text = std::string_view(num, static_cast<size_t>(r.ptr - num));
        break;
      }
      case simdjson::dom::element_type::DOUBLE: {
        auto r = std::to_chars(num, num + sizeof num, el.get_double().value_unsafe());
        text = std::string_view(num, static_cast<size_t>(r.ptr - num));
        break;
      }
      case simdjson::dom::element_type::BOOL: text = el.get_bool().value_unsafe() ? "true" : "false"; break;
      default: continue;
    }
    if (fn(text)) return;
  }
}

bool Evaluator::test_text(const ValueTest& t, std::string_view text, std::string_view fold) {
  return t.match_text(text, fold);
}

bool Evaluator::test_value(const ValueTest& t, const Field& f, FieldId id) {
  if (scalar(f)) {
    if (t.cased || t.kind >= ValueTest::Kind::Regex) return t.match_text(f.value, f.value);
    return t.match_text(f.value, folded(id, f.value));
  }
  if (!is_array(f)) return false;
  bool hit = false;
  for_each_element(f, [&](std::string_view text) {
    if (t.cased || t.kind >= ValueTest::Kind::Regex) {
      hit = t.match_text(text, text);
    } else {
      fold_ascii(text, scratch_);
      hit = t.match_text(text, scratch_);
    }
    return hit;
  });
  return hit;
}

bool Evaluator::test_field(const ValueTest& t, FieldId id, const Field* f) {
  switch (t.kind) {
    case ValueTest::Kind::Null: return !f || f->kind == ValueKind::Null;
    case ValueTest::Kind::Exists: return f != nullptr;
    case ValueTest::Kind::NotExists: return f == nullptr;
    case ValueTest::Kind::FieldRef: {
      if (!f || !scalar(*f)) return false;
      const Field* other = nullptr;
      FieldId oid = 0;
      for (FieldId r : t.ref_fields)
        if (slot_[r] && scalar(*slot_[r])) {
          other = slot_[r];
          oid = r;
          break;
        }
      if (!other) return false;
      // Fold both first: a second fold may grow the buffer under the first view.
      folded(id, f->value);
      folded(oid, other->value);
      const std::string_view a = folded(id, f->value), b = folded(oid, other->value);
      if (!t.ref_prefix && !t.ref_suffix) return a == b;
      if (t.ref_prefix && t.ref_suffix) return memmem(a.data(), a.size(), b.data(), b.size()) != nullptr || b.empty();
      if (t.ref_prefix) return a.substr(0, b.size()) == b;
      return a.size() >= b.size() && a.substr(a.size() - b.size()) == b;
    }
    default: return f && test_value(t, *f, id);
  }
}

bool Evaluator::keyword_test(const ValueTest& t, const Field** witness) {
  auto check = [&](const Field& f) {
    if (!scalar(f)) return false;
    fold_ascii(f.value, scratch_);
    return t.match_text(f.value, scratch_);
  };
  const auto& kf = rules_->keyword_fields();
  if (kf.empty()) {
    for (const auto& f : event_->fields)
      if (check(f)) {
        if (witness) *witness = &f;
        return true;
      }
    return false;
  }
  for (FieldId id : kf)
    if (slot_[id] && test_field(t, id, slot_[id])) {
      if (witness) *witness = slot_[id];
      return true;
    }
  return false;
}

// As pySigma ORs a field mapped to several event fields: the whole item (with
// `all`, every value) must hold on one of them.
bool Evaluator::eval_item(const Item& item, const Field** witness) {
  const auto& groups = item.values.groups;
  auto holds_on = [&](auto&& test) {
    for (const auto& g : groups) {
      bool group = false;
      for (const auto& t : g.tests)
        if (test(t)) {
          group = true;
          break;
        }
      if (group != item.values.all) return group;  // any: first hit decides; all: first miss does
    }
    return item.values.all;
  };
  bool result = false;
  if (item.keyword) {
    result = holds_on([&](const ValueTest& t) { return keyword_test(t, witness); });
  } else {
    for (FieldId id : item.fields) {
      const Field* f = slot_[id];
      if (holds_on([&](const ValueTest& t) { return test_field(t, id, f); })) {
        if (witness && f) *witness = f;
        result = true;
        break;
      }
    }
  }
  return item.values.negate ? !result : result;
}

bool Evaluator::eval(const Expr& x, const std::vector<Item>& items, const std::vector<Expr>* searches) {
  switch (x.op) {
    case Expr::Op::True: return true;
    case Expr::Op::Item: return eval_item(items[x.index]);
    case Expr::Op::Not: return !eval(x.kids[0], items, searches);
    case Expr::Op::And:
      for (const auto& k : x.kids)
        if (!eval(k, items, searches)) return false;
      return true;
    case Expr::Op::Or:
      for (const auto& k : x.kids)
        if (eval(k, items, searches)) return true;
      return false;
    case Expr::Op::Search: {
      int8_t& m = memo_[x.index];
      if (m < 0) m = eval((*searches)[x.index], items, searches) ? 1 : 0;
      return m == 1;
    }
  }
  return false;
}

bool Evaluator::guard(int g) {
  int8_t& s = guard_state_[static_cast<size_t>(g)];
  if (s < 0) {
    const Guard& gd = rules_->guards()[static_cast<size_t>(g)];
    s = eval(gd.expr, gd.items, nullptr) ? 1 : 0;
  }
  return s == 1;
}

void Evaluator::consider(uint32_t vi, std::vector<Match>& out) {
  if (variant_epoch_[vi] == epoch_) return;
  variant_epoch_[vi] = epoch_;
  const Variant& v = rules_->variants()[vi];
  if (rule_epoch_[v.rule] == epoch_) return;  // matched through another log-source entry
  if (v.guard >= 0 && !guard(v.guard)) return;
  ++evaluated_;
  ++evaluations_[vi];
  memo_.assign(v.searches.size(), int8_t{-1});
  if (eval(v.condition, v.items, &v.searches)) {
    rule_epoch_[v.rule] = epoch_;
    out.push_back({v.rule, vi});
  }
}

void Evaluator::match(const Event& e, std::vector<Match>& out) {
  out.clear();
  index(e);
  const RuleSet& rs = *rules_;
  hits_.clear();
  auto on_hit = [this](unsigned id) { hits_.push_back(id); };
  const auto& sets = rs.literal_sets();
  for (FieldId id : present_) {
    const LiteralSet& set = sets[id];
    if (!set.size()) continue;
    const Field& f = *slot_[id];
    if (scalar(f)) {
      set.scan(f.value, scratch_space_.get(), on_hit);
    } else if (is_array(f)) {
      for_each_element(f, [&](std::string_view text) {
        set.scan(text, scratch_space_.get(), on_hit);
        return false;
      });
    }
  }
  if (rs.keyword_set().size()) {
    auto scan = [&](const Field& f) {
      if (scalar(f)) {
        rs.keyword_set().scan(f.value, scratch_space_.get(), on_hit);
      } else if (is_array(f)) {  // as the keyword test reads arrays: element by element
        for_each_element(f, [&](std::string_view text) {
          rs.keyword_set().scan(text, scratch_space_.get(), on_hit);
          return false;
        });
      }
    };
    if (rs.keyword_fields().empty()) {
      for (const auto& f : e.fields) scan(f);
    } else {
      for (FieldId id : rs.keyword_fields())
        if (slot_[id]) scan(*slot_[id]);
    }
  }
  const auto& atom_variants = rs.atom_variants();
  for (uint32_t atom : hits_)
    for (uint32_t vi : atom_variants[atom]) consider(vi, out);
  const auto& always = rs.always_by_guard();
  for (uint32_t vi : always[0]) consider(vi, out);
  for (size_t g = 1; g < always.size(); ++g)
    if (!always[g].empty() && guard(static_cast<int>(g - 1)))
      for (uint32_t vi : always[g]) consider(vi, out);
  std::sort(out.begin(), out.end(), [](const Match& a, const Match& b) { return a.rule < b.rule; });
}

void Evaluator::explain(const Match& m, std::string& out) {
  const Variant& v = rules_->variants()[m.variant];
  memo_.assign(v.searches.size(), int8_t{-1});
  out += "{\"selections\":[";
  std::string fields;
  std::vector<std::string_view> seen;
  bool first = true;
  std::vector<const Expr*> stack;
  for (size_t s = 0; s < v.searches.size(); ++s) {
    if (!v.positive[s] || !eval(v.searches[s], v.items, &v.searches)) continue;
    if (!first) out += ',';
    first = false;
    json::append_string(out, v.search_names[s]);
    stack.assign(1, &v.searches[s]);
    while (!stack.empty()) {
      const Expr* x = stack.back();
      stack.pop_back();
      if (x->op != Expr::Op::Item) {
        for (const auto& k : x->kids) stack.push_back(&k);
        continue;
      }
      const Item& item = v.items[x->index];
      const Field* witness = nullptr;
      if (item.values.negate || !eval_item(item, &witness) || !witness) continue;
      if (std::find(seen.begin(), seen.end(), witness->name) != seen.end()) continue;
      seen.push_back(witness->name);
      if (!fields.empty()) fields += ',';
      json::append_string(fields, witness->name);
      fields += ':';
      json::append_value(fields, *witness);
    }
  }
  out += "],\"fields\":{";
  out += fields;
  out += "}}";
}

std::optional<std::string_view> Evaluator::value_of(const std::vector<FieldId>& ids) {
  for (FieldId id : ids)
    if (slot_[id] && scalar(*slot_[id])) return slot_[id]->value;
  return std::nullopt;
}

std::optional<int64_t> Evaluator::event_time() {
  for (FieldId id : rules_->timestamp_fields()) {
    if (!slot_[id] || !scalar(*slot_[id])) continue;
    if (auto t = timestamp::parse_iso8601(slot_[id]->value)) return t;
    if (auto t = timestamp::parse_epoch(slot_[id]->value)) return t;
  }
  return std::nullopt;
}

}  // namespace socstream::sigma
