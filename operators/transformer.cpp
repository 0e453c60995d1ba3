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
      budget_(static_cast<size_t>(s.integer("max_values", 64, 1, 100'000)),
              static_cast<size_t>(s.bytes("max_text_bytes", 16 * 1024))),
      overflow_alert_(s.choice("overflow", {"alert", "verdict"}, "alert") == "alert"),
      bucketing_(s.flag("length_bucketing", true)),
      async_(s.flag("inference_thread", true)),
      names_(s.str("prefix", "")),
      learner_(s),
      learn_(learner_.learning()),
      cache_(0) {
  if (budget_.max_bytes() < 1024) s.error("max_text_bytes", "must be at least 1KiB: a head and a tail of a long text need room");
  cascade_.configure(s);
  hooks_.serve = [this](uint64_t v) { set_version(v); };
  hooks_.forget_cache = [this] {
    std::lock_guard lk(cache_mu_);
    cache_ = ResultCache(cache_capacity_);
  };
  hooks_.held_back = [this](bool right) { watch(true, right ? 0.f : 1.f, SourcePos{}); };
  set_version(0);
  if (!s.has("model")) return;  // reported by the schema check
  // Empty: model.yaml's own precision.
  const std::string precision = s.has("precision") ? s.choice("precision", known_precisions(), "float32") : "";
  try {
    info_ = read_model_info(s.config_path("model"), precision);
  } catch (const PrecisionError& e) {
    s.error("precision", e.what());
    return;
  } catch (const ModelError& e) {
    s.error("model", e.what());
    return;
  }
  embed_ = info_.task == "embed";
  set_version(static_cast<uint64_t>(info_.version));
  if ((learn_ || learner_.pinned()) && (embed_ || info_.head.empty()))
    s.error(learn_ ? "learn" : "pin_version", info_.name + " cannot learn: model.yaml names no classification head");
  // An embedding depends on every character, so masking would conflate texts:
  // embedding models cache only when asked to.
  cache_capacity_ = static_cast<size_t>(s.integer("cache_size", embed_ ? 0 : 65536, 0, 1 << 26));
  cache_ = ResultCache(cache_capacity_);
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
  cascade_.check_domain(s, info_, names_.out_of_domain);
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
  spdlog::info("transformer: {} v{} ({}, {}) loaded from {}", info_.name, info_.version, info_.task, info_.precision,
               info_.dir.string());
  learner_.open(*model_, info_, hooks_);
  auto& g = context().metrics();
  const Labels model{{"model", info_.name}};
  metrics_.lookups = &g.counter("socstream_model_texts_total", "Texts a model operator looked up (cache hits and misses).", model);
  metrics_.hits = &g.counter("socstream_model_cache_hits_total", "Texts a model operator answered from its cache.", model);
  metrics_.forward_seconds = &g.histogram("socstream_model_forward_seconds", "Seconds per forward pass of a model.",
                                          Histogram::exponential(0.0005, 2, 14), model);
  metrics_.forward_texts = &g.histogram("socstream_model_forward_texts", "Texts per forward pass of a model.",
                                        Histogram::exponential(1, 2, 10), model);
  // Every worker has its copy of the model: the API answers from one and pins them all.
  endpoint_ = std::make_unique<TransformerEndpoint>(*this);
  context().serve_model(endpoint_.get());
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

uint32_t TransformerOp::collect(Event& e, Verdict& v, std::vector<float>& embedding, bool& embedded) {
  size_t n = 0, bytes = 0;
  texts_.for_each(e, scratch_, [&](std::string_view text) {
    if (text.empty() || (embed_ && n > 0)) return;
    if (n == texts_buf_.size()) texts_buf_.emplace_back();
    texts_buf_[n++].assign(text);
    bytes += text.size();
  });
  if (embed_ && n > 0) {
    // An embedding describes the text: its head stands for it.
    lookup(std::string_view(texts_buf_[0]).substr(0, budget_.max_bytes()), v, embedding, embedded);
    return 0;
  }
  if (budget_.fits(n, bytes)) {
    for (size_t i = 0; i < n; ++i) lookup(texts_buf_[i], v, embedding, embedded);
    return 0;
  }
  auto key = [&](std::string_view t, std::string& k) {
    if (cache_capacity_ == 0) {
      k.assign(t);
      return false;
    }
    normalizer_.normalize(t, k);
    std::lock_guard lk(cache_mu_);
    return cache_.find(k) != nullptr;
  };
  auto choice = budget_.choose(e, texts_buf_.data(), n, key);
  for (auto t : choice.scored) lookup(t, v, embedding, embedded);
  if (choice.unscored) ++stats_.overflows;
  return static_cast<uint32_t>(choice.unscored);
}

void TransformerOp::lookup(std::string_view text, Verdict& v, std::vector<float>& embedding, bool& embedded) {
  ++stats_.texts;
  if (metrics_.lookups) metrics_.lookups->inc();
  if (cache_capacity_ > 0) {
    normalizer_.normalize(text, key_);
    // Used under the lock: the inference thread may evict the entry.
    std::lock_guard lk(cache_mu_);
    if (const auto* hit = cache_.find(key_)) {
      ++stats_.cache_hits;
      if (metrics_.hits) metrics_.hits->inc();
      if (embed_) {
        embedding = *hit;
        embedded = true;
      } else {
        Verdict j = judge(*hit);
        if (join_.remembering()) j.text = text;
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
}

void TransformerOp::route(Event&& e, const Verdict& v, uint32_t unscored, const std::vector<float>* embedding,
                          Batch& pos, Batch& neg, Arena& arena) {
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
  if (!v.set) {  // nothing to score: the model has no say, a rule hit stands
    (e.rules.empty() ? neg : pos).events.push_back(std::move(e));
    return;
  }
  e.scored = true;
  e.set_field(names_.label, info_.labels[v.label]);
  e.set_field(names_.score, number(arena, v.score), ValueKind::Number);
  e.set_field(names_.model, info_.name);
  e.set_field(names_.version, *version_.load(), ValueKind::Number);
  if (unscored) {
    e.set_field(names_.unscored, arena.copy(std::to_string(unscored)), ValueKind::Number);
  } else {
    // The event's own field of that name must not pass for this model's mark.
    auto& f = e.fields;
    f.erase(std::remove_if(f.begin(), f.end(), [&](const Field& x) { return x.name == names_.unscored; }), f.end());
  }
  if (learn_) watch(false, v.suspicion, e.pos);
  const auto d = cascade_.decide(e, v.positive, v.score, v.suspicion);
  const bool alert = d.alert || (unscored && overflow_alert_);
  if (cascade_.mode() == Cascade::Mode::Fuse) e.set_field(names_.fused, number(arena, d.fused), ValueKind::Number);
  if (d.out_of_domain) e.set_field(names_.out_of_domain, "true", ValueKind::Bool);
  cascade_.count(e, d, alert);
  // An alert the analyst may judge: remembered whichever way it got here.
  if (alert && join_.remembering()) {
    std::lock_guard lk(join_mu_);
    join_.remember(e.pos, v.text, v.label);
  }
  (alert ? pos : neg).events.push_back(std::move(e));
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
    const uint32_t unscored = collect(e, v, embedding, embedded);
    const auto refs = static_cast<uint32_t>(open_.refs.size()) - refs_at;
    if (refs == 0) {
      route(std::move(e), v, unscored, embedded ? &embedding : nullptr, pos, neg, *arena);
      continue;
    }
    if (jobs_before == 0 && open_.learn.empty()) first_at_ = Clock::now();
    open_.holds.hold_all(in.holds);
    open_.pending.push_back(Pending{std::move(e), refs_at, refs, v, unscored});
    if (open_.jobs.size() >= max_batch_) close_batch(out);
  }
  pos.hold(arena);
  neg.hold(arena);
  dlq.hold(std::move(arena));
  out.emit(0, std::move(pos));
  out.emit(1, std::move(neg));
  if (!dlq.empty()) out.emit(out.dlq_port(), std::move(dlq));
  if (learn_) flush_drift(out);
  if (open_.learn.size() >= learner_.window()) close_batch(out);
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
  // Bytes: rows are max_len tokens at most (a longer text is cut into windows
  // of that length), so beyond about 4 bytes a token a text's length says no
  // more about the width of its pass.
  const size_t cap = 4 * info_.max_len;
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
      std::vector<std::vector<float>> r;
      {
        // The model API asks the same model from its own thread.
        std::lock_guard lk(model_mu_);
        const auto t0 = Clock::now();
        r = model_->predict(views);
        if (metrics_.forward_seconds) {
          metrics_.forward_seconds->observe(std::chrono::duration<double>(Clock::now() - t0).count());
          metrics_.forward_texts->observe(static_cast<double>(views.size()));
        }
      }
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
      context().error("model_error");
      out.reject(dlq, std::move(p.event), "model_error", detail);
      continue;
    }
    if (embed_) {
      route(std::move(p.event), p.verdict, 0, &results[refs[0]], pos, neg, *arena);
      continue;
    }
    for (uint32_t k = 0; k < p.refs; ++k) {
      Verdict j = judge(results[refs[k]]);
      if (join_.remembering()) j.text = jobs[refs[k]];
      combine(p.verdict, j);
    }
    route(std::move(p.event), p.verdict, p.unscored, nullptr, pos, neg, *arena);
  }
  b.holds = Batch{};
  pos.hold(arena);
  neg.hold(arena);
  dlq.hold(std::move(arena));
  out.emit(0, std::move(pos));
  out.emit(1, std::move(neg));
  if (!dlq.empty()) out.emit(out.dlq_port(), std::move(dlq));
  if (!b.learn.empty()) {
    std::lock_guard lk(model_mu_);
    learner_.learn(*model_, info_, b.learn, hooks_);
  }
  if (learn_) flush_drift(out);
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
  if (!embed_) {
    const auto st = stats();
    spdlog::info("transformer: {}: mode {}: {} rule hits scored, {} vetoed, {} passed outside the model's domain; "
                 "{} alerts no rule flagged",
                 info_.name, cascade_.mode_name(), st.rule_hits, st.vetoed, st.out_of_domain, st.model_only);
  }
  if (stats_.overflows)
    spdlog::warn("transformer: {}: {} events had texts beyond max_values/max_text_bytes left unscored (marked {})",
                 info_.name, stats_.overflows, names_.unscored);
  if (learn_) {
    const auto st = stats();
    spdlog::info("transformer: {}: {} verdicts ({} rejected), {} trained on, {} held back, {} promotions, {} "
                 "shadows discarded; serving version {}",
                 info_.name, st.verdicts, st.rejected_verdicts, st.trained, st.held_back, st.promotions, st.discards,
                 version());
  }
}

TransformerOp::Stats TransformerOp::stats() const {
  Stats s = stats_;
  const auto c = cascade_.counts();
  s.rule_hits = c.rule_hits;
  s.vetoed = c.vetoed;
  s.out_of_domain = c.out_of_domain;
  s.model_only = c.model_only;
  const auto& l = learner_.stats();
  s.trained = l.trained;
  s.held_back = l.held_back;
  s.promotions = l.promotions;
  s.discards = l.discards;
  return s;
}

ComponentSpec transformer_spec() {
  ComponentSpec spec{
      "transformer",
      Kind::Operator,
      "runs a TorchScript model directory over a field in dynamic batches; ports: default (positive), negative, drift (with learn)",
      {{"model", SettingType::String, true, "the model directory (model.yaml, weights, vocabulary)"},
       {"precision", SettingType::String, false, "the model's weights to serve: float32 or int8 (default: model.yaml's precision)"},
       {"field", SettingType::String, false, "the field to score"},
       {"fields", SettingType::StringList, false, "several fields to score (the event takes the most suspicious verdict)"},
       {"transforms", SettingType::StringList, false, "applied before scoring: query_values, url_decode, lowercase"},
       {"max_batch", SettingType::Int, false, "texts per forward pass (default 32)"},
       {"max_delay_ms", SettingType::Int, false, "longest wait for a batch to fill, from its first text (default 10)"},
       {"thresholds", SettingType::StringMap, false, "per-label score a positive verdict needs (default: model.yaml's, else 0.5)"},
       {"cache_size", SettingType::Int, false, "results cached by normalised text (default 65536; 0 for embed models)"},
       {"max_values", SettingType::Int, false, "distinct texts per event sent to the model at most (default 64)"},
       {"max_text_bytes", SettingType::Bytes, false, "bytes per event sent to the model at most (default 16KiB, at least 1KiB)"},
       {"overflow", SettingType::String, false, "an event with texts left unscored: alert (default: it leaves on the default port, marked) or verdict (the scored texts decide; still marked)"},
       {"inference_thread", SettingType::Bool, false, "run forward passes on a thread of their own, so cache hits never wait for them (default true)"},
       {"length_bucketing", SettingType::Bool, false, "sort a batch by length into passes of similar length (default true)"},
       {"prefix", SettingType::String, false, "prefix for the fields written (label, score, model, model_version, embedding)"}},
      true,
      [](const Settings& s) { return std::make_unique<TransformerOp>(s); }};
  for (auto& f : Cascade::settings()) spec.settings.push_back(std::move(f));
  for (auto& f : HeadLearner::settings()) spec.settings.push_back(std::move(f));
  for (auto& f : FeedbackJoin::settings()) spec.settings.push_back(std::move(f));
  for (auto& f : DriftWatch::settings()) spec.settings.push_back(std::move(f));
  return spec;
}

}  // namespace socstream
