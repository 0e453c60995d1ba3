#pragma once
// Sigma correlation rules over a stream: windows of `timespan` per group key
// (the values of `group-by`, through aliases), on event time (the pipeline's
// timestamp fields; the arrival time when an event has none).
//
// A streaming engine decides when an event arrives, so each condition is read
// over the window that ends at the event that completes it:
//  - event_count: the events of the referenced rules in (t - timespan, t];
//  - value_count: the distinct values of `field` among them;
//  - temporal: every referenced rule (or `condition` many of them) matched in it;
//  - temporal_ordered: the referenced rules matched in the order listed.
// A group fires once and starts over, so a burst of 1,000 failed logons with
// `gte: 10` raises 100 alerts, not 991. Fired correlations feed correlations
// that name them (chains).
//
// Memory is bounded: at most `max_groups` groups over all correlations (the
// least recently updated one is evicted, and counted), a window keeps no more
// entries than its largest threshold needs, a group-by value keeps at most
// 256 bytes, and value_count keeps values as 64-bit hashes.
//
// Kafka delivers again what it had not committed when the engine stopped,
// while a snapshot may already hold those events: event_count windows keep
// each event's id (its source position) and count an event once. An ordered
// chain counts a step only after the step before it, in event time.
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "operators/sigma/evaluator.hpp"

namespace socstream::sigma {

struct Fired {
  uint32_t rule;            // the correlation's index in RuleSet::rules
  std::string explanation;  // JSON: type, group, count, rules, window
};

class Correlator {
 public:
  Correlator(std::shared_ptr<const RuleSet> rules, size_t max_groups);

  // `rule` matched the event the evaluator last saw, at time t (ms); `event` is
  // its identity (a hash of its source position). Appends the correlations this
  // completes. Returns whether any window kept the event.
  bool feed(uint32_t rule, int64_t t, uint64_t event, Evaluator& ev, std::vector<Fired>& fired);

  // The windows, for a snapshot; load refuses damaged bytes (throws) and skips
  // correlations the rule set no longer has.
  std::string save() const;
  void load(std::string_view bytes);

  size_t groups() const { return lru_.size(); }
  uint64_t evictions() const { return evictions_; }
  uint64_t fired() const { return fired_; }
  uint64_t changes() const { return changes_; }  // updates since start, to know when to snapshot

 private:
  struct Window {
    std::vector<std::pair<int64_t, uint64_t>> times;   // event_count: (time, event), by time
    std::vector<std::pair<uint64_t, int64_t>> values;  // value_count: (hash of the value, last seen)
    // temporal: per input, its last match. temporal_ordered: per input, the
    // chain reaching it: when it started (chain) and when it got there (last).
    std::vector<int64_t> last;
    std::vector<int64_t> chain;
    std::list<std::pair<uint32_t, std::string>>::iterator lru;
  };
  bool update(uint32_t ci, size_t input, int64_t t, uint64_t event, Evaluator& ev, std::vector<Fired>& fired,
              int depth);
  bool holds(const CorrelationDef& d, double count) const;
  Window& window(uint32_t ci, const std::string& key, size_t inputs);
  void evict();

  std::shared_ptr<const RuleSet> rules_;
  size_t max_groups_;
  std::vector<std::unordered_map<std::string, Window>> windows_;  // per correlation
  std::list<std::pair<uint32_t, std::string>> lru_;              // least recently updated first
  std::vector<size_t> cap_;                                       // per correlation: entries a window keeps
  uint64_t evictions_ = 0, fired_ = 0, changes_ = 0;
};

}  // namespace socstream::sigma
