#include "connectors/line_reader.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/support/test_support.hpp"

using namespace socstream;
using namespace socstream::testing;

namespace {
std::vector<Line> read_all(const std::string& content, size_t block, size_t max_line,
                           std::vector<std::shared_ptr<LineBuffer>>& keep) {
  TempDir dir;
  auto p = dir.write("in.txt", content);
  int fd = ::open(p.c_str(), O_RDONLY);
  LineReader r(block, max_line);
  std::vector<Line> lines;
  std::shared_ptr<LineBuffer> buf;
  while (r.read_from(fd, lines, buf) > 0) keep.push_back(buf);
  if (r.take_partial(lines, buf)) keep.push_back(buf);
  ::close(fd);
  return lines;
}
}  // namespace

TEST(LineReader, SplitsAcrossSmallReadsWithOffsets) {
  std::vector<std::shared_ptr<LineBuffer>> keep;
  auto lines = read_all("alpha\nbe\n\ngamma-gamma-gamma\nlast", 4, 1 << 20, keep);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0].text, "alpha");
  EXPECT_EQ(lines[1].text, "be");
  EXPECT_EQ(lines[2].text, "");
  EXPECT_EQ(lines[3].text, "gamma-gamma-gamma");
  EXPECT_EQ(lines[4].text, "last");
  EXPECT_EQ(lines[0].offset, 0);
  EXPECT_EQ(lines[1].offset, 6);
  EXPECT_EQ(lines[3].offset, 10);
  EXPECT_EQ(lines[4].offset, 28);
}

TEST(LineReader, OverlongLineIsTruncatedAndTheRestSkipped) {
  std::vector<std::shared_ptr<LineBuffer>> keep;
  std::string big(100, 'x');
  auto lines = read_all("ok\n" + big + "\nafter\n", 8, 32, keep);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1].text.size(), 32u);
  EXPECT_GT(lines[1].length, lines[1].text.size());
  EXPECT_EQ(lines[2].text, "after");
  EXPECT_EQ(lines[2].offset, 3 + 101);
}
