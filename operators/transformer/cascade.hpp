#pragma once
// What a transformer's verdict does to the rules' hits an event carries (the
// rules a regex_prefilter or sigma operator upstream matched), by `mode`:
//   confirm (default): the model decides; fed only the rules' hits, only those
//     it confirms alert (a cascade that trades recall for precision).
//   augment: every rule hit alerts, carrying the verdict as context; events no
//     rule flagged alert when the model is confident on its own
//     (`alone_min_score`). Fed both ports of the prefilter, the model adds
//     detections instead of vetoing them.
//   fuse: noisy-OR of the model's suspicion (1 - P(negative)) and a weight per
//     rule severity (`rule_weights`); the event alerts at `fuse_threshold`.
// In every mode the model vetoes only what it can judge: a rule hit outside
// its model.yaml `domain:` (another field, other transforms, a rule none of
// whose tags is in the domain's rule_tags) always alerts, marked
// `model_out_of_domain`. A web model placed after Windows rules must not drop
// an LSASS dump because it reads like a harmless query value.
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/config.hpp"
#include "engine/event.hpp"
#include "engine/rule.hpp"
#include "models/model.hpp"

namespace socstream {

class Cascade {
 public:
  enum class Mode { Confirm, Augment, Fuse };

  Cascade() = default;
  // Reads the mode's settings; with the model's description, checks the
  // topology's field and transforms against its domain and warns (once per
  // component, at the field's line) when they do not fit.
  void configure(const Settings& s);
  void check_domain(const Settings& s, const ModelInfo& info, const std::string& out_of_domain_field);

  Mode mode() const { return mode_; }
  const char* mode_name() const;

  struct Decision {
    bool alert = false;
    bool out_of_domain = false;  // a rule hit that alerts only because the model could not judge it
    float fused = 0;             // fuse: the fused score
  };
  // `positive`, `score` and `suspicion` are the model's verdict on the event.
  Decision decide(const Event& e, bool positive, float score, float suspicion) const;
  // Counts what the decision did (both of the transformer's threads call it).
  void count(const Event& e, const Decision& d, bool alert);

  struct Counts {
    uint64_t rule_hits = 0;      // scored events that carried a rule
    uint64_t vetoed = 0;         // rule hits the model sent to `negative`
    uint64_t out_of_domain = 0;  // rule hits passed because the model could not judge them
    uint64_t model_only = 0;     // alerts no rule flagged
  };
  Counts counts() const;

  static std::vector<SettingSpec> settings();

 private:
  // Empty when the topology's field and transforms fit the domain (or it is unknown), else why not.
  static std::string domain_mismatch(const Settings& s, const ModelInfo& info);
  // Whether the model may overrule the event's rule hits.
  bool judges(const Event& e) const;

  Mode mode_ = Mode::Confirm;
  float alone_min_score_ = 0;
  float fuse_threshold_ = 0.5f;
  float rule_weights_[5] = {0.1f, 0.3f, 0.5f, 0.7f, 0.9f};  // by Severity
  bool in_domain_ = true;
  std::vector<std::string> rule_tags_;  // the domain's; empty: any rule
  std::atomic<uint64_t> rule_hits_{0}, vetoed_{0}, out_of_domain_{0}, model_only_{0};
};

}  // namespace socstream
