#include "connectors/fd_writer.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "engine/json_writer.hpp"

namespace socstream {

void FdWriter::write(Batch&& b) {
  buf_.clear();
  for (const auto& e : b.events) json::append_line(buf_, e);
  const char* p = buf_.data();
  size_t left = buf_.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("writing " + name_ + ": " + std::strerror(errno));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (fsync_ && ::fsync(fd_) != 0 && errno != EINVAL)
    throw std::runtime_error("fsync " + name_ + ": " + std::strerror(errno));
  b.complete_all();
  // Keep one batch's worth of capacity, not the largest batch ever (an 8 MiB dead letter).
  if (buf_.capacity() > (4u << 20)) std::string().swap(buf_);
}

}  // namespace socstream
