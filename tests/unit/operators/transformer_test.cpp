// The transformer operator's own logic (batching, verdicts, cache, errors) with
// a stand-in model; the real model's numbers are checked in models/ and e2e tests.
#include "operators/transformer.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "operators/operators.hpp"

#include "tests/support/test_support.hpp"

using namespace socstream;
using namespace socstream::testing;

namespace {

// Labels [norm, sqli, xss]. "attack" scores sqli 0.9, "maybe" sqli 0.6,
// "script" xss 0.7; anything else is norm 0.9. "boom" fails the batch.
class FakeModel : public TextModel {
 public:
  // While set, a forward pass waits (to hold the inference thread busy).
  std::atomic<bool> hold{false};
  std::atomic<int> entered{0};
  explicit FakeModel(ModelInfo info) : info_(std::move(info)) {}
  const ModelInfo& info() const override { return info_; }
  std::vector<std::vector<float>> predict(const std::vector<std::string_view>& texts) override {
    ++entered;
    while (hold.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    batches.push_back(texts.size());
    std::vector<std::vector<float>> out;
    for (auto t : texts) {
      seen.emplace_back(t);
      if (t.find("boom") != std::string_view::npos) throw ModelError("fake failure");
      if (info_.task == "embed") {
        out.push_back({0.6f, static_cast<float>(t.size()) / 10, -0.8f});
        continue;
      }
      if (t.find("attack") != std::string_view::npos) out.push_back({0.05f, 0.9f, 0.05f});
      else if (t.find("maybe") != std::string_view::npos) out.push_back({0.3f, 0.6f, 0.1f});
      else if (t.find("script") != std::string_view::npos) out.push_back({0.2f, 0.1f, 0.7f});
      else out.push_back({0.9f, 0.05f, 0.05f});
    }
    return out;
  }
  ModelInfo info_;
  std::vector<size_t> batches;
  std::vector<std::string> seen;
};

struct Harness {
  TempDir dir;
  Diagnostics diag;
  std::unique_ptr<TransformerOp> op;
  FakeModel* model = nullptr;
  std::string name = "classify";
  std::unique_ptr<Outputs> out;
  Channel pos{1000, 1 << 20}, neg{1000, 1 << 20}, dlq{1000, 1 << 20};

  // Forward passes run inline unless `threaded`: most tests check the batching
  // logic step by step; Transformer.HitsDoNotWaitForForwardPasses checks the thread.
  explicit Harness(const std::string& settings, const std::string& model_yaml_extra = "",
                   const std::string& task = "task: classify\nlabels: [norm, sqli, xss]\n", bool threaded = false) {
    auto m = dir.path() / "m";
    dir.write("m/model.yaml",
                      "name: fake\nversion: 3\nweights: model.pt\nsha256: x\n" + task +
                      "tokenizer: {vocab: vocab.txt}\n" + model_yaml_extra);
    dir.write("m/model.pt", "");
    dir.write("m/model.int8.pt", "");
    dir.write("m/vocab.txt", "");
    YAML::Node n = YAML::Load(std::string("{model: m, field: q, inference_thread: ") + (threaded ? "true" : "false") +
                              (settings.empty() ? "" : ", ") + settings + "}");
    Settings s(n, name, (dir.path() / "t.yaml").string(), dir.path(), &diag);
    s.check(transformer_spec().settings);
    op = std::make_unique<TransformerOp>(s);
    if (!diag.ok()) return;
    auto info = read_model_info(m);
    auto fake = std::make_unique<FakeModel>(info);
    model = fake.get();
    op->use_model(std::move(fake));
    out = std::make_unique<Outputs>(&name, op->output_ports());
    out->connect(0, &pos);
    out->connect(1, &neg);
    out->connect(2, &dlq);
  }

  void feed(const std::vector<std::string>& queries) {
    std::vector<Fields> events;
    for (const auto& q : queries) events.push_back({{"q", q}});
    op->process(make_batch(nullptr, events), *out);
  }

  // The events sent on a port; their batches' buffers stay alive with the harness.
  std::vector<Event> drain(Channel& ch) { return socstream::testing::drain(ch, kept); }
  std::vector<Batch> kept;
};

}  // namespace

TEST(Transformer, BatchClosesAtMaxBatchOrAfterMaxDelay) {
  Harness h("max_batch: 4, max_delay_ms: 50, cache_size: 0");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  EXPECT_FALSE(h.op->next_deadline());
  const auto before = Clock::now();
  h.feed({"a1", "a2", "a3"});
  EXPECT_TRUE(h.model->batches.empty()) << "three texts wait for a fourth";
  auto deadline = h.op->next_deadline();
  ASSERT_TRUE(deadline);
  EXPECT_GE(*deadline, before + std::chrono::milliseconds(50));
  EXPECT_LE(*deadline, Clock::now() + std::chrono::milliseconds(50));
  h.feed({"a4", "a5", "a6", "a7", "a8", "a9"});
  EXPECT_EQ(h.model->batches, (std::vector<size_t>{4, 4}));
  EXPECT_EQ(h.drain(h.neg).size(), 8u);
  h.op->on_deadline(*h.out);
  EXPECT_EQ(h.model->batches, (std::vector<size_t>{4, 4, 1}));
  EXPECT_EQ(h.drain(h.neg).size(), 1u);
  EXPECT_FALSE(h.op->next_deadline());
}

TEST(Transformer, WritesTheVerdictAndRoutesOnThresholds) {
  Harness h("max_batch: 8, cache_size: 0, thresholds: {sqli: 0.8}");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  h.feed({"attack", "maybe", "script", "plain"});
  h.op->finish(*h.out);
  auto pos = h.drain(h.pos), neg = h.drain(h.neg);
  ASSERT_EQ(pos.size(), 2u);
  ASSERT_EQ(neg.size(), 2u);
  EXPECT_EQ(field_of(pos[0], "label"), "sqli");
  EXPECT_EQ(field_of(pos[0], "score"), "0.900000");
  EXPECT_EQ(field_of(pos[0], "model"), "fake");
  EXPECT_EQ(field_of(pos[0], "model_version"), "3");
  EXPECT_EQ(pos[0].field("score")->kind, ValueKind::Number);
  EXPECT_EQ(field_of(pos[1], "label"), "xss") << "xss keeps the default threshold 0.5";
  EXPECT_EQ(field_of(neg[0], "label"), "sqli") << "0.6 is below the overridden sqli threshold";
  EXPECT_EQ(field_of(neg[1], "label"), "norm");
}

TEST(Transformer, ThresholdsAndNegativeLabelFromModelYaml) {
  Harness h("cache_size: 0", "negative_label: xss\nthresholds: {sqli: 0.95}\n");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  h.feed({"attack", "script", "plain"});
  h.op->finish(*h.out);
  auto pos = h.drain(h.pos);
  ASSERT_EQ(pos.size(), 1u) << "sqli 0.9 < 0.95, xss is the negative label";
  EXPECT_EQ(field_of(pos[0], "label"), "norm");
}

TEST(Transformer, EventTakesItsMostSuspiciousValue) {
  Harness h("transforms: [query_values, url_decode], cache_size: 0");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  h.feed({"a=plain&b=maybe&c=attack+x&d=", "a=plain&b=%73cript", "x=plain&y=plain", ""});
  h.op->finish(*h.out);
  auto pos = h.drain(h.pos), neg = h.drain(h.neg);
  ASSERT_EQ(pos.size(), 2u);
  EXPECT_EQ(field_of(pos[0], "score"), "0.900000");
  EXPECT_EQ(field_of(pos[1], "label"), "xss") << "url-decoded before scoring";
  ASSERT_EQ(neg.size(), 2u);
  EXPECT_EQ(field_of(neg[0], "q"), "") << "nothing to score: it leaves at once";
  EXPECT_EQ(field_of(neg[0], "label"), "<none>") << "nothing to score: no verdict";
  EXPECT_EQ(field_of(neg[1], "label"), "norm");
  EXPECT_EQ(h.op->stats().texts, 7u) << "empty values are not scored";
  EXPECT_EQ(h.op->stats().batch_duplicates, 3u) << "'plain' four times in one batch: one forward";
  EXPECT_EQ(h.model->seen.size(), 4u);
}

TEST(Transformer, ObjectsAndArraysAreScoredOnTheirStrings) {
  Harness h("transforms: [query_values], cache_size: 0");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  Batch b = make_batch(nullptr, {{{"q", R"(["a=plain", {"k": "b=x\u0061ttack"}])"}}, {{"q", R"({"plain": ["plain"]})"}}});
  for (auto& e : b.events) e.fields[0].kind = ValueKind::Json;
  h.op->process(std::move(b), *h.out);
  h.op->finish(*h.out);
  auto pos = h.drain(h.pos), neg = h.drain(h.neg);
  ASSERT_EQ(pos.size(), 1u) << "the escaped payload in a nested object is unescaped and scored";
  EXPECT_EQ(field_of(pos[0], "label"), "sqli");
  ASSERT_EQ(neg.size(), 1u);
  EXPECT_EQ(field_of(neg[0], "label"), "norm");
  EXPECT_EQ(h.model->seen, (std::vector<std::string>{"k", "plain", "xattack"})) << "no JSON text reaches the model";
}

// Issue 13: padding an event past the model's budget must not hide its payload.
TEST(Transformer, ValuesARuleFlaggedAreScoredFirstAndTheRestIsMarked) {
  Harness h("transforms: [query_values], max_values: 4, cache_size: 0");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  std::string q;
  for (int i = 0; i < 10; ++i) q += fmt::format("p{}=dummy{}&", i, i);
  q += "id=attack";
  Rule rule;
  rule.id = "r";
  rule.pattern = "(?i)att?ack";
  Batch b = make_batch(nullptr, {{{"q", q}}});
  b.events[0].rules.push_back(&rule);
  h.op->process(std::move(b), *h.out);
  h.op->finish(*h.out);
  auto pos = h.drain(h.pos);
  ASSERT_EQ(pos.size(), 1u) << "the flagged value was scored although ten came before it";
  EXPECT_EQ(field_of(pos[0], "label"), "sqli");
  EXPECT_EQ(field_of(pos[0], "model_unscored"), "7") << "11 values, 4 scored";
  EXPECT_EQ(pos[0].field("model_unscored")->kind, ValueKind::Number);
  EXPECT_EQ(h.model->seen.size(), 4u) << "the budget holds";
  EXPECT_EQ(h.op->stats().overflows, 1u);
}

TEST(Transformer, WithoutRulesThePunctuatedValuesGoFirst) {
  Harness h("transforms: [query_values], max_values: 2, cache_size: 0");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  std::string q;
  for (int i = 0; i < 70; ++i) q += fmt::format("p{}=v{}&", i, i);
  h.feed({q + "id=1'+or+attack--"});
  h.op->finish(*h.out);
  auto pos = h.drain(h.pos);
  ASSERT_EQ(pos.size(), 1u);
  EXPECT_EQ(field_of(pos[0], "label"), "sqli");
  EXPECT_EQ(field_of(pos[0], "model_unscored"), "69");
}

TEST(Transformer, RepeatedPaddingCostsNothing) {
  Harness h("transforms: [query_values], max_values: 2, cache_size: 0");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  std::string q;
  for (int i = 0; i < 500; ++i) q += "a=1&";
  h.feed({q + "b=attack"});
  h.op->finish(*h.out);
  auto pos = h.drain(h.pos);
  ASSERT_EQ(pos.size(), 1u);
  EXPECT_EQ(field_of(pos[0], "model_unscored"), "<none>") << "two distinct values: both scored, nothing left out";
  EXPECT_EQ(h.model->seen.size(), 2u);
}

TEST(Transformer, TheBudgetCountsWhatTheModelIsAskedNotTheValues) {
  // With the cache on, texts that differ only in numbers share one result.
  Harness h("transforms: [query_values], max_values: 2");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  std::string q;
  for (int i = 0; i < 100; ++i) q += fmt::format("ids[]={}&", i * 7919);
  h.feed({q + "name=plain"});
  h.op->finish(*h.out);
  auto neg = h.drain(h.neg);
  ASSERT_EQ(neg.size(), 1u) << "two distinct texts for the model: within the budget, no overflow alert";
  EXPECT_EQ(field_of(neg[0], "model_unscored"), "<none>");
  EXPECT_EQ(h.model->seen.size(), 2u);
}

TEST(Transformer, OneSlotLeftStillScoresTheHeadOfALongText) {
  Harness h("max_values: 1, max_text_bytes: 1KiB, cache_size: 0");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  h.feed({"attack" + std::string(5000, 'x')});
  h.op->finish(*h.out);
  auto pos = h.drain(h.pos);
  ASSERT_EQ(pos.size(), 1u);
  EXPECT_EQ(field_of(pos[0], "label"), "sqli");
  EXPECT_EQ(field_of(pos[0], "model_unscored"), "1");
  ASSERT_EQ(h.model->seen.size(), 1u);
  EXPECT_EQ(h.model->seen[0].size(), 1024u);
}

TEST(Transformer, AnEventCannotCarryItsOwnUnscoredMark) {
  Harness h("cache_size: 0");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  h.op->process(make_batch(nullptr, {{{"q", "attack"}, {"model_unscored", "999"}}}), *h.out);
  h.op->finish(*h.out);
  auto pos = h.drain(h.pos);
  ASSERT_EQ(pos.size(), 1u);
  EXPECT_EQ(field_of(pos[0], "model_unscored"), "<none>") << "scored whole: no mark, whatever the event said";
}

TEST(Transformer, AnEventWithUnscoredTextsIsNeverJudgedBenignByOmission) {
  for (const char* mode : {"alert", "verdict"}) {
    Harness h(std::string("transforms: [query_values], max_values: 2, cache_size: 0, overflow: ") + mode);
    ASSERT_TRUE(h.diag.ok()) << h.diag.str();
    h.feed({"a=v1&b=v2&c=v3&d=v4&e=v5", "a=v1&b=v2"});
    h.op->finish(*h.out);
    auto pos = h.drain(h.pos), neg = h.drain(h.neg);
    const bool alert = std::string(mode) == "alert";
    ASSERT_EQ(pos.size(), alert ? 1u : 0u) << mode;
    ASSERT_EQ(neg.size(), alert ? 1u : 2u) << mode;
    const Event& marked = alert ? pos[0] : neg[0];
    EXPECT_EQ(field_of(marked, "label"), "norm") << "the verdict on what was scored stays honest";
    EXPECT_EQ(field_of(marked, "model_unscored"), "3");
    EXPECT_EQ(field_of(neg.back(), "model_unscored"), "<none>") << "within the budget: no mark";
  }
}

TEST(Transformer, ALongValueBeyondTheByteBudgetGivesItsHeadAndTail) {
  Harness h("max_text_bytes: 1KiB, cache_size: 0");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  h.feed({std::string(100000, 'x') + "attack", std::string(900, 'y')});
  h.op->finish(*h.out);
  auto pos = h.drain(h.pos), neg = h.drain(h.neg);
  ASSERT_EQ(pos.size(), 1u);
  EXPECT_EQ(field_of(pos[0], "label"), "sqli") << "the payload at the end of 100 KB is scored";
  EXPECT_EQ(field_of(pos[0], "model_unscored"), "1") << "its middle was not";
  ASSERT_EQ(neg.size(), 1u);
  size_t sent = 0;
  for (const auto& t : h.model->seen) sent += t.size();
  EXPECT_LE(sent, 1024u + 900u) << "the byte budget holds";
  Harness tiny("max_text_bytes: 100");
  EXPECT_NE(tiny.diag.str().find("at least 1KiB"), std::string::npos) << tiny.diag.str();
}

TEST(Transformer, CacheSkipsRepeatedTemplates) {
  Harness h("max_batch: 2, cache_size: 2");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  h.feed({"attack id=17 from 10.0.0.1", "user 3f2504e0-4f89-11d3-9a0c-0305e82c3301 plain"});
  h.feed({"attack id=99 from 192.168.7.200", "user 00000000-1111-2222-3333-444444444444 plain"});
  EXPECT_EQ(h.model->seen.size(), 2u) << "numbers, addresses and UUIDs are masked in the key";
  EXPECT_EQ(h.op->stats().cache_hits, 2u);
  auto pos = h.drain(h.pos);
  ASSERT_EQ(pos.size(), 2u);
  EXPECT_EQ(field_of(pos[1], "label"), "sqli") << "a hit carries the cached verdict";
  // Bounded: a third template evicts the least recently used one.
  h.feed({"script 1", "maybe 2"});
  EXPECT_EQ(h.model->seen.size(), 4u);
  h.feed({"attack id=5 from 10.0.0.9", "plain"});
  EXPECT_EQ(h.model->seen.size(), 6u) << "both evicted by the two newer templates";
  h.feed({"script 77"});
  EXPECT_EQ(h.op->stats().cache_hits, 2u) << "script 1 was evicted too";
}

TEST(Transformer, ModelErrorSendsTheBatchToDlqAndCarriesOn) {
  Harness h("max_batch: 2, cache_size: 0");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  h.feed({"boom", "attack"});
  auto dead = h.drain(h.dlq);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].error, "model_error");
  EXPECT_NE(dead[0].error_detail.find("fake failure"), std::string_view::npos);
  EXPECT_EQ(*dead[0].error_component, "classify");
  h.feed({"attack", "plain"});
  EXPECT_EQ(h.drain(h.pos).size(), 1u);
  EXPECT_EQ(h.op->stats().model_errors, 2u);
}

TEST(Transformer, ConfigErrorsSayWhere) {
  Harness bad_label("thresholds: {sqlj: 0.7}");
  EXPECT_NE(bad_label.diag.str().find("'sqlj' is not a label of fake (did you mean 'sqli'?)"), std::string::npos)
      << bad_label.diag.str();
  EXPECT_NE(bad_label.diag.str().find("t.yaml:1:"), std::string::npos) << bad_label.diag.str();
  Harness bad_value("thresholds: {sqli: 1.5}");
  EXPECT_NE(bad_value.diag.str().find("from 0 to 1"), std::string::npos) << bad_value.diag.str();
  Harness bad_dir("model: nowhere");
  EXPECT_FALSE(bad_dir.diag.ok());
  Harness bad_yaml("", "negative_label: benign\n");
  EXPECT_NE(bad_yaml.diag.str().find("negative_label 'benign' is not a label"), std::string::npos) << bad_yaml.diag.str();
}

// `precision:` picks one of model.yaml's weights files; a precision the model
// directory cannot serve is the setting's error, with its file:line:col.
TEST(Transformer, PrecisionOverridesModelYamls) {
  const std::string variants =
      "precision: int8\nvariants:\n  int8: {weights: model.int8.pt, sha256: y, source_sha256: x, quantized_engine: qnnpack}\n";
  {
    Harness h("", variants);
    ASSERT_TRUE(h.diag.ok()) << h.diag.str();
    EXPECT_EQ(h.op->model_info().precision, "int8");
    EXPECT_EQ(h.op->model_info().weights.filename(), "model.int8.pt");
    EXPECT_EQ(h.op->model_info().sha256, "y");
    EXPECT_EQ(h.op->model_info().quantized_engine, "qnnpack");
  }
  {
    Harness h("precision: float32", variants);
    ASSERT_TRUE(h.diag.ok()) << h.diag.str();
    EXPECT_EQ(h.op->model_info().precision, "float32");
    EXPECT_EQ(h.op->model_info().weights.filename(), "model.pt");
    EXPECT_EQ(h.op->model_info().sha256, "x");
    EXPECT_EQ(h.op->model_info().quantized_engine, "");
  }
  {
    Harness h("precision: int8");  // model.yaml offers float32 only
    EXPECT_NE(h.diag.str().find("t.yaml:1:"), std::string::npos) << h.diag.str();
    EXPECT_NE(h.diag.str().find("precision"), std::string::npos) << h.diag.str();
    EXPECT_NE(h.diag.str().find("offers no int8 weights (precisions: float32); models/train/quantize_web_classifier.py"),
              std::string::npos) << h.diag.str();
  }
  {
    Harness h("precision: fp16", variants);
    EXPECT_NE(h.diag.str().find("'fp16' is not one of: float32, int8"), std::string::npos) << h.diag.str();
  }
}

TEST(TextNormalizer, MasksVariableParts) {
  TextNormalizer n;
  std::string out;
  n.normalize("GET /u/3f2504e0-4f89-11d3-9a0c-0305e82c3301 from 10.1.2.3 and fe80::1:2 token deadbeef99 id=42", out);
  EXPECT_EQ(out, "GET /u/<uuid> from <ip> and <ip> token <hex> id=0");
  n.normalize("no digits here", out);
  EXPECT_EQ(out, "no digits here");
  n.normalize("1' or 1=1 --", out);
  EXPECT_EQ(out, "0' or 0=0 --");
}

TEST(Transformer, LengthBucketingGroupsSimilarLengths) {
  Harness h("max_batch: 16, cache_size: 0");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  std::vector<std::string> q;
  for (char c = '0'; c < '8'; ++c) q.push_back(std::string{'s', c});
  for (char c = '0'; c < '8'; ++c) q.push_back(std::string(200, 'x') + c);
  std::swap(q[1], q[9]);  // interleaved on arrival
  h.feed(q);
  EXPECT_EQ(h.model->batches, (std::vector<size_t>{8, 8})) << "short texts in one pass, long ones in another";
  for (size_t i = 0; i < 8; ++i) EXPECT_LT(h.model->seen[i].size(), 3u) << i;
  auto neg = h.drain(h.neg);
  ASSERT_EQ(neg.size(), 16u);
  EXPECT_EQ(field_of(neg[1], "q").size(), 201u) << "events leave in arrival order";

  Harness off("max_batch: 16, cache_size: 0, length_bucketing: false");
  off.feed(q);
  EXPECT_EQ(off.model->batches, (std::vector<size_t>{16}));
}

TEST(Transformer, EmbeddingModelsWriteTheEmbedding) {
  Harness h("max_batch: 2", "", "task: embed\n");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  h.feed({"abc", "", "abcd"});
  auto pos = h.drain(h.pos);
  ASSERT_EQ(pos.size(), 3u) << "every event leaves on the default port";
  // The batch of two left when it filled; the empty text, with nothing to embed, after it.
  EXPECT_EQ(field_of(pos[0], "embedding"), "[0.6,0.3,-0.8]");
  EXPECT_EQ(pos[0].field("embedding")->kind, ValueKind::Json);
  EXPECT_EQ(field_of(pos[1], "embedding"), "[0.6,0.4,-0.8]");
  EXPECT_EQ(field_of(pos[1], "model"), "fake");
  EXPECT_EQ(field_of(pos[2], "embedding"), "<none>") << "an empty text has no embedding";
  EXPECT_EQ(h.op->stats().cache_hits, 0u) << "embedding models do not cache by default";

  Harness bad("thresholds: {a: 0.5}", "", "task: embed\n");
  EXPECT_NE(bad.diag.str().find("no labels to threshold"), std::string::npos) << bad.diag.str();
}

TEST(Transformer, HitsDoNotWaitForForwardPasses) {
  Harness h("max_batch: 1, cache_size: 100", "", "task: classify\nlabels: [norm, sqli, xss]\n", true);
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  h.feed({"plain"});  // scored on the inference thread, then cached
  for (int i = 0; i < 2000 && h.op->stats().forwards < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(h.drain(h.neg).size(), 1u);
  h.model->hold = true;
  h.feed({"attack"});  // a miss: its forward pass is held
  for (int i = 0; i < 2000 && h.model->entered < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(h.model->entered.load(), 2);
  h.feed({"plain"});  // a hit
  auto early = h.drain(h.neg);
  EXPECT_EQ(early.size(), 1u) << "the hit left while the miss's forward pass was still running";
  EXPECT_TRUE(h.drain(h.pos).empty());
  h.model->hold = false;
  h.op->finish(*h.out);
  auto pos = h.drain(h.pos);
  ASSERT_EQ(pos.size(), 1u) << "finish waits for the inference thread";
  EXPECT_EQ(field_of(pos[0], "label"), "sqli");
}

namespace {

// Events whose field q is `text`, each carrying the rules given for it.
Batch flagged_batch(const std::vector<std::pair<std::string, std::vector<const Rule*>>>& events) {
  std::vector<Fields> fields;
  for (const auto& [text, rules] : events) fields.push_back({{"q", text}});
  Batch b = make_batch(nullptr, fields);
  for (size_t i = 0; i < events.size(); ++i)
    for (const Rule* r : events[i].second) b.events[i].rules.push_back(r);
  return b;
}

Rule rule_of(const std::string& id, Severity severity, std::vector<std::string> tags) {
  Rule r;
  r.id = id;
  r.severity = severity;
  r.tags = std::move(tags);
  return r;
}

}  // namespace

TEST(TransformerMode, ConfirmLetsTheModelVetoARuleHit) {
  Harness h("cache_size: 0");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  const Rule r = rule_of("sqli-x", Severity::High, {"sqli"});
  h.op->process(flagged_batch({{"plain", {&r}}, {"attack", {&r}}, {"attack", {}}}), *h.out);
  h.op->finish(*h.out);
  auto pos = h.drain(h.pos), neg = h.drain(h.neg);
  ASSERT_EQ(pos.size(), 2u);
  ASSERT_EQ(neg.size(), 1u);
  EXPECT_EQ(field_of(neg[0], "label"), "norm") << "the rule hit the model calls normal is dropped: today's cascade";
  EXPECT_EQ(field_of(neg[0], "model_out_of_domain"), "<none>");
  const auto st = h.op->stats();
  EXPECT_EQ(st.rule_hits, 2u);
  EXPECT_EQ(st.vetoed, 1u);
  EXPECT_EQ(st.model_only, 1u);
}

TEST(TransformerMode, AugmentAlertsEveryRuleHitAndConfidentModelPositives) {
  Harness h("cache_size: 0, mode: augment, alone_min_score: 0.8");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  const Rule r = rule_of("sqli-x", Severity::Low, {"sqli"});
  h.op->process(flagged_batch({{"plain", {&r}}, {"attack", {}}, {"maybe", {}}, {"plain", {}}, {"maybe", {&r}}}),
                *h.out);
  h.op->finish(*h.out);
  auto pos = h.drain(h.pos), neg = h.drain(h.neg);
  ASSERT_EQ(pos.size(), 3u);
  ASSERT_EQ(neg.size(), 2u);
  EXPECT_EQ(field_of(pos[0], "label"), "norm") << "a rule hit alerts and carries the verdict as context";
  EXPECT_EQ(field_of(pos[0], "score"), "0.900000");
  EXPECT_EQ(field_of(pos[1], "label"), "sqli") << "no rule: sqli 0.9 >= alone_min_score 0.8";
  EXPECT_EQ(field_of(pos[2], "q"), "maybe") << "with a rule, 0.6 needs no alone_min_score";
  EXPECT_EQ(field_of(neg[0], "q"), "maybe") << "no rule, sqli 0.6 < 0.8: not confident enough alone";
  EXPECT_EQ(field_of(neg[1], "q"), "plain");
  const auto st = h.op->stats();
  EXPECT_EQ(st.vetoed, 0u);
  EXPECT_EQ(st.model_only, 1u);
}

TEST(TransformerMode, FuseWeighsTheRuleBySeverity) {
  Harness h("cache_size: 0, mode: fuse, fuse_threshold: 0.8, rule_weights: {low: 0.2}");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  const Rule high = rule_of("h", Severity::High, {"sqli"}), low = rule_of("l", Severity::Low, {"sqli"});
  // suspicion: plain 0.1, maybe 0.7, attack 0.95. fused = 1 - (1 - s)(1 - w):
  // plain+high 0.73, maybe+high 0.91, maybe+low 0.76, attack 0.95.
  h.op->process(flagged_batch({{"plain", {&high}}, {"maybe", {&high}}, {"maybe", {&low}}, {"attack", {}}}), *h.out);
  h.op->finish(*h.out);
  auto pos = h.drain(h.pos), neg = h.drain(h.neg);
  ASSERT_EQ(pos.size(), 2u);
  ASSERT_EQ(neg.size(), 2u);
  EXPECT_EQ(field_of(pos[0], "q"), "maybe");
  EXPECT_EQ(field_of(pos[0], "model_fused_score"), "0.910000");
  EXPECT_EQ(pos[0].field("model_fused_score")->kind, ValueKind::Number);
  EXPECT_EQ(field_of(pos[1], "q"), "attack");
  EXPECT_EQ(field_of(neg[0], "model_fused_score"), "0.730000") << "a high rule alone is below 0.8";
  EXPECT_EQ(field_of(neg[1], "model_fused_score"), "0.760000") << "low weighs 0.2 as configured";
}

TEST(TransformerMode, AModelVetoesNoRuleHitOutsideItsDomain) {
  const std::string domain = "domain: {fields: [url.query], transforms: [url_decode], text: parameter values}\n";
  Harness h("cache_size: 0", domain);
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  ASSERT_EQ(h.diag.warnings().size(), 1u) << "validate warns: the topology points the model at q";
  const std::string w = h.diag.warnings_str();
  EXPECT_NE(w.find("t.yaml:1:"), std::string::npos) << w;
  EXPECT_NE(w.find("the field 'q' is outside the domain of fake (parameter values), made for: url.query"),
            std::string::npos) << w;
  const Rule lsass = rule_of("lsass", Severity::High, {"attack.credential_access"});
  h.op->process(flagged_batch({{"plain", {&lsass}}, {"plain", {}}}), *h.out);
  h.op->finish(*h.out);
  auto pos = h.drain(h.pos), neg = h.drain(h.neg);
  ASSERT_EQ(pos.size(), 1u) << "the rule hit stands although the model calls it normal";
  EXPECT_EQ(field_of(pos[0], "label"), "norm");
  EXPECT_EQ(field_of(pos[0], "model_out_of_domain"), "true");
  EXPECT_EQ(pos[0].field("model_out_of_domain")->kind, ValueKind::Bool);
  ASSERT_EQ(neg.size(), 1u) << "without a rule the model's verdict still decides";
  EXPECT_EQ(h.op->stats().out_of_domain, 1u);

  Harness transforms("cache_size: 0, transforms: [lowercase]", "domain: {fields: [q], transforms: [url_decode]}\n");
  ASSERT_TRUE(transforms.diag.ok()) << transforms.diag.str();
  EXPECT_NE(transforms.diag.warnings_str().find("after the transform 'url_decode'"), std::string::npos)
      << transforms.diag.warnings_str();
}

TEST(TransformerMode, InItsDomainAModelJudgesOnlyRulesTaggedWithItsClasses) {
  Harness h("cache_size: 0", "domain: {fields: [q]}\n");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  EXPECT_TRUE(h.diag.warnings().empty()) << h.diag.warnings_str();
  const Rule web = rule_of("sqli-x", Severity::High, {"sqli", "T1190"});
  const Rule windows = rule_of("vss", Severity::High, {"attack.impact", "attack.t1490"});
  h.op->process(flagged_batch({{"plain", {&web}}, {"plain", {&windows}}, {"plain", {&web, &windows}}}), *h.out);
  h.op->finish(*h.out);
  auto pos = h.drain(h.pos), neg = h.drain(h.neg);
  ASSERT_EQ(neg.size(), 1u) << "the sqli-tagged hit is the model's to judge";
  EXPECT_EQ(neg[0].rules.size(), 1u);
  ASSERT_EQ(pos.size(), 2u) << "a hit of a rule with none of the labels sqli, xss among its tags stands";
  EXPECT_EQ(field_of(pos[0], "model_out_of_domain"), "true");
  EXPECT_EQ(field_of(pos[1], "model_out_of_domain"), "true");
}

TEST(TransformerMode, ARuleHitWithNothingToScoreStands) {
  Harness h("cache_size: 0");
  ASSERT_TRUE(h.diag.ok()) << h.diag.str();
  const Rule r = rule_of("r", Severity::Medium, {"sqli"});
  h.op->process(flagged_batch({{"", {&r}}, {"", {}}}), *h.out);
  h.op->finish(*h.out);
  EXPECT_EQ(h.drain(h.pos).size(), 1u);
  EXPECT_EQ(h.drain(h.neg).size(), 1u);
}

TEST(TransformerMode, SettingsAreChecked) {
  Harness word("mode: veto");
  EXPECT_NE(word.diag.str().find("confirm, augment, fuse"), std::string::npos) << word.diag.str();
  Harness stray("alone_min_score: 0.9");
  EXPECT_NE(stray.diag.str().find("only mode: augment uses it"), std::string::npos) << stray.diag.str();
  Harness range("mode: augment, alone_min_score: 2");
  EXPECT_NE(range.diag.str().find("from 0 to 1"), std::string::npos) << range.diag.str();
  Harness sev("mode: fuse, rule_weights: {severe: 0.5}");
  EXPECT_NE(sev.diag.str().find("'severe' is not one of"), std::string::npos) << sev.diag.str();
  Harness domain("", "domain: {fields: [url.query], kinds: [x]}\n");
  EXPECT_NE(domain.diag.str().find("unknown key 'domain.kinds'"), std::string::npos) << domain.diag.str();
  Harness empty("", "domain: {text: x}\n");
  EXPECT_NE(empty.diag.str().find("'domain.fields' names no field"), std::string::npos) << empty.diag.str();
}
