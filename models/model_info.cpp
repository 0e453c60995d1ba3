#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "models/model.hpp"
#include "engine/sha256.hpp"

namespace socstream {

ModelInfo read_model_info(const std::filesystem::path& dir) {
  const auto yaml_path = dir / "model.yaml";
  if (!std::filesystem::exists(yaml_path)) throw ModelError(dir.string() + ": no model.yaml (is this a model directory?)");
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
        }
    }
    auto tok = need("tokenizer");
    info.max_len = tok["max_len"] ? tok["max_len"].as<size_t>() : 128;
    if (info.max_len < 2) throw ModelError(where + ": tokenizer.max_len must be at least 2");
    if (tok["lowercase"]) info.lowercase = tok["lowercase"].as<bool>();
    info.vocab = dir / tok["vocab"].as<std::string>("vocab.txt");
    info.weights = dir / need("weights").as<std::string>();
    info.sha256 = need("sha256").as<std::string>();
    if (!std::filesystem::exists(info.vocab)) throw ModelError(info.vocab.string() + ": vocabulary file not found");
    if (!std::filesystem::exists(info.weights)) throw ModelError(info.weights.string() + ": weights file not found");
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
