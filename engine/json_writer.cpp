#include "engine/json_writer.hpp"

#include <simdjson.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

#include <fmt/format.h>

namespace socstream::json {

namespace {

// The index of the first byte at or after i that JSON requires escaping
// (control characters, '"', '\\'), or s.size(). Alert documents are mostly long
// strings with nothing to escape, so this scans 32 bytes per step.
size_t next_escape(std::string_view s, size_t i) {
#ifdef __AVX2__
  const __m256i quote = _mm256_set1_epi8('"'), backslash = _mm256_set1_epi8('\\');
  for (; i + 32 <= s.size(); i += 32) {
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.data() + i));
    // Bytes below 0x20 (unsigned): min(v, 0x1f) == v.
    __m256i ctrl = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v);
    __m256i hit = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, quote), _mm256_cmpeq_epi8(v, backslash)), ctrl);
    if (uint32_t mask = static_cast<uint32_t>(_mm256_movemask_epi8(hit))) return i + static_cast<size_t>(__builtin_ctz(mask));
  }
#endif
  for (; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == '"' || c == '\\') return i;
  }
  return i;
}

// The length of the valid UTF-8 sequence at s[i], or 0 (RFC 3629: no
// overlongs, no surrogates, nothing above U+10FFFF).
size_t utf8_sequence(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u; };
  auto cont = [&](size_t k) { return (b(k) & 0xC0) == 0x80; };
  const unsigned c = b(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return b(i + 1) >= lo && b(i + 1) <= hi && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return b(i + 1) >= lo && b(i + 1) <= hi && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

// Each byte that starts no valid sequence becomes U+FFFD.
std::string repair_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence(s, i);
    if (n) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

}  // namespace

void append_string(std::string& out, std::string_view s) {
  // JSON text is UTF-8: a log line in Latin-1, or bytes an attacker chose,
  // must not make the document unreadable (one SIMD pass when it is valid).
  // ASCII is valid UTF-8: most strings of an alert (its keys, ids, ECS values)
  // are short ASCII, for which this loop is cheaper than a call to simdjson.
  unsigned char high = 0;
  for (unsigned char c : s) high |= c;
  if (high >= 0x80 && !simdjson::validate_utf8(s.data(), s.size())) {
    const std::string repaired = repair_utf8(s);
    append_string(out, repaired);
    return;
  }
  static const char hex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;
  for (size_t i = 0; (i = next_escape(s, i)) < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void append_value(std::string& out, const Field& f) {
  if (f.kind == ValueKind::String)
    append_string(out, f.value);
  else
    out.append(f.value);
}

void append_base64(std::string& out, std::string_view in) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out.reserve(out.size() + (in.size() + 2) / 3 * 4);
  size_t i = 0;
  auto b = [&](size_t k) { return static_cast<unsigned char>(in[k]); };
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = b(i) << 16 | b(i + 1) << 8 | b(i + 2);
    out.push_back(tbl[v >> 18]);
    out.push_back(tbl[(v >> 12) & 63]);
    out.push_back(tbl[(v >> 6) & 63]);
    out.push_back(tbl[v & 63]);
  }
  if (i < in.size()) {
    uint32_t v = b(i) << 16 | (i + 1 < in.size() ? b(i + 1) << 8 : 0);
    out.push_back(tbl[v >> 18]);
    out.push_back(tbl[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? tbl[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
}

bool valid_utf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

bool is_number(std::string_view v) {
  size_t i = 0;
  auto digits = [&] {
    const size_t from = i;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
    return i - from;
  };
  if (i < v.size() && v[i] == '-') ++i;
  if (i < v.size() && v[i] == '0') ++i;
  else if (digits() == 0) return false;
  if (i < v.size() && v[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  }
  if (i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
    ++i;
    if (i < v.size() && (v[i] == '+' || v[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == v.size();
}

void append_source(std::string& out, const SourcePos& pos) {
  out += "{\"name\":";
  append_string(out, pos.source ? std::string_view(*pos.source) : std::string_view());
  out += ",\"stream\":";
  append_string(out, pos.stream);
  fmt::format_to(std::back_inserter(out), ",\"partition\":{},\"offset\":{}}}", pos.partition, pos.offset);
}

void append_dead_letter(std::string& out, const Event& e) {
  out += "{\"error\":{\"reason\":";
  append_string(out, e.error);
  out += ",\"detail\":";
  append_string(out, e.error_detail);
  out += ",\"component\":";
  append_string(out, e.error_component ? std::string_view(*e.error_component) : std::string_view());
  out += "},\"source\":";
  append_source(out, e.pos);
  fmt::format_to(std::back_inserter(out), ",\"size\":{}", e.raw.size());
  if (valid_utf8(e.raw)) {
    out += ",\"raw\":";
    append_string(out, e.raw);
  } else {
    out += ",\"raw_base64\":\"";
    append_base64(out, e.raw);
    out += '"';
  }
  out += '}';
}

}  // namespace socstream::json
