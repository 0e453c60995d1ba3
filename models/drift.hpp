#pragma once
// Drift detection by the Page-Hinkley test (Page 1954; as in River and MOA):
// the cumulative deviation of a stream from its running mean, less a
// tolerance; it fires when that sum rises more than `threshold` above its
// lowest point. O(1) memory and time per value.
#include <cstdint>

namespace socstream::online {

struct DriftOptions {
  double delta = 0.005;      // tolerated change of the mean, in the stream's units
  double threshold = 20;     // lambda: how far the cumulative deviation may run
  uint64_t min_instances = 30;  // no verdict before this many values
};

class PageHinkley {
 public:
  // Up detects a rising mean (an error rate: a model that keeps learning makes
  // fewer errors, and that should not fire); Both, a shift either way (the
  // share of events a model flags).
  enum class Direction { Up, Down, Both };
  explicit PageHinkley(DriftOptions o = {}, Direction d = Direction::Up) : o_(o), dir_(d) {}

  // Adds a value; true when drift is detected (the test then starts afresh,
  // so the new regime becomes the reference).
  bool add(double x);

  uint64_t seen() const { return n_; }
  double mean() const { return mean_; }
  // The mean before the last detection, and over the values since the
  // change began to show (for the drift event).
  double mean_before() const { return before_; }
  uint64_t detections() const { return detections_; }
  void reset();

 private:
  DriftOptions o_;
  Direction dir_;
  uint64_t n_ = 0;
  // The cumulative deviations upward and downward, and their lowest points.
  double mean_ = 0, up_ = 0, up_min_ = 0, down_ = 0, down_min_ = 0, before_ = 0;
  uint64_t detections_ = 0;
};

}  // namespace socstream::online
