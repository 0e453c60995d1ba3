// type: stdout (sink). JSON lines to standard output (logs go to stderr).
#include <unistd.h>

#include "connectors/connectors.hpp"
#include "connectors/fd_writer.hpp"

namespace socstream {

namespace {

class StdoutSink final : public Sink {
 public:
  StdoutSink() { w_.set_fd(STDOUT_FILENO, "stdout"); }
  void process(Batch&& in, Outputs&) override { w_.write(std::move(in)); }

 private:
  FdWriter w_;
};

}  // namespace

ComponentSpec stdout_sink_spec() {
  return ComponentSpec{"stdout", Kind::Sink, "JSON lines to standard output", {}, false,
                       [](const Settings&) { return std::make_unique<StdoutSink>(); }};
}

}  // namespace socstream
