#pragma once
// Sigma conditions: `selection and not 1 of filter_*`, parsed into a tree over
// the rule's search identifiers. Precedence, loosest first: or, and, not,
// `1 of`/`all of`, parentheses. `them` is every identifier not starting with
// `_`; a pattern's `*` matches any run of characters.
#include <string>
#include <vector>

#include "operators/sigma/rule.hpp"

namespace socstream::sigma {

struct Cond {
  enum class Op { And, Or, Not, Search };
  Op op = Op::Search;
  int search = -1;  // Op::Search: index into Rule::searches
  std::vector<Cond> kids;
};

// Parses one condition against the rule's searches; throws RuleError (bad_condition,
// unsupported for the Sigma 1.0 `| count()` aggregations) pointing into the text.
Cond parse_condition(const std::string& text, const Location& where, const std::vector<Search>& searches);

// Wildcard match of a search-identifier pattern (`selection_*`).
bool identifier_matches(std::string_view pattern, std::string_view name);

}  // namespace socstream::sigma
