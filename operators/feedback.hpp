#pragma once
// Analysts' verdicts for an operator that learns (online_classifier,
// transformer). Events from the sources named in `feedback_sources` are
// verdicts:
//   {alert_id, label}  joined with the texts of that alert, which the operator
//                      remembered when it flagged the event: a bounded store of
//                      its `remember` most recent positives, keyed by the id the
//                      `alert_detector` gives them (AlertOp::alert_id);
//   {text, label}      learnt as is;
//   an event with the operator's scored fields and a label (a labelled stream).
// The label is one of the model's labels, false_positive (the negative label)
// or true_positive (the label the operator gave the alert). What cannot be
// resolved gets a DLQ reason: malformed_feedback, unknown_alert, unknown_label.
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/component.hpp"
#include "operators/text_transforms.hpp"

namespace socstream {

class FeedbackJoin {
 public:
  FeedbackJoin(const Settings& s, std::vector<std::string> labels, uint32_t negative);
  FeedbackJoin() = default;
  // The settings above, for an operator's schema.
  static std::vector<SettingSpec> settings();

  bool is_feedback(const Event& e) const;
  bool remembering() const { return remember_ > 0 && !detector_.empty(); }
  bool has_sources() const { return !sources_.empty(); }
  // Remembers a flagged event's texts ('\0'-separated) and the label it was given.
  void remember(const SourcePos& pos, std::string_view texts, uint32_t predicted);

  struct Resolved {
    bool ok = false;
    std::string_view texts;  // '\0'-separated; valid until the next call
    uint32_t label = 0;
    std::string_view reason;
    std::string detail;
  };
  // `texts` reads the operator's scored fields, for a verdict that has
  // neither an alert id nor a text (a labelled event).
  Resolved resolve(const Event& e, const TextTransforms& texts);

  size_t remembered() const { return store_.size(); }

  // The remembered alerts, oldest first, for a hot reload to hand over
  // (analysts' verdicts on alerts raised before the reload must still join).
  void save(std::string& out) const;
  // Reads what save wrote from the front of `in` and advances it; false if
  // the bytes are not save's (nothing is taken then).
  bool restore(std::string_view& in);

 private:
  struct Remembered {
    std::string texts;
    uint32_t predicted;
  };
  std::vector<std::string> labels_;
  uint32_t negative_ = 0;
  std::vector<std::string> sources_;
  std::string label_field_, text_field_, id_field_, detector_;
  size_t remember_ = 0;
  std::unordered_map<std::string, Remembered> store_;
  std::deque<std::string> order_;
  std::string joined_, scratch_;
};

}  // namespace socstream
