#include "service/metrics.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "service/limits.hpp"

namespace ferry::service {
namespace {

TEST(metrics, renders_text_exposition_format) {
  metric_registry reg;
  auto& requests = reg.add_counter("ferry_test_requests_total", "Requests by code.", {"code"});
  auto& temp = reg.add_gauge("ferry_test_temperature", "A gauge.");
  auto& latency = reg.add_histogram("ferry_test_latency_seconds", "Latency.", {}, {0.25, 0.5, 1});
  requests.with({"200"}).inc();
  requests.with({"200"}).inc(2);
  requests.with({"503"}).inc();
  temp.with({}).set(-1.5);
  auto& h = latency.with({});
  h.observe(0.125);
  h.observe(0.25);  // "le" is inclusive: counts in the 0.25 bucket
  h.observe(0.75);
  h.observe(3);
  EXPECT_EQ(reg.render(),
            "# HELP ferry_test_requests_total Requests by code.\n"
            "# TYPE ferry_test_requests_total counter\n"
            "ferry_test_requests_total{code=\"200\"} 3\n"
            "ferry_test_requests_total{code=\"503\"} 1\n"
            "# HELP ferry_test_temperature A gauge.\n"
            "# TYPE ferry_test_temperature gauge\n"
            "ferry_test_temperature -1.5\n"
            "# HELP ferry_test_latency_seconds Latency.\n"
            "# TYPE ferry_test_latency_seconds histogram\n"
            "ferry_test_latency_seconds_bucket{le=\"0.25\"} 2\n"
            "ferry_test_latency_seconds_bucket{le=\"0.5\"} 2\n"
            "ferry_test_latency_seconds_bucket{le=\"1\"} 3\n"
            "ferry_test_latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "ferry_test_latency_seconds_sum 4.125\n"
            "ferry_test_latency_seconds_count 4\n");
}

TEST(metrics, labelled_histogram_and_escaping) {
  metric_registry reg;
  auto& h = reg.add_histogram("ferry_test_h", "Help with \\ and\nnewline.", {"path"}, {1});
  h.with({"a\"b\\c\nd"}).observe(2);
  auto& g = reg.add_gauge("ferry_test_g", "G.", {"repo"});
  g.with({"o/r"}).set(std::numeric_limits<double>::infinity());
  EXPECT_EQ(reg.render(),
            "# HELP ferry_test_h Help with \\\\ and\\nnewline.\n"
            "# TYPE ferry_test_h histogram\n"
            "ferry_test_h_bucket{path=\"a\\\"b\\\\c\\nd\",le=\"1\"} 0\n"
            "ferry_test_h_bucket{path=\"a\\\"b\\\\c\\nd\",le=\"+Inf\"} 1\n"
            "ferry_test_h_sum{path=\"a\\\"b\\\\c\\nd\"} 2\n"
            "ferry_test_h_count{path=\"a\\\"b\\\\c\\nd\"} 1\n"
            "# HELP ferry_test_g G.\n"
            "# TYPE ferry_test_g gauge\n"
            "ferry_test_g{repo=\"o/r\"} +Inf\n");
}

TEST(metrics, numbers_render_as_prometheus_parses_them) {
  metric_registry reg;
  auto& g = reg.add_gauge("ferry_test_g", "G.", {"v"});
  g.with({"small"}).set(0.00001);
  g.with({"plain"}).set(1000000);
  g.with({"huge"}).set(1e21);
  g.with({"negative"}).set(-0.25);
  g.with({"nan"}).set(std::numeric_limits<double>::quiet_NaN());
  g.with({"zero"}).set(0);
  const std::string text = reg.render();
  for (const char* line : {
           "ferry_test_g{v=\"small\"} 1e-05\n",
           "ferry_test_g{v=\"plain\"} 1000000\n",
           "ferry_test_g{v=\"huge\"} 1e+21\n",
           "ferry_test_g{v=\"negative\"} -0.25\n",
           "ferry_test_g{v=\"nan\"} NaN\n",
           "ferry_test_g{v=\"zero\"} 0\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << text;
  }
}

TEST(metrics, series_are_stable_and_shared) {
  metric_registry reg;
  auto& f = reg.add_counter("ferry_test_total", "T.", {"a", "b"});
  counter& x = f.with({"1", "2"});
  EXPECT_EQ(&x, &f.with({"1", "2"}));
  EXPECT_NE(&x, &f.with({"2", "1"}));
  EXPECT_THROW(f.with({"only one"}), std::invalid_argument);
}

TEST(metrics, label_sets_are_bounded) {
  metric_registry reg;
  auto& f = reg.add_counter("ferry_test_total", "T.", {"k"});
  for (std::size_t i = 0; i < limits::k_metric_series_max; ++i) {
    f.with({std::to_string(i)}).inc();
  }
  counter& over1 = f.with({"new-1"});
  counter& over2 = f.with({"new-2"});
  EXPECT_EQ(&over1, &over2);
  over1.inc();
  over2.inc();
  const std::string text = reg.render();
  EXPECT_NE(text.find("ferry_test_total{k=\"overflow\"} 2\n"), std::string::npos);
  EXPECT_EQ(text.find("new-1"), std::string::npos);
  // Label sets seen before the bound still resolve to their own series.
  EXPECT_EQ(f.with({"7"}).value(), 1u);
}

TEST(metrics, registration_errors_are_refused) {
  metric_registry reg;
  EXPECT_THROW(reg.add_counter("requests_total", "no ferry_ prefix"), std::invalid_argument);
  EXPECT_THROW(reg.add_counter("ferry_bad-name", "dash"), std::invalid_argument);
  EXPECT_THROW(reg.add_counter("ferry_x", "reserved label", {"__x"}), std::invalid_argument);
  EXPECT_THROW(reg.add_counter("ferry_x", "dup label", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(reg.add_histogram("ferry_h", "le label", {"le"}, {1}), std::invalid_argument);
  EXPECT_THROW(reg.add_histogram("ferry_h", "unsorted", {}, {2, 1}), std::invalid_argument);
  EXPECT_THROW(reg.add_histogram("ferry_h", "empty", {}, {}), std::invalid_argument);
  reg.add_counter("ferry_once", "ok");
  EXPECT_THROW(reg.add_gauge("ferry_once", "twice"), std::invalid_argument);
}

TEST(metrics, concurrent_updates_and_first_sight_lose_nothing) {
  metric_registry reg;
  auto& f = reg.add_counter("ferry_test_total", "T.", {"k"});
  constexpr int k_threads = 4;
  constexpr int k_per_thread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&f, t] {
      for (int i = 0; i < k_per_thread; ++i) {
        f.with({std::to_string(i % 8)}).inc();
        f.with({"thread" + std::to_string(t)}).inc();
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  std::uint64_t shared = 0;
  for (int k = 0; k < 8; ++k) {
    shared += f.with({std::to_string(k)}).value();
  }
  EXPECT_EQ(shared, static_cast<std::uint64_t>(k_threads * k_per_thread));
  for (int t = 0; t < k_threads; ++t) {
    EXPECT_EQ(f.with({"thread" + std::to_string(t)}).value(),
              static_cast<std::uint64_t>(k_per_thread));
  }
}

TEST(metrics, ferry_metrics_are_registered) {
  metrics m;
  m.deliveries.with({"push", "done"}).inc();
  m.delivery_duration.observe(0.0003);
  m.github_api_calls.with({"200"}).inc();
  m.github_rate_limit_remaining.set(4999);
  m.github_write_budget_remaining.with({"7"}).set(79);
  m.github_writes_deferred.with({"7"}).inc();
  m.github_secondary_limits.inc();
  m.pull_requests.with({"opened"}).inc();
  m.applies.with({"success"}).inc();
  m.rules_valid.with({"acme/infra"}).set(1);
  const std::string text = m.registry.render();
  for (const char* line : {
           "# TYPE ferry_deliveries_total counter\n",
           "ferry_deliveries_total{event=\"push\",outcome=\"done\"} 1\n",
           "# TYPE ferry_delivery_duration_seconds histogram\n",
           "ferry_delivery_duration_seconds_bucket{le=\"0.0005\"} 1\n",
           "ferry_delivery_duration_seconds_bucket{le=\"10\"} 1\n",
           "ferry_delivery_duration_seconds_count 1\n",
           "ferry_github_api_calls_total{status=\"200\"} 1\n",
           "ferry_github_rate_limit_remaining 4999\n",
           "ferry_github_write_budget_remaining{installation=\"7\"} 79\n",
           "ferry_github_writes_deferred_total{installation=\"7\"} 1\n",
           "ferry_github_secondary_limit_responses_total 1\n",
           "ferry_pull_requests_total{action=\"opened\"} 1\n",
           "ferry_applies_total{outcome=\"success\"} 1\n",
           "ferry_rules_valid{repo=\"acme/infra\"} 1\n",
           "ferry_http_connections_active 0\n",
           "# TYPE ferry_webhook_rejections_total counter\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace ferry::service
