// The push handler (handlers/push.cpp) through the dispatcher, in process, against the GitHub
// double and the Kubernetes double (test/support/handler_double.hpp): which pushes it ignores
// before any call, `ferry/rules` on every new default-branch head, fail-closed rules, and which
// environments a push applies.
#include <gtest/gtest.h>

#include "test/support/handler_double.hpp"

namespace {

using ferry::service::outcome;
using ferry::test::e2e::handler_cluster_test;
namespace http = boost::beast::http;
namespace json = boost::json;

std::string deployment_with(const std::string& env, const std::string& tag) {
  std::string text =
      ferry::test::e2e::read_all(std::string(FERRY_SOURCE_DIR) + "/infra/example-infra/clusters/" +
                                 env + "/app/deployment.yaml");
  const auto at = text.find("sha-1a2b3c4");
  EXPECT_NE(at, std::string::npos);
  text.replace(at, 11, tag);
  return text;
}

class push_handler : public handler_cluster_test {
 protected:
  // The push webhook the double recorded for the last ref move.
  json::value last_push() {
    const auto all = webhooks();
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (it->as_object().at("event").as_string() == "push") {
        return *it;
      }
    }
    ADD_FAILURE() << "no push recorded";
    return {};
  }

  void flux_mode(const std::string& mode) {
    const auto r = kube_->control(http::verb::post, "/_double/flux-mode",
                                  json::serialize(json::value{{"mode", mode}, {"delay_ms", 50}}));
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // The Kustomization's reconcile request, if ferry made one.
  std::string requested_at() {
    const auto objects = json::parse(kube_->control(http::verb::get, "/_double/objects").body);
    for (const auto& o : objects.as_array()) {
      const auto& obj = o.as_object();
      if (obj.at("kind").as_string() != "Kustomization") {
        continue;
      }
      const auto* annotations = obj.at("metadata").as_object().if_contains("annotations");
      if (annotations == nullptr) {
        return {};
      }
      const auto* at = annotations->as_object().if_contains("reconcile.fluxcd.io/requestedAt");
      return at == nullptr ? std::string() : std::string(at->as_string());
    }
    return {};
  }
};

TEST_F(push_handler, a_push_to_a_repository_that_is_not_an_infra_repo_applies_nothing) {
  push_files("heads/main",
             {{"clusters/staging/app/deployment.yaml", deployment_with("staging", "sha-9f8e7d6")}});
  auto push = last_push();
  auto& repository = push.as_object()["payload"].as_object()["repository"].as_object();
  repository["full_name"] = "dine-together/app";
  repository["name"] = "app";
  ASSERT_EQ(control(http::verb::delete_, "/_double/requests").status / 100, 2);

  // An application repository: the rules are read for `onboarding.sources` (none here), nothing
  // is written or applied; this replica's fresh view then answers the next push with no call.
  auto r = dispatch_recorded(push);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::ignored);
  EXPECT_EQ(github_writes(), 0) << json::serialize(requests());
  EXPECT_TRUE(requested_at().empty());
  ASSERT_EQ(control(http::verb::delete_, "/_double/requests").status / 100, 2);
  r = dispatch_recorded(push);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::ignored);
  EXPECT_TRUE(requests().empty()) << json::serialize(requests());
}

TEST_F(push_handler, a_push_to_another_branch_is_ignored_without_a_call) {
  push_files("heads/feature",
             {{"clusters/staging/app/deployment.yaml", deployment_with("staging", "sha-9f8e7d6")}});
  const auto push = last_push();
  ASSERT_EQ(push.as_object().at("payload").as_object().at("ref").as_string(), "refs/heads/feature");
  ASSERT_EQ(control(http::verb::delete_, "/_double/requests").status / 100, 2);

  const auto r = dispatch_recorded(push);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::ignored);
  EXPECT_TRUE(requests().empty()) << json::serialize(requests());
}

TEST_F(push_handler, a_push_changing_staging_applies_staging_and_reports_it) {
  flux_mode("ready");
  const std::string head = push_files("heads/main", {{"clusters/staging/app/deployment.yaml",
                                                      deployment_with("staging", "sha-9f8e7d6")}});
  const auto r = dispatch_recorded(last_push());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::accepted);  // 202: the apply is followed in the background
  EXPECT_EQ(status_of(head, "ferry/rules"), "success");
  EXPECT_EQ(requested_at(), head);
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "success"; }))
      << json::serialize(infra_state().at("statuses"));
  // production's paths did not change: not applied.
  EXPECT_EQ(status_of(head, "ferry/apply/production"), "");
}

TEST_F(push_handler, a_push_changing_no_environment_says_the_rules_are_valid_and_applies_nothing) {
  const std::string head = push_files("heads/main", {{"README.md", "# infra\n"}});
  const auto r = dispatch_recorded(last_push());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::done);
  EXPECT_EQ(status_of(head, "ferry/rules"), "success");
  EXPECT_EQ(status_of(head, "ferry/apply/staging"), "");
  EXPECT_TRUE(requested_at().empty());
}

// SPEC "Rules file": while the file is invalid ferry fails closed, and every new default-branch
// head says so on `ferry/rules`.
TEST_F(push_handler, invalid_rules_fail_closed_with_ferry_rules_failure_and_no_apply) {
  flux_mode("ready");
  const std::string head = push_files(
      "heads/main",
      {{".github/ferry.yaml", "version: 1\nimages: [\n"},
       {"clusters/staging/app/deployment.yaml", deployment_with("staging", "sha-9f8e7d6")}});
  const auto r = dispatch_recorded(last_push());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::done);
  EXPECT_EQ(status_of(head, "ferry/rules"), "failure");
  EXPECT_EQ(status_of(head, "ferry/apply/staging"), "");
  EXPECT_TRUE(requested_at().empty());
}

// A GitHub failure while reading what the push needs is transient (the delivery answers 5xx and
// is redelivered), and nothing is applied.
TEST_F(push_handler, a_github_failure_is_transient_and_applies_nothing) {
  flux_mode("ready");
  push_files("heads/main",
             {{"clusters/staging/app/deployment.yaml", deployment_with("staging", "sha-9f8e7d6")}});
  const std::string fault = json::serialize(json::value{
      {"method", "POST"}, {"path_regex", "/statuses/"}, {"status", 502}, {"count", 20}});
  ASSERT_EQ(control(http::verb::post, "/_double/faults", fault).status / 100, 2);
  const auto r = dispatch_recorded(last_push());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ferry::error_kind::transient) << r.error().message;
  EXPECT_TRUE(requested_at().empty());
}

}  // namespace
