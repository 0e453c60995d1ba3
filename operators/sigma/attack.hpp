#pragma once
// MITRE ATT&CK tactics and techniques, from the tables in config/attack
// (compiled into the binary), for turning a Sigma rule's `attack.*` tags into
// ids and names an analyst or a SOAR playbook can use.
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/rule.hpp"

namespace socstream::sigma {

class AttackTables {
 public:
  static const AttackTables& builtin();
  // Parses tables in the CSV form of config/attack (header row; id, shortname, name / id, name).
  AttackTables(std::string_view tactics_csv, std::string_view techniques_csv);

  // The tactics and techniques a rule's tags name, in tag order: Sigma's
  // attack.credential_access and attack.t1003.001, and bare ids (TA0006,
  // T1003.001) as regex rules write them. Tags the tables do not know
  // (attack.stealth, group and software ids) are left to the tags.
  void classify(const std::vector<std::string>& tags, std::vector<AttackRef>& tactics,
                std::vector<AttackRef>& techniques) const;

  // A technique or sub-technique by id (T1003, t1003.001), or nullptr.
  const AttackRef* technique(std::string_view id) const;

  size_t tactics() const { return tactics_.size(); }
  size_t techniques() const { return techniques_.size(); }

 private:
  std::unordered_map<std::string, AttackRef> tactics_;     // by short name with '_' (credential_access) and id (ta0006)
  std::unordered_map<std::string, AttackRef> techniques_;  // by lower-case id (t1059.001)
};

// RFC 4180 rows; quoted fields may hold commas, quotes ("") and newlines.
std::vector<std::vector<std::string>> parse_csv(std::string_view text);

}  // namespace socstream::sigma
