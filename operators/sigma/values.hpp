#pragma once
// The value side of a detection item: a Sigma string (literals, `*` and `?`
// wildcards, backslash escapes) run through its modifiers in the order written,
// then compiled into tests on one field value. Case-insensitive tests compare
// against the value folded to ASCII lower case once per event and field (as
// pySigma's SQL backends do with LIKE); `cased` tests use the bytes as they are.
#include <re2/re2.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "operators/sigma/rule.hpp"

namespace socstream::sigma {

// A parsed Sigma string.
struct Piece {
  enum class Kind : uint8_t { Literal, Star, One, Placeholder } kind = Kind::Literal;
  std::string text;  // the literal bytes, or the placeholder's name
};
using SigmaString = std::vector<Piece>;

SigmaString parse_sigma_string(std::string_view raw, bool placeholders);
std::string to_plain(const SigmaString& s);  // literals only; wildcards as * and ?

struct Cidr {
  std::array<uint8_t, 16> addr{};
  int bits = 0;
  bool v6 = false;
  bool contains(std::string_view text) const;
};

// One test of one field value.
struct ValueTest {
  enum class Kind : uint8_t {
    Exact, Prefix, Suffix, Contains, Glob, Any,  // string tests, on folded text unless cased
    Regex, Cidr, Lt, Lte, Gt, Gte, Null, Exists, NotExists, FieldRef
  };
  Kind kind = Kind::Exact;
  bool cased = false;
  std::string literal;                 // Exact..Contains (folded unless cased)
  SigmaString glob;                    // Glob (folded unless cased)
  std::shared_ptr<const RE2> regex;    // Regex
  Cidr cidr;                           // Cidr
  double number = 0;                   // Lt..Gte
  std::string ref;                     // FieldRef: the other field's Sigma name
  std::vector<uint32_t> ref_fields;    // FieldRef: its event fields (set by the compiler)
  bool ref_prefix = false, ref_suffix = false;  // FieldRef with startswith/endswith/contains

  // A string test against the value's text (original) and its folded form.
  bool match_text(std::string_view text, std::string_view folded) const;
  bool is_string_test() const { return kind <= Kind::Any; }
  // The longest run of literal bytes every matching value must contain, for the
  // prefilter (empty when there is none: regex, cidr, numbers, null, exists).
  std::string required_literal() const;
};

// What one value of an item expands to: tests linked with OR (windash,
// base64offset, expand and cidr can make several of one value).
struct ValueGroup {
  std::vector<ValueTest> tests;
  Location where;
};

struct CompiledValues {
  std::vector<ValueGroup> groups;
  bool all = false;     // AND over groups (the `all` modifier)
  bool negate = false;  // `neq`: the item holds when no group matches
};

// Runs an item's modifiers over its values. `keyword` items match anywhere in
// the text (an implicit contains). Throws RuleError (unknown_modifier, bad_value,
// regex_refused, unknown_placeholder).
CompiledValues compile_values(const FieldItem& item, bool keyword,
                              const std::map<std::string, std::vector<std::string>>& placeholders);

// ASCII lower case: what case-insensitive tests compare.
void fold_ascii(std::string_view in, std::string& out);
bool glob_match(const SigmaString& pattern, std::string_view text);

}  // namespace socstream::sigma
