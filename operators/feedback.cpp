#include "operators/feedback.hpp"

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
