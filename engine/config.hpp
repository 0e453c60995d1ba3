#pragma once
// Configuration access with positions. Every error names file, line and column;
// a whole file is checked before anything runs so `validate` lists every error.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace socstream {

class ComponentContext;  // engine/context.hpp

struct Location {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
  std::string str() const;
};

Location location_of(const YAML::Node& node, const std::string& file);
Location location_of(const YAML::Mark& mark, const std::string& file);

struct Diagnostic {
  Location where;
  std::string message;
  bool warning = false;
  std::string str() const { return where.str() + (warning ? ": warning: " : ": error: ") + message; }
};

// Errors stop a topology from loading; warnings (a field nothing upstream
// gives, say) are printed by `validate` and logged by `run`, which go on.
class Diagnostics {
 public:
  void error(Location where, std::string message) { list_.push_back({std::move(where), std::move(message)}); }
  void warn(Location where, std::string message) {
    warnings_.push_back({std::move(where), std::move(message), true});
  }
  bool ok() const { return list_.empty(); }
  size_t count() const { return list_.size(); }
  const std::vector<Diagnostic>& list() const { return list_; }
  const std::vector<Diagnostic>& warnings() const { return warnings_; }
  std::string str() const;           // the errors, one per line
  std::string warnings_str() const;  // the warnings, one per line

 private:
  std::vector<Diagnostic> list_, warnings_;
};

// Thrown where one error ends the work (a file that does not parse).
class ConfigError : public std::runtime_error {
 public:
  ConfigError(Location where, const std::string& message)
      : std::runtime_error(where.str() + ": error: " + message), where_(std::move(where)), message_(message) {}
  const Location& where() const { return where_; }
  const std::string& message() const { return message_; }

 private:
  Location where_;
  std::string message_;
};

// Expands ${VAR}, ${VAR:-default} and $$. Returns nullopt and sets `error` if a
// variable without default is unset.
std::optional<std::string> interpolate(std::string_view text, std::string& error);

// Loads a YAML file, turning parse errors into ConfigError with the position.
YAML::Node load_yaml_file(const std::filesystem::path& path);
// What a path is now, for --watch and for telling a changed component from an
// unchanged one: size, modification time and inode of a file, and of every
// file below a directory (links not followed), hashed; "missing" when absent.
std::string path_fingerprint(const std::filesystem::path& p);

// A YAML tree as JSON (scalars that are JSON numbers, true, false or null
// stay so, the rest are strings), for the admin API to show configuration.
std::string yaml_to_json(const YAML::Node& node);

// The closest candidate within a small edit distance, for "did you mean".
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates);

// Any: the component checks the shape itself (a setting that is a word or a map, say).
enum class SettingType { String, Int, Bytes, Double, Bool, StringList, StringMap, Any };
const char* setting_type_name(SettingType t);

struct SettingSpec {
  std::string name;
  SettingType type = SettingType::String;
  bool required = false;
  std::string help;
};

// The settings of one component: typed, interpolated reads that record errors
// at the setting's position and fall back to the given default.
class Settings {
 public:
  Settings(YAML::Node node, std::string component, std::string file, std::filesystem::path base_dir,
           Diagnostics* diag, ComponentContext* context = nullptr,
           std::vector<std::pair<std::filesystem::path, std::string>>* config_files = nullptr)
      : node_(std::move(node)),
        component_(std::move(component)),
        file_(std::move(file)),
        base_dir_(std::move(base_dir)),
        diag_(diag),
        context_(context),
        config_files_(config_files) {}

  bool has(const std::string& key) const { return node_[key].IsDefined() && !node_[key].IsNull(); }
  std::string str(const std::string& key, const std::string& dflt = "") const;
  int64_t integer(const std::string& key, int64_t dflt, int64_t min = INT64_MIN, int64_t max = INT64_MAX) const;
  uint64_t bytes(const std::string& key, uint64_t dflt) const;
  double number(const std::string& key, double dflt) const;
  bool flag(const std::string& key, bool dflt) const;
  std::vector<std::string> list(const std::string& key) const;
  // A list of strings that may also be written as one string.
  std::vector<std::string> strings(const std::string& key) const;
  std::vector<std::pair<std::string, std::string>> map(const std::string& key) const;
  // A path setting, resolved against the directory of the topology file.
  std::filesystem::path path(const std::string& key) const;
  std::filesystem::path resolve(const std::string& p) const;
  // A path setting naming configuration the component reads (rules, a model
  // directory, a pipeline): resolved, and recorded, so that a hot reload can
  // tell an unchanged component from a changed one and --watch knows what to
  // watch. Inputs the component streams from and state it writes are not configuration.
  std::filesystem::path config_path(const std::string& key) const;
  // Records a configuration file or directory found otherwise (one of a list, a default).
  void config_file(const std::filesystem::path& p) const;
  // The component's context (engine/context.hpp); a detached one outside a topology.
  ComponentContext& context() const;
  const std::filesystem::path& base_dir() const { return base_dir_; }
  // Expands ${VAR} in a scalar found below this component's settings (a map's values).
  std::optional<std::string> expand_scalar(const YAML::Node& n) const { return expand(n); }
  // One of a fixed set of words.
  std::string choice(const std::string& key, const std::vector<std::string>& allowed, const std::string& dflt) const;

  Location where(const std::string& key) const;
  // The position of item `index` of a list setting (the setting's own if it is not a list).
  Location where(const std::string& key, size_t index) const;
  Location where() const { return location_of(node_, file_); }
  void error(const std::string& key, const std::string& message) const;
  Diagnostics& diagnostics() const { return *diag_; }
  const std::string& component() const { return component_; }
  const std::string& file() const { return file_; }
  const YAML::Node& node() const { return node_; }

  // Checks every key against the schema: unknown keys, wrong types, missing required settings.
  void check(const std::vector<SettingSpec>& schema) const;

 private:
  std::optional<std::string> scalar(const std::string& key) const;
  std::optional<std::string> expand(const YAML::Node& n) const;

  YAML::Node node_;
  std::string component_;
  std::string file_;
  std::filesystem::path base_dir_;
  Diagnostics* diag_;
  ComponentContext* context_;
  std::vector<std::pair<std::filesystem::path, std::string>>* config_files_;  // with path_fingerprint
  // Outside a topology (unit tests) the components made from these settings
  // share a context of their own, and nothing with other settings.
  mutable std::shared_ptr<ComponentContext> own_context_;
};

}  // namespace socstream
