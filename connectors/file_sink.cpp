// type: file (sink). JSON lines to a file; dead letters as their error record.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
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

  void open() override {
    if (path_.has_parent_path()) std::filesystem::create_directories(path_.parent_path());
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append_ ? O_APPEND : O_TRUNC), 0644);
    if (fd < 0) throw std::runtime_error("cannot open " + path_.string() + ": " + std::strerror(errno));
    w_.set_fd(fd, path_.string());
  }
  void process(Batch&& in, Outputs&) override { w_.write(std::move(in)); }

 private:
  std::filesystem::path path_;
  bool append_;
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
