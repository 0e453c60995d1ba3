#include "operators/transformer/endpoint.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>

#include "engine/json_writer.hpp"
#include "operators/transformer.hpp"

namespace socstream {

namespace {

std::string strings(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    json::append_string(out, v[i]);
  }
  return out + "]";
}

// Words and punctuation, the units an explanation removes one at a time:
// runs of letters and digits, or one other visible character.
std::vector<std::pair<size_t, size_t>> segments(std::string_view t) {
  std::vector<std::pair<size_t, size_t>> out;
  auto word = [](unsigned char c) { return std::isalnum(c) || c >= 0x80; };
  for (size_t i = 0; i < t.size();) {
    const auto c = static_cast<unsigned char>(t[i]);
    if (std::isspace(c)) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    if (word(c))
      while (j < t.size() && word(static_cast<unsigned char>(t[j]))) ++j;
    out.emplace_back(i, j - i);
    i = j;
  }
  return out;
}

}  // namespace

std::string TransformerEndpoint::describe() const {
  const ModelInfo& info = op_.info_;
  std::string out = "{\"name\":";
  json::append_string(out, info.name);
  out += ",\"component\":";
  json::append_string(out, op_.context().name());
  out += fmt::format(R"(,"kind":"transformer","task":"{}","version":)", info.task);
  json::append_string(out, op_.version());
  out += fmt::format(R"(,"base_version":{},"max_len":{},"precision":"{}","precisions":)", info.version, info.max_len,
                     info.precision);
  out += strings(info.precisions);
  out += ",\"labels\":";
  out += strings(info.labels);
  out += ",\"negative_label\":";
  json::append_string(out, info.negative_label);
  out += ",\"thresholds\":{";
  for (size_t i = 0; i < info.labels.size() && i < op_.thresholds_.size(); ++i) {
    if (i) out += ',';
    json::append_string(out, info.labels[i]);
    out += fmt::format(":{}", op_.thresholds_[i]);
  }
  out += "}";
  std::lock_guard lk(op_.model_mu_);
  out += fmt::format(R"(,"learning":{},"pinned":{},"versions":[)", op_.learner_.learning() ? "true" : "false",
                     op_.learner_.pinned_version() ? std::to_string(op_.learner_.pinned_version()) : "null");
  const auto versions = op_.learner_.versions(info);
  for (size_t i = 0; i < versions.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(versions[i]);
  }
  out += "],\"validation\":" + info.evaluation_json + "}";
  return out;
}

std::string TransformerEndpoint::predict(const std::vector<std::string>& texts) {
  if (op_.embed_) throw ModelError(op_.info_.name + " is an embedding model: it has no labels to predict");
  std::vector<std::string_view> views(texts.begin(), texts.end());
  std::vector<std::vector<float>> probs;
  {
    std::lock_guard lk(op_.model_mu_);
    if (!op_.model_) throw ModelError("the model is not loaded yet");
    probs = op_.model_->predict(views);
  }
  std::string out = "[";
  for (size_t i = 0; i < probs.size(); ++i) {
    if (i) out += ',';
    const auto v = op_.judge(probs[i]);
    out += "{\"text\":";
    json::append_string(out, texts[i]);
    out += ",\"label\":";
    json::append_string(out, op_.info_.labels[v.label]);
    out += fmt::format(R"(,"score":{:.6f},"positive":{},"scores":{{)", v.score, v.positive ? "true" : "false");
    for (size_t k = 0; k < probs[i].size(); ++k) {
      if (k) out += ',';
      json::append_string(out, op_.info_.labels[k]);
      out += fmt::format(":{:.6f}", probs[i][k]);
    }
    out += "}}";
  }
  return out + "]";
}

std::string TransformerEndpoint::explain(const std::string& text) {
  if (op_.embed_) throw ModelError(op_.info_.name + " is an embedding model: it has no verdict to explain");
  // Occlusion: each word or punctuation mark is removed in turn, and the
  // drop in the verdict's probability is what that piece contributed. Model-
  // agnostic and faithful to the model actually served, at one batched
  // forward pass of (pieces + 1) texts.
  auto segs = segments(text);
  constexpr size_t kMaxPieces = 64;
  const bool cut = segs.size() > kMaxPieces;
  if (cut) segs.resize(kMaxPieces);
  std::vector<std::string> variants{text};
  for (const auto& [at, n] : segs) variants.push_back(text.substr(0, at) + text.substr(at + n));
  std::vector<std::string_view> views(variants.begin(), variants.end());
  std::vector<std::vector<float>> probs;
  {
    std::lock_guard lk(op_.model_mu_);
    if (!op_.model_) throw ModelError("the model is not loaded yet");
    probs = op_.model_->predict(views);
  }
  const auto v = op_.judge(probs[0]);
  std::vector<std::pair<float, size_t>> weights;
  for (size_t i = 0; i < segs.size(); ++i) weights.emplace_back(probs[0][v.label] - probs[i + 1][v.label], i);
  std::sort(weights.begin(), weights.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string out = "{\"text\":";
  json::append_string(out, text);
  out += ",\"label\":";
  json::append_string(out, op_.info_.labels[v.label]);
  out += fmt::format(R"(,"score":{:.6f},"method":"occlusion","truncated":{},"tokens":[)", v.score, cut ? "true" : "false");
  for (size_t i = 0; i < weights.size() && i < 10; ++i) {
    if (i) out += ',';
    out += "{\"token\":";
    json::append_string(out, std::string_view(text).substr(segs[weights[i].second].first, segs[weights[i].second].second));
    out += fmt::format(R"(,"offset":{},"weight":{:.6f}}})", segs[weights[i].second].first, weights[i].first);
  }
  return out + "]}";
}

std::string TransformerEndpoint::performance() const {
  const auto& m = op_.metrics_;
  const double lookups = m.lookups ? static_cast<double>(m.lookups->value()) : 0;
  const double hits = m.hits ? static_cast<double>(m.hits->value()) : 0;
  Histogram::Snapshot fw;
  if (m.forward_seconds) fw = m.forward_seconds->snapshot();
  std::string out = fmt::format(
      R"({{"texts":{:.0f},"cache_hit_rate":{:.6f},"forward_passes":{},"mean_forward_seconds":{:.6f},"version":)", lookups,
      lookups > 0 ? hits / lookups : 0.0, fw.count, fw.count ? fw.sum / static_cast<double>(fw.count) : 0.0);
  json::append_string(out, op_.version());
  std::lock_guard lk(op_.model_mu_);
  const auto& l = op_.learner_.stats();
  out += fmt::format(R"(,"learning":{{"trained":{},"held_back":{},"promotions":{},"discards":{}}})", l.trained, l.held_back,
                     l.promotions, l.discards);
  {
    std::lock_guard dk(op_.drift_mu_);
    out += fmt::format(R"(,"drift_events":{}}})", op_.drift_.drifts());
  }
  return out;
}

std::string TransformerEndpoint::pin(const std::string& version) {
  std::lock_guard lk(op_.model_mu_);
  if (!op_.model_) return "the model is not loaded yet";
  return op_.learner_.pin(*op_.model_, op_.info_, version, op_.hooks_);
}

}  // namespace socstream
