// The online learner, snapshots and drift detector on the real HTTP data set.
#include "models/online_linear.hpp"

#include <gtest/gtest.h>

#include <boost/crc.hpp>

#include <cmath>
#include <cstring>
#include <random>

#include "models/drift.hpp"
#include "models/snapshots.hpp"
#include "tests/support/http_params.hpp"
#include "tests/support/test_support.hpp"

using namespace socstream;
using namespace socstream::online;
using namespace socstream::testing;

namespace {

const std::vector<std::string> kLabels = {"norm", "sqli", "xss", "path-traversal", "cmdi"};

std::vector<LabelledText> stream() {
  return http_params((source_dir() / "tests/data/http_params/train.csv").string());
}

uint32_t label_index(const std::string& l) {
  for (uint32_t i = 0; i < kLabels.size(); ++i)
    if (kLabels[i] == l) return i;
  throw std::runtime_error("unknown label " + l);
}

}  // namespace

TEST(OnlineLinear, ReachesNinetyEightPercentProgressiveAccuracyOnHttpParams) {
  auto rows = stream();
  ASSERT_EQ(rows.size(), 20712u);
  OnlineLinear m(kLabels);
  std::vector<uint32_t> slots;
  std::vector<float> probs(kLabels.size());
  size_t late = 0, late_correct = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    slots.clear();
    m.featurizer().add(rows[i].text, slots);
    bool right = m.learn(slots.data(), slots.size(), label_index(rows[i].label), probs.data());
    if (i >= rows.size() / 2) {
      ++late;
      late_correct += right;
    }
  }
  double acc = double(late_correct) / late;
  std::printf("progressive accuracy, last half: %.4f; overall %.4f, log-loss %.4f\n", acc, m.progress().accuracy(),
              m.progress().mean_log_loss());
  EXPECT_GE(acc, 0.98);
  EXPECT_EQ(m.progress().examples, rows.size());
  EXPECT_EQ(m.updates(), rows.size());
}

TEST(OnlineLinear, SnapshotRestoreGivesIdenticalPredictions) {
  auto rows = stream();
  OnlineLinear m(kLabels, FeatureOptions{16, 2, 4, true, 512}, FtrlParams{0.2f, 1.f, 0.5f, 0.01f});
  std::vector<uint32_t> slots;
  std::vector<float> probs(kLabels.size()), again(kLabels.size());
  for (size_t i = 0; i < 10000; ++i) {
    slots.clear();
    m.featurizer().add(rows[i].text, slots);
    m.learn(slots.data(), slots.size(), label_index(rows[i].label), probs.data());
  }
  TempDir dir;
  SnapshotStore store(dir.path(), "online");
  uint64_t gen = store.save(m.to_bytes());
  OnlineLinear r = OnlineLinear::from_bytes(store.read(gen));
  EXPECT_EQ(r.updates(), m.updates());
  EXPECT_EQ(r.progress().correct, m.progress().correct);
  for (size_t i = 10000; i < 20000; ++i) {
    slots.clear();
    m.featurizer().add(rows[i].text, slots);
    m.predict(slots.data(), slots.size(), probs.data());
    r.predict(slots.data(), slots.size(), again.data());
    for (size_t k = 0; k < probs.size(); ++k) ASSERT_EQ(probs[k], again[k]) << "event " << i;
  }
}

TEST(OnlineLinear, DamagedSnapshotIsRefusedAndThePreviousOneUsed) {
  auto rows = stream();
  OnlineLinear m(kLabels, FeatureOptions{14});
  std::vector<uint32_t> slots;
  std::vector<float> probs(kLabels.size());
  TempDir dir;
  SnapshotStore store(dir.path(), "online", 3);
  for (size_t i = 0; i < 400; ++i) {
    slots.clear();
    m.featurizer().add(rows[i].text, slots);
    m.learn(slots.data(), slots.size(), label_index(rows[i].label), probs.data());
    if (i % 100 == 99) store.save(m.to_bytes());
  }
  EXPECT_EQ(store.generations(), (std::vector<uint64_t>{4, 3, 2}));  // keeps three
  // Flip one byte in the newest: the CRC catches it, and generation 3 (300 updates) is used.
  std::string bytes = store.read(4);
  bytes[bytes.size() / 2] ^= 0x40;
  std::ofstream(store.path_of(4), std::ios::binary) << bytes;
  std::vector<std::string> errors;
  std::optional<OnlineLinear> restored;
  auto gen = store.restore([&](std::string_view b) { restored.emplace(OnlineLinear::from_bytes(b)); }, errors);
  ASSERT_TRUE(gen.has_value());
  EXPECT_EQ(*gen, 3u);
  EXPECT_EQ(restored->updates(), 300u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("online-0000000004.snap: checksum mismatch"), std::string::npos) << errors[0];
  // Truncated and foreign files are refused too.
  EXPECT_THROW(OnlineLinear::from_bytes(std::string_view(bytes).substr(0, 20)), std::runtime_error);
  EXPECT_THROW(OnlineLinear::from_bytes("hello, world, not a model"), std::runtime_error);
}

TEST(OnlineLinear, ExplainsWithReadableFeatures) {
  Featurizer f(FeatureOptions{18, 3, 3, true});
  std::vector<std::pair<uint32_t, std::string>> named;
  f.describe("Or 1=1", named);
  std::vector<std::string> names;
  for (auto& [slot, name] : named) names.push_back(name);
  EXPECT_NE(std::find(names.begin(), names.end(), "c:^or"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "c:=1$"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "w:or"), names.end());
  std::vector<uint32_t> slots;
  f.add("Or 1=1", slots);
  ASSERT_EQ(slots.size(), named.size());
  for (size_t i = 0; i < slots.size(); ++i) EXPECT_EQ(slots[i], named[i].first);
}

TEST(PageHinkley, QuietOnASyntheticStationaryStream) {
  std::mt19937_64 rng(7);
  std::bernoulli_distribution error(0.01);
  std::normal_distribution<double> score(0.9, 0.05);
  PageHinkley errors(DriftOptions{}, PageHinkley::Direction::Up);
  PageHinkley confidence(DriftOptions{0.02, 200, 30}, PageHinkley::Direction::Both);
  for (int i = 0; i < 100000; ++i) {
    EXPECT_FALSE(errors.add(error(rng) ? 1 : 0)) << "error-rate detector fired at " << i;
    EXPECT_FALSE(confidence.add(std::clamp(score(rng), 0.0, 1.0))) << "score detector fired at " << i;
  }
}

TEST(PageHinkley, FiresSoonAfterAShift) {
  std::mt19937_64 rng(11);
  std::bernoulli_distribution before(0.02), after(0.2);
  PageHinkley d;
  for (int i = 0; i < 50000; ++i) ASSERT_FALSE(d.add(before(rng) ? 1 : 0));
  int fired_after = -1;
  for (int i = 0; i < 2000 && fired_after < 0; ++i)
    if (d.add(after(rng) ? 1 : 0)) fired_after = i;
  EXPECT_GE(fired_after, 0) << "no detection within 2,000 values";
  std::printf("fired %d values after the shift\n", fired_after);
  EXPECT_NEAR(d.mean_before(), 0.02, 0.01);
}

// The learner and its two detectors over a stream; the first detection of each.
struct Detections {
  long errors = -1, scores = -1;
};
Detections watch(const std::vector<std::pair<const LabelledText*, std::string>>& seq) {
  OnlineLinear m(kLabels);
  PageHinkley errors;
  PageHinkley scores(DriftOptions{0.02, 200, 30}, PageHinkley::Direction::Both);
  std::vector<uint32_t> slots;
  std::vector<float> probs(kLabels.size());
  Detections d;
  for (size_t i = 0; i < seq.size(); ++i) {
    slots.clear();
    m.featurizer().add(seq[i].first->text, slots);
    bool right = m.learn(slots.data(), slots.size(), label_index(seq[i].second), probs.data());
    if (errors.add(right ? 0 : 1) && d.errors < 0) d.errors = static_cast<long>(i);
    // A model that starts empty moves its scores while it learns: the score
    // detector watches only once it has learnt from 2,000 examples.
    if (i >= 2000 && scores.add(1 - probs[0]) && d.scores < 0) d.scores = static_cast<long>(i);
  }
  return d;
}

// One class's labels flip mid-stream (analysts now call sqli benign). The
// learner relearns within a few dozen errors, too few for the error-rate
// detector, but the share of events it flags falls, and the score detector sees it.
TEST(PageHinkley, ScoreDetectorCatchesFlippedLabels) {
  auto rows = stream();
  std::vector<std::pair<const LabelledText*, std::string>> seq;
  const long shift_at = 15000;
  for (size_t i = 0; i < rows.size(); ++i)
    seq.emplace_back(&rows[i], long(i) >= shift_at && rows[i].label == "sqli" ? "norm" : rows[i].label);
  Detections d = watch(seq);
  std::printf("score detector fired %ld events after the shift\n", d.scores - shift_at);
  EXPECT_GE(d.scores, shift_at) << "false alarm";
  EXPECT_LT(d.scores, shift_at + 2000);
}

// Half of one class's labels turn to noise: errors the learner cannot learn away.
TEST(PageHinkley, ErrorDetectorCatchesNoisyLabels) {
  auto rows = stream();
  std::vector<std::pair<const LabelledText*, std::string>> seq;
  const long shift_at = 15000;
  uint64_t coin = 99;
  for (size_t i = 0; i < rows.size(); ++i) {
    coin = coin * 6364136223846793005ull + 1442695040888963407ull;
    bool flip = long(i) >= shift_at && rows[i].label == "sqli" && (coin >> 63);
    seq.emplace_back(&rows[i], flip ? "norm" : rows[i].label);
  }
  Detections d = watch(seq);
  std::printf("error detector fired %ld events after the shift\n", d.errors - shift_at);
  EXPECT_GE(d.errors, shift_at) << "false alarm";
  EXPECT_LT(d.errors, shift_at + 2000);
}

TEST(PageHinkley, QuietOverOneHundredThousandStationaryEvents) {
  // The data set five times over, each pass in its own order: 103,560 events.
  std::vector<std::vector<LabelledText>> passes;
  for (uint64_t seed = 1; seed <= 5; ++seed)
    passes.push_back(http_params((source_dir() / "tests/data/http_params/train.csv").string(), seed));
  std::vector<std::pair<const LabelledText*, std::string>> seq;
  for (auto& p : passes)
    for (auto& r : p) seq.emplace_back(&r, r.label);
  ASSERT_GE(seq.size(), 100000u);
  Detections d = watch(seq);
  EXPECT_EQ(d.errors, -1) << "error-rate detector fired at " << d.errors;
  EXPECT_EQ(d.scores, -1) << "score detector fired at " << d.scores;
}

TEST(OnlineLinear, EveryTruncationOrFlippedByteOfASnapshotIsRefused) {
  auto rows = stream();
  OnlineLinear m(kLabels, FeatureOptions{12});
  std::vector<uint32_t> slots;
  std::vector<float> probs(kLabels.size());
  for (size_t i = 0; i < 200; ++i) {
    slots.clear();
    m.featurizer().add(rows[i].text, slots);
    m.learn(slots.data(), slots.size(), label_index(rows[i].label), probs.data());
  }
  const std::string bytes = m.to_bytes();
  size_t refused = 0, tried = 0;
  for (size_t n = 0; n < bytes.size(); n += 1 + n / 8, ++tried) {
    try {
      OnlineLinear::from_bytes(std::string_view(bytes).substr(0, n));
    } catch (const std::runtime_error&) {
      ++refused;
    }
  }
  for (size_t at = 0; at < bytes.size(); at += 1 + at / 16, ++tried) {
    std::string bad = bytes;
    bad[at] ^= 0x10;
    try {
      OnlineLinear::from_bytes(bad);
    } catch (const std::runtime_error&) {
      ++refused;
    }
  }
  EXPECT_EQ(refused, tried);
  EXPECT_GT(tried, 100u);
}

// A snapshot with a valid checksum that holds what no trained model holds
// (NaN weights, l1 = inf, 40 bits) is refused, and the one before it used.
TEST(OnlineLinear, ASnapshotWithAValidChecksumButImpossibleValuesIsRefused) {
  auto rows = stream();
  OnlineLinear m(kLabels, FeatureOptions{12});
  std::vector<uint32_t> slots;
  std::vector<float> probs(kLabels.size());
  for (size_t i = 0; i < 200; ++i) {
    slots.clear();
    m.featurizer().add(rows[i].text, slots);
    m.learn(slots.data(), slots.size(), label_index(rows[i].label), probs.data());
  }
  const std::string good = m.to_bytes();
  // Writes a float or integer at an offset and seals the result with a fresh CRC.
  auto forged = [&](size_t at, auto value) {
    std::string b = good;
    std::memcpy(&b[at], &value, sizeof value);
    boost::crc_32_type crc;
    crc.process_bytes(b.data(), b.size() - 4);
    const uint32_t sum = static_cast<uint32_t>(crc.checksum());
    std::memcpy(&b[b.size() - 4], &sum, 4);
    return b;
  };
  const size_t header = 8, bits_at = header, l1_at = header + 4 + 4 + 4 + 1 + 8 + 4 + 4;
  const size_t last_weight = good.size() - 4 - 2 * kLabels.size() * sizeof(float);
  const size_t last_count = good.size() - 4 - kLabels.size() * sizeof(float);
  EXPECT_NO_THROW(OnlineLinear::from_bytes(forged(l1_at, 0.0f))) << "the forging itself is sound";
  EXPECT_THROW(OnlineLinear::from_bytes(forged(last_weight, std::nanf(""))), std::runtime_error);
  EXPECT_THROW(OnlineLinear::from_bytes(forged(last_weight, INFINITY)), std::runtime_error);
  EXPECT_THROW(OnlineLinear::from_bytes(forged(last_count, -1.0f)), std::runtime_error);
  EXPECT_THROW(OnlineLinear::from_bytes(forged(l1_at, INFINITY)), std::runtime_error);
  EXPECT_THROW(OnlineLinear::from_bytes(forged(l1_at, std::nanf(""))), std::runtime_error);
  EXPECT_THROW(OnlineLinear::from_bytes(forged(bits_at, uint32_t{40})), std::runtime_error);
  // A configuration the operator accepts restores: words only (n-grams 0).
  OnlineLinear words(kLabels, FeatureOptions{12, 0, 0});
  EXPECT_NO_THROW(OnlineLinear::from_bytes(words.to_bytes()));

  TempDir dir;
  SnapshotStore store(dir.path(), "online", 3);
  store.save(good);
  const uint64_t bad = store.save(forged(last_weight, std::nanf("")));
  std::vector<std::string> errors;
  std::optional<OnlineLinear> restored;
  auto gen = store.restore([&](std::string_view b) { restored.emplace(OnlineLinear::from_bytes(b)); }, errors);
  ASSERT_TRUE(gen.has_value());
  EXPECT_NE(*gen, bad);
  EXPECT_EQ(restored->updates(), m.updates());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("not a finite weight state"), std::string::npos) << errors[0];
}
