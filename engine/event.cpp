#include "engine/event.hpp"

namespace socstream {

namespace {
// Releases runs of consecutive events from the same token with one atomic
// operation: a source batch usually arrives at a sink still contiguous.
void release_runs(std::vector<Event>& events, bool ok) {
  AckToken* run = nullptr;
  uint32_t n = 0;
  for (auto& e : events) {
    AckToken* t = e.ack.detach();
    if (t == run) {
      ++n;
      continue;
    }
    if (run) run->release(n, ok);
    run = t;
    n = 1;
  }
  if (run) run->release(n, ok);
}
}  // namespace

Batch Batch::share() const {
  Batch b;
  b.holds = holds;
  b.raw_padded = raw_padded;
  b.events.reserve(events.size());
  AckToken* run = nullptr;
  uint32_t n = 0;
  for (const auto& e : events) {
    Event c;
    c.raw = e.raw;
    c.pos = e.pos;
    c.fields = e.fields;
    c.rules = e.rules;
    c.matched = e.matched;
    c.error = e.error;
    c.error_detail = e.error_detail;
    c.error_component = e.error_component;
    c.source_meta = e.source_meta;
    c.scored = e.scored;
    // Take the extra references in bulk, then attach them one per copy.
    AckToken* t = e.ack.token();
    if (t != run) {
      if (run) run->add(n);
      run = t;
      n = 0;
    }
    if (t) ++n;
    c.ack = Ack(t);
    b.events.push_back(std::move(c));
  }
  if (run && n) run->add(n);
  return b;
}

void Batch::complete_all() {
  release_runs(events, true);
  events.clear();
}

void Batch::abandon_all() {
  release_runs(events, false);
  events.clear();
}

}  // namespace socstream
