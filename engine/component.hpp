#pragma once
// The three kinds of component and what the runtime gives them. Operators and
// sinks share one shape (batches in, batches out on named ports); a sink is the
// component that finally completes events once they are delivered.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/channel.hpp"
#include "engine/config.hpp"
#include "engine/context.hpp"
#include "engine/event.hpp"

namespace socstream {

class Tap;  // engine/tap.hpp

// The output ports of one component instance, wired by the runtime.
class Outputs {
 public:
  struct Port {
    std::string name;  // "" is the default port, addressed by the component's bare name
    std::vector<Channel*> consumers;
    std::atomic<uint64_t> events{0};
    // Shared by the component's instances; null outside a runtime.
    Counter* sent_events = nullptr;
    Counter* sent_bytes = nullptr;
    // A live sample for `socstream tap` (engine/tap.hpp); null almost always.
    // Used under tap_m, which detaching takes too: once detached, no producer
    // is inside the tap, which may then go.
    std::atomic<Tap*> tap{nullptr};
    std::mutex tap_m;
  };

  // With `metrics`, events and bytes sent per port and dead letters by reason
  // are counted there (the runtime's group for the component).
  Outputs(const std::string* component, std::vector<std::string> port_names, MetricGroup* metrics = nullptr);
  Outputs(const Outputs&) = delete;

  // Sends a batch on a port. With no consumer the events are finished here:
  // completed (dropped on purpose), and on the dlq port also counted and logged.
  void emit(size_t port, Batch&& batch) { emit(port, std::move(batch), nullptr); }
  // As emit, but while a consumer's channel is full, calls while_blocked about
  // every `every` (a Kafka source pauses its partitions and keeps polling there).
  void emit(size_t port, Batch&& batch, const std::function<void()>& while_blocked,
            std::chrono::milliseconds every = std::chrono::milliseconds(100));
  // Marks every event as rejected by this component and emits it on the dlq port.
  void dead_letter(Batch&& batch);
  // Moves one event into a dlq batch under construction, marked with the reason.
  void reject(Batch& dlq_batch, Event&& e, std::string_view reason, std::string_view detail);

  size_t port_index(std::string_view name) const;  // npos if absent
  size_t dlq_port() const { return dlq_; }
  const std::string& component() const { return *component_; }
  std::vector<std::unique_ptr<Port>>& ports() { return ports_; }
  const std::vector<std::unique_ptr<Port>>& ports() const { return ports_; }

  void connect(size_t port, Channel* ch) { ports_[port]->consumers.push_back(ch); }
  // Tells every consumer that this producer is finished.
  void close();

  uint64_t dead_lettered() const { return dlq_ == npos ? 0 : ports_[dlq_]->events.load(); }
  static constexpr size_t npos = static_cast<size_t>(-1);

 private:
  void log_unread_dead_letters(const Batch& b);

  void count_dead_letters(const Batch& b);

  const std::string* component_;
  std::vector<std::unique_ptr<Port>> ports_;
  size_t dlq_ = npos;
  MetricGroup* metrics_ = nullptr;
  // Reasons are a component's own codes, a few each: a short list beats a map.
  std::vector<std::pair<std::string, Counter*>> reasons_;
  Clock::time_point next_log_{};
  uint64_t unlogged_ = 0;
};

// A field a component reads, where the topology names it, and what for ("the
// field to score"): `validate` warns when nothing upstream can give it.
struct FieldRead {
  std::string name;
  Location where;
  std::string role;
  bool or_own = false;  // may be one the component adds itself (a parser's time field)
};

// The fields a component adds to the events it emits (they keep the fields
// they came with). `open`: it also adds names that come from the data (every
// key of a JSON object, a CSV header's columns), so any name may be there.
struct FieldWrites {
  std::vector<std::string> names;
  bool open = false;
};

class Component {
 public:
  virtual ~Component() = default;
  // The names of the output ports, "" first if there is a default port.
  virtual std::vector<std::string> output_ports() const { return {"", "dlq"}; }
  // Acquires files and connections, on the component's own thread just before
  // it runs. Construction must not: `validate` builds every component.
  virtual void open() {}
  // What `socstream validate` prints about this component beyond "ok" (the
  // rules a Sigma operator loaded and refused, say); empty for most.
  virtual std::string report() const { return {}; }
  // The fields it reads and adds, for the field-flow check of `validate`. A
  // component that reads fields it does not list here is never warned about.
  virtual std::vector<FieldRead> reads() const { return {}; }
  virtual FieldWrites writes() const { return {}; }

  // Hot reload: what this instance learnt or holds that should outlive it
  // (an online model, correlation windows), taken after its drain and given
  // to the instance of the same name and type in the new topology before that
  // one opens. Empty: nothing to hand over. A replacement that cannot use the
  // state (other labels, other rules) logs why and starts afresh: the old
  // topology is gone by then, so refusing would stop the service.
  virtual std::string save_state() { return {}; }
  virtual void restore_state(std::string_view /*state*/) {}

  // The context the topology made for this component; outside a topology
  // (unit tests) a detached one whose metrics nobody reads.
  ComponentContext& context() const { return ctx_ ? *ctx_ : ComponentContext::detached(); }
  void attach(ComponentContext* ctx) { ctx_ = ctx; }

 private:
  ComponentContext* ctx_ = nullptr;
};

class SourceContext {
 public:
  SourceContext(Outputs& out, const std::string& name, const std::atomic<bool>& stop)
      : out(out), name(name), stop_(stop) {}
  Outputs& out;
  const std::string& name;
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }
  // The stop is a hot reload's: the next topology's source of this name takes
  // over (Component::save_state), so a half-read line is kept for it, not
  // emitted as if the input had ended there.
  bool handing_over() const { return handover_.load(std::memory_order_relaxed); }
  void hand_over() { handover_.store(true); }
  // Sleeps unless asked to stop; returns false if stopping.
  bool sleep_for(std::chrono::milliseconds d) const;

  // A token for a batch of n events that only counts its outcome; sources with
  // something to commit (Kafka) subclass AckToken instead.
  AckToken* counting_token(uint32_t n) {
    events_pending.fetch_add(n, std::memory_order_relaxed);
    auto* t = new CountingToken(&batches_completed, &batches_failed, &events_pending, n, &events_failed);
    t->set_pending(n);
    return t;
  }

  // Counts this source's batches as they finish (for shutdown checks and tests).
  std::atomic<uint64_t> batches_completed{0};
  std::atomic<uint64_t> batches_failed{0};
  // Events emitted whose batch is not done yet: what a forced exit leaves to
  // be read again. A source with tokens of its own keeps it too.
  std::atomic<uint64_t> events_pending{0};
  // Events of batches that failed (abandoned, not acknowledged): read again by sources that commit.
  std::atomic<uint64_t> events_failed{0};

 private:
  const std::atomic<bool>& stop_;
  std::atomic<bool> handover_{false};
};

class Source : public Component {
 public:
  // Reads until the input ends or ctx.stopping(); emits batches with tokens.
  virtual void run(SourceContext& ctx) = 0;
};

class Processor : public Component {
 public:
  virtual void process(Batch&& in, Outputs& out) = 0;
  // The next time on_deadline should run (a batching window, a flush interval).
  virtual std::optional<Clock::time_point> next_deadline() const { return std::nullopt; }
  virtual void on_deadline(Outputs& /*out*/) {}
  // Input ended: flush and, for sinks, wait until everything is confirmed.
  virtual void finish(Outputs& /*out*/) {}
};

class Operator : public Processor {};

class Sink : public Processor {
 public:
  std::vector<std::string> output_ports() const override { return {"dlq"}; }
};

enum class Kind { Source, Operator, Sink };
const char* kind_name(Kind k);         // "source"
const char* section_name(Kind k);      // "sources"

struct ComponentSpec {
  std::string type;
  Kind kind;
  std::string summary;
  std::vector<SettingSpec> settings;
  // Stateless operators may run as several instances sharing one input.
  bool parallel = false;
  std::function<std::unique_ptr<Component>(const Settings&)> make;
};

class Registry {
 public:
  static Registry& global();
  void add(ComponentSpec spec);
  const ComponentSpec* find(Kind kind, std::string_view type) const;
  std::vector<std::string> types(Kind kind) const;

 private:
  std::vector<ComponentSpec> specs_;
};

}  // namespace socstream
