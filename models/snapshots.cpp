#include "models/snapshots.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace socstream::online {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& what, const fs::path& p) {
  throw std::system_error(errno, std::generic_category(), what + " " + p.string());
}

void fsync_path(const fs::path& p, int flags) {
  int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0) fail("cannot open", p);
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail("cannot fsync", p);
  }
  ::close(fd);
}

}  // namespace

SnapshotStore::SnapshotStore(fs::path dir, std::string prefix, size_t keep)
    : dir_(std::move(dir)), prefix_(std::move(prefix)), keep_(keep) {}

fs::path SnapshotStore::path_of(uint64_t gen) const {
  char name[32];
  std::snprintf(name, sizeof name, "-%010llu.snap", static_cast<unsigned long long>(gen));
  return dir_ / (prefix_ + name);
}

std::vector<uint64_t> SnapshotStore::generations() const {
  std::vector<uint64_t> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    std::string name = entry.path().filename().string();
    const std::string head = prefix_ + "-", tail = ".snap";
    if (name.size() != head.size() + 10 + tail.size() || name.compare(0, head.size(), head) != 0 ||
        name.compare(name.size() - tail.size(), tail.size(), tail) != 0)
      continue;
    std::string digits = name.substr(head.size(), 10);
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    out.push_back(std::stoull(digits));
  }
  std::sort(out.rbegin(), out.rend());
  return out;
}

uint64_t SnapshotStore::save(std::string_view bytes, std::optional<uint64_t> gen) {
  fs::create_directories(dir_);
  auto existing = generations();
  uint64_t g = gen ? *gen : (existing.empty() ? 1 : existing.front() + 1);
  fs::path final_path = path_of(g);
  fs::path tmp = final_path;
  tmp += ".tmp";
  // 0600 and never through a symbolic link: a snapshot holds what the engine learnt.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) fail("cannot create", tmp);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      fail("cannot write", tmp);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail("cannot fsync", tmp);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) fail("cannot rename", tmp);
  fsync_path(dir_, O_RDONLY | O_DIRECTORY);
  if (keep_ > 0) {
    auto all = generations();
    for (size_t i = keep_; i < all.size(); ++i) fs::remove(path_of(all[i]));
  }
  return g;
}

std::string SnapshotStore::read(uint64_t gen) const {
  const fs::path p = path_of(gen);
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) throw std::runtime_error("cannot read " + p.string() + ": " + std::strerror(errno));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      if (n < 0) throw std::runtime_error("cannot read " + p.string() + ": " + std::strerror(errno));
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

std::optional<uint64_t> SnapshotStore::restore(const std::function<void(std::string_view)>& accept,
                                               std::vector<std::string>& errors) const {
  for (uint64_t g : generations()) {
    try {
      accept(read(g));
      return g;
    } catch (const std::exception& e) {
      errors.push_back(path_of(g).string() + ": " + e.what());
    }
  }
  return std::nullopt;
}

}  // namespace socstream::online
