#pragma once
// A transformer component's face in the model API (engine/model_api.hpp):
// what it serves, verdicts and explanations for texts on the caller's thread
// (under the operator's model lock, so they never race a forward pass or a
// promotion), and run-time pinning with pin_version's rules.
#include <string>
#include <vector>

#include "engine/context.hpp"

namespace socstream {

class TransformerOp;

class TransformerEndpoint final : public ModelEndpoint {
 public:
  explicit TransformerEndpoint(TransformerOp& op) : op_(op) {}
  std::string describe() const override;
  std::string predict(const std::vector<std::string>& texts) override;
  std::string explain(const std::string& text) override;
  std::string performance() const override;
  std::string pin(const std::string& version) override;

 private:
  TransformerOp& op_;
};

}  // namespace socstream
