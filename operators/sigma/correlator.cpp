#include "operators/sigma/correlator.hpp"

#include <boost/crc.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <stdexcept>

#include "engine/hash.hpp"
#include "engine/json_writer.hpp"
#include "engine/timestamp.hpp"

namespace socstream::sigma {

namespace {

constexpr int64_t kNone = INT64_MIN;
constexpr uint32_t kMagic = 0x524f4353;  // "SCOR"
constexpr uint32_t kVersion = 2;

struct Writer {
  std::string out;
  void u32(uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }
  void i64(int64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out.append(s);
  }
};

struct Reader {
  std::string_view in;
  size_t at = 0;
  void need(size_t n) {
    if (in.size() - at < n) throw std::runtime_error("the correlation snapshot is truncated");
  }
  uint32_t u32() {
    need(4);
    uint32_t v;
    std::memcpy(&v, in.data() + at, 4);
    at += 4;
    return v;
  }
  int64_t i64() {
    need(8);
    int64_t v;
    std::memcpy(&v, in.data() + at, 8);
    at += 8;
    return v;
  }
  std::string str() {
    const uint32_t n = u32();
    need(n);
    std::string s(in.substr(at, n));
    at += n;
    return s;
  }
  // A count read from the file, refused when it could not fit in what is left.
  uint32_t count(size_t min_bytes_each) {
    const uint32_t n = u32();
    if (min_bytes_each && n > (in.size() - at) / min_bytes_each) throw std::runtime_error("the correlation snapshot is damaged");
    return n;
  }
};

}  // namespace

Correlator::Correlator(std::shared_ptr<const RuleSet> rules, size_t max_groups)
    : rules_(std::move(rules)), max_groups_(std::max<size_t>(1, max_groups)) {
  const auto& defs = rules_->correlations();
  windows_.resize(defs.size());
  cap_.resize(defs.size(), 1);
  for (size_t i = 0; i < defs.size(); ++i) {
    double top = 0;
    for (const auto& [op, v] : defs[i].spec.condition) top = std::max(top, v);
    // A window never needs more entries than its largest threshold plus one.
    cap_[i] = static_cast<size_t>(std::min(top, 1e6)) + 2;
  }
}

bool Correlator::holds(const CorrelationDef& d, double count) const {
  for (const auto& [op, v] : d.spec.condition) {
    const bool ok = op == "gt"    ? count > v
                    : op == "gte" ? count >= v
                    : op == "lt"  ? count < v
                    : op == "lte" ? count <= v
                    : op == "eq"  ? count == v
                                  : count != v;
    if (!ok) return false;
  }
  return true;
}

Correlator::Window& Correlator::window(uint32_t ci, const std::string& key, size_t inputs) {
  auto& map = windows_[ci];
  auto it = map.find(key);
  if (it != map.end()) {
    lru_.splice(lru_.end(), lru_, it->second.lru);
    return it->second;
  }
  if (lru_.size() >= max_groups_) evict();
  Window& w = map[key];
  w.last.assign(inputs, kNone);
  w.chain.assign(inputs, kNone);
  w.lru = lru_.insert(lru_.end(), {ci, key});
  return w;
}

void Correlator::evict() {
  auto [ci, key] = lru_.front();
  windows_[ci].erase(key);
  lru_.pop_front();
  ++evictions_;
}

bool Correlator::feed(uint32_t rule, int64_t t, uint64_t event, Evaluator& ev, std::vector<Fired>& fired) {
  bool kept = false;
  for (uint32_t ci : rules_->feeds(rule)) {
    const auto& inputs = rules_->correlations()[ci].inputs;
    // Later inputs first: one event must not both start and finish an ordered chain.
    for (size_t i = inputs.size(); i-- > 0;)
      if (inputs[i] == rule) kept |= update(ci, i, t, event, ev, fired, 0);
  }
  return kept;
}

bool Correlator::update(uint32_t ci, size_t input, int64_t t, uint64_t event, Evaluator& ev, std::vector<Fired>& fired,
                        int depth) {
  constexpr size_t kMaxGroupValue = 256;
  const CorrelationDef& d = rules_->correlations()[ci];
  const Correlation& c = d.spec;
  std::string key;
  std::vector<std::string_view> group;
  for (size_t g = 0; g < d.group_fields[input].size(); ++g) {
    auto v = ev.value_of(d.group_fields[input][g]).value_or(std::string_view());
    group.push_back(v.substr(0, kMaxGroupValue));
    if (g) key += '\x1f';
    key.append(group.back());
  }
  uint64_t value = 0;
  if (c.type == "value_count") {
    auto v = ev.value_of(d.value_fields[input]);
    if (!v) return false;  // as COUNT(DISTINCT field): an event without the field adds nothing
    value = name_hash(*v);
  }
  Window& w = window(ci, key, d.inputs.size());
  ++changes_;
  const int64_t since = t - c.timespan_ms;
  double count = 0;
  int64_t start = t;
  bool fire = false;
  if (c.type == "event_count") {
    if (std::none_of(w.times.begin(), w.times.end(), [&](const auto& x) { return x.second == event; }))
      w.times.insert(std::upper_bound(w.times.begin(), w.times.end(), std::make_pair(t, event)), {t, event});
    std::erase_if(w.times, [&](const auto& x) { return x.first < since; });
    if (w.times.size() > cap_[ci]) w.times.erase(w.times.begin(), w.times.end() - static_cast<ptrdiff_t>(cap_[ci]));
    for (const auto& x : w.times)
      if (x.first <= t) {
        ++count;
        start = std::min(start, x.first);
      }
    fire = holds(d, count);
  } else if (c.type == "value_count") {
    auto it = std::find_if(w.values.begin(), w.values.end(), [&](const auto& p) { return p.first == value; });
    if (it != w.values.end())
      it->second = std::max(it->second, t);
    else
      w.values.emplace_back(value, t);
    std::erase_if(w.values, [&](const auto& p) { return p.second < since; });
    if (w.values.size() > cap_[ci]) {
      std::sort(w.values.begin(), w.values.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
      w.values.erase(w.values.begin(), w.values.end() - static_cast<ptrdiff_t>(cap_[ci]));
    }
    for (const auto& p : w.values)
      if (p.second <= t) {
        ++count;
        start = std::min(start, p.second);
      }
    fire = holds(d, count);
  } else if (c.type == "temporal") {
    w.last[input] = std::max(w.last[input], t);
    for (int64_t x : w.last)
      if (x != kNone && x >= since && x <= t) {
        ++count;
        start = std::min(start, x);
      }
    fire = c.condition.empty() ? count == static_cast<double>(d.inputs.size()) : holds(d, count);
  } else {  // temporal_ordered
    for (size_t i = 0; i < w.chain.size(); ++i)
      if (w.chain[i] != kNone && w.chain[i] < since) w.chain[i] = w.last[i] = kNone;
    // A step extends the chain of the step before it, if that chain got there
    // no later than this event; of two chains, the one that started later lives longer.
    int64_t from = kNone;
    if (input == 0)
      from = t;
    else if (w.chain[input - 1] != kNone && w.last[input - 1] <= t)
      from = w.chain[input - 1];
    if (from != kNone && (w.chain[input] == kNone || from > w.chain[input])) {
      w.chain[input] = from;
      w.last[input] = t;
    }
    for (int64_t x : w.chain) count += x != kNone;
    fire = w.chain.back() != kNone;
    if (fire) start = w.chain.back();
  }
  if (!fire) return true;

  std::string doc = "{\"type\":";
  json::append_string(doc, c.type);
  doc += ",\"group\":{";
  for (size_t g = 0; g < group.size(); ++g) {
    if (g) doc += ',';
    json::append_string(doc, c.group_by[g]);
    doc += ':';
    json::append_string(doc, json::valid_utf8(group[g]) ? group[g] : std::string_view("<invalid UTF-8>"));
  }
  doc += fmt::format("}},\"count\":{},\"rules\":[", count);
  for (size_t i = 0; i < d.inputs.size(); ++i) {
    if (i) doc += ',';
    json::append_string(doc, rules_->rules()[d.inputs[i]].id);
  }
  doc += "],\"window\":{\"start\":\"" + timestamp::rfc3339(start) + "\",\"end\":\"" + timestamp::rfc3339(t) +
         fmt::format("\",\"timespan_s\":{}}}}}", c.timespan_ms / 1000);
  // Fired: start over, so the next alert needs a new set of events.
  lru_.erase(w.lru);
  windows_[ci].erase(key);
  ++fired_;
  fired.push_back({d.rule, std::move(doc)});
  if (depth < 8)
    for (uint32_t next : rules_->feeds(d.rule)) {
      const auto& inputs = rules_->correlations()[next].inputs;
      for (size_t i = inputs.size(); i-- > 0;)
        if (inputs[i] == d.rule) update(next, i, t, event, ev, fired, depth + 1);
    }
  return true;
}

std::string Correlator::save() const {
  Writer w;
  w.u32(kMagic);
  w.u32(kVersion);
  w.u32(static_cast<uint32_t>(lru_.size()));
  for (const auto& [ci, key] : lru_) {
    const Window& win = windows_[ci].at(key);
    w.str(rules_->rules()[rules_->correlations()[ci].rule].id);
    w.str(key);
    w.u32(static_cast<uint32_t>(win.times.size()));
    for (const auto& [t, e] : win.times) {
      w.i64(t);
      w.i64(static_cast<int64_t>(e));
    }
    w.u32(static_cast<uint32_t>(win.values.size()));
    for (const auto& [v, t] : win.values) {
      w.i64(static_cast<int64_t>(v));
      w.i64(t);
    }
    w.u32(static_cast<uint32_t>(win.last.size()));
    for (size_t i = 0; i < win.last.size(); ++i) {
      w.i64(win.last[i]);
      w.i64(win.chain[i]);
    }
  }
  boost::crc_32_type crc;
  crc.process_bytes(w.out.data(), w.out.size());
  w.u32(static_cast<uint32_t>(crc.checksum()));
  return std::move(w.out);
}

void Correlator::load(std::string_view bytes) {
  if (bytes.size() < 16) throw std::runtime_error("the correlation snapshot is truncated");
  boost::crc_32_type crc;
  crc.process_bytes(bytes.data(), bytes.size() - 4);
  uint32_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
  if (stored != crc.checksum()) throw std::runtime_error("checksum mismatch: the correlation snapshot is damaged");
  Reader r{bytes.substr(0, bytes.size() - 4)};
  if (r.u32() != kMagic) throw std::runtime_error("not a correlation snapshot");
  if (r.u32() != kVersion) throw std::runtime_error("a correlation snapshot of another version");
  std::unordered_map<std::string, uint32_t> by_id;
  for (uint32_t ci = 0; ci < rules_->correlations().size(); ++ci)
    by_id[rules_->rules()[rules_->correlations()[ci].rule].id] = ci;
  std::vector<std::unordered_map<std::string, Window>> windows(windows_.size());
  std::list<std::pair<uint32_t, std::string>> lru;
  const uint32_t n = r.count(16);
  for (uint32_t i = 0; i < n; ++i) {
    const std::string id = r.str();
    std::string key = r.str();
    Window win;
    for (uint32_t k = r.count(16); k > 0; --k) {
      const int64_t t = r.i64();
      win.times.emplace_back(t, static_cast<uint64_t>(r.i64()));
    }
    for (uint32_t k = r.count(16); k > 0; --k) {
      const auto v = static_cast<uint64_t>(r.i64());
      win.values.emplace_back(v, r.i64());
    }
    for (uint32_t k = r.count(16); k > 0; --k) {
      win.last.push_back(r.i64());
      win.chain.push_back(r.i64());
    }
    // What save() writes, and nothing else: sorted times, no repeated group.
    if (!std::is_sorted(win.times.begin(), win.times.end()))
      throw std::runtime_error("the correlation snapshot is damaged (unsorted window)");
    auto it = by_id.find(id);
    if (it == by_id.end()) continue;  // a correlation no longer loaded
    const uint32_t ci = it->second;
    if (win.last.size() != rules_->correlations()[ci].inputs.size()) continue;  // its rule list changed
    if (win.times.size() > cap_[ci]) win.times.erase(win.times.begin(), win.times.end() - static_cast<ptrdiff_t>(cap_[ci]));
    if (win.values.size() > cap_[ci]) win.values.erase(win.values.begin(), win.values.end() - static_cast<ptrdiff_t>(cap_[ci]));
    if (windows[ci].count(key)) throw std::runtime_error("the correlation snapshot is damaged (a group twice)");
    win.lru = lru.insert(lru.end(), {ci, key});
    windows[ci].emplace(std::move(key), std::move(win));
  }
  if (r.at != r.in.size()) throw std::runtime_error("the correlation snapshot has trailing bytes");
  windows_ = std::move(windows);
  lru_ = std::move(lru);
  while (lru_.size() > max_groups_) evict();
}

}  // namespace socstream::sigma
