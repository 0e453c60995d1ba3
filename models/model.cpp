// The only file that includes libtorch.
#include "models/model.hpp"

#include <ATen/Parallel.h>
#include <torch/script.h>
#include <yaml-cpp/yaml.h>

#include <mutex>

#include "models/sha256.hpp"
#include "models/tokenizer.hpp"

namespace socstream {

namespace {

// One intra-op thread per inference worker: on two cores shared with the rest of
// the pipeline, OpenMP barriers spinning against other tasks were measured
// 5 to 50 times slower (DESIGN.md). More throughput comes from more workers.
void single_threaded_torch() {
  static std::once_flag once;
  std::call_once(once, [] {
    at::set_num_threads(1);
    at::set_num_interop_threads(1);
  });
}

class TorchTextModel final : public TextModel {
 public:
  TorchTextModel(ModelInfo info, torch::jit::Module module, WordPieceTokenizer tok)
      : info_(std::move(info)), module_(std::move(module)), tok_(std::move(tok)) {
    module_.eval();
  }

  const ModelInfo& info() const override { return info_; }

  std::vector<std::vector<float>> predict(const std::vector<std::string_view>& texts) override {
    std::vector<std::vector<float>> out;
    if (texts.empty()) return out;
    std::vector<Encoding> enc;
    enc.reserve(texts.size());
    size_t width = 0;
    for (auto t : texts) {
      enc.push_back(tok_.encode(t, info_.max_len));
      width = std::max(width, enc.back().ids.size());
    }
    auto ids = torch::full({static_cast<int64_t>(texts.size()), static_cast<int64_t>(width)}, tok_.pad_id(), torch::kLong);
    auto mask = torch::zeros({static_cast<int64_t>(texts.size()), static_cast<int64_t>(width)}, torch::kLong);
    auto ia = ids.accessor<int64_t, 2>();
    auto ma = mask.accessor<int64_t, 2>();
    for (size_t r = 0; r < enc.size(); ++r)
      for (size_t c = 0; c < enc[r].ids.size(); ++c) {
        ia[r][c] = enc[r].ids[c];
        ma[r][c] = 1;
      }
    c10::InferenceMode guard;
    at::Tensor logits = module_.forward({ids, mask}).toTensor();
    if (logits.dim() != 2 || logits.size(0) != static_cast<int64_t>(texts.size()) ||
        logits.size(1) != static_cast<int64_t>(info_.labels.size()))
      throw ModelError(info_.name + ": the model returned shape " + c10::str(logits.sizes()) + ", expected [" +
                       std::to_string(texts.size()) + ", " + std::to_string(info_.labels.size()) + "]");
    at::Tensor probs = torch::softmax(logits.to(torch::kFloat), 1).contiguous();
    const float* p = probs.data_ptr<float>();
    out.resize(texts.size());
    for (size_t r = 0; r < texts.size(); ++r) out[r].assign(p + r * info_.labels.size(), p + (r + 1) * info_.labels.size());
    return out;
  }

 private:
  ModelInfo info_;
  torch::jit::Module module_;
  WordPieceTokenizer tok_;
};

}  // namespace

std::unique_ptr<TextModel> TextModel::load(const std::filesystem::path& dir) {
  const auto yaml_path = dir / "model.yaml";
  if (!std::filesystem::exists(yaml_path)) throw ModelError(dir.string() + ": no model.yaml (is this a model directory?)");
  YAML::Node y;
  try {
    y = YAML::LoadFile(yaml_path.string());
  } catch (const YAML::Exception& e) {
    throw ModelError(yaml_path.string() + ": " + e.what());
  }
  auto need = [&](const char* key) {
    if (!y[key]) throw ModelError(yaml_path.string() + ": missing '" + key + "'");
    return y[key];
  };
  ModelInfo info;
  info.dir = dir;
  info.name = need("name").as<std::string>();
  info.version = need("version").as<int>();
  info.task = need("task").as<std::string>();
  if (info.task != "classify") throw ModelError(yaml_path.string() + ": task '" + info.task + "' is not supported here");
  info.labels = need("labels").as<std::vector<std::string>>();
  auto tok = need("tokenizer");
  info.max_len = tok["max_len"] ? tok["max_len"].as<size_t>() : 128;
  WordPieceTokenizer::Options opts;
  if (tok["lowercase"]) opts.lowercase = tok["lowercase"].as<bool>();
  const auto weights = dir / need("weights").as<std::string>();
  const std::string want = need("sha256").as<std::string>();
  if (!std::filesystem::exists(weights)) throw ModelError(weights.string() + ": weights file not found");
  const std::string got = sha256_file_hex(weights);
  if (got != want)
    throw ModelError(weights.string() + ": sha256 " + got + " does not match model.yaml's " + want +
                     " (a corrupt or replaced weights file)");
  single_threaded_torch();
  torch::jit::Module module;
  try {
    module = torch::jit::load(weights.string());
  } catch (const c10::Error& e) {
    throw ModelError(weights.string() + ": not a loadable TorchScript model: " + e.what_without_backtrace());
  }
  auto vocab = WordPieceTokenizer::from_vocab_file(dir / tok["vocab"].as<std::string>("vocab.txt"), opts);
  return std::make_unique<TorchTextModel>(std::move(info), std::move(module), std::move(vocab));
}

}  // namespace socstream
