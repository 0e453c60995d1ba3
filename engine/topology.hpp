#pragma once
// A topology file turned into a checked graph of component instances.
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/component.hpp"
#include "engine/config.hpp"

namespace socstream {

struct InputRef {
  std::string text;  // as written: "parse" or "parse.dlq"
  size_t node = 0;   // index into Topology::nodes
  size_t port = 0;   // index into that node's output ports
  Location where;
};

struct Node {
  std::string name;
  Kind kind = Kind::Operator;
  const ComponentSpec* spec = nullptr;
  Location where;
  std::vector<InputRef> inputs;
  std::vector<std::string> ports;
  // Before the instances: they point at it, so it must outlive them.
  std::unique_ptr<ComponentContext> context;
  // Several instances only for operators declared parallel.
  std::vector<std::unique_ptr<Component>> instances;
  size_t buffer_events = 0;
  size_t buffer_bytes = 0;
  // What the component is made of, for a hot reload to tell whether it
  // changed: its settings as written, and the configuration files it read.
  std::string body;
  // Each with its path_fingerprint when the component read it.
  std::vector<std::pair<std::filesystem::path, std::string>> config_files;
};

struct Topology {
  std::filesystem::path file;
  std::string file_fingerprint;  // the file as it was read
  // Before the nodes: their components hold what these give out.
  std::unique_ptr<MetricsRegistry> own_metrics;  // when the loader was given none
  MetricsRegistry* metrics = nullptr;
  SharedResources shared;
  std::vector<Node> nodes;  // sources, then operators, then sinks, in file order
  // After a stop is asked for, how long the drain may take before the process
  // exits anyway (top-level `shutdown_timeout_s`, default 30).
  std::chrono::seconds shutdown_timeout{30};
  // How often a running topology logs one line of progress (top-level
  // `progress_interval_s`, default 60; 0: never).
  std::chrono::seconds progress_interval{60};
  // The admin endpoint (engine/admin.hpp): top-level `admin: {address:
  // HOST:PORT, token_env: VAR}`; off when address is empty.
  struct Admin {
    std::string address;
    std::string token_env;
    Location where;
  } admin;
  const Node* find(std::string_view name) const;
  void show_metrics();
  void retire_metrics();
};

struct LoadOptions {
  // validate builds components too (rules compile, paths resolve) but opens nothing.
  bool build = true;
  // Where the components' metrics go (a service's registry outlives its
  // topologies); none: the topology keeps a registry of its own.
  MetricsRegistry* metrics = nullptr;
  // Its components' series stay out of scrapes until Topology::show_metrics
  // (a reload builds the next topology while the running one still counts).
  bool hidden_metrics = false;
};

// What is wrong with an admin address (HOST:PORT; beyond loopback, with a token variable), if anything.
std::optional<std::string> admin_problem(const std::string& address, const std::string& token_env);

// Returns the topology, or nullptr with every problem in diag.
std::unique_ptr<Topology> load_topology(const std::filesystem::path& file, Diagnostics& diag,
                                        LoadOptions opts = {});

}  // namespace socstream
