// model.yaml (models/model_info.cpp, read_model_info and verify_weights): the
// input is a model directory's model.yaml. The directory also holds
// vocab.txt, model.pt and weights.bin (regular files), a directory named
// dir.pt and a FIFO named fifo.pt, so the names a model.yaml gives can be
// any of those.
//
// Checked: a model.yaml is accepted or refused with a ModelError (no other
// exception, no hang on the FIFO); an accepted one has a task the engine
// knows, at least two distinct labels for a classifier with a negative label
// and thresholds among them in [0, 1], a max_len in [2, 512], and weights and
// vocabulary that are regular files inside or outside the directory, and a
// precision served that the engine knows and model.yaml offers (a quantized
// engine named for int8, none for float32).
#include <sys/stat.h>

#include <set>

#include "models/model.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace socstream;
using namespace socstream::fuzz;

namespace {

const std::filesystem::path& model_dir() {
  static const std::filesystem::path dir = scratch_dir() / "model";
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  quiet();
  write_file(model_dir() / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nselect\n");
  write_file(model_dir() / "model.pt", "weights");
  write_file(model_dir() / "weights.bin", "");
  std::filesystem::create_directories(model_dir() / "dir.pt");
  if (::mkfifo((model_dir() / "fifo.pt").c_str(), 0600) != 0) fuzz_fail("mkfifo");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  write_file(model_dir() / "model.yaml", std::string_view(reinterpret_cast<const char*>(data), size));
  ModelInfo info;
  try {
    info = read_model_info(model_dir());
  } catch (const ModelError& e) {
    FUZZ_CHECK(std::string_view(e.what()).size() > 0, "a refusal without a message");
    return 0;
  }
  FUZZ_CHECK(info.task == "classify" || info.task == "embed", info.task);
  FUZZ_CHECK(info.max_len >= 2 && info.max_len <= 512, std::to_string(info.max_len));
  if (info.task == "classify") {
    FUZZ_CHECK(info.labels.size() >= 2, "a classifier with fewer than two labels");
    FUZZ_CHECK(std::set<std::string>(info.labels.begin(), info.labels.end()).size() == info.labels.size(),
               "a label listed twice");
    FUZZ_CHECK(std::find(info.labels.begin(), info.labels.end(), info.negative_label) != info.labels.end(),
               "the negative label is no label");
    for (const auto& [label, t] : info.thresholds) {
      FUZZ_CHECK(std::find(info.labels.begin(), info.labels.end(), label) != info.labels.end(), "threshold of no label");
      FUZZ_CHECK(t >= 0 && t <= 1, "threshold " + std::to_string(t));
    }
  }
  const auto& known = known_precisions();
  FUZZ_CHECK(std::find(known.begin(), known.end(), info.precision) != known.end(), info.precision);
  FUZZ_CHECK(std::find(info.precisions.begin(), info.precisions.end(), info.precision) != info.precisions.end(),
             "serves a precision it does not offer: " + info.precision);
  FUZZ_CHECK(info.quantized_engine.empty() == (info.precision == "float32"), "quantized engine " + info.quantized_engine);
  FUZZ_CHECK(std::filesystem::is_regular_file(info.weights), info.weights.string());
  FUZZ_CHECK(std::filesystem::is_regular_file(info.vocab), info.vocab.string());
  try {
    verify_weights(info);
  } catch (const ModelError&) {
  }
  return 0;
}
