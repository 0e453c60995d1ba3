#pragma once
// The one entry point of libsocstream_torch.so. Exceptions do not cross it:
// a failure returns null and says why in `error`.
#include <string>

#include "models/model.hpp"

namespace socstream {

inline constexpr const char* kTorchPluginFile = "libsocstream_torch.so";
inline constexpr const char* kTorchPluginSymbol = "socstream_torch_load";
using TorchPluginLoad = TextModel*(const ModelInfo& info, std::string& error);

}  // namespace socstream

extern "C" socstream::TextModel* socstream_torch_load(const socstream::ModelInfo& info, std::string& error);
