#pragma once
// The model API of the admin endpoint (docs/api.md): the models the running
// topology serves (ComponentContext::serve_model), listed, described, pinned
// to a version, and asked for verdicts and explanations on texts.
//   GET  /api/ml/models              every model: name, component, kind, version, labels, thresholds
//   GET  /api/ml/models/{name}       one, with its versions, validation figures and live figures
//   PUT  /api/ml/models/{name}       {"version": "3"} or {"version": "latest"}: pin or roll back
//   POST /api/ml/predict             {"model": name, "text": "..."}: label and scores
//   POST /api/ml/batch-predict       {"model": name, "texts": ["...", ...]}
//   POST /api/ml/explain             {"model": name, "text": "..."}: what drove the verdict
//   GET  /api/ml/performance         live figures of every model
// `model` may be left out when the topology serves one model. Errors are
// {"error": "..."} with a 4xx status.
#include <string>
#include <string_view>

#include "engine/service.hpp"

namespace socstream {

struct ApiReply {
  int status = 200;
  std::string body;
};

ApiReply model_api(Generation& generation, std::string_view method, std::string_view path, const std::string& body);

}  // namespace socstream
