#pragma once
// `socstream test TOPOLOGY --cases FILE`: golden events in, expected outputs
// checked, as Vector's `vector test` does for its unit tests. A case names
// where its events enter (a source, or an operator's input) and what given
// outputs (a component's port, or what a sink would write) must hold.
//
// Sources and sinks are not run: each source's events come from the case, and
// every sink is replaced by one that keeps what it receives and writes
// nothing, so a Kafka or Redis topology is tested without a broker. Every
// operator runs for real, models and Sigma included, on a topology loaded
// afresh for each case, so no case sees what another taught an operator.
//
// The format, its matching rules and the reasons behind them: README.md
// ("Testing a topology") and the comments of test_cases.cpp.
#include <filesystem>

namespace socstream {

struct TestOptions {
  std::filesystem::path topology;
  std::filesystem::path cases;
  std::filesystem::path junit;  // empty: no JUnit report
};

// Runs every case in order: one line per case on stdout, a diff under each
// that failed, a summary. Returns 0 when every case passed; 1 when one failed
// or did not run, or when the topology or the cases file is wrong (every
// error on stderr as file:line:col). With opts.junit, also writes a JUnit XML
// report there, also when the files are wrong (one test case in error).
int run_test_cases(const TestOptions& opts);

}  // namespace socstream
