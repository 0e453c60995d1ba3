#include "engine/runtime.hpp"

#include <pthread.h>

#include <spdlog/spdlog.h>

#include <cinttypes>

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
    for (auto& inst : n.instances) {
      auto t = std::make_unique<Task>();
      t->node = &n;
      t->component = inst.get();
      t->out = std::make_unique<Outputs>(&n.name, n.ports);
      t->in = channels_[i].get();
      tasks_.push_back(std::move(t));
    }
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
}

void Runtime::start() {
  started_ = std::chrono::steady_clock::now();
  for (auto& t : tasks_) {
    Task* task = t.get();
    if (task->node->kind == Kind::Source) {
      task->source_ctx = std::make_unique<SourceContext>(*task->out, task->node->name, stop_);
      task->thread = std::thread([this, task] { run_source(*task); });
    } else {
      task->thread = std::thread([this, task] { run_processor(*task); });
    }
  }
}

void Runtime::request_stop() { stop_.store(true); }

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
      c.received += t->events_in.load();
      if (t->source_ctx) c.pending += t->source_ctx->events_pending.load();
      const auto& ports = t->out->ports();
      if (c.sent.empty())
        for (const auto& p : ports) c.sent.emplace_back(p->name, 0);
      for (size_t k = 0; k < ports.size() && k < c.sent.size(); ++k) c.sent[k].second += ports[k]->events.load();
    }
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
