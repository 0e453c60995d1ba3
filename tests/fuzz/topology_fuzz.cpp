// The topology loader (engine/topology.cpp): the input is a topology file,
// loaded as `socstream validate` loads it, every component built (settings
// checked, rules compiled, paths resolved) but nothing opened. Every built-in
// component is registered, as in the engine.
//
// The file sits in a directory laid out like config/: rules/web.yaml (the
// starter rules), rules.yaml (one rule; the unit tests' topologies name it),
// sigma/rules/ (a few Sigma rules, a correlation among them), samples/, and
// ../models/web-attack-classifier, a model directory whose weights do not
// match their checksum, so the transformer refuses it before it would look
// for the libtorch plugin (and this build has no plugin to find).
//
// Checked: a topology that loads has no diagnostics, and its nodes' inputs
// name existing nodes and ports; the loader never throws.
#include <cstdlib>

#include "engine/builtins.hpp"
#include "engine/topology.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace socstream;
using namespace socstream::fuzz;

namespace {

const std::filesystem::path& world() {
  static const std::filesystem::path dir = scratch_dir() / "config";
  return dir;
}

std::string read(const std::filesystem::path& p) {
  FUZZ_CHECK(std::filesystem::is_regular_file(p), p.string());
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void make_world() {
  const std::filesystem::path src = SOCSTREAM_SOURCE_DIR;
  write_file(world() / "rules/web.yaml", read(src / "config/rules/web.yaml"));
  // The unit tests' topologies name a rules file next to them.
  write_file(world() / "rules.yaml", "rules:\n  - {id: r1, pattern: 'union\\s+select', severity: high, tags: [sqli, T1190]}\n");
  for (const char* rule : {"windows/process_creation/proc_creation_win_whoami_all_execution.yml",
                           "windows/process_creation/proc_creation_win_net_user_add.yml",
                           "windows/builtin/security/win_security_user_added_to_local_administrators.yml"})
    write_file(world() / "sigma/rules" / std::filesystem::path(rule).filename(), read(src / "config/sigma/rules" / rule));
  write_file(world() / "sigma/rules/correlation.yml", R"(title: many whoami
id: 9d6b1a8e-0000-4000-8000-00000000f022
level: high
correlation:
  type: event_count
  rules: [c248c896-e412-4279-8c15-1c558067b6fa]
  group-by: [Computer]
  timespan: 5m
  condition: {gte: 3}
)");
  write_file(world() / "samples/web-access.jsonl", "{\"url\":{\"query\":\"a=1\"}}\n");
  const auto model = scratch_dir() / "models/web-attack-classifier";
  write_file(model / "model.yaml", read(src / "models/web-attack-classifier/model.yaml"));
  write_file(model / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n");
  write_file(model / "model.pt", "not the weights");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  quiet();
  // The model loader looks for the libtorch plugin there first: never in this process.
  ::unsetenv("SOCSTREAM_TORCH_PLUGIN");
  // The topologies of config/ read these (with defaults); fixed so every run sees the same.
  ::setenv("SOCSTREAM_STATE_DIR", (scratch_dir() / "state").c_str(), 1);
  ::unsetenv("SOCSTREAM_INPUT");
  ::unsetenv("SOCSTREAM_DLQ");
  register_builtins();
  make_world();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = write_file(world() / "topology.yaml", std::string_view(reinterpret_cast<const char*>(data), size));
  Diagnostics diag;
  std::unique_ptr<Topology> topo = load_topology(file, diag);
  if (!topo) {
    FUZZ_CHECK(!diag.ok(), "no topology and no error");
    return 0;
  }
  FUZZ_CHECK(diag.ok(), diag.str());
  for (const auto& n : topo->nodes) {
    FUZZ_CHECK(n.spec && !n.instances.empty(), "node '" + n.name + "' loaded without instances");
    for (const auto& in : n.inputs) {
      FUZZ_CHECK(in.node < topo->nodes.size(), "input '" + in.text + "' of '" + n.name + "' names no node");
      FUZZ_CHECK(in.port < topo->nodes[in.node].ports.size(), "input '" + in.text + "' names no port");
    }
    for (const auto& c : n.instances) {
      (void)c->report();
      (void)c->reads();
      (void)c->writes();
    }
  }
  return 0;
}
