#include "operators/transformer/cascade.hpp"

#include <algorithm>
#include <charconv>

namespace socstream {

void Cascade::configure(const Settings& s) {
  const std::string mode = s.choice("mode", {"confirm", "augment", "fuse"}, "confirm");
  mode_ = mode == "augment" ? Mode::Augment : mode == "fuse" ? Mode::Fuse : Mode::Confirm;
  auto unit = [&](const std::string& key, double v) {
    if (!(v >= 0 && v <= 1)) s.error(key, "must be a number from 0 to 1");
    return static_cast<float>(v);
  };
  alone_min_score_ = unit("alone_min_score", s.number("alone_min_score", 0));
  fuse_threshold_ = unit("fuse_threshold", s.number("fuse_threshold", 0.5));
  // A setting the mode ignores is a mistake the user should hear of.
  if (mode_ != Mode::Augment && s.has("alone_min_score")) s.error("alone_min_score", "only mode: augment uses it");
  if (mode_ != Mode::Fuse && (s.has("fuse_threshold") || s.has("rule_weights")))
    s.error(s.has("fuse_threshold") ? "fuse_threshold" : "rule_weights", "only mode: fuse uses it");
  for (const auto& [sev, value] : s.map("rule_weights")) {
    auto level = parse_severity(sev);
    double w = -1;
    auto r = std::from_chars(value.data(), value.data() + value.size(), w);
    if (!level) s.error("rule_weights", "'" + sev + "' is not one of: info, low, medium, high, critical");
    else if (r.ec != std::errc() || r.ptr != value.data() + value.size() || w < 0 || w > 1)
      s.error("rule_weights", "the weight of '" + sev + "' must be a number from 0 to 1, not '" + value + "'");
    else rule_weights_[static_cast<int>(*level)] = static_cast<float>(w);
  }
}

void Cascade::check_domain(const Settings& s, const ModelInfo& info, const std::string& out_of_domain_field) {
  if (info.domain.known) rule_tags_ = info.domain.rule_tags;
  const auto why = domain_mismatch(s, info);
  if (why.empty()) return;
  in_domain_ = false;
  // Every worker of the component is built from the same settings: one warning.
  const Location at = s.has("field") ? s.where("field") : s.has("fields") ? s.where("fields") : s.where("model");
  const std::string msg = "'" + s.component() + "': " + why + "; " + info.name +
                          " will veto none of the rules' hits here (each alerts, marked " + out_of_domain_field + ")";
  auto& diag = s.diagnostics();
  bool seen = false;
  for (const auto& w : diag.warnings()) seen |= w.message == msg && w.where.str() == at.str();
  if (!seen) diag.warn(at, msg);
}

std::string Cascade::domain_mismatch(const Settings& s, const ModelInfo& info) {
  const auto& d = info.domain;
  if (!d.known) return {};
  std::vector<std::string> fields;
  if (s.has("field")) fields.push_back(s.str("field"));
  for (auto& f : s.list("fields")) fields.push_back(f);
  const auto what = d.text.empty() ? std::string() : " (" + d.text + ")";
  for (const auto& f : fields)
    if (std::find(d.fields.begin(), d.fields.end(), f) == d.fields.end()) {
      std::string known;
      for (const auto& k : d.fields) known += (known.empty() ? "" : ", ") + k;
      return "the field '" + f + "' is outside the domain of " + info.name + what + ", made for: " + known;
    }
  const auto transforms = s.list("transforms");
  for (const auto& t : d.transforms)
    if (std::find(transforms.begin(), transforms.end(), t) == transforms.end())
      return info.name + " was made for text after the transform '" + t + "'" + what + ", which this topology does not apply";
  return {};
}

const char* Cascade::mode_name() const {
  switch (mode_) {
    case Mode::Augment: return "augment";
    case Mode::Fuse: return "fuse";
    case Mode::Confirm: break;
  }
  return "confirm";
}

bool Cascade::judges(const Event& e) const {
  if (!in_domain_) return false;
  if (rule_tags_.empty()) return true;
  for (const Rule* r : e.rules) {
    bool ours = false;
    for (const auto& t : r->tags) ours |= std::find(rule_tags_.begin(), rule_tags_.end(), t) != rule_tags_.end();
    if (!ours) return false;
  }
  return true;
}

Cascade::Decision Cascade::decide(const Event& e, bool positive, float score, float suspicion) const {
  Decision d;
  const bool flagged = !e.rules.empty();
  switch (mode_) {
    case Mode::Augment:
      d.alert = flagged || (positive && score >= alone_min_score_);
      return d;
    case Mode::Fuse: {
      float r = 0;
      for (const Rule* rule : e.rules) r = std::max(r, rule_weights_[static_cast<int>(rule->severity)]);
      d.fused = 1.0f - (1.0f - suspicion) * (1.0f - r);
      d.alert = d.fused >= fuse_threshold_;
      break;
    }
    case Mode::Confirm:
      d.alert = positive;
      break;
  }
  if (!d.alert && flagged && !judges(e)) d.alert = d.out_of_domain = true;
  return d;
}

void Cascade::count(const Event& e, const Decision& d, bool alert) {
  if (!e.rules.empty()) {
    rule_hits_.fetch_add(1, std::memory_order_relaxed);
    if (d.out_of_domain) out_of_domain_.fetch_add(1, std::memory_order_relaxed);
    if (!alert) vetoed_.fetch_add(1, std::memory_order_relaxed);
  } else if (alert) {
    model_only_.fetch_add(1, std::memory_order_relaxed);
  }
}

Cascade::Counts Cascade::counts() const {
  return {rule_hits_.load(), vetoed_.load(), out_of_domain_.load(), model_only_.load()};
}

std::vector<SettingSpec> Cascade::settings() {
  return {
      {"mode", SettingType::String, false, "what a verdict does to the rules' hits: confirm (default: the model decides), augment (every rule hit alerts, and confident model positives no rule flagged), fuse (noisy-OR of model and rule severity)"},
      {"alone_min_score", SettingType::Double, false, "augment: the score a verdict needs to alert where no rule flagged the event (default 0: the label's threshold)"},
      {"fuse_threshold", SettingType::Double, false, "fuse: the fused score an event needs to alert (default 0.5)"},
      {"rule_weights", SettingType::StringMap, false, "fuse: weight per rule severity (default info 0.1, low 0.3, medium 0.5, high 0.7, critical 0.9)"},
  };
}

}  // namespace socstream
