#include "engine/context.hpp"

namespace socstream {

ComponentContext::ComponentContext(std::string name, std::string kind, std::string type, MetricsRegistry& registry,
                                   SharedResources& shared)
    : name_(std::move(name)), kind_(std::move(kind)), type_(std::move(type)), shared_(shared) {
  metrics_ = std::make_unique<MetricGroup>(
      registry, Labels{{"component_id", name_}, {"component_kind", kind_}, {"component_type", type_}});
}

ComponentContext& ComponentContext::detached() {
  static MetricsRegistry registry;
  static SharedResources shared;
  static ComponentContext ctx("detached", "operator", "detached", registry, shared);
  return ctx;
}

std::shared_ptr<ComponentContext> ComponentContext::detached_for(const std::string& name) {
  static MetricsRegistry registry;
  auto shared = std::make_unique<SharedResources>();
  auto ctx = std::make_shared<ComponentContext>(name, "operator", "detached", registry, *shared);
  ctx->own_shared_ = std::move(shared);
  return ctx;
}

void ComponentContext::error(std::string_view type) {
  Counter* c;
  {
    std::lock_guard lk(m_);
    auto it = errors_.find(type);
    if (it == errors_.end()) {
      // Error types are the component's own words, a handful each: bounded by construction.
      const std::string key(type);
      c = &metrics_->counter("socstream_component_errors_total", "Errors a component met and survived, by type.",
                             {{"error_type", key}});
      errors_.emplace(key, c);
    } else {
      c = it->second;
    }
  }
  c->inc();
}

void ComponentContext::set_ready(bool ready, std::string why) {
  std::lock_guard lk(health_m_);
  ready_ = ready;
  why_ = std::move(why);
}

std::pair<bool, std::string> ComponentContext::readiness() const {
  std::lock_guard lk(health_m_);
  return {ready_, why_};
}

}  // namespace socstream
