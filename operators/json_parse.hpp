#pragma once
// type: json_parse. Validates each event as a JSON object in one simdjson
// On-Demand pass and extracts configured fields by JSON pointer during that
// pass. Anything else goes to `dlq` with a reason: empty, too_large,
// invalid_utf8, invalid_json, too_deep, not_object.
#include <simdjson.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/component.hpp"

namespace socstream {

class JsonParse final : public Operator {
 public:
  struct Target {
    std::string name;     // the field name events carry
    std::string pointer;  // as configured, for messages
  };

  explicit JsonParse(const Settings& s);
  void process(Batch&& in, Outputs& out) override;

  // Parses one payload into e's fields; returns nullptr or the reason to reject it.
  const char* parse(std::string_view raw, Event& e, Arena& arena, std::string_view& detail);

 private:
  // The configured pointers as a trie over their tokens, so one walk finds them all.
  struct PathNode {
    std::string token;
    int target = -1;
    std::vector<PathNode> children;
    const PathNode* child(std::string_view key) const {
      for (const auto& c : children)
        if (c.token == key) return &c;
      return nullptr;
    }
  };
  simdjson::error_code walk(simdjson::ondemand::value v, const PathNode* node, size_t depth, Event& e,
                            Arena& arena, simdjson::ondemand::document& doc);
  simdjson::error_code walk_object(simdjson::ondemand::object o, const PathNode* node, size_t depth, Event& e,
                                   Arena& arena, simdjson::ondemand::document& doc);
  static bool at_end(simdjson::ondemand::document& doc);
  const char* valid_non_object(simdjson::ondemand::document& doc, std::string_view& detail);
  void add_pointer(const Settings& s, const std::string& name, const std::string& pointer);

  std::vector<Target> targets_;
  PathNode root_;
  size_t max_bytes_;
  size_t max_depth_;
  simdjson::ondemand::parser parser_;
  std::unique_ptr<char[]> padded_;
  size_t padded_cap_ = 0;
  bool too_deep_ = false;
};

}  // namespace socstream
