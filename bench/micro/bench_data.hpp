#pragma once
#include <string>
#include <vector>

namespace socstream::bench {
// The bundled sample's lines (5,000 web access events, ~466 bytes each).
const std::vector<std::string>& sample_lines();
// Their url.query values.
const std::vector<std::string>& sample_queries();
}  // namespace socstream::bench
