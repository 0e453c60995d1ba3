#include "operators/alert/document.hpp"

#include <algorithm>

#include "engine/json_writer.hpp"
#include "engine/timestamp.hpp"
#include "operators/sigma/attack.hpp"

namespace socstream::alert {

namespace {

std::string json_str(std::string_view s) {
  std::string out;
  json::append_string(out, s);
  return out;
}

std::string strings(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    json::append_string(out, v[i]);
  }
  out += ']';
  return out;
}

void append_refs(std::string& out, const std::vector<AttackRef>& v) {
  out += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    out += "{\"id\":";
    json::append_string(out, v[i].id);
    out += ",\"name\":";
    json::append_string(out, v[i].name);
    out += '}';
  }
  out += ']';
}

std::optional<int64_t> event_time(const Field& f) {
  std::optional<int64_t> t = timestamp::parse_iso8601(f.value);
  if (!t) t = timestamp::parse_clf(f.value);
  if (!t) t = timestamp::parse_epoch(f.value);
  if (t && !timestamp::representable(*t)) return std::nullopt;
  return t;
}

// ATT&CK ids, names and pages, deduplicated in first-seen order, as ECS's
// threat.* arrays hold them side by side.
struct RefList {
  std::vector<std::string> ids, names, references;
  void add(const std::string& id, const std::string& name, const std::string& reference) {
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) return;
    ids.push_back(id);
    names.push_back(name);
    references.push_back(reference);
  }
  void put(NestedJson& doc, const std::string& prefix) const {
    if (ids.empty()) return;
    doc.add(prefix + ".id", strings(ids));
    doc.add(prefix + ".name", strings(names));
    doc.add(prefix + ".reference", strings(references));
  }
};

}  // namespace

int Document::severity_number(Severity s) { return static_cast<int>(s) + 1; }

int Document::risk_score(Severity s) {
  static const int scores[] = {0, 21, 47, 73, 99};
  return scores[static_cast<int>(s)];
}

Document::Document(const Settings& s)
    : detector_(s.str("detector", s.component())), fields_(s.list("fields")), names_(s.str("model_prefix", "")) {
  if (s.has("timestamp_field"))
    timestamp_fields_ = s.strings("timestamp_field");
  else
    timestamp_fields_ = {"@timestamp", "timestamp"};
  if (s.has("field_map")) {
    if (const auto file = s.resolve(s.str("field_map")); std::filesystem::is_regular_file(file)) s.config_file(file);
    map_.load(s.str("field_map"), s.base_dir(), s.where("field_map"), s.diagnostics());
  }
  for (const auto& [from, to] : s.map("ecs_fields")) map_.add(from, to, s.where("ecs_fields"), s.diagnostics());
  original_ = s.flag("original", false);
}

bool Document::reserved(std::string_view p) const {
  return written_by_alert(p) || (original_ && p == "event.original");
}

// A rule in full, as socstream.rules lists it: what regex rules carry, and for
// Sigma rules what an analyst needs (DRL 1.1 also asks for the author) and what matched.
void Document::rule_entry(std::string& out, const Event& e, size_t i) const {
  const Rule* r = e.rules[i];
  auto [it, fresh] = entries_.try_emplace(r);
  if (!fresh) {
    out += it->second;
  } else {
    std::string& entry = it->second;
    rule_entry_fields(entry, r);
    out += entry;
  }
  if (i < e.matched.size() && !e.matched[i].empty()) {
    out += ",\"matched\":";
    out += e.matched[i];  // JSON the detector wrote
  }
  out += '}';
}

void Document::rule_entry_fields(std::string& out, const Rule* r) {
  out += "{\"id\":";
  json::append_string(out, r->id);
  out += ",\"severity\":\"";
  out += severity_name(r->severity);
  out += "\",\"tags\":";
  out += strings(r->tags);
  if (r->kind != "regex") {
    auto text = [&](const char* key, const std::string& v) {
      out += ",\"";
      out += key;
      out += "\":";
      json::append_string(out, v);
    };
    text("kind", r->kind);
    text("title", r->title);
    text("level", r->level);
    text("status", r->status);
    text("description", r->description);
    text("author", r->author);
    out += ",\"references\":";
    out += strings(r->references);
    out += ",\"falsepositives\":";
    out += strings(r->falsepositives);
    out += ",\"logsource\":{\"product\":";
    json::append_string(out, r->product);
    out += ",\"category\":";
    json::append_string(out, r->category);
    out += ",\"service\":";
    json::append_string(out, r->service);
    out += "},\"threat\":{\"tactics\":";
    append_refs(out, r->tactics);
    out += ",\"techniques\":";
    append_refs(out, r->techniques);
    out += '}';
  }
}

void Document::rule_fields(NestedJson& doc, const Rule& r) const {
  doc.add("rule.id", json_str(r.id));
  doc.add("rule.name", json_str(r.title.empty() ? r.id : r.title));
  if (!r.description.empty()) doc.add("rule.description", json_str(r.description));
  if (!r.references.empty()) doc.add("rule.reference", json_str(r.references.front()));
  if (!r.author.empty()) doc.add("rule.author", strings({r.author}));
  if (!r.ruleset.empty()) doc.add("rule.ruleset", json_str(r.ruleset));
  const std::string& category = !r.category.empty() ? r.category : !r.service.empty() ? r.service : r.product;
  if (!category.empty()) doc.add("rule.category", json_str(category));
  // Sigma ids are UUIDs: rule.uuid is where ECS wants one.
  if (r.kind.rfind("sigma", 0) == 0 && r.id.size() == 36 && r.id[8] == '-') doc.add("rule.uuid", json_str(r.id));
  if (!r.modified.empty() || !r.date.empty()) doc.add("rule.version", json_str(r.modified.empty() ? r.date : r.modified));
}

void Document::model_rule(NestedJson& doc, const Detection& d) const {
  // Only a model flagged the event: the model is the rule.
  const std::string name = d.model && d.model->kind == ValueKind::String ? std::string(d.model->value) : detector_;
  doc.add("rule.id", json_str(name));
  doc.add("rule.name", json_str(name));
  doc.add("rule.ruleset", json_str("models"));
  if (d.version) doc.add("rule.version", json_str(d.version->value));
}

void Document::threat(NestedJson& doc, const std::vector<const Rule*>& rules) const {
  const auto& tables = sigma::AttackTables::builtin();
  RefList tactics, techniques, subtechniques;
  for (const Rule* r : rules) {
    std::vector<AttackRef> tac = r->tactics, tech = r->techniques;
    if (r->kind == "regex" && tac.empty() && tech.empty()) tables.classify(r->tags, tac, tech);
    for (const auto& t : tac) tactics.add(t.id, t.name, "https://attack.mitre.org/tactics/" + t.id + "/");
    for (const auto& t : tech) {
      const size_t dot = t.id.find('.');
      if (dot == std::string::npos) {
        techniques.add(t.id, t.name, "https://attack.mitre.org/techniques/" + t.id + "/");
        continue;
      }
      // T1003.001 "OS Credential Dumping: LSASS Memory": ECS has the parent
      // technique and the sub-technique apart.
      const std::string parent = t.id.substr(0, dot);
      const AttackRef* p = tables.technique(parent);
      const size_t colon = t.name.find(": ");
      techniques.add(parent, p ? p->name : t.name.substr(0, colon),
                     "https://attack.mitre.org/techniques/" + parent + "/");
      subtechniques.add(t.id, colon == std::string::npos ? t.name : t.name.substr(colon + 2),
                        "https://attack.mitre.org/techniques/" + parent + "/" + t.id.substr(dot + 1) + "/");
    }
  }
  if (tactics.ids.empty() && techniques.ids.empty()) return;
  doc.add("threat.framework", json_str("MITRE ATT&CK"));
  tactics.put(doc, "threat.tactic");
  techniques.put(doc, "threat.technique");
  subtechniques.put(doc, "threat.technique.subtechnique");
}

void Document::tags(NestedJson& doc, const std::vector<const Rule*>& rules) const {
  std::vector<std::string> all;
  for (const Rule* r : rules)
    for (const auto& t : r->tags)
      if (std::find(all.begin(), all.end(), t) == all.end()) all.push_back(t);
  if (!all.empty()) doc.add("tags", strings(all));
}

const Document::Fragment& Document::fragment(const std::vector<const Rule*>& rules) const {
  auto build = [&](Fragment& f) {
    f.doc.clear();
    // The rule ECS shows is the most severe one (the first of equals); all are under socstream.rules.
    const Rule* primary = nullptr;
    for (const Rule* r : rules)
      if (!primary || r->severity > primary->severity) primary = r;
    rule_fields(f.doc, *primary);
    threat(f.doc, rules);
    tags(f.doc, rules);
    f.reason = rules_reason(rules);
  };
  auto it = fragments_.find(rules);
  if (it != fragments_.end()) return it->second;
  if (fragments_.size() >= kMaxFragments) {
    build(scratch_);
    return scratch_;
  }
  Fragment& f = fragments_[rules];
  build(f);
  return f;
}

std::string Document::rules_reason(const std::vector<const Rule*>& rules) {
  std::string out;
  const bool sigma = std::all_of(rules.begin(), rules.end(), [](const Rule* r) { return r->kind != "regex"; });
  out += sigma ? "Sigma rule" : "rule";
  if (rules.size() > 1) out += 's';
  for (size_t i = 0; i < rules.size(); ++i) {
    out += i ? ", " : " ";
    out += '"';
    out += rules[i]->title.empty() ? rules[i]->id : rules[i]->title;
    out += '"';
  }
  out += " matched";
  return out;
}

std::string Document::reason(const std::string& rules_part, const Detection& d) const {
  if (rules_part.empty() && !d.label) return "detector " + detector_ + " passed the event on";
  std::string out = rules_part;
  if (d.label) {
    if (!out.empty()) out += "; ";
    out += "model ";
    out += d.model ? std::string(d.model->value) : std::string("?");
    out += " labelled it ";
    out += d.label->value;
    if (d.score) {
      out += " (score ";
      out += d.score->value;
      out += ')';
    }
    if (d.unscored) {
      out += ", leaving ";
      out += d.unscored->value;
      out += " of its texts unscored (over the model's budget: padding?)";
    }
  }
  return out;
}

void Document::render(std::string& out, const Event& e, const Detection& d, std::string_view created,
                      std::string_view id, size_t only) const {
  std::vector<const Rule*> rules;
  for (size_t i = 0; i < e.rules.size(); ++i)
    if (only == npos || i == only) rules.push_back(e.rules[i]);

  NestedJson& doc = doc_;
  doc.clear();
  // The event's own time, when it has one that reads as a time.
  const Field* time_field = nullptr;
  std::optional<int64_t> time;
  for (const auto& name : timestamp_fields_)
    if (const Field* f = e.field(name)) {
      time_field = f;
      time = event_time(*f);
      break;
    }
  doc.add("@timestamp", json_str(time ? timestamp::rfc3339(*time) : std::string(created)));
  doc.add("ecs.version", json_str(EcsSchema::builtin().version()));
  doc.add("event.kind", "\"alert\"");
  doc.add("event.id", json_str(id));
  doc.add("event.created", json_str(created));
  doc.add("event.severity", std::to_string(severity_number(d.severity)));
  doc.add("event.risk_score", std::to_string(risk_score(d.severity)));
  const Fragment* frag = rules.empty() ? nullptr : &fragment(rules);
  const std::string why = reason(frag ? frag->reason : std::string(), d);
  doc.add("event.reason", json_str(why));
  if (original_ && !e.raw.empty() && json::valid_utf8(e.raw)) doc.add("event.original", json_str(e.raw));

  if (frag) {
    doc.add(frag->doc);
  } else if (d.label) {
    model_rule(doc, d);
  } else {
    // Neither a rule nor a model: the topology sends the alert operator
    // everything, and the detector is the rule.
    doc.add("rule.id", json_str(detector_));
    doc.add("rule.name", json_str(detector_));
  }

  // The event's fields at their ECS paths; what has none, or does not fit its
  // type, or claims a place the alert owns, under socstream.fields.
  std::vector<const Field*> fields;
  if (fields_.empty()) {
    for (const auto& f : e.fields)
      if ((!d.label || !names_.is_verdict(f.name)) && !(time && &f == time_field && f.name == "@timestamp"))
        fields.push_back(&f);
  } else {
    for (const auto& name : fields_)
      if (const Field* f = e.field(name)) fields.push_back(f);
  }
  const size_t first_data = 1 << 20;  // tags of data entries: first_data + index into fields
  std::vector<size_t> unplaced;
  std::string value;
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string_view path = map_.target(fields[i]->name);
    const EcsField* type = reserved(path) ? nullptr : EcsSchema::builtin().find(path);
    value.clear();
    if (type && append_as(value, *fields[i], *type))
      doc.add(path, value, first_data + i);
    else
      unplaced.push_back(i);
  }
  if (!doc.has("message")) doc.add("message", json_str(why));
  std::vector<size_t> refused;
  doc.resolve(&refused);
  for (size_t tag : refused)
    if (tag >= first_data) unplaced.push_back(tag - first_data);
  std::sort(unplaced.begin(), unplaced.end());

  std::string socstream = "{\"detector\":";
  json::append_string(socstream, detector_);
  socstream += ",\"severity\":\"";
  socstream += severity_name(d.severity);
  socstream += "\",\"source\":";
  json::append_source(socstream, e.pos);
  socstream += ",\"rules\":[";
  bool first_rule = true;
  for (size_t i = 0; i < e.rules.size(); ++i) {
    if (only != npos && i != only) continue;
    if (!first_rule) socstream += ',';
    first_rule = false;
    rule_entry(socstream, e, i);
  }
  socstream += ']';
  if (d.label) {
    auto value_or_null = [&](const Field* f) {
      if (f)
        json::append_value(socstream, *f);
      else
        socstream += "null";
    };
    socstream += ",\"model\":{\"name\":";
    value_or_null(d.model);
    socstream += ",\"version\":";
    value_or_null(d.version);
    socstream += ",\"label\":";
    value_or_null(d.label);
    socstream += ",\"score\":";
    value_or_null(d.score);
    if (d.explanation) {
      socstream += ",\"explanation\":";
      json::append_value(socstream, *d.explanation);
    }
    if (d.unscored) {
      socstream += ",\"unscored\":";
      json::append_value(socstream, *d.unscored);
    }
    socstream += '}';
  }
  socstream += ",\"fields\":{";
  // One key per name, the first (a JSON object with a key twice is read differently by every consumer).
  std::vector<std::string_view> written;
  for (size_t k = 0; k < unplaced.size(); ++k) {
    const Field& f = *fields[unplaced[k]];
    if (std::find(written.begin(), written.end(), f.name) != written.end()) continue;
    if (!written.empty()) socstream += ',';
    written.push_back(f.name);
    json::append_string(socstream, f.name);
    socstream += ':';
    json::append_value(socstream, f);
  }
  socstream += "}}";
  doc.add("socstream", std::move(socstream));
  doc.write(out);
}

}  // namespace socstream::alert
