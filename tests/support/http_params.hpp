#pragma once
// The labelled HTTP parameter values (tests/data/http_params, a copy of
// ../shared/data/http_params with its licence) as one stream in a fixed
// shuffled order, shared by the online-learning tests and benchmark.
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <utility>
#include <string>
#include <vector>

namespace socstream::testing {

struct LabelledText {
  std::string text;
  std::string label;  // attack_type: norm, sqli, xss, path-traversal, cmdi
};

// Splits one line of RFC 4180 CSV (quoted fields, "" for a quote; the file has
// no newline inside a field).
inline std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') out.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else out.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else if (c != '\r') {
      out.back() += c;
    }
  }
  return out;
}

// Every row of train.csv (payload, attack_type), shuffled by Fisher-Yates with
// a 64-bit LCG: the same order on every platform and standard library.
inline std::vector<LabelledText> http_params(const std::string& csv_path, uint64_t seed = 42) {
  std::ifstream in(csv_path);
  if (!in) throw std::runtime_error("cannot read " + csv_path);
  std::string line;
  std::getline(in, line);  // header: payload,length,attack_type,label
  std::vector<LabelledText> rows;
  while (std::getline(in, line)) {
    auto f = csv_fields(line);
    if (f.size() != 4) throw std::runtime_error("bad row in " + csv_path + ": " + line);
    rows.push_back({std::move(f[0]), std::move(f[2])});
  }
  uint64_t state = seed;
  for (size_t i = rows.size(); i > 1; --i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    std::swap(rows[i - 1], rows[(state >> 33) % i]);
  }
  return rows;
}

}  // namespace socstream::testing
