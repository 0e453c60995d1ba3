// Writes the snapshot target's seeds (tests/fuzz/corpus/snapshot/): online
// classifiers of several shapes (slots, n-grams, words, 2 to 12 labels, FTRL
// options) trained by the real code on the first payloads of
// tests/data/http_params/train.csv, each snapshot as OnlineLinear::to_bytes
// writes it. Run by tests/fuzz/make_corpus.py:
//   build-fuzz/snapshot_seeds OUT_DIR tests/data/http_params/train.csv
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "models/online_linear.hpp"

using socstream::online::FeatureOptions;
using socstream::online::FtrlParams;
using socstream::online::OnlineLinear;

namespace {

// "payload","length","attack_type","label": the payload and the attack type.
std::vector<std::pair<std::string, std::string>> read_rows(const char* path, size_t max) {
  std::ifstream in(path);
  std::vector<std::pair<std::string, std::string>> rows;
  std::string line;
  std::getline(in, line);  // the header
  while (rows.size() < max && std::getline(in, line)) {
    std::vector<std::string> cols(1);
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
      char c = line[i];
      if (c == '"' && quoted && i + 1 < line.size() && line[i + 1] == '"') {
        cols.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        cols.emplace_back();
      } else {
        cols.back() += c;
      }
    }
    if (cols.size() == 4) rows.emplace_back(cols[0], cols[2]);
  }
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: snapshot_seeds OUT_DIR train.csv\n";
    return 2;
  }
  const auto rows = read_rows(argv[2], 400);
  const std::vector<std::string> five{"norm", "sqli", "xss", "path-traversal", "cmdi"};
  struct Shape {
    FeatureOptions f;
    FtrlParams p;
    std::vector<std::string> labels;
  };
  std::vector<Shape> shapes{
      {{8, 3, 4, true, 1024}, {}, five},
      {{6, 0, 0, true, 64}, {0.5f, 0.1f, 0.f, 0.f}, {"norm", "attack"}},
      {{7, 1, 7, false, 1 << 20}, {0.05f, 1.f, 0.5f, 1.f}, {"a", "b", "c"}},
      {{10, 2, 5, true, 256}, {0.1f, 1.f, 0.01f, 0.01f}, five},
      {{5, 3, 3, false, 16}, {}, {"l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9", "l10", "l11"}},
      {{14, 4, 4, true, 1024}, {}, {"", "x"}},
  };
  int written = 0;
  for (size_t s = 0; s < shapes.size(); ++s) {
    for (size_t examples : {size_t{0}, size_t{3}, size_t{40}}) {
      OnlineLinear m(shapes[s].labels, shapes[s].f, shapes[s].p);
      std::vector<uint32_t> slots;
      std::vector<float> probs(shapes[s].labels.size());
      for (size_t i = 0; i < examples && i < rows.size(); ++i) {
        const auto& [text, type] = rows[(i * 37) % rows.size()];
        slots.clear();
        m.featurizer().add(text, slots);
        slots.push_back(m.featurizer().bias());
        uint32_t label = 0;
        for (uint32_t k = 0; k < shapes[s].labels.size(); ++k)
          if (shapes[s].labels[k] == type) label = k;
        if (type != "norm" && label == 0) label = static_cast<uint32_t>(i % shapes[s].labels.size());
        m.learn(slots.data(), slots.size(), label, probs.data());
      }
      const std::string bytes = m.to_bytes();
      if (bytes.size() > 32768) continue;  // the target's -max_len
      char name[64];
      std::snprintf(name, sizeof name, "/shape%zu-%zu-examples", s, examples);
      std::ofstream(std::string(argv[1]) + name, std::ios::binary) << bytes;
      ++written;
    }
  }
  std::cout << written << " snapshots\n";
  return 0;
}
