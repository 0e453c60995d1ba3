// The online model's figures for bench/RESULTS.md, on one core, over the HTTP
// parameter values (tests/data/http_params) in the tests' fixed shuffled order:
// Each figure is the median of its passes (10 by default) over the stream.
//   updates/s      featurise + progressive step (predict, then learn), from an empty model;
//   predictions/s  featurise + predict, with the trained model;
//   predict only   the same on features hashed beforehand (the model's own share);
//   operator       the online_classifier operator's events/s on batches of 256
//                  events, with and without explanations.
// Usage: online_bench [--passes N] [--bits B] [--ngrams MIN MAX] [--write-stream FILE.jsonl]
//   (default: the operator's defaults)
//   --write-stream writes the stream it measures (text, label) for the River
//   baseline (bench/baselines/python/river_online.py) to read in the same order.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "engine/channel.hpp"
#include "engine/json_writer.hpp"
#include "models/online_linear.hpp"
#include "operators/online_classifier.hpp"
#include "operators/operators.hpp"
#include "tests/support/http_params.hpp"

using namespace socstream;
using namespace socstream::online;
using Seconds = std::chrono::duration<double>;

namespace {

const std::vector<std::string> kLabels = {"norm", "sqli", "xss", "path-traversal", "cmdi"};

uint32_t label_index(const std::string& l) {
  return static_cast<uint32_t>(std::find(kLabels.begin(), kLabels.end(), l) - kLabels.begin());
}

// Runs pass(p) for each of `passes` passes over n events and returns the
// median events/s of the passes: a neighbour's burst on this shared machine
// spoils a pass or two, not the figure.
template <class F>
double median_rate(size_t passes, size_t n, F&& pass) {
  std::vector<double> rates;
  for (size_t p = 0; p < passes; ++p) {
    auto t0 = std::chrono::steady_clock::now();
    pass(p);
    rates.push_back(double(n) / Seconds(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

double operator_rate(const std::vector<testing::LabelledText>& rows, const OnlineLinear& trained, size_t explain,
                     size_t passes, const std::filesystem::path& dir) {
  const auto& f = trained.featurizer().options();
  // The operator restores the trained model from a snapshot, as a deployment would.
  std::filesystem::remove_all(dir);
  SnapshotStore(dir, "online").save(trained.to_bytes());
  Diagnostics diag;
  YAML::Node n = YAML::Load(fmt::format(
      "{{labels: [norm, sqli, xss, path-traversal, cmdi], field: payload, explain: {}, bits: {}, ngrams: [{}, {}], "
      "snapshot_dir: '{}'}}",
      explain, f.bits, f.ngram_min, f.ngram_max, dir.string()));
  Settings s(n, "online", "bench.yaml", ".", &diag);
  OnlineClassifierOp op(s);
  op.open();
  const std::string name = "online", source = "events";
  Outputs out(&name, op.output_ports());  // no consumers: events are completed at emit
  std::vector<Batch> batches;
  for (size_t at = 0; at < rows.size(); at += 256) {
    Batch b;
    for (size_t i = at; i < std::min(rows.size(), at + 256); ++i) {
      Event e;
      e.pos.source = &source;
      e.fields.push_back(Field{"payload", rows[i].text});
      b.events.push_back(std::move(e));
    }
    batches.push_back(std::move(b));
  }
  return median_rate(passes, rows.size(), [&](size_t) {
    for (auto& b : batches) op.process(b.share(), out);
  });
}

}  // namespace

int main(int argc, char** argv) {
  size_t passes = 10;
  std::string write_stream;
  FeatureOptions features;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--passes") && i + 1 < argc) passes = std::stoul(argv[++i]);
    else if (!std::strcmp(argv[i], "--bits") && i + 1 < argc) features.bits = std::stoul(argv[++i]);
    else if (!std::strcmp(argv[i], "--ngrams") && i + 2 < argc) {
      features.ngram_min = std::stoul(argv[++i]);
      features.ngram_max = std::stoul(argv[++i]);
    }
    else if (!std::strcmp(argv[i], "--write-stream") && i + 1 < argc) write_stream = argv[++i];
    else {
      std::fprintf(stderr, "usage: online_bench [--passes N] [--bits B] [--ngrams MIN MAX] [--write-stream FILE]\n");
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  const auto csv = std::filesystem::path(SOCSTREAM_SOURCE_DIR) / "tests/data/http_params/train.csv";
  const auto rows = testing::http_params(csv.string());
  if (!write_stream.empty()) {
    std::ofstream out(write_stream);
    std::string line;
    for (const auto& r : rows) {
      line = "{\"text\":";
      json::append_string(line, r.text);
      line += ",\"label\":";
      json::append_string(line, r.label);
      out << line << "}\n";
    }
  }
  std::vector<uint32_t> labels;
  for (const auto& r : rows) labels.push_back(label_index(r.label));

  // Updates: the first pass from an empty model gives the progressive accuracy.
  OnlineLinear m(kLabels, features);
  std::vector<uint32_t> slots;
  float probs[8];
  size_t late = 0, late_right = 0;
  const double updates = median_rate(passes, rows.size(), [&](size_t p) {
    for (size_t i = 0; i < rows.size(); ++i) {
      slots.clear();
      m.featurizer().add(rows[i].text, slots);
      bool right = m.learn(slots.data(), slots.size(), labels[i], probs);
      if (p == 0 && i >= rows.size() / 2) {
        ++late;
        late_right += right;
      }
    }
  });

  size_t n_features = 0;
  volatile float sink = 0;
  const double predictions = median_rate(passes, rows.size(), [&](size_t) {
    for (const auto& r : rows) {
      slots.clear();
      m.featurizer().add(r.text, slots);
      m.predict(slots.data(), slots.size(), probs);
      sink = sink + probs[0];
      n_features += slots.size();
    }
  });
  std::vector<std::vector<uint32_t>> hashed;
  for (const auto& r : rows) {
    hashed.emplace_back();
    m.featurizer().add(r.text, hashed.back());
  }
  const double model_only = median_rate(passes, rows.size(), [&](size_t) {
    for (const auto& h : hashed) {
      m.predict(h.data(), h.size(), probs);
      sink = sink + probs[0];
    }
  });
  const auto dir = std::filesystem::temp_directory_path() / "socstream-online-bench";
  double op_plain = operator_rate(rows, m, 0, passes, dir);
  double op_explain = operator_rate(rows, m, 3, passes, dir);
  std::filesystem::remove_all(dir);

  std::printf("events=%zu passes=%zu bits=%u ngrams=%u-%u features_per_event=%.1f\n", rows.size(), passes,
              features.bits, features.ngram_min, features.ngram_max,
              double(n_features) / double(rows.size() * passes));
  std::printf("progressive_accuracy_last_half=%.4f\n", double(late_right) / double(late));
  std::printf("updates_per_s=%.0f\n", updates);
  std::printf("predictions_per_s=%.0f\n", predictions);
  std::printf("predict_only_per_s=%.0f\n", model_only);
  std::printf("operator_events_per_s=%.0f\n", op_plain);
  std::printf("operator_explain_events_per_s=%.0f\n", op_explain);
  return 0;
}
