#pragma once
// A model directory (DESIGN.md): model.yaml (name, version, task, labels,
// tokenizer settings, sha256 of the weights, evaluation figures), a TorchScript
// file and the tokenizer's vocabulary. This header keeps libtorch out of every
// file but model.cpp: libtorch headers are slow to compile.
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace socstream {

class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ModelInfo {
  std::filesystem::path dir;
  std::string name;
  int version = 0;
  std::string task;  // classify
  std::vector<std::string> labels;
  size_t max_len = 128;
};

class TextModel {
 public:
  // Loads and checks a model directory; a missing file, a bad model.yaml or a
  // sha256 mismatch is a ModelError that says which.
  static std::unique_ptr<TextModel> load(const std::filesystem::path& dir);
  virtual ~TextModel() = default;

  virtual const ModelInfo& info() const = 0;
  // One forward pass over the batch, padded to its longest sequence (not to
  // max_len); per text, the softmax over the labels.
  virtual std::vector<std::vector<float>> predict(const std::vector<std::string_view>& texts) = 0;
};

}  // namespace socstream
