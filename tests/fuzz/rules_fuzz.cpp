// The rules file loader (engine/rule.cpp, load_rules): the input is a rules
// file as regex_prefilter reads it. What it loads then goes where the
// prefilter sends it: each pattern into one RE2::Set (with a small memory
// budget) and each rule's tags to the ATT&CK tables.
//
// Checked: the loader never throws; every rule it returns has an id (unique)
// and a pattern, a severity that has a name and a position in this file; every
// error has a message.
#include <re2/re2.h>
#include <re2/set.h>

#include <set>

#include "engine/rule.hpp"
#include "operators/sigma/attack.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace socstream;
using namespace socstream::fuzz;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  quiet();
  (void)sigma::AttackTables::builtin();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = write_file(scratch_dir() / "rules.yaml", std::string_view(reinterpret_cast<const char*>(data), size));
  Diagnostics diag;
  std::vector<RuleSource> rules = load_rules(file, diag);
  std::set<std::string> ids;
  for (const auto& rs : rules) {
    FUZZ_CHECK(!rs.rule.id.empty(), "a rule without an id");
    FUZZ_CHECK(!rs.rule.pattern.empty(), "rule '" + rs.rule.id + "' without a pattern");
    FUZZ_CHECK(ids.insert(rs.rule.id).second, "rule id '" + rs.rule.id + "' twice");
    FUZZ_CHECK(parse_severity(severity_name(rs.rule.severity)) == rs.rule.severity, "a severity without a name");
    FUZZ_CHECK(rs.where.file == file.string(), "a rule located in another file: " + rs.where.str());
  }
  for (const auto& d : diag.list()) FUZZ_CHECK(!d.message.empty(), "an error without a message at " + d.where.str());

  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(8 << 20);
  RE2::Set set(o, RE2::UNANCHORED);
  int added = 0;
  for (auto& rs : rules) {
    std::string err;
    if (set.Add(rs.rule.pattern, &err) >= 0) ++added;
    sigma::AttackTables::builtin().classify(rs.rule.tags, rs.rule.tactics, rs.rule.techniques);
  }
  if (added && set.Compile()) {
    std::vector<int> hits;
    for (const auto& rs : rules) set.Match(rs.rule.description, &hits);
  }
  return 0;
}
