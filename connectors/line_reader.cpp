#include "connectors/line_reader.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace socstream {

namespace {
std::shared_ptr<LineBuffer> make_buffer(size_t capacity) {
  auto b = std::make_shared<LineBuffer>();
  b->data.reset(new char[capacity + LineReader::kSlack]);
  std::memset(b->data.get() + capacity, 0, LineReader::kSlack);
  b->capacity = capacity;
  return b;
}
}  // namespace

void LineReader::reset(int64_t offset) {
  buf_.reset();
  begin_ = end_ = 0;
  offset_ = offset;
  skipping_ = false;
}

ssize_t LineReader::read_from(int fd, std::vector<Line>& lines, std::shared_ptr<LineBuffer>& buffer) {
  const size_t partial = end_ - begin_;
  // A fresh buffer each time: the old one belongs to events still in flight.
  size_t cap = std::max(block_, partial * 2);
  if (skipping_) cap = block_;
  auto next = make_buffer(cap);
  if (partial && !skipping_) std::memcpy(next->data.get(), buf_->data.get() + begin_, partial);
  buf_ = std::move(next);
  begin_ = 0;
  end_ = skipping_ ? 0 : partial;
  ssize_t n;
  do {
    n = ::read(fd, buf_->data.get() + end_, buf_->capacity - end_);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return n;
  end_ += static_cast<size_t>(n);
  const size_t before = lines.size();
  scan(lines);
  if (lines.size() > before) buffer = buf_;
  return n;
}

void LineReader::scan(std::vector<Line>& lines) {
  char* data = buf_->data.get();
  for (;;) {
    char* start = data + begin_;
    char* nl = static_cast<char*>(std::memchr(start, '\n', end_ - begin_));
    if (!nl) break;
    const size_t len = static_cast<size_t>(nl - start);
    if (skipping_) {
      // The tail of an over-long line: account for it, emit nothing.
      offset_ += static_cast<int64_t>(len + 1);
      skipping_ = false;
    } else {
      lines.push_back(Line{std::string_view(start, len), offset_, len});
      offset_ += static_cast<int64_t>(len + 1);
    }
    begin_ += len + 1;
  }
  const size_t partial = end_ - begin_;
  if (skipping_) {
    offset_ += static_cast<int64_t>(partial);
    begin_ = end_;
  } else if (partial >= max_line_) {
    // Emit the head so the line is not lost silently; the consumer sees length > text.size().
    lines.push_back(Line{std::string_view(data + begin_, max_line_), offset_, partial});
    offset_ += static_cast<int64_t>(partial);
    begin_ = end_;
    skipping_ = true;
  }
}

bool LineReader::take_partial(std::vector<Line>& lines, std::shared_ptr<LineBuffer>& buffer) {
  if (skipping_ || end_ == begin_) return false;
  const size_t len = end_ - begin_;
  lines.push_back(Line{std::string_view(buf_->data.get() + begin_, len), offset_, len});
  offset_ += static_cast<int64_t>(len);
  begin_ = end_;
  buffer = buf_;
  return true;
}

}  // namespace socstream

namespace socstream {

namespace {
const std::string kMessage = "message";
}

void emit_lines(SourceContext& ctx, const std::vector<Line>& lines, const std::shared_ptr<LineBuffer>& buffer,
                const LineFormat& fmt, int32_t partition) {
  for (size_t at = 0; at < lines.size(); at += fmt.batch_size) {
    const size_t n = std::min(fmt.batch_size, lines.size() - at);
    Batch b, rejected;
    b.raw_padded = true;  // lines sit inside a LineBuffer, which ends with kSlack spare bytes
    b.events.reserve(n);
    b.hold(buffer);
    AckToken* token = ctx.counting_token(static_cast<uint32_t>(n));
    for (size_t i = at; i < at + n; ++i) {
      const Line& l = lines[i];
      Event e;
      e.raw = l.text;
      e.pos = SourcePos{&ctx.name, partition, l.offset, fmt.stream, fmt.origin};
      e.ack = Ack(token);
      if (l.length > l.text.size()) {
        ctx.out.reject(rejected, std::move(e), "line_too_long",
                       "the line exceeds max_line_bytes; only its head is kept");
        continue;
      }
      if (fmt.plain) e.fields.push_back(Field{kMessage, e.raw, ValueKind::String});
      b.events.push_back(std::move(e));
    }
    if (!rejected.empty()) {
      rejected.hold(buffer);
      ctx.out.dead_letter(std::move(rejected));
    }
    ctx.out.emit(0, std::move(b));
  }
}

std::vector<SettingSpec> line_source_settings() {
  return {
      {"format", SettingType::String, false, "json (one JSON document a line) or lines (plain text in 'message')"},
      {"batch_size", SettingType::Int, false, "events per batch (default 1024)"},
      {"max_line_bytes", SettingType::Bytes, false, "longer lines are truncated and dead-lettered (default 64MiB)"},
  };
}

LineFormat line_format(const Settings& s) {
  LineFormat f;
  f.plain = s.choice("format", {"json", "lines"}, "json") == "lines";
  f.batch_size = static_cast<size_t>(s.integer("batch_size", 1024, 1, 1 << 20));
  return f;
}

}  // namespace socstream
