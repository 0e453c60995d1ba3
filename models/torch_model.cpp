// The TorchScript plugin (libsocstream_torch.so): the only file that includes
// libtorch. models/model_loader.cpp opens it on first use.
#include <ATen/Parallel.h>
#include <torch/optim/adam.h>
#include <torch/script.h>

#include <boost/crc.hpp>

#include <algorithm>
#include <cstring>
#include <map>
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

// An int8 file's packed weights are made, as it is unpickled, for the quantized
// engine selected then, which is process-wide: it is set, and the file loaded,
// under one lock, so two models packed for different engines each get theirs.
// The forward passes then run on the weights' own engine.
std::mutex& qengine_mutex() {
  static std::mutex m;
  return m;
}

at::QEngine quantized_engine(const std::string& name) {
  static const std::map<std::string, at::QEngine> by_name{
      {"qnnpack", at::QEngine::QNNPACK}, {"onednn", at::QEngine::ONEDNN},
      {"fbgemm", at::QEngine::FBGEMM},   {"x86", at::QEngine::X86}};
  const auto it = by_name.find(name);
  const auto& have = at::globalContext().supportedQEngines();
  if (it == by_name.end() || std::find(have.begin(), have.end(), it->second) == have.end()) {
    std::string names;
    for (const auto& [n, e] : by_name)
      if (std::find(have.begin(), have.end(), e) != have.end()) names += (names.empty() ? "" : ", ") + n;
    throw ModelError("the weights are packed for the " + name + " quantized engine, which this libtorch lacks (it has: " +
                     names + "); re-run models/train/quantize_web_classifier.py with --engine one of those");
  }
  return it->second;
}

class TorchTextModel final : public TextModel {
 public:
  TorchTextModel(ModelInfo info, torch::jit::Module module, WordPieceTokenizer tok)
      : info_(std::move(info)), module_(std::move(module)), tok_(std::move(tok)) {
    module_.eval();
  }

  const ModelInfo& info() const override { return info_; }

  // A classify text longer than max_len tokens is scored in windows of
  // max_len - 2 pieces overlapping by half, so that any span of up to half a
  // window lies whole in one of them: padding placed before a payload cannot
  // push it past the truncation. The text takes its most suspicious window's
  // result (the lowest probability of the negative label). An embedding keeps
  // the reference's truncation: it describes the text, it does not judge it.
  std::vector<std::vector<float>> predict(const std::vector<std::string_view>& texts) override {
    std::vector<std::vector<float>> out;
    if (texts.empty()) return out;
    if (info_.task == "embed") {
      auto [ids, mask] = encode(texts);
      c10::InferenceMode guard;
      return to_rows(embed(first_tensor(module_.forward({ids, mask})), mask, ids.size(0)));
    }
    const size_t width = info_.max_len - 2;
    std::vector<std::vector<int64_t>> rows;
    std::vector<uint32_t> owner;
    for (uint32_t i = 0; i < texts.size(); ++i) {
      std::vector<int64_t> ids = tok_.ids(texts[i]);
      if (ids.size() <= width || width == 0) {
        rows.push_back(framed(ids, 0, std::min(ids.size(), width)));
        owner.push_back(i);
        continue;
      }
      for (size_t at = 0;; at += std::max<size_t>(1, width / 2)) {
        const size_t start = std::min(at, ids.size() - width);
        rows.push_back(framed(ids, start, width));
        owner.push_back(i);
        if (start + width >= ids.size()) break;
      }
    }
    out.resize(texts.size());
    const size_t negative = negative_index();
    // Windows are extra rows of the same passes; a pass is kept to the
    // batch's size (at least 32 rows), so a long text costs more passes, not
    // one pass too big for memory.
    const size_t per_pass = std::max<size_t>(texts.size(), 32);
    for (size_t at = 0; at < rows.size(); at += per_pass) {
      const size_t end = std::min(rows.size(), at + per_pass);
      auto [ids, mask] = pad(rows, at, end);
      c10::InferenceMode guard;
      auto probs = to_rows(classify(first_tensor(module_.forward({ids, mask})), ids.size(0)));
      for (size_t k = 0; k < probs.size(); ++k) {
        auto& best = out[owner[at + k]];
        if (best.empty() || probs[k][negative] < best[negative]) best = std::move(probs[k]);
      }
    }
    return out;
  }

  bool can_learn() const override { return info_.task == "classify" && !info_.head.empty(); }

  void reset_shadow() override {
    check_learning();
    shadow_ = module_.deepcopy();
    shadow_.eval();  // no dropout: the head learns on the features the live model computes
    for (auto p : shadow_.parameters()) {
      p.detach_();  // deepcopy clones with history: the optimiser needs leaves
      p.set_requires_grad(false);
    }
    std::vector<at::Tensor> head;
    for (const auto& p : head_of(shadow_).named_parameters(true)) {
      p.value.set_requires_grad(true);
      head.push_back(p.value);
    }
    // A head quantised with the encoder keeps its weights in packed int8,
    // which are no parameters: nothing would learn, and no error would say so.
    if (head.empty())
      throw ModelError(info_.name + ": the head '" + info_.head + "' (" + info_.weights.filename().string() +
                       ") has no float parameters to learn (quantised?); models/train/quantize_web_classifier.py "
                       "keeps it float32");
    optimizer_ = std::make_unique<torch::optim::Adam>(head, torch::optim::AdamOptions(lr_));
  }

  float train_shadow(const std::vector<std::string_view>& texts, const std::vector<uint32_t>& labels, int steps,
                     float learning_rate) override {
    if (!optimizer_ || learning_rate != lr_) {
      lr_ = learning_rate;
      reset_shadow();
    }
    auto [ids, mask] = encode(texts);
    std::vector<int64_t> y(labels.begin(), labels.end());
    at::Tensor target = torch::tensor(y, torch::kLong);
    float last = 0;
    for (int s = 0; s < steps; ++s) {
      optimizer_->zero_grad();
      at::Tensor logits = first_tensor(shadow_.forward({ids, mask}));
      at::Tensor loss = torch::nll_loss(torch::log_softmax(logits.to(torch::kFloat), 1), target);
      loss.backward();
      optimizer_->step();
      last = loss.item<float>();
    }
    return last;
  }

  void predict_both(const std::vector<std::string_view>& texts, std::vector<std::vector<float>>& live,
                    std::vector<std::vector<float>>& shadow) override {
    if (!optimizer_) reset_shadow();
    auto [ids, mask] = encode(texts);
    c10::InferenceMode guard;
    live = to_rows(classify(first_tensor(module_.forward({ids, mask})), ids.size(0)));
    shadow = to_rows(classify(first_tensor(shadow_.forward({ids, mask})), ids.size(0)));
  }

  void promote_shadow() override {
    if (!optimizer_) reset_shadow();
    torch::NoGradGuard no_grad;
    auto from = head_params(shadow_);
    for (auto& [name, t] : head_params(module_)) t.copy_(from.at(name));
  }

  std::string head_bytes() const override {
    check_learning();
    std::string out(kHeadMagic, sizeof kHeadMagic);
    auto put = [&](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
    auto params = head_params(module_);
    uint32_t count = static_cast<uint32_t>(params.size());
    put(&count, 4);
    for (const auto& [name, value] : params) {
      uint32_t len = static_cast<uint32_t>(name.size());
      put(&len, 4);
      put(name.data(), len);
      at::Tensor t = value.detach().to(torch::kFloat).contiguous();
      uint32_t dims = static_cast<uint32_t>(t.dim());
      put(&dims, 4);
      for (int64_t d : t.sizes()) put(&d, 8);
      put(t.data_ptr<float>(), static_cast<size_t>(t.numel()) * sizeof(float));
    }
    boost::crc_32_type crc;
    crc.process_bytes(out.data(), out.size());
    uint32_t sum = crc.checksum();
    put(&sum, 4);
    return out;
  }

  void load_head(std::string_view bytes) override {
    check_learning();
    if (bytes.size() < sizeof kHeadMagic + 8 || std::memcmp(bytes.data(), kHeadMagic, sizeof kHeadMagic) != 0)
      throw ModelError("not a saved head of a socstream model (bad magic)");
    boost::crc_32_type crc;
    crc.process_bytes(bytes.data(), bytes.size() - 4);
    uint32_t sum;
    std::memcpy(&sum, bytes.data() + bytes.size() - 4, 4);
    if (sum != crc.checksum()) throw ModelError("checksum mismatch: the saved head is damaged");
    size_t at = sizeof kHeadMagic;
    const size_t end = bytes.size() - 4;
    auto get = [&](void* p, size_t n) {
      if (end - at < n) throw ModelError("the saved head is truncated");
      std::memcpy(p, bytes.data() + at, n);
      at += n;
    };
    auto live = head_params(module_);
    uint32_t count;
    get(&count, 4);
    if (count != live.size()) throw ModelError("the saved head has " + std::to_string(count) + " parameters, the model's " + std::to_string(live.size()));
    std::vector<std::pair<std::string, at::Tensor>> loaded;
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t len, dims;
      get(&len, 4);
      std::string name(len, '\0');
      get(name.data(), len);
      get(&dims, 4);
      std::vector<int64_t> sizes(dims);
      for (auto& d : sizes) get(&d, 8);
      if (!live.count(name)) throw ModelError("the saved head has a parameter '" + name + "' the model's has not");
      at::Tensor target = live.at(name);
      if (target.sizes() != c10::IntArrayRef(sizes))
        throw ModelError("the saved head's '" + name + "' has shape " + c10::str(c10::IntArrayRef(sizes)) +
                         ", the model's " + c10::str(target.sizes()));
      at::Tensor t = torch::empty(sizes, torch::kFloat);
      get(t.data_ptr<float>(), static_cast<size_t>(t.numel()) * sizeof(float));
      loaded.emplace_back(name, t);
    }
    if (at != end) throw ModelError("trailing bytes after the saved head");
    {
      torch::NoGradGuard no_grad;
      for (auto& [name, t] : loaded) live.at(name).copy_(t);
    }
    reset_shadow();
  }

 private:
  static constexpr char kHeadMagic[8] = {'S', 'O', 'C', 'H', 'E', 'A', 'D', '1'};

  void check_learning() const {
    if (!can_learn()) throw ModelError(info_.name + ": this model cannot learn (model.yaml names no head)");
  }

  torch::jit::Module head_of(const torch::jit::Module& m) const {
    if (!m.hasattr(info_.head) || !m.attr(info_.head).isModule())
      throw ModelError(info_.name + ": the model has no submodule '" + info_.head + "' (model.yaml head)");
    return m.attr(info_.head).toModule();
  }

  // The head's parameters by name ("weight", "bias"), sharing the module's storage.
  std::map<std::string, at::Tensor> head_params(const torch::jit::Module& m) const {
    std::map<std::string, at::Tensor> out;
    for (const auto& p : head_of(m).named_parameters(true)) out.emplace(p.name, p.value);
    return out;
  }

  std::vector<std::vector<float>> to_rows(at::Tensor rows) const {
    rows = rows.to(torch::kFloat).contiguous();
    const auto cols = static_cast<size_t>(rows.size(1));
    const float* p = rows.data_ptr<float>();
    std::vector<std::vector<float>> out(static_cast<size_t>(rows.size(0)));
    for (size_t r = 0; r < out.size(); ++r) out[r].assign(p + r * cols, p + (r + 1) * cols);
    return out;
  }

  // [CLS] ids[at, at + n) [SEP]
  std::vector<int64_t> framed(const std::vector<int64_t>& ids, size_t at, size_t n) const {
    std::vector<int64_t> row;
    row.reserve(n + 2);
    row.push_back(tok_.cls_id());
    row.insert(row.end(), ids.begin() + static_cast<ptrdiff_t>(at), ids.begin() + static_cast<ptrdiff_t>(at + n));
    row.push_back(tok_.sep_id());
    return row;
  }

  size_t negative_index() const {
    for (size_t i = 0; i < info_.labels.size(); ++i)
      if (info_.labels[i] == info_.negative_label) return i;
    return 0;
  }

  // Token ids and attention mask of rows [at, end), padded to the longest.
  std::pair<at::Tensor, at::Tensor> pad(const std::vector<std::vector<int64_t>>& rows, size_t at, size_t end) const {
    const auto n = static_cast<int64_t>(end - at);
    size_t width = 0;
    for (size_t r = at; r < end; ++r) width = std::max(width, rows[r].size());
    auto ids = torch::full({n, static_cast<int64_t>(width)}, tok_.pad_id(), torch::kLong);
    auto mask = torch::zeros({n, static_cast<int64_t>(width)}, torch::kLong);
    auto ia = ids.accessor<int64_t, 2>();
    auto ma = mask.accessor<int64_t, 2>();
    for (size_t r = at; r < end; ++r)
      for (size_t c = 0; c < rows[r].size(); ++c) {
        ia[static_cast<int64_t>(r - at)][static_cast<int64_t>(c)] = rows[r][c];
        ma[static_cast<int64_t>(r - at)][static_cast<int64_t>(c)] = 1;
      }
    return {ids, mask};
  }

  // Each text truncated to max_len tokens, as Hugging Face's encode(truncation=True).
  std::pair<at::Tensor, at::Tensor> encode(const std::vector<std::string_view>& texts) const {
    std::vector<std::vector<int64_t>> rows;
    rows.reserve(texts.size());
    for (auto t : texts) rows.push_back(std::move(tok_.encode(t, info_.max_len).ids));
    return pad(rows, 0, rows.size());
  }

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
  // The shadow model (a deep copy; only its head requires grad) and its optimiser.
  torch::jit::Module shadow_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  float lr_ = 0.01f;
};

}  // namespace

}  // namespace socstream

extern "C" socstream::TextModel* socstream_torch_load(const socstream::ModelInfo& info, std::string& error) {
  using namespace socstream;
  try {
    single_threaded_torch();
    torch::jit::Module module;
    try {
      std::unique_lock lk(qengine_mutex(), std::defer_lock);
      if (!info.quantized_engine.empty()) {
        const at::QEngine engine = quantized_engine(info.quantized_engine);
        lk.lock();
        at::globalContext().setQEngine(engine);
      }
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
