#pragma once
// A topology run as a service: one generation (a loaded topology and its
// runtime) at a time, replaced on a hot reload without losing or doubling an
// event. SIGHUP, --watch and POST /api/reload all take reload():
//   1. the file is loaded and checked while the old generation runs; if it
//      has errors, the old one goes on and each error is logged as
//      file:line:col (socstream_reloads_failed_total);
//   2. the old generation drains: its sources stop reading, everything in
//      flight completes and is acknowledged (Kafka commits it), learning
//      state is snapshotted by the components that keep snapshots;
//   3. each component of the new generation whose name and type the old one
//      had receives that one's state (Component::save_state/restore_state:
//      online models, remembered alerts, correlation windows), changed or not;
//   4. the new generation starts; Kafka sources resume from the committed offsets.
// Nothing is in flight across the swap, which is what makes it lossless: the
// events of the old generation point at its rules and names, and they are all
// complete before it is destroyed.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/metrics.hpp"
#include "engine/runtime.hpp"
#include "engine/topology.hpp"

namespace socstream {

struct ServiceOptions {
  std::filesystem::path file;
  // Poll the topology file and the configuration it names; reload when they change.
  bool watch = false;
  std::chrono::milliseconds watch_interval{1000};
};

// What a running service is made of at one moment: held by whoever reads it
// (the admin endpoint) for as long as it reads, so a reload cannot pull it away.
struct Generation {
  uint64_t number = 0;
  std::unique_ptr<Topology> topology;
  std::unique_ptr<Runtime> runtime;
  ~Generation();
};

struct ReloadResult {
  bool ok = false;
  std::vector<std::string> errors;  // file:line:col: error: ...
  std::string summary;              // what changed
  uint64_t generation = 0;          // the generation running afterwards
};

class Service {
 public:
  explicit Service(ServiceOptions options);
  ~Service();
  Service(const Service&) = delete;

  // Loads the first generation; nullopt on success, else the diagnostics.
  std::optional<Diagnostics> load();
  // The warnings of the first load (a field nothing upstream gives).
  const Diagnostics& load_diagnostics() const { return first_diag_; }
  const Topology& topology() const { return *current()->topology; }

  // Starts the first generation and runs until its sources end, a component
  // fails or a stop; reloads in between as asked. Returns the figures summed
  // over every generation.
  RunStats run();
  // A graceful stop: the generation running drains.
  void request_stop();
  // Asks for a reload and waits for its outcome. Thread-safe; reloads are
  // done one at a time, in order, on run()'s thread.
  ReloadResult reload(const std::string& why);
  // As reload, without waiting (a signal handler's thread).
  void request_reload(const std::string& why);

  std::shared_ptr<Generation> current() const;
  // Destroys the last generation (after run()), while the process is still whole.
  void release();
  MetricsRegistry& metrics() { return metrics_; }
  double uptime_seconds() const;
  // Per source of the running generation, the events not acknowledged yet.
  std::vector<std::pair<std::string, uint64_t>> pending() const;
  RunStats snapshot() const;

 private:
  struct Request {
    std::string why;
    std::optional<ReloadResult> result;
  };
  ReloadResult do_reload(const std::string& why);
  void start_watch();
  // The topology file and every configuration file its components read: as they were read, or as they are now.
  std::string fingerprint(const Topology& t, bool as_loaded) const;

  ServiceOptions options_;
  MetricsRegistry metrics_;
  std::unique_ptr<MetricGroup> own_metrics_;
  Counter* reloads_ = nullptr;
  Counter* reloads_failed_ = nullptr;
  Gauge* generation_gauge_ = nullptr;
  Gauge* last_reload_ok_ = nullptr;
  Gauge* last_reload_time_ = nullptr;
  Diagnostics first_diag_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

  mutable std::mutex m_;
  std::condition_variable cv_;
  std::shared_ptr<Generation> current_;
  std::vector<std::shared_ptr<Request>> requests_;
  bool stop_ = false;
  bool finished_ = false;  // run() has answered its last requests
  RunStats done_;  // the figures of generations already replaced
  uint64_t next_generation_ = 1;

  std::thread watcher_;
  std::atomic<bool> watching_{false};
};

}  // namespace socstream
