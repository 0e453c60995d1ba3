#pragma once
// Metrics in the Prometheus data model: counters, gauges and histograms that
// components register through their context (engine/context.hpp), rendered
// by the admin endpoint's GET /metrics. Updates are lock-free (an atomic add
// per call), so a component counts per batch on its hot path for free; the
// registry's lock is taken only to register and to scrape.
//
// A series belongs to a Group (one per component instance set, one for the
// process): when a topology generation ends on a hot reload its groups go
// with it, so a scrape never reads a component that no longer exists.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace socstream {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double d) {
    double cur = v_.load(std::memory_order_relaxed);
    while (!v_.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
    }
  }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Fixed buckets given at registration (Prometheus `le` upper bounds; +Inf is implied).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

  // Bounds from `start`, each `factor` times the last, `n` of them.
  static std::vector<double> exponential(double start, double factor, size_t n);

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  Gauge sum_;
};

enum class MetricType { Counter, Gauge, Histogram };

// One sample a collector computes at scrape time.
struct MetricSample {
  Labels labels;
  double value = 0;
};

class MetricsRegistry;

// The series of one owner, with the labels every one of them carries first.
class MetricGroup {
 public:
  MetricGroup(MetricsRegistry& registry, Labels labels);
  ~MetricGroup();
  MetricGroup(const MetricGroup&) = delete;

  // The same name and labels give the same series (instances of one component share them).
  Counter& counter(const std::string& name, const std::string& help, Labels labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, Labels labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                       Labels labels = {});
  // Samples only known when scraped (consumer lag per partition, the rules
  // that matched most): `fn` appends them, each with its own labels.
  void collect(const std::string& name, const std::string& help, MetricType type,
               std::function<void(std::vector<MetricSample>&)> fn);

  const Labels& labels() const { return labels_; }
  // A group made for a topology that is not running yet (a reload builds the
  // next one beside the running one) stays out of scrapes until shown, so a
  // series never appears twice.
  void show() { visible_.store(true); }
  void hide() { visible_.store(false); }
  // Out of scrapes for good, its counts carried over to whatever series of
  // the same name and labels comes next (the next generation's).
  void retire();

 private:
  friend class MetricsRegistry;
  struct Series {
    std::string name, help;
    MetricType type;
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<void(std::vector<MetricSample>&)> collect;
  };
  Series* find(const std::string& name, const Labels& labels);

  MetricsRegistry& registry_;
  Labels labels_;
  std::atomic<bool> visible_{true};
  bool retired_ = false;  // under the registry's lock
  std::mutex m_;
  std::vector<std::unique_ptr<Series>> series_;
};

class MetricsRegistry {
 public:
  // The exposition format (text 0.0.4): one HELP/TYPE per family, its samples together.
  std::string prometheus_text() const;
  // The sum of a family's samples now (counters, gauges, collected), and whether it has any.
  std::pair<double, bool> total(const std::string& family) const;

 private:
  friend class MetricGroup;
  void add(MetricGroup* g);
  void remove(MetricGroup* g);
  void carry(MetricGroup* g);  // under m_
  mutable std::mutex m_;
  std::vector<MetricGroup*> groups_;
  // What the counters of groups gone counted, by name and labels: a
  // component rebuilt by a hot reload carries on from its predecessor's
  // count, so a counter never goes backwards across a reload.
  std::map<std::string, uint64_t> carried_;
};

// A label value as the exposition format wants it: backslash, quote and newline escaped.
std::string prometheus_label(std::string_view v);

}  // namespace socstream
