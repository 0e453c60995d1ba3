#include "engine/channel.hpp"

namespace socstream {

void Channel::add_producer() {
  std::lock_guard lk(m_);
  ++producers_;
}

void Channel::producer_done() {
  std::lock_guard lk(m_);
  if (--producers_ == 0) not_empty_.notify_all();
}

void Channel::enqueue(Batch&& b, size_t events, size_t bytes) {
  events_ += events;
  bytes_ += bytes;
  if (events_ > high_water_) high_water_ = events_;
  q_.push_back(Item{std::move(b), bytes});
  not_empty_.notify_one();
}

bool Channel::push(Batch&& b) {
  const size_t n = b.size(), bytes = b.bytes();
  std::unique_lock lk(m_);
  not_full_.wait(lk, [&] { return abandoned_ || fits(n, bytes); });
  if (abandoned_) {
    lk.unlock();
    b.abandon_all();
    return false;
  }
  enqueue(std::move(b), n, bytes);
  return true;
}

bool Channel::try_push_until(Batch& b, Clock::time_point deadline) {
  const size_t n = b.size(), bytes = b.bytes();
  std::unique_lock lk(m_);
  if (!not_full_.wait_until(lk, deadline, [&] { return abandoned_ || fits(n, bytes); })) return false;
  if (abandoned_) {
    lk.unlock();
    b.abandon_all();
    return true;
  }
  enqueue(std::move(b), n, bytes);
  return true;
}

Channel::Pop Channel::pop(Batch& out, std::optional<Clock::time_point> deadline) {
  std::unique_lock lk(m_);
  auto ready = [&] { return !q_.empty() || producers_ == 0; };
  if (deadline) {
    if (!not_empty_.wait_until(lk, *deadline, ready)) return Pop::Timeout;
  } else {
    not_empty_.wait(lk, ready);
  }
  if (q_.empty()) return Pop::Closed;
  Item it = std::move(q_.front());
  q_.pop_front();
  events_ -= it.batch.size();
  bytes_ -= it.bytes;
  lk.unlock();
  // Several producers may be waiting with batches of different sizes.
  not_full_.notify_all();
  out = std::move(it.batch);
  return Pop::Item;
}

void Channel::abandon() {
  std::deque<Item> dropped;
  {
    std::lock_guard lk(m_);
    abandoned_ = true;
    dropped.swap(q_);
    events_ = bytes_ = 0;
  }
  not_full_.notify_all();
  for (auto& it : dropped) it.batch.abandon_all();
}

size_t Channel::queued_bytes() const {
  std::lock_guard lk(m_);
  return bytes_;
}

size_t Channel::queued_events() const {
  std::lock_guard lk(m_);
  return events_;
}

size_t Channel::high_water_events() const {
  std::lock_guard lk(m_);
  return high_water_;
}

}  // namespace socstream
