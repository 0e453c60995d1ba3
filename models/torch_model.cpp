// The TorchScript plugin (libsocstream_torch.so): the only file that includes
// libtorch. models/model_loader.cpp opens it on first use.
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <mutex>

#include "models/model.hpp"
#include "models/tokenizer.hpp"
#include "models/torch_plugin.hpp"

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
    const auto n = static_cast<int64_t>(texts.size());
    std::vector<Encoding> enc;
    enc.reserve(texts.size());
    size_t width = 0;
    for (auto t : texts) {
      enc.push_back(tok_.encode(t, info_.max_len));
      width = std::max(width, enc.back().ids.size());
    }
    auto ids = torch::full({n, static_cast<int64_t>(width)}, tok_.pad_id(), torch::kLong);
    auto mask = torch::zeros({n, static_cast<int64_t>(width)}, torch::kLong);
    auto ia = ids.accessor<int64_t, 2>();
    auto ma = mask.accessor<int64_t, 2>();
    for (size_t r = 0; r < enc.size(); ++r)
      for (size_t c = 0; c < enc[r].ids.size(); ++c) {
        ia[r][c] = enc[r].ids[c];
        ma[r][c] = 1;
      }
    c10::InferenceMode guard;
    at::Tensor y = first_tensor(module_.forward({ids, mask}));
    at::Tensor rows = info_.task == "embed" ? embed(y, mask, n) : classify(y, n);
    rows = rows.to(torch::kFloat).contiguous();
    const auto cols = static_cast<size_t>(rows.size(1));
    const float* p = rows.data_ptr<float>();
    out.resize(texts.size());
    for (size_t r = 0; r < texts.size(); ++r) out[r].assign(p + r * cols, p + (r + 1) * cols);
    return out;
  }

 private:
  // Hugging Face models traced without return_dict=False return a tuple whose
  // first element is the logits or the last hidden state.
  at::Tensor first_tensor(const c10::IValue& v) const {
    if (v.isTensor()) return v.toTensor();
    if (v.isTuple() && !v.toTupleRef().elements().empty() && v.toTupleRef().elements()[0].isTensor())
      return v.toTupleRef().elements()[0].toTensor();
    throw ModelError(info_.name + ": the model returned a " + v.tagKind() + ", expected a tensor");
  }

  at::Tensor classify(const at::Tensor& logits, int64_t n) const {
    if (logits.dim() != 2 || logits.size(0) != n || logits.size(1) != static_cast<int64_t>(info_.labels.size()))
      throw ModelError(info_.name + ": the model returned shape " + c10::str(logits.sizes()) + ", expected [" +
                       std::to_string(n) + ", " + std::to_string(info_.labels.size()) + "]");
    return torch::softmax(logits.to(torch::kFloat), 1);
  }

  // sentence-transformers' mean pooling: token states averaged over the
  // attention mask, then L2-normalised (as its Normalize module).
  at::Tensor embed(at::Tensor y, const at::Tensor& mask, int64_t n) const {
    y = y.to(torch::kFloat);
    if (y.dim() == 3 && y.size(0) == n && y.size(1) == mask.size(1)) {
      auto m = mask.unsqueeze(-1).to(torch::kFloat);
      y = (y * m).sum(1) / m.sum(1).clamp_min(1e-9);
    } else if (y.dim() != 2 || y.size(0) != n) {
      throw ModelError(info_.name + ": the model returned shape " + c10::str(y.sizes()) +
                       ", expected [batch, tokens, dim] or [batch, dim]");
    }
    return y / y.norm(2, 1, true).clamp_min(1e-12);
  }

  ModelInfo info_;
  torch::jit::Module module_;
  WordPieceTokenizer tok_;
};

}  // namespace

}  // namespace socstream

extern "C" socstream::TextModel* socstream_torch_load(const socstream::ModelInfo& info, std::string& error) {
  using namespace socstream;
  try {
    single_threaded_torch();
    torch::jit::Module module;
    try {
      module = torch::jit::load(info.weights.string());
    } catch (const c10::Error& e) {
      error = info.weights.string() + ": not a loadable TorchScript model: " + e.what_without_backtrace();
      return nullptr;
    }
    WordPieceTokenizer::Options opts;
    opts.lowercase = info.lowercase;
    auto vocab = WordPieceTokenizer::from_vocab_file(info.vocab, opts);
    auto model = std::make_unique<TorchTextModel>(info, std::move(module), std::move(vocab));
    // TorchScript's profiling executor spends its first two passes profiling
    // and optimising (320 and 234 ms measured, against 2-30 ms after): pay that
    // here, at start, not on the first events' latency.
    for (size_t n : {1, 4, 2}) model->predict(std::vector<std::string_view>(n, "warm up the graph executor 1"));
    return model.release();
  } catch (const std::exception& e) {
    error = info.dir.string() + ": " + e.what();
    return nullptr;
  }
}
