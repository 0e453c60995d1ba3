#include "operators/transformer/head_learner.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

namespace socstream {

HeadLearner::HeadLearner(const Settings& s)
    : learn_(s.flag("learn", false)),
      learn_configured_(learn_),
      pin_(s.integer("pin_version", 0, 0)),
      holdout_every_(static_cast<size_t>(s.integer("holdout_every", 5, 2, 1000))),
      train_batch_(static_cast<size_t>(s.integer("train_batch", 16, 1, 4096))),
      gate_examples_(static_cast<size_t>(s.integer("gate_examples", 200, 1, 10'000'000))),
      train_steps_(static_cast<int>(s.integer("train_steps", 5, 1, 1000))),
      learning_rate_(static_cast<float>(s.number("learning_rate", 0.01))) {
  if (s.has("versions_dir")) versions_.emplace(s.path("versions_dir"), "head", 0);
  if (learn_ && !versions_) s.error("learn", "a model that learns needs versions_dir, where its versions are saved");
  if (pin_ && !versions_) s.error("pin_version", "pin_version needs versions_dir, where the versions are");
  if (pin_ && learn_) s.error("pin_version", "a pinned version is frozen: drop learn: true, or the pin");
  if (learn_ && s.integer("workers", 1) > 1)
    s.error("workers", "a transformer that learns runs as one worker: several would train and save apart");
  if (!(learning_rate_ > 0)) s.error("learning_rate", "must be above 0");
}

std::vector<SettingSpec> HeadLearner::settings() {
  return {
      {"learn", SettingType::Bool, false, "learn the head from feedback_sources' verdicts in a shadow, promoted by an A/B gate (default false)"},
      {"versions_dir", SettingType::String, false, "where promoted heads are saved, numbered, and restored from"},
      {"pin_version", SettingType::Int, false, "serve this version and freeze it (model.yaml's version: the bundled weights)"},
      {"holdout_every", SettingType::Int, false, "every Nth verdict is held back to judge the shadow (default 5)"},
      {"train_batch", SettingType::Int, false, "verdicts per training mini-batch (default 16)"},
      {"train_steps", SettingType::Int, false, "optimiser steps per mini-batch (default 5)"},
      {"learning_rate", SettingType::Double, false, "Adam's learning rate for the head (default 0.01)"},
      {"gate_examples", SettingType::Int, false, "held-back verdicts per promotion decision (default 200)"},
  };
}

void HeadLearner::open(TextModel& model, const ModelInfo& info, const Hooks& hooks) {
  if (!versions_) return;
  const auto base = static_cast<uint64_t>(info.version);
  if (model.can_learn()) base_head_ = model.head_bytes();
  auto on_disk = versions_->generations();
  next_version_ = std::max<uint64_t>(base, on_disk.empty() ? 0 : on_disk.front()) + 1;
  if (pin_) {
    // A pin names a version that must be there: serving another would be a silent rollback.
    if (static_cast<uint64_t>(pin_) != base) {
      try {
        model.load_head(versions_->read(static_cast<uint64_t>(pin_)));
      } catch (const std::exception& e) {
        throw ModelError(fmt::format("{}: pinned version {} cannot be loaded from {}: {}", info.name, pin_,
                                     versions_->path_of(static_cast<uint64_t>(pin_)).string(), e.what()));
      }
    }
    hooks.serve(static_cast<uint64_t>(pin_));
    spdlog::info("transformer: {} pinned at version {}", info.name, pin_);
    return;
  }
  std::vector<std::string> errors;
  auto gen = versions_->restore([&](std::string_view b) { model.load_head(b); }, errors);
  for (const auto& e : errors) spdlog::error("transformer: {}: saved version refused: {}", info.name, e);
  if (gen) {
    hooks.serve(*gen);
    spdlog::info("transformer: {} serves learnt version {} from {}", info.name, *gen, versions_->dir().string());
  }
  if (learn_) model.reset_shadow();
}

std::vector<uint64_t> HeadLearner::versions(const ModelInfo& info) const {
  std::vector<uint64_t> v{static_cast<uint64_t>(info.version)};
  if (versions_)
    for (uint64_t g : versions_->generations())
      if (g != v.front()) v.push_back(g);
  std::sort(v.begin(), v.end());
  return v;
}

std::string HeadLearner::pin(TextModel& model, const ModelInfo& info, const std::string& version, const Hooks& hooks) {
  if (!versions_) return info.name + ": pinning needs versions_dir, where the versions are";
  if (!model.can_learn()) return info.name + ": this model has no head to pin (model.yaml names none)";
  const auto base = static_cast<uint64_t>(info.version);
  const bool latest = version == "latest";
  uint64_t v = 0;
  if (latest) {
    auto on_disk = versions_->generations();
    v = on_disk.empty() ? base : std::max(base, on_disk.front());
  } else {
    auto r = std::from_chars(version.data(), version.data() + version.size(), v);
    if (r.ec != std::errc() || r.ptr != version.data() + version.size() || v == 0)
      return "'" + version + "' is not a version: a number, or latest";
    const auto all = versions(info);
    if (std::find(all.begin(), all.end(), v) == all.end()) {
      std::string have;
      for (uint64_t x : all) have += (have.empty() ? "" : ", ") + std::to_string(x);
      return fmt::format("{} has no version {} (it has {})", info.name, v, have);
    }
  }
  try {
    model.load_head(v == base ? std::string_view(base_head_) : std::string_view(versions_->read(v)));
  } catch (const std::exception& e) {
    return fmt::format("{}: version {} cannot be loaded from {}: {}", info.name, v, versions_->path_of(v).string(), e.what());
  }
  // Whatever the shadow learnt was against the head now gone.
  train_.clear();
  window_trained_ = held_ = live_right_ = shadow_right_ = 0;
  pin_ = latest ? 0 : static_cast<int64_t>(v);
  learn_ = latest && learn_configured_;
  if (learn_) model.reset_shadow();
  hooks.serve(v);
  hooks.forget_cache();
  spdlog::info("transformer: {} {} version {} (model API)", info.name, latest ? "serves the latest," : "pinned at", v);
  return {};
}

void HeadLearner::learn(TextModel& model, const ModelInfo& info, std::vector<std::pair<std::string, uint32_t>>& verdicts,
                        const Hooks& hooks) {
  if (!learn_) {
    // Pinned at run time: frozen, as pin_version freezes it.
    verdicts.clear();
    return;
  }
  std::vector<std::pair<std::string, uint32_t>> held;
  for (auto& v : verdicts) {
    if (++seen_ % holdout_every_ == 0) held.push_back(std::move(v));
    else train_.push_back(std::move(v));
  }
  std::vector<std::string_view> views;
  std::vector<uint32_t> labels;
  auto fill = [&](const std::vector<std::pair<std::string, uint32_t>>& from, size_t at, size_t n) {
    views.clear();
    labels.clear();
    for (size_t i = at; i < at + n; ++i) {
      views.emplace_back(from[i].first);
      labels.push_back(from[i].second);
    }
  };
  try {
    size_t used = 0;
    for (; train_.size() - used >= train_batch_; used += train_batch_) {
      fill(train_, used, train_batch_);
      model.train_shadow(views, labels, train_steps_, learning_rate_);
      window_trained_ += train_batch_;
      stats_.trained += train_batch_;
    }
    train_.erase(train_.begin(), train_.begin() + static_cast<ptrdiff_t>(used));
    if (!held.empty()) {
      fill(held, 0, held.size());
      std::vector<std::vector<float>> live, shadow;
      model.predict_both(views, live, shadow);
      auto top = [](const std::vector<float>& p) {
        return static_cast<uint32_t>(std::max_element(p.begin(), p.end()) - p.begin());
      };
      for (size_t i = 0; i < held.size(); ++i) {
        const bool live_right = top(live[i]) == held[i].second;
        live_right_ += live_right;
        shadow_right_ += top(shadow[i]) == held[i].second;
        hooks.held_back(live_right);
      }
      held_ += held.size();
      stats_.held_back += held.size();
    }
    if (held_ >= gate_examples_) gate(model, info, hooks);
  } catch (const std::exception& e) {
    spdlog::error("transformer: {}: learning from feedback failed, the shadow starts afresh: {}", info.name, e.what());
    train_.clear();
    window_trained_ = held_ = live_right_ = shadow_right_ = 0;
    try {
      model.reset_shadow();
    } catch (const std::exception&) {
    }
  }
}

void HeadLearner::gate(TextModel& model, const ModelInfo& info, const Hooks& hooks) {
  const uint64_t held = held_, live = live_right_, shadow = shadow_right_, trained = window_trained_;
  held_ = live_right_ = shadow_right_ = window_trained_ = 0;
  if (trained > 0 && shadow >= live) {
    model.promote_shadow();
    const uint64_t v = next_version_++;
    versions_->save(model.head_bytes(), v);
    hooks.forget_cache();
    hooks.serve(v);
    ++stats_.promotions;
    spdlog::info("transformer: {}: shadow promoted as version {} ({} of {} held-back verdicts right, the live "
                 "head {}; trained on {}), saved in {}",
                 info.name, v, shadow, held, live, trained, versions_->path_of(v).string());
  } else {
    model.reset_shadow();
    ++stats_.discards;
    spdlog::warn("transformer: {}: shadow discarded ({} of {} held-back verdicts right, the live head {}; trained "
                 "on {}); the served version stays",
                 info.name, shadow, held, live, trained);
  }
}

}  // namespace socstream
