#pragma once
#include "engine/component.hpp"

namespace socstream {

ComponentSpec file_source_spec();
ComponentSpec stdin_source_spec();
ComponentSpec file_sink_spec();
ComponentSpec stdout_sink_spec();
ComponentSpec kafka_source_spec();
ComponentSpec kafka_sink_spec();
ComponentSpec redis_sink_spec();
ComponentSpec blackhole_sink_spec();

void register_connectors(Registry& r);

}  // namespace socstream
