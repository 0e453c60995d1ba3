#include "engine/tap.hpp"

#include <algorithm>

#include "engine/json_writer.hpp"
#include "engine/rule.hpp"

namespace socstream {

std::string Tap::event_json(const std::string& component, const std::string& port, const Event& e) {
  std::string out = "{\"component\":";
  json::append_string(out, component);
  out += ",\"port\":";
  json::append_string(out, port.empty() ? "default" : port);
  if (!e.error.empty()) {
    out += ",\"dead_letter\":";
    json::append_dead_letter(out, e);
    out += '}';
    return out;
  }
  out += ",\"fields\":{";
  bool first = true;
  for (const auto& f : e.fields) {
    if (!first) out += ',';
    first = false;
    json::append_string(out, f.name);
    out += ':';
    json::append_value(out, f);
  }
  out += '}';
  if (!e.rules.empty()) {
    out += ",\"rules\":[";
    for (size_t i = 0; i < e.rules.size(); ++i) {
      if (i) out += ',';
      json::append_string(out, e.rules[i] ? std::string_view(e.rules[i]->id) : std::string_view());
    }
    out += ']';
  }
  out += ",\"raw\":";
  json::append_string(out, e.raw);
  out += ",\"source\":";
  json::append_source(out, e.pos);
  out += '}';
  return out;
}

void Tap::offer(const std::string& component, const std::string& port, const Batch& b) {
  std::lock_guard lk(m_);
  for (const auto& e : b.events) {
    if (lines_.size() >= limit_) break;
    lines_.push_back(event_json(component, port, e));
  }
  if (lines_.size() >= limit_) cv_.notify_all();
}

std::vector<std::string> Tap::wait(std::chrono::milliseconds timeout, const std::atomic<bool>* stop) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lk(m_);
  // In slices, so a server shutting down is not held up by a long tap.
  while (lines_.size() < limit_ && !(stop && stop->load()) && std::chrono::steady_clock::now() < until)
    cv_.wait_until(lk, std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
  return std::move(lines_);
}

}  // namespace socstream
