// service/github/graphql: the documents ferry sends and the readers of their answers. The
// documents themselves are validated against GitHub's schema by the GitHub double in every
// end-to-end test; here, the shapes and the readers on answers as GitHub gives them.
#include "service/github/graphql.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace gh = ferry::github;
namespace json = boost::json;

namespace {

gh::delivery_read_request request() {
  gh::delivery_read_request r;
  r.repo = {"o", "infra"};
  r.branches = {"ferry/staging/a", "ferry/production/a"};
  r.labels = {"ferry", "env:staging"};
  r.users = {"octocat", "nobody-here"};
  r.teams = {"platform"};
  return r;
}

const std::string k_head(40, 'a');
const std::string k_pr_head(40, 'b');

std::string pull(int number, const char* state, bool merged, bool cross = false) {
  json::object pr{
      {"id", "PR_" + std::to_string(number)},
      {"number", number},
      {"state", state},
      {"merged", merged},
      {"title", "t"},
      {"body", "b"},
      {"headRefName", "ferry/staging/a"},
      {"headRefOid", k_pr_head},
      {"baseRefName", "main"},
      {"isCrossRepository", cross},
      {"labels", json::parse(R"({"nodes":[{"name":"ferry"}]})")},
      {"reviewRequests",
       json::parse(R"({"nodes":[{"requestedReviewer":{"__typename":"User","login":"octocat"}},
                                 {"requestedReviewer":{"__typename":"Team","slug":"platform"}}]})")},
      {"autoMergeRequest", json::parse(R"({"enabledAt":"2026-12-05T00:00:00Z"})")}};
  return json::serialize(pr);
}

}  // namespace

TEST(graphql, delivery_read_asks_for_every_branch_label_user_and_team_by_variable) {
  const auto q = gh::delivery_read_query(request());
  EXPECT_NE(q.query.find("b0: pullRequests(headRefName: $b0"), std::string::npos) << q.query;
  EXPECT_NE(q.query.find("b1: pullRequests(headRefName: $b1"), std::string::npos);
  EXPECT_NE(q.query.find("l1: label(name: $l1) { id }"), std::string::npos);
  EXPECT_NE(q.query.find("u1: user(login: $u1) { id }"), std::string::npos);
  EXPECT_NE(q.query.find("t0: organization(login: $owner) { team(slug: $t0) { id } }"),
            std::string::npos);
  EXPECT_NE(q.query.find("fragment ferryPull on PullRequest"), std::string::npos);
  // Values only travel as variables: a branch name never becomes query text.
  EXPECT_EQ(q.variables.at("b1").as_string(), "ferry/production/a");
  EXPECT_EQ(q.variables.at("owner").as_string(), "o");
  EXPECT_EQ(q.query.find("ferry/production/a"), std::string::npos);
  // No branch: no fragment (GraphQL refuses an unused one).
  auto none = request();
  none.branches.clear();
  EXPECT_EQ(gh::delivery_read_query(none).query.find("fragment"), std::string::npos);
}

TEST(graphql, delivery_read_splits_pulls_and_leaves_out_forks_and_unresolved_reviewers) {
  const std::string answer =
      R"({"data":{"repository":{"defaultBranchRef":{"target":{"oid":")" + k_head +
      R"("}},"b0":{"nodes":[)" + pull(9, "OPEN", false, true) + "," + pull(8, "OPEN", false) + "," +
      pull(7, "MERGED", true) + "," + pull(6, "CLOSED", false) +
      R"(]},"b1":{"nodes":[]},"l0":{"id":"L_1"},"l1":null},)"
      R"("u0":{"id":"U_1"},"u1":null,"t0":{"team":{"id":"T_1"}}},)"
      R"("errors":[{"type":"NOT_FOUND","path":["u1"],"message":"Could not resolve to a User with the login of 'nobody-here'."}]})";
  auto read = gh::parse_delivery_read(answer, request());
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->default_head, k_head);
  const auto& a = read->pulls.at("ferry/staging/a");
  ASSERT_TRUE(a.open);
  EXPECT_EQ(a.open->number, 8);  // #9 comes from a fork
  EXPECT_EQ(a.open->state, "open");
  EXPECT_EQ(a.open->node_id, "PR_8");
  EXPECT_EQ(a.open->head_sha, k_pr_head);
  EXPECT_EQ(a.open->labels, std::vector<std::string>{"ferry"});
  EXPECT_EQ(a.open->reviewers, std::vector<std::string>{"octocat"});
  EXPECT_EQ(a.open->teams, std::vector<std::string>{"platform"});
  EXPECT_TRUE(a.open->auto_merge);
  ASSERT_TRUE(a.last_closed);
  EXPECT_EQ(a.last_closed->number, 7);
  EXPECT_TRUE(a.last_closed->merged);
  EXPECT_FALSE(read->pulls.at("ferry/production/a").open);
  EXPECT_EQ(read->label_ids.size(), 1u);
  EXPECT_EQ(read->label_ids.at("ferry"), "L_1");
  EXPECT_EQ(read->user_ids.size(), 1u);
  EXPECT_EQ(read->team_ids.at("platform"), "T_1");
}

TEST(graphql, delivery_read_errors_other_than_lookups_fail_the_read) {
  const std::string stale =
      R"({"data":null,"errors":[{"type":"RATE_LIMITED","message":"API rate limit exceeded"}]})";
  auto r = gh::parse_delivery_read(stale, request());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ferry::error_kind::transient);
  const std::string gone =
      R"({"data":{"repository":null},"errors":[{"type":"NOT_FOUND","path":["repository"],"message":"no"}]})";
  r = gh::parse_delivery_read(gone, request());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ferry::error_kind::not_found);
  EXPECT_NE(r.error().message.find("at repository"), std::string::npos);
  // An empty repository has no default head: nothing to decide on.
  r = gh::parse_delivery_read(R"({"data":{"repository":{"defaultBranchRef":null}}})", request());
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(gh::parse_delivery_read("not json", request()).ok());
}

TEST(graphql, pull_finish_sends_only_what_is_missing_and_reports_each_part) {
  gh::pull_finish_request r;
  r.pull_node_id = "PR_8";
  r.expected_head = k_pr_head;
  EXPECT_FALSE(gh::pull_finish_mutation(r));
  r.merge_method = "SQUASH";
  auto m = gh::pull_finish_mutation(r);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->query,
            "mutation($merge: EnablePullRequestAutoMergeInput!) { "
            "enablePullRequestAutoMerge(input: $merge) { clientMutationId } }");
  EXPECT_EQ(std::string(m->variables.at("merge").at("expectedHeadOid").as_string()), k_pr_head);
  r.label_ids = {"L_1", "L_2"};
  r.team_ids = {"T_1"};
  m = gh::pull_finish_mutation(r);
  ASSERT_TRUE(m);
  EXPECT_LT(m->query.find("addLabelsToLabelable"), m->query.find("requestReviews"));
  EXPECT_LT(m->query.find("requestReviews"), m->query.find("enablePullRequestAutoMerge"));
  EXPECT_TRUE(m->variables.at("reviews").at("union").as_bool());
  EXPECT_FALSE(m->variables.at("reviews").as_object().contains("userIds"));
  EXPECT_EQ(json::serialize(m->variables.at("labels").at("labelIds")), R"(["L_1","L_2"])");

  auto out = gh::parse_pull_finish(
      R"({"data":{"addLabelsToLabelable":{"clientMutationId":null},"enablePullRequestAutoMerge":null},)"
      R"("errors":[{"type":"UNPROCESSABLE","path":["enablePullRequestAutoMerge"],"message":"Pull request Pull request is in clean status"}]})");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->of("addLabelsToLabelable"), nullptr);
  ASSERT_NE(out->of("enablePullRequestAutoMerge"), nullptr);
  EXPECT_EQ(out->of("enablePullRequestAutoMerge")->type, "UNPROCESSABLE");
}

TEST(graphql, error_kinds_follow_githubs_types) {
  EXPECT_EQ(gh::graphql_error_kind("STALE_DATA"), ferry::error_kind::conflict);
  EXPECT_EQ(gh::graphql_error_kind("NOT_FOUND"), ferry::error_kind::not_found);
  EXPECT_EQ(gh::graphql_error_kind("SERVICE_UNAVAILABLE"), ferry::error_kind::transient);
  EXPECT_EQ(gh::graphql_error_kind("FORBIDDEN"), ferry::error_kind::invalid_input);
  const auto e =
      gh::graphql_failure({{"STALE_DATA", "createCommitOnBranch", "moved"}, {"X", "", "y"}});
  EXPECT_EQ(e.message, "POST graphql: STALE_DATA at createCommitOnBranch: moved (and 1 more)");
}
