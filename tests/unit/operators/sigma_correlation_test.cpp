// Sigma correlation rules: each type's window, group keys and aliases,
// chains, the memory bound, and windows that survive a restart with their
// events' acknowledgements held until a snapshot holds them.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/crc.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "engine/ack.hpp"
#include "operators/operators.hpp"
#include "operators/sigma.hpp"
#include "tests/unit/operators/sigma_support.hpp"

using namespace socstream;
using namespace socstream::testing;

namespace {

using Ids = std::vector<std::string>;

// Events carry their own time in `ts`, so windows do not depend on the clock.
const std::string kPipeline = "name: t\ntimestamp: [ts]\nunmapped: any\n";

const std::string kBase = R"(title: Failed logon
id: f1
name: failed_logon
logsource: {product: windows, service: security}
detection:
    sel: {EventID: 4625}
    condition: sel
---
title: Successful logon
id: s1
name: successful_logon
logsource: {product: windows, service: security}
detection:
    sel: {EventID: 4624}
    condition: sel
)";

class Corr {
 public:
  explicit Corr(const std::string& correlations, size_t max_groups = 1000)
      : rig_(kBase + "---\n" + correlations, SigmaRig::Options{.pipeline = kPipeline}),
        c_(rig_.shared(), max_groups) {}
  // The rules an event fires at time `t` seconds: detections that generate, and correlations.
  // `id`: the event's identity (its source position); a new one per call unless given.
  Ids at(int t, const std::string& fields, uint64_t event = 0) {
    Ids out;
    if (!event) event = ++next_id_;
    auto matched = rig_.match("{\"ts\":" + std::to_string(t) + "," + fields + "}");
    fired_.clear();
    for (const auto& id : matched) {
      uint32_t index = 0;
      while (rig_.rules().rules()[index].id != id) ++index;
      if (rig_.rules().generates(index)) out.push_back(id);
      c_.feed(index, t * 1000LL, event, rig_.evaluator(), fired_);
    }
    for (const auto& f : fired_)
      if (rig_.rules().generates(f.rule)) out.push_back(rig_.rules().rules()[f.rule].id);
    return out;
  }
  const std::vector<sigma::Fired>& fired() const { return fired_; }
  sigma::Correlator& correlator() { return c_; }
  SigmaRig& rig() { return rig_; }

 private:
  SigmaRig rig_;
  sigma::Correlator c_;
  std::vector<sigma::Fired> fired_;
  uint64_t next_id_ = 1000;
};

// An event_count correlation over failed_logon by User.
std::string brute_force(const std::string& timespan, int gte) {
  return "title: Brute force\nid: bf\ncorrelation:\n    type: event_count\n    rules: [failed_logon]\n"
         "    group-by: [User]\n    timespan: " + timespan + "\n    condition: {gte: " + std::to_string(gte) + "}\n";
}

const std::string kFail = R"("EventID":4625)";
const std::string kOk = R"("EventID":4624)";

}  // namespace

TEST(SigmaCorrelation, EventCountPerGroupFiresAndStartsOver) {
  Corr c(R"(title: Brute force
id: bf
correlation:
    type: event_count
    rules: [failed_logon]
    group-by: [User]
    timespan: 60s
    condition: {gte: 3}
level: high
)");
  EXPECT_TRUE(c.rig().rules().refused().empty()) << c.rig().rules().summary();
  EXPECT_EQ(c.at(0, kFail + R"(,"User":"bob")"), Ids{}) << "f1 only feeds the correlation (generate: false)";
  EXPECT_EQ(c.at(10, kFail + R"(,"User":"alice")"), Ids{});
  EXPECT_EQ(c.at(20, kFail + R"(,"User":"bob")"), Ids{});
  EXPECT_EQ(c.at(30, kFail + R"(,"User":"bob")"), Ids{"bf"}) << "the third of bob's within 60 s";
  EXPECT_NE(c.fired()[0].explanation.find(R"("group":{"User":"bob"},"count":3)"), std::string::npos)
      << c.fired()[0].explanation;
  EXPECT_EQ(c.at(31, kFail + R"(,"User":"bob")"), Ids{}) << "a fired group starts over";
  EXPECT_EQ(c.at(200, kFail + R"(,"User":"alice")"), Ids{});
  EXPECT_EQ(c.at(205, kFail + R"(,"User":"alice")"), Ids{}) << "alice's first failure left the window";
  EXPECT_EQ(c.at(206, kOk + R"(,"User":"alice")"), Ids{"s1"}) << "a rule no correlation uses alerts alone";
}

TEST(SigmaCorrelation, ValueCountCountsDistinctValues) {
  Corr c(R"(title: Spray
id: spray
correlation:
    type: value_count
    rules: [f1]
    group-by: [IpAddress]
    timespan: 5m
    condition: {field: TargetUserName, gt: 2}
)");
  EXPECT_EQ(c.at(0, kFail + R"(,"IpAddress":"1.2.3.4","TargetUserName":"a")"), Ids{});
  EXPECT_EQ(c.at(1, kFail + R"(,"IpAddress":"1.2.3.4","TargetUserName":"a")"), Ids{});
  EXPECT_EQ(c.at(2, kFail + R"(,"IpAddress":"1.2.3.4","TargetUserName":"b")"), Ids{});
  EXPECT_EQ(c.at(3, kFail + R"(,"IpAddress":"1.2.3.4")"), Ids{}) << "no value, nothing counted";
  EXPECT_EQ(c.at(4, kFail + R"(,"IpAddress":"9.9.9.9","TargetUserName":"c")"), Ids{});
  EXPECT_EQ(c.at(5, kFail + R"(,"IpAddress":"1.2.3.4","TargetUserName":"c")"), Ids{"spray"});
}

TEST(SigmaCorrelation, TemporalAndOrderedWithAliases) {
  Corr c(R"(title: Any order
id: any
correlation:
    type: temporal
    rules: [failed_logon, successful_logon]
    group-by: [who]
    aliases:
        who:
            failed_logon: TargetUserName
            successful_logon: User
    timespan: 10m
    generate: true
---
title: Fail then succeed
id: ordered
correlation:
    type: temporal_ordered
    rules: [failed_logon, successful_logon]
    group-by: [who]
    aliases:
        who:
            failed_logon: TargetUserName
            successful_logon: User
    timespan: 10m
)");
  ASSERT_TRUE(c.rig().rules().refused().empty()) << c.rig().rules().summary();
  // Success first, then failure: temporal fires, temporal_ordered does not.
  EXPECT_EQ(c.at(0, kOk + R"(,"User":"bob")"), Ids{"s1"}) << "generate: true keeps the rules' own alerts";
  EXPECT_EQ(c.at(10, kFail + R"(,"TargetUserName":"bob")"), (Ids{"f1", "any"}));
  // Failure then success for carol: both fire.
  EXPECT_EQ(c.at(20, kFail + R"(,"TargetUserName":"carol")"), Ids{"f1"});
  EXPECT_EQ(c.at(30, kOk + R"(,"User":"carol")"), (Ids{"s1", "any", "ordered"}));
  // Too far apart.
  EXPECT_EQ(c.at(100, kFail + R"(,"TargetUserName":"dave")"), Ids{"f1"});
  EXPECT_EQ(c.at(100 + 601, kOk + R"(,"User":"dave")"), Ids{"s1"});
}

TEST(SigmaCorrelation, AliasesNameRulesByIdOrName) {
  // f1 and s1 are the ids of failed_logon and successful_logon: an alias may
  // name a rule either way, as `rules:` may.
  Corr c(R"(title: By id
id: by_id
correlation:
    type: temporal_ordered
    rules: [f1, successful_logon]
    group-by: [who]
    aliases:
        who:
            f1: TargetUserName
            successful_logon: User
    timespan: 10m
)");
  ASSERT_TRUE(c.rig().rules().refused().empty()) << c.rig().rules().summary();
  EXPECT_EQ(c.at(0, kFail + R"(,"TargetUserName":"bob")"), Ids{});
  EXPECT_EQ(c.at(1, kOk + R"(,"User":"alice")"), Ids{}) << "another user: not bob's window";
  EXPECT_EQ(c.at(2, kOk + R"(,"User":"bob")"), Ids{"by_id"}) << "bob's failure (by TargetUserName) then success";

  Corr clash(R"(title: Two fields for one rule
id: clash
correlation:
    type: temporal
    rules: [failed_logon, successful_logon]
    group-by: [who]
    aliases:
        who:
            failed_logon: TargetUserName
            f1: User
            s1: User
    timespan: 10m
)");
  ASSERT_EQ(clash.rig().refusal_reasons(), Ids{"bad_correlation"});
  EXPECT_NE(clash.rig().rules().refused()[0].message.find("two fields, 'TargetUserName' by its name and 'User' by its id"),
            std::string::npos)
      << clash.rig().rules().refused()[0].message;

  Corr missing(R"(title: An alias for one rule only
id: missing
correlation:
    type: temporal
    rules: [failed_logon, successful_logon]
    group-by: [who]
    aliases:
        who:
            f1: TargetUserName
    timespan: 10m
)");
  ASSERT_EQ(missing.rig().refusal_reasons(), Ids{"bad_correlation"});
  EXPECT_NE(missing.rig().rules().refused()[0].message.find("does not say which field rule 's1' uses"), std::string::npos)
      << missing.rig().rules().refused()[0].message;
}

TEST(SigmaCorrelation, ChainsAndBrokenReferences) {
  Corr c(R"(title: Many failures
id: many
name: many_failures
correlation:
    type: event_count
    rules: [failed_logon]
    group-by: [User]
    timespan: 10m
    condition: {gte: 2}
---
title: Brute force then success
id: chain
correlation:
    type: temporal_ordered
    rules: [many_failures, successful_logon]
    group-by: [User]
    timespan: 10m
---
title: Broken
id: broken
correlation:
    type: event_count
    rules: [no_such_rule]
    group-by: [User]
    timespan: 10m
    condition: {gte: 2}
)");
  ASSERT_EQ(c.rig().refusal_reasons(), Ids{"unknown_rule"});
  EXPECT_EQ(c.at(0, kFail + R"(,"User":"eve")"), Ids{});
  EXPECT_EQ(c.at(1, kFail + R"(,"User":"eve")"), Ids{}) << "'many' fired but only feeds 'chain'";
  EXPECT_EQ(c.at(2, kOk + R"(,"User":"eve")"), Ids{"chain"});
}

TEST(SigmaCorrelation, MemoryIsBounded) {
  Corr c(brute_force("1h", 2),
         100);
  for (int i = 0; i < 1000; ++i) c.at(i, kFail + R"(,"User":"u)" + std::to_string(i) + "\"");
  EXPECT_EQ(c.correlator().groups(), 100u);
  EXPECT_EQ(c.correlator().evictions(), 900u);
  EXPECT_EQ(c.at(1000, kFail + R"(,"User":"u999")"), Ids{"bf"}) << "the most recent groups are kept";
  EXPECT_EQ(c.at(1001, kFail + R"(,"User":"u0")"), Ids{}) << "u0 was evicted";
}

TEST(SigmaCorrelation, SnapshotRoundTripAndDamage) {
  const std::string rule = brute_force("1h", 3);
  Corr a(rule);
  a.at(0, kFail + R"(,"User":"bob")");
  a.at(1, kFail + R"(,"User":"bob")");
  const std::string bytes = a.correlator().save();
  Corr b(rule);
  b.correlator().load(bytes);
  EXPECT_EQ(b.correlator().groups(), 1u);
  EXPECT_EQ(b.at(2, kFail + R"(,"User":"bob")", 5000), Ids{"bf"}) << "the window went on where it stopped";
  for (size_t i = 0; i < bytes.size(); i += 7) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    EXPECT_THROW(b.correlator().load(bad), std::runtime_error) << "flipped byte " << i;
  }
  for (size_t n : {size_t{0}, size_t{5}, bytes.size() - 1}) EXPECT_THROW(b.correlator().load(bytes.substr(0, n)), std::runtime_error);
  // Well-formed but not what save() writes: the same group twice, with a valid checksum.
  std::string body = bytes.substr(0, bytes.size() - 4);
  const size_t record = 12;  // magic, version, count
  std::string twice = body.substr(0, 8);
  const uint32_t two = 2;
  twice.append(reinterpret_cast<const char*>(&two), 4);
  twice += body.substr(record) + body.substr(record);
  boost::crc_32_type crc;
  crc.process_bytes(twice.data(), twice.size());
  const uint32_t sum = static_cast<uint32_t>(crc.checksum());
  twice.append(reinterpret_cast<const char*>(&sum), 4);
  EXPECT_THROW(b.correlator().load(twice), std::runtime_error);
}

namespace {

class Token : public AckToken {
 public:
  Token(std::atomic<int>* done, std::atomic<bool>* ok) : done_(done), ok_(ok) {}
  void on_done(bool all) override {
    ok_->store(all);
    done_->fetch_add(1);
  }

 private:
  std::atomic<int>* done_;
  std::atomic<bool>* ok_;
};

struct OpRig {
  TempDir files;
  Diagnostics diag;
  std::string name = "sigma";
  std::unique_ptr<SigmaOp> op;
  std::unique_ptr<Outputs> out;
  Channel matched{10000, 1 << 24}, other{10000, 1 << 24}, dlq{10000, 1 << 24};
  std::vector<Batch> kept;

  std::unique_ptr<SigmaOp> second;  // another worker of the same component

  // `extra`: more settings, as YAML map entries ("max_groups: 2, status: [test]").
  // `handed_over`: a hot reload's state, given before the operator opens.
  OpRig(const TempDir& state, const std::string& rules, const std::string& extra = "",
        const std::string* handed_over = nullptr) {
    files.write("rules.yml", rules);
    files.write("p.yaml", kPipeline);
    YAML::Node n = YAML::Load("{rules: rules.yml, pipeline: p.yaml, state_dir: '" + (state.path() / "state").string() +
                              "', snapshot_interval_s: 1" + (extra.empty() ? "" : ", " + extra) + "}");
    Settings s(n, name, (files.path() / "t.yaml").string(), files.path(), &diag);
    s.check(sigma_spec().settings);
    op = std::make_unique<SigmaOp>(s);
    second = std::make_unique<SigmaOp>(s);
    if (!diag.ok()) return;
    if (handed_over) op->restore_state(*handed_over);
    op->open();
    out = std::make_unique<Outputs>(&name, op->output_ports());
    out->connect(0, &matched);
    out->connect(1, &other);
    out->connect(2, &dlq);
  }
  // `offset`: the first event's position (events at one position are one event to a window).
  void feed(const std::vector<Fields>& events, AckToken* token, int64_t offset = 0) {
    static const std::string source = "events";
    Batch b = make_batch(&source, events, offset);
    for (auto& e : b.events) e.ack = Ack(token);
    op->process(std::move(b), *out);
  }
};

}  // namespace

TEST(SigmaCorrelation, WindowsSurviveARestartAndHoldAcks) {
  const std::string rules = kBase + "---\n" + brute_force("1h", 3);
  TempDir state;
  std::atomic<int> done{0};
  std::atomic<bool> ok{false};
  {
    OpRig r(state, rules);
    ASSERT_TRUE(r.diag.ok()) << r.diag.str();
    auto* t = new Token(&done, &ok);
    t->set_pending(2);
    r.feed({{{"EventID", "4625"}, {"User", "bob"}, {"ts", "100"}}, {{"EventID", "4625"}, {"User", "bob"}, {"ts", "101"}}}, t);
    // Events that fed no alert leave on nomatch and are completed by whoever reads them.
    auto passed = drain(r.other, r.kept);
    ASSERT_EQ(passed.size(), 2u);
    for (auto& e : passed) e.ack.complete();
    EXPECT_EQ(done.load(), 0) << "the window holds them until a snapshot does";
    r.op->finish(*r.out);  // shutdown writes a snapshot
    EXPECT_EQ(done.load(), 1);
    EXPECT_TRUE(ok.load());
    EXPECT_EQ(r.op->snapshots(), 1u);
  }
  OpRig again(state, rules);
  ASSERT_TRUE(again.diag.ok());
  EXPECT_EQ(again.op->correlator()->groups(), 1u) << "restored at open";
  auto* t = new Token(&done, &ok);
  t->set_pending(1);
  again.feed({{{"EventID", "4625"}, {"User", "bob"}, {"ts", "102"}}}, t, 2);
  auto alerts = drain(again.matched, again.kept);
  ASSERT_EQ(alerts.size(), 1u);
  ASSERT_EQ(alerts[0].rules.size(), 1u);
  EXPECT_EQ(alerts[0].rules[0]->id, "bf");
  EXPECT_EQ(alerts[0].rules[0]->kind, "sigma_correlation");
  EXPECT_NE(std::string(alerts[0].matched[0]).find("\"count\":3"), std::string::npos);
  for (auto& e : alerts) e.ack.complete();
  again.op->finish(*again.out);
  EXPECT_EQ(done.load(), 2);
}

TEST(SigmaCorrelation, AReloadHandsHalfBuiltWindowsToTheNextTopology) {
  const std::string rules = kBase + "---\n" + brute_force("1h", 3);
  TempDir state, other_state;
  std::atomic<int> done{0};
  std::atomic<bool> ok{false};
  std::string handed;
  {
    OpRig r(state, rules);
    ASSERT_TRUE(r.diag.ok()) << r.diag.str();
    auto* t = new Token(&done, &ok);
    t->set_pending(2);
    r.feed({{{"EventID", "4625"}, {"User", "bob"}, {"ts", "100"}}, {{"EventID", "4625"}, {"User", "bob"}, {"ts", "101"}}}, t);
    for (auto& e : drain(r.other, r.kept)) e.ack.complete();
    r.op->finish(*r.out);
    handed = r.op->save_state();
  }
  ASSERT_FALSE(handed.empty());
  // The new topology keeps its windows elsewhere: what it has, it has from the handover.
  OpRig next(other_state, rules, "max_groups: 50", &handed);
  ASSERT_TRUE(next.diag.ok()) << next.diag.str();
  EXPECT_EQ(next.op->correlator()->groups(), 1u);
  auto* t = new Token(&done, &ok);
  t->set_pending(1);
  next.feed({{{"EventID", "4625"}, {"User", "bob"}, {"ts", "102"}}}, t, 2);
  auto alerts = drain(next.matched, next.kept);
  ASSERT_EQ(alerts.size(), 1u) << "two failures before the reload and one after are three";
  EXPECT_EQ(alerts[0].rules[0]->id, "bf");
  for (auto& e : alerts) e.ack.complete();
  next.op->finish(*next.out);
}

TEST(SigmaCorrelation, DamagedSnapshotFallsBackToTheOneBefore) {
  const std::string rules = kBase + "---\n" + brute_force("1h", 3);
  TempDir state;
  std::atomic<int> done{0};
  std::atomic<bool> ok{false};
  for (int run = 0; run < 2; ++run) {
    OpRig r(state, rules);
    auto* t = new Token(&done, &ok);
    t->set_pending(1);
    r.feed({{{"EventID", "4625"}, {"User", "bob"}, {"ts", std::to_string(100 + run)}}}, t, run);
    for (auto& e : drain(r.other, r.kept)) e.ack.complete();
    r.op->finish(*r.out);
  }
  // Two generations: one window entry, then two. Damage the newest.
  std::vector<std::filesystem::path> snaps;
  for (const auto& e : std::filesystem::directory_iterator(state.path() / "state")) snaps.push_back(e.path());
  std::sort(snaps.begin(), snaps.end());
  ASSERT_EQ(snaps.size(), 2u);
  EXPECT_EQ(std::filesystem::status(snaps.back()).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write)
      << "snapshots are 0600";
  std::string bytes = read_file(snaps.back());
  bytes[bytes.size() / 2] ^= 1;
  std::ofstream(snaps.back(), std::ios::binary | std::ios::trunc) << bytes;
  OpRig r(state, rules);
  EXPECT_EQ(r.op->correlator()->groups(), 1u) << "the older snapshot was restored";
  auto* t = new Token(&done, &ok);
  t->set_pending(1);
  r.feed({{{"EventID", "4625"}, {"User", "bob"}, {"ts", "102"}}}, t, 2);
  EXPECT_TRUE(drain(r.matched, r.kept).empty()) << "the older snapshot held one failure, not two";
  for (auto& e : drain(r.other, r.kept)) e.ack.complete();
  r.op->finish(*r.out);
}

TEST(SigmaCorrelation, RedeliveredEventsCountOnce) {
  // Kafka delivers again what was not committed, though a snapshot may hold it.
  Corr c(brute_force("1h", 3));
  EXPECT_EQ(c.at(0, kFail + R"(,"User":"bob")", 1), Ids{});
  EXPECT_EQ(c.at(1, kFail + R"(,"User":"bob")", 2), Ids{});
  EXPECT_EQ(c.at(1, kFail + R"(,"User":"bob")", 2), Ids{}) << "the same event again";
  EXPECT_EQ(c.at(0, kFail + R"(,"User":"bob")", 1), Ids{});
  EXPECT_EQ(c.at(2, kFail + R"(,"User":"bob")", 3), Ids{"bf"});
}

TEST(SigmaCorrelation, OrderedStepsFollowEachOtherAndWindowsStartRight) {
  Corr c(R"(title: Failed logon 2
id: f2
name: failed_again
logsource: {product: windows, service: security}
detection:
    sel: {EventID: 4771}
    condition: sel
---
title: Three steps
id: three
correlation:
    type: temporal_ordered
    rules: [failed_logon, failed_again, successful_logon]
    group-by: [User]
    timespan: 1h
---
title: Both kinds
id: both
correlation:
    type: temporal
    rules: [failed_logon, successful_logon]
    group-by: [User]
    timespan: 1h
)");
  ASSERT_TRUE(c.rig().rules().refused().empty()) << c.rig().rules().summary();
  // A at 1, C at 10, then B arriving with time 5: the order was A, B? No: B came (in event time) before C.
  EXPECT_EQ(c.at(1, kFail + R"(,"User":"x")"), Ids{});
  EXPECT_EQ(c.at(10, kOk + R"(,"User":"x")"), Ids{"both"});
  EXPECT_NE(c.fired()[0].explanation.find(R"("start":"1970-01-01T00:00:01.000Z","end":"1970-01-01T00:00:10.000Z")"),
            std::string::npos)
      << c.fired()[0].explanation;
  EXPECT_EQ(c.at(5, R"("EventID":4771,"User":"x")"), Ids{}) << "step 2 after step 3 in event time: no chain";
  EXPECT_EQ(c.at(20, R"("EventID":4771,"User":"y")"), Ids{});
  EXPECT_EQ(c.at(21, kFail + R"(,"User":"y")"), Ids{});
  EXPECT_EQ(c.at(22, kOk + R"(,"User":"y")"), Ids{"both"}) << "step 2 before step 1: no chain";
  EXPECT_EQ(c.at(30, kFail + R"(,"User":"z")"), Ids{});
  EXPECT_EQ(c.at(31, R"("EventID":4771,"User":"z")"), Ids{});
  EXPECT_EQ(c.at(32, kOk + R"(,"User":"z")"), (Ids{"three", "both"}));
}

TEST(SigmaCorrelation, ConditionsNeedALowerBoundAndFiltersKeepInputs) {
  Corr c(R"(title: Quiet
id: quiet
correlation:
    type: event_count
    rules: [failed_logon]
    group-by: [User]
    timespan: 1h
    condition: {lt: 3}
)");
  EXPECT_EQ(c.rig().refusal_reasons(), Ids{"unsupported_correlation"}) << "decided only when a window closes";
  // min_level: high loads a high correlation and the (level-less) rules it counts.
  TempDir d;
  auto f = d.write("r.yml", kBase + R"(---
title: Brute force
id: bf
level: high
correlation:
    type: event_count
    rules: [failed_logon]
    group-by: [User]
    timespan: 1h
    condition: {gte: 2}
)");
  std::vector<sigma::Refusal> refused;
  auto parsed = sigma::load_rules({f}, refused);
  sigma::CompileOptions o;
  o.min_level = Severity::High;
  sigma::RuleSet rs(parsed, sigma::load_pipeline("none", d.path()), o);
  EXPECT_TRUE(rs.refused().empty()) << rs.summary();
  EXPECT_EQ(rs.correlations().size(), 1u);
  EXPECT_EQ(rs.stats().loaded, 1u) << "failed_logon loads for bf; successful_logon is filtered out";
}

TEST(SigmaOperator, RulesOfAnUpstreamDetectorKeepTheirPlace) {
  // regex_prefilter -> sigma: the event already carries a rule without an explanation.
  TempDir state;
  OpRig r(state, kBase);
  ASSERT_TRUE(r.diag.ok()) << r.diag.str();
  Rule upstream;
  upstream.id = "web-1";
  static const std::string source = "events";
  Batch b = make_batch(&source, {{{"EventID", "4624"}}, {{"EventID", "1"}}});
  for (auto& e : b.events) e.rules.push_back(&upstream);
  r.op->process(std::move(b), *r.out);
  auto matched = drain(r.matched, r.kept);
  ASSERT_EQ(matched.size(), 1u);
  ASSERT_EQ(matched[0].rules.size(), 2u);
  ASSERT_EQ(matched[0].matched.size(), 2u);
  EXPECT_TRUE(matched[0].matched[0].empty()) << "the upstream rule has no Sigma explanation";
  EXPECT_NE(std::string(matched[0].matched[1]).find("selections"), std::string::npos);
  auto other = drain(r.other, r.kept);
  ASSERT_EQ(other.size(), 1u) << "no Sigma rule matched: nomatch, whatever upstream found";
  EXPECT_EQ(other[0].rules.size(), 1u);
}

TEST(SigmaOperator, AFailedSnapshotKeepsEventsHeldAndRetries) {
  const std::string rules = kBase + "---\n" + brute_force("1h", 3);
  TempDir state;
  std::atomic<int> done{0};
  std::atomic<bool> ok{false};
  OpRig r(state, rules);
  ASSERT_TRUE(r.diag.ok()) << r.diag.str();
  // The state directory cannot be made: a file stands in its place.
  std::ofstream(state.path() / "state") << "not a directory";
  auto* t = new Token(&done, &ok);
  t->set_pending(1);
  r.feed({{{"EventID", "4625"}, {"User", "bob"}, {"ts", "100"}}}, t);
  for (auto& e : drain(r.other, r.kept)) e.ack.complete();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  r.op->on_deadline(*r.out);
  EXPECT_EQ(done.load(), 0) << "not written, so not acknowledged, and not abandoned either";
  EXPECT_EQ(r.op->snapshots(), 0u);
  std::filesystem::remove(state.path() / "state");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  r.op->on_deadline(*r.out);
  EXPECT_EQ(done.load(), 1);
  EXPECT_TRUE(ok.load()) << "acknowledged once a snapshot held it";
}

TEST(SigmaOperator, EventsDatedAheadOfTheClockAreHeldToIt) {
  const std::string rules = kBase + "---\n" + brute_force("10m", 3);
  TempDir state;
  std::atomic<int> done{0};
  std::atomic<bool> ok{false};
  OpRig r(state, rules);
  auto* t = new Token(&done, &ok);
  t->set_pending(3);
  // Dated in 2100: taken as the clock plus max_future_s (300 s), so the window closes like any other.
  r.feed({{{"EventID", "4625"}, {"User", "bob"}, {"ts", "4102444800"}},
          {{"EventID", "4625"}, {"User", "bob"}, {"ts", "4102444801"}},
          {{"EventID", "4625"}, {"User", "bob"}, {"ts", "4102444802"}}},
         t);
  auto alerts = drain(r.matched, r.kept);
  ASSERT_EQ(alerts.size(), 1u);
  const std::string doc(alerts[0].matched[0]);
  EXPECT_EQ(doc.find("2100-"), std::string::npos) << doc;
  for (auto& e : alerts) e.ack.complete();
  for (auto& e : drain(r.other, r.kept)) e.ack.complete();
  r.op->finish(*r.out);
}

TEST(SigmaOperator, WorkersShareTheWindows) {
  TempDir state;
  std::atomic<int> done{0};
  std::atomic<bool> ok{false};
  OpRig r(state, kBase + "---\n" + brute_force("1h", 3));
  ASSERT_TRUE(r.diag.ok()) << r.diag.str();
  r.second->open();
  EXPECT_EQ(r.op->correlator(), r.second->correlator()) << "one set of windows for the component";
  auto* t = new Token(&done, &ok);
  t->set_pending(3);
  static const std::string source = "events";
  auto one = [&](SigmaOp& op, int64_t offset) {
    Batch b = make_batch(&source, {{{"EventID", "4625"}, {"User", "bob"}, {"ts", std::to_string(100 + offset)}}}, offset);
    b.events[0].ack = Ack(t);
    op.process(std::move(b), *r.out);
  };
  one(*r.op, 0);
  one(*r.second, 1);
  one(*r.op, 2);
  auto alerts = drain(r.matched, r.kept);
  ASSERT_EQ(alerts.size(), 1u) << "three failures over two workers are one brute force";
  for (auto& e : alerts) e.ack.complete();
  for (auto& e : drain(r.other, r.kept)) e.ack.complete();
  r.op->finish(*r.out);
  r.second->finish(*r.out);
  EXPECT_EQ(done.load(), 1);
  EXPECT_TRUE(ok.load());
}

TEST(SigmaOperator, EvictionsAreLoggedAtMostOnceASecond) {
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));
  struct Restore {
    std::shared_ptr<spdlog::logger> logger;
    ~Restore() { spdlog::set_default_logger(logger); }
  } restore{previous};
  auto evicted = [&] {
    std::vector<std::string> lines;
    std::istringstream in(log.str());
    for (std::string l; std::getline(in, l);)
      if (l.find("evicted to stay within max_groups") != std::string::npos) lines.push_back(l);
    return lines;
  };

  TempDir state;
  std::atomic<int> done{0};
  std::atomic<bool> ok{false};
  OpRig r(state, kBase + "---\n" + brute_force("1h", 3), "max_groups: 2");
  ASSERT_TRUE(r.diag.ok()) << r.diag.str();
  auto* t = new Token(&done, &ok);
  t->set_pending(11);
  // Ten users in one burst: groups 3 to 10 each evict the oldest.
  std::vector<Fields> burst;
  for (int i = 0; i < 10; ++i) burst.push_back({{"EventID", "4625"}, {"User", "u" + std::to_string(i)}, {"ts", std::to_string(100 + i)}});
  r.feed(burst, t);
  EXPECT_EQ(r.op->correlator()->evictions(), 8u);
  auto lines = evicted();
  ASSERT_EQ(lines.size(), 1u) << "eight evictions within a second are one line\n" << log.str();
  EXPECT_NE(lines[0].find("1 correlation group(s) evicted"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("[warning]"), std::string::npos) << lines[0];
  // A second later the next eviction reports those held back.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  r.feed({{{"EventID", "4625"}, {"User", "late"}, {"ts", "200"}}}, t, 10);
  lines = evicted();
  ASSERT_EQ(lines.size(), 2u) << log.str();
  EXPECT_NE(lines[1].find("8 correlation group(s) evicted"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("(9 in all)"), std::string::npos) << lines[1];
  for (auto& e : drain(r.other, r.kept)) e.ack.complete();
  r.op->finish(*r.out);
  EXPECT_NE(log.str().find("9 evicted"), std::string::npos) << "the run's summary counts them all\n" << log.str();
  EXPECT_EQ(done.load(), 1);
}

TEST(SigmaOperator, EventsWithoutFieldsAreDeadLetters) {
  // An event no parser ran on would otherwise pass as benign: it goes to dlq with its reason.
  TempDir state;
  std::atomic<int> done{0};
  std::atomic<bool> ok{false};
  OpRig r(state, kBase);
  ASSERT_TRUE(r.diag.ok()) << r.diag.str();
  auto* t = new Token(&done, &ok);
  t->set_pending(3);
  r.feed({{}, {{"EventID", "4624"}}, {{"EventID", "1"}}}, t);
  auto dead = drain(r.dlq, r.kept);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].error, "no_fields");
  EXPECT_NE(std::string(dead[0].error_detail).find("json_parse with fields: all"), std::string::npos) << dead[0].error_detail;
  ASSERT_NE(dead[0].error_component, nullptr);
  EXPECT_EQ(*dead[0].error_component, "sigma");
  EXPECT_EQ(dead[0].pos.offset, 0) << "the first event of the batch";
  auto matched = drain(r.matched, r.kept);
  ASSERT_EQ(matched.size(), 1u) << "the events with fields still run";
  EXPECT_EQ(matched[0].rules[0]->id, "s1");
  auto other = drain(r.other, r.kept);
  EXPECT_EQ(other.size(), 1u);
  EXPECT_EQ(r.op->stats().no_fields, 1u);
  EXPECT_EQ(r.op->stats().events, 3u);
  for (auto* port : {&dead, &matched, &other})
    for (auto& e : *port) e.ack.complete();
  EXPECT_EQ(done.load(), 1);
  EXPECT_TRUE(ok.load());
}

TEST(SigmaOperator, StatusAndLogSourceSettingsReachTheRules) {
  const std::string rules = R"(title: Stable logon
id: stable
status: stable
logsource: {product: windows, service: security}
detection:
    sel: {EventID: 4624}
    condition: sel
---
title: Test logon
id: test
status: test
logsource: {product: windows, service: security}
detection:
    sel: {EventID: 4624}
    condition: sel
---
title: Sysmon logon-like
id: sysmon
status: stable
logsource: {product: windows, service: sysmon}
detection:
    sel: {EventID: 4624}
    condition: sel
)";
  auto ids = [](const std::vector<Event>& events) {
    Ids out;
    for (const auto& e : events)
      for (const Rule* r : e.rules) out.push_back(r->id);
    return out;
  };
  {
    TempDir state;
    OpRig r(state, rules, "status: [stable], logsource: {product: windows, service: security}");
    ASSERT_TRUE(r.diag.ok()) << r.diag.str();
    EXPECT_EQ(r.op->rules().stats().loaded, 1u);
    EXPECT_EQ(r.op->rules().stats().filtered, 2u);
    r.feed({{{"EventID", "4624"}}}, nullptr);
    EXPECT_EQ(ids(drain(r.matched, r.kept)), Ids{"stable"});
  }
  {
    TempDir state;
    OpRig r(state, rules, "status: test");
    ASSERT_TRUE(r.diag.ok()) << r.diag.str();
    EXPECT_EQ(r.op->rules().stats().filtered, 2u) << "a single status as a string";
    r.feed({{{"EventID", "4624"}}}, nullptr);
    EXPECT_EQ(ids(drain(r.matched, r.kept)), Ids{"test"});
  }
  {
    TempDir state;
    OpRig r(state, rules, "logsource: {os: windows}");
    EXPECT_FALSE(r.diag.ok());
    EXPECT_NE(r.diag.str().find("'os' is not product, category or service"), std::string::npos) << r.diag.str();
  }
}
