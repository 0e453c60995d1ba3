#pragma once
// The field-flow check of `validate`: which fields can reach each component,
// from what every component upstream says it adds (Component::writes), held
// against what it reads (Component::reads). A name nothing upstream gives is a
// typo or a missing parser far more often than a field that appears later, so
// it is a warning with the position the name was written at, never an error:
// a field may come from data the check cannot see.
#include "engine/config.hpp"
#include "engine/topology.hpp"

namespace socstream {

void check_field_flow(const Topology& topo, Diagnostics& diag);

}  // namespace socstream
