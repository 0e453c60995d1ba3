#pragma once
// type: sigma. Runs Sigma rules (files, directories, globs) over events whose
// fields a parser has extracted (json_parse with `fields: all` reaches every
// field of a nested event by its dotted name). A pipeline maps Sigma's field
// names and log sources onto the stream (built in: nxlog, evtx_json, ecs;
// or a YAML file). The rule language lives in operators/sigma/ (parse,
// compile, evaluate); this file is the operator around it.
//
// Ports: default (events that matched at least one rule, each carrying every
// rule it matched and, per rule, what it matched on), `nomatch`, `dlq`
// (events without fields: no parser ran before this operator).
//
// A rule that cannot be loaded (unknown modifier, bad condition, a regex RE2
// refuses) is reported with its file, line, column, id and title, and the
// others load; `strict: true` makes any refusal fail the topology instead.
//
// Correlation rules (event_count, value_count, temporal, temporal_ordered)
// keep windows per group key in memory, bounded by `max_groups` (the least
// recently updated group is evicted, counted and logged). With `state_dir`
// the windows are snapshotted atomically every `snapshot_interval_s` and at
// shutdown, restored at start, and an event that fed a window is acknowledged
// only once a snapshot holds it, so a crash loses no half-built correlation.
// The instances of a parallel sigma (`workers: N`) share one set of windows
// behind a lock: only the rare events that feed a correlation take it.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/component.hpp"
#include "models/snapshots.hpp"
#include "operators/sigma/correlator.hpp"
#include "operators/sigma/evaluator.hpp"

namespace socstream {

class SigmaOp final : public Operator {
 public:
  explicit SigmaOp(const Settings& s);
  std::vector<std::string> output_ports() const override { return {"", "nomatch", "dlq"}; }
  void open() override;
  void process(Batch&& in, Outputs& out) override;
  std::optional<Clock::time_point> next_deadline() const override;
  void on_deadline(Outputs& out) override;
  void finish(Outputs& out) override;
  std::string report() const override;
  std::string save_state() override;
  void restore_state(std::string_view state) override;

  const sigma::RuleSet& rules() const { return *rules_; }
  const sigma::Correlator* correlator() const { return corr_ ? &corr_->correlator : nullptr; }
  struct Stats {
    uint64_t events = 0, matched = 0, matches = 0, no_fields = 0;
  };
  const Stats& stats() const { return stats_; }
  uint64_t snapshots() const { return corr_ ? corr_->snapshots : 0; }

  // The correlation windows of one component, shared by its instances.
  struct Correlations {
    Correlations(std::shared_ptr<const sigma::RuleSet> rules, size_t max_groups) : correlator(std::move(rules), max_groups) {}
    std::mutex m;
    sigma::Correlator correlator;
    std::optional<online::SnapshotStore> store;
    std::vector<Ack> unsaved;  // events that fed windows since the last snapshot
    Clock::time_point next_snapshot{};
    bool restored = false;
    uint64_t snapshots = 0, evictions_logged = 0;
    Clock::time_point next_eviction_log{};
  };

 private:
  bool snapshot();  // under corr_->m; false if it could not be written (the events stay held)
  void log_evictions();
  int64_t event_time();
  uint64_t event_id(const SourcePos& pos);

  // Matches per rule, shared by the component's workers, for the top-N series of /metrics.
  struct RuleCounts {
    explicit RuleCounts(size_t n) : n(n), counts(std::make_unique<std::atomic<uint64_t>[]>(n)) {}
    size_t n;
    std::unique_ptr<std::atomic<uint64_t>[]> counts;
  };
  void count(uint32_t rule) {
    if (counts_ && rule < counts_->n) counts_->counts[rule].fetch_add(1, std::memory_order_relaxed);
  }
  void register_metrics();

  std::shared_ptr<const sigma::RuleSet> rules_;
  std::shared_ptr<RuleCounts> counts_;
  size_t top_rules_ = 20;
  std::unique_ptr<sigma::Evaluator> eval_;
  std::shared_ptr<Correlations> corr_;
  bool explain_ = true;
  std::chrono::milliseconds snapshot_interval_{10'000};
  int64_t max_future_ms_ = 300'000;
  std::vector<sigma::Match> matches_;
  std::vector<sigma::Fired> fired_;
  std::string scratch_;
  Stats stats_;
};

}  // namespace socstream
