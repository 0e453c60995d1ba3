// The metrics registry: the Prometheus text format (one HELP/TYPE per family,
// its samples together, escaped labels, cumulative histogram buckets), series
// shared by name and labels, hidden groups, and counts carried across a
// reload's swap.
#include "engine/metrics.hpp"

#include <gtest/gtest.h>

using namespace socstream;

namespace {
size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

TEST(Metrics, OneFamilyOneHeaderAndItsSamplesTogether) {
  MetricsRegistry r;
  MetricGroup a(r, {{"component_id", "a"}}), b(r, {{"component_id", "b\"x\\y\nz"}});
  a.counter("t_events_total", "Events.").inc(3);
  a.gauge("t_fill", "Fill.").set(0.5);
  b.counter("t_events_total", "Events.").inc(4);
  const auto text = r.prometheus_text();
  EXPECT_EQ(count(text, "# TYPE t_events_total counter"), 1u) << text;
  EXPECT_NE(text.find("t_events_total{component_id=\"a\"} 3\nt_events_total{component_id=\"b\\\"x\\\\y\\nz\"} 4\n"),
            std::string::npos)
      << "a family's samples follow one another, labels escaped:\n" << text;
  EXPECT_NE(text.find("t_fill{component_id=\"a\"} 0.5\n"), std::string::npos) << text;
}

TEST(Metrics, TheSameNameAndLabelsAreTheSameSeries) {
  MetricsRegistry r;
  MetricGroup g(r, {});
  Counter& x = g.counter("t_total", "T.", {{"output", "dlq"}});
  Counter& y = g.counter("t_total", "T.", {{"output", "dlq"}});
  Counter& z = g.counter("t_total", "T.", {{"output", "default"}});
  EXPECT_EQ(&x, &y);
  EXPECT_NE(&x, &z);
}

TEST(Metrics, HistogramBucketsAreCumulativeAndInclusive) {
  MetricsRegistry r;
  MetricGroup g(r, {});
  Histogram& h = g.histogram("t_seconds", "T.", {0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 1.0, 20.0}) h.observe(v);
  const auto text = r.prometheus_text();
  for (const char* line : {"t_seconds_bucket{le=\"0.1\"} 2\n", "t_seconds_bucket{le=\"1\"} 4\n",
                           "t_seconds_bucket{le=\"10\"} 4\n", "t_seconds_bucket{le=\"+Inf\"} 5\n",
                           "t_seconds_count 5\n", "t_seconds_sum 21.65\n", "# TYPE t_seconds histogram"})
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
}

TEST(Metrics, AHiddenGroupIsNotScrapedAndARetiredOneCarriesItsCounts) {
  MetricsRegistry r;
  auto old = std::make_unique<MetricGroup>(r, Labels{{"component_id", "p"}});
  old->counter("t_total", "T.").inc(10);
  old->gauge("t_gauge", "G.").set(7);
  // The next topology's group, built while the old one runs.
  auto next = std::make_unique<MetricGroup>(r, Labels{{"component_id", "p"}});
  next->hide();
  next->counter("t_total", "T.").inc(2);
  auto text = r.prometheus_text();
  EXPECT_EQ(count(text, "t_total{component_id=\"p\"}"), 1u) << "never twice:\n" << text;
  EXPECT_NE(text.find("t_total{component_id=\"p\"} 10\n"), std::string::npos) << text;
  old->retire();
  next->show();
  old.reset();
  text = r.prometheus_text();
  EXPECT_NE(text.find("t_total{component_id=\"p\"} 12\n"), std::string::npos) << "the count goes on:\n" << text;
  EXPECT_EQ(text.find("t_gauge"), std::string::npos) << "a gauge is the moment's, it does not carry:\n" << text;
  // A group that was never shown (a reload swapped nothing in) carries nothing.
  auto never = std::make_unique<MetricGroup>(r, Labels{{"component_id", "q"}});
  never->hide();
  never->counter("t_total", "T.").inc(5);
  never.reset();
  MetricGroup q(r, {{"component_id", "q"}});
  q.counter("t_total", "T.");
  EXPECT_NE(r.prometheus_text().find("t_total{component_id=\"q\"} 0\n"), std::string::npos);
}

TEST(Metrics, CollectorsAnswerAtScrapeTime) {
  MetricsRegistry r;
  MetricGroup g(r, {{"component_id", "k"}});
  int lag = 5;
  g.collect("t_lag", "Lag.", MetricType::Gauge, [&](std::vector<MetricSample>& out) {
    out.push_back({{{"partition", "0"}}, static_cast<double>(lag)});
  });
  EXPECT_NE(r.prometheus_text().find("t_lag{component_id=\"k\",partition=\"0\"} 5\n"), std::string::npos);
  lag = 9;
  EXPECT_NE(r.prometheus_text().find("t_lag{component_id=\"k\",partition=\"0\"} 9\n"), std::string::npos);
}
