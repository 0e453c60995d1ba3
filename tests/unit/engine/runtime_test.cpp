// The runtime's own logic, with test components: acknowledgements across a
// fan-out, backpressure from a slow sink, drain on stop, failure handling.
#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "engine/runtime.hpp"
#include "tests/support/test_support.hpp"

using namespace socstream;
using namespace socstream::testing;

namespace {

// Shared state the test components report into.
struct Probe {
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> max_in_flight{0};
  std::atomic<uint64_t> completed_batches{0};
  std::atomic<uint64_t> failed_batches{0};
  std::atomic<uint64_t> delivered{0};
  std::mutex m;
  std::condition_variable cv;
  std::deque<Batch> held;
  bool release = false;
};
Probe* g_probe = nullptr;

class ProbeToken final : public AckToken {
 public:
  ProbeToken(Probe* p, uint32_t n) : p_(p), n_(n) {}

 protected:
  void on_done(bool ok) override {
    p_->in_flight -= n_;
    (ok ? p_->completed_batches : p_->failed_batches)++;
  }

 private:
  Probe* p_;
  uint32_t n_;
};

// Emits `count` events in batches of `batch`, or until stopped when count is 0.
class GenSource final : public Source {
 public:
  explicit GenSource(const Settings& s)
      : count_(s.integer("count", 0)), batch_(s.integer("batch", 100)), linger_(s.flag("linger", false)) {}
  void run(SourceContext& ctx) override {
    static const std::string payload(200, 'x');
    for (int64_t sent = 0; (count_ == 0 || sent < count_) && !ctx.stopping();) {
      const uint32_t n = static_cast<uint32_t>(count_ ? std::min(batch_, count_ - sent) : batch_);
      auto* t = new ProbeToken(g_probe, n);
      t->set_pending(n);
      int64_t now = g_probe->in_flight += n;
      int64_t prev = g_probe->max_in_flight.load();
      while (now > prev && !g_probe->max_in_flight.compare_exchange_weak(prev, now)) {
      }
      Batch b;
      for (uint32_t i = 0; i < n; ++i) {
        Event e;
        e.raw = payload;
        e.pos = SourcePos{&ctx.name, 0, sent + i, {}};
        e.ack = Ack(t);
        b.events.push_back(std::move(e));
      }
      sent += n;
      ctx.out.emit(0, std::move(b));
    }
    // Stay open, idle, until stopped: downstream sees no new input and no end.
    while (linger_ && ctx.sleep_for(std::chrono::milliseconds(10))) {
    }
  }

 private:
  int64_t count_, batch_;
  bool linger_;
};

// Completes after a delay per batch.
class SlowSink final : public Sink {
 public:
  explicit SlowSink(const Settings& s) : delay_(s.integer("delay_us", 1000)) {}
  void process(Batch&& b, Outputs&) override {
    std::this_thread::sleep_for(std::chrono::microseconds(delay_));
    g_probe->delivered += b.size();
    b.complete_all();
  }

 private:
  int64_t delay_;
};

// Keeps every batch until the test releases them, then completes them at finish.
class HoldSink final : public Sink {
 public:
  explicit HoldSink(const Settings&) {}
  void process(Batch&& b, Outputs&) override {
    std::lock_guard lk(g_probe->m);
    g_probe->delivered += b.size();
    g_probe->held.push_back(std::move(b));
    g_probe->cv.notify_all();
  }
  void finish(Outputs&) override {
    std::unique_lock lk(g_probe->m);
    g_probe->cv.wait(lk, [] { return g_probe->release; });
    for (auto& b : g_probe->held) b.complete_all();
    g_probe->held.clear();
  }
};

// Fails on its first batch.
class FailingOp final : public Operator {
 public:
  explicit FailingOp(const Settings&) {}
  void process(Batch&&, Outputs&) override { throw std::runtime_error("boom"); }
};

// Holds events and releases them only when its window closes (a time-based flush).
class WindowOp final : public Operator {
 public:
  explicit WindowOp(const Settings& s) : window_(std::chrono::milliseconds(s.integer("window_ms", 50))) {}
  void process(Batch&& b, Outputs&) override {
    if (pending_.empty()) deadline_ = Clock::now() + window_;
    for (auto& e : b.events) pending_.events.push_back(std::move(e));
    pending_.hold_all(b.holds);
  }
  std::optional<Clock::time_point> next_deadline() const override {
    if (pending_.empty()) return std::nullopt;
    return deadline_;
  }
  void on_deadline(Outputs& out) override {
    ++g_flushes;
    out.emit(0, std::move(pending_));
    pending_ = Batch{};
  }
  void finish(Outputs& out) override { out.emit(0, std::move(pending_)); }
  static inline std::atomic<int> g_flushes{0};

 private:
  std::chrono::milliseconds window_;
  Clock::time_point deadline_{};
  Batch pending_;
};

void register_test_components() {
  static bool done = false;
  if (done) return;
  done = true;
  auto& r = Registry::global();
  r.add({"test_gen", Kind::Source, "", {{"count", SettingType::Int, false, ""}, {"batch", SettingType::Int, false, ""}, {"linger", SettingType::Bool, false, ""}}, false,
         [](const Settings& s) { return std::make_unique<GenSource>(s); }});
  r.add({"test_slow", Kind::Sink, "", {{"delay_us", SettingType::Int, false, ""}}, false,
         [](const Settings& s) { return std::make_unique<SlowSink>(s); }});
  r.add({"test_hold", Kind::Sink, "", {}, false, [](const Settings& s) { return std::make_unique<HoldSink>(s); }});
  r.add({"test_window", Kind::Operator, "", {{"window_ms", SettingType::Int, false, ""}}, false,
         [](const Settings& s) { return std::make_unique<WindowOp>(s); }});
  r.add({"test_fail", Kind::Operator, "", {}, false, [](const Settings& s) { return std::make_unique<FailingOp>(s); }});
}

std::unique_ptr<Topology> load(const TempDir& dir, const std::string& yaml) {
  register_test_components();
  Diagnostics diag;
  auto t = load_from_string(dir, yaml, diag);
  EXPECT_NE(t, nullptr) << diag.str();
  return t;
}

}  // namespace

TEST(Runtime, SourceBatchCompletesOnlyAfterEverySinkConfirmed) {
  Probe probe;
  g_probe = &probe;
  TempDir dir;
  auto topo = load(dir, R"(sources:
  gen: {type: test_gen, count: 1000, batch: 100}
sinks:
  fast: {type: test_slow, inputs: [gen], delay_us: 0}
  held: {type: test_hold, inputs: [gen]}
)");
  ASSERT_TRUE(topo);
  Runtime rt(*topo);
  rt.start();
  {
    std::unique_lock lk(probe.m);
    ASSERT_TRUE(probe.cv.wait_for(lk, std::chrono::seconds(10), [&] { return probe.delivered >= 1000; }));
  }
  // Wait until the fast sink has seen everything too: it has, once delivered reaches 2000.
  for (int i = 0; i < 1000 && probe.delivered < 2000; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(probe.delivered, 2000u);
  EXPECT_EQ(probe.completed_batches, 0u) << "the held branch has not confirmed yet";
  {
    std::lock_guard lk(probe.m);
    probe.release = true;
    probe.cv.notify_all();
  }
  RunStats st = rt.wait();
  EXPECT_EQ(probe.completed_batches, 10u);
  EXPECT_EQ(probe.failed_batches, 0u);
  EXPECT_EQ(probe.in_flight, 0);
  EXPECT_EQ(st.read, 1000u);
  EXPECT_FALSE(st.failed);
}

TEST(Runtime, SlowSinkBoundsMemoryAndLosesNothing) {
  Probe probe;
  g_probe = &probe;
  TempDir dir;
  // 200 batches of 100 events through a sink that takes 2 ms a batch. Each
  // channel holds at most 500 events, so at most 2 channels x 500 plus one batch
  // in each of the 3 tasks' hands can be alive at once.
  auto topo = load(dir, R"(sources:
  gen: {type: test_gen, count: 20000, batch: 100}
operators:
  parse: {type: json_parse, inputs: [gen], buffer_events: 500}
sinks:
  slow: {type: test_slow, inputs: [parse.dlq], delay_us: 2000, buffer_events: 500}
)");
  ASSERT_TRUE(topo);
  Runtime rt(*topo);
  rt.start();
  RunStats st = rt.wait();
  EXPECT_EQ(probe.delivered, 20000u) << "every event reaches the sink (they are not JSON: all go to parse.dlq)";
  EXPECT_EQ(st.dead_lettered, 20000u);
  EXPECT_EQ(probe.completed_batches, 200u);
  EXPECT_EQ(probe.failed_batches, 0u);
  const int64_t bound = 2 * 500 + 3 * 100;
  EXPECT_LE(probe.max_in_flight, bound) << "backpressure must bound the events alive";
  EXPECT_GT(probe.max_in_flight, 100) << "the pipeline should have filled up";
}

TEST(Runtime, StopDrainsInFlightEvents) {
  Probe probe;
  g_probe = &probe;
  TempDir dir;
  auto topo = load(dir, R"(sources:
  gen: {type: test_gen, count: 0, batch: 50}
sinks:
  slow: {type: test_slow, inputs: [gen], delay_us: 500, buffer_events: 200}
)");
  ASSERT_TRUE(topo);
  Runtime rt(*topo);
  rt.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  rt.request_stop();
  RunStats st = rt.wait();
  EXPECT_GT(st.read, 0u);
  EXPECT_EQ(probe.delivered, st.read) << "everything read before the stop is delivered";
  EXPECT_EQ(probe.in_flight, 0);
  EXPECT_EQ(probe.failed_batches, 0u);
}

TEST(Runtime, FailingComponentStopsTheRunWithoutAcknowledging) {
  Probe probe;
  g_probe = &probe;
  TempDir dir;
  auto topo = load(dir, R"(sources:
  gen: {type: test_gen, count: 0, batch: 10}
operators:
  bad: {type: test_fail, inputs: [gen]}
sinks:
  out: {type: test_slow, inputs: [bad], delay_us: 0}
)");
  ASSERT_TRUE(topo);
  Runtime rt(*topo);
  rt.start();
  RunStats st = rt.wait();  // must return: the failure stops the source
  EXPECT_TRUE(st.failed);
  EXPECT_GT(probe.failed_batches, 0u) << "events the failed operator held are not acknowledged";
  EXPECT_EQ(probe.completed_batches, 0u);
}

TEST(Runtime, TimersFlushWithoutNewInput) {
  Probe probe;
  g_probe = &probe;
  WindowOp::g_flushes = 0;
  TempDir dir;
  // The source sends 100 events and then idles until stopped: only the timer can flush them.
  auto topo = load(dir, R"(sources:
  gen: {type: test_gen, count: 100, batch: 100, linger: true}
operators:
  window: {type: test_window, inputs: [gen], window_ms: 100}
sinks:
  out: {type: test_slow, inputs: [window], delay_us: 0}
)");
  ASSERT_TRUE(topo);
  Runtime rt(*topo);
  const auto start = Clock::now();
  rt.start();
  while (probe.delivered < 100 && Clock::now() - start < std::chrono::seconds(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto waited = Clock::now() - start;
  EXPECT_EQ(probe.delivered, 100u) << "the window flushed on its deadline";
  EXPECT_GE(waited, std::chrono::milliseconds(100)) << "not before the window closed";
  EXPECT_EQ(WindowOp::g_flushes, 1);
  rt.request_stop();
  rt.wait();
  EXPECT_EQ(probe.completed_batches, 1u);
}
