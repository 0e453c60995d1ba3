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
  head_.clear();
  skipped_ = 0;
}

std::string LineReader::pending() const {
  if (skipping_ || !buf_) return {};
  return std::string(buf_->data.get() + begin_, end_ - begin_);
}

void LineReader::resume(int64_t offset, std::string_view pending) {
  reset(offset);
  if (pending.empty()) return;
  buf_ = make_buffer(std::max(block_, pending.size()));
  std::memcpy(buf_->data.get(), pending.data(), pending.size());
  end_ = pending.size();
}

LineReader make_line_reader(const Settings& s, uint64_t default_block) {
  const uint64_t block = s.bytes("read_buffer_bytes", default_block), max_line = s.bytes("max_line_bytes", 64u << 20);
  if (block == 0) s.error("read_buffer_bytes", "must be at least 1 byte: 0 would read nothing");
  if (max_line == 0) s.error("max_line_bytes", "must be at least 1 byte: 0 would make every line too long");
  return LineReader(std::max<uint64_t>(block, 1), std::max<uint64_t>(max_line, 1));
}

ssize_t LineReader::read_from(int fd, std::vector<Line>& lines, std::shared_ptr<LineBuffer>& buffer) {
  const size_t partial = end_ - begin_;
  // A fresh buffer each time: the old one belongs to events still in flight.
  size_t cap = std::max(block_, partial * 2);
  if (skipping_) cap = block_ + head_.size();
  auto next = make_buffer(cap);
  if (skipping_) {
    // The over-long line's head rides at the buffer's start until its end is found.
    std::memcpy(next->data.get(), head_.data(), head_.size());
  } else if (partial) {
    std::memcpy(next->data.get(), buf_->data.get() + begin_, partial);
  }
  buf_ = std::move(next);
  begin_ = skipping_ ? head_.size() : 0;
  end_ = skipping_ ? head_.size() : partial;
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
      // The end of an over-long line: its head (at the buffer's start) and its whole length.
      lines.push_back(Line{std::string_view(data, head_.size()), head_offset_, skipped_ + len});
      offset_ += static_cast<int64_t>(len + 1);
      skipping_ = false;
      head_.clear();
    } else if (len > max_line_) {
      // Whole in this buffer but over the limit all the same: its head, and its length.
      lines.push_back(Line{std::string_view(start, std::min({len, kHeadKept, max_line_})), offset_, len});
      offset_ += static_cast<int64_t>(len + 1);
    } else {
      lines.push_back(Line{std::string_view(start, len), offset_, len});
      offset_ += static_cast<int64_t>(len + 1);
    }
    begin_ += len + 1;
  }
  const size_t partial = end_ - begin_;
  if (skipping_) {
    skipped_ += partial;
    offset_ += static_cast<int64_t>(partial);
    begin_ = end_;
  } else if (partial > max_line_) {
    // Over the limit before its end: keep the head, skip the rest until the newline.
    head_.assign(data + begin_, std::min({partial, kHeadKept, max_line_}));
    head_offset_ = offset_;
    skipped_ = partial;
    offset_ += static_cast<int64_t>(partial);
    begin_ = end_;
    skipping_ = true;
  }
}

bool LineReader::take_partial(std::vector<Line>& lines, std::shared_ptr<LineBuffer>& buffer) {
  if (skipping_) {
    // The input ended inside an over-long line: it is dead-lettered all the same.
    lines.push_back(Line{std::string_view(buf_->data.get(), head_.size()), head_offset_, skipped_});
    skipping_ = false;
    head_.clear();
    begin_ = end_;
    buffer = buf_;
    return true;
  }
  if (end_ == begin_) return false;
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
    std::shared_ptr<Arena> arena;  // dead letters' details
    b.raw_padded = true;  // lines sit inside a LineBuffer, which ends with kSlack spare bytes
    b.events.reserve(n);
    b.hold(buffer);
    const Line& last = lines[at + n - 1];
    AckToken* token = fmt.make_token ? fmt.make_token(ctx, static_cast<uint32_t>(n), lines[at].offset,
                                                      last.offset + static_cast<int64_t>(last.length) + 1)
                                     : ctx.counting_token(static_cast<uint32_t>(n));
    for (size_t i = at; i < at + n; ++i) {
      const Line& l = lines[i];
      Event e;
      e.raw = l.text;
      e.pos = SourcePos{&ctx.name, partition, l.offset, fmt.stream, fmt.origin};
      e.ack = Ack(token);
      if (l.length > l.text.size()) {
        if (!arena) arena = std::make_shared<Arena>();
        ctx.out.reject(rejected, std::move(e), "line_too_long",
                       arena->copy("the line is " + std::to_string(l.length) + " bytes, over max_line_bytes; its first " +
                                   std::to_string(l.text.size()) + " are kept"));
        continue;
      }
      if (fmt.plain) e.fields.push_back(Field{kMessage, e.raw, ValueKind::String});
      b.events.push_back(std::move(e));
    }
    if (!rejected.empty()) {
      rejected.hold(buffer);
      rejected.hold(std::move(arena));
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
