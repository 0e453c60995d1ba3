// The transformer learning its head from verdicts, with the bundled model and
// libtorch (no stand-in: the A/B gate is only as good as the training it judges).
// A shadow that gets worse on the held-back verdicts is discarded; a better
// one is promoted, saved as a numbered version, restored, pinned, rolled back.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "operators/operators.hpp"
#include "operators/alert.hpp"
#include "operators/transformer.hpp"
#include "tests/support/http_params.hpp"
#include "tests/support/test_support.hpp"

using namespace socstream;
using namespace socstream::testing;

namespace {

const std::string kFeedback = "feedback", kEvents = "events";

// The bundled model's own version: the heads it promotes are numbered after it.
int64_t base_version() {
  return read_model_info(source_dir() / "models/web-attack-classifier").version;
}
std::string ver(int64_t k) { return std::to_string(base_version() + k); }
std::string snap(int64_t k) { return fmt::format("head-{:010d}.snap", base_version() + k); }

struct Learner {
  Diagnostics diag;
  std::string name = "classify";
  std::unique_ptr<TransformerOp> op;
  std::unique_ptr<Outputs> out;
  Channel pos{100000, 1 << 26}, neg{100000, 1 << 26}, dlq{100000, 1 << 26}, drift{1000, 1 << 20};
  std::vector<Batch> kept;

  Learner(const TempDir& dir, const std::string& settings) {
    YAML::Node n = YAML::Load("{model: '" + (source_dir() / "models/web-attack-classifier").string() +
                              "', field: q, inference_thread: false, cache_size: 0, versions_dir: '" +
                              (dir.path() / "versions").string() + "', " + settings + "}");
    Settings s(n, name, (dir.path() / "t.yaml").string(), dir.path(), &diag);
    s.check(transformer_spec().settings);
    op = std::make_unique<TransformerOp>(s);
    if (!diag.ok()) return;
    op->open();
    out = std::make_unique<Outputs>(&name, op->output_ports());
    out->connect(0, &pos);
    out->connect(1, &neg);
    out->connect(2, &dlq);
    out->connect(3, &drift);
  }

  void feed(const std::string& source, const std::vector<Fields>& events) {
    op->process(make_batch(&source, events), *out);
  }

  // Verdicts {text, label} for rows [from, n), the label chosen per verdict (1-based position).
  void verdicts(const std::vector<LabelledText>& rows, size_t n,
                const std::function<std::string(size_t, const LabelledText&)>& label, size_t from = 0) {
    for (size_t at = from; at < n; at += 50) {
      std::vector<Fields> batch;
      for (size_t i = at; i < std::min(n, at + 50); ++i)
        batch.push_back({{"text", rows[i].text}, {"label", label(i + 1, rows[i])}});
      feed(kFeedback, batch);
    }
    op->on_deadline(*out);  // the last verdicts reach the learner
  }

  // How many of the texts the live model gives `label`.
  size_t count(const std::vector<std::string>& texts, const std::string& label) {
    std::vector<Fields> batch;
    for (const auto& t : texts) batch.push_back({{"q", t}});
    feed(kEvents, batch);
    op->on_deadline(*out);
    size_t n = 0, seen = 0;
    for (Channel* ch : {&pos, &neg})
      for (const auto& e : drain(*ch, kept)) {
        ++seen;
        n += field_of(e, "label") == label;
      }
    EXPECT_EQ(seen, texts.size());
    return n;
  }
};

std::vector<LabelledText> rows() { return http_params((source_dir() / "tests/data/http_params/train.csv").string()); }

// 20 SQL injections the learner never sees (rows from 1,000 on).
std::vector<std::string> probes(const std::vector<LabelledText>& data) {
  std::vector<std::string> out;
  for (size_t i = 1000; i < data.size() && out.size() < 20; ++i)
    if (data[i].label == "sqli") out.push_back(data[i].text);
  return out;
}

const std::string kSettings = "learn: true, feedback_sources: [feedback], holdout_every: 5, gate_examples: 40";

}  // namespace

TEST(TransformerLearning, ABetterShadowIsPromotedSavedAndRestored) {
  auto data = rows();
  TempDir dir;
  {
    Learner l(dir, kSettings);
    ASSERT_TRUE(l.diag.ok()) << l.diag.str();
    EXPECT_GE(l.count(probes(data), "sqli"), 19u);
    // Analysts now file SQL injection under xss: the live head is wrong on
    // every such verdict, a shadow that learns the new mapping is right.
    l.verdicts(data, 400, [](size_t, const LabelledText& r) { return r.label == "sqli" ? "xss" : r.label; });
    EXPECT_GE(l.op->stats().promotions, 1u);
    EXPECT_EQ(l.op->stats().held_back, 80u);
    EXPECT_EQ(l.op->stats().trained, 320u);
    EXPECT_GE(l.count(probes(data), "xss"), 19u) << "the promoted head serves";
    EXPECT_NE(l.op->version(), ver(0));
  }
  const auto v2 = dir.path() / "versions" / snap(1);
  ASSERT_TRUE(std::filesystem::exists(v2));
  {
    Learner restored(dir, "");  // not learning: serves the newest saved version
    ASSERT_TRUE(restored.diag.ok()) << restored.diag.str();
    EXPECT_GE(restored.count(probes(data), "xss"), 19u);
  }
  {
    Learner pinned(dir, "pin_version: " + ver(0));  // a rollback to the bundled weights
    ASSERT_TRUE(pinned.diag.ok()) << pinned.diag.str();
    EXPECT_EQ(pinned.op->version(), ver(0));
    EXPECT_GE(pinned.count(probes(data), "sqli"), 19u);
  }
  {
    Learner pinned(dir, "pin_version: " + ver(1));
    ASSERT_TRUE(pinned.diag.ok()) << pinned.diag.str();
    EXPECT_EQ(pinned.op->version(), ver(1));
    EXPECT_GE(pinned.count(probes(data), "xss"), 19u);
  }
  // A damaged newest version is refused and the one before it served.
  auto versions = online::SnapshotStore(dir.path() / "versions", "head", 0).generations();
  ASSERT_GE(versions.size(), 1u);
  {
    std::string bytes = read_file(dir.path() / "versions" / snap(1));
    for (uint64_t g : versions)
      if (g != static_cast<uint64_t>(base_version() + 1)) std::filesystem::remove(online::SnapshotStore(dir.path() / "versions", "head", 0).path_of(g));
    bytes[bytes.size() / 2] ^= 1;
    dir.write("versions/" + snap(2), bytes);
    Learner fallback(dir, "");
    ASSERT_TRUE(fallback.diag.ok());
    EXPECT_EQ(fallback.op->version(), ver(1));
  }
  // A pin on a version that is not there stops the start, rather than serve another.
  EXPECT_THROW(Learner(dir, "pin_version: 7"), ModelError);
}

// The int8 variant keeps its head in float32: it learns, is gated and is
// saved as float32's does, over the quantised encoder's features.
TEST(TransformerLearning, AnInt8ModelLearnsItsFloat32Head) {
  auto data = rows();
  TempDir dir;
  Learner l(dir, kSettings + ", precision: int8");
  ASSERT_TRUE(l.diag.ok()) << l.diag.str();
  ASSERT_EQ(l.op->model_info().precision, "int8");
  EXPECT_GE(l.count(probes(data), "sqli"), 19u);
  l.verdicts(data, 400, [](size_t, const LabelledText& r) { return r.label == "sqli" ? "xss" : r.label; });
  EXPECT_GE(l.op->stats().promotions, 1u);
  EXPECT_GE(l.count(probes(data), "xss"), 19u) << "the promoted head serves";
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "versions" / snap(1)));
}

TEST(TransformerLearning, AWorseShadowIsNotPromoted) {
  auto data = rows();
  TempDir dir;
  Learner l(dir, kSettings);
  ASSERT_TRUE(l.diag.ok()) << l.diag.str();
  // Every 5th verdict is held back. The others (what the shadow trains on) are
  // mislabelled: sqli called benign; the held-back ones are right.
  l.verdicts(data, 400, [](size_t i, const LabelledText& r) {
    return i % 5 != 0 && r.label == "sqli" ? std::string("norm") : r.label;
  });
  EXPECT_EQ(l.op->stats().promotions, 0u);
  EXPECT_GE(l.op->stats().discards, 1u);
  EXPECT_EQ(l.op->version(), ver(0));
  EXPECT_GE(l.count(probes(data), "sqli"), 19u) << "the live head did not move";
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "versions" / snap(1)));
}

TEST(TransformerLearning, ConfigErrors) {
  TempDir dir;
  Diagnostics diag;
  YAML::Node n = YAML::Load("{model: '" + (source_dir() / "models/web-attack-classifier").string() +
                            "', field: q, learn: true, pin_version: 2}");
  Settings s(n, "classify", (dir.path() / "t.yaml").string(), dir.path(), &diag);
  TransformerOp op(s);
  EXPECT_NE(diag.str().find("a model that learns needs versions_dir"), std::string::npos) << diag.str();
  EXPECT_NE(diag.str().find("a pinned version is frozen"), std::string::npos) << diag.str();
}

TEST(TransformerLearning, TheLiveHeadsErrorsOnVerdictsRaiseADriftEvent) {
  auto data = rows();
  TempDir dir;
  // Every other verdict held back, and no promotion in this test: the live head stays the bundled one.
  Learner l(dir, "learn: true, feedback_sources: [feedback], holdout_every: 2, gate_examples: 100000");
  ASSERT_TRUE(l.diag.ok()) << l.diag.str();
  l.verdicts(data, 400, [](size_t, const LabelledText& r) { return r.label; });
  Batch b;
  EXPECT_NE(l.drift.pop(b, Clock::now()), Channel::Pop::Item) << "the bundled head agrees with the analysts";
  // Then analysts file SQL injection under xss: the live head is wrong on a third of the verdicts.
  l.verdicts(data, 800, [](size_t, const LabelledText& r) { return r.label == "sqli" ? "xss" : r.label; }, 400);
  ASSERT_EQ(l.drift.pop(b, Clock::now()), Channel::Pop::Item) << "no drift event within 200 held-back verdicts";
  EXPECT_NE(b.events[0].raw.find("\"detector\":\"error_rate\""), std::string_view::npos) << b.events[0].raw;
  EXPECT_NE(b.events[0].raw.find("\"model\":\"web-attack-classifier\""), std::string_view::npos);
}

TEST(TransformerLearning, AVerdictByAlertIdLearnsTheTextThatWasFlagged) {
  auto data = rows();
  TempDir dir;
  Learner l(dir, "learn: true, feedback_sources: [feedback], alert_detector: web, holdout_every: 2, gate_examples: 1000");
  ASSERT_TRUE(l.diag.ok()) << l.diag.str();
  // A flagged event is remembered by the id its alert will have, with the text that decided it.
  l.feed(kEvents, {{{"q", probes(data)[0]}}});
  l.op->on_deadline(*l.out);
  Batch b;
  ASSERT_EQ(l.pos.pop(b, Clock::now()), Channel::Pop::Item);
  ASSERT_EQ(b.events.size(), 1u);
  const std::string id = AlertOp::alert_id("web", b.events[0].pos);
  l.feed(kFeedback, {{{"alert_id", id}, {"label", "true_positive"}},
                     {{"alert_id", "0123456789abcdef"}, {"label", "sqli"}}});
  l.op->on_deadline(*l.out);
  EXPECT_EQ(l.op->stats().verdicts, 1u);
  EXPECT_EQ(l.op->stats().rejected_verdicts, 1u);
  Batch dead;
  ASSERT_EQ(l.dlq.pop(dead, Clock::now()), Channel::Pop::Item);
  EXPECT_EQ(dead.events[0].error, "unknown_alert");
}
