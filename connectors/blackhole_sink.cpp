// type: blackhole (sink). Completes every event it receives and writes
// nothing, as Vector's blackhole: for discarding a port on purpose, and for
// benchmarks that measure what comes before the sink.
#include "connectors/connectors.hpp"

namespace socstream {

namespace {

class BlackholeSink final : public Sink {
 public:
  void process(Batch&& in, Outputs&) override { in.complete_all(); }
};

}  // namespace

ComponentSpec blackhole_sink_spec() {
  return ComponentSpec{"blackhole", Kind::Sink, "completes events and writes nothing", {}, false,
                       [](const Settings&) { return std::make_unique<BlackholeSink>(); }};
}

}  // namespace socstream
