#include "tests/support/test_support.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include "engine/sha256.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <deque>
#include <fstream>
#include <random>
#include <sstream>

#include "engine/builtins.hpp"

namespace socstream::testing {

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() / ("socstream-test-" + std::to_string(::getpid()) + "-" +
                                                    std::to_string(rd()));
  std::filesystem::create_directories(path_);
  register_builtins();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& content) const {
  auto p = path_ / name;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::filesystem::path source_dir() { return SOCSTREAM_SOURCE_DIR; }

Batch make_batch(const std::string* source, const std::vector<Fields>& events, int64_t offset) {
  Batch b;
  auto store = std::make_shared<std::deque<std::string>>();  // a deque: the views stay valid as it grows
  for (const auto& fields : events) {
    Event e;
    e.pos.source = source;
    if (source) e.pos.stream = *source;
    e.pos.offset = offset++;
    for (const auto& [k, v] : fields) {
      const std::string& key = store->emplace_back(k);
      e.fields.push_back(Field{key, store->emplace_back(v)});
    }
    b.events.push_back(std::move(e));
  }
  b.hold(store);
  return b;
}

std::vector<Event> drain(Channel& ch, std::vector<Batch>& kept) {
  std::vector<Event> all;
  Batch b;
  while (ch.pop(b, Clock::now()) == Channel::Pop::Item) {
    for (auto& e : b.events) all.push_back(std::move(e));
    kept.push_back(std::move(b));
    b = Batch{};
  }
  return all;
}

std::string field_of(const Event& e, std::string_view name) {
  const Field* f = e.field(name);
  return f ? std::string(f->value) : "<none>";
}

std::unique_ptr<Topology> load_from_string(const TempDir& dir, const std::string& yaml, Diagnostics& diag) {
  register_builtins();
  return load_topology(dir.write("topology.yaml", yaml), diag);
}

CommandResult run_command(const std::string& command) {
  TempDir tmp;
  auto out = tmp.path() / "out", err = tmp.path() / "err";
  std::string full = "(" + command + ") >" + out.string() + " 2>" + err.string() + " </dev/null";
  int status = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

std::string base64_decode(std::string_view in) {
  static const std::string tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    acc = acc << 6 | static_cast<uint32_t>(tbl.find(c));
    if ((bits += 6) >= 8) out += static_cast<char>((acc >> (bits -= 8)) & 0xff);
  }
  return out;
}

std::string expected_alert_id(std::string_view detector, std::string_view source, std::string_view stream,
                              int32_t partition, int64_t offset, uint64_t origin, std::string_view rule) {
  std::string in = std::string(detector) + '\0' + std::string(source) + '\0' + std::string(stream) + '\0' +
                   std::to_string(partition) + '\0' + std::to_string(offset) + '\0' + std::to_string(origin);
  if (!rule.empty()) in += '\0' + std::string(rule);
  return sha256_hex(in).substr(0, 32);
}

uint64_t expected_file_origin(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) throw std::runtime_error("stat " + file.string());
  std::string head = read_file(file).substr(0, 256);
  head = head.substr(0, head.find('\n'));
  return std::stoull(
      sha256_hex(std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + head).substr(0, 16), nullptr, 16);
}

std::string venv_python() {
  const char* env = std::getenv("SOCSTREAM_PYTHON");
  return env && *env ? env : (source_dir() / ".venv/bin/python").string();
}

void expect_schema_valid(const std::vector<std::string>& alerts, const std::string& what) {
  ASSERT_FALSE(alerts.empty()) << what << ": no alerts to check";
  const std::string python = venv_python();
  TempDir dir;
  const auto file = dir.path() / "alerts.jsonl";
  {
    std::ofstream out(file);
    for (const auto& a : alerts) out << a << (a.empty() || a.back() != '\n' ? "\n" : "");
  }
  auto r = run_command(python + " " + (source_dir() / "scripts/validate_alerts.py").string() + " " + file.string());
  EXPECT_EQ(r.exit_code, 0) << what << ": alerts that do not conform to docs/alert.schema.json:\n" << r.err << r.out;
}

std::string alert_content(std::string_view alert) {
  simdjson::dom::parser p;
  simdjson::dom::object doc;
  if (p.parse(alert.data(), alert.size()).get(doc)) return "<not a JSON object> " + std::string(alert);
  // Keys are written in the alert's own (sorted) order, so equal content gives equal strings.
  auto without = [](simdjson::dom::object o, std::initializer_list<std::string_view> drop) {
    std::string out = "{";
    for (auto [k, v] : o) {
      if (std::find(drop.begin(), drop.end(), k) != drop.end()) continue;
      if (out.size() > 1) out += ',';
      out += '"' + std::string(k) + "\":" + simdjson::minify(v);
    }
    return out + "}";
  };
  std::string out = "{";
  for (auto [k, v] : doc) {
    if (out.size() > 1) out += ',';
    out += '"' + std::string(k) + "\":";
    simdjson::dom::object inner;
    if (k == "event" && !v.get(inner)) out += without(inner, {"id", "created"});
    else if (k == "socstream" && !v.get(inner)) out += without(inner, {"source"});
    else out += simdjson::minify(v);
  }
  return out + "}";
}

CommandResult run_socstream(const std::string& args, const std::string& env) {
  return run_command(env + (env.empty() ? "" : " ") + std::string(SOCSTREAM_BIN) + " " + args);
}

}  // namespace socstream::testing
