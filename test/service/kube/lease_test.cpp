// lease_elector against the Kubernetes API double: one leader among replicas sharing a Lease,
// renewal, and takeover once the holder stopped renewing. Expiry is reached by moving the
// challenger's clock past renewTime + leaseDurationSeconds, not by sleeping.

#include "service/kube/lease.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "service/kube/objects.hpp"
#include "test/service/kube/kube_test_util.hpp"

namespace ferry::kube {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::kube_double;
using test::run;

class kube_lease : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { double_ = new kube_double({"ferry-system"}); }
  static void TearDownTestSuite() {
    delete double_;
    double_ = nullptr;
  }
  void SetUp() override { client_ = test::make_client(ioc_, test::settings_for(*double_)); }

  lease_view read(const std::string& name) {
    auto got = run(ioc_, client_->get(lease_path("ferry-system", name)));
    if (!got) {
      throw std::runtime_error(got.error().message);
    }
    auto view = parse_lease(*got);
    if (!view) {
      throw std::runtime_error(view.error().message);
    }
    return *view;
  }

  static kube_double* double_;
  asio::io_context ioc_;
  std::unique_ptr<client> client_;
};

kube_double* kube_lease::double_ = nullptr;

TEST_F(kube_lease, two_replicas_racing_for_a_new_lease_elect_exactly_one) {
  lease_elector a(*client_, "ferry-system", "race", "replica-a");
  lease_elector b(*client_, "ferry-system", "race", "replica-b");
  auto [ra, rb] = test::run_both(ioc_, a.step(), b.step());
  ASSERT_TRUE(ra.ok()) << ra.error().message;
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  EXPECT_NE(*ra, *rb);
  EXPECT_EQ(a.is_leader(), *ra);
  EXPECT_EQ(b.is_leader(), *rb);
  const auto lease = read("race");
  EXPECT_EQ(lease.holder, *ra ? "replica-a" : "replica-b");
  EXPECT_EQ(lease.transitions, 0);
  EXPECT_EQ(lease.lease_duration_seconds, 15);
  EXPECT_TRUE(parse_micro_time(lease.renew_time).has_value()) << lease.renew_time;

  // Further rounds keep it where it is: the holder renews, the other leaves it.
  for (int i = 0; i < 3; ++i) {
    auto again_a = run(ioc_, a.step());
    auto again_b = run(ioc_, b.step());
    ASSERT_TRUE(again_a.ok() && again_b.ok());
    EXPECT_EQ(*again_a, *ra);
    EXPECT_EQ(*again_b, *rb);
  }
  EXPECT_EQ(read("race").transitions, 0);
  // Every write was one the API server accepts (a 409 from a lost create race is expected).
  auto violations = double_->control(boost::beast::http::verb::get, "/_double/violations");
  const auto list = boost::json::parse(violations.body);
  for (const auto& v : list.as_array()) {
    EXPECT_EQ(v.at("status").to_number<int>(), 409) << boost::json::serialize(v);
  }
}

TEST_F(kube_lease, renewal_moves_renew_time) {
  lease_elector a(*client_, "ferry-system", "renew", "replica-a");
  auto now = std::chrono::system_clock::now();
  a.set_clock([&] { return now; });
  ASSERT_TRUE(*run(ioc_, a.step()));
  const auto first = read("renew");
  now += 3s;
  ASSERT_TRUE(*run(ioc_, a.step()));
  const auto second = read("renew");
  EXPECT_EQ(second.holder, "replica-a");
  EXPECT_EQ(second.acquire_time, first.acquire_time);
  EXPECT_EQ(*parse_micro_time(second.renew_time) - *parse_micro_time(first.renew_time), 3s);
  EXPECT_NE(second.meta.resource_version, first.meta.resource_version);
}

TEST_F(kube_lease, a_lease_not_renewed_in_time_is_taken_over) {
  lease_elector a(*client_, "ferry-system", "takeover", "replica-a", 2s);
  lease_elector b(*client_, "ferry-system", "takeover", "replica-b", 2s);
  auto b_now = std::chrono::system_clock::now();
  b.set_clock([&] { return b_now; });
  ASSERT_TRUE(*run(ioc_, a.step()));
  ASSERT_FALSE(*run(ioc_, b.step()));
  // replica-a stops renewing; once renewTime + 2 s is in b's past, b takes over.
  b_now += 3s;
  auto took = run(ioc_, b.step());
  ASSERT_TRUE(took.ok()) << took.error().message;
  EXPECT_TRUE(*took);
  EXPECT_TRUE(b.is_leader());
  const auto lease = read("takeover");
  EXPECT_EQ(lease.holder, "replica-b");
  EXPECT_EQ(lease.transitions, 1);
  EXPECT_EQ(lease.acquire_time, lease.renew_time);
  // The old holder comes back: it sees b's fresh lease and steps down.
  auto back = run(ioc_, a.step());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_FALSE(*back);
  EXPECT_FALSE(a.is_leader());
}

TEST_F(kube_lease, a_lost_write_race_means_not_leader) {
  lease_elector a(*client_, "ferry-system", "cas", "replica-a", 2s);
  lease_elector b(*client_, "ferry-system", "cas", "replica-b", 2s);
  lease_elector c(*client_, "ferry-system", "cas", "replica-c", 2s);
  ASSERT_TRUE(*run(ioc_, a.step()));
  const auto later = std::chrono::system_clock::now() + 5s;
  b.set_clock([&] { return later; });
  c.set_clock([&] { return later; });
  auto [rb, rc] = test::run_both(ioc_, b.step(), c.step());
  ASSERT_TRUE(rb.ok()) << rb.error().message;
  ASSERT_TRUE(rc.ok()) << rc.error().message;
  EXPECT_NE(*rb, *rc);  // both read the expired lease; one PUT wins, the other gets 409
  EXPECT_EQ(read("cas").transitions, 1);
}

TEST_F(kube_lease, a_lease_outside_the_allowed_namespaces_is_an_error) {
  lease_elector a(*client_, "kube-system", "ferry", "replica-a");
  auto r = run(ioc_, a.step());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, error_kind::invalid_input);
  EXPECT_FALSE(a.is_leader());
}

}  // namespace
}  // namespace ferry::kube
