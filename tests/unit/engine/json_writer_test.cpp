#include "engine/json_writer.hpp"

#include <gtest/gtest.h>

using namespace socstream;

namespace {
std::string reference_escape(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}
}  // namespace

TEST(JsonWriter, EscapesEveryPositionAcrossVectorBlocks) {
  // The scan works 32 bytes at a time: put each special byte at every offset of strings up to 100 bytes.
  const std::string specials = std::string("\"\\\n\r\t\b\f\x01\x1f", 9) + std::string(1, '\0');
  for (size_t len = 0; len <= 100; ++len) {
    for (size_t pos = 0; pos < len; ++pos) {
      for (char sp : specials) {
        std::string s(len, 'a');
        s[pos] = sp;
        if (pos + 33 < len) s[pos + 33] = '"';  // a second one further on
        std::string out;
        json::append_string(out, s);
        ASSERT_EQ(out, reference_escape(s)) << "len " << len << " pos " << pos << " byte " << int(sp);
      }
    }
  }
  std::string out;
  json::append_string(out, "caf\xc3\xa9 \xe2\x82\xac ok \x7f");
  EXPECT_EQ(out, "\"caf\xc3\xa9 \xe2\x82\xac ok \x7f\"") << "UTF-8 and DEL pass through";
}

TEST(JsonWriter, Base64) {
  auto b64 = [](std::string_view s) {
    std::string o;
    json::append_base64(o, s);
    return o;
  };
  EXPECT_EQ(b64(""), "");
  EXPECT_EQ(b64("f"), "Zg==");
  EXPECT_EQ(b64("fo"), "Zm8=");
  EXPECT_EQ(b64("foo"), "Zm9v");
  EXPECT_EQ(b64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(b64(std::string("\xff\x00\x80", 3)), "/wCA");
}
