#pragma once
// A bounded multi-producer, multi-consumer queue of batches. Capacity is in
// events and in bytes; a producer that would exceed either blocks, which is the
// engine's backpressure. An empty channel always accepts one batch, so a batch
// larger than the capacity cannot deadlock the pipeline.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

#include "engine/event.hpp"

namespace socstream {

using Clock = std::chrono::steady_clock;

class Channel {
 public:
  Channel(size_t max_events, size_t max_bytes) : max_events_(max_events), max_bytes_(max_bytes) {}

  void add_producer();
  // When the last producer is done, consumers drain what is queued and then see Closed.
  void producer_done();

  // Blocks while full. Returns false if the consumer is gone (the batch is abandoned).
  bool push(Batch&& b);
  // As push, but gives up at the deadline and leaves the batch with the caller.
  bool try_push_until(Batch& b, Clock::time_point deadline);

  enum class Pop { Item, Timeout, Closed };
  Pop pop(Batch& out, std::optional<Clock::time_point> deadline = std::nullopt);

  // The consumer died: wake blocked producers and abandon everything queued or pushed later.
  void abandon();

  size_t queued_events() const;
  size_t queued_bytes() const;
  size_t high_water_events() const;

 private:
  bool fits(size_t events, size_t bytes) const {
    return q_.empty() || (events_ + events <= max_events_ && bytes_ + bytes <= max_bytes_);
  }
  void enqueue(Batch&& b, size_t events, size_t bytes);

  const size_t max_events_;
  const size_t max_bytes_;
  mutable std::mutex m_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  struct Item {
    Batch batch;
    size_t bytes;
  };
  std::deque<Item> q_;
  size_t events_ = 0;
  size_t bytes_ = 0;
  size_t high_water_ = 0;
  int producers_ = 0;
  bool abandoned_ = false;
};

}  // namespace socstream
