#pragma once
// An online_classifier component's face in the model API
// (engine/model_api.hpp): what it is, live figures, verdicts and the
// features behind them for texts, on the caller's thread under the
// operator's model lock (learning never runs beside it).
#include <string>
#include <vector>

#include "engine/context.hpp"

namespace socstream {

class OnlineClassifierOp;

class OnlineEndpoint final : public ModelEndpoint {
 public:
  explicit OnlineEndpoint(OnlineClassifierOp& op) : op_(op) {}
  std::string describe() const override;
  std::string predict(const std::vector<std::string>& texts) override;
  std::string explain(const std::string& text) override;
  std::string performance() const override;
  // An online model has one version, the one it is learning: nothing to pin.
  std::string pin(const std::string& version) override;

 private:
  OnlineClassifierOp& op_;
};

}  // namespace socstream
