#pragma once
// Completion tokens. A source creates one token per batch it reads; every event
// of that batch holds a reference (an Ack). An event is finished when its Ack is
// completed (delivered, dead-lettered, or dropped on purpose) or abandoned
// (destroyed without completion: a crash path, a dead component). The token's
// owner hears exactly once, when the last reference is gone, whether every
// event completed. Abandonment is the safe default: a forgotten Ack makes the
// source redeliver instead of committing work that was never done.
#include <atomic>
#include <cstdint>
#include <span>

namespace socstream {

class AckToken {
 public:
  virtual ~AckToken() = default;

  // The creator sets the initial count before publishing any event.
  void set_pending(uint32_t n) { pending_.store(n, std::memory_order_relaxed); }
  void add(uint32_t n) { pending_.fetch_add(n, std::memory_order_relaxed); }

  // Releases n references; the last release calls on_done and deletes the token.
  void release(uint32_t n, bool ok) {
    if (!ok) failed_.store(true, std::memory_order_relaxed);
    if (pending_.fetch_sub(n, std::memory_order_acq_rel) == n) {
      on_done(!failed_.load(std::memory_order_relaxed));
      delete this;
    }
  }

 protected:
  // Runs on whichever thread released last; must be cheap and thread-safe.
  virtual void on_done(bool all_completed) = 0;

 private:
  std::atomic<uint32_t> pending_{0};
  std::atomic<bool> failed_{false};
};

// A move-only reference to a token, held by one event.
class Ack {
 public:
  Ack() = default;
  explicit Ack(AckToken* t) : token_(t) {}
  Ack(const Ack&) = delete;
  Ack& operator=(const Ack&) = delete;
  Ack(Ack&& o) noexcept : token_(o.token_) { o.token_ = nullptr; }
  Ack& operator=(Ack&& o) noexcept {
    if (this != &o) {
      abandon();
      token_ = o.token_;
      o.token_ = nullptr;
    }
    return *this;
  }
  ~Ack() { abandon(); }

  void complete() {
    if (token_) token_->release(1, true);
    token_ = nullptr;
  }
  void abandon() {
    if (token_) token_->release(1, false);
    token_ = nullptr;
  }
  // A second reference to the same token, for fan-out to several consumers.
  Ack share() const {
    if (token_) token_->add(1);
    return Ack(token_);
  }
  AckToken* token() const { return token_; }
  // Gives up the reference without releasing it (the caller releases in bulk).
  AckToken* detach() {
    AckToken* t = token_;
    token_ = nullptr;
    return t;
  }

 private:
  AckToken* token_ = nullptr;
};

// A token that just counts, for sources that have nothing to commit.
class CountingToken final : public AckToken {
 public:
  // `pending` counts the events of batches not yet done; this batch's n were added to it.
  // `failed_events`, if given, counts the events of failed batches: what the run says is to be read again.
  CountingToken(std::atomic<uint64_t>* done, std::atomic<uint64_t>* failed, std::atomic<uint64_t>* pending, uint32_t n,
                std::atomic<uint64_t>* failed_events = nullptr)
      : done_(done), failed_(failed), pending_events_(pending), failed_events_(failed_events), n_(n) {}

 protected:
  void on_done(bool ok) override {
    (ok ? done_ : failed_)->fetch_add(1, std::memory_order_relaxed);
    if (!ok && failed_events_) failed_events_->fetch_add(n_, std::memory_order_relaxed);
    pending_events_->fetch_sub(n_, std::memory_order_relaxed);
  }

 private:
  std::atomic<uint64_t>* done_;
  std::atomic<uint64_t>* failed_;
  std::atomic<uint64_t>* pending_events_;
  std::atomic<uint64_t>* failed_events_;
  uint32_t n_;
};

}  // namespace socstream
