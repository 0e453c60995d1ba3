#include "bench/micro/bench_data.hpp"

#include <simdjson.h>

#include <fstream>

namespace socstream::bench {

const std::vector<std::string>& sample_lines() {
  static const std::vector<std::string> lines = [] {
    std::vector<std::string> v;
    std::ifstream in(std::string(SOCSTREAM_SOURCE_DIR) + "/config/samples/web-access.jsonl");
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  }();
  return lines;
}

const std::vector<std::string>& sample_queries() {
  static const std::vector<std::string> q = [] {
    std::vector<std::string> v;
    simdjson::dom::parser p;
    for (const auto& l : sample_lines()) v.emplace_back(std::string_view(p.parse(l)["url"]["query"]));
    return v;
  }();
  return q;
}

}  // namespace socstream::bench
