// `ferry doctor` end to end (issue 15): the real binary with serve's settings against the GitHub
// double, outside a cluster. Each GitHub-side check is driven to ok and to its failure through
// the double's state; the run writes nothing (only GETs reach GitHub, besides the token mint);
// and with no Kubernetes API the report fails and says where to run it. The Kubernetes checks'
// RBAC verdicts come from a real API server's SelfSubjectAccessReview (unit-tested in
// test/service/doctor with its answers).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <map>
#include <string>

#include "test/support/serve_double.hpp"

namespace {

using namespace ferry::test::e2e;  // the shared fixture's helpers (test/support/serve_double.hpp)

struct report {
  int exit_code = -1;
  std::map<std::string, json::object> checks;  // by name
  std::string raw;
};

class doctor_e2e : public serve_double_test {
 protected:
  report doctor() {
    std::string command = "env -i";
    for (const auto& e : ferry_env_) {
      command += " '" + e + "'";
    }
    command +=
        std::string(" ") + FERRY_BINARY + " doctor --output json 2>/dev/null; echo \"exit=$?\"";
    report r;
    r.raw = run(command);
    const auto at = r.raw.rfind("exit=");
    EXPECT_NE(at, std::string::npos) << r.raw;
    if (at == std::string::npos) {
      return r;
    }
    r.exit_code = std::stoi(r.raw.substr(at + 5));
    boost::system::error_code ec;
    const auto v = json::parse(r.raw.substr(0, at), ec);
    EXPECT_FALSE(ec) << r.raw;
    if (!ec && v.is_array()) {
      for (const auto& c : v.as_array()) {
        const auto& o = c.as_object();
        r.checks[std::string(o.at("name").as_string())] = o;
      }
    }
    return r;
  }
  static std::string level(const report& r, const std::string& name) {
    const auto it = r.checks.find(name);
    return it == r.checks.end() ? "missing" : std::string(it->second.at("level").as_string());
  }
  static std::string text(const report& r, const std::string& name) {
    const auto it = r.checks.find(name);
    return it == r.checks.end() ? std::string() : json::serialize(it->second);
  }
};

TEST_F(doctor_e2e,
       a_healthy_app_passes_every_github_check_writes_nothing_and_fails_without_a_cluster) {
  ASSERT_EQ(control(http::verb::delete_, "/_double/requests").status, 204);
  const report r = doctor();
  EXPECT_EQ(level(r, "github.app"), "ok") << r.raw;
  EXPECT_EQ(level(r, "github.webhook"), "ok") << r.raw;
  EXPECT_EQ(level(r, "github.deliveries"), "ok") << r.raw;
  EXPECT_EQ(level(r, "github.installation dine-together/infra"), "ok") << r.raw;
  EXPECT_EQ(level(r, "rules dine-together/infra:.github/ferry.yaml"), "ok") << r.raw;
  EXPECT_NE(text(r, "rules dine-together/infra:.github/ferry.yaml").find("2 image rules"),
            std::string::npos)
      << r.raw;
  // The example's `newest` rule compares commits in dine-together/app, where the App is not
  // installed: a warning naming the rule, not a failure.
  EXPECT_EQ(level(r, "github.source dine-together/app"), "warn") << r.raw;
  EXPECT_EQ(level(r, "kube.reachable"), "fail") << r.raw;
  EXPECT_NE(text(r, "kube.reachable").find("ferry doctor"), std::string::npos) << r.raw;
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
  const report r = doctor();
  EXPECT_EQ(level(r, "github.webhook"), "fail") << r.raw;
  const std::string hook = text(r, "github.webhook");
  for (const char* problem : {"is not https", "content type form", "no secret", "insecure_ssl 1"}) {
    EXPECT_NE(hook.find(problem), std::string::npos) << problem << "\n" << hook;
  }
  EXPECT_NE(level(r, "github.deliveries"), "ok") << r.raw;
  EXPECT_NE(text(r, "github.deliveries").find("failed"), std::string::npos) << r.raw;
  EXPECT_EQ(r.exit_code, 1);
}

TEST_F(doctor_e2e, a_rules_file_that_does_not_parse_fails_its_check_with_the_error) {
  const auto m = control(http::verb::post, "/_double/repos/dine-together/infra/move-ref",
                         R"({"ref": "heads/main", "files": {".github/ferry.yaml": "version: 2\n"},
                             "message": "break the rules"})");
  ASSERT_EQ(m.status / 100, 2) << m.body;
  const report r = doctor();
  EXPECT_EQ(level(r, "rules dine-together/infra:.github/ferry.yaml"), "fail") << r.raw;
  EXPECT_NE(text(r, "rules dine-together/infra:.github/ferry.yaml").find("version must be 1"),
            std::string::npos)
      << r.raw;
  EXPECT_EQ(r.exit_code, 1);
}

}  // namespace
