#include "engine/rule.hpp"

#include <set>

namespace socstream {

std::optional<Severity> parse_severity(std::string_view s) {
  for (int i = 0; i <= static_cast<int>(Severity::Critical); ++i)
    if (s == severity_name(static_cast<Severity>(i))) return static_cast<Severity>(i);
  return std::nullopt;
}

std::vector<RuleSource> load_rules(const std::filesystem::path& file, Diagnostics& diag) {
  const std::string fname = file.string();
  std::vector<RuleSource> out;
  YAML::Node root;
  try {
    root = load_yaml_file(file);
  } catch (const ConfigError& e) {
    diag.error(e.where(), e.message());
    return out;
  }
  YAML::Node rules = root.IsMap() ? root["rules"] : YAML::Node();
  if (!rules.IsSequence()) {
    diag.error(location_of(root, fname), "a rules file is a map with a 'rules' list");
    return out;
  }
  static const std::vector<std::string> keys{"id", "pattern", "severity", "tags", "description"};
  std::set<std::string> ids;
  for (const auto& item : rules) {
    Location at = location_of(item, fname);
    if (!item.IsMap()) {
      diag.error(at, "a rule is a map with id, pattern, severity, tags, description");
      continue;
    }
    RuleSource rs;
    rs.where = at;
    bool ok = true;
    for (const auto& kv : item) {
      const std::string key = kv.first.Scalar();
      Location kat = location_of(kv.first, fname);
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        std::string msg = "unknown rule key '" + key + "'";
        if (auto c = closest(key, keys)) msg += "; did you mean '" + *c + "'?";
        diag.error(kat, msg);
        ok = false;
        continue;
      }
      const YAML::Node& v = kv.second;
      if (key == "tags") {
        if (!v.IsSequence()) {
          diag.error(location_of(v, fname), "'tags' must be a list of strings");
          ok = false;
          continue;
        }
        for (const auto& t : v) rs.rule.tags.push_back(t.Scalar());
        continue;
      }
      if (!v.IsScalar()) {
        diag.error(location_of(v, fname), "'" + key + "' must be a string");
        ok = false;
        continue;
      }
      if (key == "id") rs.rule.id = v.Scalar();
      if (key == "pattern") {
        rs.rule.pattern = v.Scalar();
        rs.pattern_where = location_of(v, fname);
      }
      if (key == "description") rs.rule.description = v.Scalar();
      if (key == "severity") {
        if (auto sev = parse_severity(v.Scalar())) {
          rs.rule.severity = *sev;
        } else {
          diag.error(location_of(v, fname),
                     "severity '" + v.Scalar() + "' is not one of: info, low, medium, high, critical");
          ok = false;
        }
      }
    }
    if (rs.rule.id.empty()) {
      diag.error(at, "rule without an 'id'");
      ok = false;
    } else if (!ids.insert(rs.rule.id).second) {
      diag.error(at, "duplicate rule id '" + rs.rule.id + "'");
      ok = false;
    }
    if (rs.rule.pattern.empty()) {
      diag.error(at, "rule '" + rs.rule.id + "' has no 'pattern'");
      ok = false;
    }
    if (ok) out.push_back(std::move(rs));
  }
  return out;
}

}  // namespace socstream
