#include "operators/transformer.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "operators/operators.hpp"

namespace socstream {

namespace {
std::string_view number(Arena& arena, float v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 6);
  return arena.copy(std::string_view(buf, static_cast<size_t>(r.ptr - buf)));
}
}  // namespace

TransformerOp::TransformerOp(const Settings& s)
    : texts_(s, "score"),
      max_batch_(static_cast<size_t>(s.integer("max_batch", 32, 1, 4096))),
      max_delay_(s.integer("max_delay_ms", 10, 0, 60'000)),
      max_values_(static_cast<size_t>(s.integer("max_values", 64, 1, 100'000))),
      max_text_bytes_(static_cast<size_t>(s.bytes("max_text_bytes", 64 * 1024))),
      bucketing_(s.flag("length_bucketing", true)),
      async_(s.flag("inference_thread", true)),
      names_(s.str("prefix", "")),
      learn_(s.flag("learn", false)),
      pin_(s.integer("pin_version", 0, 0)),
      holdout_every_(static_cast<size_t>(s.integer("holdout_every", 5, 2, 1000))),
      train_batch_(static_cast<size_t>(s.integer("train_batch", 16, 1, 4096))),
      gate_examples_(static_cast<size_t>(s.integer("gate_examples", 200, 1, 10'000'000))),
      train_steps_(static_cast<int>(s.integer("train_steps", 5, 1, 1000))),
      learning_rate_(static_cast<float>(s.number("learning_rate", 0.01))),
      cache_(0) {
  if (s.has("versions_dir")) versions_.emplace(s.path("versions_dir"), "head", 0);
  if (learn_ && !versions_) s.error("learn", "a model that learns needs versions_dir, where its versions are saved");
  if (pin_ && !versions_) s.error("pin_version", "pin_version needs versions_dir, where the versions are");
  if (pin_ && learn_) s.error("pin_version", "a pinned version is frozen: drop learn: true, or the pin");
  if (learn_ && s.integer("workers", 1) > 1)
    s.error("workers", "a transformer that learns runs as one worker: several would train and save apart");
  if (!(learning_rate_ > 0)) s.error("learning_rate", "must be above 0");
  set_version(0);
  if (!s.has("model")) return;  // reported by the schema check
  try {
    info_ = read_model_info(s.path("model"));
  } catch (const ModelError& e) {
    s.error("model", e.what());
    return;
  }
  embed_ = info_.task == "embed";
  set_version(static_cast<uint64_t>(info_.version));
  if ((learn_ || pin_) && (embed_ || info_.head.empty()))
    s.error(learn_ ? "learn" : "pin_version", info_.name + " cannot learn: model.yaml names no classification head");
  // An embedding depends on every character, so masking would conflate texts:
  // embedding models cache only when asked to.
  cache_ = ResultCache(static_cast<size_t>(s.integer("cache_size", embed_ ? 0 : 65536, 0, 1 << 26)));
  if (embed_) {
    if (s.has("thresholds")) s.error("thresholds", "an embedding model has no labels to threshold");
    return;
  }
  for (const auto& [label, value] : s.map("thresholds")) {
    if (!info_.thresholds.count(label)) {
      auto hint = closest(label, info_.labels);
      s.error("thresholds", "'" + label + "' is not a label of " + info_.name +
                                (hint ? " (did you mean '" + *hint + "'?)" : ""));
      continue;
    }
    double t = 0;
    auto r = std::from_chars(value.data(), value.data() + value.size(), t);
    if (r.ec != std::errc() || r.ptr != value.data() + value.size() || t < 0 || t > 1)
      s.error("thresholds", "threshold for '" + label + "' must be a number from 0 to 1, not '" + value + "'");
    info_.thresholds[label] = t;
  }
  for (size_t i = 0; i < info_.labels.size(); ++i) {
    thresholds_.push_back(static_cast<float>(info_.thresholds[info_.labels[i]]));
    if (info_.labels[i] == info_.negative_label) negative_ = static_cast<uint32_t>(i);
  }
  if (learn_) {
    join_ = FeedbackJoin(s, info_.labels, negative_);
    drift_ = DriftWatch(s, 0);  // a trained model: its scores are watched from the start
  }
}

void TransformerOp::watch(bool verdict, float value, const SourcePos& pos) {
  std::lock_guard lk(drift_mu_);
  DriftWatch::Context c{info_.name, *version_.load(), 0, pos};
  auto doc = verdict ? drift_.verdict(value > 0, c) : drift_.score(value, c);
  if (doc) drift_docs_.emplace_back(std::move(*doc), pos);
}

void TransformerOp::flush_drift(Outputs& out) {
  std::vector<std::pair<std::string, SourcePos>> docs;
  {
    std::lock_guard lk(drift_mu_);
    if (drift_docs_.empty()) return;
    docs.swap(drift_docs_);
  }
  auto arena = std::make_shared<Arena>(4096);
  Batch b;
  for (const auto& [doc, pos] : docs) b.events.push_back(document_event(*arena, doc, pos));
  b.hold(std::move(arena));
  out.emit(out.port_index("drift"), std::move(b));
}

void TransformerOp::set_version(uint64_t v) {
  version_texts_.push_back(std::to_string(v));
  version_.store(&version_texts_.back());
}

void TransformerOp::open() {
  if (!model_) model_ = TextModel::load(info_);
  spdlog::info("transformer: {} v{} ({}) loaded from {}", info_.name, info_.version, info_.task, info_.dir.string());
  if (versions_) load_versions();
}

void TransformerOp::load_versions() {
  const auto base = static_cast<uint64_t>(info_.version);
  auto on_disk = versions_->generations();
  next_version_ = std::max<uint64_t>(base, on_disk.empty() ? 0 : on_disk.front()) + 1;
  if (pin_) {
    // A pin names a version that must be there: serving another would be a silent rollback.
    if (static_cast<uint64_t>(pin_) != base) {
      try {
        model_->load_head(versions_->read(static_cast<uint64_t>(pin_)));
      } catch (const std::exception& e) {
        throw ModelError(fmt::format("{}: pinned version {} cannot be loaded from {}: {}", info_.name, pin_,
                                     versions_->path_of(static_cast<uint64_t>(pin_)).string(), e.what()));
      }
    }
    set_version(static_cast<uint64_t>(pin_));
    spdlog::info("transformer: {} pinned at version {}", info_.name, pin_);
    return;
  }
  std::vector<std::string> errors;
  auto gen = versions_->restore([&](std::string_view b) { model_->load_head(b); }, errors);
  for (const auto& e : errors) spdlog::error("transformer: {}: saved version refused: {}", info_.name, e);
  if (gen) {
    set_version(*gen);
    spdlog::info("transformer: {} serves learnt version {} from {}", info_.name, *gen, versions_->dir().string());
  }
  if (learn_) model_->reset_shadow();
}

void TransformerOp::use_model(std::unique_ptr<TextModel> m) { model_ = std::move(m); }

TransformerOp::Verdict TransformerOp::judge(const std::vector<float>& probs) const {
  Verdict v;
  v.set = true;
  v.label = static_cast<uint32_t>(std::max_element(probs.begin(), probs.end()) - probs.begin());
  v.score = probs[v.label];
  v.suspicion = 1.0f - probs[negative_];
  v.positive = v.label != negative_ && v.score >= thresholds_[v.label];
  return v;
}

void TransformerOp::combine(Verdict& into, const Verdict& v) {
  bool better;
  if (!into.set) better = true;
  else if (v.positive != into.positive) better = v.positive;
  else better = v.positive ? v.score > into.score : v.suspicion > into.suspicion;
  if (better) into = v;
}

void TransformerOp::collect(Event& e, Verdict& v, std::vector<float>& embedding, bool& embedded) {
  size_t texts = 0;
  texts_.for_each(e, scratch_, [&](std::string_view text) {
    if (text.empty() || texts >= max_values_ || (embed_ && texts > 0)) return;
    ++texts;
    text = text.substr(0, max_text_bytes_);
    ++stats_.texts;
    if (cache_.capacity() > 0) {
      normalizer_.normalize(text, key_);
      // Used under the lock: the inference thread may evict the entry.
      std::lock_guard lk(cache_mu_);
      if (const auto* hit = cache_.find(key_)) {
        ++stats_.cache_hits;
        if (embed_) {
          embedding = *hit;
          embedded = true;
        } else {
          Verdict j = judge(*hit);
          if (j.positive && join_.remembering()) j.text = text;
          combine(v, j);
        }
        return;
      }
    } else {
      key_.assign(text);  // nothing may stand in for the text: only identical texts share a pass
    }
    auto [it, fresh] = open_.index.try_emplace(key_, static_cast<uint32_t>(open_.jobs.size()));
    if (fresh) {
      open_.jobs.emplace_back(text);
      open_.keys.push_back(key_);
    } else {
      ++stats_.batch_duplicates;
    }
    open_.refs.push_back(it->second);
  });
}

void TransformerOp::route(Event&& e, const Verdict& v, const std::vector<float>* embedding, Batch& pos, Batch& neg,
                          Arena& arena) {
  if (embed_) {
    if (embedding) {
      std::string doc = "[";
      char buf[32];
      for (size_t i = 0; i < embedding->size(); ++i) {
        if (i) doc += ',';
        auto r = std::to_chars(buf, buf + sizeof buf, (*embedding)[i]);
        doc.append(buf, r.ptr);
      }
      doc += ']';
      e.set_field(names_.embedding, arena.copy(doc), ValueKind::Json);
      e.set_field(names_.model, info_.name);
      e.set_field(names_.version, *version_.load(), ValueKind::Number);
    }
    pos.events.push_back(std::move(e));
    return;
  }
  if (!v.set) {  // nothing to score
    neg.events.push_back(std::move(e));
    return;
  }
  e.scored = true;
  e.set_field(names_.label, info_.labels[v.label]);
  e.set_field(names_.score, number(arena, v.score), ValueKind::Number);
  e.set_field(names_.model, info_.name);
  e.set_field(names_.version, *version_.load(), ValueKind::Number);
  if (learn_) watch(false, v.suspicion, e.pos);
  if (v.positive && join_.remembering()) {
    std::lock_guard lk(join_mu_);
    join_.remember(e.pos, v.text, v.label);
  }
  (v.positive ? pos : neg).events.push_back(std::move(e));
}

void TransformerOp::process(Batch&& in, Outputs& out) {
  auto arena = std::make_shared<Arena>(4096);
  Batch pos = in.derive(in.size());
  Batch neg = in.derive();
  Batch dlq = in.derive();
  std::vector<float> embedding;
  for (auto& e : in.events) {
    if (learn_ && join_.is_feedback(e)) {
      const bool idle = open_.pending.empty() && open_.learn.empty();
      FeedbackJoin::Resolved v;
      {
        std::lock_guard lk(join_mu_);
        v = join_.resolve(e, texts_);
        if (v.ok) for_each_joined(v.texts, [&](std::string_view t) { open_.learn.emplace_back(std::string(t), v.label); });
      }
      if (!v.ok) {
        ++stats_.rejected_verdicts;
        out.reject(dlq, std::move(e), v.reason, arena->copy(v.detail));
        continue;
      }
      ++stats_.verdicts;
      // The shadow head is not durable (a promoted version is): a verdict is
      // done once queued for learning.
      e.ack.complete();
      if (idle) first_at_ = Clock::now();
      continue;
    }
    const size_t jobs_before = open_.jobs.size();
    const auto refs_at = static_cast<uint32_t>(open_.refs.size());
    Verdict v;
    bool embedded = false;
    collect(e, v, embedding, embedded);
    const auto refs = static_cast<uint32_t>(open_.refs.size()) - refs_at;
    if (refs == 0) {
      route(std::move(e), v, embedded ? &embedding : nullptr, pos, neg, *arena);
      continue;
    }
    if (jobs_before == 0 && open_.learn.empty()) first_at_ = Clock::now();
    open_.holds.hold_all(in.holds);
    open_.pending.push_back(Pending{std::move(e), refs_at, refs, v});
    if (open_.jobs.size() >= max_batch_) close_batch(out);
  }
  pos.hold(arena);
  neg.hold(arena);
  dlq.hold(std::move(arena));
  out.emit(0, std::move(pos));
  out.emit(1, std::move(neg));
  if (!dlq.empty()) out.emit(out.dlq_port(), std::move(dlq));
  if (learn_) flush_drift(out);
  if (open_.learn.size() >= train_batch_ * holdout_every_) close_batch(out);
}

std::optional<Clock::time_point> TransformerOp::next_deadline() const {
  if (open_.pending.empty() && open_.learn.empty()) return std::nullopt;
  return first_at_ + max_delay_;
}

void TransformerOp::close_batch(Outputs& out) {
  if (open_.pending.empty() && open_.learn.empty()) return;
  if (!async_) {
    run(open_, out);
    open_ = Open{};
    return;
  }
  if (!inference_.joinable()) {
    out_ = &out;
    inference_ = std::thread([this] { inference_loop(); });
  }
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !inbox_; });  // one batch waits at most: then the operator blocks
  inbox_ = std::move(open_);
  open_ = Open{};
  cv_.notify_all();
}

void TransformerOp::inference_loop() {
  for (;;) {
    Open b;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return inbox_ || stopping_; });
      if (!inbox_) return;
      b = std::move(*inbox_);
      inbox_.reset();
      cv_.notify_all();
    }
    run(b, *out_);
  }
}

void TransformerOp::stop_inference() {
  if (!inference_.joinable()) return;
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  inference_.join();  // after the batch in its inbox
}

TransformerOp::~TransformerOp() { stop_inference(); }

void TransformerOp::run(Open& b, Outputs& out) {
  const auto& jobs = b.jobs;
  std::vector<std::vector<float>> results(jobs.size());
  std::vector<char> failed(jobs.size(), 0);
  std::string error;
  // Length bucketing: a forward pass costs its longest text times its size, so
  // texts are sorted by length and cut into runs of similar length (a run ends
  // where padding would exceed 30% of its tokens). On the sample's mix of short
  // values and long payloads the operator ran 1.7-2.1x faster at batch 32-64
  // than with one padded pass (bench/RESULTS.md, "length bucketing").
  std::vector<uint32_t> order(jobs.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  const size_t cap = 4 * info_.max_len;  // bytes: the tokenizer truncates beyond max_len tokens
  auto len = [&](uint32_t j) { return std::min(jobs[j].size(), cap) + 2; };
  if (bucketing_) std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return len(a) < len(b); });
  std::vector<std::string_view> views;
  for (size_t at = 0; at < order.size();) {
    size_t end = at + 1, sum = len(order[at]);
    while (end < order.size() && end - at < max_batch_) {
      const size_t l = len(order[end]);
      if (bucketing_ && end - at >= kMinRun && 10 * (end - at + 1) * l > 13 * (sum + l)) break;
      sum += l;
      ++end;
    }
    views.clear();
    for (size_t k = at; k < end; ++k) views.push_back(jobs[order[k]]);
    try {
      auto r = model_->predict(views);
      if (r.size() != views.size()) throw ModelError(fmt::format("{} results for {} texts", r.size(), views.size()));
      ++stats_.forwards;
      stats_.forward_texts += views.size();
      {
        std::lock_guard lk(cache_mu_);
        for (size_t k = at; k < end; ++k) cache_.put(b.keys[order[k]], r[k - at]);
      }
      for (size_t k = at; k < end; ++k) results[order[k]] = std::move(r[k - at]);
    } catch (const std::exception& ex) {
      // A model error costs this pass's events (to dlq), never the engine.
      for (size_t k = at; k < end; ++k) failed[order[k]] = 1;
      error = ex.what();
      spdlog::warn("transformer: {}: forward pass over {} texts failed: {}", info_.name, views.size(), error);
    }
    at = end;
  }
  auto arena = std::make_shared<Arena>(4096);
  const std::string_view detail = error.empty() ? std::string_view() : arena->copy(error);
  Batch pos = b.holds.derive(b.pending.size());
  Batch neg = b.holds.derive();
  Batch dlq = b.holds.derive();
  pos.raw_padded = neg.raw_padded = dlq.raw_padded = false;  // the events come from several input batches
  for (auto& p : b.pending) {
    const uint32_t* refs = b.refs.data() + p.refs_at;
    bool bad = false;
    for (uint32_t k = 0; k < p.refs; ++k) bad |= failed[refs[k]] != 0;
    if (bad) {
      ++stats_.model_errors;
      out.reject(dlq, std::move(p.event), "model_error", detail);
      continue;
    }
    if (embed_) {
      route(std::move(p.event), p.verdict, &results[refs[0]], pos, neg, *arena);
      continue;
    }
    for (uint32_t k = 0; k < p.refs; ++k) {
      Verdict j = judge(results[refs[k]]);
      if (j.positive && join_.remembering()) j.text = jobs[refs[k]];
      combine(p.verdict, j);
    }
    route(std::move(p.event), p.verdict, nullptr, pos, neg, *arena);
  }
  b.holds = Batch{};
  pos.hold(arena);
  neg.hold(arena);
  dlq.hold(std::move(arena));
  out.emit(0, std::move(pos));
  out.emit(1, std::move(neg));
  if (!dlq.empty()) out.emit(out.dlq_port(), std::move(dlq));
  if (!b.learn.empty()) learn_from(b.learn);
  if (learn_) flush_drift(out);
}

void TransformerOp::learn_from(std::vector<std::pair<std::string, uint32_t>>& verdicts) {
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
      model_->train_shadow(views, labels, train_steps_, learning_rate_);
      window_trained_ += train_batch_;
      stats_.trained += train_batch_;
    }
    train_.erase(train_.begin(), train_.begin() + static_cast<ptrdiff_t>(used));
    if (!held.empty()) {
      fill(held, 0, held.size());
      std::vector<std::vector<float>> live, shadow;
      model_->predict_both(views, live, shadow);
      auto top = [](const std::vector<float>& p) {
        return static_cast<uint32_t>(std::max_element(p.begin(), p.end()) - p.begin());
      };
      for (size_t i = 0; i < held.size(); ++i) {
        const bool live_right = top(live[i]) == held[i].second;
        live_right_ += live_right;
        shadow_right_ += top(shadow[i]) == held[i].second;
        watch(true, live_right ? 0.f : 1.f, SourcePos{});
      }
      held_ += held.size();
      stats_.held_back += held.size();
    }
    if (held_ >= gate_examples_) gate();
  } catch (const std::exception& e) {
    // Learning is an extra: a failure costs the shadow, never the live model.
    spdlog::error("transformer: {}: learning from feedback failed, the shadow starts afresh: {}", info_.name, e.what());
    train_.clear();
    window_trained_ = held_ = live_right_ = shadow_right_ = 0;
    try {
      model_->reset_shadow();
    } catch (const std::exception&) {
    }
  }
}

void TransformerOp::gate() {
  const uint64_t held = held_, live = live_right_, shadow = shadow_right_, trained = window_trained_;
  held_ = live_right_ = shadow_right_ = window_trained_ = 0;
  if (trained > 0 && shadow >= live) {
    model_->promote_shadow();
    const uint64_t v = next_version_++;
    versions_->save(model_->head_bytes(), v);
    {
      // Cached verdicts are the old head's.
      std::lock_guard lk(cache_mu_);
      cache_ = ResultCache(cache_.capacity());
    }
    set_version(v);
    ++stats_.promotions;
    spdlog::info("transformer: {}: shadow promoted as version {} ({} of {} held-back verdicts right, the live "
                 "head {}; trained on {}), saved in {}",
                 info_.name, v, shadow, held, live, trained, versions_->path_of(v).string());
  } else {
    model_->reset_shadow();
    ++stats_.discards;
    spdlog::warn("transformer: {}: shadow discarded ({} of {} held-back verdicts right, the live head {}; trained "
                 "on {}); version {} stays",
                 info_.name, shadow, held, live, trained, version());
  }
}

void TransformerOp::finish(Outputs& out) {
  close_batch(out);
  stop_inference();
  const double hit = stats_.texts ? 100.0 * static_cast<double>(stats_.cache_hits) / static_cast<double>(stats_.texts) : 0;
  const double mean = stats_.forwards ? static_cast<double>(stats_.forward_texts) / static_cast<double>(stats_.forwards) : 0;
  spdlog::info("transformer: {}: {} texts, cache hit rate {:.1f}% ({} entries), {} repeated within a batch, "
               "{} forward passes of {:.1f} texts on average, {} model errors",
               info_.name, stats_.texts, hit, cache_.size(), stats_.batch_duplicates, stats_.forwards, mean,
               stats_.model_errors);
  if (learn_)
    spdlog::info("transformer: {}: {} verdicts ({} rejected), {} trained on, {} held back, {} promotions, {} "
                 "shadows discarded; serving version {}",
                 info_.name, stats_.verdicts, stats_.rejected_verdicts, stats_.trained, stats_.held_back,
                 stats_.promotions, stats_.discards, version());
}

ComponentSpec transformer_spec() {
  ComponentSpec spec{
      "transformer",
      Kind::Operator,
      "runs a TorchScript model directory over a field in dynamic batches; ports: default (positive), negative, drift (with learn)",
      {{"model", SettingType::String, true, "the model directory (model.yaml, weights, vocabulary)"},
       {"field", SettingType::String, false, "the field to score"},
       {"fields", SettingType::StringList, false, "several fields to score (the event takes the most suspicious verdict)"},
       {"transforms", SettingType::StringList, false, "applied before scoring: query_values, url_decode, lowercase"},
       {"max_batch", SettingType::Int, false, "texts per forward pass (default 32)"},
       {"max_delay_ms", SettingType::Int, false, "longest wait for a batch to fill, from its first text (default 10)"},
       {"thresholds", SettingType::StringMap, false, "per-label score a positive verdict needs (default: model.yaml's, else 0.5)"},
       {"cache_size", SettingType::Int, false, "results cached by normalised text (default 65536; 0 for embed models)"},
       {"max_values", SettingType::Int, false, "texts scored per event at most (default 64)"},
       {"max_text_bytes", SettingType::Bytes, false, "bytes of a text given to the tokenizer (default 64KiB)"},
       {"inference_thread", SettingType::Bool, false, "run forward passes on a thread of their own, so cache hits never wait for them (default true)"},
       {"length_bucketing", SettingType::Bool, false, "sort a batch by length into passes of similar length (default true)"},
       {"prefix", SettingType::String, false, "prefix for the fields written (label, score, model, model_version, embedding)"},
       {"learn", SettingType::Bool, false, "learn the head from feedback_sources' verdicts in a shadow, promoted by an A/B gate (default false)"},
       {"versions_dir", SettingType::String, false, "where promoted heads are saved, numbered, and restored from"},
       {"pin_version", SettingType::Int, false, "serve this version and freeze it (model.yaml's version: the bundled weights)"},
       {"holdout_every", SettingType::Int, false, "every Nth verdict is held back to judge the shadow (default 5)"},
       {"train_batch", SettingType::Int, false, "verdicts per training mini-batch (default 16)"},
       {"train_steps", SettingType::Int, false, "optimiser steps per mini-batch (default 5)"},
       {"learning_rate", SettingType::Double, false, "Adam's learning rate for the head (default 0.01)"},
       {"gate_examples", SettingType::Int, false, "held-back verdicts per promotion decision (default 200)"}},
      true,
      [](const Settings& s) { return std::make_unique<TransformerOp>(s); }};
  for (auto& f : FeedbackJoin::settings()) spec.settings.push_back(std::move(f));
  for (auto& f : DriftWatch::settings()) spec.settings.push_back(std::move(f));
  return spec;
}

}  // namespace socstream
