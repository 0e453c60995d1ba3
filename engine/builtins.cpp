#include "engine/builtins.hpp"

#include <mutex>

#include "connectors/connectors.hpp"
#include "operators/operators.hpp"

namespace socstream {

void register_builtins() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_operators(Registry::global());
    register_connectors(Registry::global());
  });
}

}  // namespace socstream
