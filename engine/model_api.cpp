#include "engine/model_api.hpp"

#include <simdjson.h>

#include <functional>
#include <optional>

#include "engine/json_writer.hpp"

namespace socstream {

namespace {

ApiReply error(int status, std::string_view message) {
  std::string out = "{\"error\":";
  json::append_string(out, message);
  out += '}';
  return {status, std::move(out)};
}

struct Served {
  std::string component;
  ModelEndpoint* model;
};

// One per component (its first instance's): workers serve copies of one model.
std::vector<Served> served(Generation& g) {
  std::vector<Served> out;
  for (const auto& n : g.topology->nodes)
    if (n.context)
      if (auto models = n.context->models(); !models.empty()) out.push_back({n.name, models.front()});
  return out;
}

// Every instance's, for a pin: a worker left on the old version would mix versions across events.
std::vector<ModelEndpoint*> all_instances(Generation& g, const std::string& component) {
  const Node* n = g.topology->find(component);
  return n && n->context ? n->context->models() : std::vector<ModelEndpoint*>{};
}

// A model by its name (model.yaml's, or the online classifier's) or its
// component's; the only one when none is named.
std::optional<Served> find(Generation& g, std::string_view name, std::string& why) {
  auto all = served(g);
  if (all.empty()) {
    why = "the running topology serves no model";
    return std::nullopt;
  }
  if (name.empty()) {
    if (all.size() == 1) return all.front();
    why = "the topology serves several models: name one (\"model\")";
    return std::nullopt;
  }
  for (const auto& s : all) {
    simdjson::dom::parser p;
    const std::string d = s.model->describe();
    auto doc = p.parse(d);
    std::string_view n;
    if (!doc.error() && doc["name"].get(n) == simdjson::SUCCESS && n == name) return s;
    if (s.component == name) return s;
  }
  why = "no model '" + std::string(name) + "'";
  return std::nullopt;
}

// {"models":[one(model), ...]} over every model served.
std::string listing(Generation& g, const std::function<std::string(const Served&)>& one) {
  std::string out = "{\"models\":[";
  bool first = true;
  for (const auto& s : served(g)) {
    if (!first) out += ',';
    first = false;
    out += one(s);
  }
  return out + "]}";
}

}  // namespace

ApiReply model_api(Generation& g, std::string_view method, std::string_view path, const std::string& body) {
  constexpr std::string_view kModels = "/api/ml/models";
  if (path == kModels || path == "/api/ml/models/") {
    if (method != "GET") return error(405, "GET only");
    return {200, listing(g, [](const Served& s) { return s.model->describe(); })};
  }
  if (path.substr(0, kModels.size() + 1) == std::string(kModels) + "/") {
    const std::string_view name = path.substr(kModels.size() + 1);
    std::string why;
    auto s = find(g, name, why);
    if (!s) return error(404, why);
    if (method == "GET") {
      std::string out = s->model->describe();
      // The live figures beside what the model is.
      out.pop_back();
      out += ",\"performance\":" + s->model->performance() + "}";
      return {200, std::move(out)};
    }
    if (method != "PUT") return error(405, "GET or PUT");
    simdjson::dom::parser p;
    auto doc = p.parse(body);
    std::string_view version;
    if (doc.error() || doc["version"].get(version) != simdjson::SUCCESS)
      return error(400, "the body is {\"version\": \"N\"} or {\"version\": \"latest\"}");
    for (ModelEndpoint* m : all_instances(g, s->component)) {
      std::string problem = m->pin(std::string(version));
      if (!problem.empty()) return error(409, problem);
    }
    return {200, s->model->describe()};
  }
  if (path == "/api/ml/performance") {
    if (method != "GET") return error(405, "GET only");
    return {200, listing(g, [](const Served& s) {
              std::string one = "{\"component\":";
              json::append_string(one, s.component);
              return one + ",\"performance\":" + s.model->performance() + "}";
            })};
  }
  const bool predict = path == "/api/ml/predict", batch = path == "/api/ml/batch-predict", explain = path == "/api/ml/explain";
  if (!predict && !batch && !explain) return error(404, "no such endpoint under /api/ml");
  if (method != "POST") return error(405, "POST only");
  simdjson::dom::parser p;
  auto doc = p.parse(body);
  if (doc.error() || !doc.is_object()) return error(400, "the body is a JSON object");
  std::string_view model;
  if (auto m = doc["model"]; !m.error() && m.get(model) != simdjson::SUCCESS) return error(400, "\"model\" is a string");
  std::string why;
  auto s = find(g, model, why);
  if (!s) return error(404, why);
  std::vector<std::string> texts;
  if (batch) {
    simdjson::dom::array arr;
    if (doc["texts"].get(arr) != simdjson::SUCCESS) return error(400, "\"texts\" is a list of strings");
    for (auto v : arr) {
      std::string_view t;
      if (v.get(t) != simdjson::SUCCESS) return error(400, "\"texts\" is a list of strings");
      texts.emplace_back(t);
    }
    if (texts.size() > 1024) return error(413, "at most 1024 texts a request");
  } else {
    std::string_view t;
    if (doc["text"].get(t) != simdjson::SUCCESS) return error(400, "\"text\" is a string");
    texts.emplace_back(t);
  }
  try {
    if (explain) return {200, s->model->explain(texts.front())};
    std::string results = s->model->predict(texts);
    // One text: its object, not a list of one (the endpoints answer "[{...}]").
    if (predict && results.size() > 2 && results.front() == '[' && results.back() == ']')
      return {200, results.substr(1, results.size() - 2)};
    return {200, "{\"results\":" + results + "}"};
  } catch (const std::exception& e) {
    return error(422, e.what());
  }
}

}  // namespace socstream
