#include "engine/config.hpp"

#include <sys/stat.h>

#include "engine/context.hpp"
#include "engine/json_writer.hpp"
#include "engine/sha256.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

namespace socstream {

std::string Location::str() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

Location location_of(const YAML::Mark& mark, const std::string& file) {
  if (mark.is_null()) return Location{file, 0, 0};
  return Location{file, mark.line + 1, mark.column + 1};
}

Location location_of(const YAML::Node& node, const std::string& file) { return location_of(node.Mark(), file); }

std::string Diagnostics::str() const {
  std::string s;
  for (const auto& d : list_) s += d.str() + "\n";
  return s;
}

std::string Diagnostics::warnings_str() const {
  std::string s;
  for (const auto& d : warnings_) s += d.str() + "\n";
  return s;
}

std::optional<std::string> interpolate(std::string_view text, std::string& error) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out += c;
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (text[i + 1] != '{') {
      out += c;
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      error = "unterminated ${ in '" + std::string(text) + "'";
      return std::nullopt;
    }
    std::string_view body = text.substr(i + 2, close - i - 2);
    std::string_view name = body, dflt;
    bool has_default = false;
    if (size_t sep = body.find(":-"); sep != std::string_view::npos) {
      name = body.substr(0, sep);
      dflt = body.substr(sep + 2);
      has_default = true;
    }
    bool valid = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                 std::all_of(name.begin(), name.end(),
                             [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; });
    if (!valid) {
      error = "invalid variable name '" + std::string(name) + "' in '" + std::string(text) + "'";
      return std::nullopt;
    }
    const char* v = std::getenv(std::string(name).c_str());
    if (v && (*v || !has_default)) {
      out += v;
    } else if (has_default) {
      out += dflt;
    } else {
      error = "environment variable " + std::string(name) + " is not set (write ${" + std::string(name) +
              ":-default} to give a default)";
      return std::nullopt;
    }
    i = close;
  }
  return out;
}

YAML::Node load_yaml_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(Location{path.string(), 0, 0}, "cannot open file");
  try {
    return YAML::Load(in);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(location_of(e.mark, path.string()), "YAML syntax: " + e.msg);
  }
}

std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates) {
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      size_t diag = row[0];
      row[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
        diag = up;
      }
    }
    return row[b.size()];
  };
  std::optional<std::string> best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

const char* setting_type_name(SettingType t) {
  switch (t) {
    case SettingType::String: return "a string";
    case SettingType::Int: return "an integer";
    case SettingType::Bytes: return "a size in bytes (e.g. 1048576 or 1MiB)";
    case SettingType::Double: return "a number";
    case SettingType::Bool: return "true or false";
    case SettingType::StringList: return "a list of strings";
    case SettingType::StringMap: return "a map of strings";
    case SettingType::Any: return "a value";
  }
  return "?";
}

Location Settings::where(const std::string& key) const {
  // The key's own position is more useful than its value's for a bad value too,
  // but yaml-cpp only exposes the value's; both sit on the same line.
  YAML::Node v = node_[key];
  if (v.IsDefined()) return location_of(v, file_);
  return where();
}

Location Settings::where(const std::string& key, size_t index) const {
  YAML::Node v = node_[key];
  if (v.IsDefined() && v.IsSequence() && index < v.size()) return location_of(v[index], file_);
  return where(key);
}

namespace {

// Each ${...} value under n: its expansion and the text as written. `whole`
// gets whole values; `parts` each reference inside a longer value whose
// variable is set (redis://app:${PW}@host: the password alone), for a message
// that quotes only part of the value.
void expansions(const YAML::Node& n, std::vector<std::pair<std::string, std::string>>& whole,
                std::vector<std::pair<std::string, std::string>>& parts) {
  if (!n.IsDefined()) return;  // an error about a setting the topology left out
  if (n.IsScalar()) {
    const std::string& raw = n.Scalar();
    if (raw.find("${") == std::string::npos) return;
    std::string err;
    // Values of a few characters (a port, a flag) are no secret, and replacing them would garble the message.
    auto add = [&](const std::string& text, std::vector<std::pair<std::string, std::string>>& out) {
      if (auto v = interpolate(text, err); v && v->size() >= 4 && *v != text) out.emplace_back(*v, text);
    };
    // A default written in the file is no secret: only what the environment gave.
    bool from_env = false;
    for (size_t at = raw.find("${"); at != std::string::npos; at = raw.find("${", at + 2)) {
      const size_t end = raw.find('}', at);
      if (end == std::string::npos) break;
      const std::string ref = raw.substr(at, end - at + 1);
      const std::string name = ref.substr(2, std::min(ref.find(":-"), ref.size() - 1) - 2);
      if (!std::getenv(name.c_str())) continue;
      from_env = true;
      if (ref != raw) add(ref, parts);
    }
    if (from_env) add(raw, whole);
  } else if (n.IsSequence()) {
    for (const auto& item : n) expansions(item, whole, parts);
  } else if (n.IsMap()) {
    for (const auto& kv : n) expansions(kv.second, whole, parts);
  }
}

void mask(std::string& text, size_t from, size_t to, std::vector<std::pair<std::string, std::string>>& subs) {
  std::sort(subs.begin(), subs.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& [value, raw] : subs)
    for (size_t at = from; (at = text.find(value, at)) != std::string::npos && at + value.size() <= to; at += raw.size()) {
      text.replace(at, value.size(), raw);
      to = to + raw.size() - value.size();
    }
}

}  // namespace

void Settings::error(const std::string& key, const std::string& message) const {
  // A value from the environment may be a secret put in the wrong setting:
  // messages name it by its reference (${REDIS_PASSWORD}), never its value,
  // whatever the component wrote.
  std::string text = message;
  if (!key.empty()) {
    std::vector<std::pair<std::string, std::string>> whole, parts;
    expansions(node_[key], whole, parts);
    mask(text, 0, text.size(), whole);
    // Parts of a value only where the message quotes the setting's value
    // ('...'): elsewhere a short part (a scheme, a mode) may be the message's own word.
    if (!parts.empty())
      for (size_t open = text.find('\''); open != std::string::npos; open = text.find('\'', open + 1)) {
        size_t close = text.find('\'', open + 1);
        if (close == std::string::npos) break;
        const size_t before = text.size();
        mask(text, open + 1, close, parts);
        open = close + (text.size() - before);
      }
  }
  diag_->error(where(key), "'" + component_ + "': " + (key.empty() ? "" : "setting '" + key + "': ") + text);
}

std::optional<std::string> Settings::expand(const YAML::Node& n) const {
  std::string err;
  auto v = interpolate(n.Scalar(), err);
  if (!v) diag_->error(location_of(n, file_), "'" + component_ + "': " + err);
  return v;
}

std::optional<std::string> Settings::scalar(const std::string& key) const {
  YAML::Node n = node_[key];
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  if (!n.IsScalar()) return std::nullopt;
  return expand(n);
}

std::string Settings::str(const std::string& key, const std::string& dflt) const {
  return scalar(key).value_or(dflt);
}

int64_t Settings::integer(const std::string& key, int64_t dflt, int64_t min, int64_t max) const {
  auto s = scalar(key);
  if (!s) return dflt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || p != s->data() + s->size()) {
    error(key, "expected an integer, got '" + *s + "'");
    return dflt;
  }
  if (v < min || v > max) {
    error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + *s);
    return dflt;
  }
  return v;
}

uint64_t Settings::bytes(const std::string& key, uint64_t dflt) const {
  auto s = scalar(key);
  if (!s) return dflt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  std::string unit(p, static_cast<const char*>(s->data() + s->size()));
  static const std::pair<const char*, uint64_t> units[] = {
      {"", 1}, {"B", 1}, {"KB", 1000}, {"KiB", 1024}, {"MB", 1000000}, {"MiB", 1 << 20}, {"GB", 1000000000},
      {"GiB", 1ull << 30}};
  if (ec == std::errc() && p != s->data()) {
    for (auto& [u, m] : units)
      if (unit == u) return v * m;
  }
  error(key, "expected " + std::string(setting_type_name(SettingType::Bytes)) + ", got '" + *s + "'");
  return dflt;
}

double Settings::number(const std::string& key, double dflt) const {
  auto s = scalar(key);
  if (!s) return dflt;
  double v = 0;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || p != s->data() + s->size()) {
    error(key, "expected a number, got '" + *s + "'");
    return dflt;
  }
  return v;
}

bool Settings::flag(const std::string& key, bool dflt) const {
  auto s = scalar(key);
  if (!s) return dflt;
  if (*s == "true") return true;
  if (*s == "false") return false;
  error(key, "expected true or false, got '" + *s + "'");
  return dflt;
}

std::vector<std::string> Settings::list(const std::string& key) const {
  std::vector<std::string> out;
  YAML::Node n = node_[key];
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsSequence()) return out;
  for (const auto& item : n) {
    if (!item.IsScalar()) {
      diag_->error(location_of(item, file_), "'" + component_ + "': setting '" + key + "': items must be strings");
      continue;
    }
    if (auto v = expand(item)) out.push_back(*v);
  }
  return out;
}

std::vector<std::string> Settings::strings(const std::string& key) const {
  YAML::Node n = node_[key];
  if (n.IsDefined() && n.IsScalar()) {
    if (auto v = scalar(key)) return {*v};
    return {};
  }
  if (n.IsDefined() && !n.IsNull() && !n.IsSequence()) {
    error(key, "expected a string or a list of strings");
    return {};
  }
  return list(key);
}

std::vector<std::pair<std::string, std::string>> Settings::map(const std::string& key) const {
  std::vector<std::pair<std::string, std::string>> out;
  YAML::Node n = node_[key];
  if (!n.IsDefined() || !n.IsMap()) return out;
  for (const auto& kv : n) {
    if (!kv.second.IsScalar()) {
      diag_->error(location_of(kv.second, file_),
                   "'" + component_ + "': setting '" + key + "." + kv.first.Scalar() + "': expected a string");
      continue;
    }
    if (auto v = expand(kv.second)) out.emplace_back(kv.first.Scalar(), *v);
  }
  return out;
}

std::filesystem::path Settings::resolve(const std::string& p) const {
  std::filesystem::path path(p);
  if (path.is_absolute() || p.empty() || p == "-") return path;
  return base_dir_ / path;
}

std::filesystem::path Settings::path(const std::string& key) const { return resolve(str(key)); }

std::filesystem::path Settings::config_path(const std::string& key) const {
  auto p = path(key);
  if (!p.empty()) config_file(p);
  return p;
}

void Settings::config_file(const std::filesystem::path& p) const {
  if (!config_files_) return;
  for (const auto& [f, _] : *config_files_)
    if (f == p) return;
  // Before the component reads it: a change made while it reads is then a change.
  config_files_->emplace_back(p, path_fingerprint(p));
}

std::string yaml_to_json(const YAML::Node& node) {
  std::string out;
  std::function<void(const YAML::Node&)> put = [&](const YAML::Node& n) {
    if (n.IsMap()) {
      out += '{';
      bool first = true;
      for (const auto& kv : n) {
        if (!first) out += ',';
        first = false;
        json::append_string(out, kv.first.Scalar());
        out += ':';
        put(kv.second);
      }
      out += '}';
    } else if (n.IsSequence()) {
      out += '[';
      for (size_t i = 0; i < n.size(); ++i) {
        if (i) out += ',';
        put(n[i]);
      }
      out += ']';
    } else if (n.IsScalar()) {
      const std::string& v = n.Scalar();
      if (n.Tag() != "!" && (json::is_number(v) || v == "true" || v == "false" || v == "null"))
        out += v;
      else
        json::append_string(out, v);
    } else {
      out += "null";
    }
  };
  put(node);
  return out;
}

std::string path_fingerprint(const std::filesystem::path& p) {
  namespace fs = std::filesystem;
  auto line = [](const fs::path& f, const std::string& rel) {
    struct stat st {};
    if (::lstat(f.c_str(), &st) != 0) return std::string();
    return rel + '\0' + std::to_string(st.st_size) + ':' + std::to_string(st.st_mtim.tv_sec) + '.' +
           std::to_string(st.st_mtim.tv_nsec) + ':' + std::to_string(st.st_ino) + '\n';
  };
  std::error_code ec;
  const auto status = fs::symlink_status(p, ec);
  if (ec || !fs::exists(status)) return "missing";
  std::vector<std::string> lines{line(p, ".")};
  if (fs::is_directory(status)) {
    // Links are not followed into, as the Sigma loader does not follow them.
    for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      lines.push_back(line(it->path(), it->path().lexically_relative(p).string()));
    std::sort(lines.begin() + 1, lines.end());
  }
  std::string text;
  for (const auto& l : lines) text += l;
  return sha256_hex(text);
}

ComponentContext& Settings::context() const {
  if (context_) return *context_;
  if (!own_context_) own_context_ = ComponentContext::detached_for(component_);
  return *own_context_;
}

std::string Settings::choice(const std::string& key, const std::vector<std::string>& allowed,
                             const std::string& dflt) const {
  auto s = scalar(key);
  if (!s) return dflt;
  if (std::find(allowed.begin(), allowed.end(), *s) != allowed.end()) return *s;
  std::string all;
  for (const auto& a : allowed) all += (all.empty() ? "" : ", ") + a;
  error(key, "'" + *s + "' is not one of: " + all);
  return dflt;
}

void Settings::check(const std::vector<SettingSpec>& schema) const {
  if (!node_.IsMap()) {
    diag_->error(where(), "'" + component_ + "': expected a map of settings");
    return;
  }
  std::vector<std::string> names;
  for (const auto& s : schema) names.push_back(s.name);
  std::set<std::string> seen;
  for (const auto& kv : node_) {
    const std::string key = kv.first.Scalar();
    Location at = location_of(kv.first, file_);
    if (!seen.insert(key).second) {
      diag_->error(at, "'" + component_ + "': duplicate key '" + key + "'");
      continue;
    }
    auto spec = std::find_if(schema.begin(), schema.end(), [&](const SettingSpec& s) { return s.name == key; });
    if (spec == schema.end()) {
      std::string msg = "'" + component_ + "': unknown key '" + key + "'";
      if (auto c = closest(key, names)) msg += "; did you mean '" + *c + "'?";
      diag_->error(at, msg);
      continue;
    }
    const YAML::Node& v = kv.second;
    bool shape_ok = true;
    switch (spec->type) {
      case SettingType::StringList: shape_ok = v.IsSequence(); break;
      case SettingType::StringMap: shape_ok = v.IsMap(); break;
      case SettingType::Any: break;
      default: shape_ok = v.IsScalar(); break;
    }
    if (!shape_ok) {
      diag_->error(location_of(v, file_), "'" + component_ + "': setting '" + key + "': expected " +
                                              setting_type_name(spec->type));
      continue;
    }
    switch (spec->type) {
      case SettingType::String: str(key); break;
      case SettingType::Int: integer(key, 0); break;
      case SettingType::Bytes: bytes(key, 0); break;
      case SettingType::Double: number(key, 0); break;
      case SettingType::Bool: flag(key, false); break;
      case SettingType::StringList: list(key); break;
      case SettingType::StringMap: map(key); break;
      case SettingType::Any: break;
    }
  }
  for (const auto& s : schema)
    if (s.required && !has(s.name))
      diag_->error(where(), "'" + component_ + "': missing required setting '" + s.name + "'" +
                                (s.help.empty() ? "" : " (" + s.help + ")"));
}

}  // namespace socstream
