// The online_classifier operator: verdicts in (labelled events, {text,label},
// {alert_id,label}), scores and explanations out, the DLQ reasons, snapshots
// that hold back acknowledgements, restore, and drift events.
#include "operators/online_classifier.hpp"

#include <gtest/gtest.h>

#include <boost/crc.hpp>

#include <cstring>

#include "engine/ack.hpp"
#include "operators/alert.hpp"
#include "operators/operators.hpp"
#include "tests/support/http_params.hpp"
#include "tests/support/test_support.hpp"

using namespace socstream;
using namespace socstream::testing;

namespace {

const std::string kTrain = "train", kEvents = "events", kFeedback = "feedback";

struct Harness {
  TempDir dir;
  Diagnostics diag;
  std::unique_ptr<OnlineClassifierOp> op;
  std::string name = "online";
  std::unique_ptr<Outputs> out;
  Channel pos{100000, 1 << 26}, neg{100000, 1 << 26}, drift{1000, 1 << 20}, metrics{1000, 1 << 20},
      dlq{100000, 1 << 26};
  std::vector<Batch> kept;

  // `handed_over`: a hot reload's state for the new instance, given before it opens.
  explicit Harness(const std::string& settings, const TempDir* snapshots_in = nullptr,
                   const std::string* handed_over = nullptr) {
    const auto& snap_dir = (snapshots_in ? *snapshots_in : dir).path() / "snaps";
    YAML::Node n = YAML::Load("{labels: [norm, sqli, xss, path-traversal, cmdi], field: payload, "
                              "feedback_sources: [train, feedback], snapshot_dir: '" +
                              snap_dir.string() + "'" + (settings.empty() ? "" : ", ") + settings + "}");
    Settings s(n, name, (dir.path() / "t.yaml").string(), dir.path(), &diag);
    s.check(online_classifier_spec().settings);
    op = std::make_unique<OnlineClassifierOp>(s);
    if (!diag.ok()) return;
    if (handed_over) op->restore_state(*handed_over);
    op->open();
    out = std::make_unique<Outputs>(&name, op->output_ports());
    out->connect(0, &pos);
    out->connect(1, &neg);
    out->connect(2, &drift);
    out->connect(3, &metrics);
    out->connect(4, &dlq);
  }

  // Events with the given fields from `source`, each holding a reference to `token` if given.
  void feed(const std::string& source, const std::vector<Fields>& events, int64_t offset = 0,
            AckToken* token = nullptr) {
    Batch b = make_batch(&source, events, offset);
    if (token)
      for (auto& e : b.events) e.ack = Ack(token);
    op->process(std::move(b), *out);
  }
  std::vector<Event> drain(Channel& ch) { return socstream::testing::drain(ch, kept); }
};

std::vector<LabelledText> rows() { return http_params((source_dir() / "tests/data/http_params/train.csv").string()); }

// Feeds the first n rows as a labelled stream, in batches of 256.
void train(Harness& h, const std::vector<LabelledText>& data, size_t from, size_t to) {
  for (size_t at = from; at < to; at += 256) {
    std::vector<Fields> batch;
    for (size_t i = at; i < std::min(to, at + 256); ++i)
      batch.push_back({{"payload", data[i].text}, {"label", data[i].label}});
    h.feed(kTrain, batch, static_cast<int64_t>(at));
  }
}

class CountToken : public AckToken {
 public:
  std::atomic<int>* done;
  std::atomic<bool>* ok;
  CountToken(std::atomic<int>* d, std::atomic<bool>* o) : done(d), ok(o) {}
  void on_done(bool all) override {
    ok->store(all);
    done->fetch_add(1);
  }
};

}  // namespace

TEST(OnlineClassifier, LearnsFromALabelledStreamThenScoresAndExplains) {
  auto data = rows();
  Harness h("explain: 3");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  train(h, data, 0, 20000);
  EXPECT_EQ(h.op->model().updates(), 20000u);
  EXPECT_GT(h.op->model().progress().accuracy(), 0.99);
  EXPECT_TRUE(h.drain(h.pos).empty()) << "verdicts are learnt, not passed on";
  // The held-back rows, scored.
  std::vector<Fields> batch;
  for (size_t i = 20000; i < data.size(); ++i) batch.push_back({{"payload", data[i].text}});
  h.feed(kEvents, batch);
  auto pos = h.drain(h.pos), neg = h.drain(h.neg);
  ASSERT_EQ(pos.size() + neg.size(), data.size() - 20000);
  size_t right = 0, attacks = 0;
  for (auto& e : pos) {
    std::string text(e.field("payload")->value);
    auto it = std::find_if(data.begin() + 20000, data.end(), [&](auto& r) { return r.text == text; });
    right += it->label == field_of(e, "label");
    attacks += it->label != "norm";
    EXPECT_EQ(field_of(e, "model"), "online");
    const Field* why = e.field("explanation");
    ASSERT_NE(why, nullptr);
    EXPECT_EQ(why->kind, ValueKind::Json);
    EXPECT_EQ(why->value.substr(0, 13), "[{\"feature\":\"") << why->value;
  }
  for (auto& e : neg) EXPECT_EQ(field_of(e, "label"), "norm");
  EXPECT_GT(pos.size(), 200u);
  EXPECT_GE(double(right) / pos.size(), 0.97);
  EXPECT_GE(double(attacks) / pos.size(), 0.97);
}

TEST(OnlineClassifier, VerdictsByAlertIdJoinTheRememberedAlertAndChangeItsScore) {
  auto data = rows();
  Harness h("alert_detector: web");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  train(h, data, 0, 5000);
  const std::string text = "1' union select password from users--";
  h.feed(kEvents, {{{"payload", text}}}, 777);
  auto first = h.drain(h.pos);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(field_of(first[0], "label"), "sqli");
  std::string id = AlertOp::alert_id("web", first[0].pos);
  // Analysts insist it is benign (say, a security scanner they run): each
  // verdict names the alert, not the text.
  for (int i = 0; i < 30; ++i) h.feed(kFeedback, {{{"alert_id", id}, {"label", "false_positive"}}});
  EXPECT_TRUE(h.drain(h.dlq).empty());
  EXPECT_EQ(h.op->model().updates(), 5030u);
  h.feed(kEvents, {{{"payload", text}}}, 778);
  auto after = h.drain(h.neg);
  ASSERT_EQ(after.size(), 1u) << "30 false-positive verdicts turned the verdict";
  EXPECT_EQ(field_of(after[0], "label"), "norm");
}

TEST(OnlineClassifier, AReloadHandsTheModelAndItsRememberedAlertsToTheNextTopology) {
  auto data = rows();
  Harness h("alert_detector: web, explain: 0");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  train(h, data, 0, 5000);
  const std::string text = "1' union select password from users--";
  h.feed(kEvents, {{{"payload", text}}}, 777);
  auto first = h.drain(h.pos);
  ASSERT_EQ(first.size(), 1u);
  const std::string score = field_of(first[0], "score");
  const std::string state = h.op->save_state();
  // The next topology has another threshold (a changed component) and no snapshots of its own.
  TempDir elsewhere;
  Harness next("alert_detector: web, explain: 0, threshold: 0.6", &elsewhere, &state);
  ASSERT_TRUE(next.diag.ok()) << next.diag.str();
  EXPECT_EQ(next.op->model().updates(), 5000u);
  next.feed(kEvents, {{{"payload", text}}}, 778);
  auto again = next.drain(next.pos);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(field_of(again[0], "score"), score) << "the same model, the same score";
  // A verdict on the alert the old topology raised still joins its text.
  next.feed(kFeedback, {{{"alert_id", AlertOp::alert_id("web", first[0].pos)}, {"label", "false_positive"}}});
  EXPECT_TRUE(next.drain(next.dlq).empty()) << "the remembered alert came over";
  EXPECT_EQ(next.op->model().updates(), 5001u);

  // Other labels: the state cannot be used; the new topology starts afresh rather than failing.
  TempDir third_dir;
  YAML::Node n = YAML::Load("{labels: [benign, evil], field: payload}");
  Diagnostics d;
  Settings s(n, "online", (third_dir.path() / "t.yaml").string(), third_dir.path(), &d);
  OnlineClassifierOp other(s);
  other.restore_state(state);
  other.open();
  EXPECT_EQ(other.model().updates(), 0u);
}

TEST(OnlineClassifier, BadVerdictsGoToTheDeadLetterPortWithTheReason) {
  Harness h("alert_detector: web");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  h.feed(kFeedback, {{{"alert_id", "00000000deadbeef"}, {"label", "sqli"}},
                     {{"text", "select 1"}},
                     {{"text", "select 1"}, {"label", "evil"}},
                     {{"label", "sqli"}},
                     {{"text", "select 1"}, {"label", "true_positive"}},
                     {{"text", "select 1"}, {"label", "sqli"}}});
  auto dead = h.drain(h.dlq);
  ASSERT_EQ(dead.size(), 5u);
  EXPECT_EQ(dead[0].error, "unknown_alert");
  EXPECT_NE(dead[0].error_detail.find("00000000deadbeef"), std::string_view::npos);
  EXPECT_EQ(dead[1].error, "malformed_feedback");
  EXPECT_EQ(dead[2].error, "unknown_label");
  EXPECT_NE(dead[2].error_detail.find("'evil' is not one of norm, sqli"), std::string_view::npos) << dead[2].error_detail;
  EXPECT_EQ(dead[3].error, "malformed_feedback");
  EXPECT_EQ(dead[4].error, "unknown_label") << "true_positive needs the alert it confirms";
  EXPECT_EQ(h.op->model().updates(), 1u) << "only the well-formed verdict is learnt";
}

TEST(OnlineClassifier, AcknowledgesVerdictsOnlyOnceASnapshotHoldsThem) {
  auto data = rows();
  Harness h("snapshot_every: 1000000");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  std::atomic<int> done{0};
  std::atomic<bool> ok{false};
  auto* token = new CountToken(&done, &ok);
  token->set_pending(100);
  std::vector<Fields> batch;
  for (size_t i = 0; i < 100; ++i) batch.push_back({{"payload", data[i].text}, {"label", data[i].label}});
  h.feed(kTrain, batch, 0, token);
  EXPECT_EQ(done.load(), 0) << "learnt but not yet on disk: a crash now must redeliver them";
  h.op->finish(*h.out);  // the shutdown snapshot
  EXPECT_EQ(done.load(), 1);
  EXPECT_TRUE(ok.load());
  EXPECT_EQ(h.op->generation(), 1u);
  EXPECT_TRUE(std::filesystem::exists(h.dir.path() / "snaps" / "online-0000000001.snap"));
  auto metrics = h.drain(h.metrics);
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_NE(metrics[0].raw.find("\"progressive\":{\"examples\":100,"), std::string_view::npos) << metrics[0].raw;
}

TEST(OnlineClassifier, RestoresItsSnapshotAndPredictsIdentically) {
  auto data = rows();
  TempDir shared;
  std::vector<Fields> probe;
  for (size_t i = 10000; i < 20000; ++i) probe.push_back({{"payload", data[i].text}});
  std::vector<std::string> before;
  {
    Harness h("explain: 0", &shared);
    ASSERT_TRUE(h.diag.ok()) << h.diag.str();
    train(h, data, 0, 10000);
    h.feed(kEvents, probe);
    h.op->finish(*h.out);
    for (auto* ch : {&h.pos, &h.neg})
      for (auto& e : h.drain(*ch))
        before.push_back(std::to_string(e.pos.offset) + " " + field_of(e, "label") + " " +
                         field_of(e, "score"));
  }
  Harness r("explain: 0", &shared);
  ASSERT_TRUE(r.diag.ok()) << r.diag.str();
  EXPECT_EQ(r.op->model().updates(), 10000u);
  EXPECT_EQ(r.op->version(), "1");
  r.feed(kEvents, probe);
  std::vector<std::string> after;
  for (auto* ch : {&r.pos, &r.neg})
    for (auto& e : r.drain(*ch))
      after.push_back(std::to_string(e.pos.offset) + " " + field_of(e, "label") + " " +
                      field_of(e, "score"));
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  ASSERT_EQ(before.size(), 10000u);
  EXPECT_EQ(before, after);
}

TEST(OnlineClassifier, SendsADriftEventWhenAnalystsChangeTheirMinds) {
  auto data = rows();
  Harness h("");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  train(h, data, 0, 15000);
  EXPECT_TRUE(h.drain(h.drift).empty()) << "a shuffled stream is stationary";
  // From here on, analysts call sqli benign.
  std::vector<LabelledText> flipped(data.begin() + 15000, data.begin() + 17000);
  for (auto& r : flipped)
    if (r.label == "sqli") r.label = "norm";
  train(h, flipped, 0, flipped.size());
  auto drift = h.drain(h.drift);
  ASSERT_FALSE(drift.empty()) << "no drift event within 2,000 events of the shift";
  EXPECT_NE(drift[0].raw.find("\"type\":\"drift\""), std::string_view::npos);
  EXPECT_NE(drift[0].raw.find("\"detector\":\"score\""), std::string_view::npos) << drift[0].raw;
}

TEST(OnlineClassifier, ConfigErrorsNameTheSetting) {
  Harness h("negative_label: nrom, ngrams: [5, 3]");
  EXPECT_FALSE(h.diag.ok());
  EXPECT_NE(h.diag.str().find("'nrom' is not one of the labels (did you mean 'norm'?)"), std::string::npos)
      << h.diag.str();
  EXPECT_NE(h.diag.str().find("the shortest length exceeds the longest"), std::string::npos) << h.diag.str();
}

// Found by tests/fuzz/snapshot_fuzz: FTRL options that are finite and positive
// but make learning divide by (almost) zero: alpha = 1e-40, whose inverse
// overflows, or beta = l2 = 0; and a finite state no trained model has (z =
// 2e38). A model restored with them learnt infinite weights and wrote a
// snapshot it could not restore. Refused in the settings and in a snapshot.
TEST(OnlineClassifier, FtrlOptionsThatCannotLearnAreRefused) {
  for (const char* bad : {"alpha: 1.0e-40", "beta: 0", "beta: 0, l2: 0"}) {
    Harness h(bad);
    EXPECT_NE(h.diag.str().find("FTRL's"), std::string::npos) << bad << ": " << h.diag.str();
  }
  Harness l2_only("beta: 0, l2: 0.01");
  EXPECT_TRUE(l2_only.diag.ok()) << l2_only.diag.str();

  const std::vector<std::string> labels{"norm", "sqli"};
  online::OnlineLinear m(labels, online::FeatureOptions{8});
  std::vector<uint32_t> slots;
  std::vector<float> probs(2);
  m.featurizer().add("1 union select 2", slots);
  m.learn(slots.data(), slots.size(), 1, probs.data());
  const std::string good = m.to_bytes();
  // Writes floats at offsets and seals the result with a fresh CRC.
  auto forged = [&](std::initializer_list<std::pair<size_t, float>> values) {
    std::string b = good;
    for (auto [at, value] : values) std::memcpy(&b[at], &value, sizeof value);
    boost::crc_32_type crc;
    crc.process_bytes(b.data(), b.size() - 4);
    const uint32_t sum = static_cast<uint32_t>(crc.checksum());
    std::memcpy(&b[b.size() - 4], &sum, 4);
    return b;
  };
  const size_t alpha_at = 8 + 4 + 4 + 4 + 1 + 8, beta_at = alpha_at + 4;
  const size_t last_z = good.size() - 4 - 2 * labels.size() * sizeof(float);
  EXPECT_NO_THROW(online::OnlineLinear::from_bytes(forged({{alpha_at, 1000.f}}))) << "the forging itself is sound";
  EXPECT_THROW(online::OnlineLinear::from_bytes(forged({{alpha_at, 1e-40f}})), std::runtime_error);
  EXPECT_THROW(online::OnlineLinear::from_bytes(forged({{beta_at, 0.f}})), std::runtime_error);
  // Every value finite and the options fine, but learning from z = 2e38 overflows.
  EXPECT_THROW(online::OnlineLinear::from_bytes(forged({{alpha_at, 1000.f}, {last_z, 2e38f}})), std::runtime_error);
}

TEST(OnlineClassifier, ASnapshotOfAnotherModelStopsTheStartInsteadOfBeingThrownAway) {
  auto data = rows();
  TempDir shared;
  {
    Harness h("", &shared);
    ASSERT_TRUE(h.diag.ok()) << h.diag.str();
    train(h, data, 0, 500);
    h.op->finish(*h.out);
  }
  try {
    Harness other("bits: 12", &shared);
    FAIL() << "a model with other features started over the snapshot";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("made with other labels or features"), std::string::npos) << e.what();
  }
  Harness same("", &shared);  // and the snapshot is still there for the right settings
  EXPECT_EQ(same.op->model().updates(), 500u);
}
