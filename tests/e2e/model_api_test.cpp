// Issue 14: the model API of the admin endpoint, read with curl while a
// topology with the bundled transformer and an online classifier runs:
// listing, description with validation figures, verdicts (held to what
// `socstream predict` says of the same texts), explanations, pinning with
// pin_version's rules, live figures, and errors as JSON with their status.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fmt/format.h>

#include <sstream>

#include "tests/support/test_support.hpp"

using namespace socstream::testing;

namespace {

class ModelApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    port_ = 20000 + static_cast<int>((::getpid() + 13) % 20000);
    dir_->write("in.jsonl", "{\"q\":\"id=1\"}\n");
    auto topo = dir_->write("t.yaml", fmt::format(R"(admin: {{address: "127.0.0.1:{}"}}
sources:
  in: {{type: file, path: "{}", follow: true}}
operators:
  parse: {{type: json_parse, inputs: [in], fields: {{q: /q}}}}
  classify: {{type: transformer, inputs: [parse], model: "{}", field: q, versions_dir: "{}"}}
  online: {{type: online_classifier, inputs: [parse], labels: [benign, attack], field: q, min_updates: 0}}
sinks:
  out: {{type: blackhole, inputs: [classify, classify.negative, online, online.negative]}}
)",
                                                  port_, (dir_->path() / "in.jsonl").string(),
                                                  (source_dir() / "models/web-attack-classifier").string(),
                                                  (dir_->path() / "versions").string()));
    run_command(fmt::format("({} run {} >/dev/null 2>{} &)", SOCSTREAM_BIN, topo.string(),
                            (dir_->path() / "err.log").string()));
    // Until the model is loaded and the endpoint answers.
    for (int i = 0; i < 100 && run_command(fmt::format("curl -sf {}/ready", url())).exit_code != 0; ++i) usleep(100000);
  }
  static void TearDownTestSuite() {
    run_command(fmt::format("pkill -TERM -f '{}'", (dir_->path() / "t.yaml").string()));
    sleep(1);
    delete dir_;
  }
  static std::string url() { return fmt::format("http://127.0.0.1:{}", port_); }
  // The body, then a space and the status.
  static std::string call(const std::string& method, const std::string& path, const std::string& body = "") {
    const auto b = dir_->write("body.json", body);
    return run_command(fmt::format("curl -s -w ' %{{http_code}}' -X {} {} {}{}", method,
                                   body.empty() ? "" : "-H 'Content-Type: application/json' --data-binary @" + b.string(),
                                   url(), path))
        .out;
  }
  static std::string log() { return read_file(dir_->path() / "err.log"); }
  static TempDir* dir_;
  static int port_;
};
TempDir* ModelApi::dir_ = nullptr;
int ModelApi::port_ = 0;

}  // namespace

TEST_F(ModelApi, ListsAndDescribesTheModelsItServes) {
  const auto list = call("GET", "/api/ml/models");
  EXPECT_NE(list.find(R"("name":"web-attack-classifier","component":"classify","kind":"transformer")"), std::string::npos)
      << list << log();
  EXPECT_NE(list.find(R"("name":"online","component":"online","kind":"online_classifier")"), std::string::npos) << list;
  EXPECT_EQ(list.substr(list.size() - 4), " 200") << list;
  const auto one = call("GET", "/api/ml/models/web-attack-classifier");
  // model.yaml's validation figures and its labels, as model.yaml gives them.
  EXPECT_NE(one.find(R"("labels":["norm","sqli","xss","path-traversal","cmdi"])"), std::string::npos) << one;
  EXPECT_NE(one.find(R"("accuracy":0.9973)"), std::string::npos) << one;
  EXPECT_NE(one.find(R"("versions":[2])"), std::string::npos) << one;
  // Which of model.yaml's weights files is served (bench/RESULTS.md, "Quantised inference (int8)").
  EXPECT_NE(one.find(R"("precision":"float32","precisions":["float32","int8"])"), std::string::npos) << one;
  EXPECT_NE(one.find(R"("performance":{"texts":)"), std::string::npos) << one;
  EXPECT_NE(call("GET", "/api/ml/models/nosuch").find(R"({"error":"no model 'nosuch'"} 404)"), std::string::npos);
}

TEST_F(ModelApi, PredictsAsTheCommandLineDoes) {
  const auto r = call("POST", "/api/ml/predict", R"({"model":"web-attack-classifier","text":"1' or 1=1 --"})");
  const auto cli = run_socstream(fmt::format("predict --model {} \"1' or 1=1 --\"",
                                             (source_dir() / "models/web-attack-classifier").string()));
  // "sqli 0.9998 norm=..." : the label and its score to four places.
  std::istringstream in(cli.out);
  std::string label, score;
  in >> label >> score;
  ASSERT_FALSE(label.empty()) << cli.err;
  EXPECT_NE(r.find("\"label\":\"" + label + "\",\"score\":" + score.substr(0, 5)), std::string::npos)
      << r << "\n" << cli.out;
  EXPECT_EQ(r.substr(r.size() - 4), " 200") << r;

  const auto batch = call("POST", "/api/ml/batch-predict",
                          R"({"model":"web-attack-classifier","texts":["madrid","<script>alert(1)</script>"]})");
  EXPECT_NE(batch.find(R"({"results":[{"text":"madrid","label":"norm")"), std::string::npos) << batch;
  EXPECT_NE(batch.find(R"({"text":"<script>alert(1)</script>","label":"xss")"), std::string::npos) << batch;

  const auto online = call("POST", "/api/ml/predict", R"({"model":"online","text":"abc"})");
  EXPECT_NE(online.find(R"("trained":true)"), std::string::npos) << online;
  EXPECT_NE(online.find(R"("scores":{"benign":0.500000,"attack":0.500000}})"), std::string::npos)
      << "an online model that learnt nothing is undecided: " << online;
}

TEST_F(ModelApi, ExplainsWhichTokensDroveTheVerdict) {
  const auto r = call("POST", "/api/ml/explain", R"({"model":"web-attack-classifier","text":"id=5 union select password from users"})");
  EXPECT_NE(r.find(R"("label":"sqli")"), std::string::npos) << r;
  EXPECT_NE(r.find(R"("method":"occlusion")"), std::string::npos) << r;
  // The word that makes it an injection is among those that weigh most.
  const size_t tokens = r.find("\"tokens\":[");
  ASSERT_NE(tokens, std::string::npos) << r;
  const std::string top3 = r.substr(tokens, 220);
  EXPECT_TRUE(top3.find("\"union\"") != std::string::npos || top3.find("\"select\"") != std::string::npos) << r;
  const auto online = call("POST", "/api/ml/explain", R"({"model":"online","text":"abc"})");
  EXPECT_NE(online.find(R"("method":"feature weights")"), std::string::npos) << online;
}

TEST_F(ModelApi, PinsWithPinVersionsRules) {
  EXPECT_NE(call("PUT", "/api/ml/models/web-attack-classifier", R"({"version":"7"})")
                .find("has no version 7 (it has 2)\"} 409"),
            std::string::npos);
  const auto pinned = call("PUT", "/api/ml/models/web-attack-classifier", R"({"version":"2"})");
  EXPECT_NE(pinned.find(R"("pinned":2)"), std::string::npos) << pinned;
  const auto latest = call("PUT", "/api/ml/models/web-attack-classifier", R"({"version":"latest"})");
  EXPECT_NE(latest.find(R"("pinned":null)"), std::string::npos) << latest;
  EXPECT_NE(call("PUT", "/api/ml/models/online", R"({"version":"2"})").find("one version"), std::string::npos);
  EXPECT_NE(call("PUT", "/api/ml/models/web-attack-classifier", "{}").find(" 400"), std::string::npos);
}

TEST_F(ModelApi, ErrorsAreJsonWithTheirStatus) {
  EXPECT_NE(call("POST", "/api/ml/predict", "not json").find(R"({"error":"the body is a JSON object"} 400)"),
            std::string::npos);
  EXPECT_NE(call("POST", "/api/ml/predict", R"({"text":"x"})").find("several models"), std::string::npos)
      << "two models served: the request must name one";
  EXPECT_NE(call("GET", "/api/ml/predict").find(" 405"), std::string::npos);
  const auto perf = call("GET", "/api/ml/performance");
  EXPECT_NE(perf.find(R"({"component":"online","performance":{"progressive_accuracy":)"), std::string::npos) << perf;
  // The live figures count what the stream gave the models (one event) and what the API asked.
  const auto metrics = run_command(fmt::format("curl -s {}/metrics", url())).out;
  EXPECT_NE(metrics.find("socstream_model_forward_seconds_count{component_id=\"classify\""), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("socstream_model_progressive_accuracy{component_id=\"online\""), std::string::npos) << metrics;
}
