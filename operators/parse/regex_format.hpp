#pragma once
// An RE2 pattern whose groups fill fields: the `regex` format, and what
// `grok` compiles to.
#include <re2/re2.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "operators/parse/format.hpp"

namespace socstream::parse {

class RegexFormat : public Format {
 public:
  // names_by_group: group index -> field name (grok's); empty: the pattern's own group names.
  RegexFormat(const std::string& pattern, const Settings& s, const std::string& setting,
              const std::map<int, std::string>& names_by_group = {});
  bool parse(std::string_view line, Output& out, std::string& detail) override;
  void set_kind(const std::string& field, ValueKind kind);
  bool has_field(const std::string& field) const;
  FieldWrites writes() const override {
    FieldWrites w;
    for (const auto& n : names_)
      if (!n.empty()) w.names.push_back(n);
    return w;
  }

 private:
  std::unique_ptr<RE2> re_;
  int groups_ = 0;
  std::vector<std::string> names_;  // by group index; "" for unnamed groups
  std::vector<ValueKind> kinds_;
  std::vector<re2::StringPiece> args_;
};

}  // namespace socstream::parse
