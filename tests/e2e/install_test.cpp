// `cmake --install` into a temporary prefix, then the installed tree on its
// own: its binary finds its plugin and model there, every installed topology
// validates and finds the files it names relative to itself, and the default
// topology gives the alerts it gives from the source tree while writing
// nothing into the prefix (dead letters go to the state directory).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/test_support.hpp"

using namespace socstream::testing;
namespace fs = std::filesystem;

namespace {

// What a write under a tree changes: every entry's type, size, time and mode.
struct Entry {
  fs::file_type type;
  uintmax_t size;
  fs::file_time_type mtime;
  fs::perms perms;
  bool operator==(const Entry&) const = default;
};
std::map<std::string, Entry> snapshot(const fs::path& root) {
  std::map<std::string, Entry> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const auto st = e.symlink_status();
    out[fs::relative(e.path(), root).string()] =
        Entry{st.type(), st.type() == fs::file_type::regular ? e.file_size() : 0, e.last_write_time(), st.permissions()};
  }
  return out;
}
std::string changes(const std::map<std::string, Entry>& before, const std::map<std::string, Entry>& after) {
  std::string out;
  for (const auto& [p, e] : after)
    if (auto it = before.find(p); it == before.end()) out += "  new: " + p + "\n";
    else if (!(it->second == e)) out += "  changed: " + p + "\n";
  for (const auto& [p, e] : before)
    if (!after.count(p)) out += "  removed: " + p + "\n";
  return out;
}

// A value with each ${VAR:-default} replaced by its default: what the topology
// names when the environment says nothing. nullopt if a ${VAR} has none.
std::optional<std::string> with_defaults(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, 2, "${") != 0) {
      out += s[i];
      continue;
    }
    const size_t close = s.find('}', i), sep = s.find(":-", i);
    if (close == std::string::npos || sep == std::string::npos || sep > close) return std::nullopt;
    out += s.substr(sep + 2, close - sep - 2);
    i = close;
  }
  return out;
}

// The values of a topology that name, relative to its file, something that
// exists beside it in `dir` (a sample, a rules file, a model directory, the
// folders a glob like sigma/rules* matches): what the installed copy must
// find at the same relative place.
void relative_paths(const YAML::Node& n, const fs::path& dir, std::set<std::string>& out) {
  if (n.IsMap()) {
    for (const auto& kv : n) relative_paths(kv.second, dir, out);
  } else if (n.IsSequence()) {
    for (const auto& item : n) relative_paths(item, dir, out);
  } else if (n.IsScalar()) {
    auto v = with_defaults(n.Scalar());
    // The dead-letter defaults (../.state/) are state, which these runs put elsewhere.
    if (!v || v->empty() || v->front() == '/' || v->find(".state") != std::string::npos) return;
    if (v->back() == '*') {
      const fs::path pattern(*v);
      const std::string stem = pattern.filename().string();
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(dir / pattern.parent_path(), ec))
        if (e.path().filename().string().rfind(stem.substr(0, stem.size() - 1), 0) == 0)
          out.insert((pattern.parent_path() / e.path().filename()).string());
    } else if (fs::exists(dir / *v)) {
      out.insert(*v);
    }
  }
}

// Runs a socstream binary from / (so nothing resolves against the working
// directory) with the state variables pointed at `state` and none of the
// variables that would point it at other files.
// The result cache is off: it shares a result among texts that differ only in
// digits, so which text of a template is scored first, and whose score the others
// carry, depends on the inference thread's timing: a CI run failed on it. With the
// cache, 17 of 1,535 scores differed from an uncached run's by up to 0.03; two
// uncached runs, one beside two busy loops, gave the same scores.
CommandResult run_with_state(const fs::path& bin, const std::string& args, const fs::path& state) {
  return run_command("cd / && env -u SOCSTREAM_TORCH_PLUGIN -u SOCSTREAM_INPUT SOCSTREAM_MODEL_CACHE=0 "
                     "SOCSTREAM_STATE_DIR=" + state.string() + " SOCSTREAM_DLQ=" + (state / "dlq.jsonl").string() +
                     " " + bin.string() + " " + args);
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// cmake --install writes install_manifest.txt into the build directory: put
// back what was there, so the test leaves nothing behind.
class KeepFile {
 public:
  explicit KeepFile(fs::path p) : path_(std::move(p)), existed_(fs::exists(path_)) {
    if (existed_) content_ = read_file(path_);
  }
  ~KeepFile() {
    std::error_code ec;
    if (existed_) std::ofstream(path_, std::ios::binary | std::ios::trunc) << content_;
    else fs::remove(path_, ec);
  }

 private:
  fs::path path_;
  bool existed_;
  std::string content_;
};

}  // namespace

TEST(Install, PrefixRunsTheBundledTopologies) {
  const fs::path build = SOCSTREAM_BUILD_DIR;
  KeepFile manifest(build / "install_manifest.txt");
  TempDir tmp;
  const auto prefix = tmp.path() / "prefix", state = tmp.path() / "state";
  auto install = run_command(std::string(SOCSTREAM_CMAKE) + " --install " + build.string() + " --prefix " + prefix.string());
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;

  const auto bin = prefix / "bin/socstream", plugin = prefix / "lib/socstream/libsocstream_torch.so";
  const auto share = prefix / "share/socstream", config = share / "config", model = share / "models/web-attack-classifier";
  const auto unit = prefix / "lib/systemd/system/socstream.service";
  for (const auto& p : {bin, plugin, config / "default.yaml", model / "model.yaml", model / "model.pt",
                        share / "models/vocab/bert-uncased/vocab.txt", unit,
                        prefix / "share/doc/socstream/examples/socstream.env", prefix / "share/doc/socstream/README.md",
                        prefix / "share/doc/socstream/docs/alert.schema.json", config / "samples/LICENSE.http_params",
                        config / "samples/LICENSE.windows-events", config / "sigma/LICENSE.md",
                        config / "sigma/pipelines/nxlog.yaml", config / "attack/LICENSE.txt", config / "ecs/LICENSE",
                        config / "grok/LICENSE"})
    EXPECT_TRUE(fs::is_regular_file(p)) << p << " is not installed";
  // Runtime files only.
  for (const auto& e : fs::recursive_directory_iterator(prefix)) {
    const std::string name = e.path().filename().string();
    EXPECT_FALSE(name == "tests" || name == "train" || name == "__pycache__" || e.path().extension() == ".py" ||
                 e.path().extension() == ".pyc" || name.ends_with(".truth.csv"))
        << e.path() << " is not a runtime file";
  }
  // No RPATH or RUNPATH: ld.so finds Debian's libraries where they are, and nothing in the build tree.
  for (const auto& p : {bin, plugin}) {
    auto d = run_command("readelf -d " + p.string());
    ASSERT_EQ(d.exit_code, 0) << d.err;
    EXPECT_EQ(d.out.find("RPATH"), std::string::npos) << p << "\n" << d.out;
    EXPECT_EQ(d.out.find("RUNPATH"), std::string::npos) << p << "\n" << d.out;
  }

  const auto before = snapshot(prefix);

  size_t topologies = 0, named = 0;
  for (const auto& e : fs::directory_iterator(source_dir() / "config")) {
    if (e.path().extension() != ".yaml") continue;
    ++topologies;
    const auto installed = config / e.path().filename();
    ASSERT_TRUE(fs::exists(installed)) << installed;
    auto v = run_with_state(bin, "validate " + installed.string(), state);
    EXPECT_EQ(v.exit_code, 0) << installed << "\n" << v.err;
    EXPECT_EQ(v.err.find("warning"), std::string::npos) << installed << "\n" << v.err;
    // validate checks rules and models, not a file source's input: every file the source copy names, the installed one finds.
    std::set<std::string> paths;
    relative_paths(YAML::LoadFile(e.path().string()), e.path().parent_path(), paths);
    for (const auto& p : paths) EXPECT_TRUE(fs::exists(config / p)) << installed << " names " << p << ", not installed";
    named += paths.size();
  }
  EXPECT_GE(topologies, 7u);
  EXPECT_EQ(std::count_if(fs::directory_iterator(config), fs::directory_iterator{},
                          [](const auto& e) { return e.path().extension() == ".yaml"; }),
            static_cast<std::ptrdiff_t>(topologies));
  EXPECT_GE(named, 20u);  // samples, rules/web.yaml, the model, the five sigma/rules* folders

  // The installed plugin is the one loaded (LD_DEBUG names each file ld.so opens), with the installed model.
  auto predict = run_command("cd / && env -u SOCSTREAM_TORCH_PLUGIN LD_DEBUG=files " + bin.string() + " predict --model " +
                             model.string() + " \"1' or 1=1 --\"");
  EXPECT_EQ(predict.exit_code, 0) << predict.err.substr(0, 3000);
  EXPECT_EQ(predict.out.rfind("sqli ", 0), 0u) << predict.out;
  EXPECT_NE(predict.err.find("file=" + plugin.string() + " "), std::string::npos) << predict.err.substr(0, 3000);
  EXPECT_EQ(predict.err.find(build.string()), std::string::npos) << "something loaded from the build tree";

  auto installed = run_with_state(bin, "run " + (config / "default.yaml").string(), state);
  auto source = run_with_state(SOCSTREAM_BIN, "run " + (source_dir() / "config/default.yaml").string(),
                               tmp.path() / "source-state");
  ASSERT_EQ(installed.exit_code, 0) << installed.err;
  ASSERT_EQ(source.exit_code, 0) << source.err;
  auto alerts = lines(installed.out), expected = lines(source.out);
  EXPECT_GT(alerts.size(), 1000u);
  EXPECT_EQ(alerts.size(), expected.size()) << "alerts from the installed tree vs the source tree";
  for (const auto& a : alerts) ASSERT_NE(a.find("\"kind\":\"alert\""), std::string::npos) << a;
  // A score depends in its last float bits on the padding of its batch, and batches
  // on timing (max_delay_ms): scores are compared with a tolerance, the rest exactly.
  const std::regex score(R"((score[": (]+)([0-9.eE+-]+))");
  auto content = [&](const std::vector<std::string>& in, std::vector<double>& scores) {
    std::vector<std::pair<std::string, std::vector<double>>> out;
    for (const auto& a : in) {
      std::string c = alert_content(a);
      std::vector<double> s;
      for (std::sregex_iterator m(c.begin(), c.end(), score), end; m != end; ++m) s.push_back(std::stod((*m)[2]));
      out.emplace_back(std::regex_replace(c, score, "$1_"), std::move(s));
    }
    std::sort(out.begin(), out.end());
    std::vector<std::string> texts;
    for (auto& [c, s] : out) {
      texts.push_back(c);
      scores.insert(scores.end(), s.begin(), s.end());
    }
    return texts;
  };
  std::vector<double> got_scores, want_scores;
  const auto got = content(alerts, got_scores), want = content(expected, want_scores);
  EXPECT_TRUE(got == want) << "the installed tree's alerts differ from the source tree's";
  ASSERT_EQ(got_scores.size(), want_scores.size());
  EXPECT_GT(got_scores.size(), alerts.size());  // the message's and socstream.model's
  for (size_t i = 0; i < got_scores.size(); ++i) EXPECT_NEAR(got_scores[i], want_scores[i], 1e-4) << i;
  EXPECT_TRUE(fs::exists(state / "dlq.jsonl")) << "the dead-letter sink did not open its file in the state directory";
  const std::string diff = changes(before, snapshot(prefix));
  EXPECT_TRUE(diff.empty()) << "written into the prefix:\n" << diff;

  // The unit names the installed binary and topology, and systemd accepts it.
  const std::string text = read_file(unit);
  EXPECT_NE(text.find("ExecStart=" + bin.string() + " run ${SOCSTREAM_TOPOLOGY}"), std::string::npos) << text;
  EXPECT_NE(text.find("SOCSTREAM_TOPOLOGY=" + (config / "default.yaml").string()), std::string::npos) << text;
  EXPECT_NE(text.find("StateDirectory=socstream"), std::string::npos);
  EXPECT_NE(text.find("SOCSTREAM_DLQ=%S/socstream/"), std::string::npos);
  if (run_command("command -v systemd-analyze").exit_code == 0) {
    auto v = run_command("systemd-analyze verify " + unit.string());
    EXPECT_EQ(v.exit_code, 0) << v.err;
    // It warns (unknown keys, bad values) on stderr and still exits 0.
    EXPECT_EQ(v.err + v.out, "");
  }
}
