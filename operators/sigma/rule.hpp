#pragma once
// Sigma rules as written: the YAML of a detection or correlation rule turned
// into a tree that keeps every position, so a rule that cannot be compiled
// is reported at its file, line and column with its id and title. Nothing
// here knows about events or pipelines (compiler.hpp does).
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/config.hpp"

namespace socstream::sigma {

// A rule the loader or the compiler would not take, and why. `reason` is a
// short stable code (validate groups by it); `message` the human detail.
struct Refusal {
  Location where;
  std::string rule_id;
  std::string title;
  std::string reason;
  std::string message;
  std::string str() const;
};

// Thrown while parsing or compiling one rule; the rule is refused, the others go on.
struct RuleError {
  Location where;
  std::string reason;
  std::string message;
};

// A scalar of a detection as YAML typed it: 'null' and 1 are not "null" and "1".
struct Scalar {
  enum class Kind { String, Number, Bool, Null } kind = Kind::String;
  std::string text;
  Location where;
};

// `Field|mod|mod: values`. An empty field is a keyword (field-less) search.
struct FieldItem {
  std::string field;
  std::vector<std::string> modifiers;
  std::vector<Scalar> values;  // OR unless the `all` modifier; a plain value is a list of one
  Location where;
};

// A search identifier: OR over alternatives, each an AND of items.
struct Search {
  std::string name;
  std::vector<std::vector<FieldItem>> alternatives;
  Location where;
};

struct LogSource {
  std::string product, category, service;
};

struct Correlation {
  std::string type;                   // event_count, value_count, temporal, temporal_ordered
  std::vector<std::string> rules;     // ids or names
  std::vector<std::string> group_by;
  int64_t timespan_ms = 0;
  // condition: operator -> threshold (gt, gte, lt, lte, eq, neq), and value_count's field.
  std::vector<std::pair<std::string, double>> condition;
  std::string field;
  // alias -> (rule name -> field)
  std::map<std::string, std::map<std::string, std::string>> aliases;
  bool generate = false;
  Location where;
};

struct Rule {
  std::string file;
  Location where;  // the document's start
  std::string title, id, name, status, description, author, level, date, modified;
  std::vector<std::string> references, falsepositives, tags;
  LogSource logsource;
  std::vector<Search> searches;
  std::vector<std::pair<std::string, Location>> conditions;  // several: OR
  std::optional<Correlation> correlation;

  // The id alerts and correlations use: `id`, else `name`, else the file and title.
  std::string key() const;
};

// A map of `Field|modifiers: values` (a selection, or a pipeline's conditions); throws RuleError.
std::vector<FieldItem> parse_selection(const YAML::Node& map, const std::string& file);

// Parses one YAML document as a rule; throws RuleError.
Rule parse_rule(const YAML::Node& doc, const std::string& file);

// Expands the `rules:` setting (files, directories read recursively for
// *.yml/*.yaml, globs with * ? and [..] in the last components), sorted, each
// file once. Entries that name nothing are refusals of their own.
std::vector<std::filesystem::path> expand_rule_paths(const std::vector<std::filesystem::path>& entries,
                                                     std::vector<Refusal>& refused);

// Loads every document of every file; refusals collect what did not parse.
std::vector<Rule> load_rules(const std::vector<std::filesystem::path>& files, std::vector<Refusal>& refused);

}  // namespace socstream::sigma
