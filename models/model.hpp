#pragma once
// A model directory (DESIGN.md): model.yaml (name, version, task, labels,
// tokenizer settings, sha256 of the weights, evaluation figures), a TorchScript
// file and the tokenizer's vocabulary.
//
// Nothing here includes or links libtorch. The TorchScript side lives in a
// plugin (libsocstream_torch.so, models/torch_model.cpp) that TextModel::load
// opens on first use: linked into the engine, libtorch's ~300 libraries cost
// every run about a second of start-up before main, also for topologies
// without a model. Reading and checking model.yaml stays here, so `validate`
// can check a topology's model settings without loading libtorch.
#include <filesystem>
#include <map>
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

// A precision asked for by the caller (a transformer's `precision:`, predict's
// --precision) that the model directory cannot serve: the caller's setting is
// what to point at, not model.yaml.
class PrecisionError : public ModelError {
 public:
  using ModelError::ModelError;
};

// The precisions a model directory may offer: float32 is `weights:`, the
// others are `variants:` (models/train/quantize_web_classifier.py makes int8).
inline const std::vector<std::string>& known_precisions() {
  static const std::vector<std::string> p{"float32", "int8"};
  return p;
}

struct ModelInfo {
  std::filesystem::path dir;
  std::string name;
  int version = 0;
  // classify: one probability per label (softmax of the model's logits).
  // embed: the L2-normalised sentence embedding; a model that returns token
  // states [batch, tokens, dim] is mean-pooled over its attention mask first.
  std::string task;
  std::vector<std::string> labels;  // classify only
  // The label that means "nothing found" (classify; default: the first label).
  std::string negative_label;
  // Per-label score thresholds a positive verdict needs (default 0.5 each).
  std::map<std::string, double> thresholds;
  // The classification head: the submodule (a Linear layer making the logits)
  // that may learn from feedback. Empty: the model does not learn.
  std::string head;
  // The precision served (model.yaml's `precision:`, default float32, unless
  // the caller asked for another), and every one the directory offers.
  // `weights`, `sha256` and `quantized_engine` are the served one's.
  std::string precision = "float32";
  std::vector<std::string> precisions{"float32"};
  std::filesystem::path weights;
  std::string sha256;
  // The libtorch quantized engine (qnnpack, onednn, ...) an int8 file's packed
  // weights were made for; empty for float32.
  std::string quantized_engine;
  std::filesystem::path vocab;
  bool lowercase = true;
  size_t max_len = 128;
  // model.yaml's `evaluation:` (validation figures) as JSON, for the model API.
  std::string evaluation_json = "null";
  // model.yaml's `domain:`, the text the model was made for. A model scoring
  // text of another kind says "normal" with confidence it has not earned, so
  // the transformer lets it veto no rule hit outside its domain, and
  // `validate` warns where a topology points it elsewhere. Absent: unknown,
  // nothing is checked (a model of the user's own).
  struct Domain {
    bool known = false;
    std::vector<std::string> fields;      // event fields it may read (dotted names)
    std::vector<std::string> transforms;  // transforms its text must have had (query_values, url_decode)
    // A rule hit it may judge carries one of these tags (default: the labels
    // other than negative_label): a web model cannot judge an LSASS dump.
    std::vector<std::string> rule_tags;
    std::string text;  // what the text is, in words, for messages
  } domain;
};

// Reads and checks model.yaml (not the weights): a ModelError says what is
// wrong. `precision` (one of known_precisions()) overrides model.yaml's; one
// the directory does not offer, or whose file is missing, is a PrecisionError.
ModelInfo read_model_info(const std::filesystem::path& dir, const std::string& precision = {});
// Checks the weights file against model.yaml's sha256.
void verify_weights(const ModelInfo& info);

class TextModel {
 public:
  // Loads and checks a model directory; a missing file, a bad model.yaml, a
  // sha256 mismatch or a missing plugin is a ModelError that says which.
  static std::unique_ptr<TextModel> load(const std::filesystem::path& dir);
  // The same, for a model.yaml already read (and checked) by read_model_info.
  static std::unique_ptr<TextModel> load(const ModelInfo& info);
  virtual ~TextModel() = default;

  virtual const ModelInfo& info() const = 0;
  // Forward passes over the batch, padded to its longest sequence (not to
  // max_len). Per text: the label probabilities (classify) or the embedding
  // (embed). A classify text longer than max_len tokens is scored in windows
  // of max_len - 2 word pieces overlapping by half, and takes its most
  // suspicious window's probabilities (the lowest of the negative label); an
  // embedding is of the first max_len tokens, as the reference computes it.
  virtual std::vector<std::vector<float>> predict(const std::vector<std::string_view>& texts) = 0;

  // Learning the head from labelled texts (classify models with `head:`).
  // predict() uses the live head; a shadow copy learns, is scored beside it,
  // and replaces it only when promoted. Models that cannot learn throw ModelError.
  virtual bool can_learn() const { return false; }
  // The shadow becomes a copy of the live head again.
  virtual void reset_shadow() { not_learning(); }
  // `steps` Adam steps of the shadow head on the texts and their label
  // indices; returns the last step's mean cross-entropy.
  virtual float train_shadow(const std::vector<std::string_view>& /*texts*/, const std::vector<uint32_t>& /*labels*/,
                             int /*steps*/, float /*learning_rate*/) {
    not_learning();
    return 0;
  }
  // The probabilities of the live and of the shadow head, per text.
  virtual void predict_both(const std::vector<std::string_view>& /*texts*/, std::vector<std::vector<float>>& /*live*/,
                            std::vector<std::vector<float>>& /*shadow*/) {
    not_learning();
  }
  virtual void promote_shadow() { not_learning(); }
  // The live head's parameters as bytes (with a checksum), and back: the
  // saved versions of a model that learns. load_head checks names and shapes.
  virtual std::string head_bytes() const {
    not_learning();
    return {};
  }
  virtual void load_head(std::string_view /*bytes*/) { not_learning(); }

 private:
  [[noreturn]] void not_learning() const { throw ModelError(info().name + ": this model cannot learn (no head)"); }
};

// `socstream predict --model DIR [TEXT...]`: argv[0] is "predict".
int predict_main(int argc, char** argv);

}  // namespace socstream
