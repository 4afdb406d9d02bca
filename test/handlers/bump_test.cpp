// The pure decisions of the tag-bump flow (handlers/bump.hpp).
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "handlers/bump.hpp"
#include "service/limits.hpp"

namespace ferry::handlers {
namespace {

bump_facts sample() {
  bump_facts f;
  f.image = "ghcr.io/dine-together/app";
  f.rule_name = "app";
  f.environment = "staging";
  f.from_values = {"sha-1111111"};
  f.to_tag = "sha-9f8e7d6";
  f.digest = "sha256:" + std::string(64, 'a');
  f.package_url = "https://github.com/orgs/dine-together/packages/container/package/app";
  f.source_repo_url = "https://github.com/dine-together/app";
  f.source_commit = "9f8e7d6";
  f.delivery_id = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
  return f;
}

TEST(pr_title, names_rule_tag_and_environment) {
  EXPECT_EQ(pr_title(sample()), "ferry: bump app to sha-9f8e7d6 in staging");
}

TEST(pr_body, is_a_table_with_every_known_fact) {
  auto f = sample();
  f.current_commit = "1111111";
  const std::string body = pr_body(f);
  EXPECT_NE(body.find("| image | `ghcr.io/dine-together/app` |"), std::string::npos) << body;
  EXPECT_NE(body.find("| from -> to | `sha-1111111` -> `sha-9f8e7d6` |"), std::string::npos)
      << body;
  EXPECT_NE(body.find("| digest | `sha256:" + std::string(64, 'a') + "` |"), std::string::npos);
  EXPECT_NE(body.find("(" + f.package_url + ")"), std::string::npos);
  EXPECT_NE(body.find("https://github.com/dine-together/app/commit/9f8e7d6"), std::string::npos);
  EXPECT_NE(body.find("https://github.com/dine-together/app/compare/1111111...9f8e7d6"),
            std::string::npos);
  EXPECT_NE(body.find("| delivery | `72d3162e-cc78-11e3-81ab-4c9367dc0958` |"), std::string::npos);
}

TEST(pr_body, leaves_out_what_is_unknown_and_escapes_cells) {
  auto f = sample();
  f.source_commit.reset();
  f.package_url.clear();
  f.from_values.clear();
  f.to_tag = "a|b";
  f.note = "No source commit could be compared: the newer delivery wins.";
  const std::string body = pr_body(f);
  EXPECT_EQ(body.find("| source commit |"), std::string::npos);
  EXPECT_EQ(body.find("| package |"), std::string::npos);
  EXPECT_EQ(body.find("| compare |"), std::string::npos);
  EXPECT_NE(body.find("(none) -> `a\\|b`"), std::string::npos) << body;
  EXPECT_NE(body.find(f.note), std::string::npos);
}

// Issue 15.5: what a reviewer decides from, bounded, notifying nobody.
TEST(pr_body, says_why_what_merging_does_the_commits_and_the_release) {
  auto f = sample();
  f.current_commit = "1111111";
  f.why = {"`sha-1111111` -> `sha-9f8e7d6`: its source commit is 3 commit(s) ahead"};
  f.on_merge = {"`staging` is applied at once",
                "when that apply succeeds, `production` gets its "
                "promotion pull request"};
  for (int i = 0; i < 25; ++i) {
    f.source_commits.push_back({std::string(39, 'a') + static_cast<char>('a' + i % 6),
                                "fix #" + std::to_string(i) + " thanks @octocat"});
  }
  f.source_commits_total = 30;
  f.release_name = "v1.5.0";
  f.release_notes = "## Changes\n- faster by @hubot\n";
  f.release_url = "https://github.com/dine-together/app/releases/tag/v1.5.0";
  const std::string body = pr_body(f);
  EXPECT_NE(body.find("**Why this PR**\n- `sha-1111111` -> `sha-9f8e7d6`"), std::string::npos)
      << body;
  EXPECT_NE(body.find("**On merge**\n- `staging` is applied at once\n- when that apply"),
            std::string::npos);
  EXPECT_NE(body.find("**Source commits** (30, oldest first)"), std::string::npos);
  EXPECT_NE(body.find("- and 10 more: [compare](https://github.com/dine-together/app/compare/"
                      "1111111...9f8e7d6)"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("**Release v1.5.0** ([on GitHub](" + f.release_url + "))"),
            std::string::npos);
  EXPECT_NE(body.find("> ## Changes\n> - faster by @\u200bhubot"), std::string::npos) << body;
  // Nobody is notified: every '@' is followed by a zero-width space.
  for (auto at = body.find('@'); at != std::string::npos; at = body.find('@', at + 1)) {
    EXPECT_EQ(body.compare(at + 1, 3, "\u200b"), 0) << body.substr(at, 20);
  }
  // The machine-readable marker still ends the body.
  EXPECT_TRUE(pr_marker_matches(body, "staging", "ghcr.io/dine-together/app", "sha-9f8e7d6"));
}

TEST(pr_body, stays_under_githubs_limit_whatever_the_notes_and_messages_hold) {
  auto f = sample();
  f.release_name = "v2";
  f.release_notes = std::string(1'000'000, 'x');
  f.source_commits.push_back({std::string(40, 'b'), std::string(100'000, 'y')});
  f.evidence = std::string(59'000, 'e');  // leaves no room for the optional sections
  const std::string body = pr_body(f);
  EXPECT_LE(body.size(), ferry::limits::k_pr_body_max);
  EXPECT_NE(body.find("Some sections were left out"), std::string::npos);
  EXPECT_TRUE(pr_marker_matches(body, "staging", "ghcr.io/dine-together/app", "sha-9f8e7d6"));
  f.evidence.clear();
  const std::string roomy = pr_body(f);
  EXPECT_LE(roomy.size(), ferry::limits::k_pr_body_max);
  EXPECT_NE(roomy.find("**Release v2**"), std::string::npos);
  EXPECT_LT(roomy.size(), 10'000u) << "release notes and headlines are cut to their bounds";
}

TEST(pr_marker, ends_the_body_and_matches_only_its_environment_image_and_tag) {
  const std::string body = pr_body(sample());
  EXPECT_NE(
      body.find("<!-- ferry: env=staging image=ghcr.io/dine-together/app tag=sha-9f8e7d6 -->"),
      std::string::npos)
      << body;
  EXPECT_TRUE(pr_marker_matches(body, "staging", "ghcr.io/dine-together/app", "sha-9f8e7d6"));
  EXPECT_FALSE(pr_marker_matches(body, "production", "ghcr.io/dine-together/app", "sha-9f8e7d6"));
  EXPECT_FALSE(pr_marker_matches(body, "staging", "ghcr.io/dine-together/api", "sha-9f8e7d6"));
  EXPECT_FALSE(pr_marker_matches(body, "staging", "ghcr.io/dine-together/app", "sha-9f8e7d"));
  EXPECT_FALSE(
      pr_marker_matches("no marker here", "staging", "ghcr.io/dine-together/app", "sha-9f8e7d6"));
  // A tag that could end the comment gets no marker, and never matches.
  EXPECT_EQ(pr_marker("staging", "ghcr.io/x", "a>b"), "");
  EXPECT_FALSE(pr_marker_matches(body, "staging", "ghcr.io/x", "a b"));
}

TEST(commit_message, carries_the_source_commit_trailer_when_known) {
  EXPECT_EQ(commit_message(sample()),
            "ferry: bump app to sha-9f8e7d6 in staging\n\nFerry-Source-Commit: 9f8e7d6\n");
  auto f = sample();
  f.source_commit.reset();
  EXPECT_EQ(commit_message(f), "ferry: bump app to sha-9f8e7d6 in staging\n");
}

TEST(source_commit_from_message, reads_the_trailer_ferry_writes) {
  EXPECT_EQ(source_commit_from_message(commit_message(sample())), "9f8e7d6");
  EXPECT_EQ(
      source_commit_from_message("t\n\nFerry-Source-Commit: " + std::string(40, 'a') + "\r\n"),
      std::string(40, 'a'));
  EXPECT_EQ(source_commit_from_message("no trailer"), std::nullopt);
  EXPECT_EQ(source_commit_from_message("t\n\nFerry-Source-Commit: main\n"), std::nullopt);
  EXPECT_EQ(source_commit_from_message("t\n\nFerry-Source-Commit: abc\n"), std::nullopt);
}

TEST(is_ferry_head, only_verified_commits_of_the_app_bot) {
  const head_commit_facts ours{"ferry[bot]", true, "ferry: bump\n"};
  EXPECT_TRUE(is_ferry_head(ours, "ferry"));
  EXPECT_FALSE(is_ferry_head({"ferry[bot]", false, "x"}, "ferry"));     // unsigned: forged author
  EXPECT_FALSE(is_ferry_head({"octocat", true, "web edit"}, "ferry"));  // a person's web commit
  EXPECT_FALSE(is_ferry_head({"other[bot]", true, "x"}, "ferry"));
}

TEST(is_ferry_head, falls_back_to_the_trailer_before_the_slug_is_known) {
  EXPECT_TRUE(
      is_ferry_head({"x", true, "ferry: bump\n\nFerry-Source-Commit: abc\n"}, std::nullopt));
  EXPECT_FALSE(is_ferry_head({"x", true, "a person's commit\n"}, std::nullopt));
  EXPECT_FALSE(is_ferry_head({"x", false, "t\n\nFerry-Source-Commit: abc\n"}, std::nullopt));
  EXPECT_TRUE(is_ferry_head({"x", true, "ferry: onboard shop\n\nFerry-Onboard-Source: a/b@abc\n"},
                            std::nullopt));
  EXPECT_FALSE(is_ferry_head({"x", false, "t\n\nFerry-Onboard-Source: a/b@abc\n"}, std::nullopt));
  // A group commit whose edits had no source commit still names its group.
  EXPECT_TRUE(is_ferry_head({"x", true,
                             "ferry: bump 2 images of group train in staging\n\n"
                             "- a to 1.1.0\n- b to 1.1.0\n\nFerry-Group: train\n"},
                            std::nullopt));
  EXPECT_FALSE(is_ferry_head({"x", false, "t\n\nFerry-Group: train\n"}, std::nullopt));
}

TEST(branch_carries, exactly_the_changes_on_top_of_the_head) {
  const std::vector<markers::file_change> changes{{"a.yaml", "old", "new"}};
  std::map<std::string, std::string> branch{{"a.yaml", "new"}, {"b.yaml", "x"}};
  const auto reader = [&](const std::string& p) -> std::optional<std::string> {
    auto it = branch.find(p);
    return it == branch.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  const std::vector<std::string> same{"a.yaml"};
  EXPECT_TRUE(branch_carries(std::span<const std::string>(same), changes, reader));
  const std::vector<std::string> more{"a.yaml", "b.yaml"};  // the branch has another edit
  EXPECT_FALSE(branch_carries(std::span<const std::string>(more), changes, reader));
  branch["a.yaml"] = "older";  // an earlier bump
  EXPECT_FALSE(branch_carries(std::span<const std::string>(same), changes, reader));
  const std::vector<std::string> none;
  EXPECT_FALSE(branch_carries(std::span<const std::string>(none), changes, reader));
}

TEST(is_clean_status_error, recognises_githubs_answer) {
  EXPECT_TRUE(is_clean_status_error("UNPROCESSABLE: Pull request Pull request is in clean status"));
  EXPECT_FALSE(is_clean_status_error("FORBIDDEN: Resource not accessible by integration"));
}

}  // namespace
}  // namespace ferry::handlers
