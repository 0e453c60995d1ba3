#pragma once
#include "engine/component.hpp"

namespace socstream {

ComponentSpec json_parse_spec();
ComponentSpec regex_prefilter_spec();
ComponentSpec alert_spec();
ComponentSpec transformer_spec();
ComponentSpec online_classifier_spec();
ComponentSpec sigma_spec();
ComponentSpec parse_spec();

void register_operators(Registry& r);

}  // namespace socstream
