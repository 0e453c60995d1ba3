// format: regex. A line matches an RE2 pattern whole; its named groups
// become fields. Group names cannot hold dots, so `__` stands for one
// ((?P<source__ip>...) fills source.ip); (?<name>...) is taken as (?P<name>...).
// A group that took no part in the match adds no field.
#include <re2/re2.h>

#include <regex>

#include "operators/parse/format.hpp"
#include "operators/parse/regex_format.hpp"

namespace socstream::parse {

RegexFormat::RegexFormat(const std::string& pattern, const Settings& s, const std::string& setting,
                         const std::map<int, std::string>& names_by_group) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(s.bytes("max_mem", 64u << 20));
  re_ = std::make_unique<RE2>(pattern, o);
  if (!re_->ok()) {
    s.error(setting, "the pattern does not compile in RE2: " + re_->error());
    return;
  }
  groups_ = re_->NumberOfCapturingGroups();
  names_.resize(static_cast<size_t>(groups_) + 1);
  kinds_.assign(static_cast<size_t>(groups_) + 1, ValueKind::String);
  const auto& given = names_by_group.empty() ? re_->CapturingGroupNames() : names_by_group;
  for (const auto& [index, name] : given) {
    std::string field;
    for (size_t i = 0; i < name.size(); ++i) {
      if (name[i] == '_' && i + 1 < name.size() && name[i + 1] == '_') {
        field += '.';
        ++i;
      } else {
        field += name[i];
      }
    }
    names_[static_cast<size_t>(index)] = field;
  }
  if (given.empty()) s.error(setting, "the pattern has no named group: nothing would become a field");
  args_.resize(static_cast<size_t>(groups_) + 1);
}

void RegexFormat::set_kind(const std::string& field, ValueKind kind) {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == field) kinds_[i] = kind;
}

bool RegexFormat::has_field(const std::string& field) const {
  for (const auto& n : names_)
    if (n == field) return true;
  return false;
}

bool RegexFormat::parse(std::string_view line, Output& out, std::string& detail) {
  if (!re_ || !re_->ok()) return false;
  if (!re_->Match(line, 0, line.size(), RE2::ANCHOR_BOTH, args_.data(), groups_ + 1)) {
    detail = "the line does not match the pattern";
    return false;
  }
  for (size_t i = 1; i < args_.size(); ++i) {
    if (names_[i].empty() || args_[i].data() == nullptr) continue;
    std::string_view v(args_[i].data(), args_[i].size());
    ValueKind kind = kinds_[i];
    if (kind == ValueKind::Number && Output::number_or_string(v) != ValueKind::Number) kind = ValueKind::String;
    // Alternatives may name one field (grok's IP or HOSTNAME as source.address);
    // two groups that both matched give it twice, and which one a reader takes is the sender's choice.
    for (size_t j = 1; j < i; ++j)
      if (names_[j] == names_[i] && args_[j].data() != nullptr) {
        if (!out.duplicate) out.duplicate = names_[i].c_str();
        break;
      }
    out.add(names_[i], v, kind);
  }
  return true;
}

std::unique_ptr<Format> make_regex(const Settings& s) {
  if (!s.has("pattern")) {
    s.error("format", "format regex needs a 'pattern' (RE2, with named groups)");
    return nullptr;
  }
  // Oniguruma and PCRE write (?<name>...); RE2 of this vintage wants (?P<name>...).
  static const std::regex named(R"(\(\?<([A-Za-z_][A-Za-z0-9_]*)>)");
  const std::string pattern = std::regex_replace(s.str("pattern"), named, "(?P<$1>");
  auto f = std::make_unique<RegexFormat>(pattern, s, "pattern");
  for (const auto& [field, type] : s.map("types")) {
    if (type != "number" && type != "string") s.error("types", "'" + field + "': a type is number or string");
    if (type == "number") f->set_kind(field, ValueKind::Number);
  }
  return f;
}

}  // namespace socstream::parse
