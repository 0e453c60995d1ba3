#include "engine/service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>


namespace socstream {

namespace fs = std::filesystem;

Generation::~Generation() {
  // Out of scrapes first (a scrape in progress finishes before retire
  // returns): collectors read the components about to go.
  if (runtime) runtime->retire_metrics();
  if (topology) topology->retire_metrics();
  // The runtime's threads and series read the topology: it goes first.
  runtime.reset();
  topology.reset();
}

Service::Service(ServiceOptions options) : options_(std::move(options)) {
  own_metrics_ = std::make_unique<MetricGroup>(metrics_, Labels{});
  auto& g = *own_metrics_;
  reloads_ = &g.counter("socstream_reloads_total", "Hot reloads that replaced the running topology.");
  reloads_failed_ = &g.counter("socstream_reloads_failed_total",
                               "Hot reloads refused (the new topology has errors): the running one went on.");
  generation_gauge_ = &g.gauge("socstream_topology_generation", "Which topology is running: 1 at start, +1 per reload.");
  last_reload_ok_ = &g.gauge("socstream_config_last_reload_successful", "1 if the last reload succeeded (or none was tried).");
  last_reload_time_ = &g.gauge("socstream_config_last_reload_success_timestamp_seconds",
                               "Unix time of the last successful load or reload.");
  last_reload_ok_->set(1);
  g.collect("socstream_uptime_seconds", "Seconds since the service started.", MetricType::Gauge,
            [this](std::vector<MetricSample>& out) { out.push_back({{}, uptime_seconds()}); });
}

Service::~Service() {
  watching_.store(false);
  if (watcher_.joinable()) watcher_.join();
  // The generation's groups belong to metrics_: they go before it.
  current_.reset();
  own_metrics_.reset();
}

double Service::uptime_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

std::optional<Diagnostics> Service::load() {
  Diagnostics diag;
  LoadOptions opts;
  opts.metrics = &metrics_;
  auto topo = load_topology(options_.file, diag, opts);
  if (!topo) return diag;
  auto gen = std::make_shared<Generation>();
  gen->number = next_generation_++;
  gen->topology = std::move(topo);
  // Whole before it is published: the admin's threads read it from then on.
  gen->runtime = std::make_unique<Runtime>(*gen->topology);
  first_diag_ = std::move(diag);
  generation_gauge_->set(static_cast<double>(gen->number));
  last_reload_time_->set(static_cast<double>(std::time(nullptr)));
  std::lock_guard lk(m_);
  current_ = std::move(gen);
  return std::nullopt;
}

void Service::release() {
  std::shared_ptr<Generation> g;
  {
    std::lock_guard lk(m_);
    g = std::move(current_);
  }
}

std::shared_ptr<Generation> Service::current() const {
  std::lock_guard lk(m_);
  return current_;
}

std::vector<std::pair<std::string, uint64_t>> Service::pending() const {
  auto g = current();
  if (!g || !g->runtime) return {};
  return g->runtime->pending();
}

namespace {

void add(RunStats& into, const RunStats& s) {
  into.read += s.read;
  into.delivered += s.delivered;
  into.dead_lettered += s.dead_lettered;
  into.batches_completed += s.batches_completed;
  into.batches_failed += s.batches_failed;
  into.pending += s.pending;
  into.seconds += s.seconds;
  into.failed = into.failed || s.failed;
  for (const auto& u : s.unacknowledged) {
    const auto& [source, n] = u;
    auto it = std::find_if(into.unacknowledged.begin(), into.unacknowledged.end(),
                           [&u](const auto& x) { return x.first == u.first; });
    if (it == into.unacknowledged.end())
      into.unacknowledged.emplace_back(source, n);
    else
      it->second += n;
  }
}

}  // namespace

RunStats Service::snapshot() const {
  RunStats s;
  {
    std::lock_guard lk(m_);
    s = done_;
  }
  if (auto g = current(); g && g->runtime) add(s, g->runtime->snapshot());
  return s;
}

void Service::request_stop() {
  std::shared_ptr<Generation> g;
  {
    std::lock_guard lk(m_);
    stop_ = true;
    g = current_;
  }
  cv_.notify_all();
  if (g && g->runtime) g->runtime->request_stop();
}

void Service::request_reload(const std::string& why) {
  {
    std::lock_guard lk(m_);
    if (finished_) return;
    requests_.push_back(std::make_shared<Request>(Request{why, std::nullopt}));
  }
  cv_.notify_all();
}

ReloadResult Service::reload(const std::string& why) {
  auto r = std::make_shared<Request>(Request{why, std::nullopt});
  std::unique_lock lk(m_);
  // run() has answered its last requests: nobody would answer this one.
  if (finished_) return ReloadResult{false, {"the topology has ended"}, {}, current_ ? current_->number : 0};
  requests_.push_back(r);
  cv_.notify_all();
  cv_.wait(lk, [&] { return r->result.has_value(); });
  return *r->result;
}

RunStats Service::run() {
  auto gen = current();
  gen->runtime->start();
  {
    // A stop asked before the runtime ran (a signal during start-up) reached no runtime yet.
    std::lock_guard lk(m_);
    if (stop_) gen->runtime->request_stop();
  }
  if (options_.watch) start_watch();
  bool stopping = false;
  for (;;) {
    gen = current();
    if (gen->runtime->wait_for(std::chrono::milliseconds(100))) break;
    std::vector<std::shared_ptr<Request>> requests;
    {
      std::lock_guard lk(m_);
      requests.swap(requests_);
      stopping = stopping || stop_;
    }
    for (auto& r : requests) {
      ReloadResult res;
      if (stopping) {
        res.errors.push_back("the service is stopping");
        res.generation = gen->number;
      } else {
        try {
          res = do_reload(r->why);
        } catch (const std::exception& e) {
          // The caller waits for an answer whatever happened.
          spdlog::error("reload ({}) failed: {}", r->why, e.what());
          res.errors.push_back(e.what());
          res.generation = current()->number;
        }
      }
      {
        std::lock_guard lk(m_);
        r->result = std::move(res);
      }
      cv_.notify_all();
    }
  }
  watching_.store(false);
  if (watcher_.joinable()) watcher_.join();
  RunStats last = gen->runtime->wait();
  std::vector<std::shared_ptr<Request>> left;
  {
    std::lock_guard lk(m_);
    finished_ = true;
    left.swap(requests_);
    for (auto& r : left) r->result = ReloadResult{false, {"the topology has ended"}, {}, gen->number};
    add(done_, last);
    last = done_;
  }
  cv_.notify_all();
  return last;
}

ReloadResult Service::do_reload(const std::string& why) {
  const auto t0 = std::chrono::steady_clock::now();
  auto old = current();
  ReloadResult res;
  res.generation = old->number;
  spdlog::info("reload ({}): loading {}", why, options_.file.string());
  Diagnostics diag;
  LoadOptions opts;
  opts.metrics = &metrics_;
  opts.hidden_metrics = true;
  auto next = load_topology(options_.file, diag, opts);
  if (!next) {
    reloads_failed_->inc();
    last_reload_ok_->set(0);
    for (const auto& d : diag.list()) {
      spdlog::error("reload: {}", d.str());
      res.errors.push_back(d.str());
    }
    spdlog::error("reload ({}) refused: {} error(s); generation {} goes on unchanged", why, diag.count(), old->number);
    return res;
  }
  for (const auto& w : diag.warnings()) spdlog::warn("reload: {}", w.str());

  // What changed, for the log and the caller: every component is rebuilt (its
  // files are read as they are now); state goes over by name either way.
  std::vector<std::string> changed, added, removed;
  size_t unchanged = 0;
  for (const auto& n : next->nodes) {
    const Node* o = old->topology->find(n.name);
    if (!o || o->kind != n.kind || o->spec != n.spec) {
      added.push_back(n.name);
      continue;
    }
    if (o->body == n.body && o->config_files == n.config_files)
      ++unchanged;
    else
      changed.push_back(n.name);
  }
  for (const auto& o : old->topology->nodes)
    if (!next->find(o.name)) removed.push_back(o.name);
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? std::string() : " (" + s + ")";
  };
  res.summary = fmt::format("{} changed{}, {} added{}, {} removed{}, {} unchanged", changed.size(), list(changed),
                            added.size(), list(added), removed.size(), list(removed), unchanged);
  if (next->admin.address != old->topology->admin.address || next->admin.token_env != old->topology->admin.token_env)
    spdlog::warn("reload: the admin endpoint's settings changed; they take effect at the next start");

  // Drain: nothing of the old generation may be in flight when it goes.
  spdlog::info("reload ({}): {}; draining generation {}", why, res.summary, old->number);
  // Within shutdown_timeout_s, as a stop: a sink that cannot deliver (a
  // reload that fixes its address) must not hold the reload. What it gives up
  // is not acknowledged, so the next generation reads it again: a Kafka
  // source from the commits, a file source from the first line not
  // acknowledged; only stdin cannot, and says how many it lost.
  // A source hands its stream over only to a successor (stdin's half-read
  // line would otherwise be kept for nobody).
  std::vector<std::string> successors;
  for (const auto& n : next->nodes)
    if (const Node* o = old->topology->find(n.name); o && o->kind == Kind::Source && o->spec == n.spec)
      successors.push_back(n.name);
  old->runtime->request_stop(old->topology->shutdown_timeout, successors);
  RunStats drained = old->runtime->wait();
  if (drained.batches_failed)
    spdlog::warn("reload: {} source batches of generation {} were not acknowledged; their sources deliver them again",
                 drained.batches_failed, old->number);
  {
    // A stop came during the drain: nothing new starts; run() ends with the old generation.
    std::lock_guard lk(m_);
    if (stop_) {
      res.errors.push_back("the service is stopping");
      return res;
    }
  }

  // Hand over what the old components learnt, to the new ones of the same name and type.
  for (auto& n : next->nodes) {
    const Node* o = old->topology->find(n.name);
    if (!o || o->kind != n.kind || o->spec != n.spec) continue;
    for (size_t k = 0; k < n.instances.size() && k < o->instances.size(); ++k) {
      std::string state = o->instances[k]->save_state();
      if (state.empty()) continue;
      spdlog::info("reload: {}: handing over {} bytes of state", n.name, state.size());
      n.instances[k]->restore_state(state);
    }
  }

  // The old components' series go (their counts carry over), the new ones
  // show; whoever still holds the old generation (a tap) can no longer make a
  // series appear twice. The new generation is whole before it is published.
  old->runtime->retire_metrics();
  old->topology->retire_metrics();
  auto gen = std::make_shared<Generation>();
  gen->number = next_generation_++;
  gen->topology = std::move(next);
  gen->topology->show_metrics();
  gen->runtime = std::make_unique<Runtime>(*gen->topology);
  {
    // What the old generation left unacknowledged is the new one's to read
    // again (its sources resume from the commits): not a failure of the run.
    drained.batches_failed = 0;
    drained.unacknowledged.clear();
    std::lock_guard lk(m_);
    add(done_, drained);
    current_ = gen;
  }
  old.reset();
  gen->runtime->start();
  {
    std::lock_guard lk(m_);
    if (stop_) gen->runtime->request_stop();
  }
  reloads_->inc();
  last_reload_ok_->set(1);
  last_reload_time_->set(static_cast<double>(std::time(nullptr)));
  generation_gauge_->set(static_cast<double>(gen->number));
  res.ok = true;
  res.generation = gen->number;
  spdlog::info("reload ({}): generation {} running, {:.2f} s after the request", why, gen->number,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return res;
}

std::string Service::fingerprint(const Topology& t, bool as_loaded) const {
  std::string all = as_loaded ? t.file_fingerprint : path_fingerprint(t.file);
  for (const auto& n : t.nodes)
    for (const auto& [file, at_load] : n.config_files) all += as_loaded ? at_load : path_fingerprint(file);
  return all;
}

void Service::start_watch() {
  watching_.store(true);
  watcher_ = std::thread([this] {
    uint64_t seen_generation = 0;
    std::string last;
    while (watching_.load()) {
      std::this_thread::sleep_for(options_.watch_interval);
      auto gen = current();
      if (gen->number != seen_generation) {
        // A new generation: what it was made of, as it read it, is the baseline
        // (a change made while it started is a change).
        seen_generation = gen->number;
        last = fingerprint(*gen->topology, true);
      }
      std::string now = fingerprint(*gen->topology, false);
      if (now == last) continue;
      // Editors write in steps (truncate, write, rename): wait until it holds still.
      std::this_thread::sleep_for(options_.watch_interval);
      if (!watching_.load()) break;
      std::string again = fingerprint(*gen->topology, false);
      if (again != now) continue;
      last = std::move(again);
      request_reload("--watch: the topology or a file it names changed");
    }
  });
}

}  // namespace socstream
