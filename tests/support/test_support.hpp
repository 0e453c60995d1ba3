#pragma once
// Helpers shared by the tests: temporary files, topologies from strings,
// running the real binary.
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/channel.hpp"
#include "engine/event.hpp"

#include "engine/config.hpp"
#include "engine/topology.hpp"

namespace socstream::testing {

// A fresh directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& p);
std::filesystem::path source_dir();

// Loads a topology written to `dir/topology.yaml`; diag gets the errors.
std::unique_ptr<Topology> load_from_string(const TempDir& dir, const std::string& yaml, Diagnostics& diag);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs a shell command line, capturing stdout and stderr.
CommandResult run_command(const std::string& command);
// Decodes standard base64 (dead letters carry non-UTF-8 bytes that way).
std::string base64_decode(std::string_view in);

// An operator test's events: each a list of (field, value) pairs, from
// `source` (may be null) at offsets from `offset`. The batch owns the strings.
using Fields = std::vector<std::pair<std::string, std::string>>;
Batch make_batch(const std::string* source, const std::vector<Fields>& events, int64_t offset = 0);
// Every event waiting on a port's channel; their batches go to `kept`, which
// keeps the events' buffers alive.
std::vector<Event> drain(Channel& ch, std::vector<Batch>& kept);
// A field's value, or "<none>".
std::string field_of(const Event& e, std::string_view name);

// An alert id as docs/alerts.md documents it, computed here from its parts:
// the first 32 hex digits of SHA-256 over detector, source, stream, partition,
// offset and origin (decimal), NUL-separated, then NUL and the rule if any.
std::string expected_alert_id(std::string_view detector, std::string_view source, std::string_view stream,
                              int32_t partition, int64_t offset, uint64_t origin, std::string_view rule = {});
// A file's origin as docs/alerts.md documents it: the first 16 hex digits of
// SHA-256 over "device:inode:" and its first line (up to 256 bytes), as a number.
uint64_t expected_file_origin(const std::filesystem::path& file);

// The project's Python (scripts/python_env.sh's venv, or $SOCSTREAM_PYTHON).
std::string venv_python();

// Checks alerts against docs/alert.schema.json with the reference validator
// (scripts/validate_alerts.py, jsonschema in the venv of scripts/python_env.sh,
// or $SOCSTREAM_PYTHON); a failure names the alerts that do not conform.
void expect_schema_valid(const std::vector<std::string>& alerts, const std::string& what);

// An alert with what depends on where and when its event was read removed
// (event.id, event.created, socstream.source), as minified JSON: equal for
// the alerts two topologies raise on the same event from different sources.
std::string alert_content(std::string_view alert);

// Runs the built socstream binary with the given arguments.
CommandResult run_socstream(const std::string& args, const std::string& env = "");

}  // namespace socstream::testing
