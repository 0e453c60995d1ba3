#pragma once
// A pipeline maps Sigma's taxonomy onto one stream's events: which event
// field holds a Sigma field, and which events a log source means (the format
// is documented in config/sigma/pipelines/nxlog.yaml and docs/sigma.md).
// Built-in pipelines are those YAML files compiled into the binary, so a
// topology can name them without the repository at hand.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "operators/embedded.hpp"
#include "operators/sigma/rule.hpp"

namespace socstream::sigma {

struct PipelineEntry {
  LogSource logsource;                          // an empty product covers every product
  std::vector<FieldItem> conditions;            // a selection, in Sigma field names
  std::map<std::string, std::string> renames;   // Sigma field -> Sigma field, for these events
  std::set<std::string> unsupported;            // Sigma fields these events never carry
  Location where;
  std::string describe() const;                 // "product=windows category=process_creation #2"
  bool covers(const LogSource& rule) const;
};

struct Pipeline {
  std::string name, description;
  std::map<std::string, std::vector<std::string>> fields;
  std::string field_template = "{}";
  std::vector<std::string> timestamp;
  std::vector<std::string> keyword_fields;  // empty: every field
  bool unmapped_any = false;
  // Event field names are compared with their spaces removed ("Threat Name" is
  // ThreatName), as the Sigma taxonomy names Windows event data fields.
  bool strip_spaces = false;
  std::vector<PipelineEntry> logsources;

  // The event fields holding a Sigma field for the events of `entry` (may be null).
  std::vector<std::string> event_fields(const std::string& sigma_field, const PipelineEntry* entry) const;
  std::vector<const PipelineEntry*> covering(const LogSource& ls) const;
};

// `name_or_path`: a built-in name (nxlog, evtx_json, ecs, none) or a YAML file
// (relative paths against `base_dir`). Throws ConfigError at the file's position.
Pipeline load_pipeline(const std::string& name_or_path, const std::filesystem::path& base_dir);

std::vector<std::string> builtin_pipelines();

}  // namespace socstream::sigma
