// The pull_request handler (handlers/pull_request.cpp) through the dispatcher, in process,
// against the GitHub double (test/support/handler_double.hpp): a merged ferry PR's branch is
// deleted once however often the event comes and whoever deleted it first; events it has no
// business with cost no call; GitHub failures are transient. The whole flow through
// `ferry serve` is test/e2e/pull_request_e2e_test.cpp.
#include <gtest/gtest.h>

#include "test/support/handler_double.hpp"

namespace {

using ferry::service::outcome;
using ferry::test::e2e::handler_double_test;
namespace http = boost::beast::http;
namespace json = boost::json;

constexpr const char* k_branch = "refs/heads/ferry/staging/flux-system-app";
const std::string k_digest = "sha256:" + std::string(64, 'c');

class pull_request_handler : public handler_double_test {
 protected:
  // A package delivery for the example's app image: staging auto-merges, and the double's PRs
  // are clean, so the PR is merged at once and the double records `pull_request` closed.
  json::value merged_ferry_pr() {
    const auto seq = last_webhook_seq();
    const auto r = dispatch("package", "d-package-1",
                            ferry::test::e2e::ghcr_package_payload("app", "sha-9f8e7d6", k_digest));
    EXPECT_TRUE(r.ok()) << r.error().message;
    for (const auto& w : webhooks(seq)) {
      const auto& o = w.as_object();
      if (o.at("event").as_string() == "pull_request" &&
          o.at("payload").as_object().at("action").as_string() == "closed") {
        return w;
      }
    }
    ADD_FAILURE() << "no pull_request closed recorded";
    return {};
  }

  bool has_branch() { return infra_state().at("refs").as_object().contains(k_branch); }

  void forget_requests() {
    ASSERT_EQ(control(http::verb::delete_, "/_double/requests").status / 100, 2);
  }
};

TEST_F(pull_request_handler, a_merged_ferry_pr_gets_its_branch_deleted_once) {
  const auto closed = merged_ferry_pr();
  ASSERT_TRUE(closed.is_object());
  ASSERT_TRUE(closed.as_object().at("payload").at_pointer("/pull_request/merged").as_bool());
  ASSERT_TRUE(has_branch());

  auto r = dispatch_recorded(closed);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::done);
  EXPECT_FALSE(has_branch());

  // The redelivery finds the branch gone and writes nothing.
  forget_requests();
  r = dispatch_recorded(closed);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::done);
  EXPECT_EQ(github_writes(), 0) << json::serialize(requests());
}

// Another replica (or GitHub's "delete branch on merge") deleted it between ferry's read and
// its delete: GitHub answers 422 "Reference does not exist", which counts as done.
TEST_F(pull_request_handler, a_branch_deleted_by_someone_else_first_counts_as_done) {
  const auto closed = merged_ferry_pr();
  ASSERT_TRUE(closed.is_object());
  const std::string fault = json::serialize(
      json::value{{"method", "DELETE"},
                  {"path_regex", "/git/refs/heads/ferry/"},
                  {"status", 422},
                  {"body", json::object{{"message", "Reference does not exist"},
                                        {"documentation_url", "https://docs.github.com/rest"}}}});
  ASSERT_EQ(control(http::verb::post, "/_double/faults", fault).status / 100, 2);
  const auto r = dispatch_recorded(closed);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::done);
}

TEST_F(pull_request_handler, a_github_failure_while_deleting_is_transient) {
  const auto closed = merged_ferry_pr();
  ASSERT_TRUE(closed.is_object());
  const std::string fault = json::serialize(json::value{{"method", "DELETE"},
                                                        {"path_regex", "/git/refs/heads/ferry/"},
                                                        {"status", 502},
                                                        {"count", 20}});
  ASSERT_EQ(control(http::verb::post, "/_double/faults", fault).status / 100, 2);
  const auto r = dispatch_recorded(closed);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ferry::error_kind::transient) << r.error().message;
  EXPECT_TRUE(has_branch());
}

TEST_F(pull_request_handler, events_for_other_repositories_or_unmerged_closes_cost_no_call) {
  const auto closed = merged_ferry_pr();
  ASSERT_TRUE(closed.is_object());

  // The same event from a repository that is not an infra repository.
  auto elsewhere = closed;
  auto& repository = elsewhere.as_object()["payload"].as_object()["repository"].as_object();
  repository["full_name"] = "dine-together/app";
  repository["name"] = "app";
  forget_requests();
  auto r = dispatch_recorded(elsewhere);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::ignored);

  // Closed without merge: only recorded (the bump flow skips that tag later).
  auto unmerged = closed;
  auto& pr = unmerged.as_object()["payload"].as_object()["pull_request"].as_object();
  pr["merged"] = false;
  pr["merged_at"] = nullptr;
  pr["merge_commit_sha"] = nullptr;
  r = dispatch_recorded(unmerged);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::done);
  EXPECT_TRUE(requests().empty()) << json::serialize(requests());
  EXPECT_TRUE(has_branch());
}

}  // namespace
