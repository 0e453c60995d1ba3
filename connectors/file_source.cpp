// type: file (source). Reads a file once, or follows it like `tail -F`:
// across rotation (the path names a new file) and truncation (copytruncate).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <cstdio>
#include <optional>
#include <cstring>

#include "connectors/connectors.hpp"
#include "connectors/line_reader.hpp"
#include "engine/sha256.hpp"

namespace socstream {

namespace {

// Which of a file's lines are acknowledged, as Vector's file checkpoints keep
// it: batches by their byte range, so a reload hands over the start of the
// first line not acknowledged, not the read position. A batch a sink gave up
// (a drain past its deadline) is then read again by the next topology
// instead of being skipped.
struct Checkpoints {
  std::mutex m;
  uint64_t file = 0;  // which file (rotation, truncation make a new one)
  // (file, first byte) -> (end byte, 0 in flight / 1 acknowledged / 2 abandoned)
  std::map<std::pair<uint64_t, int64_t>, std::pair<int64_t, int>> batches;

  void done(uint64_t f, int64_t first, bool ok) {
    std::lock_guard lk(m);
    auto it = batches.find({f, first});
    if (it == batches.end()) return;
    it->second.second = ok ? 1 : 2;
    // Acknowledged batches at the front say nothing a resume needs.
    while (!batches.empty() && batches.begin()->second.second == 1) batches.erase(batches.begin());
  }
  // The first byte not acknowledged in the current file, or `read` if every batch was.
  int64_t resume(int64_t read) {
    std::lock_guard lk(m);
    for (const auto& [k, v] : batches)
      if (k.first == file && v.second != 1) return k.second;
    return read;
  }
};

class FileToken final : public AckToken {
 public:
  FileToken(SourceContext& ctx, std::shared_ptr<Checkpoints> c, uint64_t file, int64_t first, uint32_t n)
      : ctx_(ctx), c_(std::move(c)), file_(file), first_(first), n_(n) {}

 protected:
  void on_done(bool ok) override {
    (ok ? ctx_.batches_completed : ctx_.batches_failed)++;
    if (!ok) ctx_.events_failed += n_;
    ctx_.events_pending -= n_;
    c_->done(file_, first_, ok);
  }

 private:
  SourceContext& ctx_;
  std::shared_ptr<Checkpoints> c_;
  uint64_t file_;
  int64_t first_;
  uint32_t n_;
};

class FileSource final : public Source {
 public:
  explicit FileSource(const Settings& s)
      : path_(s.path("path")),
        format_(line_format(s)),
        follow_(s.flag("follow", false)),
        from_end_(s.choice("start_at", {"beginning", "end"}, "beginning") == "end"),
        poll_(s.integer("poll_interval_ms", 250, 1, 60000)),
        reader_(make_line_reader(s, 1 << 20)) {
    // As configured, not resolved: alert ids then do not depend on where the checkout lives.
    format_.stream = s.str("path");
    if (from_end_ && !follow_) s.error("start_at", "'end' only makes sense with follow: true");
    format_.make_token = [this](SourceContext& ctx, uint32_t n, int64_t first, int64_t end) -> AckToken* {
      ctx.events_pending += n;
      uint64_t file;
      {
        std::lock_guard lk(checkpoints_->m);
        file = checkpoints_->file;
        checkpoints_->batches[{file, first}] = {end, 0};
      }
      auto* t = new FileToken(ctx, checkpoints_, file, first, n);
      t->set_pending(n);
      return t;
    };
  }

  FieldWrites writes() const override { return format_.writes(); }

  // A hot reload: the next topology's source goes on where this one stopped
  // (the line not emitted yet) if the path still names the same file.
  std::string save_state() override {
    if (!ino_) return {};
    return "file.1 " + std::to_string(dev_) + " " + std::to_string(ino_) + " " +
           std::to_string(checkpoints_->resume(reader_.resume_offset()));
  }
  void restore_state(std::string_view state) override {
    unsigned long long dev = 0, ino = 0;
    long long offset = 0;
    if (std::sscanf(std::string(state).c_str(), "file.1 %llu %llu %lld", &dev, &ino, &offset) != 3) return;
    resume_ = Resume{static_cast<dev_t>(dev), static_cast<ino_t>(ino), offset};
  }

  void run(SourceContext& ctx) override {
    int fd = open_file(ctx, true);
    if (fd < 0) return;
    std::vector<Line> lines;
    std::shared_ptr<LineBuffer> buf;
    bool rotated = false;
    while (!ctx.stopping()) {
      lines.clear();
      ssize_t n = reader_.read_from(fd, lines, buf);
      if (n < 0) throw std::runtime_error("reading " + path_.string() + ": " + std::strerror(errno));
      if (!lines.empty()) emit(ctx, fd, lines, buf);
      if (n > 0) continue;
      if (!follow_ || rotated) {
        // The end of this file: its last line needs no newline.
        lines.clear();
        if (reader_.take_partial(lines, buf)) emit(ctx, fd, lines, buf);
        if (!follow_) break;
        ::close(fd);
        fd = open_file(ctx, false);
        if (fd < 0) return;
        rotated = false;
        continue;
      }
      if (!ctx.sleep_for(std::chrono::milliseconds(poll_))) break;
      switch (check(fd)) {
        case Change::None: break;
        case Change::Truncated: {
          spdlog::info("{}: {} was truncated; reading from the start", ctx.name, path_.string());
          // A last line written without its newline before the truncation is
          // still the old content's: it goes on as a line, not into the void.
          std::vector<Line> tail;
          std::shared_ptr<LineBuffer> tail_buf;
          if (reader_.take_partial(tail, tail_buf)) emit(ctx, fd, tail, tail_buf);
          ::lseek(fd, 0, SEEK_SET);
          reader_.reset(0);
          origin_known_ = false;  // copytruncate: the same inode holds a new stream
          new_file();
          break;
        }
        case Change::Rotated:
          // Drain what was written to the old file before the switch, then reopen.
          spdlog::info("{}: {} was rotated", ctx.name, path_.string());
          rotated = true;
          break;
      }
    }
    ::close(fd);
  }

 private:
  enum class Change { None, Truncated, Rotated };

  void emit(SourceContext& ctx, int fd, const std::vector<Line>& lines, const std::shared_ptr<LineBuffer>& buf) {
    if (!origin_known_) fingerprint(fd);
    emit_lines(ctx, lines, buf, format_);
  }

  // Which file this is, as Vector's file source tells files apart: its device
  // and inode (rotation makes a new file) and its first line, up to 256 bytes
  // (copytruncate keeps the inode but starts a new first line). Offsets restart
  // in a new file; with this in the alert id, a new event never takes an old id.
  void fingerprint(int fd) {
    char head[256];
    ssize_t n = ::pread(fd, head, sizeof head, 0);
    if (n < 0) n = 0;
    const char* nl = static_cast<const char*>(std::memchr(head, '\n', static_cast<size_t>(n)));
    const size_t len = nl ? static_cast<size_t>(nl - head) : static_cast<size_t>(n);
    std::string in = std::to_string(dev_) + ":" + std::to_string(ino_) + ":";
    in.append(head, len);
    format_.origin = std::stoull(sha256_hex(in).substr(0, 16), nullptr, 16);
    // A first line still being written is read again at the next batch.
    origin_known_ = nl || n == static_cast<ssize_t>(sizeof head) || !follow_;
  }

  int open_file(SourceContext& ctx, bool first) {
    for (;;) {
      int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        struct stat st {};
        ::fstat(fd, &st);
        ino_ = st.st_ino;
        dev_ = st.st_dev;
        origin_known_ = false;
        new_file();
        int64_t start = 0;
        if (first && from_end_) start = ::lseek(fd, 0, SEEK_END);
        if (first && resume_) {
          // The same file, not shorter than where the last topology stopped: go on from there.
          if (resume_->dev == dev_ && resume_->ino == ino_ && st.st_size >= resume_->offset) {
            start = ::lseek(fd, resume_->offset, SEEK_SET);
            spdlog::info("{}: going on at byte {} of {}", ctx.name, start, path_.string());
          } else {
            spdlog::info("{}: {} is not the file the last topology read (rotated or truncated meanwhile); reading it from "
                         "the start", ctx.name, path_.string());
          }
          resume_.reset();
        }
        reader_.reset(start);
        return fd;
      }
      // Read once: a missing file is an error. Following: wait for it to appear.
      if (!follow_ || errno != ENOENT)
        throw std::runtime_error("cannot open " + path_.string() + ": " + std::strerror(errno));
      if (first) spdlog::info("{}: waiting for {} to appear", ctx.name, path_.string());
      first = false;
      if (!ctx.sleep_for(std::chrono::milliseconds(poll_))) return -1;
    }
  }

  Change check(int fd) const {
    struct stat cur {}, named {};
    ::fstat(fd, &cur);
    // Against what was read, the pending partial line included: a file cut
    // to a size inside that line is truncated too.
    if (cur.st_size < ::lseek(fd, 0, SEEK_CUR)) return Change::Truncated;
    // No file at the path is mid-rotation: keep the old one until a new one appears.
    if (::stat(path_.c_str(), &named) != 0) return Change::None;
    if (named.st_ino == ino_ && named.st_dev == dev_) return Change::None;
    return Change::Rotated;
  }

  std::filesystem::path path_;
  LineFormat format_;
  bool follow_;
  bool from_end_;
  int64_t poll_;
  LineReader reader_;
  ino_t ino_ = 0;
  dev_t dev_ = 0;
  bool origin_known_ = false;
  struct Resume {
    dev_t dev;
    ino_t ino;
    int64_t offset;
  };
  std::optional<Resume> resume_;
  std::shared_ptr<Checkpoints> checkpoints_ = std::make_shared<Checkpoints>();
  void new_file() {
    std::lock_guard lk(checkpoints_->m);
    ++checkpoints_->file;
  }
};

}  // namespace

ComponentSpec file_source_spec() {
  auto settings = line_source_settings();
  settings.insert(settings.begin(), {"path", SettingType::String, true, "the file to read"});
  settings.push_back({"follow", SettingType::Bool, false, "keep reading as the file grows, across rotation"});
  settings.push_back({"start_at", SettingType::String, false, "beginning or end (with follow)"});
  settings.push_back({"poll_interval_ms", SettingType::Int, false, "how often a followed file is checked"});
  settings.push_back({"read_buffer_bytes", SettingType::Bytes, false, "bytes per read (default 1MiB)"});
  return ComponentSpec{"file", Kind::Source, "JSON lines or plain lines from a file", settings, false,
                       [](const Settings& s) { return std::make_unique<FileSource>(s); }};
}

}  // namespace socstream
