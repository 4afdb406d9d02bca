// The tag-bump flow end to end: the real `ferry serve` binary against the GitHub double
// (test/doubles/github), driven by signed GHCR deliveries for the example infra repository
// (infra/example-infra). Everything is observed through the double's /_double/state and the
// bare repository it serves, never through ferry's internals.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>
#include <vector>

#include "test/support/serve_double.hpp"

namespace {

using namespace ferry::test::e2e;  // the shared fixture's helpers (test/support/serve_double.hpp)

constexpr const char* k_branch = "ferry/staging/flux-system-app";

class bump_e2e : public serve_double_test {
 protected:
  static std::string package_payload(const std::string& name, const std::string& tag,
                                     const std::string& digest) {
    return ghcr_package_payload(name, tag, digest);
  }

  static std::string as_registry_package(const std::string& payload) {
    auto v = json::parse(payload);
    auto& o = v.as_object();
    o["registry_package"] = o["package"];
    o.erase("package");
    return json::serialize(v);
  }
};

const std::string k_digest = "sha256:" + std::string(64, 'b');

std::string text(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

bool has_label(const json::array& labels, std::string_view name) {
  for (const auto& l : labels) {
    if ((l.is_string() && l.as_string() == name) ||
        (l.is_object() && l.as_object().contains("name") &&
         text(l.as_object().at("name")) == name)) {
      return true;
    }
  }
  return false;
}

TEST_F(bump_e2e, package_opens_one_verified_pr_and_redeliveries_write_nothing) {
  // Auto-merge is recorded rather than merged at once, so the PR stays open to look at.
  ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/settings",
                    R"({"auto_merge_clean": false})")
                .status,
            200);
  const std::string payload = package_payload("app", "sha-9f8e7d6", k_digest);
  const std::string id = "11111111-2222-4333-8444-555555555555";
  ASSERT_EQ(deliver("package", id, payload), 200) << ferry_->log();

  auto state = infra_state();
  const auto& pulls = state.at("pulls").as_array();
  ASSERT_EQ(pulls.size(), 1u) << ferry_->log();
  const auto& pr = pulls[0].as_object();
  EXPECT_EQ(text(pr.at("head")), k_branch);
  EXPECT_EQ(text(pr.at("base")), "main");
  EXPECT_EQ(text(pr.at("state")), "open");
  EXPECT_EQ(text(pr.at("title")), "ferry: bump app to sha-9f8e7d6 in staging");
  EXPECT_TRUE(has_label(pr.at("labels").as_array(), "ferry")) << json::serialize(pr);
  EXPECT_TRUE(has_label(pr.at("labels").as_array(), "env:staging")) << json::serialize(pr);
  EXPECT_TRUE(pr.at("auto_merge").is_object()) << json::serialize(pr);
  const std::string body(pr.at("body").as_string());
  EXPECT_NE(body.find("| image | `ghcr.io/dine-together/app` |"), std::string::npos) << body;
  EXPECT_NE(body.find("`sha-1a2b3c4` -> `sha-9f8e7d6`"), std::string::npos) << body;
  EXPECT_NE(body.find(k_digest), std::string::npos) << body;
  EXPECT_NE(body.find("| delivery | `" + id + "` |"), std::string::npos) << body;

  const auto& commits = state.at("created_commits").as_array();
  ASSERT_EQ(commits.size(), 1u);
  const std::string sha(commits[0].as_object().at("sha").as_string());
  EXPECT_EQ(text(state.at("refs").as_object().at(std::string("refs/heads/") + k_branch)), sha);
  const auto verified = json::parse(control(http::verb::get, "/_double/state").body)
                            .as_object()
                            .at("verified_commits")
                            .as_object();
  EXPECT_TRUE(verified.contains(sha) && text(verified.at(sha)) == "true");
  // The commit's parent is main and its tree changes only the marked scalar.
  EXPECT_EQ(git("rev-parse " + sha + "^"), git("rev-parse main"));
  EXPECT_EQ(git("diff --name-only main " + sha), "clusters/staging/app/deployment.yaml\n");
  std::string expected = read_all(fs::path(FERRY_SOURCE_DIR) /
                                  "infra/example-infra/clusters/staging/app/deployment.yaml");
  const auto at = expected.find("sha-1a2b3c4");
  ASSERT_NE(at, std::string::npos);
  expected.replace(at, 11, "sha-9f8e7d6");
  EXPECT_EQ(git("show " + sha + ":clusters/staging/app/deployment.yaml"), expected);
  EXPECT_NE(git("log -1 --format=%B " + sha).find("Ferry-Source-Commit: 9f8e7d6"),
            std::string::npos);

  // The work shows in the metrics (SPEC "GET /metrics").
  const std::string metrics = call(ferry_port_, http::verb::get, "/metrics").body;
  EXPECT_NE(metrics.find("ferry_pull_requests_total{action=\"opened\"} 1"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("ferry_github_api_calls_total{status=\"201\"}"), std::string::npos);
  EXPECT_NE(metrics.find("ferry_rules_valid{repo=\"dine-together/infra\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("ferry_github_rate_limit_remaining "), std::string::npos);

  // GitHub's redelivery (same id), then the registry_package twin: nothing more is written.
  ASSERT_EQ(deliver("package", id, payload), 200) << ferry_->log();
  ASSERT_EQ(deliver("registry_package", "99999999-2222-4333-8444-555555555555",
                    as_registry_package(payload)),
            200)
      << ferry_->log();
  auto after = infra_state();
  EXPECT_EQ(after.at("created_commits").as_array().size(), 1u);
  ASSERT_EQ(after.at("pulls").as_array().size(), 1u);
  EXPECT_EQ(after.at("pulls").as_array()[0].as_object().at("body"), pr.at("body"));
  EXPECT_EQ(after.at("refs"), state.at("refs"));
}

TEST_F(bump_e2e, auto_merge_on_a_clean_pr_merges_with_the_head_ferry_wrote) {
  ASSERT_EQ(deliver("package", ferry::service::random_delivery_id(),
                    package_payload("app", "sha-9f8e7d6", k_digest)),
            200)
      << ferry_->log();
  auto state = infra_state();
  ASSERT_EQ(state.at("pulls").as_array().size(), 1u) << ferry_->log();
  const auto& pr = state.at("pulls").as_array()[0].as_object();
  EXPECT_EQ(text(pr.at("merged")), "true") << json::serialize(pr);
  EXPECT_EQ(text(pr.at("merge_method")), "squash");
  EXPECT_NE(git("show main:clusters/staging/app/deployment.yaml").find("sha-9f8e7d6"),
            std::string::npos);
  // Main now runs the tag: a late redelivery changes nothing.
  ASSERT_EQ(deliver("package", ferry::service::random_delivery_id(),
                    package_payload("app", "sha-9f8e7d6", k_digest)),
            200);
  EXPECT_EQ(infra_state().at("pulls").as_array().size(), 1u);
}

TEST_F(bump_e2e, semver_downgrade_is_refused_without_any_write) {
  ASSERT_EQ(control(http::verb::delete_, "/_double/requests").status / 100, 2);
  ASSERT_EQ(deliver("package", ferry::service::random_delivery_id(),
                    package_payload("api", "1.3.0", k_digest)),
            200)
      << ferry_->log();
  auto state = infra_state();
  EXPECT_TRUE(state.at("pulls").as_array().empty());
  EXPECT_TRUE(state.at("created_commits").as_array().empty());
  const auto requests = json::parse(control(http::verb::get, "/_double/requests").body);
  for (const auto& r : requests.as_array()) {
    EXPECT_FALSE(is_github_write(r.as_object())) << json::serialize(r);
  }
}

TEST_F(bump_e2e, a_failed_commit_answers_503_and_the_redelivery_completes) {
  ASSERT_EQ(
      control(
          http::verb::post, "/_double/faults",
          R"({"method": "POST", "path_regex": "(/git/commits|/graphql)$", "status": 502, "count": 10})")
              .status /
          100,
      2);
  const std::string payload = package_payload("app", "sha-9f8e7d6", k_digest);
  const std::string id = "22222222-2222-4333-8444-555555555555";
  EXPECT_EQ(deliver("package", id, payload), 503) << ferry_->log();
  EXPECT_TRUE(infra_state().at("pulls").as_array().empty());
  ASSERT_EQ(control(http::verb::delete_, "/_double/faults").status / 100, 2);
  ASSERT_EQ(deliver("package", id, payload), 200) << ferry_->log();
  auto state = infra_state();
  EXPECT_EQ(state.at("pulls").as_array().size(), 1u);
  EXPECT_EQ(state.at("created_commits").as_array().size(), 2u);  // the commit, then the merge
}

}  // namespace

namespace {

TEST_F(bump_e2e, a_newer_tag_supersedes_the_open_pr_in_place) {
  ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/settings",
                    R"({"auto_merge_clean": false})")
                .status,
            200);
  ASSERT_EQ(deliver("package", ferry::service::random_delivery_id(),
                    package_payload("app", "sha-9f8e7d6", k_digest)),
            200)
      << ferry_->log();
  const std::string later_id = "33333333-2222-4333-8444-555555555555";
  ASSERT_EQ(deliver("package", later_id, package_payload("app", "sha-abcdef1", k_digest)), 200)
      << ferry_->log();
  auto state = infra_state();
  ASSERT_EQ(state.at("pulls").as_array().size(), 1u) << ferry_->log();
  const auto& pr = state.at("pulls").as_array()[0].as_object();
  EXPECT_EQ(text(pr.at("title")), "ferry: bump app to sha-abcdef1 in staging");
  EXPECT_NE(text(pr.at("body")).find(later_id), std::string::npos);
  const auto& commits = state.at("created_commits").as_array();
  ASSERT_EQ(commits.size(), 2u);
  const std::string head(commits[1].as_object().at("sha").as_string());
  EXPECT_EQ(text(state.at("refs").as_object().at(std::string("refs/heads/") + k_branch)), head);
  // A compare-and-swap on the branch (createCommitOnBranch with expectedHeadOid): the new commit
  // sits on the first one, and the PR still changes exactly the one file.
  EXPECT_EQ(git("rev-parse " + head + "^"),
            git("rev-parse " + std::string(commits[0].as_object().at("sha").as_string())));
  EXPECT_EQ(git("diff --name-only main " + head), "clusters/staging/app/deployment.yaml\n");
}

TEST_F(bump_e2e, a_branch_head_ferry_did_not_write_is_left_alone_with_a_comment) {
  ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/settings",
                    R"({"auto_merge_clean": false})")
                .status,
            200);
  ASSERT_EQ(deliver("package", ferry::service::random_delivery_id(),
                    package_payload("app", "sha-9f8e7d6", k_digest)),
            200)
      << ferry_->log();
  // A person pushes to ferry's branch.
  const std::string moved =
      json::serialize(json::value{{"ref", std::string("heads/") + k_branch},
                                  {"files", json::object{{"NOTES.md", "hand edit\n"}}},
                                  {"message", "a person's commit"}});
  const auto m = control(http::verb::post, "/_double/repos/dine-together/infra/move-ref", moved);
  ASSERT_EQ(m.status / 100, 2) << m.body;
  const std::string persons = text(json::parse(m.body).as_object().at("to"));
  ASSERT_EQ(deliver("package", ferry::service::random_delivery_id(),
                    package_payload("app", "sha-abcdef1", k_digest)),
            200)
      << ferry_->log();
  auto state = infra_state();
  EXPECT_EQ(text(state.at("refs").as_object().at(std::string("refs/heads/") + k_branch)), persons);
  EXPECT_EQ(state.at("created_commits").as_array().size(), 1u);
  const auto& comments = state.at("comments").as_object();
  ASSERT_EQ(comments.size(), 1u) << json::serialize(comments);
  EXPECT_NE(json::serialize(comments).find("is not a commit ferry wrote"), std::string::npos);
}

}  // namespace

namespace {

TEST_F(bump_e2e, package_and_registry_package_at_once_end_with_one_branch_and_one_pr) {
  ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/settings",
                    R"({"auto_merge_clean": false})")
                .status,
            200);
  const std::string payload = package_payload("app", "sha-9f8e7d6", k_digest);
  int first = 0;
  int second = 0;
  // GitHub sends both event kinds for one push at about the same moment.
  std::thread a([&] { first = deliver("package", ferry::service::random_delivery_id(), payload); });
  std::thread b([&] {
    second = deliver("registry_package", ferry::service::random_delivery_id(),
                     as_registry_package(payload));
  });
  a.join();
  b.join();
  EXPECT_EQ(first, 200) << ferry_->log();
  EXPECT_EQ(second, 200) << ferry_->log();
  auto state = infra_state();
  ASSERT_EQ(state.at("pulls").as_array().size(), 1u) << ferry_->log();
  const std::string head =
      text(state.at("refs").as_object().at(std::string("refs/heads/") + k_branch));
  EXPECT_EQ(git("diff --name-only main " + head), "clusters/staging/app/deployment.yaml\n");
  EXPECT_EQ(text(state.at("pulls").as_array()[0].as_object().at("head_sha")), head);
}

TEST_F(bump_e2e, invalid_rules_fail_closed_with_a_status_on_the_head_and_503) {
  const auto m = control(http::verb::post, "/_double/repos/dine-together/infra/move-ref",
                         R"({"ref": "heads/main", "files": {".github/ferry.yaml": "version: 2\n"},
                             "message": "break the rules"})");
  ASSERT_EQ(m.status / 100, 2) << m.body;
  const std::string head = text(json::parse(m.body).as_object().at("to"));
  // Answered 503 (issue 10: never a silent drop), so GitHub records a failed delivery that the
  // sweep redelivers once the rules are fixed; the reason is on the head's status.
  const std::string id = ferry::service::random_delivery_id();
  ASSERT_EQ(deliver("package", id, package_payload("app", "sha-9f8e7d6", k_digest)), 503)
      << ferry_->log();
  auto state = infra_state();
  EXPECT_TRUE(state.at("pulls").as_array().empty());
  EXPECT_TRUE(state.at("created_commits").as_array().empty());
  const auto& statuses = state.at("statuses").as_object();
  ASSERT_TRUE(statuses.contains(head)) << json::serialize(statuses);
  const auto& s = statuses.at(head).as_array().at(0).as_object();
  EXPECT_EQ(text(s.at("context")), "ferry/rules");
  EXPECT_EQ(text(s.at("state")), "failure");
  EXPECT_LE(text(s.at("description")).size(), 140u);

  // The rules fixed, the redelivery of the same delivery promotes.
  json::object files;
  files[".github/ferry.yaml"] =
      read_all(fs::path(FERRY_SOURCE_DIR) / "infra/example-infra/.github/ferry.yaml");
  json::object fix;
  fix["ref"] = "heads/main";
  fix["files"] = std::move(files);
  fix["message"] = "fix the rules";
  const auto fixed = control(http::verb::post, "/_double/repos/dine-together/infra/move-ref",
                             json::serialize(fix));
  ASSERT_EQ(fixed.status / 100, 2) << fixed.body;
  ASSERT_EQ(deliver("package", id, package_payload("app", "sha-9f8e7d6", k_digest)), 200)
      << ferry_->log();
  EXPECT_EQ(infra_state().at("pulls").as_array().size(), 1u) << ferry_->log();
}

}  // namespace

namespace {

TEST_F(bump_e2e, newest_compares_source_commits_in_the_event_repository) {
  ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/settings",
                    R"({"auto_merge_clean": false})")
                .status,
            200);
  // The source repository: two commits on main.
  const auto created = control(
      http::verb::post, "/_double/repos",
      R"({"owner": "dine-together", "name": "app", "installation_id": 7, "files": {"a": "1\n"}})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string older = text(json::parse(created.body).as_object().at("head")).substr(0, 7);
  const auto moved = control(http::verb::post, "/_double/repos/dine-together/app/move-ref",
                             R"({"ref": "heads/main", "files": {"a": "2\n"}})");
  ASSERT_EQ(moved.status / 100, 2) << moved.body;
  const std::string newer = text(json::parse(moved.body).as_object().at("to")).substr(0, 7);
  const auto third = control(http::verb::post, "/_double/repos/dine-together/app/move-ref",
                             R"({"ref": "heads/main", "files": {"a": "3\n"}})");
  ASSERT_EQ(third.status / 100, 2) << third.body;
  const std::string newest = text(json::parse(third.body).as_object().at("to"));

  // Staging runs the middle commit.
  std::string deployment = read_all(fs::path(FERRY_SOURCE_DIR) /
                                    "infra/example-infra/clusters/staging/app/deployment.yaml");
  deployment.replace(deployment.find("sha-1a2b3c4"), 11, "sha-" + newer);
  const std::string runs = json::serialize(
      json::value{{"ref", "heads/main"},
                  {"files", json::object{{"clusters/staging/app/deployment.yaml", deployment}}}});
  ASSERT_EQ(
      control(http::verb::post, "/_double/repos/dine-together/infra/move-ref", runs).status / 100,
      2);

  // An image of the older commit, published late: behind what runs, refused.
  ASSERT_EQ(deliver("package", ferry::service::random_delivery_id(),
                    package_payload("app", "sha-" + older, k_digest)),
            200)
      << ferry_->log();
  EXPECT_TRUE(infra_state().at("pulls").as_array().empty()) << ferry_->log();

  // The newest commit's image: ahead, promoted, with the compare link in the body.
  ASSERT_EQ(deliver("package", ferry::service::random_delivery_id(),
                    package_payload("app", "sha-" + newest.substr(0, 7), k_digest)),
            200)
      << ferry_->log();
  auto state = infra_state();
  ASSERT_EQ(state.at("pulls").as_array().size(), 1u) << ferry_->log();
  const std::string body = text(state.at("pulls").as_array()[0].as_object().at("body"));
  EXPECT_NE(body.find("https://github.com/dine-together/app/compare/" + newer + "..." +
                      newest.substr(0, 7)),
            std::string::npos)
      << body;
  EXPECT_EQ(body.find("newer delivery wins"), std::string::npos) << body;
  // Issue 15.5: why, what merging does, and the commits the promotion brings.
  EXPECT_NE(body.find("**Why this PR**\n- `sha-" + newer + "` -> `sha-" + newest.substr(0, 7) +
                      "`: its source commit is 1 commit(s) ahead"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("**On merge**\n- `staging` is applied at once: Flux Kustomization "
                      "`flux-system/apps`"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("when that apply succeeds, `production` gets its promotion pull request"),
            std::string::npos);
  EXPECT_NE(body.find("**Source commits** (1, oldest first)\n- [`" + newest.substr(0, 12) +
                      "`](https://github.com/dine-together/app/commit/" + newest + ")"),
            std::string::npos)
      << body;
}

// Issue 15.5: a semver tag's release notes from the source repository, quoted in the PR.
TEST_F(bump_e2e, a_semver_promotion_quotes_the_source_release_notes) {
  ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/settings",
                    R"({"auto_merge_clean": false})")
                .status,
            200);
  ASSERT_EQ(control(http::verb::post, "/_double/repos",
                    R"({"owner": "dine-together", "name": "api", "installation_id": 7,)"
                    R"( "files": {"a": "1\n"}})")
                .status,
            201);
  ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/api/releases",
                    R"({"tag_name": "1.5.0", "name": "api 1.5.0",)"
                    R"( "body": "## Fixes\n- retries by @octocat"})")
                .status,
            201);
  ASSERT_EQ(deliver("package", ferry::service::random_delivery_id(),
                    package_payload("api", "1.5.0", k_digest)),
            200)
      << ferry_->log();
  auto state = infra_state();
  ASSERT_EQ(state.at("pulls").as_array().size(), 1u) << ferry_->log();
  const std::string body = text(state.at("pulls").as_array()[0].as_object().at("body"));
  EXPECT_NE(body.find("`1.4.0` -> `1.5.0`: a higher version within `>=1.0.0 <2` (`semver` policy)"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("**Release api 1.5.0**"), std::string::npos) << body;
  EXPECT_NE(body.find("> ## Fixes\n> - retries by @\u200boctocat"), std::string::npos) << body;
  // A tag without a release: no section, and the promotion goes on.
  ASSERT_EQ(deliver("package", ferry::service::random_delivery_id(),
                    package_payload("api", "1.6.0", k_digest)),
            200)
      << ferry_->log();
  const std::string later = text(infra_state().at("pulls").as_array()[0].as_object().at("body"));
  EXPECT_EQ(later.find("**Release"), std::string::npos) << later;
  EXPECT_NE(later.find("supersedes `1.5.0`, which this pull request carried"), std::string::npos)
      << later;
}

}  // namespace

namespace {

TEST_F(bump_e2e, reviewers_and_team_reviewers_are_requested) {
  keep_prs_open_with_reviewers();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(deliver("package", ferry::service::random_delivery_id(),
                    package_payload("app", "sha-9f8e7d6", k_digest)),
            200)
      << ferry_->log();
  auto state = infra_state();
  ASSERT_EQ(state.at("pulls").as_array().size(), 1u) << ferry_->log();
  const auto& pr = state.at("pulls").as_array()[0].as_object();
  EXPECT_NE(json::serialize(pr.at("reviewers")).find("octocat"), std::string::npos)
      << json::serialize(pr);
  EXPECT_NE(json::serialize(pr.at("team_reviewers")).find("platform"), std::string::npos)
      << json::serialize(pr);
}

}  // namespace
