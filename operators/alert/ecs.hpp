#pragma once
// The Elastic Common Schema as alerts use it: which event fields have an ECS
// path and type (config/ecs/fields.tsv, compiled in), the field maps that give
// other names one (config/ecs/maps, or a file of the user's), and the
// conversion of a value to its field's type. A value that does not fit its
// field (a pid "0x1fc" fits as 508, "-" as an IP address does not) is not
// placed there: SIEMs reject or mis-index a document whose field has the wrong
// type, and an alert that does not land is worse than one with a field moved.
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/config.hpp"
#include "engine/event.hpp"

namespace socstream::alert {

enum class EcsType : uint8_t { Keyword, Long, Float, Bool, Ip, Date, Object };

struct EcsField {
  EcsType type = EcsType::Keyword;
  bool array = false;      // ECS normalises it to an array
  bool keyword_keys = false;  // object, flattened: a key below it holds a keyword (labels.team)
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class EcsSchema {
 public:
  static const EcsSchema& builtin();
  // The TSV of config/ecs/fields.tsv: "# ecs VERSION", then name, type, array.
  explicit EcsSchema(std::string_view tsv);

  // The field a dotted name is, or nullptr. A name under an object-typed field
  // (labels.team, container.labels.app) is a keyword of it.
  const EcsField* find(std::string_view name) const;
  const std::string& version() const { return version_; }
  size_t size() const { return fields_.size(); }

 private:
  std::unordered_map<std::string, EcsField, StringHash, std::equal_to<>> fields_;
  std::string version_;
};

// Appends v as JSON of the field's type; false (and nothing appended) when it
// does not fit. Dates without a zone are UTC.
bool append_as(std::string& out, const Field& v, const EcsField& type);

// Renames event fields to ECS paths before they are placed:
//   strip_prefixes: [Event.EventData.]   # tried, in order, when the name itself is not mapped
//   fields: {CommandLine: process.command_line, ...}
// Targets must be ECS fields; a problem is an error at the map's file, line and column.
class FieldMap {
 public:
  // A built-in map's name (config/ecs/maps/NAME.yaml) or a YAML file; `where`
  // is the setting, for errors about the name itself.
  void load(const std::string& name_or_file, const std::filesystem::path& base_dir, const Location& where,
            Diagnostics& diag);
  // One more entry (the alert's `ecs_fields` setting), over what a map says.
  void add(const std::string& from, const std::string& to, const Location& where, Diagnostics& diag);
  // The ECS path for name, or name itself.
  std::string_view target(std::string_view name) const;
  bool empty() const { return map_.empty(); }
  static std::vector<std::string> builtin_names();

 private:
  void load_yaml(const YAML::Node& doc, const std::string& file, Diagnostics& diag);
  std::unordered_map<std::string, std::string, StringHash, std::equal_to<>> map_;
  std::vector<std::string> strip_prefixes_;
};

// Writes values at dotted paths as nested JSON objects. Paths are placed in
// order; a path that is also an object's prefix (a.b and a.b.c) keeps the first
// added and reports the other as refused.
// The paths the alert document writes itself (@timestamp, event.kind, rule.*,
// threat.*, tags, socstream.*, ...): no event field is placed there.
bool written_by_alert(std::string_view path);

class NestedJson {
 public:
  void clear() {
    entries_.clear();
    buf_.clear();
    resolved_ = false;
  }
  // json is the value's JSON text; neither may point into this document.
  void add(std::string_view path, std::string_view json, size_t tag = 0);
  // Adds every entry of another document, with its tag.
  void add(const NestedJson& other);
  // Drops the entries that cannot be placed, reporting their tags.
  void resolve(std::vector<size_t>* refused);
  // Appends {...} to out (after resolving what is left).
  void write(std::string& out);
  bool has(std::string_view path) const;

 private:
  // Paths and values live end to end in buf_: an alert adds some thirty
  // entries, and a string or two each was most of its cost.
  struct Entry {
    uint32_t path_at, path_len, json_at, json_len;
    size_t tag;
  };
  std::string_view path(const Entry& e) const { return std::string_view(buf_).substr(e.path_at, e.path_len); }
  std::string_view json(const Entry& e) const { return std::string_view(buf_).substr(e.json_at, e.json_len); }
  // Whether, in path order, any path equals another or lies under another.
  bool any_clash() const;

  std::vector<Entry> entries_;  // in the order added, until resolve() sorts them by path
  std::string buf_;
  bool resolved_ = false;
  std::vector<std::string_view> open_;  // write()'s open objects
};

}  // namespace socstream::alert
