#pragma once
#include <functional>
#include <memory>

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

// The redis sink, calling before_transaction(n) before it sends its n-th
// idempotent transaction (after that chunk's look-up): tests play a second
// writer there, a zombie instance racing this one.
std::unique_ptr<Sink> make_redis_sink(const Settings& s, std::function<void(uint64_t)> before_transaction);

}  // namespace socstream
