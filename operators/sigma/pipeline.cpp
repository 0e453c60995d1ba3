#include "operators/sigma/pipeline.hpp"

#include <algorithm>

namespace socstream::sigma {

namespace {

[[noreturn]] void fail(const YAML::Node& n, const std::string& file, const std::string& msg) {
  throw ConfigError(location_of(n, file), "pipeline: " + msg);
}

std::vector<std::string> strings(const YAML::Node& n, const std::string& file, const char* what) {
  std::vector<std::string> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (n.IsScalar()) return {n.Scalar()};
  if (!n.IsSequence()) fail(n, file, std::string("'") + what + "' is a string or a list of strings");
  for (const auto& x : n) {
    if (!x.IsScalar()) fail(x, file, std::string("'") + what + "' is a string or a list of strings");
    out.push_back(x.Scalar());
  }
  return out;
}

PipelineEntry parse_entry(const YAML::Node& n, const std::string& file) {
  if (!n.IsMap()) fail(n, file, "a logsources entry is a map with 'logsource'");
  static const std::vector<std::string> keys{"logsource", "conditions", "fields", "unsupported"};
  for (const auto& kv : n) {
    const std::string k = kv.first.Scalar();
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      std::string msg = "unknown key '" + k + "' in a logsources entry";
      if (auto c = closest(k, keys)) msg += "; did you mean '" + *c + "'?";
      fail(kv.first, file, msg);
    }
  }
  PipelineEntry e;
  e.where = location_of(n, file);
  const YAML::Node ls = n["logsource"];
  if (!ls.IsDefined() || !ls.IsMap()) fail(n, file, "a logsources entry needs a 'logsource' map (product, category, service)");
  for (const auto& kv : ls) {
    const std::string k = kv.first.Scalar();
    if (!kv.second.IsScalar()) fail(kv.second, file, "logsource values are strings");
    if (k == "product")
      e.logsource.product = kv.second.Scalar();
    else if (k == "category")
      e.logsource.category = kv.second.Scalar();
    else if (k == "service")
      e.logsource.service = kv.second.Scalar();
    else
      fail(kv.first, file, "logsource keys are product, category and service, not '" + k + "'");
  }
  if (const YAML::Node c = n["conditions"]; c.IsDefined()) {
    try {
      e.conditions = parse_selection(c, file);
    } catch (const RuleError& err) {
      throw ConfigError(err.where, "pipeline: " + err.message);
    }
  }
  if (const YAML::Node f = n["fields"]; f.IsDefined()) {
    if (!f.IsMap()) fail(f, file, "an entry's 'fields' renames Sigma fields: {Image: NewProcessName}");
    for (const auto& kv : f) {
      if (!kv.second.IsScalar()) fail(kv.second, file, "an entry renames a field to one other name");
      e.renames[kv.first.Scalar()] = kv.second.Scalar();
    }
  }
  for (auto& u : strings(n["unsupported"], file, "unsupported")) e.unsupported.insert(u);
  return e;
}

void merge(Pipeline& p, const YAML::Node& root, const std::string& file, const std::filesystem::path& base_dir,
           int depth);

void apply(Pipeline& p, const YAML::Node& root, const std::string& file, const std::filesystem::path& base_dir,
           int depth) {
  if (!root.IsMap()) fail(root, file, "a pipeline is a YAML map (see config/sigma/pipelines/nxlog.yaml)");
  static const std::vector<std::string> keys{"name",      "description",    "base",     "fields", "field_template",
                                             "timestamp", "keyword_fields", "unmapped", "logsources", "strip_spaces"};
  for (const auto& kv : root) {
    const std::string k = kv.first.Scalar();
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      std::string msg = "unknown key '" + k + "'";
      if (auto c = closest(k, keys)) msg += "; did you mean '" + *c + "'?";
      fail(kv.first, file, msg);
    }
  }
  if (const YAML::Node b = root["base"]; b.IsDefined()) {
    if (!b.IsScalar()) fail(b, file, "'base' names one pipeline");
    if (depth > 8) fail(b, file, "'base' chains more than 8 pipelines (a cycle?)");
    merge(p, root, file, base_dir, depth);
  }
  if ((root["name"].IsDefined() && root["name"].IsScalar())) p.name = root["name"].Scalar();
  if ((root["description"].IsDefined() && root["description"].IsScalar())) p.description = root["description"].Scalar();
  if (const YAML::Node f = root["fields"]; f.IsDefined() && !f.IsNull()) {
    if (!f.IsMap()) fail(f, file, "'fields' maps Sigma fields to event fields");
    for (const auto& kv : f) p.fields[kv.first.Scalar()] = strings(kv.second, file, "fields");
  }
  if (const YAML::Node t = root["field_template"]; t.IsDefined()) {
    if (!t.IsScalar() || t.Scalar().find("{}") == std::string::npos)
      fail(t, file, "'field_template' is a string with {} where the Sigma field name goes");
    p.field_template = t.Scalar();
  }
  if (root["timestamp"].IsDefined()) p.timestamp = strings(root["timestamp"], file, "timestamp");
  if (root["keyword_fields"].IsDefined()) p.keyword_fields = strings(root["keyword_fields"], file, "keyword_fields");
  if (const YAML::Node u = root["unmapped"]; u.IsDefined()) {
    if (!u.IsScalar() || (u.Scalar() != "skip" && u.Scalar() != "any"))
      fail(u, file, "'unmapped' is skip (rules of other log sources are not run) or any (run without a log source condition)");
    p.unmapped_any = u.Scalar() == "any";
  }
  if (const YAML::Node sp = root["strip_spaces"]; sp.IsDefined()) {
    if (!sp.IsScalar() || (sp.Scalar() != "true" && sp.Scalar() != "false")) fail(sp, file, "'strip_spaces' is true or false");
    p.strip_spaces = sp.Scalar() == "true";
  }
  if (const YAML::Node ls = root["logsources"]; ls.IsDefined() && !ls.IsNull()) {
    if (!ls.IsSequence()) fail(ls, file, "'logsources' is a list of entries");
    std::vector<PipelineEntry> mine;
    for (const auto& n : ls) mine.push_back(parse_entry(n, file));
    // An entry restated here replaces the base's entries for the same log source.
    auto same = [](const LogSource& a, const LogSource& b) {
      return a.product == b.product && a.category == b.category && a.service == b.service;
    };
    std::erase_if(p.logsources, [&](const PipelineEntry& old) {
      return std::any_of(mine.begin(), mine.end(), [&](const PipelineEntry& e) { return same(e.logsource, old.logsource); });
    });
    p.logsources.insert(p.logsources.end(), mine.begin(), mine.end());
  }
}

YAML::Node parse_text(std::string_view text, const std::string& file) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    throw ConfigError(location_of(e.mark, file), "YAML syntax: " + e.msg);
  }
}

void load_into(Pipeline& p, const std::string& name_or_path, const std::filesystem::path& base_dir, int depth) {
  if (auto text = embedded_file("pipelines/" + name_or_path + ".yaml")) {
    const std::string file = "<built-in pipeline " + name_or_path + ">";
    apply(p, parse_text(*text, file), file, base_dir, depth + 1);
    return;
  }
  std::filesystem::path path(name_or_path);
  if (path.is_relative()) path = base_dir / path;
  YAML::Node root = load_yaml_file(path);
  apply(p, root, path.string(), path.parent_path(), depth + 1);
}

void merge(Pipeline& p, const YAML::Node& root, const std::string& file, const std::filesystem::path& base_dir,
           int depth) {
  try {
    load_into(p, root["base"].Scalar(), base_dir, depth);
  } catch (const ConfigError& e) {
    throw ConfigError(location_of(root["base"], file), "base pipeline '" + root["base"].Scalar() + "': " + e.what());
  }
}

}  // namespace

std::string PipelineEntry::describe() const {
  std::string s;
  if (!logsource.product.empty()) s += "product=" + logsource.product;
  if (!logsource.category.empty()) s += (s.empty() ? "" : " ") + std::string("category=") + logsource.category;
  if (!logsource.service.empty()) s += (s.empty() ? "" : " ") + std::string("service=") + logsource.service;
  return s;
}

bool PipelineEntry::covers(const LogSource& rule) const {
  return logsource.category == rule.category && logsource.service == rule.service &&
         (logsource.product.empty() || logsource.product == rule.product);
}

std::vector<std::string> Pipeline::event_fields(const std::string& sigma_field, const PipelineEntry* entry) const {
  std::string name = sigma_field;
  if (entry)
    if (auto it = entry->renames.find(name); it != entry->renames.end()) name = it->second;
  if (auto it = fields.find(name); it != fields.end()) return it->second;
  std::string out = field_template;
  out.replace(out.find("{}"), 2, name);
  return {out};
}

std::vector<const PipelineEntry*> Pipeline::covering(const LogSource& ls) const {
  std::vector<const PipelineEntry*> out;
  for (const auto& e : logsources)
    if (e.covers(ls)) out.push_back(&e);
  return out;
}

std::vector<std::string> builtin_pipelines() { return {"nxlog", "evtx_json", "ecs", "none"}; }

Pipeline load_pipeline(const std::string& name_or_path, const std::filesystem::path& base_dir) {
  Pipeline p;
  if (name_or_path == "none") {
    // Sigma names are the event's; every rule runs on every event.
    p.name = "none";
    p.unmapped_any = true;
    return p;
  }
  load_into(p, name_or_path, base_dir, 0);
  if (p.name.empty()) p.name = name_or_path;
  return p;
}

}  // namespace socstream::sigma
