#include <gtest/gtest.h>

#include "engine/ack.hpp"
#include "engine/event.hpp"

using namespace socstream;

namespace {
struct Outcome {
  int calls = 0;
  bool ok = false;
};
class RecordingToken final : public AckToken {
 public:
  explicit RecordingToken(Outcome* o) : o_(o) {}

 protected:
  void on_done(bool ok) override {
    ++o_->calls;
    o_->ok = ok;
  }

 private:
  Outcome* o_;
};

Batch make_batch(AckToken* t, int n) {
  t->set_pending(n);
  Batch b;
  for (int i = 0; i < n; ++i) {
    Event e;
    e.ack = Ack(t);
    b.events.push_back(std::move(e));
  }
  return b;
}
}  // namespace

TEST(Ack, CompletesOnlyWhenEveryEventCompleted) {
  Outcome o;
  Batch b = make_batch(new RecordingToken(&o), 3);
  b.events[0].ack.complete();
  b.events[1].ack.complete();
  EXPECT_EQ(o.calls, 0);
  b.events[2].ack.complete();
  EXPECT_EQ(o.calls, 1);
  EXPECT_TRUE(o.ok);
}

TEST(Ack, FanOutNeedsEveryBranch) {
  Outcome o;
  Batch b = make_batch(new RecordingToken(&o), 4);
  Batch copy = b.share();  // two consumers of one port
  b.complete_all();
  EXPECT_EQ(o.calls, 0) << "one branch done must not complete the source batch";
  // Split the second branch further, as a routing operator does.
  Batch left = copy.derive(), right = copy.derive();
  for (size_t i = 0; i < copy.events.size(); ++i) (i % 2 ? left : right).events.push_back(std::move(copy.events[i]));
  copy.events.clear();
  left.complete_all();
  EXPECT_EQ(o.calls, 0);
  right.complete_all();
  EXPECT_EQ(o.calls, 1);
  EXPECT_TRUE(o.ok);
}

TEST(Ack, AnAbandonedEventFailsTheBatch) {
  Outcome o;
  {
    Batch b = make_batch(new RecordingToken(&o), 2);
    b.events[0].ack.complete();
    // b goes out of scope: event 1 is destroyed without completion (a crash path).
  }
  EXPECT_EQ(o.calls, 1);
  EXPECT_FALSE(o.ok);
}

TEST(Ack, EventsFromSeveralTokensInOneBatch) {
  Outcome o1, o2;
  Batch a = make_batch(new RecordingToken(&o1), 2);
  Batch b = make_batch(new RecordingToken(&o2), 2);
  Batch merged;
  merged.events.push_back(std::move(a.events[0]));
  merged.events.push_back(std::move(b.events[0]));
  merged.events.push_back(std::move(a.events[1]));
  a.events.clear();
  merged.complete_all();
  EXPECT_EQ(o1.calls, 1);
  EXPECT_TRUE(o1.ok);
  EXPECT_EQ(o2.calls, 0);
  b.complete_all();
  EXPECT_EQ(o2.calls, 1);
}
