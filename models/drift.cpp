#include "models/drift.hpp"

#include <algorithm>

namespace socstream::online {

void PageHinkley::reset() {
  n_ = 0;
  mean_ = up_ = up_min_ = down_ = down_min_ = 0;
}

bool PageHinkley::add(double x) {
  ++n_;
  mean_ += (x - mean_) / static_cast<double>(n_);
  // A falling mean is a rising one in the mirrored stream: the same test twice.
  up_ += x - mean_ - o_.delta;
  up_min_ = std::min(up_min_, up_);
  down_ += mean_ - x - o_.delta;
  down_min_ = std::min(down_min_, down_);
  if (n_ < o_.min_instances) return false;
  bool rose = dir_ != Direction::Down && up_ - up_min_ > o_.threshold;
  bool fell = dir_ != Direction::Up && down_ - down_min_ > o_.threshold;
  if (!rose && !fell) return false;
  before_ = mean_;
  ++detections_;
  reset();
  return true;
}

}  // namespace socstream::online
