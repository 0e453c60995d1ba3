// type: stdin (source). Lines from standard input until it closes.
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include "connectors/connectors.hpp"
#include "connectors/line_reader.hpp"

namespace socstream {

namespace {

class StdinSource final : public Source {
 public:
  explicit StdinSource(const Settings& s)
      : format_(line_format(s)), reader_(make_line_reader(s, 256 << 10)) {
    // Each run reads another stream from offset 0: a random id per run keeps
    // its alerts apart from an earlier run's (stdin is never read again).
    std::random_device rd;
    format_.origin = (uint64_t{rd()} << 32) | rd();
  }

  FieldWrites writes() const override { return format_.writes(); }

  void run(SourceContext& ctx) override {
    std::vector<Line> lines;
    std::shared_ptr<LineBuffer> buf;
    while (!ctx.stopping()) {
      // Wake up now and then so a stop request is noticed while stdin is idle.
      pollfd p{STDIN_FILENO, POLLIN, 0};
      int r = ::poll(&p, 1, 100);
      if (r < 0 && errno != EINTR) throw std::runtime_error(std::string("poll(stdin): ") + std::strerror(errno));
      if (r <= 0) continue;
      lines.clear();
      ssize_t n = reader_.read_from(STDIN_FILENO, lines, buf);
      if (n < 0) throw std::runtime_error(std::string("reading stdin: ") + std::strerror(errno));
      if (!lines.empty()) emit_lines(ctx, lines, buf, format_);
      if (n == 0) break;
    }
    // Stopped for a reload: a half-read line waits for the next source.
    if (ctx.handing_over() && !reader_.skipping()) return;
    lines.clear();
    if (reader_.take_partial(lines, buf)) emit_lines(ctx, lines, buf, format_);
  }

  // stdin is never read again: the next topology's stdin source continues
  // this stream (its origin and offsets, so alert ids stay apart from other
  // runs') with the bytes this one read past its last line.
  std::string save_state() override {
    return "stdin.1 " + std::to_string(format_.origin) + " " + std::to_string(reader_.resume_offset()) + "\n" +
           reader_.pending();
  }
  void restore_state(std::string_view state) override {
    unsigned long long origin = 0;
    long long offset = 0;
    int used = 0;
    const std::string head(state.substr(0, state.find('\n')));
    if (std::sscanf(head.c_str(), "stdin.1 %llu %lld%n", &origin, &offset, &used) != 2 || head.size() == state.size())
      return;
    format_.origin = origin;
    reader_.resume(offset, state.substr(head.size() + 1));
  }

 private:
  LineFormat format_;
  LineReader reader_;
};

}  // namespace

ComponentSpec stdin_source_spec() {
  auto settings = line_source_settings();
  settings.push_back({"read_buffer_bytes", SettingType::Bytes, false, "bytes per read (default 256KiB)"});
  return ComponentSpec{"stdin", Kind::Source, "JSON lines or plain lines from standard input", settings, false,
                       [](const Settings& s) { return std::make_unique<StdinSource>(s); }};
}

}  // namespace socstream
