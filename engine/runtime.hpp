#pragma once
// Runs a topology: one thread per component instance, joined by bounded
// channels. Shutdown is a drain: sources stop, each channel closes when its
// producers are done, and every processor finishes what it holds.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/topology.hpp"

namespace socstream {

struct RunStats {
  uint64_t read = 0;           // events emitted by sources
  uint64_t delivered = 0;      // events received by sinks
  uint64_t dead_lettered = 0;  // events sent to any dlq port
  uint64_t batches_completed = 0;
  uint64_t batches_failed = 0;  // source batches with an abandoned event: not acknowledged
  uint64_t pending = 0;         // events read whose batches are not done yet
  double seconds = 0;
  bool failed = false;  // a component stopped with an error
  // Per source, events not acknowledged (failed or still pending): what a source that commits reads again.
  std::vector<std::pair<std::string, uint64_t>> unacknowledged;
  std::string summary() const;
};

class Runtime {
 public:
  explicit Runtime(Topology& topology);
  ~Runtime();
  Runtime(const Runtime&) = delete;

  void start();
  // Graceful stop: sources stop reading and everything in flight drains.
  // Components may give up waiting (a sink retrying) after `drain_for`.
  void request_stop();
  // `successors`: a hot reload's stop; the sources named there hand their
  // streams over to a source of the same name and type in the next topology.
  void request_stop(std::chrono::steady_clock::duration drain_for, const std::vector<std::string>& successors = {});
  // Whether every task has ended, waiting up to `timeout` for it.
  bool wait_for(std::chrono::milliseconds timeout);
  // The figures so far, while it runs (the counters are read without stopping anything).
  RunStats snapshot() const;
  // Per source, the events read whose batches are not acknowledged yet.
  std::vector<std::pair<std::string, uint64_t>> pending() const;

  // One component (its instances summed) as the admin endpoint shows it.
  struct ComponentStatus {
    std::string name;
    Kind kind;
    bool open = true;        // every instance has opened (and none has failed)
    bool ready = true;       // open, and ready by its own account (partitions assigned, connected)
    std::string why;         // what it is waiting for, when it says
    uint64_t received = 0;   // events taken from its input
    std::vector<std::pair<std::string, uint64_t>> sent;  // per port ("" the default)
    uint64_t queued = 0;     // events waiting in its input channel
    uint64_t pending = 0;    // sources: events read, not yet acknowledged
  };
  std::vector<ComponentStatus> status() const;
  double uptime_seconds() const;
  // Joins every task. Returns the run's figures.
  RunStats wait();

  // Attaches a tap to a component's port (every instance); false if there is
  // no such port. detach_tap before the tap goes.
  bool attach_tap(const std::string& component, const std::string& port, Tap* tap);
  void detach_tap(Tap* tap);

  const Topology& topology() const { return topo_; }
  // Takes this runtime's series out of scrapes, their counts carried over (a reload's swap).
  void retire_metrics() {
    for (auto& g : metrics_) g->retire();
  }

  // For tests: the input channel of a node, and a source's context.
  Channel* input_of(const std::string& node) const;
  size_t max_queued_events() const;

 private:
  struct Task {
    Node* node = nullptr;
    Component* component = nullptr;
    std::unique_ptr<Outputs> out;
    Channel* in = nullptr;
    std::unique_ptr<SourceContext> source_ctx;
    std::atomic<uint64_t> events_in{0};
    std::atomic<bool> open{false};  // open() returned, and the task has not failed
    std::thread thread;
    Counter* received_events = nullptr;
    Counter* received_bytes = nullptr;
    Histogram* batch_events = nullptr;
  };
  void task_ended();
  void run_source(Task& t);
  void run_processor(Task& t);
  void fail(const Task& t, const std::string& what);

  Topology& topo_;
  std::vector<std::unique_ptr<Channel>> channels_;  // per node; null for sources
  std::vector<std::unique_ptr<Task>> tasks_;
  // The series only a running topology has (channel fill, open state), per
  // node: they go with the runtime, before the topology they read.
  std::vector<std::unique_ptr<MetricGroup>> metrics_;
  std::mutex done_m_;
  std::condition_variable done_cv_;
  size_t live_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::chrono::steady_clock::time_point started_;
  bool waited_ = false;
  RunStats stats_;
};

}  // namespace socstream
