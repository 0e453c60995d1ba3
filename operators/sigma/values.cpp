#include "operators/sigma/values.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <variant>

namespace socstream::sigma {

void fold_ascii(std::string_view in, std::string& out) {
  out.resize(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    out[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
}

namespace {

std::string folded(std::string_view s) {
  std::string out;
  fold_ascii(s, out);
  return out;
}

void push_literal(SigmaString& s, std::string_view text) {
  if (text.empty()) return;
  if (!s.empty() && s.back().kind == Piece::Kind::Literal)
    s.back().text.append(text);
  else
    s.push_back({Piece::Kind::Literal, std::string(text)});
}

void push_piece(SigmaString& s, Piece p) {
  if (p.kind == Piece::Kind::Literal) return push_literal(s, p.text);
  if (p.kind == Piece::Kind::Star && !s.empty() && s.back().kind == Piece::Kind::Star) return;
  s.push_back(std::move(p));
}

bool has_wildcards(const SigmaString& s) {
  return std::any_of(s.begin(), s.end(), [](const Piece& p) { return p.kind != Piece::Kind::Literal; });
}

// Python's \w for the windash boundary test; bytes of multi-byte UTF-8 count as word characters.
bool is_word(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }

size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

std::string base64(std::string_view bytes) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
  }
  if (size_t rest = bytes.size() - i) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    if (rest == 2) v |= uint8_t(bytes[i + 1]) << 8;
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += rest == 2 ? t[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// UTF-8 to UTF-16 code units; invalid bytes are taken as Latin-1 so nothing is lost.
std::string utf16(std::string_view s, bool big_endian) {
  std::string out;
  auto unit = [&](uint16_t u) {
    if (big_endian) {
      out += char(u >> 8);
      out += char(u & 0xff);
    } else {
      out += char(u & 0xff);
      out += char(u >> 8);
    }
  };
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    size_t n = utf8_length(c);
    uint32_t cp = c;
    if (n > 1 && i + n <= s.size()) {
      cp = c & (0xFF >> (n + 1));
      for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (uint8_t(s[i + k]) & 0x3F);
    } else {
      n = 1;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      unit(static_cast<uint16_t>(0xD800 + (cp >> 10)));
      unit(static_cast<uint16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      unit(static_cast<uint16_t>(cp));
    }
    i += n;
  }
  return out;
}

bool parse_ip(std::string_view text, std::array<uint8_t, 16>& addr, bool& v6) {
  char buf[64];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = 0;
  addr.fill(0);
  if (inet_pton(AF_INET, buf, addr.data()) == 1) {
    v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, buf, addr.data()) == 1) {
    v6 = true;
    return true;
  }
  return false;
}

// A value on its way through the modifiers.
struct Str {
  SigmaString s;
  bool cased = false;
};
struct Regex {
  std::string pattern;
  bool i = false, m = false, s = false;
};
struct Cmp {
  ValueTest::Kind kind;
  double number;
};
struct Exists {
  bool present;
};
struct Null {};
struct Ref {
  std::string field;
  bool prefix = false, suffix = false;
};
using Value = std::variant<Str, Regex, Cidr, Cmp, Exists, Null, Ref>;

[[noreturn]] void bad(const Location& at, const std::string& reason, const std::string& msg) {
  throw RuleError{at, reason, msg};
}

std::vector<Str> windash(const Str& v, const Location& at) {
  // Positions where a '-' or '/' starts a word (Python's \B[-/]\b), per literal piece.
  static const char* dashes[] = {"-", "/", "\xE2\x80\x93", "\xE2\x80\x94", "\xE2\x80\x95"};
  std::vector<std::pair<size_t, size_t>> spots;  // (piece, byte)
  for (size_t p = 0; p < v.s.size(); ++p) {
    if (v.s[p].kind != Piece::Kind::Literal) continue;
    const std::string& t = v.s[p].text;
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i] != '-' && t[i] != '/') continue;
      const bool boundary_before = i == 0 || !is_word(static_cast<unsigned char>(t[i - 1]));
      const bool word_after = i + 1 < t.size() && is_word(static_cast<unsigned char>(t[i + 1]));
      if (boundary_before && word_after) spots.emplace_back(p, i);
    }
  }
  if (spots.size() > 3)
    bad(at, "bad_value", "windash expands at most three dashes in one value; split the value");
  std::vector<Str> out;
  size_t combos = 1;
  for (size_t k = 0; k < spots.size(); ++k) combos *= 5;
  for (size_t c = 0; c < combos; ++c) {
    Str copy;
    copy.cased = v.cased;
    size_t code = c;
    for (size_t p = 0; p < v.s.size(); ++p) {
      if (v.s[p].kind != Piece::Kind::Literal) {
        copy.s.push_back(v.s[p]);
        continue;
      }
      std::string text;
      const std::string& t = v.s[p].text;
      for (size_t i = 0; i < t.size(); ++i) {
        auto spot = std::find(spots.begin(), spots.end(), std::make_pair(p, i));
        if (spot == spots.end()) {
          text += t[i];
          continue;
        }
        size_t k = static_cast<size_t>(spot - spots.begin());
        size_t digit = code;
        for (size_t d = 0; d < k; ++d) digit /= 5;
        text += dashes[digit % 5];
      }
      push_literal(copy.s, text);
    }
    out.push_back(std::move(copy));
  }
  return out;
}

std::vector<Str> expand(const Str& v, const std::map<std::string, std::vector<std::string>>& placeholders,
                        const Location& at) {
  std::vector<Str> out{Str{{}, v.cased}};
  for (const auto& p : v.s) {
    if (p.kind != Piece::Kind::Placeholder) {
      for (auto& o : out) push_piece(o.s, p);
      continue;
    }
    auto it = placeholders.find(p.text);
    if (it == placeholders.end())
      bad(at, "unknown_placeholder", "placeholder %" + p.text + "% has no values (the operator's 'placeholders' setting)");
    std::vector<Str> next;
    for (const auto& o : out)
      for (const auto& value : it->second) {
        Str grown = o;
        for (auto& piece : parse_sigma_string(value, false)) push_piece(grown.s, std::move(piece));
        next.push_back(std::move(grown));
      }
    out = std::move(next);
  }
  return out;
}

ValueTest string_test(const Str& v, bool keyword) {
  SigmaString s = v.s;
  if (keyword) {
    if (s.empty() || s.front().kind != Piece::Kind::Star) s.insert(s.begin(), Piece{Piece::Kind::Star, ""});
    if (s.back().kind != Piece::Kind::Star) s.push_back(Piece{Piece::Kind::Star, ""});
  }
  ValueTest t;
  t.cased = v.cased;
  if (!v.cased)
    for (auto& p : s)
      if (p.kind == Piece::Kind::Literal) p.text = folded(p.text);
  auto lit = [](const Piece& p) { return p.kind == Piece::Kind::Literal; };
  auto star = [](const Piece& p) { return p.kind == Piece::Kind::Star; };
  if (s.empty()) {
    t.kind = ValueTest::Kind::Exact;
  } else if (s.size() == 1 && lit(s[0])) {
    t.kind = ValueTest::Kind::Exact;
    t.literal = s[0].text;
  } else if (s.size() == 1 && star(s[0])) {
    t.kind = ValueTest::Kind::Any;
  } else if (s.size() == 2 && lit(s[0]) && star(s[1])) {
    t.kind = ValueTest::Kind::Prefix;
    t.literal = s[0].text;
  } else if (s.size() == 2 && star(s[0]) && lit(s[1])) {
    t.kind = ValueTest::Kind::Suffix;
    t.literal = s[1].text;
  } else if (s.size() == 3 && star(s[0]) && lit(s[1]) && star(s[2])) {
    t.kind = ValueTest::Kind::Contains;
    t.literal = s[1].text;
  } else {
    t.kind = ValueTest::Kind::Glob;
    t.glob = std::move(s);
  }
  return t;
}

const std::vector<std::string>& known_modifiers() {
  static const std::vector<std::string> m{
      "contains", "startswith", "endswith", "all",     "re",       "i",    "ignorecase", "m",      "multiline",
      "s",        "dotall",     "windash",  "cidr",    "base64",   "base64offset", "wide", "utf16le", "utf16be",
      "utf16",    "exists",     "gt",       "gte",     "lt",       "lte",  "neq",        "cased",  "fieldref",
      "expand",   "minute",     "hour",     "day",     "week",     "month", "year"};
  return m;
}

}  // namespace

SigmaString parse_sigma_string(std::string_view raw, bool placeholders) {
  SigmaString s;
  std::string lit;
  auto flush = [&] {
    push_literal(s, lit);
    lit.clear();
  };
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\\' && i + 1 < raw.size() &&
        (raw[i + 1] == '*' || raw[i + 1] == '?' || raw[i + 1] == '\\' || (placeholders && raw[i + 1] == '%'))) {
      lit += raw[++i];
    } else if (c == '*' || c == '?') {
      flush();
      push_piece(s, Piece{c == '*' ? Piece::Kind::Star : Piece::Kind::One, ""});
    } else if (c == '%' && placeholders) {
      size_t close = raw.find('%', i + 1);
      if (close == std::string_view::npos || close == i + 1) {
        lit += c;
        continue;
      }
      flush();
      s.push_back(Piece{Piece::Kind::Placeholder, std::string(raw.substr(i + 1, close - i - 1))});
      i = close;
    } else {
      lit += c;
    }
  }
  flush();
  return s;
}

std::string to_plain(const SigmaString& s) {
  std::string out;
  for (const auto& p : s) {
    switch (p.kind) {
      case Piece::Kind::Literal: out += p.text; break;
      case Piece::Kind::Star: out += '*'; break;
      case Piece::Kind::One: out += '?'; break;
      case Piece::Kind::Placeholder: out += '%' + p.text + '%'; break;
    }
  }
  return out;
}

bool glob_match(const SigmaString& pattern, std::string_view text) {
  // Backtracking over the last star only: linear in practice, quadratic at worst.
  size_t pi = 0, ti = 0, star_p = SIZE_MAX, star_t = 0;
  while (ti < text.size() || pi < pattern.size()) {
    if (pi < pattern.size()) {
      const Piece& p = pattern[pi];
      if (p.kind == Piece::Kind::Star) {
        star_p = pi++;
        star_t = ti;
        continue;
      }
      if (p.kind == Piece::Kind::One && ti < text.size()) {
        ti += std::min(utf8_length(static_cast<unsigned char>(text[ti])), text.size() - ti);
        ++pi;
        continue;
      }
      if (p.kind == Piece::Kind::Literal && text.substr(ti, p.text.size()) == p.text) {
        ti += p.text.size();
        ++pi;
        continue;
      }
    }
    if (star_p == SIZE_MAX || star_t >= text.size()) return false;
    pi = star_p + 1;
    ti = ++star_t;
  }
  return true;
}

bool Cidr::contains(std::string_view text) const {
  std::array<uint8_t, 16> a;
  bool is6 = false;
  if (!parse_ip(text, a, is6) || is6 != v6) return false;
  int full = bits / 8, rest = bits % 8;
  if (std::memcmp(a.data(), addr.data(), static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a[static_cast<size_t>(full)] & mask) == (addr[static_cast<size_t>(full)] & mask);
}

bool ValueTest::match_text(std::string_view text, std::string_view folded_text) const {
  const std::string_view t = cased ? text : folded_text;
  switch (kind) {
    case Kind::Exact: return t == literal;
    case Kind::Prefix: return t.substr(0, literal.size()) == literal;
    case Kind::Suffix: return t.size() >= literal.size() && t.substr(t.size() - literal.size()) == literal;
    case Kind::Contains:
      return literal.empty() || memmem(t.data(), t.size(), literal.data(), literal.size()) != nullptr;
    case Kind::Glob: return glob_match(glob, t);
    case Kind::Any: return true;
    case Kind::Regex: return RE2::PartialMatch(text, *regex);
    case Kind::Cidr: return cidr.contains(text);
    case Kind::Lt:
    case Kind::Lte:
    case Kind::Gt:
    case Kind::Gte: {
      double v = 0;
      auto r = std::from_chars(text.data(), text.data() + text.size(), v);
      if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return false;
      return kind == Kind::Lt ? v < number : kind == Kind::Lte ? v <= number : kind == Kind::Gt ? v > number : v >= number;
    }
    default: return false;  // Null, Exists, FieldRef: decided by the evaluator
  }
}

std::string ValueTest::required_literal() const {
  switch (kind) {
    case Kind::Exact:
    case Kind::Prefix:
    case Kind::Suffix:
    case Kind::Contains: return literal;
    case Kind::Glob: {
      std::string best;
      for (const auto& p : glob)
        if (p.kind == Piece::Kind::Literal && p.text.size() > best.size()) best = p.text;
      return best;
    }
    default: return {};
  }
}

CompiledValues compile_values(const FieldItem& item, bool keyword,
                              const std::map<std::string, std::vector<std::string>>& placeholders) {
  CompiledValues out;
  const auto& known = known_modifiers();
  for (const auto& m : item.modifiers) {
    if (std::find(known.begin(), known.end(), m) == known.end()) {
      std::string msg = "unknown modifier '" + m + "'";
      if (auto c = closest(m, known)) msg += "; did you mean '" + *c + "'?";
      bad(item.where, "unknown_modifier", msg);
    }
    if (m == "minute" || m == "hour" || m == "day" || m == "week" || m == "month" || m == "year")
      bad(item.where, "unsupported_modifier", "the time-part modifier '" + m + "' is not supported");
  }
  const bool has_expand = std::find(item.modifiers.begin(), item.modifiers.end(), "expand") != item.modifiers.end();

  for (const auto& raw : item.values) {
    std::vector<Value> vals;
    switch (raw.kind) {
      case Scalar::Kind::Null: vals.push_back(Null{}); break;
      default: vals.push_back(Str{parse_sigma_string(raw.text, has_expand), false}); break;
    }
    size_t applied = 0;  // value-changing modifiers so far (re, cidr, exists must come first)
    for (const auto& m : item.modifiers) {
      auto each_str = [&](auto&& fn) {
        std::vector<Value> next;
        for (auto& v : vals) {
          if (auto* s = std::get_if<Str>(&v)) {
            for (auto& r : fn(*s)) next.push_back(std::move(r));
          } else {
            next.push_back(std::move(v));
          }
        }
        vals = std::move(next);
      };
      auto require_plain = [&](const char* what) {
        for (auto& v : vals) {
          auto* s = std::get_if<Str>(&v);
          if (!s) bad(raw.where, "bad_value", std::string("'") + what + "' applies to strings");
          if (has_wildcards(s->s))
            bad(raw.where, "bad_value", std::string("'") + what + "' of a value with wildcards is not defined");
        }
      };
      if (m == "all") {
        out.all = true;
        continue;
      }
      if (m == "neq") {
        out.negate = true;
        continue;
      }
      if (m == "contains" || m == "startswith" || m == "endswith") {
        for (auto& v : vals) {
          if (auto* s = std::get_if<Str>(&v)) {
            if (m != "endswith" && (s->s.empty() || s->s.back().kind != Piece::Kind::Star))
              s->s.push_back({Piece::Kind::Star, ""});
            if (m != "startswith" && (s->s.empty() || s->s.front().kind != Piece::Kind::Star))
              s->s.insert(s->s.begin(), {Piece::Kind::Star, ""});
          } else if (auto* r = std::get_if<Ref>(&v)) {
            r->prefix |= m != "endswith";
            r->suffix |= m != "startswith";
          } else if (!std::holds_alternative<Regex>(v)) {
            // A regex is searched anywhere already (as pySigma's backends do).
            bad(raw.where, "bad_value", "'" + m + "' applies to strings");
          }
        }
        ++applied;
        continue;
      }
      if (m == "cased") {
        for (auto& v : vals)
          if (auto* s = std::get_if<Str>(&v)) s->cased = true;
        continue;
      }
      if (m == "windash") {
        each_str([&](const Str& s) { return windash(s, raw.where); });
        ++applied;
        continue;
      }
      if (m == "expand") {
        each_str([&](const Str& s) { return expand(s, placeholders, raw.where); });
        continue;
      }
      if (m == "base64" || m == "base64offset") {
        require_plain(m.c_str());
        each_str([&](const Str& s) {
          const std::string data = to_plain(s.s);
          std::vector<Str> r;
          if (m == "base64") {
            r.push_back(Str{parse_sigma_string("", false), s.cased});
            push_literal(r.back().s, base64(data));
            return r;
          }
          // As pySigma: the encoding of the value at offsets 0, 1 and 2 of a
          // 3-byte group, cut to the characters that do not depend on its neighbours.
          static const size_t start[] = {0, 2, 3};
          static const int end[] = {0, -3, -2};
          for (size_t i = 0; i < 3; ++i) {
            std::string enc = base64(std::string(i, ' ') + data);
            const int cut = end[(data.size() + i) % 3];
            size_t stop = cut == 0 ? enc.size() : enc.size() - static_cast<size_t>(-cut);
            Str one{{}, s.cased};
            if (stop > start[i]) push_literal(one.s, enc.substr(start[i], stop - start[i]));
            r.push_back(std::move(one));
          }
          return r;
        });
        ++applied;
        continue;
      }
      if (m == "wide" || m == "utf16le" || m == "utf16be" || m == "utf16") {
        each_str([&](const Str& s) {
          Str enc{{}, s.cased};
          if (m == "utf16") push_literal(enc.s, std::string("\xFF\xFE", 2));
          for (const auto& p : s.s) {
            if (p.kind == Piece::Kind::Literal)
              push_literal(enc.s, utf16(p.text, m == "utf16be"));
            else
              push_piece(enc.s, p);
          }
          return std::vector<Str>{std::move(enc)};
        });
        ++applied;
        continue;
      }
      if (m == "re") {
        if (applied) bad(raw.where, "bad_value", "'re' must be the first modifier that changes the value");
        if (raw.kind == Scalar::Kind::Null) bad(raw.where, "bad_value", "'re' needs a pattern, not null");
        vals.assign(1, Regex{raw.text});
        ++applied;
        continue;
      }
      if (m == "i" || m == "ignorecase" || m == "m" || m == "multiline" || m == "s" || m == "dotall") {
        for (auto& v : vals) {
          auto* r = std::get_if<Regex>(&v);
          if (!r) bad(raw.where, "bad_value", "'" + m + "' is a flag of 're' and must follow it");
          if (m[0] == 'i') r->i = true;
          if (m[0] == 'm') r->m = true;
          if (m[0] == 's' || m[0] == 'd') r->s = true;
        }
        continue;
      }
      if (m == "cidr") {
        if (applied) bad(raw.where, "bad_value", "'cidr' must be the first modifier that changes the value");
        const std::string text = raw.text;
        size_t slash = text.find('/');
        Cidr c;
        int bits = -1;
        if (parse_ip(text.substr(0, slash), c.addr, c.v6)) {
          const int max = c.v6 ? 128 : 32;
          bits = max;
          if (slash != std::string::npos) {
            auto r = std::from_chars(text.data() + slash + 1, text.data() + text.size(), bits);
            if (r.ec != std::errc() || r.ptr != text.data() + text.size() || bits < 0 || bits > max) bits = -1;
          }
        }
        if (bits < 0) bad(raw.where, "bad_value", "'" + text + "' is not an IPv4 or IPv6 network (10.0.0.0/8, fe80::/10)");
        c.bits = bits;
        vals.assign(1, c);
        ++applied;
        continue;
      }
      if (m == "gt" || m == "gte" || m == "lt" || m == "lte") {
        if (raw.kind != Scalar::Kind::Number) bad(raw.where, "bad_value", "'" + m + "' compares with a number");
        const ValueTest::Kind k = m == "gt"    ? ValueTest::Kind::Gt
                                  : m == "gte" ? ValueTest::Kind::Gte
                                  : m == "lt"  ? ValueTest::Kind::Lt
                                               : ValueTest::Kind::Lte;
        double number = 0;
        auto r = std::from_chars(raw.text.data(), raw.text.data() + raw.text.size(), number);
        if (r.ec != std::errc() || !std::isfinite(number))
          bad(raw.where, "bad_value", "'" + m + "' compares with a finite number, not '" + raw.text + "'");
        vals.assign(1, Cmp{k, number});
        ++applied;
        continue;
      }
      if (m == "exists") {
        if (item.field.empty()) bad(raw.where, "bad_value", "'exists' needs a field");
        if (raw.kind != Scalar::Kind::Bool) bad(raw.where, "bad_value", "'exists' takes true or false");
        vals.assign(1, Exists{raw.text == "true"});
        ++applied;
        continue;
      }
      if (m == "fieldref") {
        require_plain("fieldref");
        if (item.field.empty()) bad(raw.where, "bad_value", "'fieldref' needs a field");
        vals.assign(1, Ref{to_plain(std::get<Str>(vals[0]).s)});
        ++applied;
        continue;
      }
    }
    ValueGroup group;
    group.where = raw.where;
    for (auto& v : vals) {
      ValueTest t;
      if (auto* s = std::get_if<Str>(&v)) {
        for (const auto& p : s->s)
          if (p.kind == Piece::Kind::Placeholder)
            bad(raw.where, "bad_value", "placeholder %" + p.text + "% without the 'expand' modifier");
        t = string_test(*s, keyword);
      } else if (auto* r = std::get_if<Regex>(&v)) {
        RE2::Options o;
        o.set_log_errors(false);
        o.set_case_sensitive(!r->i);
        o.set_dot_nl(r->s);
        o.set_never_nl(false);
        const std::string pattern = r->m ? "(?m)" + r->pattern : r->pattern;
        auto re = std::make_shared<RE2>(pattern, o);
        if (!re->ok())
          bad(raw.where, "regex_refused", "RE2 cannot compile '" + r->pattern + "': " + re->error());
        t.kind = ValueTest::Kind::Regex;
        t.regex = std::move(re);
      } else if (auto* c = std::get_if<Cidr>(&v)) {
        t.kind = ValueTest::Kind::Cidr;
        t.cidr = *c;
      } else if (auto* n = std::get_if<Cmp>(&v)) {
        t.kind = n->kind;
        t.number = n->number;
      } else if (auto* e = std::get_if<Exists>(&v)) {
        t.kind = e->present ? ValueTest::Kind::Exists : ValueTest::Kind::NotExists;
      } else if (std::holds_alternative<Null>(v)) {
        t.kind = ValueTest::Kind::Null;
      } else if (auto* f = std::get_if<Ref>(&v)) {
        t.kind = ValueTest::Kind::FieldRef;
        t.ref = f->field;
        t.ref_prefix = f->prefix;
        t.ref_suffix = f->suffix;
      }
      group.tests.push_back(std::move(t));
    }
    out.groups.push_back(std::move(group));
  }
  return out;
}

}  // namespace socstream::sigma
