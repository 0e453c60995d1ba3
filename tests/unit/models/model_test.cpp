// The bundled classifier through the engine's loader, tokenizer and batched
// forward pass, against PyTorch running the same TorchScript file
// (models/train/make_classifier_golden.py).
#include "models/model.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <sys/stat.h>

#include <fstream>
#include <functional>

#include "engine/sha256.hpp"
#include "tests/support/test_support.hpp"

using namespace socstream;
using socstream::testing::source_dir;
using socstream::testing::TempDir;

namespace {
const auto kModel = source_dir() / "models/web-attack-classifier";

// Runs the model over each batch of tests/data/classifier_golden.jsonl and
// hands `check` each text's probabilities, PyTorch's float32 and the engine's.
// Returns the number of texts.
size_t against_golden(TextModel& model, const std::function<void(const std::vector<double>&, const std::vector<float>&)>& check) {
  std::ifstream in(source_dir() / "tests/data/classifier_golden.jsonl");
  simdjson::dom::parser p;
  size_t texts = 0;
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element g = p.parse(line);
    std::vector<std::string_view> batch;
    for (std::string_view t : g["texts"].get_array()) batch.push_back(t);
    auto got = model.predict(batch);
    EXPECT_EQ(got.size(), batch.size());
    size_t r = 0;
    for (auto row : g["probs"].get_array()) {
      std::vector<double> want;
      for (double x : row.get_array()) want.push_back(x);
      if (r >= got.size() || want.size() != got[r].size()) {
        ADD_FAILURE() << "text " << texts + r << ": no result of " << want.size() << " probabilities";
        return texts;
      }
      check(want, got[r++]);
    }
    texts += batch.size();
  }
  return texts;
}

// A copy of model.yaml with one piece of text replaced.
void edit_yaml(const std::filesystem::path& d, const std::string& from, const std::string& to) {
  std::string y = socstream::testing::read_file(d / "model.yaml");
  const auto at = y.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  y.replace(at, from.size(), to);
  std::ofstream(d / "model.yaml", std::ios::trunc) << y;
}
}  // namespace

TEST(Model, AgreesWithPyTorchOnTheSameBatches) {
  auto model = TextModel::load(kModel);
  EXPECT_EQ(model->info().name, "web-attack-classifier");
  EXPECT_EQ(model->info().labels, (std::vector<std::string>{"norm", "sqli", "xss", "path-traversal", "cmdi"}));
  double worst = 0;
  const size_t texts = against_golden(*model, [&](const std::vector<double>& want, const std::vector<float>& got) {
    for (size_t k = 0; k < want.size(); ++k) worst = std::max(worst, std::abs(want[k] - got[k]));
  });
  EXPECT_GE(texts, 200u);
  EXPECT_LT(worst, 1e-4) << "largest probability difference from PyTorch over " << texts << " texts";
}

// The int8 variant (models/train/quantize_web_classifier.py) on the golden
// texts: the same top label as PyTorch's float32 on at least 99% of them, and
// probabilities within int8 rounding. It must differ from float32 somewhere,
// or the float32 file was served under the int8 name.
TEST(Model, Int8AgreesWithFloat32OnTheGoldenTexts) {
  auto model = TextModel::load(read_model_info(kModel, "int8"));
  EXPECT_EQ(model->info().precision, "int8");
  EXPECT_EQ(model->info().weights.filename(), "model.int8.pt");
  EXPECT_FALSE(model->info().quantized_engine.empty());
  size_t agree = 0;
  double worst = 0;
  const size_t texts = against_golden(*model, [&](const std::vector<double>& want, const std::vector<float>& got) {
    for (size_t k = 0; k < want.size(); ++k) worst = std::max(worst, std::abs(want[k] - got[k]));
    agree += std::max_element(want.begin(), want.end()) - want.begin() == std::max_element(got.begin(), got.end()) - got.begin();
  });
  ASSERT_GE(texts, 200u);
  EXPECT_GE(static_cast<double>(agree), 0.99 * static_cast<double>(texts)) << agree << " of " << texts << " top labels agree";
  EXPECT_LT(worst, 0.1) << "largest probability difference from float32";
  EXPECT_GT(worst, 1e-5) << "int8 gave float32's probabilities exactly: is it the float32 file?";
}

// The int8 file is held to model.yaml as the float32 one is: its sha256, its
// presence, and that it was made from these float32 weights.
TEST(Model, Int8WeightsAreCheckedAsFloat32Are) {
  auto copy = [](const TempDir& dir) {
    for (const char* f : {"model.yaml", "vocab.txt", "model.pt", "model.int8.pt"})
      std::filesystem::copy_file(kModel / f, dir.path() / f);
  };
  auto message = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const PrecisionError& e) {
      return std::string("PrecisionError: ") + e.what();
    } catch (const ModelError& e) {
      return std::string("ModelError: ") + e.what();
    }
    return "no error";
  };
  auto has = [](const std::string& what, const std::string& part) {
    EXPECT_NE(what.find(part), std::string::npos) << what;
  };
  {
    TempDir dir;
    copy(dir);
    { std::ofstream(dir.path() / "model.int8.pt", std::ios::app) << "tampered"; }
    has(message([&] { TextModel::load(read_model_info(dir.path(), "int8")); }),
        "does not match model.yaml's variants.int8.sha256");
    EXPECT_EQ(read_model_info(dir.path()).precision, "float32") << "model.yaml serves float32";
  }
  {
    TempDir dir;
    copy(dir);
    std::filesystem::remove(dir.path() / "model.int8.pt");
    // Asked for by the caller: the caller's setting is at fault.
    has(message([&] { read_model_info(dir.path(), "int8"); }), "PrecisionError: ");
    has(message([&] { read_model_info(dir.path(), "int8"); }), "model.int8.pt: int8 weights file not found");
    // Chosen by model.yaml: model.yaml is; and float32 still serves when asked for.
    edit_yaml(dir.path(), "precision: float32", "precision: int8");
    has(message([&] { read_model_info(dir.path()); }), "ModelError: ");
    has(message([&] { read_model_info(dir.path()); }), "int8 weights file not found");
    EXPECT_EQ(read_model_info(dir.path(), "float32").weights.filename(), "model.pt");
  }
  {
    TempDir dir;
    copy(dir);
    // After a retraining: an int8 file of other float32 weights would serve the old model.
    const std::string sha = sha256_file_hex(kModel / "model.pt");
    edit_yaml(dir.path(), "source_sha256: " + sha, "source_sha256: " + std::string(64, '0'));
    has(message([&] { read_model_info(dir.path(), "int8"); }), "were made from other float32 weights");
    has(message([&] { read_model_info(dir.path(), "int4"); }), "PrecisionError: precision 'int4' is not one of: float32, int8");
    edit_yaml(dir.path(), "quantized_engine: ", "quantized_engine: avx");
    has(message([&] { read_model_info(dir.path()); }), "is not one of: qnnpack, onednn, fbgemm, x86");
  }
  {
    TempDir dir;
    copy(dir);
    std::string y = socstream::testing::read_file(dir.path() / "model.yaml");
    y = y.substr(0, y.find("\nvariants:")) + "\n";
    std::ofstream(dir.path() / "model.yaml", std::ios::trunc) << y;
    has(message([&] { read_model_info(dir.path(), "int8"); }), "offers no int8 weights (precisions: float32)");
    EXPECT_EQ(read_model_info(dir.path()).precisions, std::vector<std::string>{"float32"});
  }
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

// A model directory shaped to hang or break the engine is refused at load, with why.
TEST(Model, HostileModelDirectoriesAreRefusedAtLoad) {
  auto refused = [](const std::function<void(const std::filesystem::path&)>& spoil, const std::string& why) {
    TempDir dir;
    for (const char* f : {"model.yaml", "vocab.txt", "model.pt"}) std::filesystem::copy_file(kModel / f, dir.path() / f);
    spoil(dir.path());
    try {
      read_model_info(dir.path());
      ADD_FAILURE() << "loaded, but should be refused: " << why;
    } catch (const ModelError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  refused([](const std::filesystem::path& d) {
    std::filesystem::remove(d / "model.pt");
    std::filesystem::create_symlink("/dev/zero", d / "model.pt");
  }, "weights file is not a regular file");
  refused([](const std::filesystem::path& d) {
    std::filesystem::remove(d / "model.pt");
    ::mkfifo((d / "model.pt").c_str(), 0600);
  }, "weights file is not a regular file");
  refused([](const std::filesystem::path& d) { edit_yaml(d, "max_len: 64", "max_len: 100000000"); },
          "tokenizer.max_len must be between 2 and 512");
  refused([](const std::filesystem::path& d) { edit_yaml(d, "labels: [norm, sqli,", "labels: [norm, sqli, sqli,"); },
          "the label 'sqli' is listed twice");
}

// all-MiniLM-L6-v2 exported by models/train/export_minilm.py (scripts/test.sh
// runs it): the engine's tokenizer, forward pass, mean pooling and
// normalisation against sentence-transformers' own embeddings.
TEST(Model, MiniLMEmbeddingsMatchSentenceTransformers) {
  const char* env = std::getenv("SOCSTREAM_MINILM_DIR");
  const std::filesystem::path dir = env && *env ? std::filesystem::path(env) : source_dir() / ".cache/models/all-minilm-l6-v2";
  ASSERT_TRUE(std::filesystem::exists(dir / "reference.jsonl"))
      << dir << " is missing: run $(scripts/python_env.sh) models/train/export_minilm.py (scripts/test.sh does)";
  auto model = TextModel::load(dir);
  EXPECT_EQ(model->info().task, "embed");
  EXPECT_EQ(model->info().max_len, 256u);
  std::ifstream in(dir / "reference.jsonl");
  std::vector<std::string> texts;
  std::vector<std::vector<double>> want;
  simdjson::dom::parser p;
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element r = p.parse(line);
    texts.emplace_back(std::string_view(r["text"]));
    want.emplace_back();
    for (double x : r["embedding"].get_array()) want.back().push_back(x);
  }
  ASSERT_EQ(texts.size(), 100u);
  double worst = 0;
  for (size_t at = 0; at < texts.size(); at += 16) {
    std::vector<std::string_view> batch(texts.begin() + static_cast<long>(at),
                                        texts.begin() + static_cast<long>(std::min(texts.size(), at + 16)));
    auto got = model->predict(batch);
    ASSERT_EQ(got.size(), batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& w = want[at + i];
      ASSERT_EQ(got[i].size(), w.size());
      double dot = 0, ng = 0, nw = 0;
      for (size_t k = 0; k < w.size(); ++k) {
        dot += got[i][k] * w[k];
        ng += double(got[i][k]) * got[i][k];
        nw += w[k] * w[k];
      }
      EXPECT_NEAR(ng, 1.0, 1e-4) << "normalised";
      worst = std::max(worst, 1.0 - dot / std::sqrt(ng * nw));
    }
  }
  EXPECT_LT(worst, 1e-4) << "largest cosine distance from sentence-transformers over 100 strings";
  std::printf("[ info     ] MiniLM: largest cosine distance %.3g over %zu strings\n", worst, texts.size());
}
