#include "operators/online_classifier.hpp"

#include <cstring>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "engine/json_writer.hpp"
#include "operators/operators.hpp"

namespace socstream {

namespace {

std::string_view number(Arena& arena, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 6);
  return arena.copy(std::string_view(buf, static_cast<size_t>(r.ptr - buf)));
}

std::string now_text() {
  auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  return fmt::format("{:%FT%T}Z", now);
}

}  // namespace

OnlineClassifierOp::OnlineClassifierOp(const Settings& s)
    : name_(s.str("name", s.component())),
      labels_(s.list("labels")),
      threshold_(static_cast<float>(s.number("threshold", 0.5))),
      texts_(s, "score"),
      names_(s.str("prefix", "")),
      explanation_field_(s.str("prefix", "") + "explanation"),
      explain_(static_cast<size_t>(s.integer("explain", 3, 0, 32))),
      min_updates_(static_cast<uint64_t>(s.integer("min_updates", 1000, 0))),
      snapshot_every_(static_cast<uint64_t>(s.integer("snapshot_every", 100000, 1))),
      snapshot_interval_(1000 * s.integer("snapshot_interval_s", 60, 1)),
      metrics_interval_(1000 * s.integer("metrics_interval_s", 10, 1)) {
  features_.bits = static_cast<uint32_t>(s.integer("bits", 16, 1, 30));
  auto ngrams = s.list("ngrams");
  if (!ngrams.empty()) {
    auto parse = [&](const std::string& v, uint32_t& into) {
      auto r = std::from_chars(v.data(), v.data() + v.size(), into);
      if (r.ec != std::errc() || r.ptr != v.data() + v.size() || into > 7)
        s.error("ngrams", "'" + v + "' is not an n-gram length from 0 to 7");
    };
    if (ngrams.size() != 2) s.error("ngrams", "give [shortest, longest] character n-gram lengths, as [3, 5]");
    else {
      parse(ngrams[0], features_.ngram_min);
      parse(ngrams[1], features_.ngram_max);
      if (features_.ngram_min > features_.ngram_max) s.error("ngrams", "the shortest length exceeds the longest");
    }
  }
  features_.words = s.flag("words", true);
  features_.max_bytes = static_cast<size_t>(s.bytes("max_text_bytes", 1024));
  ftrl_.alpha = static_cast<float>(s.number("alpha", 0.1));
  ftrl_.beta = static_cast<float>(s.number("beta", 1.0));
  ftrl_.l1 = static_cast<float>(s.number("l1", 0.0));
  ftrl_.l2 = static_cast<float>(s.number("l2", 0.0));
  if (auto why = online::ftrl_problem(ftrl_); !why.empty()) s.error("alpha", why);
  if (threshold_ < 0 || threshold_ > 1) s.error("threshold", "threshold must be a number from 0 to 1");

  if (s.has("labels") && labels_.size() < 2) s.error("labels", "an online classifier needs at least two labels");
  for (size_t i = 0; i < labels_.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (labels_[i] == labels_[j]) s.error("labels", "label '" + labels_[i] + "' appears twice");
  std::string negative = s.str("negative_label", labels_.empty() ? "" : labels_[0]);
  auto it = std::find(labels_.begin(), labels_.end(), negative);
  if (it == labels_.end() && !labels_.empty()) {
    auto hint = closest(negative, labels_);
    s.error("negative_label", "'" + negative + "' is not one of the labels" + (hint ? " (did you mean '" + *hint + "'?)" : ""));
  } else {
    negative_ = static_cast<uint32_t>(it - labels_.begin());
  }
  join_ = FeedbackJoin(s, labels_, negative_);

  drift_ = DriftWatch(s, 2000);

  if (s.has("snapshot_dir"))
    snapshots_.emplace(s.path("snapshot_dir"), "online", static_cast<size_t>(s.integer("snapshot_keep", 3, 1, 1000)));
}

OnlineClassifierOp::~OnlineClassifierOp() {
  {
    std::lock_guard lk(mu_);
    stop_writer_ = true;
    cv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
}

std::string OnlineClassifierOp::save_state() {
  if (!model_) return {};
  std::string out = "socstream.online.state.1\n";
  const std::string model = model_->to_bytes();
  const uint64_t gen = generation_;
  const uint32_t n = static_cast<uint32_t>(model.size());
  out.append(reinterpret_cast<const char*>(&gen), 8);
  out.append(reinterpret_cast<const char*>(&n), 4);
  out += model;
  join_.save(out);
  return out;
}

void OnlineClassifierOp::restore_state(std::string_view state) {
  static constexpr std::string_view kMagic = "socstream.online.state.1\n";
  if (state.substr(0, kMagic.size()) != kMagic || state.size() < kMagic.size() + 12) return;
  state.remove_prefix(kMagic.size());
  uint64_t gen;
  uint32_t n;
  std::memcpy(&gen, state.data(), 8);
  std::memcpy(&n, state.data() + 8, 4);
  state.remove_prefix(12);
  if (state.size() < n) return;
  try {
    auto expect = [&](const std::vector<std::string>& labels, const online::FeatureOptions& f) {
      if (labels != labels_ || !(f == features_)) throw std::runtime_error("the labels or features changed");
    };
    // As with a snapshot on disk, the learning options come with the model.
    model_.emplace(online::OnlineLinear::from_bytes(state.substr(0, n), expect));
  } catch (const std::exception& e) {
    spdlog::warn("online_classifier {}: the previous topology's model is not carried over ({}); starting afresh", name_,
                 e.what());
    model_.reset();
    return;
  }
  state.remove_prefix(n);
  handed_over_ = true;
  generation_ = gen;
  set_version(gen);
  if (!join_.restore(state)) spdlog::warn("online_classifier {}: the remembered alerts were not carried over", name_);
  spdlog::info("online_classifier {}: carried over the previous topology's model ({} updates, progressive accuracy {:.4f}) "
               "and {} remembered alerts", name_, model_->updates(), model_->progress().accuracy(), join_.remembered());
}

void OnlineClassifierOp::open() {
  probs_.resize(labels_.size());
  if (snapshots_ && !handed_over_) {
    std::vector<std::string> errors;
    // A snapshot of another model (other labels or features) is not damaged:
    // starting afresh beside it would silently throw its learning away.
    bool foreign = false;
    auto expect = [&](const std::vector<std::string>& labels, const online::FeatureOptions& f) {
      if (labels == labels_ && f == features_) return;
      foreign = true;
      throw std::runtime_error("made with other labels or features than this topology's");
    };
    auto gen = snapshots_->restore(
        [&](std::string_view b) { model_.emplace(online::OnlineLinear::from_bytes(b, expect)); }, errors);
    for (const auto& e : errors) spdlog::error("online_classifier {}: snapshot refused: {}", name_, e);
    if (!gen && foreign)
      throw std::runtime_error(fmt::format("the snapshots in {} were made with other labels or features than this "
                                           "topology's; restore the settings or move them away to start a new model",
                                           snapshots_->dir().string()));
    if (gen) {
      set_version(*gen);
      spdlog::info("online_classifier {}: restored snapshot {} ({} updates, progressive accuracy {:.4f})", name_,
                   *gen, model_->updates(), model_->progress().accuracy());
    }
    // New snapshots are numbered after every file on disk: a refused one is
    // kept for inspection, never overwritten.
    auto on_disk = snapshots_->generations();
    if (!on_disk.empty()) generation_ = on_disk.front();
    if (!gen && !on_disk.empty())
      spdlog::error("online_classifier {}: no usable snapshot in {}; starting an empty model", name_,
                    snapshots_->dir().string());
  }
  if (!model_) model_.emplace(labels_, features_, ftrl_);
  updates_at_snapshot_ = model_->updates();
  if (!endpoint_) {
    endpoint_ = std::make_unique<OnlineEndpoint>(*this);
    context().serve_model(endpoint_.get());
    const Labels model{{"model", name_}};
    auto figure = [this, model](const char* name, const char* help, MetricType type, auto read) {
      context().metrics().collect(name, help, type, [model, read](std::vector<MetricSample>& out) {
        out.push_back({model, static_cast<double>(read())});
      });
    };
    auto& p = published_;
    figure("socstream_model_progressive_accuracy", "An online model's accuracy on each verdict before it learnt from it.",
           MetricType::Gauge, [&p] { return p.accuracy.load(); });
    figure("socstream_model_updates_total", "Verdicts an online model learnt from.", MetricType::Counter,
           [&p] { return p.updates.load(); });
    figure("socstream_model_drift_events_total", "Drift an online model's detectors reported.", MetricType::Counter,
           [&p] { return p.drifts.load(); });
    figure("socstream_model_verdicts_rejected_total", "Verdicts an online model could not learn from (dead-lettered).",
           MetricType::Counter, [&p] { return p.rejected.load(); });
    figure("socstream_model_scored_total", "Events an online model scored.", MetricType::Counter,
           [&p] { return p.scored.load(); });
  }
  next_snapshot_ = Clock::now() + snapshot_interval_;
  next_metrics_ = Clock::now() + metrics_interval_;
  publish();
}

// The metrics collectors run on the scraper's thread: they read these copies,
// never the model this operator's thread is changing.
void OnlineClassifierOp::publish() {
  published_.accuracy.store(model_->progress().accuracy());
  published_.updates.store(model_->updates());
  published_.drifts.store(drift_.drifts());
  published_.rejected.store(stats_.rejected);
  published_.scored.store(stats_.scored);
}

void OnlineClassifierOp::set_version(uint64_t v) {
  // Events in flight point at the old text: it stays.
  versions_.push_back(std::to_string(v));
}

size_t OnlineClassifierOp::featurize(const Event& e) {
  slots_.clear();
  size_t n = 0;
  texts_.for_each(e, scratch_, [&](std::string_view t) {
    if (t.empty()) return;
    ++n;
    model_->featurizer().add(t, slots_);
  });
  return n;
}

void OnlineClassifierOp::featurize(std::string_view joined) {
  slots_.clear();
  for_each_joined(joined, [&](std::string_view t) { model_->featurizer().add(t, slots_); });
}

void OnlineClassifierOp::process(Batch&& in, Outputs& out) {
  std::unique_lock lk(model_mu_);
  auto arena = std::make_shared<Arena>(4096);
  Batch pos = in.derive(in.size());
  Batch neg = in.derive();
  Batch dlq = in.derive();
  Batch drift = in.derive();
  drift.raw_padded = false;
  for (auto& e : in.events) {
    if (join_.is_feedback(e)) learn(e, dlq, out, *arena, drift);
    else score(e, pos, neg, *arena, drift);
  }
  pos.hold(arena);
  neg.hold(arena);
  dlq.hold(arena);
  drift.hold(std::move(arena));
  if (snapshots_ && model_->updates() - updates_at_snapshot_ >= snapshot_every_) snapshot(false);
  publish();
  // Not while emitting: a full channel downstream would hold the API up.
  lk.unlock();
  out.emit(0, std::move(pos));
  out.emit(1, std::move(neg));
  if (!drift.empty()) out.emit(2, std::move(drift));
  if (!dlq.empty()) out.emit(out.dlq_port(), std::move(dlq));
}

void OnlineClassifierOp::learn(Event& e, Batch& dlq, Outputs& out, Arena& arena, Batch& drift) {
  auto v = join_.resolve(e, texts_);
  if (!v.ok) {
    ++stats_.rejected;
    out.reject(dlq, std::move(e), v.reason, arena.copy(v.detail));
    return;
  }
  featurize(v.texts);
  const uint32_t y = v.label;
  bool right = model_->learn(slots_.data(), slots_.size(), y, probs_.data());
  ++stats_.learnt;
  ++window_examples_;
  window_correct_ += right;
  if (auto doc = drift_.verdict(!right, drift_context(e))) drift.events.push_back(document_event(arena, *doc, e.pos));
  watch_scores(1 - probs_[negative_], e, arena, drift);
  if (snapshots_) unsaved_.push_back(std::move(e.ack));
  else e.ack.complete();
}

void OnlineClassifierOp::score(Event& e, Batch& pos, Batch& neg, Arena& arena, Batch& drift) {
  // An empty model gives every label the same probability and would flag
  // everything: until it has learnt enough, events pass as negative, unscored.
  if (model_->updates() < min_updates_) {
    ++stats_.untrained;
    neg.events.push_back(std::move(e));
    return;
  }
  if (featurize(e) == 0) {
    neg.events.push_back(std::move(e));
    return;
  }
  ++stats_.scored;
  model_->predict(slots_.data(), slots_.size(), probs_.data());
  const float suspicion = 1 - probs_[negative_];
  const auto [label, positive] = judge(probs_.data());
  e.scored = true;
  e.set_field(names_.label, labels_[label]);
  e.set_field(names_.score, number(arena, probs_[label]), ValueKind::Number);
  e.set_field(names_.model, name_);
  e.set_field(names_.version, version(), ValueKind::Number);
  watch_scores(suspicion, e, arena, drift);
  if (!positive) {
    neg.events.push_back(std::move(e));
    return;
  }
  ++stats_.positive;
  if (explain_ > 0 || join_.remembering()) {
    joined_.clear();
    texts_.join(e, joined_, scratch_);
    if (explain_ > 0) e.set_field(explanation_field_, arena.copy(explain(label)), ValueKind::Json);
    join_.remember(e.pos, joined_, label);
  }
  pos.events.push_back(std::move(e));
}

std::pair<uint32_t, bool> OnlineClassifierOp::judge(const float* probs) const {
  const bool positive = 1 - probs[negative_] >= threshold_;
  uint32_t label = negative_;
  if (positive) {
    label = negative_ == 0 ? 1 : 0;
    for (uint32_t k = 0; k < labels_.size(); ++k)
      if (k != negative_ && probs[k] > probs[label]) label = k;
  }
  return {label, positive};
}

std::string OnlineClassifierOp::explain(uint32_t label, size_t top) {
  const size_t explain_ = top ? top : this->explain_;
  // A feature's push towards `label` and away from the negative label, summed
  // over its occurrences (in any of the event's texts); names are built for
  // the winners only.
  struct Push {
    uint32_t slot;
    float weight;
    size_t text;
    online::Featurizer::Feature feature;
  };
  std::vector<Push> pushes;
  std::vector<std::string> marked;
  std::vector<online::Featurizer::Feature> fs;
  for_each_joined(joined_, [&](std::string_view text) {
    fs.clear();
    marked.emplace_back();
    model_->featurizer().features(text, fs, marked.back());
    for (const auto& f : fs)
      pushes.push_back(Push{f.slot, model_->weight(f.slot, label) - model_->weight(f.slot, negative_),
                            marked.size() - 1, f});
  });
  // Occurrences of one slot are one feature (or hash-colliding ones: the
  // model cannot tell them apart either).
  std::sort(pushes.begin(), pushes.end(), [](const Push& a, const Push& b) { return a.slot < b.slot; });
  size_t kept = 0;
  for (size_t i = 0; i < pushes.size(); ++i) {
    if (kept > 0 && pushes[kept - 1].slot == pushes[i].slot) pushes[kept - 1].weight += pushes[i].weight;
    else pushes[kept++] = pushes[i];
  }
  pushes.resize(kept);
  auto positive_end = std::partition(pushes.begin(), pushes.end(), [](const Push& p) { return p.weight > 0; });
  const auto n = std::min<ptrdiff_t>(static_cast<ptrdiff_t>(explain_), positive_end - pushes.begin());
  std::partial_sort(pushes.begin(), pushes.begin() + n, positive_end,
                    [](const Push& a, const Push& b) { return a.weight > b.weight; });
  std::string doc = "[";
  for (ptrdiff_t i = 0; i < n; ++i) {
    const Push& p = pushes[static_cast<size_t>(i)];
    if (i) doc += ',';
    doc += "{\"feature\":";
    std::string name = online::Featurizer::name(p.feature, marked[p.text]);
    // An n-gram may cut a multi-byte character: show such bytes as \xNN.
    if (!json::valid_utf8(name)) {
      std::string safe;
      for (unsigned char c : name)
        safe += c < 0x80 ? std::string(1, static_cast<char>(c)) : fmt::format("\\x{:02x}", c);
      name = std::move(safe);
    }
    json::append_string(doc, name);
    doc += fmt::format(",\"weight\":{:.4f}}}", p.weight);
  }
  doc += ']';
  return doc;
}

DriftWatch::Context OnlineClassifierOp::drift_context(const Event& e) const {
  return DriftWatch::Context{name_, version(), model_->updates(), e.pos};
}

void OnlineClassifierOp::watch_scores(float suspicion, const Event& e, Arena& arena, Batch& drift) {
  if (auto doc = drift_.score(suspicion, drift_context(e))) drift.events.push_back(document_event(arena, *doc, e.pos));
}

std::optional<Clock::time_point> OnlineClassifierOp::next_deadline() const {
  auto next = next_metrics_;
  if (snapshots_ && model_ && model_->updates() != updates_at_snapshot_) next = std::min(next, next_snapshot_);
  return next;
}

void OnlineClassifierOp::on_deadline(Outputs& out) {
  auto now = Clock::now();
  // This thread is the model's only writer, so reading it here needs no lock;
  // the API's threads read what a snapshot changes (the version), so that does.
  if (now >= next_metrics_) {
    emit_metrics(out);
    next_metrics_ = now + metrics_interval_;
  }
  std::lock_guard lk(model_mu_);
  if (snapshots_ && now >= next_snapshot_ && model_->updates() != updates_at_snapshot_) snapshot(false);
}

void OnlineClassifierOp::emit_metrics(Outputs& out) {
  const auto& p = model_->progress();
  std::string doc = "{\"type\":\"metrics\",\"model\":";
  json::append_string(doc, name_);
  doc += fmt::format(
      ",\"model_version\":{},\"updates\":{},\"progressive\":{{\"examples\":{},\"accuracy\":{:.6f},\"log_loss\":{:.6f}}},"
      "\"window\":{{\"examples\":{},\"accuracy\":{:.6f}}},\"scored\":{},\"positive\":{},\"rejected\":{},\"drifts\":{},"
      "\"snapshots\":{},\"@timestamp\":\"{}\"}}",
      version(), model_->updates(), p.examples, p.accuracy(), p.mean_log_loss(), window_examples_,
      window_examples_ ? double(window_correct_) / double(window_examples_) : 0.0, stats_.scored, stats_.positive,
      stats_.rejected, drift_.drifts(), stats_.snapshots, now_text());
  window_examples_ = window_correct_ = 0;
  auto arena = std::make_shared<Arena>(1024);
  Batch b;
  b.events.push_back(document_event(*arena, doc, SourcePos{}));
  b.hold(std::move(arena));
  out.emit(3, std::move(b));
}

void OnlineClassifierOp::snapshot(bool wait) {
  Pending next{model_->to_bytes(), ++generation_, std::move(unsaved_)};
  unsaved_.clear();
  set_version(generation_);
  updates_at_snapshot_ = model_->updates();
  next_snapshot_ = Clock::now() + snapshot_interval_;
  ++stats_.snapshots;
  std::unique_lock lk(mu_);
  if (pending_) {
    // The writer is still busy with an older one: this newer snapshot covers
    // the waiting one's verdicts too, so it takes their acks and its place.
    for (auto& a : pending_->acks) next.acks.push_back(std::move(a));
  }
  pending_ = std::move(next);
  if (!writer_.joinable()) writer_ = std::thread([this] { writer_loop(); });
  cv_.notify_all();
  if (wait) cv_.wait(lk, [&] { return !pending_ && !writing_; });
}

void OnlineClassifierOp::writer_loop() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return pending_ || stop_writer_; });
    if (!pending_) return;
    Pending p = std::move(*pending_);
    pending_.reset();
    writing_ = true;
    lk.unlock();
    try {
      snapshots_->save(p.bytes, p.generation);
      for (auto& a : p.acks) a.complete();
    } catch (const std::exception& e) {
      // The verdicts stay unacknowledged (abandoned), so Kafka redelivers them.
      spdlog::error("online_classifier {}: snapshot {} not written: {}", name_, p.generation, e.what());
    }
    p.acks.clear();
    lk.lock();
    writing_ = false;
    cv_.notify_all();
  }
}

void OnlineClassifierOp::finish(Outputs& out) {
  {
    std::lock_guard lk(model_mu_);
    if (snapshots_ && (model_->updates() != updates_at_snapshot_ || !unsaved_.empty())) snapshot(true);
  }
  emit_metrics(out);
  const auto& p = model_->progress();
  if (stats_.untrained > 0)
    spdlog::warn("online_classifier {}: {} events passed unscored while the model had under {} updates", name_,
                 stats_.untrained, min_updates_);
  spdlog::info("online_classifier {}: {} scored ({} positive), {} verdicts learnt ({} rejected), progressive "
               "accuracy {:.4f} and log-loss {:.4f} over {} examples, {} drift events, {} snapshots (last {})",
               name_, stats_.scored, stats_.positive, stats_.learnt, stats_.rejected, p.accuracy(), p.mean_log_loss(),
               p.examples, drift_.drifts(), stats_.snapshots, generation_);
}

ComponentSpec online_classifier_spec() {
  ComponentSpec spec{
      "online_classifier",
      Kind::Operator,
      "scores events with an online linear model and learns from analysts' verdicts; ports: default (positive), "
      "negative, drift, metrics",
      {{"labels", SettingType::StringList, true, "the classes, as analysts name them"},
       {"negative_label", SettingType::String, false, "the benign class (default: the first label)"},
       {"threshold", SettingType::Double, false, "1 - P(negative label) an event needs to be positive (default 0.5)"},
       {"field", SettingType::String, false, "the field to score"},
       {"fields", SettingType::StringList, false, "several fields, scored as one bag of features"},
       {"transforms", SettingType::StringList, false, "applied before scoring: query_values, url_decode, lowercase"},
       {"name", SettingType::String, false, "the model's name in verdicts and events (default: the component's)"},
       {"bits", SettingType::Int, false, "2^bits hashed feature slots (default 16)"},
       {"ngrams", SettingType::StringList, false, "[shortest, longest] character n-grams (default [3, 4])"},
       {"words", SettingType::Bool, false, "word tokens as features too (default true)"},
       {"max_text_bytes", SettingType::Bytes, false, "bytes of a text featurised (default 1KiB)"},
       {"alpha", SettingType::Double, false, "FTRL learning rate (default 0.1)"},
       {"beta", SettingType::Double, false, "FTRL learning-rate smoothing (default 1)"},
       {"l1", SettingType::Double, false, "FTRL L1 regularisation (default 0)"},
       {"l2", SettingType::Double, false, "FTRL L2 regularisation (default 0)"},
       {"min_updates", SettingType::Int, false, "verdicts learnt before it scores; until then events leave on negative (default 1000)"},
       {"explain", SettingType::Int, false, "top features written to `explanation` (default 3; 0 for none)"},
       {"snapshot_dir", SettingType::String, false, "where snapshots are written and restored from"},
       {"snapshot_every", SettingType::Int, false, "updates between snapshots (default 100000)"},
       {"snapshot_interval_s", SettingType::Int, false, "seconds between snapshots of a changed model (default 60)"},
       {"snapshot_keep", SettingType::Int, false, "snapshots kept (default 3)"},
       {"metrics_interval_s", SettingType::Int, false, "seconds between metrics events (default 10)"},
       {"prefix", SettingType::String, false, "prefix for the fields written"}},
      false,
      [](const Settings& s) { return std::make_unique<OnlineClassifierOp>(s); }};
  for (auto& f : FeedbackJoin::settings()) spec.settings.push_back(std::move(f));
  for (auto& f : DriftWatch::settings()) spec.settings.push_back(std::move(f));
  return spec;
}

}  // namespace socstream
