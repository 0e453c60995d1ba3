// `socstream predict --model DIR [--precision P] [TEXT...]`: prints each
// text's label, its score, every label's score, and the text (an embedding
// model prints the embedding's first values); reads lines from stdin when no
// TEXT is given. --precision serves another of model.yaml's precisions.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "models/model.hpp"

namespace socstream {

int predict_main(int argc, char** argv) {
  std::string dir, precision;
  std::vector<std::string> texts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--model" || a == "-m") && i + 1 < argc) {
      dir = argv[++i];
    } else if (a.rfind("--model=", 0) == 0) {
      dir = a.substr(8);
    } else if (a == "--precision" && i + 1 < argc) {
      precision = argv[++i];
    } else if (a.rfind("--precision=", 0) == 0) {
      precision = a.substr(12);
    } else {
      texts.push_back(a);
    }
  }
  if (dir.empty()) {
    std::fprintf(stderr, "usage: socstream predict --model DIR [--precision float32|int8] [TEXT...]\n");
    return 64;
  }
  std::unique_ptr<TextModel> model;
  try {
    model = TextModel::load(read_model_info(dir, precision));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "socstream: %s\n", e.what());
    return 1;
  }
  if (texts.empty())
    for (std::string line; std::getline(std::cin, line);) texts.push_back(line);
  const auto& labels = model->info().labels;
  // Batches of 64, as the operator would send them.
  for (size_t at = 0; at < texts.size(); at += 64) {
    std::vector<std::string_view> batch(texts.begin() + static_cast<long>(at),
                                        texts.begin() + static_cast<long>(std::min(texts.size(), at + 64)));
    auto scores = model->predict(batch);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (model->info().task == "embed") {
        std::printf("dim=%zu", scores[i].size());
        for (size_t k = 0; k < std::min<size_t>(4, scores[i].size()); ++k) std::printf(" %.4f", scores[i][k]);
        std::printf(" ...\t%.*s\n", static_cast<int>(batch[i].size()), batch[i].data());
        continue;
      }
      size_t best = static_cast<size_t>(std::max_element(scores[i].begin(), scores[i].end()) - scores[i].begin());
      std::printf("%s %.4f", labels[best].c_str(), scores[i][best]);
      for (size_t k = 0; k < labels.size(); ++k) std::printf(" %s=%.4f", labels[k].c_str(), scores[i][k]);
      std::printf("\t%.*s\n", static_cast<int>(batch[i].size()), batch[i].data());
    }
  }
  return 0;
}

}  // namespace socstream
