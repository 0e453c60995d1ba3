#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace socstream {

enum class Severity : uint8_t { Info, Low, Medium, High, Critical };

inline const char* severity_name(Severity s) {
  static const char* names[] = {"info", "low", "medium", "high", "critical"};
  return names[static_cast<int>(s)];
}

// An ATT&CK tactic or technique a rule's tags name (TA0002 Execution, T1059.001 ...).
struct AttackRef {
  std::string id;
  std::string name;
};

// A detection rule as loaded from a rules file; events point at rules, which
// live as long as the topology. Regex rules fill the first five fields; Sigma
// rules also carry what an analyst needs to read an alert (and what DRL 1.1
// requires: the author), and what they were matched on.
struct Rule {
  std::string id;
  std::string pattern;
  Severity severity = Severity::Medium;
  std::vector<std::string> tags;
  std::string description;

  std::string kind = "regex";  // regex, sigma, sigma_correlation
  std::string title, status, level, author, date, modified, file;
  std::string ruleset;  // what alerts give as rule.ruleset: a rules file's stem, a Sigma rules tree's name
  std::vector<std::string> references, falsepositives;
  std::string product, category, service;  // the Sigma logsource
  std::vector<AttackRef> tactics, techniques;
};

}  // namespace socstream

#include <filesystem>
#include <optional>

#include "engine/config.hpp"

namespace socstream {

std::optional<Severity> parse_severity(std::string_view s);

// A rule together with where it was written, for errors found later (a pattern that does not compile).
struct RuleSource {
  Rule rule;
  Location where;          // the rule's entry
  Location pattern_where;  // its pattern
};

// Loads a rules file:
//   rules:
//     - {id: sqli-union, pattern: '(?i)union\s+select', severity: high, tags: [sqli], description: ...}
// Every problem goes to diag with the rules file's line and column.
std::vector<RuleSource> load_rules(const std::filesystem::path& file, Diagnostics& diag);

}  // namespace socstream
