// promotion::plan and promotion::exit_code over files scanned in the test (markers::scan_file)
// and rules parsed from text (rules::parse_rules): one row a case, SPEC "Command line" exit
// codes, "Policies", "What runs now" and "Markers".

#include "service/promotion/plan.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace ferry::promotion {
namespace {

constexpr const char* k_rules = R"(version: 1
images:
  - name: web
    image: ghcr.io/o/web
    policy: {semver: {range: ">=1.0.0 <2"}}
  - name: app
    image: ghcr.io/o/app
    filterTags: {pattern: '^sha-(?P<sha>[a-f0-9]+)$', extract: '$sha'}
    policy: {newest: {}}
  - name: alpha
    image: ghcr.io/o/alpha
    policy: {alphabetical: {order: asc}}
  - name: num
    image: ghcr.io/o/num
    policy: {numerical: {order: asc}}
  - name: pinned
    image: ghcr.io/o/pinned
    policy: {semver: {range: ">=1.0.0"}}
    pinDigest: true
  - name: api
    image: ghcr.io/o/api
    policy: {semver: {range: ">=1.0.0"}}
  - name: two-a
    image: ghcr.io/o/two
    policy: {semver: {range: ">=1.0.0"}}
  - name: two-b
    image: ghcr.io/o/two
    policy: {semver: {range: ">=1.0.0"}}
environments:
  - name: staging
    paths: [clusters/staging]
    apply: {flux: {name: apps}}
  - name: production
    paths: [clusters/production]
    promoteFrom: staging
    apply: {flux: {name: apps}}
  - name: frozen
    paths: [clusters/frozen]
    suspend: true
    apply: {flux: {name: apps}}
)";

// Two entry environments whose paths overlap: both edit clusters/staging/web.yaml.
constexpr const char* k_overlapping_rules = R"(version: 1
images:
  - name: web
    image: ghcr.io/o/web
    policy: {semver: {range: ">=1.0.0"}}
environments:
  - name: everything
    paths: [clusters]
    apply: {flux: {name: apps}}
  - name: staging
    paths: [clusters/staging]
    apply: {flux: {name: apps}}
)";

constexpr const char* k_digest1 =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
constexpr const char* k_digest2 =
    "sha256:2222222222222222222222222222222222222222222222222222222222222222";

using file_map = std::map<std::string, std::string>;

std::string web(const std::string& tag) {
  return "spec:\n  image: ghcr.io/o/web:" + tag + " # {\"$imagepolicy\": \"flux-system:web\"}\n";
}

// A kustomization with :tag and :digest markers (SPEC "Markers").
std::string api(const std::string& tag, const std::string& digest) {
  return "images:\n  - name: ghcr.io/o/api\n    newTag: \"" + tag +
         "\" # {\"$imagepolicy\": \"flux-system:api:tag\"}\n    digest: " + digest +
         " # {\"$imagepolicy\": \"flux-system:api:digest\"}\n";
}

std::string two(const std::string& a, const std::string& b) {
  return "images:\n  - name: ghcr.io/o/two\n    newTag: " + a +
         " # {\"$imagepolicy\": \"flux-system:two-a:tag\"}\n  - name: ghcr.io/o/two-canary\n"
         "    newTag: " +
         b + " # {\"$imagepolicy\": \"flux-system:two-b:tag\"}\n";
}

struct row {
  const char* name;
  file_map files;
  candidate cand;
  std::optional<std::string> env;
  int exit;
  file_map expected;   // every file the composed diff changes, with its new content
  const char* reason;  // a substring of some environment's reason (or the no-rule reason)
  const char* rules = k_rules;
  int changing_environments = -1;  // when >= 0, how many environment plans change
};

std::vector<markers::scanned_file> scan(const file_map& files) {
  std::vector<markers::scanned_file> out;
  for (const auto& [path, content] : files) {
    auto s = markers::scan_file(path, content);
    EXPECT_TRUE(s) << path << ": " << (s ? "" : s.error().message);
    if (!s) {
      continue;
    }
    EXPECT_TRUE(s->problems.empty()) << path;
    out.push_back({path, content, s->markers});
  }
  return out;
}

std::vector<row> rows() {
  const std::string d1 = k_digest1, d2 = k_digest2;
  return {
      {"semver upgrade",
       {{"clusters/staging/web.yaml", web("1.2.0")}},
       {"ghcr.io/o/web", "1.3.0", {}},
       {},
       0,
       {{"clusters/staging/web.yaml", web("1.3.0")}},
       "1.2.0 -> 1.3.0"},
      {"image reference compared case-insensitively",
       {{"clusters/staging/web.yaml", web("1.2.0")}},
       {"GHCR.io/O/Web", "1.3.0", {}},
       {},
       0,
       {{"clusters/staging/web.yaml", web("1.3.0")}},
       "1.2.0 -> 1.3.0"},
      {"semver downgrade rejected",
       {{"clusters/staging/web.yaml", web("1.4.0")}},
       {"ghcr.io/o/web", "1.3.0", {}},
       {},
       3,
       {},
       "1.4.0"},
      {"semver outside the range",
       {{"clusters/staging/web.yaml", web("1.4.0")}},
       {"ghcr.io/o/web", "2.0.0", {}},
       {},
       3,
       {},
       "2.0.0"},
      {"equal tag: nothing",
       {{"clusters/staging/web.yaml", web("1.4.0")}},
       {"ghcr.io/o/web", "1.4.0", {}},
       {},
       4,
       {},
       "already runs"},
      {"no marker under the entry environment",
       {{"clusters/production/web.yaml", web("1.2.0")}},
       {"ghcr.io/o/web", "1.3.0", {}},
       {},
       4,
       {},
       "no marker"},
      {"no rule for the image",
       {{"clusters/staging/web.yaml", web("1.2.0")}},
       {"ghcr.io/o/nothing", "1.3.0", {}},
       {},
       3,
       {},
       "no rule for image ghcr.io/o/nothing"},
      {"newest filtered out",
       {{"clusters/staging/app.yaml",
         "image: ghcr.io/o/app:sha-aaaaaaa # {\"$imagepolicy\": "
         "\"flux-system:app\"}\n"}},
       {"ghcr.io/o/app", "latest", {}},
       {},
       3,
       {},
       "latest"},
      // Offline, `newest` takes any tag its filter admits, even one whose commit looks older.
      {"newest accepts any offline",
       {{"clusters/staging/app.yaml",
         "image: ghcr.io/o/app:sha-fffffff # {\"$imagepolicy\": "
         "\"flux-system:app\"}\n"}},
       {"ghcr.io/o/app", "sha-0000001", {}},
       {},
       0,
       {{"clusters/staging/app.yaml",
         "image: ghcr.io/o/app:sha-0000001 # {\"$imagepolicy\": \"flux-system:app\"}\n"}},
       "sha-0000001"},
      {"alphabetical up",
       {{"clusters/staging/a.yaml", "tag: b # {\"$imagepolicy\": \"flux-system:alpha:tag\"}\n"}},
       {"ghcr.io/o/alpha", "c", {}},
       {},
       0,
       {{"clusters/staging/a.yaml", "tag: c # {\"$imagepolicy\": \"flux-system:alpha:tag\"}\n"}},
       "b -> c"},
      {"alphabetical down rejected",
       {{"clusters/staging/a.yaml", "tag: b # {\"$imagepolicy\": \"flux-system:alpha:tag\"}\n"}},
       {"ghcr.io/o/alpha", "a", {}},
       {},
       3,
       {},
       ""},
      // Numerically 10 > 9 although "9" > "10" as strings; a number-looking tag stays a string.
      {"numerical up",
       {{"clusters/staging/n.yaml", "tag: \"9\" # {\"$imagepolicy\": \"flux-system:num:tag\"}\n"}},
       {"ghcr.io/o/num", "10", {}},
       {},
       0,
       {{"clusters/staging/n.yaml", "tag: \"10\" # {\"$imagepolicy\": \"flux-system:num:tag\"}\n"}},
       "9 -> 10"},
      {"numerical down rejected",
       {{"clusters/staging/n.yaml", "tag: \"10\" # {\"$imagepolicy\": \"flux-system:num:tag\"}\n"}},
       {"ghcr.io/o/num", "9", {}},
       {},
       3,
       {},
       ""},
      // Markers disagree: the highest (1.4.0) is current, so 1.3.0 is a downgrade ...
      {"disagreeing markers: below the highest",
       {{"clusters/staging/a.yaml", web("1.2.0")}, {"clusters/staging/b.yaml", web("1.4.0")}},
       {"ghcr.io/o/web", "1.3.0", {}},
       {},
       3,
       {},
       "1.4.0"},
      // ... and 1.5.0 moves every marker, the lower one too.
      {"disagreeing markers: all move",
       {{"clusters/staging/a.yaml", web("1.2.0")}, {"clusters/staging/b.yaml", web("1.4.0")}},
       {"ghcr.io/o/web", "1.5.0", {}},
       {},
       0,
       {{"clusters/staging/a.yaml", web("1.5.0")}, {"clusters/staging/b.yaml", web("1.5.0")}},
       "1.4.0 -> 1.5.0"},
      {"suspended environment named by --env",
       {{"clusters/frozen/web.yaml", web("1.2.0")}},
       {"ghcr.io/o/web", "1.3.0", {}},
       "frozen",
       3,
       {},
       "suspended"},
      {"suspended environment is no entry environment",
       {{"clusters/frozen/web.yaml", web("1.2.0")}},
       {"ghcr.io/o/web", "1.3.0", {}},
       {},
       4,
       {},
       "",
       k_rules,
       0},
      {"--env names a downstream environment",
       {{"clusters/staging/web.yaml", web("1.2.0")},
        {"clusters/production/web.yaml", web("1.1.0")}},
       {"ghcr.io/o/web", "1.3.0", {}},
       "production",
       0,
       {{"clusters/production/web.yaml", web("1.3.0")}},
       "production: 1.1.0 -> 1.3.0"},
      {"without --env only entry environments",
       {{"clusters/staging/web.yaml", web("1.2.0")},
        {"clusters/production/web.yaml", web("1.1.0")}},
       {"ghcr.io/o/web", "1.3.0", {}},
       {},
       0,
       {{"clusters/staging/web.yaml", web("1.3.0")}},
       "",
       k_rules,
       1},
      {"pinDigest without a digest",
       {{"clusters/staging/p.yaml", "image: ghcr.io/o/pinned:1.2.0@" + d1 +
                                        " # {\"$imagepolicy\": \"flux-system:pinned\"}\n"}},
       {"ghcr.io/o/pinned", "1.3.0", {}},
       {},
       2,
       {},
       "--digest"},
      {"pinDigest with a digest",
       {{"clusters/staging/p.yaml", "image: ghcr.io/o/pinned:1.2.0@" + d1 +
                                        " # {\"$imagepolicy\": \"flux-system:pinned\"}\n"}},
       {"ghcr.io/o/pinned", "1.3.0", d2},
       {},
       0,
       {{"clusters/staging/p.yaml", "image: ghcr.io/o/pinned:1.3.0@" + d2 +
                                        " # {\"$imagepolicy\": \"flux-system:pinned\"}\n"}},
       ""},
      {":digest marker without a digest",
       {{"clusters/staging/kustomization.yaml", api("1.2.0", d1)}},
       {"ghcr.io/o/api", "1.3.0", {}},
       {},
       2,
       {},
       "--digest"},
      {":digest marker with a digest",
       {{"clusters/staging/kustomization.yaml", api("1.2.0", d1)}},
       {"ghcr.io/o/api", "1.3.0", d2},
       {},
       0,
       {{"clusters/staging/kustomization.yaml", api("1.3.0", d2)}},
       ""},
      // A digest would not help a downgrade: the rejection is the answer.
      {"downgrade without a digest is a rejection",
       {{"clusters/staging/kustomization.yaml", api("1.4.0", d1)}},
       {"ghcr.io/o/api", "1.3.0", {}},
       {},
       3,
       {},
       "1.4.0"},
      {"two rules for one image edit one file",
       {{"clusters/staging/k.yaml", two("1.0.0", "1.1.0")}},
       {"ghcr.io/o/two", "1.2.0", {}},
       {},
       0,
       {{"clusters/staging/k.yaml", two("1.2.0", "1.2.0")}},
       "",
       k_rules,
       2},
      {"overlapping environments edit one file",
       {{"clusters/staging/web.yaml", web("1.2.0")}, {"clusters/other/web.yaml", web("1.2.0")}},
       {"ghcr.io/o/web", "1.3.0", {}},
       {},
       0,
       {{"clusters/staging/web.yaml", web("1.3.0")}, {"clusters/other/web.yaml", web("1.3.0")}},
       "",
       k_overlapping_rules,
       2},
      {"markers outside every environment's paths stay",
       {{"clusters/staging/web.yaml", web("1.2.0")}, {"apps/web.yaml", web("1.0.0")}},
       {"ghcr.io/o/web", "1.3.0", {}},
       {},
       0,
       {{"clusters/staging/web.yaml", web("1.3.0")}},
       ""},
      // One environment changes, another rejects: a diff was printed, so 0.
      {"any change wins over a rejection",
       {{"clusters/staging/web.yaml", web("1.2.0")},
        {"clusters/production/web.yaml", web("1.9.0")}},
       {"ghcr.io/o/web", "1.3.0", {}},
       {},
       0,
       {{"clusters/staging/web.yaml", web("1.3.0")}},
       "",
       R"(version: 1
images:
  - name: web
    image: ghcr.io/o/web
    policy: {semver: {range: ">=1.0.0"}}
environments:
  - name: staging
    paths: [clusters/staging]
    apply: {flux: {name: apps}}
  - name: production
    paths: [clusters/production]
    apply: {flux: {name: apps}}
)",
       1},
  };
}

class plan_table : public ::testing::TestWithParam<row> {};

TEST_P(plan_table, decides_and_edits) {
  const row& r = GetParam();
  auto parsed = rules::parse_rules(r.rules, ".github/ferry.yaml");
  ASSERT_TRUE(parsed) << parsed.report();
  const auto files = scan(r.files);
  plan_options options;
  options.environment = r.env;
  auto p = plan(parsed.value(), files, r.cand, options);
  ASSERT_TRUE(p) << p.error().message;

  std::string reasons = p->no_rule_reason;
  int changing = 0;
  for (const auto& e : p->environments) {
    reasons += "\n" + e.reason;
    changing += e.status == env_status::change ? 1 : 0;
  }
  EXPECT_EQ(exit_code(*p), r.exit) << reasons;
  EXPECT_NE(reasons.find(r.reason), std::string::npos) << reasons;
  if (r.changing_environments >= 0) {
    EXPECT_EQ(changing, r.changing_environments) << reasons;
  }

  // Every file at most once (so the diff applies), with exactly the expected new bytes.
  file_map got;
  for (const auto& ch : p->changes) {
    EXPECT_TRUE(got.emplace(ch.path, ch.new_content).second) << ch.path << " appears twice";
    EXPECT_EQ(ch.old_content, r.files.at(ch.path)) << ch.path;
  }
  EXPECT_EQ(got, r.expected);
  if (r.exit != 0) {
    EXPECT_TRUE(p->changes.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(rows, plan_table, ::testing::ValuesIn(rows()),
                         [](const ::testing::TestParamInfo<row>& info) {
                           std::string n = info.param.name;
                           for (auto& ch : n) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) {
                               ch = '_';
                             }
                           }
                           return n;
                         });

TEST(plan, unknown_environment_is_an_input_error_naming_the_known_ones) {
  auto parsed = rules::parse_rules(k_rules, ".github/ferry.yaml");
  ASSERT_TRUE(parsed) << parsed.report();
  const auto files = scan({{"clusters/staging/web.yaml", web("1.2.0")}});
  plan_options options;
  options.environment = "qa";
  auto p = plan(parsed.value(), files, {"ghcr.io/o/web", "1.3.0", {}}, options);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().kind, error_kind::invalid_input);
  EXPECT_NE(p.error().message.find("qa"), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find("staging, production, frozen"), std::string::npos)
      << p.error().message;
}

TEST(plan, disagreeing_markers_report_the_highest_as_current_and_every_previous_value) {
  auto parsed = rules::parse_rules(k_rules, ".github/ferry.yaml");
  ASSERT_TRUE(parsed) << parsed.report();
  const auto files =
      scan({{"clusters/staging/a.yaml", web("1.4.0")}, {"clusters/staging/b.yaml", web("1.2.0")}});
  auto p = plan(parsed.value(), files, {"ghcr.io/o/web", "1.5.0", {}}, {});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->environments.size(), 1u);
  const auto& e = p->environments[0];
  EXPECT_EQ(e.status, env_status::change);
  EXPECT_EQ(e.current, "1.4.0");
  EXPECT_EQ(e.previous_values, (std::vector<std::string>{"1.4.0", "1.2.0"}));
  ASSERT_EQ(e.records.size(), 2u);
  EXPECT_EQ(e.records[0].old_value, "ghcr.io/o/web:1.4.0");
  EXPECT_EQ(e.records[1].old_value, "ghcr.io/o/web:1.2.0");
}

// The open PR's value counts as what runs now: a late delivery never moves a PR backwards.
TEST(plan, open_pull_request_value_must_be_exceeded) {
  auto parsed = rules::parse_rules(k_rules, ".github/ferry.yaml");
  ASSERT_TRUE(parsed) << parsed.report();
  const auto files = scan({{"clusters/staging/web.yaml", web("1.2.0")}});
  plan_options options;
  options.open_pr_values = {{"staging", "1.5.0"}, {"production", "1.9.0"}};
  auto p = plan(parsed.value(), files, {"ghcr.io/o/web", "1.3.0", {}}, options);
  ASSERT_TRUE(p);
  EXPECT_EQ(exit_code(*p), 3);
  options.open_pr_values = {{"production", "1.9.0"}};
  p = plan(parsed.value(), files, {"ghcr.io/o/web", "1.3.0", {}}, options);
  ASSERT_TRUE(p);
  EXPECT_EQ(exit_code(*p), 0);
}

// sourceBranches gates every policy, not only newest's diverged case (issue 10): a semver tag
// built on a feature branch is refused however high it ranks.
TEST(plan, source_branches_gate_every_policy) {
  const std::string text = std::string(k_rules).replace(
      std::string(k_rules).find("    policy: {semver: {range: \">=1.0.0 <2\"}}"),
      std::string("    policy: {semver: {range: \">=1.0.0 <2\"}}").size(),
      "    policy: {semver: {range: \">=1.0.0 <2\"}}\n    sourceBranches: [main, release]");
  auto parsed = rules::parse_rules(text, ".github/ferry.yaml");
  ASSERT_TRUE(parsed) << parsed.report();
  const auto files = scan({{"clusters/staging/web.yaml", web("1.2.0")}});
  plan_options options;
  struct row {
    std::optional<std::string> branch;
    int exit;
    std::string reason;
  };
  const row rows[] = {
      {"main", 0, ""},
      {"release", 0, ""},
      {"feature/x", 3, "built from branch feature/x, not one of sourceBranches (main, release)"},
      {"", 3, "does not say which branch"},
      {std::nullopt, 0, ""},  // offline (ferry plan): no event, no gate
  };
  for (const auto& r : rows) {
    options.source_branch = r.branch;
    auto p = plan(parsed.value(), files, {"ghcr.io/o/web", "1.3.0", {}}, options);
    ASSERT_TRUE(p);
    EXPECT_EQ(exit_code(*p), r.exit) << r.branch.value_or("(none)");
    if (!r.reason.empty()) {
      ASSERT_FALSE(p->environments.empty());
      EXPECT_NE(p->environments.front().reason.find(r.reason), std::string::npos)
          << p->environments.front().reason;
    }
  }
  // A rule without sourceBranches takes any branch.
  options.source_branch = "feature/x";
  auto p = plan(parsed.value(),
                scan({{"clusters/staging/api.yaml",
                       "image: ghcr.io/o/api:1.0.0 # {\"$imagepolicy\": "
                       "\"flux-system:api\"}\n"}}),
                {"ghcr.io/o/api", "1.1.0", {}}, options);
  ASSERT_TRUE(p);
  EXPECT_EQ(exit_code(*p), 0);
}

// Per-environment changes stay separate (one PR per environment and image), each from the
// original bytes; only plan_result::changes composes them.
TEST(plan, per_rule_changes_are_made_from_the_original_bytes) {
  auto parsed = rules::parse_rules(k_rules, ".github/ferry.yaml");
  ASSERT_TRUE(parsed) << parsed.report();
  const std::string original = two("1.0.0", "1.1.0");
  const auto files = scan({{"clusters/staging/k.yaml", original}});
  auto p = plan(parsed.value(), files, {"ghcr.io/o/two", "1.2.0", {}}, {});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->environments.size(), 2u);
  EXPECT_EQ(p->environments[0].changes.at(0).new_content, two("1.2.0", "1.1.0"));
  EXPECT_EQ(p->environments[1].changes.at(0).new_content, two("1.0.0", "1.2.0"));
  const auto diff = markers::unified_diff(p->changes);
  EXPECT_EQ(diff.find("diff --git"), diff.rfind("diff --git")) << diff;
}

TEST(exit_code, precedence_across_environments) {
  rules::environment env;
  rules::image_rule rule;
  auto with = [&](std::vector<env_status> statuses) {
    plan_result p;
    for (auto s : statuses) {
      environment_plan e;
      e.environment = &env;
      e.rule = &rule;
      e.status = s;
      p.environments.push_back(e);
    }
    return exit_code(p);
  };
  EXPECT_EQ(with({env_status::nothing, env_status::change}), 0);
  EXPECT_EQ(with({env_status::rejected, env_status::needs_digest}), 2);
  EXPECT_EQ(with({env_status::nothing, env_status::rejected}), 3);
  EXPECT_EQ(with({env_status::compare_commits}), 3);
  EXPECT_EQ(with({env_status::nothing, env_status::nothing}), 4);
  EXPECT_EQ(with({}), 4);
  plan_result no_rule;
  no_rule.no_rule_reason = "no rule for image x";
  EXPECT_EQ(exit_code(no_rule), 3);
}

}  // namespace
}  // namespace ferry::promotion
