// The bundled classifier through the engine's loader, tokenizer and batched
// forward pass, against PyTorch running the same TorchScript file
// (models/train/make_classifier_golden.py).
#include "models/model.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>

#include "models/sha256.hpp"
#include "tests/support/test_support.hpp"

using namespace socstream;
using socstream::testing::source_dir;
using socstream::testing::TempDir;

namespace {
const auto kModel = source_dir() / "models/web-attack-classifier";
}

TEST(Model, AgreesWithPyTorchOnTheSameBatches) {
  auto model = TextModel::load(kModel);
  EXPECT_EQ(model->info().name, "web-attack-classifier");
  EXPECT_EQ(model->info().labels, (std::vector<std::string>{"norm", "sqli", "xss", "path-traversal", "cmdi"}));
  std::ifstream in(source_dir() / "tests/data/classifier_golden.jsonl");
  simdjson::dom::parser p;
  size_t texts = 0;
  double worst = 0;
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element g = p.parse(line);
    std::vector<std::string_view> batch;
    for (std::string_view t : g["texts"].get_array()) batch.push_back(t);
    auto got = model->predict(batch);
    ASSERT_EQ(got.size(), batch.size());
    size_t r = 0;
    for (auto row : g["probs"].get_array()) {
      size_t k = 0;
      for (double want : row.get_array()) worst = std::max(worst, std::abs(want - got[r][k++]));
      ++r;
    }
    texts += batch.size();
  }
  EXPECT_GE(texts, 200u);
  EXPECT_LT(worst, 1e-4) << "largest probability difference from PyTorch over " << texts << " texts";
}

TEST(Model, ClassifiesObviousExamples) {
  auto model = TextModel::load(kModel);
  auto out = model->predict({"1' or '1'='1' --", "<script>alert(1)</script>", "../../../../etc/passwd", "; cat /etc/passwd", "madrid"});
  const auto& labels = model->info().labels;
  auto best = [&](size_t i) { return labels[std::max_element(out[i].begin(), out[i].end()) - out[i].begin()]; };
  EXPECT_EQ(best(0), "sqli");
  EXPECT_EQ(best(1), "xss");
  EXPECT_EQ(best(2), "path-traversal");
  EXPECT_EQ(best(4), "norm");
}

TEST(Model, ClearErrors) {
  TempDir dir;
  EXPECT_THROW(TextModel::load(dir.path()), ModelError) << "no model.yaml";
  // A copy whose weights were changed: the sha256 check refuses it.
  for (const char* f : {"model.yaml", "vocab.txt", "model.pt"})
    std::filesystem::copy_file(kModel / f, dir.path() / f);
  { std::ofstream(dir.path() / "model.pt", std::ios::app) << "tampered"; }
  try {
    TextModel::load(dir.path());
    FAIL() << "a tampered weights file must not load";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("does not match model.yaml"), std::string::npos) << e.what();
  }
}
