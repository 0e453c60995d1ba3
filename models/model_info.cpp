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

}  // namespace

ModelInfo read_model_info(const std::filesystem::path& dir) {
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
    throw ModelError(info.weights.string() + ": sha256 " + got + " does not match model.yaml's " + info.sha256 +
                     " (a corrupt or replaced weights file)");
}

}  // namespace socstream
