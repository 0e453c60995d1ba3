#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "models/model.hpp"
#include "engine/config.hpp"
#include "engine/sha256.hpp"

namespace socstream {

namespace {

// A model's files are read whole at load: anything but a regular file of a
// sane size (a FIFO, /dev/zero, a 40 GB blob) would hang or exhaust the load.
void need_regular_file(const std::filesystem::path& p, uintmax_t max_bytes, const char* what) {
  std::error_code ec;
  const auto status = std::filesystem::status(p, ec);
  if (ec || !std::filesystem::exists(status)) throw ModelError(p.string() + ": " + what + " not found");
  if (!std::filesystem::is_regular_file(status)) throw ModelError(p.string() + ": " + what + " is not a regular file");
  const uintmax_t size = std::filesystem::file_size(p, ec);
  if (ec || size > max_bytes)
    throw ModelError(p.string() + ": " + what + " is larger than " + std::to_string(max_bytes >> 20) + " MiB");
}

std::string listed(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// model.yaml's `precision:` and `variants:`: which weights file is served.
// `asked` (the caller's override) failing is a PrecisionError, so that the
// caller points at its own setting; model.yaml's own choice failing is
// model.yaml's error.
void select_precision(const YAML::Node& y, const std::string& where, const std::string& asked, ModelInfo& info) {
  const auto& known = known_precisions();
  auto is_known = [&](const std::string& p) { return std::find(known.begin(), known.end(), p) != known.end(); };
  const std::string own = y["precision"] ? y["precision"].as<std::string>() : "float32";
  if (!is_known(own)) throw ModelError(where + ": precision '" + own + "' is not one of: " + listed(known));
  struct Variant {
    std::string weights, sha256, source_sha256, quantized_engine;
  };
  std::map<std::string, Variant> variants;
  if (const auto v = y["variants"]) {
    if (!v.IsMap()) throw ModelError(where + ": 'variants' must be a map from a precision to its weights file");
    for (const auto& kv : v) {
      const auto name = kv.first.as<std::string>();
      const std::string at = where + ": variants." + name;
      if (name == "float32") throw ModelError(at + ": float32 is the model's own 'weights' and 'sha256'");
      if (!is_known(name)) throw ModelError(at + ": not a precision the engine serves (" + listed(known) + ")");
      if (!kv.second.IsMap()) throw ModelError(at + " must be a map (weights, sha256, source_sha256, quantized_engine)");
      Variant var;
      for (const auto& f : kv.second) {
        const auto key = f.first.as<std::string>();
        std::string* into = key == "weights" ? &var.weights
                            : key == "sha256" ? &var.sha256
                            : key == "source_sha256" ? &var.source_sha256
                            : key == "quantized_engine" ? &var.quantized_engine
                                                        : nullptr;
        if (!into) throw ModelError(at + ": unknown key '" + key + "' (known: weights, sha256, source_sha256, quantized_engine)");
        *into = f.second.as<std::string>();
      }
      if (var.weights.empty() || var.sha256.empty() || var.source_sha256.empty() || var.quantized_engine.empty())
        throw ModelError(at + " needs weights, sha256, source_sha256 and quantized_engine");
      static const std::vector<std::string> engines{"qnnpack", "onednn", "fbgemm", "x86"};
      if (std::find(engines.begin(), engines.end(), var.quantized_engine) == engines.end())
        throw ModelError(at + ": quantized_engine '" + var.quantized_engine + "' is not one of: " + listed(engines));
      variants[name] = var;
      info.precisions.push_back(name);
    }
  }
  const std::string want = asked.empty() ? own : asked;
  auto fail = [&](const std::string& why) {
    if (!asked.empty()) throw PrecisionError(why);
    throw ModelError(why);
  };
  if (!is_known(want)) fail("precision '" + want + "' is not one of: " + listed(known));
  info.precision = want;
  if (want == "float32") return;
  const auto it = variants.find(want);
  if (it == variants.end())
    fail(where + ": offers no " + want + " weights (precisions: " + listed(info.precisions) +
         "); models/train/quantize_web_classifier.py " + info.dir.string() + " makes them");
  const Variant& var = it->second;
  // An int8 file is the float32 weights quantised: after a retraining the old
  // one would serve the old model under the new one's name and version.
  if (var.source_sha256 != info.sha256)
    fail(where + ": the " + want + " weights " + var.weights + " were made from other float32 weights (source_sha256 " +
         var.source_sha256 + ", sha256 " + info.sha256 + "): re-run models/train/quantize_web_classifier.py " +
         info.dir.string());
  info.weights = info.dir / var.weights;
  info.sha256 = var.sha256;
  info.quantized_engine = var.quantized_engine;
  try {
    need_regular_file(info.weights, uintmax_t{4} << 30, (want + " weights file").c_str());
  } catch (const ModelError& e) {
    fail(e.what());
  }
}

}  // namespace

ModelInfo read_model_info(const std::filesystem::path& dir, const std::string& precision) {
  const auto yaml_path = dir / "model.yaml";
  if (!std::filesystem::exists(yaml_path)) throw ModelError(dir.string() + ": no model.yaml (is this a model directory?)");
  need_regular_file(yaml_path, 1 << 20, "model.yaml");
  const std::string where = yaml_path.string();
  try {
    YAML::Node y = YAML::LoadFile(where);
    auto need = [&](const char* key) {
      if (!y[key]) throw ModelError(where + ": missing '" + key + "'");
      return y[key];
    };
    ModelInfo info;
    info.dir = dir;
    info.name = need("name").as<std::string>();
    info.version = need("version").as<int>();
    info.task = need("task").as<std::string>();
    if (info.task != "classify" && info.task != "embed")
      throw ModelError(where + ": task '" + info.task + "' is not one of: classify, embed");
    if (info.task == "classify") {
      info.labels = need("labels").as<std::vector<std::string>>();
      if (info.labels.size() < 2) throw ModelError(where + ": a classifier needs at least two labels");
      for (size_t i = 0; i < info.labels.size(); ++i)
        for (size_t j = 0; j < i; ++j)
          if (info.labels[i] == info.labels[j]) throw ModelError(where + ": the label '" + info.labels[i] + "' is listed twice");
      info.negative_label = y["negative_label"] ? y["negative_label"].as<std::string>() : info.labels.front();
      auto known = [&](const std::string& l) {
        return std::find(info.labels.begin(), info.labels.end(), l) != info.labels.end();
      };
      if (!known(info.negative_label)) throw ModelError(where + ": negative_label '" + info.negative_label + "' is not a label");
      if (y["head"]) info.head = y["head"].as<std::string>();
      for (const auto& l : info.labels) info.thresholds[l] = 0.5;
      if (y["thresholds"])
        for (const auto& kv : y["thresholds"]) {
          auto l = kv.first.as<std::string>();
          if (!known(l)) throw ModelError(where + ": threshold for '" + l + "', which is not a label");
          info.thresholds[l] = kv.second.as<double>();
          if (!(info.thresholds[l] >= 0 && info.thresholds[l] <= 1))
            throw ModelError(where + ": the threshold for '" + l + "' must be between 0 and 1");
        }
    }
    auto tok = need("tokenizer");
    info.max_len = tok["max_len"] ? tok["max_len"].as<size_t>() : 128;
    // BERT-family encoders have 512 positions: a longer input fails in every forward pass.
    if (info.max_len < 2 || info.max_len > 512) throw ModelError(where + ": tokenizer.max_len must be between 2 and 512");
    if (tok["lowercase"]) info.lowercase = tok["lowercase"].as<bool>();
    info.vocab = dir / tok["vocab"].as<std::string>("vocab.txt");
    info.weights = dir / need("weights").as<std::string>();
    info.sha256 = need("sha256").as<std::string>();
    if (y["evaluation"]) info.evaluation_json = yaml_to_json(y["evaluation"]);
    if (const auto d = y["domain"]) {
      if (!d.IsMap()) throw ModelError(where + ": 'domain' must be a map (fields, transforms, rule_tags, text)");
      auto& dom = info.domain;
      dom.known = true;
      for (const auto& kv : d) {
        const auto key = kv.first.as<std::string>();
        if (key == "fields") dom.fields = kv.second.as<std::vector<std::string>>();
        else if (key == "transforms") dom.transforms = kv.second.as<std::vector<std::string>>();
        else if (key == "rule_tags") dom.rule_tags = kv.second.as<std::vector<std::string>>();
        else if (key == "text") dom.text = kv.second.as<std::string>();
        else throw ModelError(where + ": unknown key 'domain." + key + "' (known: fields, transforms, rule_tags, text)");
      }
      if (dom.fields.empty()) throw ModelError(where + ": 'domain.fields' names no field");
      if (!d["rule_tags"])
        for (const auto& l : info.labels)
          if (l != info.negative_label) dom.rule_tags.push_back(l);
    }
    select_precision(y, where, precision, info);
    need_regular_file(info.vocab, uintmax_t{64} << 20, "vocabulary file");
    need_regular_file(info.weights, uintmax_t{4} << 30, "weights file");
    return info;
  } catch (const YAML::Exception& e) {
    throw ModelError(where + ": " + e.what());
  }
}

void verify_weights(const ModelInfo& info) {
  const std::string got = sha256_file_hex(info.weights);
  if (got != info.sha256)
    throw ModelError(info.weights.string() + ": sha256 " + got + " does not match model.yaml's " +
                     (info.precision == "float32" ? "" : "variants." + info.precision + ".") + "sha256 " + info.sha256 +
                     " (a corrupt or replaced weights file)");
}

}  // namespace socstream
