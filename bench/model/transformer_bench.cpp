// The transformer stage's figures for bench/RESULTS.md, on the bundled
// sample's query values (the texts the default pipeline gives the model):
//   1. raw forward seq/s (TextModel::predict in a loop) at batch 1, 8, 32, 64,
//      against the operator's seq/s at the same max_batch, cache off;
//   2. p50/p99 latency through the operator against max_delay_ms, events
//      arriving at half the operator's saturation rate;
//   3. cache hit rate and events/s on the sample with the default cache;
//   4. MiniLM seq/s, if models/train/export_minilm.py has made it.
//   5. with --precisions: float32 against int8, interleaved in one run (raw
//      and operator seq/s at batch 1, 8, 32), and both precisions' recall and
//      false-positive rate on bench/web's sets (bench/RESULTS.md, "Quantised
//      inference (int8)").
// Usage: transformer_bench [MODEL_DIR] [MINILM_DIR]
//        transformer_bench --raw [MODEL_DIR]          only the raw forward ceiling at its best batch size
//        transformer_bench --precisions [MODEL_DIR]   only 5
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "engine/channel.hpp"
#include "engine/component.hpp"
#include "models/model.hpp"
#include "operators/operators.hpp"
#include "operators/text_transforms.hpp"
#include "operators/transformer.hpp"

using namespace socstream;
using Seconds = std::chrono::duration<double>;

namespace {

struct Sample {
  std::vector<std::string> queries;  // one per event
  std::vector<std::string> values;   // decoded query values, in arrival order
};

// The texts the default pipeline gives the model, split and decoded by the
// operators' own transforms.
Sample load_sample(const std::filesystem::path& file) {
  Diagnostics diag;
  Settings settings(YAML::Load("{field: q, transforms: [query_values, url_decode]}"), "bench", "bench.yaml", ".", &diag);
  const TextTransforms transforms(settings, "score");
  Sample s;
  std::ifstream in(file);
  simdjson::dom::parser p;
  std::string scratch;
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element d = p.parse(line);
    std::string_view q;
    if (d["url"]["query"].get(q) != simdjson::SUCCESS) q = "";
    s.queries.emplace_back(q);
    transforms.for_each(q, scratch, [&](std::string_view v) {
      if (!v.empty()) s.values.emplace_back(v);
    });
  }
  return s;
}

double raw_forward(TextModel& m, const std::vector<std::string>& texts, size_t batch, size_t n) {
  std::vector<std::string_view> v;
  auto t0 = std::chrono::steady_clock::now();
  size_t done = 0;
  // The texts in the order the operator gets them.
  for (size_t at = 0; done < n; at += batch) {
    v.clear();
    for (size_t k = 0; k < batch; ++k) v.push_back(texts[(at + k) % texts.size()]);
    m.predict(v);
    done += batch;
  }
  return static_cast<double>(done) / Seconds(std::chrono::steady_clock::now() - t0).count();
}

struct OpHarness {
  Diagnostics diag;
  std::string name = "classify";
  std::unique_ptr<TransformerOp> op;
  std::unique_ptr<Outputs> out;
  Channel pos{1 << 20, size_t(1) << 34}, neg{1 << 20, size_t(1) << 34};

  OpHarness(const std::string& model, const std::string& settings) {
    YAML::Node n = YAML::Load("{model: '" + model + "', field: q, " + settings + "}");
    Settings s(n, name, "bench.yaml", ".", &diag);
    op = std::make_unique<TransformerOp>(s);
    if (!diag.ok()) throw std::runtime_error(diag.str());
    op->open();
    out = std::make_unique<Outputs>(&name, op->output_ports());
    // A producer registered: an empty channel then waits for its deadline instead of reporting "closed".
    pos.add_producer();
    neg.add_producer();
    out->connect(0, &pos);
    out->connect(1, &neg);
  }
  static Batch batch_of(const std::vector<std::string>& texts, size_t at, size_t n) {
    Batch b;
    for (size_t k = 0; k < n; ++k) {
      Event e;
      e.fields.push_back(Field{"q", texts[(at + k) % texts.size()]});
      b.events.push_back(std::move(e));
    }
    return b;
  }
  void drain() {
    Batch b;
    while (pos.pop(b, Clock::now()) == Channel::Pop::Item) b = Batch{};
    while (neg.pop(b, Clock::now()) == Channel::Pop::Item) b = Batch{};
  }
};

// The operator on a stream of single-text events: texts/s.
double operator_throughput(const std::string& model, const std::vector<std::string>& texts, size_t batch, size_t n,
                           bool bucketing, const std::string& extra = "") {
  OpHarness h(model, "cache_size: 0, max_delay_ms: 1000, max_batch: " + std::to_string(batch) +
                         ", length_bucketing: " + (bucketing ? "true" : "false") + extra);
  for (size_t at = 0; at < 512; at += 64) h.op->process(OpHarness::batch_of(texts, texts.size() / 2 + at, 64), *h.out);
  h.op->on_deadline(*h.out);
  h.drain();
  const uint64_t warm = h.op->stats().forward_texts;
  auto t0 = std::chrono::steady_clock::now();
  for (size_t at = 0; at < n; at += 256) {
    h.op->process(OpHarness::batch_of(texts, at, 256), *h.out);
    h.drain();
  }
  h.op->finish(*h.out);
  h.drain();
  return static_cast<double>(h.op->stats().forward_texts - warm) / Seconds(std::chrono::steady_clock::now() - t0).count();
}

// Events arrive one at a time at `rate`; the operator runs on its own thread as
// the runtime runs it (pop with its deadline, process or on_deadline). Latency:
// arrival to emission.
std::pair<double, double> latency(const std::string& model, const std::vector<std::string>& texts, double rate,
                                  int max_delay_ms, size_t n) {
  OpHarness h(model, "cache_size: 0, max_batch: 32, max_delay_ms: " + std::to_string(max_delay_ms));
  // Steady state: a fresh TorchScript module spends its first passes profiling
  // and optimising (one-off, hundreds of ms), which is start-up, not latency.
  for (size_t at = 0; at < 512; at += 64) {
    h.op->process(OpHarness::batch_of(texts, texts.size() / 2 + at, 64), *h.out);
    h.op->on_deadline(*h.out);
  }
  h.drain();
  Channel in(1 << 16, size_t(1) << 30);
  in.add_producer();
  std::vector<Clock::time_point> sent(n);
  std::thread op([&] {
    Batch b;
    for (;;) {
      auto r = in.pop(b, h.op->next_deadline());
      if (r == Channel::Pop::Item) {
        h.op->process(std::move(b), *h.out);
        b = Batch{};
      } else if (r == Channel::Pop::Timeout) {
        h.op->on_deadline(*h.out);
      } else {
        h.op->finish(*h.out);
        break;
      }
    }
  });
  std::vector<double> lat;
  lat.reserve(n);
  std::thread collect([&] {
    Batch b;
    size_t got = 0;
    while (got < n) {
      for (Channel* ch : {&h.pos, &h.neg})
        while (ch->pop(b, Clock::now() + std::chrono::microseconds(200)) == Channel::Pop::Item) {
          auto now = Clock::now();
          for (auto& e : b.events) lat.push_back(Seconds(now - sent[e.pos.offset]).count() * 1e3);
          got += b.size();
          b = Batch{};
        }
    }
  });
  const auto start = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    std::this_thread::sleep_until(start + std::chrono::nanoseconds(static_cast<int64_t>(1e9 * static_cast<double>(i) / rate)));
    Batch b = OpHarness::batch_of(texts, i, 1);
    b.events[0].pos.offset = static_cast<int64_t>(i);
    sent[i] = Clock::now();
    in.push(std::move(b));
  }
  in.producer_done();
  op.join();
  collect.join();
  std::sort(lat.begin(), lat.end());
  return {lat[lat.size() / 2], lat[lat.size() * 99 / 100]};
}


double median3(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[1];
}

// bench/web/data's CSV files: a header, every field quoted, "" for a quote.
std::vector<std::map<std::string, std::string>> read_csv(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(file.string() + ": cannot open (bench/web/build_sets.py makes it)");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c != '"') field += c;
      else if (i + 1 < text.size() && text[i + 1] == '"') field += text[++i];
      else quoted = false;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      rows.back().push_back(std::move(field));
      field.clear();
      rows.emplace_back();
    } else if (c != '\r') {
      field += c;
    }
  }
  if (!field.empty() || !rows.back().empty()) rows.back().push_back(std::move(field));
  if (rows.back().empty()) rows.pop_back();
  std::vector<std::map<std::string, std::string>> out;
  for (size_t r = 1; r < rows.size(); ++r) {
    std::map<std::string, std::string> row;
    for (size_t k = 0; k < rows[0].size() && k < rows[r].size(); ++k) row[rows[0][k]] = rows[r][k];
    out.push_back(std::move(row));
  }
  return out;
}

// One labelled value of bench/web's sets, as the engine gets it: `q=<wire>`
// split and decoded by the transformer's own transforms (detect.py's shape).
struct Labelled {
  std::string text, label, set;
};

std::vector<Labelled> web_sets(const std::filesystem::path& dir) {
  Diagnostics diag;
  Settings settings(YAML::Load("{field: q, transforms: [query_values, url_decode]}"), "bench", "bench.yaml", ".", &diag);
  const TextTransforms transforms(settings, "score");
  std::vector<Labelled> out;
  std::string scratch;
  auto add = [&](const std::string& wire, const std::string& label, const std::string& set) {
    std::string text;
    transforms.for_each("q=" + wire, scratch, [&](std::string_view v) {
      if (text.empty()) text.assign(v);
    });
    out.push_back({std::move(text), label, set});
  };
  for (auto& r : read_csv(dir / "inset.csv")) add(r.at("wire"), r.at("attack_type"), "inset");
  for (auto& r : read_csv(dir / "attacks.csv")) add(r.at("wire"), r.at("attack_type"), "heldout");
  for (auto& r : read_csv(dir / "normal_test.csv")) add(r.at("wire"), "norm", "normal_test");
  return out;
}

// What the operator does with one text (TransformerOp::judge): the top label,
// and whether it alerts (not the negative label, at its threshold or above).
struct Judged {
  std::string label;
  bool alert = false;
};

std::vector<Judged> judge_all(TextModel& m, const std::vector<Labelled>& rows) {
  const ModelInfo& info = m.info();
  std::vector<Judged> out;
  std::vector<std::string_view> batch;
  auto flush = [&] {
    auto probs = m.predict(batch);
    for (const auto& p : probs) {
      const auto top = static_cast<size_t>(std::max_element(p.begin(), p.end()) - p.begin());
      const std::string& label = info.labels[top];
      out.push_back({label, label != info.negative_label && p[top] >= info.thresholds.at(label)});
    }
    batch.clear();
  };
  for (const auto& r : rows) {
    if (r.text.empty()) {  // nothing to score: the operator gives no verdict
      if (!batch.empty()) flush();
      out.push_back({info.negative_label, false});
      continue;
    }
    batch.push_back(r.text);
    if (batch.size() == 32) flush();
  }
  if (!batch.empty()) flush();
  return out;
}

// Percent of the rows of `set` (labelled `label`, or every attack for "attack")
// that pass `hit`.
double percent(const std::vector<Labelled>& rows, const std::vector<Judged>& j, const std::string& set,
               const std::string& label, const std::function<bool(const Labelled&, const Judged&)>& hit,
               size_t* count = nullptr) {
  size_t n = 0, k = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].set != set) continue;
    if (label == "attack" ? rows[i].label == "norm" : rows[i].label != label) continue;
    ++n;
    k += hit(rows[i], j[i]);
  }
  if (count) *count = n;
  return n ? 100.0 * static_cast<double>(k) / static_cast<double>(n) : 0;
}

// Issue 15: int8 is the bundled default only if the operator is at least 1.5x
// faster at every batch size measured, with recall and false-positive rate
// within 0.1 point of float32's on every set.
int compare_precisions(const std::filesystem::path& root, const std::string& model, const Sample& sample) {
  const std::vector<std::string> precisions{"float32", "int8"};
  std::map<std::string, std::unique_ptr<TextModel>> m;
  for (const auto& p : precisions) {
    m[p] = TextModel::load(read_model_info(model, p));
    raw_forward(*m[p], sample.values, 32, 2048);  // warm-up, as above
    std::printf("%s: %s (quantized engine: %s)\n", p.c_str(), m[p]->info().weights.string().c_str(),
                m[p]->info().quantized_engine.empty() ? "none" : m[p]->info().quantized_engine.c_str());
  }
  std::printf("\n| batch | raw float32 seq/s | raw int8 seq/s | int8/float32 | operator float32 seq/s | operator int8 seq/s | int8/float32 |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|\n");
  double slowest = 1e9;
  for (size_t bs : {1, 8, 32}) {
    const size_t n = 3072;
    std::map<std::string, std::vector<double>> raw, op;
    for (int round = 0; round < 3; ++round)
      for (const auto& p : precisions) {
        raw[p].push_back(raw_forward(*m[p], sample.values, bs, n));
        op[p].push_back(operator_throughput(model, sample.values, bs, n, true, ", precision: " + p));
      }
    const double rf = median3(raw["float32"]), ri = median3(raw["int8"]);
    const double of = median3(op["float32"]), oi = median3(op["int8"]);
    slowest = std::min(slowest, oi / of);
    std::printf("| %zu | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |\n", bs, rf, ri, ri / rf, of, oi, oi / of);
    std::fflush(stdout);
  }

  const auto rows = web_sets(root / "bench/web/data");
  std::map<std::string, std::vector<Judged>> j;
  for (const auto& p : precisions) j[p] = judge_all(*m[p], rows);
  size_t differ = 0;
  for (size_t i = 0; i < rows.size(); ++i) differ += j["float32"][i].label != j["int8"][i].label;
  auto alerts = [](const Labelled&, const Judged& v) { return v.alert; };
  auto right = [](const Labelled& r, const Judged& v) { return v.label == r.label; };
  struct Line {
    std::string what, set, label;
    std::function<bool(const Labelled&, const Judged&)> hit;
    bool gate;  // one of the figures the decision is held to
  };
  const std::vector<Line> lines{
      {"recall, attacks (alerts)", "inset", "attack", alerts, true},
      {"false-positive rate, normal", "inset", "norm", alerts, true},
      {"recall norm (top label right)", "inset", "norm", right, false},
      {"recall sqli (top label right)", "inset", "sqli", right, false},
      {"recall xss (top label right)", "inset", "xss", right, false},
      {"recall path-traversal (top label right)", "inset", "path-traversal", right, false},
      {"recall cmdi (top label right)", "inset", "cmdi", right, false},
      {"recall, all attacks (alerts)", "heldout", "attack", alerts, true},
      {"recall sqli (alerts)", "heldout", "sqli", alerts, false},
      {"recall xss (alerts)", "heldout", "xss", alerts, false},
      {"recall path-traversal (alerts)", "heldout", "path-traversal", alerts, false},
      {"recall cmdi (alerts)", "heldout", "cmdi", alerts, false},
      {"false-positive rate (alerts)", "normal_test", "norm", alerts, true},
  };
  const std::map<std::string, std::string> set_names{{"inset", "inset.csv (the model's validation split)"},
                                                     {"heldout", "attacks.csv (held-out families)"},
                                                     {"normal_test", "normal_test.csv (generated normal values)"}};
  std::printf("\n| set | figure | rows | float32 | int8 | int8 - float32 (points) |\n|---|---|---:|---:|---:|---:|\n");
  double worst = 0;
  for (const auto& l : lines) {
    size_t n = 0;
    const double f = percent(rows, j["float32"], l.set, l.label, l.hit, &n);
    const double q = percent(rows, j["int8"], l.set, l.label, l.hit);
    if (l.gate) worst = std::max(worst, std::abs(q - f));
    std::printf("| %s | %s%s | %zu | %.2f%% | %.2f%% | %+.2f |\n", set_names.at(l.set).c_str(), l.what.c_str(),
                l.gate ? " *" : "", n, f, q, q - f);
  }
  std::printf("\n* the figures the decision is held to. Top labels that differ between the precisions: %zu of %zu values.\n",
              differ, rows.size());
  const bool fast = slowest >= 1.5, close = worst <= 0.1;
  std::printf("\ndecision: int8 is %.2fx float32's operator seq/s at its slowest batch size (needs 1.5x), and within "
              "%.2f points on the gated figures (needs 0.1): %s\n",
              slowest, worst, fast && close ? "int8 may be the default" : "float32 stays the default");
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  const std::filesystem::path root = SOCSTREAM_SOURCE_DIR;
  const bool raw_only = argc > 1 && std::string_view(argv[1]) == "--raw";
  const bool precisions = argc > 1 && std::string_view(argv[1]) == "--precisions";
  if (raw_only || precisions) {
    --argc;
    ++argv;
  }
  const std::string model = argc > 1 ? argv[1] : (root / "models/web-attack-classifier").string();
  const std::string minilm = argc > 2 ? argv[2] : (root / ".cache/models/all-minilm-l6-v2").string();
  const Sample sample = load_sample(root / "config/samples/web-access.jsonl");
  std::printf("sample: %zu events, %zu query values\n\n", sample.queries.size(), sample.values.size());
  if (precisions) return compare_precisions(root, model, sample);

  auto m = TextModel::load(model);
  raw_forward(*m, sample.values, 32, 2048);  // warm-up: the TorchScript executor profiles its first runs
  if (raw_only) {
    double best = 0;
    size_t best_bs = 0;
    for (size_t bs : {1, 8, 32, 64})
      if (double r = raw_forward(*m, sample.values, bs, 3072); r > best) best = r, best_bs = bs;
    std::printf("raw forward: %.0f seq/s at batch %zu\n", best, best_bs);
    return 0;
  }
  std::printf("| batch | raw forward seq/s | operator seq/s (no bucketing) | ratio | operator seq/s (length bucketing) | ratio |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|\n");
  double sat32 = 0;
  // Shared machines drift: each figure is the median of three rounds, the three
  // subjects interleaved within a round, so drift hits them alike.
  for (size_t bs : {1, 8, 32, 64}) {
    const size_t n = 3072;
    std::vector<double> r, p, b;
    for (int round = 0; round < 3; ++round) {
      r.push_back(raw_forward(*m, sample.values, bs, n));
      p.push_back(operator_throughput(model, sample.values, bs, n, false));
      b.push_back(operator_throughput(model, sample.values, bs, n, true));
    }
    double raw = median3(r), plain = median3(p), bucket = median3(b);
    if (bs == 32) sat32 = bucket;
    std::printf("| %zu | %.0f | %.0f | %.2f | %.0f | %.2f |\n", bs, raw, plain, plain / raw, bucket, bucket / raw);
    std::fflush(stdout);
  }

  const double rate = sat32 / 2;
  std::printf("\nlatency at %.0f events/s (half the operator's saturation at max_batch 32), arrival to emission:\n\n", rate);
  std::printf("| max_delay_ms | p50 ms | p99 ms |\n|---:|---:|---:|\n");
  for (int d : {1, 5, 10, 20, 50}) {
    auto [p50, p99] = latency(model, sample.values, rate, d, static_cast<size_t>(rate * 4));
    std::printf("| %d | %.1f | %.1f |\n", d, p50, p99);
    std::fflush(stdout);
  }

  {
    OpHarness h(model, "transforms: [query_values, url_decode], max_batch: 32");
    auto t0 = std::chrono::steady_clock::now();
    for (size_t at = 0; at < sample.queries.size(); at += 256) {
      h.op->process(OpHarness::batch_of(sample.queries, at, std::min<size_t>(256, sample.queries.size() - at)), *h.out);
      h.drain();
    }
    h.op->finish(*h.out);
    double s = Seconds(std::chrono::steady_clock::now() - t0).count();
    const auto& st = h.op->stats();
    std::printf("\nbundled sample, every event through the model with the default cache: %zu events in %.2f s = %.0f events/s; "
                "%llu texts, cache hit rate %.1f%%, %llu forward passes\n",
                sample.queries.size(), s, static_cast<double>(sample.queries.size()) / s,
                static_cast<unsigned long long>(st.texts), 100.0 * static_cast<double>(st.cache_hits) / static_cast<double>(st.texts),
                static_cast<unsigned long long>(st.forwards));
  }

  if (std::filesystem::exists(std::filesystem::path(minilm) / "model.yaml")) {
    auto e = TextModel::load(minilm);
    raw_forward(*e, sample.values, 8, 64);
    std::printf("\n| MiniLM batch | raw forward seq/s |\n|---:|---:|\n");
    for (size_t bs : {1, 8, 32}) std::printf("| %zu | %.0f |\n", bs, raw_forward(*e, sample.values, bs, 512));
  } else {
    std::printf("\nMiniLM: %s not found (models/train/export_minilm.py makes it)\n", minilm.c_str());
  }
  return 0;
}
