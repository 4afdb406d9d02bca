// The maintenance loop outside a cluster (issue 10, "no silent drop"): with no Kubernetes API
// there is no Lease to share the sweep, so every replica sweeps failed deliveries itself and
// says so in its log. The real `ferry serve` (no FERRY_KUBE_*) against the GitHub double; the
// Lease-holder case is in loop_e2e_test.cpp.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>

#include "test/support/serve_double.hpp"

namespace {

using namespace ferry::test::e2e;  // the shared fixture's helpers (test/support/serve_double.hpp)

class maintenance_outside_cluster_e2e : public serve_double_test {
 protected:
  void before_ferry() override { seed_failed_deliveries(); }
};

TEST_F(maintenance_outside_cluster_e2e, every_replica_redelivers_recent_failures_without_a_lease) {
  const auto guids = redeliveries_once_asked_for("failed-once");
  EXPECT_EQ(guids, std::vector<std::string>{"failed-once"}) << ferry_->log();
  EXPECT_NE(ferry_->log().find("no Kubernetes API: this replica sweeps failed deliveries itself"),
            std::string::npos)
      << ferry_->log();
}

}  // namespace
