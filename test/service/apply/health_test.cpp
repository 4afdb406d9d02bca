// Flux mode's health checks (service/apply/health.hpp): the HelmRelease and Deployment
// verdicts from the objects as their controllers write them, and which HelmReleases of an
// inventory a pushed commit touched.

#include "service/apply/health.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ferry::apply {
namespace {

kube::workload_view parsed(const std::string& json) {
  auto w = kube::parse_workload(json);
  EXPECT_TRUE(w.ok()) << (w ? "" : w.error().message);
  return w ? *w : kube::workload_view{};
}

// A HelmRelease at generation `generation` whose helm-controller status is `status`.
std::string helmrelease(int generation, const std::string& status) {
  return R"({"apiVersion":"helm.toolkit.fluxcd.io/v2","kind":"HelmRelease",
             "metadata":{"name":"app","namespace":"flux-system","generation":)" +
         std::to_string(generation) + R"(},"status":)" + status + "}";
}

TEST(judge_helmrelease, table) {
  struct row {
    const char* name;
    int generation;
    std::string status;
    health_verdict want;
    const char* message_has;
  };
  const row rows[] = {
      {"ready at its generation", 2,
       R"({"observedGeneration":2,"conditions":[
            {"type":"Ready","status":"True","reason":"UpgradeSucceeded",
             "message":"Helm upgrade succeeded for release apps/app.v3 with chart app@1.2.3"},
            {"type":"Released","status":"True","reason":"UpgradeSucceeded","message":"ok"}]})",
       health_verdict::ready, "Helm upgrade succeeded"},
      // The release was Ready for generation 1; the Kustomization just applied generation 2.
      {"a stale Ready never counts", 2,
       R"({"observedGeneration":1,"conditions":[
            {"type":"Ready","status":"True","reason":"UpgradeSucceeded","message":"old"}]})",
       health_verdict::waiting, "generation 2 not handled yet (observed 1)"},
      {"a stale failure does not count either", 2,
       R"({"observedGeneration":1,"conditions":[
            {"type":"Released","status":"False","reason":"UpgradeFailed","message":"old"}]})",
       health_verdict::waiting, "not handled yet"},
      {"upgrade failed: Helm's message", 3,
       R"({"observedGeneration":3,"conditions":[
            {"type":"Ready","status":"False","reason":"UpgradeFailed","message":"upgrade failed"},
            {"type":"Released","status":"False","reason":"UpgradeFailed",
             "message":"Helm upgrade failed for release apps/app with chart app@1.2.4: context deadline exceeded"}]})",
       health_verdict::failed,
       "UpgradeFailed: Helm upgrade failed for release apps/app with chart app@1.2.4"},
      {"helm test failed", 3,
       R"({"observedGeneration":3,"conditions":[
            {"type":"Released","status":"True","reason":"UpgradeSucceeded","message":"ok"},
            {"type":"TestSuccess","status":"False","reason":"TestFailed",
             "message":"Helm test failed for release apps/app: pod app-smoke failed"}]})",
       health_verdict::failed, "TestFailed: Helm test failed"},
      {"stalled: retries exhausted", 3,
       R"({"observedGeneration":3,"conditions":[
            {"type":"Stalled","status":"True","reason":"RetriesExceeded",
             "message":"Failed to upgrade after 3 attempts"}]})",
       health_verdict::failed, "RetriesExceeded: Failed to upgrade after 3 attempts"},
      {"install failed, said on Ready alone", 3,
       R"({"observedGeneration":3,"conditions":[
            {"type":"Ready","status":"False","reason":"InstallFailed",
             "message":"Helm install failed for release apps/app with chart app@1.2.4: timed out"}]})",
       health_verdict::failed, "InstallFailed: Helm install failed for release apps/app"},
      {"retrying after another error", 3,
       R"({"observedGeneration":3,"conditions":[
            {"type":"Ready","status":"False","reason":"ArtifactFailed",
             "message":"chart not found yet"}]})",
       health_verdict::waiting, "Ready=False: chart not found yet"},
      {"upgrading", 3,
       R"({"observedGeneration":3,"conditions":[
            {"type":"Ready","status":"Unknown","reason":"Progressing",
             "message":"Running 'upgrade' action with timeout of 5m0s"}]})",
       health_verdict::waiting, "Ready=Unknown: Running 'upgrade'"},
      {"no status yet", 1, "{}", health_verdict::waiting, "not handled yet"},
  };
  for (const auto& r : rows) {
    const auto p = judge_helmrelease(parsed(helmrelease(r.generation, r.status)));
    EXPECT_EQ(p.verdict, r.want) << r.name << ": " << p.message;
    EXPECT_NE(p.message.find(r.message_has), std::string::npos) << r.name << ": " << p.message;
  }
}

std::string deployment(int generation, int replicas, const std::string& status) {
  return R"({"apiVersion":"apps/v1","kind":"Deployment",
             "metadata":{"name":"web","namespace":"apps","generation":)" +
         std::to_string(generation) + R"(},"spec":{"replicas":)" + std::to_string(replicas) +
         R"(},"status":)" + status + "}";
}

constexpr const char* k_available =
    R"({"type":"Available","status":"True","reason":"MinimumReplicasAvailable"})";
constexpr const char* k_progressed =
    R"({"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable"})";

TEST(judge_deployment, kstatus_rules) {
  const std::string done_conditions =
      std::string(R"("conditions":[)") + k_available + "," + k_progressed + "]";
  struct row {
    const char* name;
    std::string json;
    health_verdict want;
    const char* message;
  };
  const row rows[] = {
      {"current",
       deployment(4, 3,
                  R"({"observedGeneration":4,"replicas":3,"updatedReplicas":3,
            "readyReplicas":3,"availableReplicas":3,)" +
                      done_conditions + "}"),
       health_verdict::ready, "Deployment is available. Replicas: 3"},
      {"new generation not observed",
       deployment(5, 3,
                  R"({"observedGeneration":4,"replicas":3,
            "updatedReplicas":3,"readyReplicas":3,"availableReplicas":3,)" +
                      done_conditions + "}"),
       health_verdict::waiting, "Deployment generation is 5, but latest observed generation is 4"},
      {"rolling out",
       deployment(5, 3,
                  R"({"observedGeneration":5,"replicas":3,"updatedReplicas":1,
            "readyReplicas":3,"availableReplicas":3,)" +
                      done_conditions + "}"),
       health_verdict::waiting, "Updated: 1/3"},
      {"old pods terminating",
       deployment(5, 3,
                  R"({"observedGeneration":5,"replicas":4,
            "updatedReplicas":3,"readyReplicas":3,"availableReplicas":3,)" +
                      done_conditions + "}"),
       health_verdict::waiting, "Pending termination: 1"},
      {"not available yet",
       deployment(5, 3,
                  R"({"observedGeneration":5,"replicas":3,
            "updatedReplicas":3,"readyReplicas":3,"availableReplicas":2,)" +
                      done_conditions + "}"),
       health_verdict::waiting, "Available: 2/3"},
      {"scaling up",
       deployment(5, 3,
                  R"({"observedGeneration":5,"replicas":2,"updatedReplicas":2,
            "readyReplicas":2,"availableReplicas":2,)" +
                      done_conditions + "}"),
       health_verdict::waiting, "Replicas: 2/3"},
      {"progress deadline exceeded", deployment(5, 3, R"({"observedGeneration":5,"replicas":3,
            "updatedReplicas":1,"conditions":[{"type":"Progressing","status":"False",
            "reason":"ProgressDeadlineExceeded",
            "message":"ReplicaSet \"web-7d9\" has timed out progressing."}]})"),
       health_verdict::failed, "ProgressDeadlineExceeded: ReplicaSet \"web-7d9\" has timed out"},
      {"replica set still progressing",
       deployment(5, 1,
                  R"({"observedGeneration":5,"replicas":1,
            "updatedReplicas":1,"readyReplicas":1,"availableReplicas":1,"conditions":[)" +
                      std::string(k_available) + "]}"),
       health_verdict::waiting, "ReplicaSet not Available"},
  };
  for (const auto& r : rows) {
    const auto p = judge_deployment(parsed(r.json));
    EXPECT_EQ(p.verdict, r.want) << r.name << ": " << p.message;
    EXPECT_NE(p.message.find(r.message), std::string::npos) << r.name << ": " << p.message;
  }
  // spec.replicas defaults to 1 (apps/v1).
  const auto one = parsed(R"({"metadata":{"generation":1},"spec":{}})");
  EXPECT_EQ(one.spec_replicas, 1);
  EXPECT_EQ(judge_workload("CronJob", one).verdict, health_verdict::failed);
}

TEST(parse_inventory_id, cli_utils_format) {
  const auto hr = parse_inventory_id("flux-system_app_helm.toolkit.fluxcd.io_HelmRelease");
  ASSERT_TRUE(hr);
  EXPECT_EQ(hr->ns, "flux-system");
  EXPECT_EQ(hr->name, "app");
  EXPECT_EQ(hr->group, "helm.toolkit.fluxcd.io");
  EXPECT_EQ(hr->kind, "HelmRelease");
  const auto ns = parse_inventory_id("_apps__Namespace");  // cluster-scoped, core group
  ASSERT_TRUE(ns);
  EXPECT_EQ(ns->ns, "");
  EXPECT_EQ(ns->name, "apps");
  EXPECT_EQ(ns->group, "");
  EXPECT_FALSE(parse_inventory_id("nonsense"));
  EXPECT_FALSE(parse_inventory_id("a_b_c"));
  EXPECT_FALSE(parse_inventory_id("_system__controller_rbac.authorization.k8s.io_ClusterRole"));
}

const std::vector<kube::inventory_entry> k_inventory = {
    {"apps_web_apps_Deployment", "v1"},
    {"flux-system_app_helm.toolkit.fluxcd.io_HelmRelease", "v2"},
    {"flux-system_api_helm.toolkit.fluxcd.io_HelmRelease", "v2beta2"},
    {"other_app_helm.toolkit.fluxcd.io_HelmRelease", "v2"},
};

std::vector<std::string> names(const std::vector<rules::health_check>& checks) {
  std::vector<std::string> out;
  for (const auto& c : checks) {
    out.push_back(c.api_version + " " + c.namespace_name + "/" + c.name);
  }
  return out;
}

TEST(touched_helmreleases, the_releases_the_commit_changed) {
  const std::vector<changed_file> changed = {
      {"clusters/staging/app/release.yaml", R"(apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: app
  namespace: flux-system
spec:
  values:
    image:
      tag: 1.2.4 # {"$imagepolicy": "flux-system:app:tag"}
)"},
      {"clusters/staging/README.md", "kind: HelmRelease\nmetadata: {name: api}\n"},
  };
  EXPECT_EQ(names(touched_helmreleases(k_inventory, changed)),
            (std::vector<std::string>{"helm.toolkit.fluxcd.io/v2 flux-system/app"}));
}

TEST(touched_helmreleases, a_release_without_namespace_matches_any_and_patches_count) {
  const std::vector<changed_file> changed = {
      {"clusters/staging/kustomization.yaml", R"(apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../base]
patches:
  - target: {kind: HelmRelease, name: api}
    patch: |
      - op: replace
        path: /spec/values/image/tag
        value: 1.4.3
)"},
      {"clusters/staging/app.yml",
       "---\nkind: ConfigMap\nmetadata: {name: app}\n---\n"
       "kind: HelmRelease\nmetadata: {name: app}\n"},
  };
  EXPECT_EQ(names(touched_helmreleases(k_inventory, changed)),
            (std::vector<std::string>{"helm.toolkit.fluxcd.io/v2 flux-system/app",
                                      "helm.toolkit.fluxcd.io/v2beta2 flux-system/api",
                                      "helm.toolkit.fluxcd.io/v2 other/app"}));
}

TEST(touched_helmreleases, nothing_touched_and_fail_safe_on_unreadable_yaml) {
  const std::vector<changed_file> deployment_only = {
      {"clusters/staging/web.yaml", "kind: Deployment\nmetadata: {name: app}\n"}};
  EXPECT_TRUE(touched_helmreleases(k_inventory, deployment_only).empty());
  // Text that is not YAML may hide a release: every HelmRelease of the inventory is checked.
  const std::vector<changed_file> broken = {{"clusters/staging/x.yaml", "a: [\n"}};
  EXPECT_EQ(touched_helmreleases(k_inventory, broken).size(), 3u);
  const std::vector<changed_file> none;
  EXPECT_TRUE(touched_helmreleases(k_inventory, none).empty());
}

}  // namespace
}  // namespace ferry::apply
