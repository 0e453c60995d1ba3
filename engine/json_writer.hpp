#pragma once
// Hand-written JSON output: alerts and dead letters are built on the hot path,
// where a DOM would cost an allocation per value.
#include <string>
#include <string_view>

#include "engine/event.hpp"

namespace socstream::json {

// Appends s as a JSON string literal; bytes that are not UTF-8 become U+FFFD.
void append_string(std::string& out, std::string_view s);
// Appends a field value in its JSON form (strings quoted, numbers and JSON verbatim).
void append_value(std::string& out, const Field& f);
void append_base64(std::string& out, std::string_view bytes);
bool valid_utf8(std::string_view s);
// A token of RFC 8259's number grammar, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?:
// what may be written into JSON as it is (not 007, +1, 1. or 0x1F).
bool is_number(std::string_view v);

// {"name":..,"partition":..,"offset":..}
void append_source(std::string& out, const SourcePos& pos);

// The dead-letter record of an event: reason, detail, component, position and
// the original bytes (as "raw" when valid UTF-8, else "raw_base64").
void append_dead_letter(std::string& out, const Event& e);

// What a sink writes for an event: its payload, or, for a dead letter, its
// dead-letter record (built in scratch).
inline std::string_view payload(const Event& e, std::string& scratch) {
  if (e.error.empty()) return e.raw;
  scratch.clear();
  append_dead_letter(scratch, e);
  return scratch;
}

// One line for a JSON-lines sink.
inline void append_line(std::string& out, const Event& e) {
  if (!e.error.empty()) {
    append_dead_letter(out, e);
  } else {
    out.append(e.raw);
  }
  out.push_back('\n');
}

}  // namespace socstream::json
