// SIGTERM while a delivery is in flight (issue 10.5; SPEC "Deployment": the preStop delay, then
// the drain): the real `ferry serve` stops taking new connections but lets the delivery finish
// and answer, then exits 0. Before, the in-flight delivery was answered 503.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <future>
#include <string>

#include "service/replay.hpp"
#include "test/support/serve_double.hpp"

namespace {

using namespace ferry::test::e2e;  // the shared fixture's helpers (test/support/serve_double.hpp)

class drain_e2e : public serve_double_test {};

TEST_F(drain_e2e, sigterm_lets_an_in_flight_delivery_finish_and_exits_0) {
  ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/settings",
                    R"({"auto_merge_clean": false})")
                .status,
            200);
  // GitHub is slow to answer the delivery's read: the delivery is mid-way when SIGTERM comes.
  ASSERT_EQ(control(http::verb::post, "/_double/faults",
                    R"({"method": "POST", "operation": "repository", "delay_ms": 2000})")
                .status,
            201);
  const std::string payload =
      ghcr_package_payload("app", "sha-9f8e7d6", "sha256:" + std::string(64, 'd'));
  ferry::service::replay_target target{
      "http://127.0.0.1:" + std::to_string(ferry_port_) + "/webhook", k_secret,
      std::chrono::seconds(30)};
  auto delivery = std::async(std::launch::async, [&]() {
    return ferry::service::post_delivery(
        target, {"package", "55555555-2222-4333-8444-555555555555", payload});
  });
  ASSERT_TRUE(eventually([&]() {
    const auto listed = json::parse(control(http::verb::get, "/_double/faults").body);
    return listed.as_array()[0].as_object().at("hits").as_int64() > 0;
  }));
  const std::string log_before = ferry_->log();
  const int exit_code = ferry_->stop();  // SIGTERM, then waits for the exit
  const auto answered = delivery.get();
  ASSERT_TRUE(answered.ok()) << answered.error().message << "\n" << log_before;
  EXPECT_EQ(answered->status, 200) << ferry_->log();
  EXPECT_EQ(exit_code, 0) << ferry_->log();
  EXPECT_EQ(infra_state().at("pulls").as_array().size(), 1u) << ferry_->log();
}

}  // namespace
