// The maintenance work (handlers/maintenance.hpp) called directly, in process, against the
// GitHub double and the Kubernetes double (test/support/handler_double.hpp): the sweep of failed
// deliveries and the resume of pending applies, each once however often it runs. The loop that
// calls them (Lease or not) is covered through `ferry serve` in test/e2e/loop_e2e_test.cpp and
// maintenance_e2e_test.cpp.
#include <gtest/gtest.h>

#include "handlers/maintenance.hpp"
#include "test/support/handler_double.hpp"

namespace {

using ferry::test::e2e::handler_double_test;
namespace http = boost::beast::http;
namespace json = boost::json;

class maintenance : public handler_double_test {
 protected:
  ferry::result<int> sweep() {
    const ferry::log::logger log;
    auto out =
        run(ferry::handlers::redeliver_failed(settings_, log, std::chrono::system_clock::now()));
    if (!out) {
      return ferry::make_error(ferry::error_kind::internal, "the sweep did not finish");
    }
    return *out;
  }

  ferry::result<int> resume() {
    const ferry::log::logger log;
    auto out = run(
        ferry::handlers::resume_pending_applies(ferry::handlers::share_settings(settings_), log));
    if (!out) {
      return ferry::make_error(ferry::error_kind::internal, "the resume did not finish");
    }
    return *out;
  }

  std::vector<std::string> redelivered() {
    std::vector<std::string> out;
    const auto all = json::parse(control(http::verb::get, "/_double/redeliveries").body);
    for (const auto& r : all.as_array()) {
      out.emplace_back(r.as_object().at("guid").as_string());
    }
    return out;
  }

  std::string main_head() {
    return std::string(infra_state().at("refs").as_object().at("refs/heads/main").as_string());
  }
};

// Only the failure that never succeeded since, and is recent, is asked for; a second sweep finds
// its redelivery recorded and asks for nothing.
TEST_F(maintenance, the_sweep_redelivers_recent_failures_once) {
  seed_failed_deliveries();
  auto n = sweep();
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(redelivered(), std::vector<std::string>{"failed-once"});
  n = sweep();
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(redelivered(), std::vector<std::string>{"failed-once"});
}

TEST_F(maintenance, a_github_failure_listing_deliveries_is_an_error_not_a_silent_zero) {
  seed_failed_deliveries();
  const std::string fault = json::serialize(json::value{
      {"method", "GET"}, {"path_regex", "^/app/hook/deliveries"}, {"status", 502}, {"count", 20}});
  ASSERT_EQ(control(http::verb::post, "/_double/faults", fault).status / 100, 2);
  const auto n = sweep();
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().kind, ferry::error_kind::transient) << n.error().message;
  EXPECT_TRUE(redelivered().empty());
}

// A replica died while following staging's apply: the pending status on the default branch's
// head is the state. The resume triggers (idempotently) and follows it to its final status.
TEST_F(maintenance, a_pending_apply_is_resumed_and_reported) {
  use_kube({"flux-system"});
  seed_flux();
  const auto ready = kube_->control(http::verb::post, "/_double/flux-mode",
                                    R"({"mode": "ready", "delay_ms": 50})");
  ASSERT_EQ(ready.status, 200) << ready.body;
  const std::string head = main_head();

  // Nothing pending: nothing resumed.
  auto n = resume();
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 0);

  const auto pending = github(
      http::verb::post, "/repos/dine-together/infra/statuses/" + head,
      R"({"state": "pending", "context": "ferry/apply/staging", "description": "applying"})");
  ASSERT_EQ(pending.status, 201) << pending.body;
  n = resume();
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 1);
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "success"; }))
      << json::serialize(infra_state().at("statuses"));
}

}  // namespace
