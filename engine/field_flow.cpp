#include "engine/field_flow.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <set>

namespace socstream {

namespace {

struct Reaching {
  std::set<std::string> names;
  bool open = false;  // some upstream component adds names from the data
  bool known = true;  // false if an upstream component was not built (validate without build)
};

}  // namespace

void check_field_flow(const Topology& topo, Diagnostics& diag) {
  const size_t n = topo.nodes.size();
  // What reaches a node's input, and what leaves it; the graph is acyclic (load_topology checked).
  std::vector<std::optional<Reaching>> in(n), out(n);
  std::function<const Reaching&(size_t)> leaving = [&](size_t v) -> const Reaching& {
    if (out[v]) return *out[v];
    Reaching r;
    for (const auto& i : topo.nodes[v].inputs) {
      // A dead letter leaves with its fields cleared (Outputs::reject): raw bytes and the reason only.
      const Node& from = topo.nodes[i.node];
      if (i.port < from.ports.size() && from.ports[i.port] == "dlq") continue;
      const Reaching& up = leaving(i.node);
      r.names.insert(up.names.begin(), up.names.end());
      r.open |= up.open;
      r.known &= up.known;
    }
    in[v] = r;
    const Node& node = topo.nodes[v];
    if (node.instances.empty()) {
      r.known = false;
    } else {
      FieldWrites w = node.instances.front()->writes();
      r.names.insert(w.names.begin(), w.names.end());
      r.open |= w.open;
    }
    out[v] = std::move(r);
    return *out[v];
  };
  for (size_t v = 0; v < n; ++v) {
    const Node& node = topo.nodes[v];
    if (node.instances.empty() || node.kind == Kind::Source) continue;
    leaving(v);
    const Reaching& r = *in[v];
    const auto reads = node.instances.front()->reads();
    // Dead letters carry no fields at all: a component reading one from them never finds it.
    for (const auto& i : node.inputs) {
      const Node& from = topo.nodes[i.node];
      if (i.port >= from.ports.size() || from.ports[i.port] != "dlq" || reads.empty()) continue;
      std::string names;
      for (const auto& f : reads) names += (names.empty() ? "'" : ", '") + f.name + "'";
      diag.warn(i.where, "'" + node.name + "': dead letters from '" + i.text + "' carry no fields, so none has " +
                             names + " (" + reads.front().role + "); give dead letters a sink of their own");
    }
    if (r.open || !r.known) continue;
    const FieldWrites own = node.instances.front()->writes();
    for (const FieldRead& f : reads) {
      if (r.names.count(f.name)) continue;
      if (f.or_own && (own.open || std::find(own.names.begin(), own.names.end(), f.name) != own.names.end())) continue;
      std::string msg = "'" + node.name + "': no component upstream gives events the field '" + f.name + "'";
      if (!f.role.empty()) msg += " (" + f.role + ")";
      const std::vector<std::string> given(r.names.begin(), r.names.end());
      if (given.empty()) {
        msg += "; events reach it with no named fields: parse them first (json_parse, parse, or a lines source's message)";
      } else {
        std::string all;
        size_t shown = 0;
        for (const auto& g : given)
          if (shown++ < 24) all += (all.empty() ? "" : ", ") + g;
        if (given.size() > 24) all += ", ... (" + std::to_string(given.size()) + " in all)";
        msg += "; upstream gives: " + all;
      }
      std::vector<std::string> candidates = given;
      if (f.or_own) candidates.insert(candidates.end(), own.names.begin(), own.names.end());
      if (auto c = closest(f.name, candidates)) msg += "; did you mean '" + *c + "'?";
      diag.warn(f.where, msg);
    }
  }
}

}  // namespace socstream
