#include "engine/topology.hpp"

#include <boost/asio/ip/address.hpp>

#include <charconv>

#include "engine/admin.hpp"

#include "engine/field_flow.hpp"

#include <functional>
#include <map>
#include <regex>

namespace socstream {

namespace {

constexpr size_t kDefaultBufferEvents = 8192;
constexpr size_t kDefaultBufferBytes = 16u << 20;

bool valid_name(const std::string& s) {
  static const std::regex re("[A-Za-z0-9_-]+");
  return std::regex_match(s, re);
}

std::vector<SettingSpec> full_schema(Kind kind, const ComponentSpec& spec) {
  std::vector<SettingSpec> schema{{"type", SettingType::String, true, "the component type"}};
  if (kind != Kind::Source) {
    schema.push_back({"inputs", SettingType::StringList, true, "components or ports to read from"});
    schema.push_back({"buffer_events", SettingType::Int, false, "capacity of the input channel in events"});
    schema.push_back({"buffer_bytes", SettingType::Bytes, false, "capacity of the input channel in bytes"});
  }
  if (spec.parallel) schema.push_back({"workers", SettingType::Int, false, "instances sharing the input (default 1)"});
  schema.insert(schema.end(), spec.settings.begin(), spec.settings.end());
  return schema;
}

std::string join_ports(const Node& n) {
  std::string s;
  for (const auto& p : n.ports) s += (s.empty() ? "" : ", ") + (p.empty() ? n.name : n.name + "." + p);
  return s;
}

// Checks one component's settings and builds its instances; on any error the
// node stays without instances, so later checks skip it instead of cascading.
void build_node(Topology& topo, Node& node, const YAML::Node& body, const std::string& fname,
                const std::filesystem::path& base, Diagnostics& diag, const LoadOptions& opts) {
  if (!body.IsMap()) {
    diag.error(location_of(body, fname), "'" + node.name + "': expected a map of settings with a 'type'");
    return;
  }
  YAML::Node type = body["type"];
  if (!type.IsDefined() || !type.IsScalar()) {
    diag.error(node.where, "'" + node.name + "': missing required setting 'type'");
    return;
  }
  node.spec = Registry::global().find(node.kind, type.Scalar());
  if (!node.spec) {
    auto known = Registry::global().types(node.kind);
    std::string msg = "'" + node.name + "': unknown " + kind_name(node.kind) + " type '" + type.Scalar() + "'";
    if (auto c = closest(type.Scalar(), known)) msg += "; did you mean '" + *c + "'?";
    std::string all;
    for (const auto& t : known) all += (all.empty() ? "" : ", ") + t;
    msg += " (known: " + all + ")";
    diag.error(location_of(type, fname), msg);
    return;
  }
  node.body = YAML::Dump(body);
  node.context = std::make_unique<ComponentContext>(node.name, kind_name(node.kind), node.spec->type, *topo.metrics,
                                                    topo.shared);
  if (opts.hidden_metrics) node.context->metrics().hide();
  Settings settings(body, node.name, fname, base, &diag, node.context.get(), &node.config_files);
  const size_t before = diag.count();
  settings.check(full_schema(node.kind, *node.spec));
  node.buffer_events = static_cast<size_t>(settings.integer("buffer_events", kDefaultBufferEvents, 1));
  node.buffer_bytes = settings.bytes("buffer_bytes", kDefaultBufferBytes);
  const int64_t workers = node.spec->parallel ? settings.integer("workers", 1, 1, 256) : 1;
  if (diag.count() != before || !opts.build) return;
  try {
    for (int64_t i = 0; i < workers; ++i) {
      auto c = node.spec->make(settings);
      if (!c || diag.count() != before) break;
      c->attach(node.context.get());
      node.instances.push_back(std::move(c));
    }
  } catch (const ConfigError& e) {
    diag.error(e.where(), e.message());
  } catch (const std::exception& e) {
    diag.error(node.where, "'" + node.name + "': " + e.what());
  }
  if (diag.count() != before) node.instances.clear();
}

}  // namespace

const Node* Topology::find(std::string_view name) const {
  for (const auto& n : nodes)
    if (n.name == name) return &n;
  return nullptr;
}

void Topology::retire_metrics() {
  for (auto& n : nodes)
    if (n.context) n.context->metrics().retire();
}

void Topology::show_metrics() {
  for (auto& n : nodes)
    if (n.context) n.context->metrics().show();
}

std::optional<std::string> admin_problem(const std::string& address, const std::string& token_env) {
  if (address.empty()) return "admin: address is HOST:PORT, e.g. 127.0.0.1:9598";
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    auto r = std::from_chars(address.data() + colon + 1, address.data() + address.size(), port);
    if (r.ec != std::errc() || r.ptr != address.data() + address.size()) port = -1;
  }
  if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535)
    return "admin: address '" + address + "' is not HOST:PORT";
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  if (host != "localhost" && (boost::asio::ip::make_address(host, ec), ec))
    return "admin: '" + host + "' is not an IP address (or localhost)";
  if (!loopback(host) && token_env.empty())
    return "admin: an endpoint beyond loopback (" + host + ") needs token_env, the variable holding its bearer token";
  return std::nullopt;
}

std::unique_ptr<Topology> load_topology(const std::filesystem::path& file, Diagnostics& diag, LoadOptions opts) {
  const std::string fname = file.string();
  std::string fingerprint;
  YAML::Node root;
  try {
    fingerprint = path_fingerprint(file);  // before it is read: a change while it is read is a change
    root = load_yaml_file(file);
  } catch (const ConfigError& e) {
    diag.error(e.where(), e.message());
    return nullptr;
  }
  if (!root.IsMap()) {
    diag.error(location_of(root, fname), "a topology is a map with sources, operators and sinks");
    return nullptr;
  }
  const std::filesystem::path base = file.parent_path();
  auto topo = std::make_unique<Topology>();
  topo->file = file;
  topo->file_fingerprint = std::move(fingerprint);
  if (opts.metrics) {
    topo->metrics = opts.metrics;
  } else {
    topo->own_metrics = std::make_unique<MetricsRegistry>();
    topo->metrics = topo->own_metrics.get();
  }

  static const std::vector<std::string> sections{"sources", "operators", "sinks", "shutdown_timeout_s",
                                                  "progress_interval_s", "admin"};
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    if (key == "admin") {
      topo->admin.where = location_of(kv.second, fname);
      if (!kv.second.IsMap()) {
        diag.error(topo->admin.where, "admin: expected a map {address: HOST:PORT, token_env: VAR}");
        continue;
      }
      for (const auto& a : kv.second) {
        const std::string k = a.first.Scalar();
        if ((k != "address" && k != "token_env") || !a.second.IsScalar())
          diag.error(location_of(a.first, fname), "admin: '" + k + "' is not a setting (address, token_env)");
        else
          (k == "address" ? topo->admin.address : topo->admin.token_env) = a.second.Scalar();
      }
      if (auto problem = admin_problem(topo->admin.address, topo->admin.token_env)) diag.error(topo->admin.where, *problem);
      continue;
    }
    if (key == "shutdown_timeout_s" || key == "progress_interval_s") {
      const int64_t min = key == "shutdown_timeout_s" ? 1 : 0;
      int64_t v = 0;
      if (!kv.second.IsScalar() || !YAML::convert<int64_t>::decode(kv.second, v) || v < min || v > 86400)
        diag.error(location_of(kv.second, fname), key + ": expected seconds from " + std::to_string(min) + " to 86400");
      else
        (key == "shutdown_timeout_s" ? topo->shutdown_timeout : topo->progress_interval) = std::chrono::seconds(v);
      continue;
    }
    if (std::find(sections.begin(), sections.end(), key) == sections.end()) {
      std::string msg = "unknown top-level key '" + key + "'";
      if (auto c = closest(key, sections)) msg += "; did you mean '" + *c + "'?";
      diag.error(location_of(kv.first, fname), msg);
    }
  }

  std::map<std::string, Location> seen;
  std::vector<YAML::Node> bodies;  // per node, for reading inputs with positions
  for (Kind kind : {Kind::Source, Kind::Operator, Kind::Sink}) {
    YAML::Node sec = root[section_name(kind)];
    if (!sec.IsDefined() || sec.IsNull()) continue;
    if (!sec.IsMap()) {
      diag.error(location_of(sec, fname), std::string("'") + section_name(kind) + "' must be a map of named " +
                                              section_name(kind));
      continue;
    }
    for (const auto& kv : sec) {
      Node node;
      node.name = kv.first.Scalar();
      node.kind = kind;
      node.where = location_of(kv.first, fname);
      const YAML::Node body = kv.second;
      if (!valid_name(node.name)) {
        diag.error(node.where, "invalid component name '" + node.name +
                                   "': use letters, digits, '_' and '-' ('.' separates a port)");
        continue;
      }
      if (auto [it, fresh] = seen.emplace(node.name, node.where); !fresh) {
        diag.error(node.where, "duplicate component name '" + node.name + "' (first defined at " +
                                   it->second.str() + ")");
        continue;
      }
      build_node(*topo, node, body, fname, base, diag, opts);
      if (!node.instances.empty()) node.ports = node.instances.front()->output_ports();
      topo->nodes.push_back(std::move(node));
      bodies.push_back(body);
    }
  }

  bool any_source = false, any_sink = false;
  for (const auto& n : topo->nodes) {
    any_source |= n.kind == Kind::Source;
    any_sink |= n.kind == Kind::Sink;
  }
  if (!any_source) diag.error(location_of(root, fname), "the topology has no sources");
  if (!any_sink) diag.error(location_of(root, fname), "the topology has no sinks");

  // Resolve inputs to (node, port).
  std::vector<std::string> names;
  for (const auto& n : topo->nodes) names.push_back(n.name);
  for (size_t i = 0; i < topo->nodes.size(); ++i) {
    Node& n = topo->nodes[i];
    // A body that is not a map (`p: /q`) is already reported by build_node; indexing it would throw.
    if (n.kind == Kind::Source || !bodies[i].IsMap()) continue;
    YAML::Node inputs = bodies[i]["inputs"];
    if (!inputs.IsSequence()) continue;  // reported by the schema check
    if (inputs.size() == 0) diag.error(location_of(inputs, fname), "'" + n.name + "': 'inputs' is empty");
    for (const auto& item : inputs) {
      if (!item.IsScalar()) continue;
      InputRef ref;
      ref.text = item.Scalar();
      ref.where = location_of(item, fname);
      const size_t dot = ref.text.find('.');
      const std::string comp = ref.text.substr(0, dot);
      const std::string port = dot == std::string::npos ? "" : ref.text.substr(dot + 1);
      const Node* up = topo->find(comp);
      if (!up) {
        std::string msg = "'" + n.name + "': input '" + ref.text + "' names no component";
        if (auto c = closest(comp, names)) msg += "; did you mean '" + *c + "'?";
        diag.error(ref.where, msg);
        continue;
      }
      ref.node = static_cast<size_t>(up - topo->nodes.data());
      if (up->instances.empty()) continue;  // its own errors are already reported
      auto p = std::find(up->ports.begin(), up->ports.end(), port);
      if (p == up->ports.end()) {
        diag.error(ref.where, "'" + n.name + "': input '" + ref.text + "': '" + comp + "' has no " +
                                  (port.empty() ? "default output" : "output '" + port + "'") +
                                  "; its outputs are: " + join_ports(*up));
        continue;
      }
      ref.port = static_cast<size_t>(p - up->ports.begin());
      n.inputs.push_back(std::move(ref));
    }
  }

  // Cycles: depth-first search with colours; report each cycle once, at the input that closes it.
  std::vector<int> colour(topo->nodes.size(), 0);
  std::vector<size_t> stack;
  std::function<void(size_t)> visit = [&](size_t v) {
    colour[v] = 1;
    stack.push_back(v);
    for (const auto& in : topo->nodes[v].inputs) {
      if (colour[in.node] == 1) {
        std::string path;
        auto from = std::find(stack.begin(), stack.end(), in.node);
        for (auto it = from; it != stack.end(); ++it) path += topo->nodes[*it].name + " <- ";
        path += topo->nodes[in.node].name;
        diag.error(in.where, "'" + topo->nodes[v].name + "': input '" + in.text + "' makes a cycle: " + path);
      } else if (colour[in.node] == 0) {
        visit(in.node);
      }
    }
    stack.pop_back();
    colour[v] = 2;
  };
  for (size_t v = 0; v < topo->nodes.size(); ++v)
    if (colour[v] == 0) visit(v);

  if (!diag.ok()) return nullptr;
  check_field_flow(*topo, diag);
  return topo;
}

}  // namespace socstream
