#include "operators/online_classifier/endpoint.hpp"

#include <fmt/format.h>

#include <mutex>

#include "engine/json_writer.hpp"
#include "operators/online_classifier.hpp"

namespace socstream {

std::string OnlineEndpoint::describe() const {
  std::string out = "{\"name\":";
  json::append_string(out, op_.name_);
  out += ",\"component\":";
  json::append_string(out, op_.context().name());
  out += R"(,"kind":"online_classifier","task":"classify","labels":[)";
  for (size_t i = 0; i < op_.labels_.size(); ++i) {
    if (i) out += ',';
    json::append_string(out, op_.labels_[i]);
  }
  out += "],\"negative_label\":";
  json::append_string(out, op_.labels_[op_.negative_]);
  std::lock_guard lk(op_.model_mu_);
  out += fmt::format(R"(,"threshold":{},"min_updates":{},"version":)", op_.threshold_, op_.min_updates_);
  json::append_string(out, op_.version());
  // It learns from whatever verdicts its feedback sources give: "learning" says whether it has any.
  out += fmt::format(R"(,"updates":{},"learning":{},"snapshots":{}}})", op_.model_ ? op_.model_->updates() : 0,
                     op_.join_.has_sources() ? "true" : "false", op_.snapshots_ ? "true" : "false");
  return out;
}

std::string OnlineEndpoint::predict(const std::vector<std::string>& texts) {
  std::lock_guard lk(op_.model_mu_);
  if (!op_.model_) throw std::runtime_error("the model is not open yet");
  std::string out = "[";
  std::vector<uint32_t> slots;
  std::vector<float> probs(op_.labels_.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    slots.clear();
    op_.model_->featurizer().add(texts[i], slots);
    op_.model_->predict(slots.data(), slots.size(), probs.data());
    const auto v = op_.judge(probs.data());
    if (i) out += ',';
    out += "{\"text\":";
    json::append_string(out, texts[i]);
    out += ",\"label\":";
    json::append_string(out, op_.labels_[v.first]);
    out += fmt::format(R"(,"score":{:.6f},"positive":{},"trained":{},"scores":{{)", probs[v.first],
                       v.second ? "true" : "false", op_.model_->updates() >= op_.min_updates_ ? "true" : "false");
    for (size_t k = 0; k < probs.size(); ++k) {
      if (k) out += ',';
      json::append_string(out, op_.labels_[k]);
      out += fmt::format(":{:.6f}", probs[k]);
    }
    out += "}}";
  }
  return out + "]";
}

std::string OnlineEndpoint::explain(const std::string& text) {
  std::lock_guard lk(op_.model_mu_);
  if (!op_.model_) throw std::runtime_error("the model is not open yet");
  std::vector<uint32_t> slots;
  std::vector<float> probs(op_.labels_.size());
  op_.model_->featurizer().add(text, slots);
  op_.model_->predict(slots.data(), slots.size(), probs.data());
  auto v = op_.judge(probs.data());
  // The features of the most suspicious label other than the negative one,
  // even when the verdict is negative: what would push it up is the question.
  uint32_t towards = v.first;
  if (towards == op_.negative_) {
    towards = op_.negative_ == 0 ? 1 : 0;
    for (uint32_t k = 0; k < probs.size(); ++k)
      if (k != op_.negative_ && probs[k] > probs[towards]) towards = k;
  }
  op_.joined_ = text;
  std::string features = op_.explain(towards, 10);
  std::string out = "{\"text\":";
  json::append_string(out, text);
  out += ",\"label\":";
  json::append_string(out, op_.labels_[v.first]);
  out += fmt::format(R"(,"score":{:.6f},"method":"feature weights","towards":)", probs[v.first]);
  json::append_string(out, op_.labels_[towards]);
  out += ",\"features\":" + features + "}";
  return out;
}

std::string OnlineEndpoint::performance() const {
  std::lock_guard lk(op_.model_mu_);
  if (!op_.model_) return "{}";
  const auto& p = op_.model_->progress();
  return fmt::format(
      R"({{"progressive_accuracy":{:.6f},"mean_log_loss":{:.6f},"examples":{},"updates":{},"scored":{},"positive":{},"verdicts_rejected":{},"drift_events":{},"snapshots":{}}})",
      p.accuracy(), p.mean_log_loss(), p.examples, op_.model_->updates(), op_.stats_.scored, op_.stats_.positive,
      op_.stats_.rejected, op_.drift_.drifts(), op_.stats_.snapshots);
}

std::string OnlineEndpoint::pin(const std::string&) {
  return op_.name_ + " is an online model: it has one version, the one it is learning (roll back by restoring a "
                     "snapshot from snapshot_dir)";
}

}  // namespace socstream
