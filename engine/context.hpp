#pragma once
// What the runtime gives every component (DESIGN: "a context per component",
// after Tenzir's operator control plane): its metrics, its health, the stop
// and drain state with a deadline, and resources shared by name within its
// topology generation. A component reaches it as context() from make() on
// (validate builds components too: nothing here opens anything).
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "engine/metrics.hpp"

namespace socstream {

using Clock = std::chrono::steady_clock;

// Resources the components of one topology generation share by key: compiled
// rules that several instances or components use, one set of correlation
// windows for the workers of a component. They live as long as the generation
// (and whatever still holds them), never in a process-wide cache: a hot reload
// must see a rules file as it is now, not as a cache remembers it.
class SharedResources {
 public:
  template <class T>
  std::shared_ptr<T> get_or_make(const std::string& key, const std::function<std::shared_ptr<T>()>& make) {
    using Plain = std::remove_const_t<T>;
    std::lock_guard lk(m_);
    if (auto it = items_.find(key); it != items_.end()) return std::static_pointer_cast<Plain>(it->second);
    auto made = make();
    if (made) items_[key] = std::const_pointer_cast<Plain>(made);
    return made;
  }

 private:
  // Recursive: making one resource may ask for another (a rule set for its correlations).
  std::recursive_mutex m_;
  std::map<std::string, std::shared_ptr<void>> items_;
};

// Models a component serves, for the admin endpoint's model API (docs/api.md):
// what it is, and answers for texts on the caller's thread.
class ModelEndpoint {
 public:
  virtual ~ModelEndpoint() = default;
  // {"name":..,"kind":..,"component":..,"labels":[..],...}: one JSON object.
  virtual std::string describe() const = 0;
  // Label and scores for each text, as a JSON array of objects.
  virtual std::string predict(const std::vector<std::string>& texts) = 0;
  // What drove the verdict on one text (features or tokens), as a JSON object.
  virtual std::string explain(const std::string& text) = 0;
  // Live figures: progressive accuracy, drift, latency, cache, as a JSON object.
  virtual std::string performance() const = 0;
  // Pins a version (or "latest"), with the rules of the component's pin_version;
  // returns an error message, empty when done.
  virtual std::string pin(const std::string& version) = 0;
};

class ComponentContext {
 public:
  ComponentContext(std::string name, std::string kind, std::string type, MetricsRegistry& registry,
                   SharedResources& shared);
  // For components made outside a topology (unit tests): metrics go to a registry nobody scrapes.
  static ComponentContext& detached();
  // The same, with resources shared only by the holders of the pointer (one Settings' components).
  static std::shared_ptr<ComponentContext> detached_for(const std::string& name);

  const std::string& name() const { return name_; }
  const std::string& kind() const { return kind_; }
  const std::string& type() const { return type_; }
  MetricGroup& metrics() { return *metrics_; }
  SharedResources& shared() { return shared_; }

  // Errors a component survives (a failed write it retries, a model error
  // that dead-letters a batch): socstream_component_errors_total{error_type}.
  void error(std::string_view type);

  // Health. A component is ready once open() returned, unless it manages its
  // own readiness (a Kafka source until partitions are assigned, a sink
  // until it is connected): then it says so with set_ready.
  void manage_readiness() { managed_.store(true); }
  void set_ready(bool ready, std::string why = {});
  bool managed_readiness() const { return managed_.load(); }
  std::pair<bool, std::string> readiness() const;

  // The stop state: stopping() once a stop or a reload's drain is asked for;
  // past drain_deadline() whatever is still held will be redelivered anyway,
  // so a component that waits (a sink retrying) may give up.
  bool stopping() const { return stop_ && stop_->load(std::memory_order_relaxed); }
  Clock::time_point drain_deadline() const { return Clock::time_point(Clock::duration(deadline_.load())); }
  bool drain_expired() const { return stopping() && Clock::now() >= drain_deadline(); }

  // Models this component serves, one per instance (the model API finds them
  // here: it answers from the first, and pins every one). Instances open on
  // threads of their own, the API reads from the admin's: under a lock.
  void serve_model(ModelEndpoint* m) {
    std::lock_guard lk(models_m_);
    models_.push_back(m);
  }
  std::vector<ModelEndpoint*> models() const {
    std::lock_guard lk(models_m_);
    return models_;
  }

  // The runtime's side.
  void bind_stop(const std::atomic<bool>* stop) { stop_ = stop; }
  void set_drain_deadline(Clock::time_point t) { deadline_.store(t.time_since_epoch().count()); }

 private:
  std::string name_, kind_, type_;
  std::unique_ptr<SharedResources> own_shared_;
  SharedResources& shared_;
  std::unique_ptr<MetricGroup> metrics_;
  std::mutex m_;
  std::map<std::string, Counter*, std::less<>> errors_;
  std::atomic<bool> managed_{false};
  mutable std::mutex health_m_;
  bool ready_ = false;
  std::string why_;
  const std::atomic<bool>* stop_ = nullptr;
  std::atomic<Clock::rep> deadline_{Clock::time_point::max().time_since_epoch().count()};
  mutable std::mutex models_m_;
  std::vector<ModelEndpoint*> models_;
};

}  // namespace socstream
