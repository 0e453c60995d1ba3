#include "operators/sigma/attack.hpp"

#include <algorithm>
#include <stdexcept>

#include "operators/sigma/pipeline.hpp"

namespace socstream::sigma {

namespace {

std::string normalise(std::string s) {
  for (auto& c : s) {
    if (c == '-' || c == ' ') c = '_';
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return s;
}

size_t column(const std::vector<std::string>& header, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    auto it = std::find(header.begin(), header.end(), n);
    if (it != header.end()) return static_cast<size_t>(it - header.begin());
  }
  throw std::runtime_error(std::string("ATT&CK table without a '") + *names.begin() + "' column");
}

}  // namespace

std::vector<std::vector<std::string>> parse_csv(std::string_view text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string cell;
  bool quoted = false, any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        cell += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell += c;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
      any = true;
    } else if (c == ',') {
      row.push_back(std::move(cell));
      cell.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !cell.empty()) {
        row.push_back(std::move(cell));
        rows.push_back(std::move(row));
      }
      row.clear();
      cell.clear();
      any = false;
    } else {
      cell += c;
      any = true;
    }
  }
  if (any || !cell.empty()) {
    row.push_back(std::move(cell));
    rows.push_back(std::move(row));
  }
  return rows;
}

AttackTables::AttackTables(std::string_view tactics_csv, std::string_view techniques_csv) {
  auto tactics = parse_csv(tactics_csv);
  if (!tactics.empty()) {
    const size_t id = column(tactics[0], {"id"}), shortname = column(tactics[0], {"shortname", "short_name"}),
                 name = column(tactics[0], {"name"});
    for (size_t r = 1; r < tactics.size(); ++r) {
      const auto& row = tactics[r];
      if (row.size() <= std::max({id, shortname, name})) continue;
      tactics_[normalise(row[shortname])] = AttackRef{row[id], row[name]};
      tactics_[normalise(row[id])] = AttackRef{row[id], row[name]};
    }
  }
  auto techniques = parse_csv(techniques_csv);
  if (!techniques.empty()) {
    const size_t id = column(techniques[0], {"id"}), name = column(techniques[0], {"name"});
    for (size_t r = 1; r < techniques.size(); ++r) {
      const auto& row = techniques[r];
      if (row.size() <= std::max(id, name)) continue;
      techniques_[normalise(row[id])] = AttackRef{row[id], row[name]};
    }
  }
}

const AttackRef* AttackTables::technique(std::string_view id) const {
  auto it = techniques_.find(normalise(std::string(id)));
  return it == techniques_.end() ? nullptr : &it->second;
}

const AttackTables& AttackTables::builtin() {
  static const AttackTables t(embedded_file("attack/tactics.csv").value_or(""),
                              embedded_file("attack/techniques.csv").value_or(""));
  return t;
}

void AttackTables::classify(const std::vector<std::string>& tags, std::vector<AttackRef>& tactics,
                            std::vector<AttackRef>& techniques) const {
  for (const auto& tag : tags) {
    const std::string t = normalise(tag);
    std::string rest;
    if (t.rfind("attack.", 0) == 0)
      rest = t.substr(7);
    else if (t.size() >= 5 && t[0] == 't' && t[1] >= '0' && t[1] <= '9')
      rest = t;  // T1190
    else if (t.size() >= 6 && t[0] == 't' && t[1] == 'a' && t[2] >= '0' && t[2] <= '9')
      rest = t;  // TA0001
    else
      continue;
    if (auto it = tactics_.find(rest); it != tactics_.end()) {
      tactics.push_back(it->second);
    } else if (auto jt = techniques_.find(rest); jt != techniques_.end()) {
      techniques.push_back(jt->second);
    }
  }
}

}  // namespace socstream::sigma
