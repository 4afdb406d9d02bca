// The pure decisions of the pull_request handler (handlers/pull_request_decision.hpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "handlers/pull_request_decision.hpp"
#include "service/limits.hpp"

namespace ferry::handlers {
namespace {

const std::vector<service::repo_name> k_infra = {{"dine-together", "infra"}};

events::pull_request_event ferry_pr(std::string action, bool merged) {
  events::pull_request_event e;
  e.action = std::move(action);
  e.merged = merged;
  e.number = 7;
  e.head_ref = "ferry/staging/flux-system-app";
  e.head_sha = std::string(40, 'a');
  e.head_repo_full_name = "dine-together/infra";
  e.base_ref = "main";
  e.repository.full_name = "dine-together/infra";
  e.repository.owner = "dine-together";
  e.repository.name = "infra";
  return e;
}

TEST(plan_pull_request, table) {
  struct row {
    const char* name;
    events::pull_request_event e;
    pull_request_work want;
  };
  std::vector<row> rows;
  rows.push_back({"merged ferry PR", ferry_pr("closed", true), pull_request_work::delete_branch});
  rows.push_back(
      {"closed unmerged ferry PR", ferry_pr("closed", false), pull_request_work::closed_unmerged});
  {
    auto e = ferry_pr("closed", true);
    e.repository.full_name = "Dine-Together/INFRA";  // GitHub names compare case-insensitively
    e.head_repo_full_name = "dine-together/infra";
    rows.push_back({"names differ in case only", e, pull_request_work::delete_branch});
  }
  {
    auto e = ferry_pr("closed", true);
    e.head_ref = "feature/x";
    rows.push_back({"merged person's branch", e, pull_request_work::ignore});
  }
  {
    auto e = ferry_pr("closed", true);
    e.head_ref = "ferryman/x";  // the prefix is "ferry/", not "ferry"
    rows.push_back({"lookalike prefix", e, pull_request_work::ignore});
  }
  {
    auto e = ferry_pr("closed", true);
    e.head_repo_full_name = "mallory/infra";
    rows.push_back({"ferry/ branch from a fork", e, pull_request_work::ignore});
  }
  {
    auto e = ferry_pr("closed", true);
    e.head_repo_full_name = "";  // head repository deleted
    rows.push_back({"deleted head repository", e, pull_request_work::ignore});
  }
  {
    auto e = ferry_pr("closed", true);
    e.repository.full_name = "dine-together/app";
    e.head_repo_full_name = "dine-together/app";
    rows.push_back({"not an infra repository", e, pull_request_work::ignore});
  }
  for (const char* a : {"opened", "synchronize", "reopened"}) {
    auto e = ferry_pr(a, false);
    e.head_ref = "feature/rules";
    rows.push_back({a, e, pull_request_work::check_rules});
  }
  for (const char* a : {"labeled", "edited", "review_requested", "assigned"}) {
    rows.push_back({a, ferry_pr(a, false), pull_request_work::ignore});
  }
  {
    auto e = ferry_pr("opened", false);
    e.repository.full_name = "someone/else";
    rows.push_back({"opened elsewhere", e, pull_request_work::ignore});
  }
  for (const auto& r : rows) {
    const auto plan = plan_pull_request(r.e, k_infra);
    EXPECT_EQ(plan.work, r.want) << r.name << ": " << plan.reason;
    EXPECT_FALSE(plan.reason.empty()) << r.name;
  }
}

TEST(rules_file_change, finds_changes_removals_and_renames) {
  const std::string p = ".github/ferry.yaml";
  EXPECT_EQ(rules_file_change(std::vector<changed_file>{}, p), rules_change::untouched);
  EXPECT_EQ(rules_file_change(std::vector<changed_file>{{"clusters/a.yaml", "modified", ""}}, p),
            rules_change::untouched);
  EXPECT_EQ(
      rules_file_change(std::vector<changed_file>{{"a", "added", ""}, {p, "modified", ""}}, p),
      rules_change::changed);
  EXPECT_EQ(rules_file_change(std::vector<changed_file>{{p, "added", ""}}, p),
            rules_change::changed);
  EXPECT_EQ(rules_file_change(std::vector<changed_file>{{p, "removed", ""}}, p),
            rules_change::removed);
  EXPECT_EQ(rules_file_change(std::vector<changed_file>{{".github/old.yaml", "renamed", p}}, p),
            rules_change::removed);
  // Renamed onto the rules path: there is a file to check.
  EXPECT_EQ(rules_file_change(std::vector<changed_file>{{p, "renamed", ".github/new.yaml"}}, p),
            rules_change::changed);
  // A path that only starts like the rules file is another file.
  EXPECT_EQ(rules_file_change(std::vector<changed_file>{{p + ".bak", "removed", ""}}, p),
            rules_change::untouched);
}

constexpr const char* k_valid = R"(version: 1
images:
  - name: app
    image: ghcr.io/dine-together/app
    policy: {semver: {range: ">=1.0.0"}}
environments:
  - name: staging
    paths: [clusters/staging]
    apply: {flux: {kind: Kustomization, name: apps, namespace: flux-system}}
  - name: production
    paths: [clusters/production]
    promoteFrom: staging
    apply: {flux: {kind: Kustomization, name: apps, namespace: flux-system}}
)";

TEST(rules_verdict_for, valid_rules_count_images_and_environments) {
  const auto v =
      rules_verdict_for(rules::parse_rules(k_valid, ".github/ferry.yaml"), ".github/ferry.yaml");
  EXPECT_EQ(v.state, "success");
  EXPECT_EQ(v.description, "rules valid: 1 image, 2 environments");
  EXPECT_FALSE(v.comment.has_value());
}

TEST(rules_verdict_for, invalid_rules_fit_140_and_list_every_error) {
  const std::string text = R"(version: 1
images:
  - name: app
    image: ghcr.io/dine-together/app
    policy: {semver: {range: ">=1.0.0"}}
    bogusKey: 1
environments:
  - name: Not_A_DNS_Label_And_Much_Longer_Than_Thirty_Two_Characters
    paths: [clusters/staging]
    promoteFrom: nowhere
)";
  const auto parsed = rules::parse_rules(text, ".github/ferry.yaml");
  ASSERT_FALSE(parsed.ok());
  ASSERT_GE(parsed.diagnostics().size(), 2U);
  const auto v = rules_verdict_for(parsed, ".github/ferry.yaml");
  EXPECT_EQ(v.state, "failure");
  EXPECT_LE(v.description.size(), limits::k_status_description_max);
  EXPECT_TRUE(v.description.starts_with(
      "invalid .github/ferry.yaml: " + std::to_string(parsed.diagnostics().size()) + " errors"))
      << v.description;
  ASSERT_TRUE(v.comment.has_value());
  for (const auto& d : parsed.diagnostics()) {
    EXPECT_NE(v.comment->find(d.to_string()), std::string::npos) << d.to_string();
  }
  EXPECT_NE(v.comment->find("```\n"), std::string::npos);
}

TEST(rules_verdict_for, removal_is_a_failure) {
  const auto v = rules_removed_verdict(".github/ferry.yaml");
  EXPECT_EQ(v.state, "failure");
  EXPECT_EQ(v.description, "rules file removed");
  ASSERT_TRUE(v.comment.has_value());
}

TEST(fit_description, cuts_without_splitting_utf8) {
  EXPECT_EQ(fit_description("short", 140), "short");
  const std::string exact(140, 'x');
  EXPECT_EQ(fit_description(exact, 140), exact);
  const std::string cut = fit_description(std::string(200, 'x'), 140);
  EXPECT_EQ(cut.size(), 140U);
  EXPECT_TRUE(cut.ends_with("..."));
  // "é" is two bytes: a cut between them would leave an invalid sequence.
  std::string accents;
  for (int i = 0; i < 100; ++i) {
    accents += "\xC3\xA9";
  }
  const std::string fitted = fit_description(accents, 140);
  EXPECT_LE(fitted.size(), 140U);
  const std::string body = fitted.substr(0, fitted.size() - 3);
  EXPECT_EQ(body.size() % 2, 0U);
}

}  // namespace
}  // namespace ferry::handlers
