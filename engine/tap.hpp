#pragma once
// A live sample of the events leaving one port, for `socstream tap` (the
// admin endpoint's GET /api/tap). A port pays one atomic load per batch while
// no tap is attached; an attached tap copies at most `limit` events, as JSON
// lines, and is detached by whoever attached it.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "engine/event.hpp"

namespace socstream {

class Tap {
 public:
  explicit Tap(size_t limit) : limit_(limit) {}
  // Called by the port's producer: copies what the tap still wants.
  void offer(const std::string& component, const std::string& port, const Batch& b);
  // Until `limit` events were taken, the timeout, or `stop`; returns what was taken.
  std::vector<std::string> wait(std::chrono::milliseconds timeout, const std::atomic<bool>* stop = nullptr);

  // {"component":..,"port":..,"fields":{..},"raw":..,"source":{..}} (dead
  // letters: their dead-letter record as "dead_letter").
  static std::string event_json(const std::string& component, const std::string& port, const Event& e);

 private:
  const size_t limit_;
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

}  // namespace socstream
