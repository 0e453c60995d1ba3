#pragma once
// Times as logs write them, to milliseconds since the epoch (UTC), and back
// to RFC 3339. A log's own zone wins; where it has none (RFC 3164 syslog,
// ISO dates without an offset) the caller's offset applies.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace socstream::timestamp {

int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
// "Jan" .. "Dec" (any case) -> 1..12, else 0.
int month_from_abbrev(std::string_view s);
// "Z", "UTC", "GMT", "+02:00", "-0700", "+02" -> milliseconds east of UTC.
std::optional<int64_t> parse_offset(std::string_view s);

// RFC 3339 and ISO 8601 relatives: 2026-11-30T10:00:00.123Z, "2020-10-18 07:50:06.220"
// (no zone: `offset_ms`), 2026-11-30T10:00:00+01:00.
std::optional<int64_t> parse_iso8601(std::string_view s, int64_t offset_ms = 0);
// Seconds (below 1e11) or milliseconds since the epoch.
std::optional<int64_t> parse_epoch(std::string_view s);
// Common Log Format: 10/Oct/2000:13:55:36 -0700
std::optional<int64_t> parse_clf(std::string_view s);
// RFC 3164: "Oct 11 22:14:15" (also "Oct  1 ..."): no year and no zone. The
// year is the one that puts the time closest to `now_ms` (a December line read
// in January is last year's).
std::optional<int64_t> parse_bsd(std::string_view s, int64_t now_ms, int64_t offset_ms);
// strptime's format (%Y %m %d %H %M %S %b %z ...); fractions after %S are read.
std::optional<int64_t> parse_format(std::string_view s, const std::string& format, int64_t offset_ms);
// Any of the above that fits, tried in that order (without a format).
std::optional<int64_t> parse_any(std::string_view s, int64_t now_ms, int64_t offset_ms);

// 2026-11-30T10:00:00.123Z
std::string rfc3339(int64_t ms);
// Within years 0000 to 9999, what RFC 3339 and ECS dates can say: a time a
// sender pushed outside it is no time (it would not index), not a wrong one.
inline bool representable(int64_t ms) { return ms >= -62167219200000 && ms <= 253402300799999; }

}  // namespace socstream::timestamp
