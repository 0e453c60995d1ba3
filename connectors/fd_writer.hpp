#pragma once
// The common body of the file and stdout sinks: JSON lines written with one
// write(2) per batch; events complete once the kernel has the bytes (or, with
// fsync, once they are on disk).
#include <string>

#include "engine/component.hpp"

namespace socstream {

class FdWriter {
 public:
  void set_fd(int fd, std::string name) {
    fd_ = fd;
    name_ = std::move(name);
  }
  void set_fsync(bool on) { fsync_ = on; }
  // Writes the batch and completes its events; throws on a write error (the
  // events are then abandoned, so an upstream source does not acknowledge them).
  void write(Batch&& b);
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string name_;
  bool fsync_ = false;
  std::string buf_;
};

}  // namespace socstream
