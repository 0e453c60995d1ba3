#pragma once
// type: parse (operators/parse.cpp has the whole description).
#include <memory>
#include <string>
#include <vector>

#include "engine/component.hpp"
#include "engine/field_names.hpp"
#include "operators/parse/format.hpp"

namespace socstream {

class ParseOp final : public Operator {
 public:
  explicit ParseOp(const Settings& s);
  void process(Batch&& in, Outputs& out) override;
  std::vector<FieldRead> reads() const override;
  FieldWrites writes() const override;

 private:
  Location field_where_, timestamp_where_, rename_where_;
  std::string format_name_;
  std::unique_ptr<parse::Format> format_;
  parse::Clock clock_;
  FieldNames names_;
  uint64_t seq_ = 0;
  std::string field_, timestamp_field_, timestamp_format_;
  std::vector<std::pair<std::string, std::string>> renames_, sets_;
  std::vector<std::string> drops_;
};

}  // namespace socstream
