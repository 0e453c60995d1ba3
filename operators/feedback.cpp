#include "operators/feedback.hpp"

#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "operators/alert.hpp"

namespace socstream {

FeedbackJoin::FeedbackJoin(const Settings& s, std::vector<std::string> labels, uint32_t negative)
    : labels_(std::move(labels)),
      negative_(negative),
      sources_(s.list("feedback_sources")),
      label_field_(s.str("label_field", "label")),
      text_field_(s.str("text_field", "text")),
      id_field_(s.str("alert_id_field", "alert_id")),
      detector_(s.str("alert_detector", "")),
      remember_(static_cast<size_t>(s.integer("remember", 100000, 0, 100'000'000))) {
  if (s.has("alert_detector") && detector_.empty()) s.error("alert_detector", "must name the alert operator's detector");
}

std::vector<SettingSpec> FeedbackJoin::settings() {
  return {{"feedback_sources", SettingType::StringList, false, "sources whose events are analysts' verdicts"},
          {"label_field", SettingType::String, false, "a verdict's label field (default label)"},
          {"text_field", SettingType::String, false, "a verdict's text field (default text)"},
          {"alert_id_field", SettingType::String, false, "a verdict's alert id field (default alert_id)"},
          {"alert_detector", SettingType::String, false, "the alert operator's detector, whose ids verdicts name"},
          {"remember", SettingType::Int, false, "recent positives kept for verdicts by alert id (default 100000)"}};
}

bool FeedbackJoin::is_feedback(const Event& e) const {
  return e.pos.source && std::find(sources_.begin(), sources_.end(), *e.pos.source) != sources_.end();
}

void FeedbackJoin::remember(const SourcePos& pos, std::string_view texts, uint32_t predicted) {
  if (!remembering()) return;
  std::string id = AlertOp::alert_id(detector_, pos);
  auto [it, fresh] = store_.try_emplace(id, Remembered{std::string(texts), predicted});
  if (!fresh) {
    it->second = Remembered{std::string(texts), predicted};
    return;
  }
  order_.push_back(std::move(id));
  if (order_.size() > remember_) {
    store_.erase(order_.front());
    order_.pop_front();
  }
}

namespace {

void put_u32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }
void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}
bool get_u32(std::string_view& in, uint32_t& v) {
  if (in.size() < 4) return false;
  std::memcpy(&v, in.data(), 4);
  in.remove_prefix(4);
  return true;
}
bool get_str(std::string_view& in, std::string_view& s) {
  uint32_t n;
  if (!get_u32(in, n) || in.size() < n) return false;
  s = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

}  // namespace

void FeedbackJoin::save(std::string& out) const {
  put_u32(out, static_cast<uint32_t>(order_.size()));
  for (const auto& id : order_) {
    const auto& r = store_.at(id);
    put_str(out, id);
    put_str(out, r.texts);
    put_u32(out, r.predicted);
  }
}

bool FeedbackJoin::restore(std::string_view& in) {
  std::string_view at = in;
  uint32_t n;
  if (!get_u32(at, n)) return false;
  std::vector<std::pair<std::string_view, Remembered>> items;
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view id, texts;
    uint32_t predicted;
    if (!get_str(at, id) || !get_str(at, texts) || !get_u32(at, predicted)) return false;
    // A label index beyond this model's labels (the labels changed): that alert can no longer be joined.
    if (predicted >= labels_.size()) continue;
    items.emplace_back(id, Remembered{std::string(texts), predicted});
  }
  for (auto& [id, r] : items) {
    if (!remembering()) break;
    auto [it, fresh] = store_.try_emplace(std::string(id), std::move(r));
    if (fresh) order_.emplace_back(id);
  }
  while (order_.size() > remember_) {
    store_.erase(order_.front());
    order_.pop_front();
  }
  in = at;
  return true;
}

FeedbackJoin::Resolved FeedbackJoin::resolve(const Event& e, const TextTransforms& texts) {
  Resolved r;
  auto fail = [&](std::string_view reason, std::string detail) {
    r.reason = reason;
    r.detail = std::move(detail);
    return r;
  };
  const Field* label = e.field(label_field_);
  if (!label || label->kind != ValueKind::String || label->value.empty())
    return fail("malformed_feedback", "no string field '" + label_field_ + "' with the verdict");
  const Remembered* alert = nullptr;
  if (const Field* id = e.field(id_field_)) {
    auto it = store_.find(std::string(id->value));
    if (it == store_.end())
      return fail("unknown_alert", detector_.empty()
                                       ? "alert_id given but no alert_detector is configured to remember alerts by"
                                       : fmt::format("alert {} is not among the {} most recent alerts of detector '{}'",
                                                     id->value, store_.size(), detector_));
    alert = &it->second;
    r.texts = alert->texts;
  } else if (const Field* text = e.field(text_field_); text && text->kind == ValueKind::String) {
    r.texts = text->value;
  } else {
    joined_.clear();
    if (texts.join(e, joined_, scratch_) == 0)
      return fail("malformed_feedback", "a verdict needs '" + id_field_ + "', '" + text_field_ + "' or the scored fields");
    r.texts = joined_;
  }
  auto it = std::find(labels_.begin(), labels_.end(), label->value);
  if (it != labels_.end()) {
    r.label = static_cast<uint32_t>(it - labels_.begin());
  } else if (label->value == "false_positive") {
    r.label = negative_;
  } else if (label->value == "true_positive" && alert) {
    r.label = alert->predicted;
  } else {
    return fail("unknown_label", fmt::format("'{}' is not one of {}, false_positive or true_positive (with an alert_id)",
                                             label->value, fmt::join(labels_, ", ")));
  }
  r.ok = true;
  return r;
}

}  // namespace socstream
