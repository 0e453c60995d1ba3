#pragma once
// An online linear classifier over hashed text features, in the style of
// Vowpal Wabbit: word tokens and character n-grams hashed into 2^bits slots,
// multinomial (softmax) logistic regression trained by per-coordinate
// FTRL-Proximal (McMahan et al., "Ad Click Prediction: a View from the
// Trenches", 2013). It scores a text in about a microsecond, so it can sit in
// front of a transformer as a cheap first stage, and learns from each
// labelled event as it arrives. No libtorch here: it runs in the engine.
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace socstream::online {

struct FeatureOptions {
  bool operator==(const FeatureOptions&) const = default;
  uint32_t bits = 16;     // 2^bits hashed slots (bench/RESULTS.md: 16 vs 18)
  uint32_t ngram_min = 3;  // character n-grams of these lengths (0 = none); at most 7
  uint32_t ngram_max = 4;
  bool words = true;       // word tokens (runs of letters and digits)
  size_t max_bytes = 1024;  // a longer text is featurised from its first max_bytes
};

// Hashes texts into slot indices. Texts are ASCII-lowercased; n-grams see the
// text between a start and an end marker, so "^se" and "ct$" are features.
class Featurizer {
 public:
  explicit Featurizer(FeatureOptions o = {});
  const FeatureOptions& options() const { return o_; }
  // Appends the slots of text's features to out (one per occurrence: a
  // repeated n-gram counts twice, as in VW). Does not add the bias.
  void add(std::string_view text, std::vector<uint32_t>& out) const;
  // The bias slot every example carries.
  uint32_t bias() const { return mask_; }  // the last slot
  // For explanations: each feature of text with its slot, and where its
  // characters are in `marked` (the text as featurised: lowercased, between
  // the markers ^ and $). name() makes it readable: "w:select", "c:' or".
  struct Feature {
    uint32_t slot;
    char kind;  // 'c' n-gram, 'w' word
    uint32_t at, len;
  };
  void features(std::string_view text, std::vector<Feature>& out, std::string& marked) const;
  static std::string name(const Feature& f, std::string_view marked);
  // features() and name() together, for tests.
  void describe(std::string_view text, std::vector<std::pair<uint32_t, std::string>>& out) const;

 private:
  template <class F>
  void each(std::string_view text, F&& f) const;
  FeatureOptions o_;
  uint32_t mask_;
};

struct FtrlParams {
  float alpha = 0.1f;  // learning rate scale
  float beta = 1.0f;   // learning rate smoothing
  float l1 = 0.0f;     // L1: drives rare features to exactly zero
  float l2 = 0.0f;
};
// Why FTRL cannot learn with these options (empty if it can): the operator's
// settings, the constructor and a restored snapshot are checked alike.
std::string ftrl_problem(const FtrlParams& p);

// Progressive validation: every labelled example is scored before the model
// learns from it, so these are honest out-of-sample figures.
struct Progress {
  uint64_t examples = 0;
  uint64_t correct = 0;
  double log_loss = 0;  // sum
  double accuracy() const { return examples ? double(correct) / examples : 0; }
  double mean_log_loss() const { return examples ? log_loss / examples : 0; }
};

class OnlineLinear {
 public:
  OnlineLinear(std::vector<std::string> labels, FeatureOptions f = {}, FtrlParams p = {});

  const std::vector<std::string>& labels() const { return labels_; }
  const Featurizer& featurizer() const { return feat_; }
  const FtrlParams& params() const { return p_; }
  uint64_t updates() const { return updates_; }
  const Progress& progress() const { return progress_; }

  // Class probabilities (labels().size() of them) for an example's slots.
  void predict(const uint32_t* slots, size_t n, float* probs) const;
  // Progressive validation step: scores the example into probs, counts it in
  // progress(), then learns from it. Returns whether the prediction was right.
  bool learn(const uint32_t* slots, size_t n, uint32_t label, float* probs);

  // The slots' contributions to class k's logit, largest first (for explanations).
  float weight(uint32_t slot, uint32_t k) const { return w_[size_t(slot) * stride_ + k]; }

  // The model as bytes: options, labels, counters and every touched slot's
  // FTRL state, with a CRC-32 at the end. from_bytes throws std::runtime_error
  // on a damaged or foreign snapshot; `expect`, if given, sees the labels and
  // options before any memory is allocated for them, and may throw.
  std::string to_bytes() const;
  using Expect = std::function<void(const std::vector<std::string>& labels, const FeatureOptions& f)>;
  static OnlineLinear from_bytes(std::string_view bytes, const Expect& expect = {});

 private:
  void refresh(uint32_t slot);  // w from z and n

  struct Free {
    void operator()(float* p) const { std::free(p); }
  };

  std::vector<std::string> labels_;
  Featurizer feat_;
  FtrlParams p_;
  uint32_t k_;       // classes
  uint32_t stride_;  // classes rounded up to 8: one slot's classes are one AVX vector
  // The weights apart from the FTRL state, 64-byte aligned: scoring reads one
  // 32-byte vector per feature from w_ (2 MiB at 16 bits, up to 8 labels). A
  // slot's state is [z | n], stride_ floats each: one cache line for up to 8
  // labels. An update is bound by these random lines more than by arithmetic:
  // keeping sqrt(n) beside them (one square root per update instead of two,
  // but two lines) was 10-20% slower (bench/RESULTS.md).
  size_t block_;
  std::unique_ptr<float[], Free> w_, state_;
  uint64_t updates_ = 0;
  Progress progress_;
};

}  // namespace socstream::online
