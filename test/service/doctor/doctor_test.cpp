// The doctor's verdicts over API answers shaped like GitHub's and Kubernetes' (fields as in
// @octokit/openapi's integration, installation, webhook-config, hook-delivery-item schemas and
// authorization.k8s.io/v1 SelfSubjectAccessReview).

#include "service/doctor/doctor.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "service/github/app_client.hpp"

namespace ferry::doctor {
namespace {

using namespace std::chrono_literals;

TEST(doctor, app_rejected_jwt_fails_with_the_fix) {
  auto c = evaluate_app(make_error(error_kind::unauthorized, "GET /app: 401"));
  EXPECT_EQ(c.verdict, level::fail);
  EXPECT_NE(c.fix.find("FERRY_PRIVATE_KEY_FILE"), std::string::npos);
  EXPECT_EQ(evaluate_app(std::string(R"({"id":7,"slug":"ferry"})")).verdict, level::ok);
}

TEST(doctor, installation_names_missing_permissions) {
  auto c = evaluate_infra_installation(
      "o/infra", std::string(R"({"id":3,"permissions":{"contents":"write","pull_requests":"read",
      "statuses":"write","metadata":"read","packages":"read"}})"));
  EXPECT_EQ(c.verdict, level::fail);
  EXPECT_NE(c.detail.find("pull_requests: write"), std::string::npos);
  EXPECT_EQ(c.detail.find("contents"), std::string::npos);
  auto all = evaluate_infra_installation(
      "o/infra", std::string(R"({"id":3,"permissions":{"contents":"write","pull_requests":"write",
      "statuses":"write","metadata":"read","packages":"write"}})"));
  EXPECT_EQ(all.verdict, level::ok);
  auto absent = evaluate_infra_installation("o/infra", make_error(error_kind::not_found, "404"));
  EXPECT_EQ(absent.verdict, level::fail);
  EXPECT_NE(absent.fix.find("install the App on o/infra"), std::string::npos);
}

TEST(doctor, events_need_package_push_pull_request) {
  EXPECT_EQ(
      evaluate_app_events(std::string(R"({"events":["registry_package","push","pull_request"]})"))
          .verdict,
      level::ok);
  auto c = evaluate_app_events(std::string(R"({"events":["push"]})"));
  EXPECT_EQ(c.verdict, level::fail);
  EXPECT_NE(c.detail.find("pull_request"), std::string::npos);
}

// Gates on statuses are decided from status and check_run deliveries, read with Checks read.
TEST(doctor, gate_events_checked_only_when_a_gate_waits_for_statuses) {
  const std::string subscribed =
      R"({"events":["package","push","pull_request","status","check_run"],
          "permissions":{"contents":"write","checks":"read"}})";
  EXPECT_FALSE(evaluate_gate_events(subscribed, {}).has_value());
  auto c = evaluate_gate_events(subscribed, {"acme/infra staging"});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->verdict, level::ok) << c->detail;
  c = evaluate_gate_events(std::string(R"({"events":["package","push","pull_request","status"],
          "permissions":{"contents":"write"}})"),
                           {"acme/infra staging"});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->verdict, level::fail);
  EXPECT_NE(c->detail.find("event check_run, permission checks: read"), std::string::npos)
      << c->detail;
  EXPECT_EQ(c->detail.find("event status"), std::string::npos) << c->detail;
  EXPECT_NE(c->detail.find("acme/infra staging"), std::string::npos);
}

TEST(doctor, flagger_gate_needs_read_and_watch_on_its_canary) {
  rules::gates_config gates;
  gates.flagger = rules::gate_flagger{"web", "apps"};
  const auto needs = gate_needs(gates);
  ASSERT_EQ(needs.size(), 3u);
  EXPECT_EQ(needs[0].describe(), "get flagger.app/canaries in apps");
  EXPECT_EQ(needs[2].describe(), "watch flagger.app/canaries in apps");
  EXPECT_NE(needs[0].granted_by.find("ferry-flagger in apps"), std::string::npos);
  gates.flagger.reset();
  gates.statuses = {"ci/e2e"};
  EXPECT_TRUE(gate_needs(gates).empty());
}

TEST(doctor, hook_config_each_problem_named) {
  EXPECT_EQ(evaluate_hook_config(std::string(R"({"url":"https://f.example/webhook",
      "content_type":"json","secret":"********","insecure_ssl":"0"})"))
                .verdict,
            level::ok);
  auto c = evaluate_hook_config(std::string(
      R"({"url":"http://f.example/webhook","content_type":"form","insecure_ssl":"1"})"));
  EXPECT_EQ(c.verdict, level::fail);
  for (const char* word : {"not https", "content type form", "no secret", "insecure_ssl 1"}) {
    EXPECT_NE(c.detail.find(word), std::string::npos) << word;
  }
}

TEST(doctor, deliveries_counts_failures_of_the_last_day) {
  const auto now = *github::parse_github_time("2026-12-04T12:00:00Z");
  const std::string list = R"([
    {"guid":"new-fail","delivered_at":"2026-12-04T11:00:00Z","status_code":502},
    {"guid":"ok","delivered_at":"2026-12-04T10:00:00Z","status_code":202},
    {"guid":"old-fail","delivered_at":"2026-12-04T09:00:00Z","status_code":0},
    {"guid":"too-old","delivered_at":"2026-12-02T09:00:00Z","status_code":500}])";
  auto c = evaluate_deliveries(list, now);
  EXPECT_EQ(c.verdict, level::warn);
  EXPECT_NE(c.detail.find("2 of 3"), std::string::npos) << c.detail;
  EXPECT_NE(c.detail.find("new-fail"), std::string::npos);
  EXPECT_EQ(evaluate_deliveries(std::string("[]"), now).verdict, level::ok);
}

TEST(doctor, denied_review_names_the_rolebinding) {
  rules::apply_config apply;
  apply.target = rules::apply_job{"apps", "deploy/job.yaml"};
  auto needs = apply_needs(apply, std::nullopt);
  ASSERT_EQ(needs.size(), 6u);
  EXPECT_EQ(needs[0].describe(), "create batch/jobs in apps");
  EXPECT_EQ(needs[5].describe(), "get pods/log in apps");
  EXPECT_NE(access_review_body(needs[5]).find(R"("subresource":"log")"), std::string::npos);
  auto denied = evaluate_access_review(
      needs[0], std::string(R"({"status":{"allowed":false,"reason":"no RBAC policy matched"}})"));
  EXPECT_EQ(denied.verdict, level::fail);
  EXPECT_NE(denied.detail.find("RoleBinding ferry-apply in apps"), std::string::npos);
  EXPECT_EQ(evaluate_access_review(needs[0], std::string(R"({"status":{"allowed":true}})")).verdict,
            level::ok);
  auto lease = lease_needs("ferry-system");
  ASSERT_EQ(lease.size(), 3u);
  EXPECT_NE(lease[0].granted_by.find("ferry-leader in ferry-system"), std::string::npos);
}

TEST(doctor, flux_needs_include_the_source_kind) {
  rules::apply_config apply;
  apply.target = rules::apply_flux{"Kustomization", "apps", "flux-system", std::nullopt};
  auto needs = apply_needs(apply, flux_source_resource("GitRepository"));
  ASSERT_EQ(needs.size(), 6u);
  EXPECT_EQ(needs[5].describe(), "patch source.toolkit.fluxcd.io/gitrepositories in flux-system");
  EXPECT_FALSE(flux_source_resource("Nope"));
}

// Argo CD and Fleet modes: exactly the rights manifests/components/argocd and /fleet grant.
TEST(doctor, argocd_and_fleet_needs_name_their_component_roles) {
  rules::apply_config argocd;
  argocd.target = rules::apply_argocd{"apps", "argocd", true};
  auto needs = apply_needs(argocd, std::nullopt);
  ASSERT_EQ(needs.size(), 4u);
  EXPECT_EQ(needs[0].describe(), "get argoproj.io/applications in argocd");
  EXPECT_EQ(needs[3].describe(), "patch argoproj.io/applications in argocd");
  EXPECT_NE(needs[3].granted_by.find("ferry-argocd in argocd"), std::string::npos);
  rules::apply_config fleet;
  fleet.target = rules::apply_fleet{"apps", "fleet-default"};
  needs = apply_needs(fleet, std::nullopt);
  ASSERT_EQ(needs.size(), 4u);
  EXPECT_EQ(needs[2].describe(), "watch fleet.cattle.io/gitrepos in fleet-default");
  EXPECT_NE(needs[3].granted_by.find("ferry-fleet in fleet-default"), std::string::npos);
}

TEST(doctor, exit_code_fails_only_on_fail) {
  std::vector<check> checks{{"a", level::ok, "", ""}, {"b", level::warn, "", "x"}};
  EXPECT_EQ(exit_code(checks), 0);
  checks.push_back({"c", level::fail, "d", "f"});
  EXPECT_EQ(exit_code(checks), 1);
  EXPECT_NE(to_text(checks).find("fail c: d -> f"), std::string::npos);
  EXPECT_NE(to_json(checks).find(R"("level":"warn")"), std::string::npos);
}

}  // namespace
}  // namespace ferry::doctor
