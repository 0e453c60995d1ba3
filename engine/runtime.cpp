#include "engine/runtime.hpp"

#include "engine/tap.hpp"

#include <pthread.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cinttypes>
#include <cstdlib>

namespace socstream {

std::string RunStats::summary() const {
  const double rate = seconds > 0 ? read / seconds : 0;
  return fmt::format("socstream: {} events read, {} delivered to sinks, {} dead-lettered in {:.3f} s ({:.0f} events/s){}{}",
                     read, delivered, dead_lettered, seconds, rate,
                     batches_failed ? fmt::format("; {} source batches NOT acknowledged", batches_failed) : "",
                     failed ? "; stopped on error" : "");
}

Runtime::Runtime(Topology& topology) : topo_(topology) {
  const auto& nodes = topo_.nodes;
  channels_.resize(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].kind != Kind::Source)
      channels_[i] = std::make_unique<Channel>(nodes[i].buffer_events, nodes[i].buffer_bytes);

  // One task per instance; remember where each node's tasks start.
  std::vector<size_t> first_task(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    first_task[i] = tasks_.size();
    Node& n = topo_.nodes[i];
    if (n.context) n.context->bind_stop(&stop_);
    MetricGroup* g = nullptr;
    // SOCSTREAM_NO_METRICS=1: the runtime counts nothing per batch (bench/metrics_ab.sh measures what counting costs).
    static const bool counting = !std::getenv("SOCSTREAM_NO_METRICS");
    if (n.context && counting) {
      metrics_.push_back(std::make_unique<MetricGroup>(*topo_.metrics, n.context->metrics().labels()));
      g = metrics_.back().get();
    }
    for (auto& inst : n.instances) {
      auto t = std::make_unique<Task>();
      t->node = &n;
      t->component = inst.get();
      t->out = std::make_unique<Outputs>(&n.name, n.ports, g);
      t->in = channels_[i].get();
      if (g && n.kind != Kind::Source) {
        t->received_events = &g->counter("socstream_component_received_events_total", "Events a component took from its input.");
        t->received_bytes = &g->counter("socstream_component_received_event_bytes_total",
                                        "Bytes of the events a component took from its input (their raw form).");
        t->batch_events = &g->histogram("socstream_component_received_batch_events",
                                        "Events per batch a component took from its input.",
                                        Histogram::exponential(1, 4, 8));
      }
      // Made here, not at start(): status() and snapshot() read it from other threads.
      if (n.kind == Kind::Source) t->source_ctx = std::make_unique<SourceContext>(*t->out, n.name, stop_);
      tasks_.push_back(std::move(t));
    }
    if (!g) continue;
    Channel* ch = channels_[i].get();
    if (ch) {
      g->collect("socstream_component_queued_events", "Events waiting in a component's input channel.", MetricType::Gauge,
                 [ch](std::vector<MetricSample>& out) { out.push_back({{}, static_cast<double>(ch->queued_events())}); });
      g->collect("socstream_component_queued_event_bytes", "Bytes of the events waiting in a component's input channel.",
                 MetricType::Gauge,
                 [ch](std::vector<MetricSample>& out) { out.push_back({{}, static_cast<double>(ch->queued_bytes())}); });
      const double cap = static_cast<double>(n.buffer_events);
      g->collect("socstream_component_buffer_max_events", "Capacity of a component's input channel in events.",
                 MetricType::Gauge, [cap](std::vector<MetricSample>& out) { out.push_back({{}, cap}); });
    }
    const size_t first = first_task[i], count = n.instances.size();
    g->collect("socstream_component_open",
               "1 once every instance of the component has opened, 0 before or after a failure.", MetricType::Gauge,
               [this, first, count](std::vector<MetricSample>& out) {
                 bool open = count > 0;
                 for (size_t k = first; k < first + count; ++k) open = open && tasks_[k]->open.load();
                 out.push_back({{}, open ? 1.0 : 0.0});
               });
    if (n.kind == Kind::Source)
      g->collect("socstream_source_unacknowledged_events", "Events a source read whose batches are not done yet.",
                 MetricType::Gauge, [this, first, count](std::vector<MetricSample>& out) {
                   uint64_t pending = 0;
                   for (size_t k = first; k < first + count; ++k)
                     if (tasks_[k]->source_ctx) pending += tasks_[k]->source_ctx->events_pending.load();
                   out.push_back({{}, static_cast<double>(pending)});
                 });
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& in : nodes[i].inputs) {
      const Node& up = nodes[in.node];
      for (size_t k = 0; k < up.instances.size(); ++k) {
        tasks_[first_task[in.node] + k]->out->connect(in.port, channels_[i].get());
        channels_[i]->add_producer();
      }
    }
  }
}

Runtime::~Runtime() {
  if (!waited_ && !tasks_.empty() && tasks_.front()->thread.joinable()) {
    request_stop();
    wait();
  }
  // The collectors read the tasks: they go first.
  metrics_.clear();
}

void Runtime::start() {
  started_ = std::chrono::steady_clock::now();
  live_ = tasks_.size();
  for (auto& t : tasks_) {
    Task* task = t.get();
    if (task->node->kind == Kind::Source) {
      task->thread = std::thread([this, task] { run_source(*task); });
    } else {
      task->thread = std::thread([this, task] { run_processor(*task); });
    }
  }
}

void Runtime::request_stop() { request_stop(topo_.shutdown_timeout); }

void Runtime::request_stop(std::chrono::steady_clock::duration drain_for, const std::vector<std::string>& successors) {
  const auto deadline = std::chrono::steady_clock::now() + drain_for;
  for (auto& t : tasks_)
    if (t->source_ctx && std::find(successors.begin(), successors.end(), t->node->name) != successors.end())
      t->source_ctx->hand_over();
  for (auto& n : topo_.nodes)
    if (n.context) n.context->set_drain_deadline(deadline);
  stop_.store(true);
}

void Runtime::task_ended() {
  std::lock_guard lk(done_m_);
  if (live_ > 0 && --live_ == 0) done_cv_.notify_all();
}

bool Runtime::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lk(done_m_);
  return done_cv_.wait_for(lk, timeout, [&] { return live_ == 0; });
}

bool Runtime::attach_tap(const std::string& component, const std::string& port, Tap* tap) {
  bool found = false;
  for (auto& t : tasks_) {
    if (t->node->name != component) continue;
    const size_t p = t->out->port_index(port);
    if (p == Outputs::npos) return false;
    auto& port = *t->out->ports()[p];
    std::lock_guard lk(port.tap_m);
    port.tap.store(tap, std::memory_order_release);
    found = true;
  }
  return found;
}

void Runtime::detach_tap(Tap* tap) {
  for (auto& t : tasks_)
    for (auto& p : t->out->ports()) {
      std::lock_guard lk(p->tap_m);
      if (p->tap.load() == tap) p->tap.store(nullptr);
    }
}

std::vector<std::pair<std::string, uint64_t>> Runtime::pending() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& t : tasks_)
    if (t->node->kind == Kind::Source && t->source_ctx) out.emplace_back(t->node->name, t->source_ctx->events_pending.load());
  return out;
}

void Runtime::fail(const Task& t, const std::string& what) {
  spdlog::error("{} '{}' failed: {}", kind_name(t.node->kind), t.node->name, what);
  failed_.store(true);
  request_stop();
}

namespace {
// Threads carry their component's name (top -H, perf, gdb show it); Linux keeps 15 bytes.
void name_thread(const std::string& name) { pthread_setname_np(pthread_self(), name.substr(0, 15).c_str()); }
}  // namespace

void Runtime::run_source(Task& t) {
  name_thread(t.node->name);
  try {
    t.component->open();
    t.open.store(true);
    static_cast<Source*>(t.component)->run(*t.source_ctx);
  } catch (const std::exception& e) {
    t.open.store(false);
    fail(t, e.what());
  }
  t.out->close();
  task_ended();
}

void Runtime::run_processor(Task& t) {
  name_thread(t.node->name);
  auto* p = static_cast<Processor*>(t.component);
  try {
    p->open();
    t.open.store(true);
    Batch b;
    for (;;) {
      auto deadline = p->next_deadline();
      auto r = t.in->pop(b, deadline);
      if (r == Channel::Pop::Item) {
        t.events_in.fetch_add(b.size(), std::memory_order_relaxed);
        if (t.received_events) {
          t.received_events->inc(b.size());
          t.received_bytes->inc(b.bytes());
          t.batch_events->observe(static_cast<double>(b.size()));
        }
        p->process(std::move(b), *t.out);
        b = Batch{};
      } else if (r == Channel::Pop::Timeout) {
        p->on_deadline(*t.out);
      } else {
        p->finish(*t.out);
        break;
      }
    }
  } catch (const std::exception& e) {
    // Nothing this task held is acknowledged; upstream must not block on it.
    t.open.store(false);
    t.in->abandon();
    fail(t, e.what());
  }
  t.out->close();
  task_ended();
}

RunStats Runtime::wait() {
  for (auto& t : tasks_)
    if (t->thread.joinable()) t->thread.join();
  waited_ = true;
  stats_ = snapshot();
  return stats_;
}

std::vector<Runtime::ComponentStatus> Runtime::status() const {
  std::vector<ComponentStatus> out;
  for (size_t i = 0; i < topo_.nodes.size(); ++i) {
    const Node& n = topo_.nodes[i];
    ComponentStatus c;
    c.name = n.name;
    c.kind = n.kind;
    if (channels_[i]) c.queued = channels_[i]->queued_events();
    for (const auto& t : tasks_) {
      if (t->node != &n) continue;
      c.open = c.open && t->open.load();
      c.ready = c.open;
      c.received += t->events_in.load();
      if (t->source_ctx) c.pending += t->source_ctx->events_pending.load();
      const auto& ports = t->out->ports();
      if (c.sent.empty())
        for (const auto& p : ports) c.sent.emplace_back(p->name, 0);
      for (size_t k = 0; k < ports.size() && k < c.sent.size(); ++k) c.sent[k].second += ports[k]->events.load();
    }
    if (c.open && n.context && n.context->managed_readiness()) {
      auto [ready, why] = n.context->readiness();
      c.ready = ready;
      c.why = why;
    }
    if (!c.open) c.ready = false;
    out.push_back(std::move(c));
  }
  return out;
}

double Runtime::uptime_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

RunStats Runtime::snapshot() const {
  RunStats s;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  for (auto& t : tasks_) {
    if (t->node->kind == Kind::Source) {
      for (auto& p : t->out->ports()) s.read += p->events.load();
      s.batches_completed += t->source_ctx->batches_completed.load();
      s.batches_failed += t->source_ctx->batches_failed.load();
      s.pending += t->source_ctx->events_pending.load();
      if (uint64_t n = t->source_ctx->events_pending.load() + t->source_ctx->events_failed.load())
        s.unacknowledged.emplace_back(t->node->name, n);
    }
    if (t->node->kind == Kind::Sink) s.delivered += t->events_in.load();
    s.dead_lettered += t->out->dead_lettered();
  }
  s.failed = failed_.load();
  return s;
}

Channel* Runtime::input_of(const std::string& node) const {
  for (size_t i = 0; i < topo_.nodes.size(); ++i)
    if (topo_.nodes[i].name == node) return channels_[i].get();
  return nullptr;
}

size_t Runtime::max_queued_events() const {
  size_t m = 0;
  for (const auto& c : channels_)
    if (c) m += c->high_water_events();
  return m;
}

}  // namespace socstream
