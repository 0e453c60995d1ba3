#pragma once
// The fields a transformer writes into an event and an alert reads back,
// defined once so the two cannot drift apart. A prefix keeps the verdicts of
// several models on one event apart.
#include <string>
#include <string_view>

namespace socstream {

struct VerdictFields {
  explicit VerdictFields(const std::string& prefix = "")
      : label(prefix + "label"),
        score(prefix + "score"),
        model(prefix + "model"),
        version(prefix + "model_version"),
        embedding(prefix + "embedding"),
        explanation(prefix + "explanation"),
        unscored(prefix + "model_unscored"),
        fused(prefix + "model_fused_score"),
        out_of_domain(prefix + "model_out_of_domain") {}

  // One of the fields of a classifier's verdict.
  bool is_verdict(std::string_view name) const {
    return name == label || name == score || name == model || name == version || name == explanation ||
           name == unscored;
  }

  // explanation: the features behind an online model's score (a JSON array).
  // unscored: how many of the event's texts the model left out (over its
  // budget), absent when it scored them all.
  // fused: a transformer's `mode: fuse` score (model and rules together).
  // out_of_domain: true where a rule hit alerted because the model could not
  // judge it (models/model.hpp, ModelInfo::Domain); an event field, so alerts
  // copy it for the analyst.
  std::string label, score, model, version, embedding, explanation, unscored, fused, out_of_domain;
};

}  // namespace socstream
