// Fleet mode (service/apply/fleet.hpp): the forced-sync patch, and the verdict over the GitRepo
// status Fleet writes (fields from rancher/fleet gitrepo_types.go, bundle_types.go).

#include "service/apply/fleet.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>

namespace ferry::apply {
namespace {

const std::string k_pushed = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";
const std::string k_child = "1111111111111111111111111111111111111111";
const std::string k_older = "2222222222222222222222222222222222222222";

bool at_or_after_pushed(std::string_view c) {
  return c == k_pushed || c == k_child;
}

kube::fleet_view gitrepo(const std::string& json) {
  auto g = kube::parse_fleet(json);
  EXPECT_TRUE(g.ok()) << (g ? "" : g.error().message);
  return g ? *g : kube::fleet_view{};
}

// A GitRepo at `generation` with Fleet's status after deploying `commit`.
std::string with_status(int generation, int observed, const std::string& commit,
                        const std::string& ready, int ready_count, int desired,
                        const std::string& extra = "") {
  return R"({"apiVersion":"fleet.cattle.io/v1alpha1","kind":"GitRepo",
    "metadata":{"name":"apps","namespace":"fleet-default","generation":)" +
         std::to_string(generation) + R"(},
    "spec":{"repo":"https://github.com/o/infra","forceSyncGeneration":3},
    "status":{"observedGeneration":)" +
         std::to_string(observed) + R"(,"commit":")" + commit +
         R"(","readyClusters":1,"desiredReadyClusters":1,
      "conditions":[{"type":"Ready","status":")" +
         ready + R"(","message":"waiting"}],
      "summary":{"ready":)" +
         std::to_string(ready_count) + R"(,"desiredReady":)" + std::to_string(desired) + extra +
         "}}}";
}

TEST(fleet_force_sync_patch, increments_once_per_commit) {
  const auto g = gitrepo(with_status(4, 4, k_older, "True", 2, 2));
  EXPECT_EQ(g.force_sync_generation, 3);
  const auto patch = fleet_force_sync_patch(g, k_pushed);
  ASSERT_TRUE(patch);
  const auto v = boost::json::parse(*patch).as_object();
  EXPECT_EQ(v.at("spec").at("forceSyncGeneration").as_int64(), 4);
  EXPECT_EQ(v.at("metadata").at("labels").at("ferry.dev/commit").as_string(), k_pushed);
  // Forced for this commit already (a resume, a redelivery): nothing more.
  auto labelled = g;
  labelled.meta.labels["ferry.dev/commit"] = k_pushed;
  EXPECT_FALSE(fleet_force_sync_patch(labelled, k_pushed));
  EXPECT_TRUE(fleet_force_sync_patch(labelled, k_child));
}

TEST(judge_gitrepo, table) {
  struct row {
    const char* name;
    std::string json;
    fleet_verdict want;
    const char* message;
  };
  const row rows[] = {
      {"ready at the pushed commit, every bundle ready", with_status(4, 4, k_pushed, "True", 3, 3),
       fleet_verdict::succeeded, "Ready at 9f8e7d6c5b4a, 3/3 bundle deployments ready"},
      {"at a descendant", with_status(4, 4, k_child, "True", 1, 1), fleet_verdict::succeeded,
       "Ready at 111111111111"},
      {"stale: ready at an older commit", with_status(4, 4, k_older, "True", 3, 3),
       fleet_verdict::waiting, "at commit 222222222222, not yet the pushed commit"},
      {"the forced sync not seen yet", with_status(5, 4, k_pushed, "True", 3, 3),
       fleet_verdict::waiting, "generation 5 not handled yet (observed 4)"},
      {"bundles still rolling out", with_status(4, 4, k_pushed, "False", 1, 3),
       fleet_verdict::waiting, "Ready=False, 1/3 bundle deployments ready"},
      {"ready condition true but a bundle behind", with_status(4, 4, k_pushed, "True", 2, 3),
       fleet_verdict::waiting, "2/3"},
      {"errApplied at ours: Fleet's message",
       with_status(4, 4, k_pushed, "False", 2, 3,
                   R"(,"errApplied":1,"nonReadyResources":[{"name":"apps-web",
                   "bundleState":"ErrApplied","message":"helm install failed: image not found"}])"),
       fleet_verdict::failed, "ErrApplied (1 bundle deployments): apps-web ErrApplied: helm"},
      {"errApplied at an older commit never counts",
       with_status(4, 4, k_older, "False", 2, 3, R"(,"errApplied":1)"), fleet_verdict::waiting,
       "not yet the pushed commit"},
  };
  for (const auto& r : rows) {
    const auto p = judge_gitrepo(gitrepo(r.json), at_or_after_pushed);
    EXPECT_EQ(p.verdict, r.want) << r.name << ": " << p.message;
    EXPECT_NE(p.message.find(r.message), std::string::npos) << r.name << ": " << p.message;
  }
  auto stalled = gitrepo(with_status(4, 4, k_pushed, "False", 0, 1));
  stalled.conditions.push_back(
      {"Stalled", "True", "", "git clone failed: authentication required"});
  const auto p = judge_gitrepo(stalled, at_or_after_pushed);
  EXPECT_EQ(p.verdict, fleet_verdict::failed);
  EXPECT_EQ(p.message, "Stalled: git clone failed: authentication required");
}

TEST(parse_fleet, malformed_documents_are_errors) {
  EXPECT_FALSE(kube::parse_fleet(R"({"spec":{"forceSyncGeneration":"1"}})").ok());
  EXPECT_FALSE(kube::parse_fleet(R"({"status":{"commit":7}})").ok());
  EXPECT_FALSE(kube::parse_fleet(R"({"status":{"summary":{"ready":"x"}}})").ok());
  EXPECT_FALSE(kube::parse_fleet(R"({"status":{"summary":{"nonReadyResources":{}}}})").ok());
  EXPECT_FALSE(kube::parse_fleet("[]").ok());
  const auto empty = gitrepo(R"({"metadata":{"name":"apps"}})");
  EXPECT_TRUE(empty.commit.empty());
  EXPECT_EQ(kube::fleet_gitrepo_path("fleet-default", "apps"),
            "/apis/fleet.cattle.io/v1alpha1/namespaces/fleet-default/gitrepos/apps");
}

}  // namespace
}  // namespace ferry::apply
