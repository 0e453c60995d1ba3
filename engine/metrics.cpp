#include "engine/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace socstream {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  // `le` is inclusive: a value equal to a bound belongs to that bound's bucket.
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.add(v);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t run = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    run += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = run;
  }
  s.count = run;
  s.sum = sum_.value();
  return s;
}

std::vector<double> Histogram::exponential(double start, double factor, size_t n) {
  std::vector<double> b;
  double v = start;
  for (size_t i = 0; i < n; ++i, v *= factor) b.push_back(v);
  return b;
}

std::string prometheus_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

MetricGroup::MetricGroup(MetricsRegistry& registry, Labels labels) : registry_(registry), labels_(std::move(labels)) {
  registry_.add(this);
}

MetricGroup::~MetricGroup() { registry_.remove(this); }

MetricGroup::Series* MetricGroup::find(const std::string& name, const Labels& labels) {
  for (auto& s : series_)
    if (s->name == name && s->labels == labels) return s.get();
  return nullptr;
}

Counter& MetricGroup::counter(const std::string& name, const std::string& help, Labels labels) {
  std::lock_guard lk(m_);
  if (auto* s = find(name, labels); s && s->counter) return *s->counter;
  auto s = std::make_unique<Series>(Series{name, help, MetricType::Counter, std::move(labels), {}, {}, {}, {}});
  s->counter = std::make_unique<Counter>();
  series_.push_back(std::move(s));
  return *series_.back()->counter;
}

Gauge& MetricGroup::gauge(const std::string& name, const std::string& help, Labels labels) {
  std::lock_guard lk(m_);
  if (auto* s = find(name, labels); s && s->gauge) return *s->gauge;
  auto s = std::make_unique<Series>(Series{name, help, MetricType::Gauge, std::move(labels), {}, {}, {}, {}});
  s->gauge = std::make_unique<Gauge>();
  series_.push_back(std::move(s));
  return *series_.back()->gauge;
}

Histogram& MetricGroup::histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                                  Labels labels) {
  std::lock_guard lk(m_);
  if (auto* s = find(name, labels); s && s->histogram) return *s->histogram;
  auto s = std::make_unique<Series>(Series{name, help, MetricType::Histogram, std::move(labels), {}, {}, {}, {}});
  s->histogram = std::make_unique<Histogram>(std::move(bounds));
  series_.push_back(std::move(s));
  return *series_.back()->histogram;
}

void MetricGroup::collect(const std::string& name, const std::string& help, MetricType type,
                          std::function<void(std::vector<MetricSample>&)> fn) {
  std::lock_guard lk(m_);
  auto s = std::make_unique<Series>(Series{name, help, type, {}, {}, {}, {}, std::move(fn)});
  series_.push_back(std::move(s));
}

void MetricsRegistry::add(MetricGroup* g) {
  std::lock_guard lk(m_);
  groups_.push_back(g);
}

namespace {

std::string series_key(const std::string& name, const Labels& a, const Labels& b) {
  std::string k = name;
  for (const auto& [n, v] : a) k += '\0' + n + '=' + v;
  for (const auto& [n, v] : b) k += '\0' + n + '=' + v;
  return k;
}

}  // namespace

void MetricsRegistry::carry(MetricGroup* g) {
  // Only a shown group counted for the scrapes: a reload that was never swapped in carries nothing.
  if (g->retired_ || !g->visible_.load()) return;
  g->retired_ = true;
  g->visible_.store(false);
  std::lock_guard glk(g->m_);
  for (const auto& s : g->series_)
    if (s->counter) carried_[series_key(s->name, g->labels_, s->labels)] += s->counter->value();
}

void MetricsRegistry::remove(MetricGroup* g) {
  std::lock_guard lk(m_);
  std::erase(groups_, g);
  carry(g);
}

void MetricGroup::retire() {
  std::lock_guard lk(registry_.m_);
  registry_.carry(this);
}

namespace {

const char* type_name(MetricType t) {
  switch (t) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Histogram: return "histogram";
  }
  return "untyped";
}

void append_labels(std::string& out, const Labels& a, const Labels& b, const char* extra_key = nullptr,
                   const std::string& extra_value = {}) {
  if (a.empty() && b.empty() && !extra_key) return;
  out += '{';
  bool first = true;
  auto one = [&](const std::string& k, const std::string& v) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += prometheus_label(v);
    out += '"';
  };
  for (const auto& [k, v] : a) one(k, v);
  for (const auto& [k, v] : b) one(k, v);
  if (extra_key) one(extra_key, extra_value);
  out += '}';
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

}  // namespace

std::pair<double, bool> MetricsRegistry::total(const std::string& family) const {
  double sum = 0;
  bool any = false;
  std::lock_guard lk(m_);
  for (MetricGroup* g : groups_) {
    if (!g->visible_.load()) continue;
    std::lock_guard glk(g->m_);
    for (const auto& s : g->series_) {
      if (s->name != family) continue;
      any = true;
      if (s->collect) {
        std::vector<MetricSample> samples;
        s->collect(samples);
        for (const auto& x : samples) sum += x.value;
      } else if (s->counter) {
        sum += static_cast<double>(s->counter->value());
      } else if (s->gauge) {
        sum += s->gauge->value();
      }
    }
  }
  return {sum, any};
}

std::string MetricsRegistry::prometheus_text() const {
  // Families in the order they first appear; the exposition format wants each family's samples together.
  struct Family {
    std::string help;
    MetricType type;
    std::string body;
  };
  std::vector<std::string> order;
  std::map<std::string, Family> families;
  std::lock_guard lk(m_);
  for (MetricGroup* g : groups_) {
    if (!g->visible_.load()) continue;
    std::lock_guard glk(g->m_);
    for (const auto& s : g->series_) {
      auto [it, fresh] = families.try_emplace(s->name, Family{s->help, s->type, {}});
      if (fresh) order.push_back(s->name);
      std::string& out = it->second.body;
      if (s->collect) {
        std::vector<MetricSample> samples;
        s->collect(samples);
        for (const auto& smp : samples) {
          out += s->name;
          append_labels(out, g->labels_, smp.labels);
          out += ' ' + number(smp.value) + '\n';
        }
      } else if (s->counter) {
        uint64_t v = s->counter->value();
        if (!carried_.empty())
          if (auto it = carried_.find(series_key(s->name, g->labels_, s->labels)); it != carried_.end()) v += it->second;
        out += s->name;
        append_labels(out, g->labels_, s->labels);
        out += ' ' + std::to_string(v) + '\n';
      } else if (s->gauge) {
        out += s->name;
        append_labels(out, g->labels_, s->labels);
        out += ' ' + number(s->gauge->value()) + '\n';
      } else if (s->histogram) {
        const auto snap = s->histogram->snapshot();
        for (size_t i = 0; i <= snap.bounds.size(); ++i) {
          out += s->name + "_bucket";
          append_labels(out, g->labels_, s->labels, "le", i < snap.bounds.size() ? number(snap.bounds[i]) : "+Inf");
          out += ' ' + std::to_string(snap.cumulative[i]) + '\n';
        }
        out += s->name + "_sum";
        append_labels(out, g->labels_, s->labels);
        out += ' ' + number(snap.sum) + '\n';
        out += s->name + "_count";
        append_labels(out, g->labels_, s->labels);
        out += ' ' + std::to_string(snap.count) + '\n';
      }
    }
  }
  std::string text;
  for (const auto& name : order) {
    const Family& f = families[name];
    text += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, type_name(f.type));
    text += f.body;
  }
  return text;
}

}  // namespace socstream
