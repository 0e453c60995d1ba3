// type: file (sink). JSON lines to a file; dead letters as their error record.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <optional>
#include <cstring>

#include "connectors/connectors.hpp"
#include "connectors/fd_writer.hpp"

namespace socstream {

namespace {

class FileSink final : public Sink {
 public:
  explicit FileSink(const Settings& s) : path_(s.path("path")), append_(s.flag("append", false)) {
    w_.set_fsync(s.flag("fsync", false));
  }
  ~FileSink() override {
    if (w_.fd() >= 0) ::close(w_.fd());
  }

  // Dead letters and alerts hold raw events, which may hold secrets, and the
  // engine may run as root beside world-writable directories: a planted
  // symlink is not followed (O_NOFOLLOW), only a regular file (or /dev/null) is
  // written, it is truncated only once checked, and what is created is 0600
  // in directories created 0700.
  void open() override {
    if (path_.has_parent_path() && !std::filesystem::exists(path_.parent_path())) {
      std::filesystem::create_directories(path_.parent_path());
      std::filesystem::permissions(path_.parent_path(), std::filesystem::perms::owner_all);
    }
    // O_NONBLOCK: a FIFO with no reader must fail here, not hang the open.
    int fd = ::open(path_.c_str(),
                    O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | (append_ ? O_APPEND : 0), 0600);
    if (fd < 0) {
      const int err = errno;
      throw std::runtime_error("cannot open " + path_.string() + ": " +
                               (err == ELOOP   ? std::string("it is a symbolic link, which is not followed")
                                : err == ENXIO ? std::string("not a regular file (a FIFO or socket)")
                                               : std::string(std::strerror(err))));
    }
    struct stat st {}, null {};
    const bool dev_null = ::fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && ::stat("/dev/null", &null) == 0 &&
                          st.st_rdev == null.st_rdev;
    if (!dev_null && !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw std::runtime_error("cannot write " + path_.string() + ": not a regular file");
    }
    // A file someone else made, or a hard link to one, is theirs to have planted.
    if (!dev_null && (st.st_uid != ::geteuid() || st.st_nlink != 1)) {
      ::close(fd);
      throw std::runtime_error("cannot write " + path_.string() + ": " +
                               (st.st_nlink != 1 ? std::string("it has other hard links")
                                                 : "it belongs to another user (uid " + std::to_string(st.st_uid) + ")"));
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    // The file the sink of the previous topology wrote (a hot reload): what
    // that one wrote stays, and this one goes on after it.
    const bool continued = continues_ && st.st_dev == continues_->first && st.st_ino == continues_->second;
    if (continued) ::lseek(fd, 0, SEEK_END);
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    if (!append_ && !dev_null && !continued && ::ftruncate(fd, 0) != 0) {
      const int err = errno;
      ::close(fd);
      throw std::runtime_error("cannot truncate " + path_.string() + ": " + std::strerror(err));
    }
    w_.set_fd(fd, path_.string());
  }
  void process(Batch&& in, Outputs&) override { w_.write(std::move(in)); }

  std::string save_state() override {
    return ino_ ? "file_sink.1 " + std::to_string(dev_) + " " + std::to_string(ino_) : std::string();
  }
  void restore_state(std::string_view state) override {
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(std::string(state).c_str(), "file_sink.1 %llu %llu", &dev, &ino) == 2)
      continues_ = std::make_pair(static_cast<dev_t>(dev), static_cast<ino_t>(ino));
  }

 private:
  std::filesystem::path path_;
  bool append_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::optional<std::pair<dev_t, ino_t>> continues_;
  FdWriter w_;
};

}  // namespace

ComponentSpec file_sink_spec() {
  return ComponentSpec{"file",
                       Kind::Sink,
                       "JSON lines to a file",
                       {{"path", SettingType::String, true, "the file to write"},
                        {"append", SettingType::Bool, false, "append instead of truncating (default false)"},
                        {"fsync", SettingType::Bool, false, "complete events only once on disk (default false)"}},
                       false,
                       [](const Settings& s) { return std::make_unique<FileSink>(s); }};
}

}  // namespace socstream
