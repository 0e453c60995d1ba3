#include "connectors/connectors.hpp"

namespace socstream {

void register_connectors(Registry& r) {
  r.add(file_source_spec());
  r.add(stdin_source_spec());
  r.add(file_sink_spec());
  r.add(stdout_sink_spec());
  r.add(kafka_source_spec());
  r.add(kafka_sink_spec());
  r.add(redis_sink_spec());
  r.add(blackhole_sink_spec());
}

}  // namespace socstream
