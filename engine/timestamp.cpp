#include "engine/timestamp.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <ctime>

namespace socstream::timestamp {

namespace {

int digits(std::string_view s, size_t at, size_t n) {
  int v = 0;
  if (at + n > s.size()) return -1;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

bool valid(int y, int mo, int d, int h, int mi, int se) {
  // 24:00:00 (ISO 8601's end of day) and a leap second :60 exist; 24:01 and 25:00 do not.
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 24 || mi < 0 || mi > 59 || se < 0 || se > 60) return false;
  if (h == 24 && (mi != 0 || se != 0)) return false;
  // 31/Feb is no date: read as 3 March it would move an event's time by days.
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= days[mo - 1] + (mo == 2 && leap);
}

int64_t to_ms(int y, int mo, int d, int h, int mi, int se) {
  return (days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + se) *
         1000;
}

// ".123456" after seconds: milliseconds, and how many characters it took.
int64_t fraction(std::string_view s, size_t& i) {
  int64_t frac = 0, scale = 1000;
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i)
      if (scale > 1) {
        scale /= 10;
        frac += (s[i] - '0') * scale;
      }
  }
  return frac;
}

}  // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int month_from_abbrev(std::string_view s) {
  static const char* names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  if (s.size() < 3) return 0;
  char m[3];
  for (int i = 0; i < 3; ++i) m[i] = static_cast<char>(s[static_cast<size_t>(i)] | 0x20);
  for (int i = 0; i < 12; ++i)
    if (std::memcmp(m, names[i], 3) == 0) return i + 1;
  return 0;
}

std::optional<int64_t> parse_offset(std::string_view s) {
  if (s == "Z" || s == "z" || s == "UTC" || s == "GMT" || s == "utc") return 0;
  if (s.size() < 3 || (s[0] != '+' && s[0] != '-')) return std::nullopt;
  const int sign = s[0] == '+' ? 1 : -1;
  int h = digits(s, 1, 2), m = 0;
  if (h < 0 || h > 23) return std::nullopt;
  if (s.size() == 6 && s[3] == ':')
    m = digits(s, 4, 2);
  else if (s.size() == 5)
    m = digits(s, 3, 2);
  else if (s.size() != 3)
    return std::nullopt;
  if (m < 0 || m > 59) return std::nullopt;
  return sign * (h * 60 + m) * 60'000LL;
}

std::optional<int64_t> parse_iso8601(std::string_view s, int64_t offset_ms) {
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
      s[16] != ':')
    return std::nullopt;
  const int y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2), h = digits(s, 11, 2), mi = digits(s, 14, 2),
            se = digits(s, 17, 2);
  if (!valid(y, mo, d, h, mi, se)) return std::nullopt;
  size_t i = 19;
  int64_t ms = to_ms(y, mo, d, h, mi, se) + fraction(s, i);
  if (i == s.size()) return ms - offset_ms;
  auto off = parse_offset(s.substr(i));
  if (!off) return std::nullopt;
  return ms - *off;
}

std::optional<int64_t> parse_epoch(std::string_view s) {
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  const double ms = v < 1e11 ? v * 1000 : v;
  if (!(ms >= 0 && ms <= 253402300799999.0)) return std::nullopt;  // before 1970 or after 9999: not a time
  return static_cast<int64_t>(ms);
}

std::optional<int64_t> parse_clf(std::string_view s) {
  // 10/Oct/2000:13:55:36 -0700
  if (s.size() < 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' || s[20] != ' ')
    return std::nullopt;
  const int d = digits(s, 0, 2), mo = month_from_abbrev(s.substr(3, 3)), y = digits(s, 7, 4), h = digits(s, 12, 2),
            mi = digits(s, 15, 2), se = digits(s, 18, 2);
  if (!valid(y, mo, d, h, mi, se)) return std::nullopt;
  auto off = parse_offset(s.substr(21));
  if (!off) return std::nullopt;
  return to_ms(y, mo, d, h, mi, se) - *off;
}

std::optional<int64_t> parse_bsd(std::string_view s, int64_t now_ms, int64_t offset_ms) {
  // Oct 11 22:14:15, with the day space-padded ("Oct  1")
  if (s.size() < 15 || s[3] != ' ' || s[9] != ':' || s[12] != ':') return std::nullopt;
  const int mo = month_from_abbrev(s.substr(0, 3));
  const int d = s[4] == ' ' ? digits(s, 5, 1) : digits(s, 4, 2);
  const int h = digits(s, 7, 2), mi = digits(s, 10, 2), se = digits(s, 13, 2);
  size_t i = 15;
  const int64_t frac = fraction(s, i);
  if (!valid(2000, mo, d, h, mi, se) || i != s.size()) return std::nullopt;
  // The year nearest the clock: the line is at most about half a year old or ahead.
  const int64_t now_days = now_ms / 86'400'000;
  int64_t z = now_days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  int64_t year = yoe + era * 400 + (month <= 2);
  int64_t best = 0, best_gap = INT64_MAX;
  for (int64_t y : {year - 1, year, year + 1}) {
    if (!valid(static_cast<int>(y), mo, d, h, mi, se)) continue;  // 29 February only in leap years
    const int64_t t = to_ms(static_cast<int>(y), mo, d, h, mi, se) + frac - offset_ms;
    const int64_t gap = t > now_ms ? t - now_ms : now_ms - t;
    if (gap < best_gap) {
      best_gap = gap;
      best = t;
    }
  }
  if (best_gap == INT64_MAX) return std::nullopt;  // 29 February with no leap year near
  return best;
}

std::optional<int64_t> parse_format(std::string_view s, const std::string& format, int64_t offset_ms) {
  std::string text(s);
  struct tm tm {};
  const char* end = ::strptime(text.c_str(), format.c_str(), &tm);
  if (!end) return std::nullopt;
  size_t i = static_cast<size_t>(end - text.c_str());
  const int64_t frac = fraction(text, i);
  int64_t off = offset_ms;
  if (format.find("%z") != std::string::npos) off = tm.tm_gmtoff * 1000;
  if (i != text.size()) return std::nullopt;
  if (tm.tm_year == 0 && format.find("%Y") == std::string::npos && format.find("%y") == std::string::npos)
    return std::nullopt;  // a format without a year needs parse_bsd's rule
  // strptime takes %d up to 31 in any month.
  if (!valid(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)) return std::nullopt;
  return to_ms(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec) + frac - off;
}

std::optional<int64_t> parse_any(std::string_view s, int64_t now_ms, int64_t offset_ms) {
  if (auto t = parse_iso8601(s, offset_ms)) return t;
  if (auto t = parse_clf(s)) return t;
  if (auto t = parse_bsd(s, now_ms, offset_ms)) return t;
  return parse_epoch(s);
}

std::string rfc3339(int64_t ms) {
  const int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const int64_t days = s >= 0 ? s / 86400 : (s - 86399) / 86400;
  const int64_t rem = s - days * 86400;
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  if (y < 0 || y > 9999)
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", y, m, d, rem / 3600, rem / 60 % 60, rem % 60,
                       ((ms % 1000) + 1000) % 1000);
  // Every parsed line pays for this: digits by hand, a fifth of fmt's cost.
  char out[25] = "0000-00-00T00:00:00.000Z";
  auto put = [&](size_t at, int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i, v /= 10) out[at + static_cast<size_t>(i)] = static_cast<char>('0' + v % 10);
  };
  put(0, y, 4);
  put(5, m, 2);
  put(8, d, 2);
  put(11, rem / 3600, 2);
  put(14, rem / 60 % 60, 2);
  put(17, rem % 60, 2);
  put(20, ((ms % 1000) + 1000) % 1000, 3);
  return std::string(out, 24);
}

}  // namespace socstream::timestamp
