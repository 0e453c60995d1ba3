#include "operators/sigma.hpp"

#include <spdlog/spdlog.h>

#include <map>
#include <mutex>

#include "engine/hash.hpp"
#include "operators/operators.hpp"

namespace socstream {

namespace {

std::shared_ptr<const sigma::RuleSet> compile(const Settings& s);

// The instances of one component (workers: N) share its compiled rules; a
// RuleSet lives as long as the topology that made it, no longer (a hot reload
// compiles the files as they are now).
std::shared_ptr<const sigma::RuleSet> compiled_for(const Settings& s) {
  return s.context().shared().get_or_make<const sigma::RuleSet>(
      "sigma.rules\n" + s.component(), [&]() -> std::shared_ptr<const sigma::RuleSet> { return compile(s); });
}

// The directory a glob looks in (sigma/rules* -> sigma), for --watch to see new files appear.
std::filesystem::path watched_for(const std::filesystem::path& entry) {
  const std::string text = entry.string();
  const size_t glob = text.find_first_of("*?[");
  if (glob == std::string::npos) return entry;
  return std::filesystem::path(text.substr(0, glob)).parent_path();
}

std::shared_ptr<const sigma::RuleSet> compile(const Settings& s) {

  sigma::CompileOptions opts;
  const YAML::Node ph = s.node()["placeholders"];
  if (ph.IsDefined() && !ph.IsNull()) {
    if (!ph.IsMap()) {
      s.error("placeholders", "expected a map of placeholder name -> value or list of values");
    } else {
      for (const auto& kv : ph) {
        auto& values = opts.placeholders[kv.first.Scalar()];
        if (kv.second.IsScalar()) {
          if (auto v = s.expand_scalar(kv.second)) values.push_back(*v);
        } else if (kv.second.IsSequence()) {
          for (const auto& v : kv.second)
            if (auto x = v.IsScalar() ? s.expand_scalar(v) : std::nullopt) values.push_back(*x);
        } else {
          s.error("placeholders", "placeholder '" + kv.first.Scalar() + "': a value or a list of values");
        }
      }
    }
  }
  opts.status = s.strings("status");
  const std::string min_level = s.choice("min_level", {"informational", "low", "medium", "high", "critical"}, "informational");
  opts.min_level = min_level == "informational" ? Severity::Info : *parse_severity(min_level);
  const YAML::Node ls = s.node()["logsource"];
  if (ls.IsDefined() && !ls.IsNull()) {
    if (!ls.IsMap()) s.error("logsource", "expected a map with product, category and/or service");
    for (const auto& kv : ls) {
      const std::string k = kv.first.Scalar();
      const std::string v = kv.second.IsScalar() ? kv.second.Scalar() : "";
      if (k == "product")
        opts.logsource.product = v;
      else if (k == "category")
        opts.logsource.category = v;
      else if (k == "service")
        opts.logsource.service = v;
      else
        s.error("logsource", "'" + k + "' is not product, category or service");
    }
  }
  opts.prefilter = s.flag("prefilter", true);

  sigma::Pipeline pipeline;
  if (const auto file = s.resolve(s.str("pipeline")); std::filesystem::is_regular_file(file)) s.config_file(file);
  try {
    pipeline = sigma::load_pipeline(s.str("pipeline"), s.base_dir());
  } catch (const ConfigError& e) {
    s.diagnostics().error(e.where(), e.message());
    return nullptr;
  }
  std::vector<std::filesystem::path> entries;
  for (const auto& r : s.strings("rules")) {
    entries.push_back(s.resolve(r));
    s.config_file(watched_for(entries.back()));
  }
  std::vector<sigma::Refusal> refused;
  auto files = sigma::expand_rule_paths(entries, refused);
  auto parsed = sigma::load_rules(files, refused);
  std::shared_ptr<const sigma::RuleSet> rs;
  try {
    rs = std::make_shared<const sigma::RuleSet>(parsed, std::move(pipeline), opts, std::move(refused));
  } catch (const std::exception& e) {
    s.error("rules", std::string("cannot compile the rules: ") + e.what());
    return nullptr;
  }
  if (s.flag("strict", false))
    for (const auto& r : rs->refused()) s.diagnostics().error(r.where, r.rule_id.empty() ? r.reason + ": " + r.message
                                                                                           : "rule '" + r.rule_id + "' (" + r.title + "): " + r.reason + ": " + r.message);
  if (rs->stats().loaded == 0 && rs->correlations().empty())
    s.error("rules", "no rule loaded (" + std::to_string(rs->refused().size()) + " refused, " +
                         std::to_string(rs->stats().filtered) + " filtered out); see `socstream validate`");
  return rs;
}

}  // namespace

// One set of correlation windows per component, whatever its number of workers.
std::shared_ptr<SigmaOp::Correlations> correlations_for(const Settings& s, std::shared_ptr<const sigma::RuleSet> rules) {
  return s.context().shared().get_or_make<SigmaOp::Correlations>("sigma.correlations\n" + s.component(), [&] {
    auto c = std::make_shared<SigmaOp::Correlations>(std::move(rules),
                                                     static_cast<size_t>(s.integer("max_groups", 100000, 1)));
    if (s.has("state_dir")) c->store.emplace(s.path("state_dir"), "correlations", 3);
    return c;
  });
}

SigmaOp::SigmaOp(const Settings& s) {
  if (!s.has("rules") || !s.has("pipeline")) return;  // reported by the schema check
  rules_ = compiled_for(s);
  if (!rules_) return;
  explain_ = s.flag("explain", true);
  eval_ = std::make_unique<sigma::Evaluator>(rules_);
  if (!rules_->correlations().empty()) corr_ = correlations_for(s, rules_);
  snapshot_interval_ = std::chrono::milliseconds(s.integer("snapshot_interval_s", 10, 1, 86400) * 1000);
  top_rules_ = static_cast<size_t>(s.integer("metrics_top_rules", 20, 0, 1000));
  counts_ = s.context().shared().get_or_make<RuleCounts>("sigma.counts\n" + s.component(), [&] {
    return std::make_shared<RuleCounts>(rules_->rules().size());
  });
  max_future_ms_ = s.integer("max_future_s", 300, 0, 86400 * 366) * 1000;
}

void SigmaOp::register_metrics() {
  auto& g = context().metrics();
  // The workers share one set of series: the first to open registers them.
  auto once = context().shared().get_or_make<std::atomic<bool>>(
      "sigma.metrics\n" + context().name(), [] { return std::make_shared<std::atomic<bool>>(false); });
  if (once->exchange(true)) return;
  g.gauge("socstream_sigma_rules_loaded", "Sigma rules (and correlations) a component loaded.")
      .set(static_cast<double>(rules_->stats().loaded + rules_->correlations().size()));
  g.gauge("socstream_sigma_rules_refused", "Sigma rules a component could not load (socstream validate says why).")
      .set(static_cast<double>(rules_->refused().size()));
  auto counts = counts_;
  auto rules = rules_;
  const size_t top = top_rules_;
  g.collect("socstream_sigma_rule_matches_total", "Matches of the Sigma rules that matched most (top metrics_top_rules).",
            MetricType::Counter, [counts, rules, top](std::vector<MetricSample>& out) {
              std::vector<std::pair<uint64_t, size_t>> hits;
              for (size_t i = 0; i < counts->n; ++i)
                if (uint64_t n = counts->counts[i].load(std::memory_order_relaxed)) hits.emplace_back(n, i);
              const size_t n = std::min(top, hits.size());
              std::partial_sort(hits.begin(), hits.begin() + static_cast<ptrdiff_t>(n), hits.end(),
                                [](const auto& a, const auto& b) { return a.first > b.first; });
              for (size_t k = 0; k < n; ++k) {
                const Rule& r = rules->rules()[hits[k].second];
                out.push_back({{{"rule_id", r.id}, {"rule_title", r.title}}, static_cast<double>(hits[k].first)});
              }
            });
  if (auto corr = corr_) {
    g.collect("socstream_sigma_correlation_groups", "Correlation groups a component keeps windows for.",
              MetricType::Gauge, [corr](std::vector<MetricSample>& out) {
                std::lock_guard lk(corr->m);
                out.push_back({{}, static_cast<double>(corr->correlator.groups())});
              });
    g.collect("socstream_sigma_correlation_evictions_total", "Correlation groups evicted to stay within max_groups.",
              MetricType::Counter, [corr](std::vector<MetricSample>& out) {
                std::lock_guard lk(corr->m);
                out.push_back({{}, static_cast<double>(corr->correlator.evictions())});
              });
  }
}

void SigmaOp::open() {
  spdlog::info("sigma: {}", rules_->summary(5));
  register_metrics();
  if (!corr_) return;
  std::lock_guard lk(corr_->m);
  if (corr_->restored) return;  // another worker did
  corr_->restored = true;
  if (!corr_->store) {
    spdlog::info("sigma: correlation windows live in memory only (no state_dir)");
    return;
  }
  std::vector<std::string> errors;
  auto gen = corr_->store->restore([&](std::string_view bytes) { corr_->correlator.load(bytes); }, errors);
  for (const auto& e : errors) spdlog::warn("sigma: refused a correlation snapshot: {}", e);
  if (gen)
    spdlog::info("sigma: restored {} correlation window(s) from {}", corr_->correlator.groups(),
                 corr_->store->path_of(*gen).string());
  corr_->next_snapshot = Clock::now() + snapshot_interval_;
}

void SigmaOp::process(Batch&& in, Outputs& out) {
  auto arena = std::make_shared<Arena>();
  Batch matched = in.derive(in.size());
  Batch other = in.derive(in.size());
  Batch bad;
  const auto& rules = rules_->rules();
  // The parser filled these events on another core: fetch the next event's
  // fields while this one is matched, rather than stall on each line.
  auto prefetch = [](const Event& e) {
    const char* p = reinterpret_cast<const char*>(e.fields.data());
    const char* end = p + e.fields.size() * sizeof(Field);
    for (; p < end; p += 64) __builtin_prefetch(p);
  };
  if (!in.events.empty()) prefetch(in.events.front());
  for (size_t i = 0; i < in.events.size(); ++i) {
    Event& e = in.events[i];
    if (i + 1 < in.events.size()) prefetch(in.events[i + 1]);
    ++stats_.events;
    if (e.fields.empty()) {
      ++stats_.no_fields;
      out.reject(bad, std::move(e), "no_fields",
                 "the event has no fields: parse it first (json_parse with fields: all) so rules can read them");
      continue;
    }
    eval_->match(e, matches_);
    fired_.clear();
    bool kept = false;
    int64_t now = 0;
    // Rules an upstream detector added keep their own (maybe empty) explanations.
    const size_t upstream = e.rules.size();
    e.matched.resize(upstream);
    for (const auto& m : matches_) {
      if (rules_->generates(m.rule)) {
        count(m.rule);
        e.rules.push_back(&rules[m.rule]);
        if (explain_) {
          scratch_.clear();
          eval_->explain(m, scratch_);
          e.matched.push_back(arena->copy(scratch_));
        } else {
          e.matched.emplace_back();
        }
      }
      if (corr_ && !rules_->feeds(m.rule).empty()) {
        if (!now) now = event_time();
        std::lock_guard lk(corr_->m);
        kept |= corr_->correlator.feed(m.rule, now, event_id(e.pos), *eval_, fired_);
      }
    }
    for (auto& f : fired_) {
      if (!rules_->generates(f.rule)) continue;
      count(f.rule);
      e.rules.push_back(&rules[f.rule]);
      e.matched.push_back(explain_ ? arena->copy(f.explanation) : std::string_view());
    }
    if (kept) {
      std::lock_guard lk(corr_->m);
      // The window holds this event until a snapshot does: keep a reference to its token.
      if (corr_->store) corr_->unsaved.push_back(e.ack.share());
      if (corr_->correlator.evictions() != corr_->evictions_logged) log_evictions();
    }
    if (e.rules.size() == upstream) {
      other.events.push_back(std::move(e));
    } else {
      ++stats_.matched;
      stats_.matches += e.rules.size() - upstream;
      matched.events.push_back(std::move(e));
    }
  }
  matched.hold(arena);
  if (!bad.empty()) {
    bad.hold_all(in.holds);
    out.dead_letter(std::move(bad));
  }
  out.emit(0, std::move(matched));
  out.emit(1, std::move(other));
}

void SigmaOp::log_evictions() {
  // At most a line a second: a flood of new groups must not flood the log too.
  const auto now = Clock::now();
  if (now < corr_->next_eviction_log) return;
  const uint64_t total = corr_->correlator.evictions();
  spdlog::warn("sigma: {} correlation group(s) evicted to stay within max_groups ({} in all); their windows start over",
               total - corr_->evictions_logged, total);
  corr_->evictions_logged = total;
  corr_->next_eviction_log = now + std::chrono::seconds(1);
}

int64_t SigmaOp::event_time() {
  const int64_t wall =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto t = eval_->event_time();
  if (!t) return wall;
  // An event dated far ahead (a skewed clock, a forged field) would hold a
  // window open for years and push real events out: no later than the clock
  // plus max_future_s.
  return std::min(*t, wall + max_future_ms_);
}

uint64_t SigmaOp::event_id(const SourcePos& pos) {
  scratch_.clear();
  if (pos.source) scratch_ += *pos.source;
  scratch_ += '\0';
  scratch_ += pos.stream;
  scratch_ += '\0';
  scratch_ += std::to_string(pos.partition);
  scratch_ += '\0';
  scratch_ += std::to_string(pos.offset);
  scratch_ += '\0';
  scratch_ += std::to_string(pos.origin);
  return name_hash(scratch_);
}

bool SigmaOp::snapshot() {
  if (!corr_->store) return true;
  try {
    corr_->store->save(corr_->correlator.save());
  } catch (const std::exception& e) {
    // The windows are still in memory: keep the events held and try again at
    // the next deadline (abandoning them would stop the source's commits).
    spdlog::error("sigma: cannot write a correlation snapshot to {}: {}", corr_->store->dir().string(), e.what());
    return false;
  }
  ++corr_->snapshots;
  for (auto& a : corr_->unsaved) a.complete();
  corr_->unsaved.clear();
  return true;
}

std::optional<Clock::time_point> SigmaOp::next_deadline() const {
  if (!corr_) return std::nullopt;
  std::lock_guard lk(corr_->m);
  if (!corr_->store || corr_->unsaved.empty()) return std::nullopt;
  return corr_->next_snapshot;
}

void SigmaOp::on_deadline(Outputs&) {
  if (!corr_) return;
  std::lock_guard lk(corr_->m);
  if (Clock::now() < corr_->next_snapshot) return;
  snapshot();
  corr_->next_snapshot = Clock::now() + snapshot_interval_;
}

void SigmaOp::finish(Outputs&) {
  if (corr_) {
    std::lock_guard lk(corr_->m);
    // At shutdown a snapshot that cannot be written leaves its events
    // unacknowledged: they are delivered again after the restart.
    if (!snapshot()) {
      for (auto& a : corr_->unsaved) a.abandon();
      corr_->unsaved.clear();
    }
  }
  spdlog::info("sigma: {} events, {} matched ({} rule matches), {} variants evaluated{}", stats_.events,
               stats_.matched, stats_.matches, eval_ ? eval_->evaluated() : 0,
               corr_ ? fmt::format("; correlations: {} fired, {} group(s) open, {} evicted", corr_->correlator.fired(),
                                   corr_->correlator.groups(), corr_->correlator.evictions())
                     : std::string());
}

std::string SigmaOp::save_state() {
  if (!corr_) return {};
  std::lock_guard lk(corr_->m);
  return corr_->correlator.save();
}

void SigmaOp::restore_state(std::string_view state) {
  if (!corr_ || state.empty()) return;
  std::lock_guard lk(corr_->m);
  if (corr_->restored) return;  // the workers share one set of windows: the first takes it
  try {
    corr_->correlator.load(state);
    corr_->restored = true;
    spdlog::info("sigma: {} correlation window(s) carried over from the previous topology", corr_->correlator.groups());
  } catch (const std::exception& e) {
    spdlog::error("sigma: the previous topology's correlation windows cannot be used: {}; starting empty", e.what());
  }
}

// `validate` is where every refused rule is read, so it lists them all; the
// log line at start keeps to a few.
std::string SigmaOp::report() const { return rules_ ? rules_->summary(SIZE_MAX) : std::string(); }

ComponentSpec sigma_spec() {
  return ComponentSpec{
      "sigma",
      Kind::Operator,
      "runs Sigma rules (and correlations) over parsed events; ports: default (matched), nomatch",
      {{"rules", SettingType::Any, true, "Sigma rule files, directories (read recursively) or globs: a string or a list"},
       {"pipeline", SettingType::String, true,
        "how Sigma fields and log sources map onto the events: nxlog, evtx_json, ecs, none, or a pipeline YAML file"},
       {"status", SettingType::Any, false, "statuses to load (default: all but deprecated and unsupported)"},
       {"min_level", SettingType::String, false, "the lowest level loaded: informational (default), low, medium, high, critical"},
       {"logsource", SettingType::Any, false, "load only rules of this log source: {product: windows, category: ...}"},
       {"placeholders", SettingType::Any, false, "values for |expand placeholders: {Administrators: [adm_*, root]}"},
       {"strict", SettingType::Bool, false, "a rule that cannot be loaded fails the topology (default false)"},
       {"explain", SettingType::Bool, false, "record what each rule matched on: selections and field values (default true)"},
       {"prefilter", SettingType::Bool, false, "evaluate only rules whose literals an event holds (default true)"},
       {"max_groups", SettingType::Int, false, "correlation groups kept over all correlations (default 100000)"},
       {"metrics_top_rules", SettingType::Int, false, "rules with the most matches shown in /metrics (default 20)"},
       {"state_dir", SettingType::String, false, "where correlation windows are snapshotted (default: memory only)"},
       {"snapshot_interval_s", SettingType::Int, false, "seconds between correlation snapshots (default 10)"},
       {"max_future_s", SettingType::Int, false,
        "event times further ahead of the clock are taken as the clock plus this (default 300)"}},
      true,
      [](const Settings& s) { return std::make_unique<SigmaOp>(s); }};
}

}  // namespace socstream
