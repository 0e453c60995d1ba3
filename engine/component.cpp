#include "engine/component.hpp"

#include "engine/tap.hpp"

#include <spdlog/spdlog.h>

#include <thread>

namespace socstream {

Outputs::Outputs(const std::string* component, std::vector<std::string> port_names, MetricGroup* metrics)
    : component_(component), metrics_(metrics) {
  for (auto& n : port_names) {
    if (n == "dlq") dlq_ = ports_.size();
    auto p = std::make_unique<Port>();
    p->name = std::move(n);
    if (metrics_) {
      const Labels output{{"output", p->name.empty() ? "default" : p->name}};
      p->sent_events = &metrics_->counter("socstream_component_sent_events_total",
                                          "Events a component sent, per output port (dlq: dead letters).", output);
      p->sent_bytes = &metrics_->counter("socstream_component_sent_event_bytes_total",
                                         "Bytes of the events a component sent (their raw form), per output port.", output);
    }
    ports_.push_back(std::move(p));
  }
}

void Outputs::count_dead_letters(const Batch& b) {
  for (const auto& e : b.events) {
    const std::string_view reason = e.error.empty() ? std::string_view("unknown") : e.error;
    Counter* c = nullptr;
    for (auto& [r, counter] : reasons_)
      if (r == reason) c = counter;
    if (!c) {
      // A reason is a code from the component's own list; past 64 distinct ones
      // something names them from data, which must not grow the series.
      const std::string key = reasons_.size() < 64 ? std::string(reason) : "other";
      c = &metrics_->counter("socstream_component_dead_letters_total", "Events a component dead-lettered, by reason.",
                             {{"reason", key}});
      if (reasons_.size() < 64) reasons_.emplace_back(key, c);
    }
    c->inc();
  }
}

size_t Outputs::port_index(std::string_view name) const {
  for (size_t i = 0; i < ports_.size(); ++i)
    if (ports_[i]->name == name) return i;
  return npos;
}

void Outputs::emit(size_t port, Batch&& batch, const std::function<void()>& while_blocked,
                   std::chrono::milliseconds every) {
  if (batch.empty()) return;
  Port& p = *ports_[port];
  p.events.fetch_add(batch.size(), std::memory_order_relaxed);
  if (p.sent_events) {
    p.sent_events->inc(batch.size());
    p.sent_bytes->inc(batch.bytes());
    if (port == dlq_) count_dead_letters(batch);
  }
  if (p.tap.load(std::memory_order_acquire)) {
    std::lock_guard lk(p.tap_m);
    if (Tap* tap = p.tap.load(std::memory_order_relaxed)) tap->offer(*component_, p.name, batch);
  }
  if (p.consumers.empty()) {
    if (port == dlq_) log_unread_dead_letters(batch);
    batch.complete_all();
    return;
  }
  auto push = [&](Channel* ch, Batch&& b) {
    if (!while_blocked) {
      ch->push(std::move(b));
      return;
    }
    while (!ch->try_push_until(b, Clock::now() + every)) while_blocked();
  };
  for (size_t i = 0; i + 1 < p.consumers.size(); ++i) push(p.consumers[i], batch.share());
  push(p.consumers.back(), std::move(batch));
}

void Outputs::dead_letter(Batch&& batch) {
  // A dead letter is its raw bytes and the reason, as reject() leaves it: no
  // fields a downstream key or id could be read from by accident (validate's
  // field-flow check relies on it).
  for (auto& e : batch.events) {
    if (!e.error_component) e.error_component = component_;
    e.fields.clear();
  }
  emit(dlq_, std::move(batch));
}

void Outputs::reject(Batch& into, Event&& e, std::string_view reason, std::string_view detail) {
  e.error = reason;
  e.error_detail = detail;
  e.error_component = component_;
  e.fields.clear();
  into.events.push_back(std::move(e));
}

void Outputs::log_unread_dead_letters(const Batch& b) {
  // At most one line a second per component, so bad input cannot flood the log.
  auto now = Clock::now();
  if (now < next_log_) {
    unlogged_ += b.size();
    return;
  }
  const Event& e = b.events.front();
  spdlog::warn("{}: dead-lettered {} event(s) with no dlq consumer{}; first: {} ({}) at {}:{}:{}", *component_,
               b.size() + unlogged_, unlogged_ ? " (incl. earlier unlogged)" : "", e.error, e.error_detail,
               e.pos.source ? *e.pos.source : "?", e.pos.partition, e.pos.offset);
  unlogged_ = 0;
  next_log_ = now + std::chrono::seconds(1);
}

void Outputs::close() {
  for (auto& p : ports_)
    for (Channel* c : p->consumers) c->producer_done();
}

bool SourceContext::sleep_for(std::chrono::milliseconds d) const {
  auto until = Clock::now() + d;
  while (!stopping()) {
    auto now = Clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<Clock::duration>(until - now, std::chrono::milliseconds(20)));
  }
  return false;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Source: return "source";
    case Kind::Operator: return "operator";
    case Kind::Sink: return "sink";
  }
  return "?";
}

const char* section_name(Kind k) {
  switch (k) {
    case Kind::Source: return "sources";
    case Kind::Operator: return "operators";
    case Kind::Sink: return "sinks";
  }
  return "?";
}

Registry& Registry::global() {
  static Registry r;
  return r;
}

void Registry::add(ComponentSpec spec) { specs_.push_back(std::move(spec)); }

const ComponentSpec* Registry::find(Kind kind, std::string_view type) const {
  for (const auto& s : specs_)
    if (s.kind == kind && s.type == type) return &s;
  return nullptr;
}

std::vector<std::string> Registry::types(Kind kind) const {
  std::vector<std::string> out;
  for (const auto& s : specs_)
    if (s.kind == kind) out.push_back(s.type);
  return out;
}

}  // namespace socstream
