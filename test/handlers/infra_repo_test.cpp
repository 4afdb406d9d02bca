// infra_repo (handlers/infra_repo.hpp), the infra repository as the non-bump work sees it, in
// process against the GitHub double (test/support/handler_double.hpp): opening it from the
// repository alone, the rules at a commit (absent is not_found, not an error), statuses cut to
// GitHub's 140 characters, and the reads the resume makes.
#include <gtest/gtest.h>

#include "handlers/infra_repo.hpp"
#include "test/support/handler_double.hpp"

namespace {

using ferry::test::e2e::handler_double_test;
namespace http = boost::beast::http;
namespace json = boost::json;

class infra_repo : public handler_double_test {
 protected:
  ferry::handlers::infra_repo open() {
    const ferry::log::logger log;
    // No installation, clone URL or default branch given: all found through the API.
    auto repo = run(ferry::handlers::infra_repo::open(settings_, {"dine-together", "infra"},
                                                      std::nullopt, log));
    if (!repo || !*repo) {
      throw std::runtime_error(repo ? repo->error().message : "open did not finish");
    }
    return std::move(**repo);
  }
};

TEST_F(infra_repo, opens_from_the_repository_name_alone) {
  auto repo = open();
  EXPECT_EQ(repo.installation(), 7);
  EXPECT_EQ(repo.default_branch(), "main");
  EXPECT_NE(repo.clone_url().find("dine-together/infra"), std::string::npos) << repo.clone_url();
  auto head = run(repo.fetch_default_head());
  ASSERT_TRUE(head && *head) << (head ? head->error().message : "did not finish");
  EXPECT_EQ(**head,
            std::string(infra_state().at("refs").as_object().at("refs/heads/main").as_string()));
}

TEST_F(infra_repo, rules_at_a_commit_without_the_file_are_not_found) {
  auto repo = open();
  const std::string with =
      std::string(infra_state().at("refs").as_object().at("refs/heads/main").as_string());
  auto parsed = run(repo.rules_at(with));
  ASSERT_TRUE(parsed && *parsed) << (parsed ? parsed->error().message : "did not finish");
  EXPECT_TRUE((*parsed)->ok()) << (*parsed)->report();

  const std::string without = push_files("heads/main", {{".github/ferry.yaml", nullptr}});
  parsed = run(repo.rules_at(without));
  ASSERT_TRUE(parsed);
  ASSERT_FALSE(*parsed);
  EXPECT_EQ(parsed->error().kind, ferry::error_kind::not_found) << parsed->error().message;
}

TEST_F(infra_repo, statuses_fit_github_limit_and_the_latest_per_apply_context_is_read) {
  auto repo = open();
  const std::string head =
      std::string(infra_state().at("refs").as_object().at("refs/heads/main").as_string());
  auto posted = run(repo.status(head, "ferry/apply/staging", "pending", "applying"));
  ASSERT_TRUE(posted && *posted);
  posted = run(repo.status(head, "ferry/apply/staging", "failure", std::string(300, 'x')));
  ASSERT_TRUE(posted && *posted) << (posted ? posted->error().message : "did not finish");
  posted = run(repo.status(head, "ferry/rules", "success", "rules valid"));
  ASSERT_TRUE(posted && *posted);

  const auto statuses = infra_state().at("statuses").as_object().at(head).as_array();
  for (const auto& s : statuses) {
    EXPECT_LE(s.as_object().at("description").as_string().size(), 140u) << json::serialize(s);
  }
  auto applies = run(repo.apply_statuses(head));
  ASSERT_TRUE(applies && *applies) << (applies ? applies->error().message : "did not finish");
  ASSERT_EQ((*applies)->size(), 1u);  // ferry/rules is not an apply
  EXPECT_EQ((*applies)->front().first, "ferry/apply/staging");
  EXPECT_EQ((*applies)->front().second, "failure");

  auto recent = run(repo.recent_commits(5));
  ASSERT_TRUE(recent && *recent) << (recent ? recent->error().message : "did not finish");
  ASSERT_FALSE((*recent)->empty());
  EXPECT_EQ((*recent)->front(), head);
}

TEST_F(infra_repo, a_commit_made_directly_has_no_merged_pull_request) {
  auto repo = open();
  const std::string head = push_files("heads/main", {{"README.md", "# infra\n"}});
  auto pr = run(repo.merged_pr_for(head));
  ASSERT_TRUE(pr && *pr) << (pr ? pr->error().message : "did not finish");
  EXPECT_FALSE(**pr);
}

}  // namespace
