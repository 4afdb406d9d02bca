// `ferry doctor` end to end (issue 15): the real binary with serve's settings against the GitHub
// double, outside a cluster. Each GitHub-side check is driven to ok and to its failure through
// the double's state; the run writes nothing (only GETs reach GitHub, besides the token mint);
// and with no Kubernetes API the report fails and says where to run it. The Kubernetes checks'
// RBAC verdicts come from a real API server's SelfSubjectAccessReview (unit-tested in
// test/service/doctor with its answers).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>

#include "test/support/serve_double.hpp"

namespace {

using namespace ferry::test::e2e;  // the shared fixture's helpers (test/support/serve_double.hpp)

class doctor_e2e : public serve_double_test {};

TEST_F(doctor_e2e,
       a_healthy_app_passes_every_github_check_writes_nothing_and_fails_without_a_cluster) {
  ASSERT_EQ(control(http::verb::delete_, "/_double/requests").status, 204);
  const doctor_report r = run_doctor();
  EXPECT_EQ(r.level("github.app"), "ok") << r.raw;
  EXPECT_EQ(r.level("github.webhook"), "ok") << r.raw;
  EXPECT_EQ(r.level("github.deliveries"), "ok") << r.raw;
  EXPECT_EQ(r.level("github.installation dine-together/infra"), "ok") << r.raw;
  EXPECT_EQ(r.level("rules dine-together/infra:.github/ferry.yaml"), "ok") << r.raw;
  EXPECT_NE(r.text("rules dine-together/infra:.github/ferry.yaml").find("2 image rules"),
            std::string::npos)
      << r.raw;
  // The example's `newest` rule compares commits in dine-together/app, where the App is not
  // installed: a warning naming the rule, not a failure.
  EXPECT_EQ(r.level("github.source dine-together/app"), "warn") << r.raw;
  EXPECT_EQ(r.level("kube.reachable"), "fail") << r.raw;
  EXPECT_NE(r.text("kube.reachable").find("ferry doctor"), std::string::npos) << r.raw;
  EXPECT_EQ(r.exit_code, 1) << r.raw;

  // Nothing written: only reads reached GitHub (the installation token's mint aside).
  const auto log = json::parse(control(http::verb::get, "/_double/requests").body).as_array();
  ASSERT_FALSE(log.empty());
  for (const auto& q : log) {
    const auto& o = q.as_object();
    const std::string method(o.at("method").as_string());
    const std::string path(o.at("path").as_string());
    EXPECT_TRUE(method == "GET" || path.ends_with("/access_tokens")) << method << " " << path;
  }
}

TEST_F(doctor_e2e, webhook_problems_and_failed_deliveries_are_named_with_the_fix) {
  ASSERT_EQ(control(http::verb::post, "/_double/app/hook-config",
                    R"({"url": "http://ferry.example.com/webhook", "content_type": "form",
                        "insecure_ssl": "1", "secret": null})")
                .status,
            200);
  seed_failed_deliveries();
  const doctor_report r = run_doctor();
  EXPECT_EQ(r.level("github.webhook"), "fail") << r.raw;
  const std::string hook = r.text("github.webhook");
  for (const char* problem : {"is not https", "content type form", "no secret", "insecure_ssl 1"}) {
    EXPECT_NE(hook.find(problem), std::string::npos) << problem << "\n" << hook;
  }
  EXPECT_NE(r.level("github.deliveries"), "ok") << r.raw;
  EXPECT_NE(r.text("github.deliveries").find("failed"), std::string::npos) << r.raw;
  EXPECT_EQ(r.exit_code, 1);
}

TEST_F(doctor_e2e, a_rules_file_that_does_not_parse_fails_its_check_with_the_error) {
  const auto m = control(http::verb::post, "/_double/repos/dine-together/infra/move-ref",
                         R"({"ref": "heads/main", "files": {".github/ferry.yaml": "version: 2\n"},
                             "message": "break the rules"})");
  ASSERT_EQ(m.status / 100, 2) << m.body;
  const doctor_report r = run_doctor();
  EXPECT_EQ(r.level("rules dine-together/infra:.github/ferry.yaml"), "fail") << r.raw;
  EXPECT_NE(r.text("rules dine-together/infra:.github/ferry.yaml").find("version must be 1"),
            std::string::npos)
      << r.raw;
  EXPECT_EQ(r.exit_code, 1);
}

}  // namespace
