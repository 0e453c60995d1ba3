#pragma once
// Splits a byte stream into lines without copying them: each read fills a fresh
// buffer that the emitted events keep alive, and only a partial last line is
// carried into the next buffer. Every buffer ends with zeroed slack so that
// parsers needing readable padding past a value (simdjson) can use it in place.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/component.hpp"

namespace socstream {

struct LineBuffer {
  std::unique_ptr<char[]> data;
  size_t capacity = 0;  // usable bytes, not counting the slack
};

struct Line {
  std::string_view text;  // without the '\n' (a trailing '\r' is kept: it is JSON whitespace)
  int64_t offset = 0;     // byte offset of the line's start in the stream
  size_t length = 0;      // full length; larger than text.size() when truncated
};

class LineReader {
 public:
  static constexpr size_t kSlack = Batch::kRawPadding;

  LineReader(size_t block_bytes, size_t max_line_bytes) : block_(block_bytes), max_line_(max_line_bytes) {}

  // Reads once from fd (which may block) and appends the complete lines found.
  // Returns the bytes read: 0 at end of input, -1 on error (errno set).
  ssize_t read_from(int fd, std::vector<Line>& lines, std::shared_ptr<LineBuffer>& buffer);
  // At end of input: the last line had no '\n'; return it as a line.
  bool take_partial(std::vector<Line>& lines, std::shared_ptr<LineBuffer>& buffer);
  // The stream restarts (file rotated or truncated): forget any partial line.
  void reset(int64_t offset);
  int64_t offset() const { return offset_; }  // bytes consumed into complete lines

  // A hot reload hands the stream to the next topology's source: it resumes
  // at the start of the line not emitted yet, with the bytes already read
  // past it (what a stream that cannot be read again, stdin, must not lose).
  int64_t resume_offset() const { return skipping_ ? head_offset_ : offset_; }
  bool skipping() const { return skipping_; }
  std::string pending() const;
  void resume(int64_t offset, std::string_view pending);

 private:
  void scan(std::vector<Line>& lines);
  size_t block_;
  size_t max_line_;
  std::shared_ptr<LineBuffer> buf_;
  size_t begin_ = 0;  // start of the pending partial line in buf_
  size_t end_ = 0;    // bytes filled in buf_
  int64_t offset_ = 0;
  // A line longer than max_line_ is skipped to its end, then emitted as its
  // head (up to kHeadKept bytes, carried from buffer to buffer) with its real
  // length, which its dead letter reports.
  bool skipping_ = false;
  std::string head_;
  int64_t head_offset_ = 0;
  size_t skipped_ = 0;  // bytes of the over-long line so far

 public:
  static constexpr size_t kHeadKept = 64 << 10;
};

// A reader from a line source's read_buffer_bytes and max_line_bytes (both
// must be positive: 0 would read nothing, or invent empty events).
LineReader make_line_reader(const Settings& s, uint64_t default_block);

// How a line-based source turns lines into events.
struct LineFormat {
  bool plain = false;  // plain lines also carry the line as the field "message"
  size_t batch_size = 1024;
  std::string stream;  // what events name as their stream (the file as configured)
  uint64_t origin = 0;  // which instance of that stream (SourcePos::origin)
  // Makes the token of a batch of n lines spanning bytes [first, end) of the
  // stream; none: the context's counting token.
  std::function<AckToken*(SourceContext&, uint32_t n, int64_t first, int64_t end)> make_token;
  FieldWrites writes() const { return {plain ? std::vector<std::string>{"message"} : std::vector<std::string>{}}; }
};

// Emits lines as batches with completion tokens. Truncated (over-long) lines go
// to the source's dlq port with the reason, so nothing vanishes silently.
void emit_lines(SourceContext& ctx, const std::vector<Line>& lines, const std::shared_ptr<LineBuffer>& buffer,
                const LineFormat& fmt, int32_t partition = 0);

// Settings shared by line-based sources.
std::vector<SettingSpec> line_source_settings();
LineFormat line_format(const Settings& s);

}  // namespace socstream
