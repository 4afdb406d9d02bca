// The rules file parser: the SPEC example parses to the expected structs, and every rejection
// the contract lists is reported at its exact line:column with a message a person can act on.

#include "service/rules/rules.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ferry::rules {
namespace {

// SPEC "Rules file", verbatim.
constexpr const char* k_spec_example = R"(version: 1
images:
  - name: app                       # markers refer to <namespace>:<name>, as Flux ImagePolicy does
    namespace: flux-system          # optional, default flux-system
    image: ghcr.io/dine-together/app
    filterTags: {pattern: '^sha-(?P<sha>[a-f0-9]+)$', extract: '$sha'}   # optional, Flux semantics
    policy: {newest: {}}            # or {semver: {range: ">=1.0.0 <2"}}, {alphabetical: {order: asc}}, {numerical: {order: desc}}
    sourceBranches: [main]          # optional: only images built from these branches (package_version.target_commitish)
    pinDigest: false                # true: write tag@sha256:digest in whole-reference markers
environments:
  - name: staging                   # a DNS label of at most 32 characters
    paths: [clusters/staging]       # markers are edited only under these paths
    autoMerge: true                 # or {method: squash|merge|rebase}; true means squash
    apply: {flux: {kind: Kustomization, name: apps, namespace: flux-system}}
  - name: production
    paths: [clusters/production]
    promoteFrom: staging            # opened after staging's apply succeeded
    reviewers: [octocat]
    teamReviewers: [platform]
    apply: {job: {namespace: flux-system, template: infra/apply-job.yaml}}
    suspend: false                  # true: no PRs, no applies here or downstream
)";

TEST(parse_rules, spec_example_parses_to_the_expected_structs) {
  const auto out = parse_rules(k_spec_example, ".github/ferry.yaml");
  ASSERT_TRUE(out.ok()) << out.report();
  const rules_file& r = out.value();
  EXPECT_EQ(r.version, 1);
  ASSERT_EQ(r.images.size(), 1u);
  const image_rule& img = r.images[0];
  EXPECT_EQ(img.name, "app");
  EXPECT_EQ(img.namespace_name, "flux-system");
  EXPECT_EQ(img.marker_ref(), "flux-system:app");
  EXPECT_EQ(img.image, "ghcr.io/dine-together/app");
  ASSERT_TRUE(img.policy.filter.has_value());
  EXPECT_EQ(img.policy.filter->pattern(), "^sha-(?P<sha>[a-f0-9]+)$");
  EXPECT_EQ(img.policy.filter->extract(), "$sha");
  EXPECT_TRUE(std::holds_alternative<newest_policy>(img.policy.kind));
  EXPECT_EQ(img.source_branches, std::vector<std::string>{"main"});
  EXPECT_FALSE(img.pin_digest);
  EXPECT_EQ(img.where.line, 3);
  EXPECT_EQ(img.where.column, 5);

  ASSERT_EQ(r.environments.size(), 2u);
  const environment& staging = r.environments[0];
  EXPECT_EQ(staging.name, "staging");
  EXPECT_EQ(staging.paths, std::vector<std::string>{"clusters/staging"});
  EXPECT_TRUE(staging.merge.enabled);
  EXPECT_EQ(staging.merge.method, merge_method::squash);
  ASSERT_TRUE(staging.apply.has_value());
  ASSERT_TRUE(std::holds_alternative<apply_flux>(staging.apply->target));
  const auto& flux = std::get<apply_flux>(staging.apply->target);
  EXPECT_EQ(flux.kind, "Kustomization");
  EXPECT_EQ(flux.name, "apps");
  EXPECT_EQ(flux.namespace_name, "flux-system");
  EXPECT_EQ(staging.apply->timeout, std::chrono::minutes(10));
  EXPECT_FALSE(staging.promote_from.has_value());
  EXPECT_FALSE(staging.suspend);

  const environment& prod = r.environments[1];
  EXPECT_EQ(prod.name, "production");
  EXPECT_EQ(prod.paths, std::vector<std::string>{"clusters/production"});
  EXPECT_EQ(prod.promote_from, "staging");
  EXPECT_EQ(prod.reviewers, std::vector<std::string>{"octocat"});
  EXPECT_EQ(prod.team_reviewers, std::vector<std::string>{"platform"});
  EXPECT_FALSE(prod.merge.enabled);
  ASSERT_TRUE(prod.apply.has_value());
  ASSERT_TRUE(std::holds_alternative<apply_job>(prod.apply->target));
  const auto& job = std::get<apply_job>(prod.apply->target);
  EXPECT_EQ(job.namespace_name, "flux-system");
  EXPECT_EQ(job.template_path, "infra/apply-job.yaml");
  EXPECT_FALSE(prod.suspend);

  // The filter from the file works as Flux's would.
  EXPECT_EQ(img.policy.filter->apply("sha-0123abc"), "0123abc");
  EXPECT_EQ(branch_name(prod, img), "ferry/production/flux-system-app");
}

TEST(parse_rules, every_form_of_each_setting) {
  const char* text = R"(version: 1
images:
  - name: api
    namespace: apps
    image: registry.example.com:5000/team/api-server
    policy: {semver: {range: ">=1.0.0 <2 || ^3"}}
    pinDigest: true
  - name: web
    image: ghcr.io/o/web
    policy: {alphabetical: {order: desc}}
  - name: batch
    image: localhost/batch
    policy:
      numerical: {}
  - name: tools
    image: ghcr.io/o/tools
    policy: {alphabetical: null}
environments:
  - name: dev
    paths: ["./clusters/dev/", ., "a//b"]
    autoMerge: {method: rebase}
    apply: {flux: {name: apps, namespace: infra}, timeout: 1h30m}
  - name: qa
    paths: [clusters/qa]
    autoMerge: {}
    promoteFrom: dev
    apply:
      job: {namespace: ops, template: ./jobs/apply.yaml}
      timeout: 90s
  - name: prod
    paths: [clusters/prod]
    autoMerge: false
    promoteFrom: qa
    suspend: true
    apply: {flux: {name: apps}}
  - name: dr
    paths: [clusters/dr]
    promoteFrom: prod
    apply: {flux: {name: apps}}
  - name: preview
    paths: [clusters/preview]
    suspend: true
    apply: {flux: {name: apps}}
)";
  const auto out = parse_rules(text, "ferry.yaml");
  ASSERT_TRUE(out.ok()) << out.report();
  const auto& r = out.value();
  ASSERT_EQ(r.images.size(), 4u);
  EXPECT_EQ(r.images[0].namespace_name, "apps");
  EXPECT_TRUE(r.images[0].pin_digest);
  const auto& sp = std::get<semver_policy>(r.images[0].policy.kind);
  EXPECT_EQ(sp.range.text(), ">=1.0.0 <2 || ^3");
  EXPECT_EQ(std::get<alphabetical_policy>(r.images[1].policy.kind).order, sort_order::desc);
  EXPECT_EQ(std::get<numerical_policy>(r.images[2].policy.kind).order, sort_order::asc);
  EXPECT_EQ(std::get<alphabetical_policy>(r.images[3].policy.kind).order, sort_order::asc);

  const auto& dev = r.environments[0];
  EXPECT_EQ(dev.paths, (std::vector<std::string>{"clusters/dev", ".", "a/b"}));
  EXPECT_EQ(dev.merge.method, merge_method::rebase);
  EXPECT_TRUE(dev.merge.enabled);
  EXPECT_EQ(std::get<apply_flux>(dev.apply->target).namespace_name, "infra");
  EXPECT_EQ(dev.apply->timeout, std::chrono::seconds(5400));
  const auto& qa = r.environments[1];
  EXPECT_TRUE(qa.merge.enabled);
  EXPECT_EQ(qa.merge.method, merge_method::squash);
  EXPECT_EQ(std::get<apply_job>(qa.apply->target).template_path, "jobs/apply.yaml");
  EXPECT_EQ(qa.apply->timeout, std::chrono::seconds(90));
  EXPECT_FALSE(r.environments[2].merge.enabled);

  // Helpers over the chain dev -> qa -> prod (suspended) -> dr; preview suspended on its own.
  std::vector<std::string> entries;
  for (const auto* e : entry_environments(r)) {
    entries.push_back(e->name);
  }
  EXPECT_EQ(entries, std::vector<std::string>{"dev"});
  EXPECT_FALSE(is_suspended(r, "dev"));
  EXPECT_FALSE(is_suspended(r, "qa"));
  EXPECT_TRUE(is_suspended(r, "prod"));
  EXPECT_TRUE(is_suspended(r, "dr"));  // its upstream is suspended
  EXPECT_TRUE(is_suspended(r, "preview"));
  EXPECT_TRUE(is_suspended(r, "nope"));  // unknown: fail closed
  std::vector<std::string> below;
  for (const auto* e : all_downstream(r, "dev")) {
    below.push_back(e->name);
  }
  EXPECT_EQ(below, (std::vector<std::string>{"qa", "prod", "dr"}));
  ASSERT_EQ(direct_downstream(r, "qa").size(), 1u);
  EXPECT_EQ(direct_downstream(r, "qa")[0]->name, "prod");
  EXPECT_TRUE(direct_downstream(r, "dr").empty());
  EXPECT_EQ(find_environment(r, "qa"), &r.environments[1]);
  EXPECT_EQ(find_environment(r, "QA"), nullptr);
  EXPECT_EQ(find_image_rule(r, "apps", "api"), &r.images[0]);
  EXPECT_EQ(find_image_rule(r, "flux-system", "api"), nullptr);
  EXPECT_EQ(branch_name(r.environments[0], r.images[0]), "ferry/dev/apps-api");
}

// SPEC "Rules file": an environment without apply gets pull requests only; it may itself be
// promoted from an environment that applies, and it is still an entry environment.
TEST(parse_rules, flux_health_checks_in_flux_format_with_defaults) {
  const auto out = parse_rules(R"(version: 1
images: []
environments:
  - name: staging
    paths: [clusters/staging]
    apply:
      flux:
        name: apps
        namespace: infra
        healthChecks:
          - apiVersion: helm.toolkit.fluxcd.io/v2
            kind: HelmRelease
            name: app
            namespace: apps
          - {kind: Deployment, name: web}
  - name: production
    paths: [clusters/production]
    apply: {flux: {name: apps, healthChecks: []}}
  - name: dev
    paths: [clusters/dev]
    apply: {flux: {name: apps}}
)",
                               "ferry.yaml");
  ASSERT_TRUE(out.ok()) << out.report();
  const auto& envs = out.value().environments;
  const auto& staging = std::get<apply_flux>(envs[0].apply->target);
  ASSERT_TRUE(staging.health_checks.has_value());
  ASSERT_EQ(staging.health_checks->size(), 2u);
  EXPECT_EQ((*staging.health_checks)[0],
            (health_check{"helm.toolkit.fluxcd.io/v2", "HelmRelease", "app", "apps"}));
  // apiVersion from the kind, namespace from the Kustomization (Flux's defaulting).
  EXPECT_EQ((*staging.health_checks)[1], (health_check{"apps/v1", "Deployment", "web", "infra"}));
  // [] turns the default off; absent keeps it (the touched HelmReleases).
  const auto& production = std::get<apply_flux>(envs[1].apply->target);
  ASSERT_TRUE(production.health_checks.has_value());
  EXPECT_TRUE(production.health_checks->empty());
  EXPECT_FALSE(std::get<apply_flux>(envs[2].apply->target).health_checks.has_value());
}

TEST(parse_rules, argocd_apply_with_its_defaults) {
  const auto out = parse_rules(R"(version: 1
images: []
environments:
  - name: staging
    paths: [clusters/staging]
    apply: {argocd: {application: apps-staging}}
  - name: production
    paths: [clusters/production]
    promoteFrom: staging
    apply: {argocd: {application: apps, namespace: gitops, sync: true}}
)",
                               "ferry.yaml");
  ASSERT_TRUE(out.ok()) << out.report();
  const auto& staging = std::get<apply_argocd>(out.value().environments[0].apply->target);
  EXPECT_EQ(staging.application, "apps-staging");
  EXPECT_EQ(staging.namespace_name, "argocd");
  EXPECT_FALSE(staging.sync);
  const auto& production = std::get<apply_argocd>(out.value().environments[1].apply->target);
  EXPECT_EQ(production.namespace_name, "gitops");
  EXPECT_TRUE(production.sync);
}

TEST(parse_rules, fleet_apply_with_its_default_namespace) {
  const auto out = parse_rules(R"(version: 1
images: []
environments:
  - name: staging
    paths: [clusters/staging]
    apply: {fleet: {gitRepo: apps}}
  - name: production
    paths: [clusters/production]
    promoteFrom: staging
    apply: {fleet: {gitRepo: apps-prod, namespace: fleet-local}, timeout: 20m}
)",
                               "ferry.yaml");
  ASSERT_TRUE(out.ok()) << out.report();
  const auto& staging = std::get<apply_fleet>(out.value().environments[0].apply->target);
  EXPECT_EQ(staging.git_repo, "apps");
  EXPECT_EQ(staging.namespace_name, "fleet-default");
  const auto& production = std::get<apply_fleet>(out.value().environments[1].apply->target);
  EXPECT_EQ(production.git_repo, "apps-prod");
  EXPECT_EQ(production.namespace_name, "fleet-local");
  EXPECT_EQ(out.value().environments[1].apply->timeout, std::chrono::minutes(20));
}

TEST(parse_rules, gates_on_the_environment_promoted_from) {
  const auto out = parse_rules(R"(version: 1
images: []
environments:
  - name: staging
    paths: [clusters/staging]
    apply: {argocd: {application: apps}}
    gates:
      flagger: {canary: podinfo, namespace: apps}
      statuses: [ci/e2e, smoke-tests]
      timeout: 45m
  - name: canary
    paths: [clusters/canary]
    apply: {flux: {name: apps}}
    gates: {statuses: [ci/e2e]}
  - name: production
    paths: [clusters/production]
    promoteFrom: staging
)",
                               "ferry.yaml");
  ASSERT_TRUE(out.ok()) << out.report();
  const auto& staging = *out.value().environments[0].gates;
  ASSERT_TRUE(staging.flagger.has_value());
  EXPECT_EQ(staging.flagger->canary, "podinfo");
  EXPECT_EQ(staging.flagger->namespace_name, "apps");
  EXPECT_EQ(staging.statuses, (std::vector<std::string>{"ci/e2e", "smoke-tests"}));
  EXPECT_EQ(staging.timeout, std::chrono::minutes(45));
  const auto& canary = *out.value().environments[1].gates;
  EXPECT_FALSE(canary.flagger.has_value());
  EXPECT_EQ(canary.timeout, std::chrono::minutes(30));  // the default
  EXPECT_FALSE(out.value().environments[2].gates.has_value());
}

TEST(parse_rules, apply_is_optional) {
  constexpr const char* text = R"(version: 1
images: []
environments:
  - name: staging
    paths: [clusters/staging]
  - name: production
    paths: [clusters/production]
    apply: {flux: {name: apps}}
  - name: mirror
    paths: [clusters/mirror]
    promoteFrom: production
)";
  const auto out = parse_rules(text, "f");
  ASSERT_TRUE(out.ok()) << out.report();
  const auto& envs = out.value().environments;
  ASSERT_EQ(envs.size(), 3u);
  EXPECT_FALSE(envs[0].apply.has_value());
  EXPECT_TRUE(envs[1].apply.has_value());
  EXPECT_FALSE(envs[2].apply.has_value());
  const auto entries = entry_environments(out.value());
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0]->name, "staging");
  EXPECT_EQ(entries[1]->name, "production");
}

TEST(parse_rules, a_group_shares_one_branch_per_environment) {
  const char* text = R"(version: 1
images:
  - name: api
    image: ghcr.io/o/api
    policy: {newest: {}}
    group: train
  - name: web
    namespace: apps
    image: ghcr.io/o/web
    policy: {semver: {range: "*"}}
    group: train
  - name: worker
    image: ghcr.io/o/worker
    policy: {newest: {}}
environments:
  - name: staging
    paths: [clusters/staging]
    apply: {flux: {name: apps}}
)";
  const auto out = parse_rules(text, "f");
  ASSERT_TRUE(out.ok()) << out.report();
  const auto& r = out.value();
  EXPECT_EQ(r.images[0].group, "train");
  EXPECT_EQ(r.images[1].group, "train");
  EXPECT_EQ(r.images[2].group, "");
  EXPECT_EQ(branch_name(r.environments[0], r.images[0]), "ferry/staging/group-train");
  EXPECT_EQ(branch_name(r.environments[0], r.images[1]), "ferry/staging/group-train");
  EXPECT_EQ(branch_name(r.environments[0], r.images[2]), "ferry/staging/flux-system-worker");
  const auto members = group_rules(r, "train");
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0]->name, "api");
  EXPECT_EQ(members[1]->name, "web");
  EXPECT_TRUE(group_rules(r, "").empty());
  EXPECT_TRUE(group_rules(r, "other").empty());
}

TEST(rules_for_image, compares_lower_cased) {
  const char* text = R"(version: 1
images:
  - name: a
    image: ghcr.io/dine-together/app
    policy: {newest: {}}
  - name: b
    image: ghcr.io/dine-together/app
    policy: {semver: {range: "*"}}
  - name: c
    image: ghcr.io/dine-together/other
    policy: {newest: {}}
environments:
  - name: staging
    paths: [clusters/staging]
    apply: {flux: {name: apps}}
)";
  const auto out = parse_rules(text, "f");
  ASSERT_TRUE(out.ok()) << out.report();
  const auto found = rules_for_image(out.value(), "GHCR.io/Dine-Together/App");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0]->name, "a");
  EXPECT_EQ(found[1]->name, "b");
  EXPECT_TRUE(rules_for_image(out.value(), "ghcr.io/dine-together/app:1.0").empty());
  EXPECT_TRUE(rules_for_image(out.value(), "ghcr.io/dine-together").empty());
}

// A valid file with one line swapped in; the header comment gives each line's number.
struct rejection {
  const char* label;
  const char* yaml;
  int line;
  int column;
  const char* message_part;
};

// Lines of the base document (1-based), for reading the expectations below:
//  1 version: 1
//  2 images:
//  3   - name: app
//  4     image: ghcr.io/o/app
//  5     policy: {newest: {}}
//  6 environments:
//  7   - name: staging
//  8     paths: [clusters/staging]
//  9     apply: {flux: {name: apps}}
const rejection k_rejections[] = {
    {"unknown image key with suggestion",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app\n    policy: {newest: {}}\n"
     "    pinDigets: true\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     6, 5, "unknown key \"pinDigets\" in image rule images[0]; did you mean \"pinDigest\"?"},
    {"unknown top-level key",
     "version: 1\nimages: []\nenviroments: []\nenvironments:\n  - name: staging\n"
     "    paths: [clusters/staging]\n    apply: {flux: {name: apps}}\n",
     3, 1, "did you mean \"environments\"?"},
    {"unknown environment key",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    path: [clusters/staging]\n"
     "    paths: [clusters/staging]\n    apply: {flux: {name: apps}}\n",
     5, 5, "did you mean \"paths\"?"},
    {"unknown key in a flow mapping",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [clusters/staging]\n"
     "    apply: {flux: {nmae: apps, name: apps}}\n",
     6, 20, "unknown key \"nmae\" in apply.flux; did you mean \"name\"?"},
    {"paths is not a list",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: clusters/staging\n"
     "    apply: {flux: {name: apps}}\n",
     5, 12, "paths must be a list of strings, found the scalar \"clusters/staging\""},
    {"name is a list",
     "version: 1\nimages: []\nenvironments:\n  - name: [staging]\n    paths: [clusters/staging]\n"
     "    apply: {flux: {name: apps}}\n",
     4, 11, "name must be a string, found a list"},
    {"duplicate key",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [clusters/staging]\n"
     "    apply: {flux: {name: apps}}\n    paths: [clusters/other]\n",
     7, 5, "duplicate key \"paths\" in environment environments[0] (first at 5:5)"},
    {"duplicate image rule",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app\n    policy: {newest: {}}\n"
     "  - name: app\n    image: ghcr.io/o/app2\n    policy: {newest: {}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     6, 11, "duplicate image rule \"flux-system:app\" (first defined at 3:11)"},
    {"duplicate environment",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps}}\n  - name: staging\n    paths: [b]\n"
     "    apply: {flux: {name: apps}}\n",
     7, 11, "duplicate environment \"staging\" (first defined at 4:11)"},
    {"promoteFrom unknown",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps}}\n  - name: production\n    paths: [b]\n"
     "    promoteFrom: stagign\n    apply: {flux: {name: apps}}\n",
     9, 18,
     "promoteFrom names \"stagign\", which is not an environment in this file; did you "
     "mean \"staging\"?"},
    {"promotion cycle",
     "version: 1\nimages: []\nenvironments:\n  - name: dev\n    paths: [d]\n"
     "    apply: {flux: {name: apps}}\n  - name: a\n    paths: [a]\n    promoteFrom: b\n"
     "    apply: {flux: {name: apps}}\n  - name: b\n    paths: [b]\n    promoteFrom: a\n"
     "    apply: {flux: {name: apps}}\n",
     9, 18, "promotion cycle: b -> a -> b"},
    {"self promotion",
     "version: 1\nimages: []\nenvironments:\n  - name: a\n    paths: [a]\n    promoteFrom: a\n"
     "    apply: {flux: {name: apps}}\n",
     6, 18, "promotion cycle: a -> a"},
    {"invalid regex",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app\n"
     "    filterTags: {pattern: '^sha-([a-f0-9]+$'}\n    policy: {newest: {}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     5, 27, "filterTags: invalid regular expression \"^sha-([a-f0-9]+$\": missing )"},
    {"extract names an unknown group",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app\n"
     "    filterTags: {pattern: '^sha-(?P<sha>[a-f0-9]+)$', extract: '$commit'}\n"
     "    policy: {newest: {}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     5, 27, "refers to group \"commit\" which the pattern does not define (named groups: sha)"},
    {"invalid semver range",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app\n"
     "    policy: {semver: {range: '>=1.0.0 <2 foo'}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     5, 30, "invalid semver range \">=1.0.0 <2 foo\""},
    {"semver without range",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app\n    policy: {semver: {}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     5, 22, "policy.semver is missing required key \"range\""},
    {"absolute path",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [ok, /etc/cluster]\n"
     "    apply: {flux: {name: apps}}\n",
     5, 17, "path \"/etc/cluster\" must be relative to the repository root"},
    {"path escaping with ..",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [clusters/../../x]\n"
     "    apply: {flux: {name: apps}}\n",
     5, 13, "must stay inside the repository (no \"..\")"},
    {"job template escaping",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {job: {namespace: ops, template: ../apply.yaml}}\n",
     6, 45, "apply.job.template: path \"../apply.yaml\" must stay inside the repository"},
    {"environment name not a DNS label",
     "version: 1\nimages: []\nenvironments:\n  - name: Staging_1\n    paths: [a]\n"
     "    apply: {flux: {name: apps}}\n",
     4, 11, "environment name \"Staging_1\" must be a DNS label of at most 32 characters"},
    {"environment name too long",
     "version: 1\nimages: []\nenvironments:\n  - name: abcdefghijabcdefghijabcdefghijabc\n"
     "    paths: [a]\n    apply: {flux: {name: apps}}\n",
     4, 11, "must be a DNS label of at most 32 characters"},
    {"branch name collision",
     "version: 1\nimages:\n  - name: c\n    namespace: a-b\n    image: ghcr.io/o/x\n"
     "    policy: {newest: {}}\n  - name: b-c\n    namespace: a\n    image: ghcr.io/o/y\n"
     "    policy: {newest: {}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     7, 11,
     "image rules \"a-b:c\" (at 3:11) and \"a:b-c\" would share the branch "
     "ferry/<env>/a-b-c; rename one of them"},
    {"version 2",
     "version: 2\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps}}\n",
     1, 10, "version must be 1"},
    {"version quoted",
     "version: '1'\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps}}\n",
     1, 10, "version must be 1"},
    {"version missing",
     "images: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps}}\n",
     1, 1, "the rules file is missing required key \"version\" (add version: 1)"},
    {"image with tag",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app:1.0\n    policy: {newest: {}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     4, 12, "must not carry a tag"},
    {"image with digest",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app@sha256:0123\n"
     "    policy: {newest: {}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     4, 12, "must not carry a digest"},
    {"image upper case",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/Dine-Together/App\n"
     "    policy: {newest: {}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     4, 12, "must be lower-case (write \"ghcr.io/dine-together/app\")"},
    {"image without registry host",
     "version: 1\nimages:\n  - name: app\n    image: dine-together/app\n    policy: {newest: {}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     4, 12, "must start with its registry host"},
    {"image bad component",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/-app\n    policy: {newest: {}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     4, 12, "invalid path component \"-app\""},
    {"autoMerge bad method",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    autoMerge: {method: fast-forward}\n    apply: {flux: {name: apps}}\n",
     6, 25, "autoMerge.method must be squash, merge or rebase, found \"fast-forward\""},
    {"autoMerge quoted",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    autoMerge: 'true'\n    apply: {flux: {name: apps}}\n",
     6, 16, "autoMerge must be true or false (unquoted)"},
    {"apply both flux and job",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps}, job: {namespace: ops, template: a.yaml}}\n",
     6, 33, "apply has both flux and job; choose exactly one"},
    {"apply with neither",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {timeout: 5m}\n",
     6, 12, "apply needs one of"},
    {"promoteFrom an environment without apply",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "  - name: production\n    paths: [b]\n    promoteFrom: staging\n"
     "    apply: {flux: {name: apps}}\n",
     8, 18,
     "promoteFrom names \"staging\", which has no apply: promotion follows an apply's result, "
     "so give \"staging\" an apply or remove this promoteFrom"},
    {"flux kind other than Kustomization",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {kind: HelmRelease, name: apps}}\n",
     6, 26, "apply.flux.kind must be \"Kustomization\", found \"HelmRelease\""},
    {"healthChecks not a list",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps, healthChecks: {kind: HelmRelease}}}\n",
     6, 46, "apply.flux.healthChecks must be a list of {apiVersion, kind, name, namespace}"},
    {"healthChecks kind ferry cannot judge",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply:\n      flux:\n        name: apps\n        healthChecks:\n"
     "          - {kind: CronJob, name: x}\n",
     10, 20,
     "apply.flux.healthChecks[0].kind \"CronJob\" is not one ferry can judge (supported: "
     "HelmRelease, Deployment)"},
    {"healthChecks apiVersion that does not fit the kind",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply:\n      flux:\n        name: apps\n        healthChecks:\n"
     "          - {apiVersion: apps/v1, kind: HelmRelease, name: x}\n",
     10, 26,
     "apply.flux.healthChecks[0].apiVersion \"apps/v1\" for a HelmRelease must be "
     "\"helm.toolkit.fluxcd.io/v2\" or \"helm.toolkit.fluxcd.io/v2beta2\""},
    {"healthChecks entry without a name",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply:\n      flux:\n        name: apps\n        healthChecks:\n"
     "          - kind: Deployment\n            namespace: apps\n",
     10, 13, "apply.flux.healthChecks[0] is missing required key \"name\""},
    {"healthChecks unknown key",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply:\n      flux:\n        name: apps\n        healthChecks:\n"
     "          - {kind: Deployment, name: web, namepsace: apps}\n",
     10, 43,
     "unknown key \"namepsace\" in apply.flux.healthChecks[0]; did you mean \"namespace\"?"},
    {"argocd without application",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {argocd: {sync: true}}\n",
     6, 21, "apply.argocd is missing required key \"application\""},
    {"argocd sync not a bool",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {argocd: {application: apps, sync: 'yes'}}\n",
     6, 47, "apply.argocd.sync must be true or false (unquoted)"},
    {"argocd namespace not a label",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {argocd: {application: apps, namespace: Argo_CD}}\n",
     6, 52, "apply.argocd.namespace \"Argo_CD\" must be a Kubernetes namespace name"},
    {"apply with both job and argocd",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {job: {namespace: ops, template: a.yaml}, argocd: {application: apps}}\n",
     6, 54, "apply has both job and argocd; choose exactly one"},
    {"apply with both flux and fleet",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {fleet: {gitRepo: apps}, flux: {name: apps}}\n",
     6, 37, "apply has both fleet and flux; choose exactly one"},
    {"gates without an apply",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    gates: {statuses: [ci/e2e]}\n",
     6, 5, "gates need an apply on the same environment"},
    {"gates with nothing to wait for",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps}}\n    gates: {timeout: 10m}\n",
     7, 12, "gates needs flagger: {canary: ..., namespace: ...} or statuses: [context, ...]"},
    {"gates flagger without a namespace",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps}}\n    gates: {flagger: {canary: web}}\n",
     7, 22, "gates.flagger is missing required key \"namespace\" (the Canary's namespace)"},
    {"gates flagger canary not an object name",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps}}\n    gates: {flagger: {canary: Web_1, namespace: apps}}\n",
     7, 31, "gates.flagger.canary \"Web_1\" must be a Kubernetes object name"},
    {"gates statuses naming ferry's own",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps}}\n    gates: {statuses: [ci/e2e, ferry/apply/staging]}\n",
     7, 32, "\"ferry/apply/staging\" is one of ferry's own statuses"},
    {"gates statuses twice",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps}}\n    gates: {statuses: [ci/e2e, ci/e2e]}\n",
     7, 32, "gates.statuses lists \"ci/e2e\" twice"},
    {"gates statuses empty",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps}}\n    gates: {statuses: []}\n",
     7, 23, "gates.statuses must not be an empty list"},
    {"gates timeout not a duration",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps}}\n    gates: {statuses: [ci], timeout: soon}\n",
     7, 38, "gates.timeout \"soon\" must be a duration"},
    {"gates unknown key",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps}}\n    gates: {status: [ci]}\n",
     7, 13, "unknown key \"status\" in gates; did you mean \"statuses\"?"},
    {"fleet without gitRepo",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {fleet: {namespace: fleet-local}}\n",
     6, 20, "apply.fleet is missing required key \"gitRepo\" (the Fleet GitRepo to sync)"},
    {"fleet gitRepo not an object name",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {fleet: {gitRepo: Apps_1}}\n",
     6, 30, "apply.fleet.gitRepo \"Apps_1\" must be a Kubernetes object name"},
    {"fleet unknown key",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {fleet: {gitrepo: apps}}\n",
     6, 21, "unknown key \"gitrepo\" in apply.fleet; did you mean \"gitRepo\"?"},
    {"timeout not a duration",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps}, timeout: 10 minutes}\n",
     6, 42, "apply.timeout \"10 minutes\" must be a duration such as 10m, 90s or 1h30m"},
    {"timeout too long",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {flux: {name: apps}, timeout: 25h}\n",
     6, 42, "at most 24h"},
    {"job without namespace",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    apply: {job: {template: a.yaml}}\n",
     6, 18, "apply.job is missing required key \"namespace\""},
    {"reviewers not a list",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    reviewers: octocat\n    apply: {flux: {name: apps}}\n",
     6, 16, "reviewers must be a list of strings"},
    {"teamReviewers entry not a string",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    teamReviewers: [platform, {team: x}]\n    apply: {flux: {name: apps}}\n",
     6, 31, "teamReviewers entries must be non-empty strings, found a mapping"},
    {"suspend not a bool",
     "version: 1\nimages: []\nenvironments:\n  - name: staging\n    paths: [a]\n"
     "    suspend: yes please\n    apply: {flux: {name: apps}}\n",
     6, 14, "suspend must be true or false"},
    {"sourceBranches empty",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app\n    policy: {newest: {}}\n"
     "    sourceBranches: []\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     6, 21, "sourceBranches must not be an empty list"},
    {"two policies",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app\n"
     "    policy: {newest: {}, semver: {range: '*'}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     5, 26, "policy has newest and semver; choose exactly one"},
    {"policy typo",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app\n"
     "    policy: {semvar: {range: '*'}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     5, 14, "unknown key \"semvar\" in policy; did you mean \"semver\"?"},
    {"order invalid",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app\n"
     "    policy: {numerical: {order: ascending}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     5, 33, "order must be \"asc\" or \"desc\", found \"ascending\""},
    {"newest takes no keys",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app\n"
     "    policy: {newest: {order: asc}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     5, 23, "unknown key \"order\" in policy.newest (it takes no keys)"},
    {"policy missing",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     3, 5, "image rule images[0] is missing required key \"policy\""},
    {"image rule name invalid",
     "version: 1\nimages:\n  - name: My_App\n    image: ghcr.io/o/app\n    policy: {newest: {}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     3, 11, "image rule name \"My_App\" must be a Kubernetes object name"},
    {"image rule name ending in .lock",
     "version: 1\nimages:\n  - name: app.lock\n    image: ghcr.io/o/app\n    policy: {newest: {}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     3, 11, "not ending in \".lock\""},
    {"group not a DNS label",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app\n    policy: {newest: {}}\n"
     "    group: Train_1\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     6, 12, "group \"Train_1\" must be a DNS label of at most 32 characters"},
    {"group empty",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app\n    policy: {newest: {}}\n"
     "    group: ''\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     6, 12, "group must not be empty"},
    {"group branch shared with an ungrouped rule",
     "version: 1\nimages:\n  - name: app\n    image: ghcr.io/o/app\n    policy: {newest: {}}\n"
     "    group: train\n"
     "  - name: train\n    namespace: group\n    image: ghcr.io/o/b\n    policy: {newest: {}}\n"
     "environments:\n  - name: staging\n    paths: [clusters/staging]\n    apply: {flux: {name: "
     "apps}}\n",
     7, 11,
     "would share the branch ferry/<env>/group-train with group \"train\" (first named at 3:11)"},
    {"environments empty", "version: 1\nimages: []\nenvironments: []\n", 3, 15,
     "environments must be a non-empty list"},
    {"top level is a list", "- version: 1\n", 1, 1,
     "the rules file must be a mapping, found a list"},
    {"empty file", "", 1, 1, "the rules file is empty"},
    {"comments only", "# nothing here\n", 1, 1, "the rules file is empty"},
    {"two documents", "version: 1\n---\nversion: 1\n", 2, 1, "must hold one YAML document"},
    // yaml-cpp 0.7 LoadAll loops forever on a lone comma (found by rules_fuzz).
    {"lone comma", ",", 1, 1, "YAML syntax error: cannot read past this point"},
    {"comma in block mapping", "version: 1\nimages: []\n ,- name: app\n", 3, 2,
     "YAML syntax error"},
    {"YAML syntax error", "version: 1\nimages: [a, b\nenvironments: []\n", 3, 13,
     "YAML syntax error"},
    {"YAML tab indentation error", "version: 1\nimages:\n\t- name: app\n", 3, 2,
     "YAML syntax error"},
};

TEST(parse_rules, each_rejection_has_its_position_and_message) {
  for (const auto& r : k_rejections) {
    const auto out = parse_rules(r.yaml, "f.yaml");
    EXPECT_FALSE(out.ok()) << r.label;
    bool found = false;
    for (const auto& d : out.diagnostics()) {
      EXPECT_EQ(d.file, "f.yaml");
      if (d.line == r.line && d.column == r.column &&
          d.message.find(r.message_part) != std::string::npos) {
        found = true;
      }
    }
    EXPECT_TRUE(found) << r.label << ": expected " << r.line << ":" << r.column << " \""
                       << r.message_part << "\", got:\n"
                       << out.report();
  }
}

TEST(parse_rules, reports_every_error_not_only_the_first) {
  const char* text = R"(version: 2
images:
  - name: app
    image: ghcr.io/o/App:1
    policy: {semver: {range: "nope"}}
    pinDigest: "yes"
environments:
  - name: Staging
    paths: [/abs]
    autoMerge: maybe
    apply: {flux: {name: apps}}
  - name: prod
    paths: [p]
    promoteFrom: nowhere
    apply: {job: {namespace: ops}}
)";
  const auto out = parse_rules(text, ".github/ferry.yaml");
  ASSERT_FALSE(out.ok());
  const std::vector<std::string> expected = {
      ".github/ferry.yaml:1:10: version must be 1",
      ".github/ferry.yaml:4:12: image \"ghcr.io/o/App:1\" must be lower-case",
      ".github/ferry.yaml:5:30: invalid semver range \"nope\"",
      ".github/ferry.yaml:6:16: pinDigest must be true or false (unquoted)",
      ".github/ferry.yaml:8:11: environment name \"Staging\"",
      ".github/ferry.yaml:9:13: path \"/abs\" must be relative",
      ".github/ferry.yaml:10:16: autoMerge must be true or false",
      ".github/ferry.yaml:15:18: apply.job is missing required key \"template\"",
      ".github/ferry.yaml:14:18: promoteFrom names \"nowhere\"",
  };
  const std::string report = out.report();
  for (const auto& e : expected) {
    EXPECT_NE(report.find(e), std::string::npos) << "missing " << e << " in:\n" << report;
  }
  EXPECT_EQ(out.diagnostics().size(), expected.size()) << report;
  // to_result carries the whole report for callers that pass errors on.
  const auto as_result = out.to_result();
  ASSERT_FALSE(as_result.ok());
  EXPECT_EQ(as_result.error().kind, error_kind::invalid_input);
  EXPECT_EQ(as_result.error().message, report);
}

TEST(parse_rules, diagnostic_format) {
  const diagnostic d{".github/ferry.yaml", 3, 7, "something is wrong"};
  EXPECT_EQ(d.to_string(), ".github/ferry.yaml:3:7: something is wrong");
}

TEST(parse_rules, bounded) {
  // Oversized input is refused before YAML parsing.
  std::string big = "version: 1\n# " + std::string(2 * 1024 * 1024, 'x') + "\n";
  const auto out = parse_rules(big, "f");
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.report().find("larger than"), std::string::npos);

  // An alias repeated many times yields a bounded list of diagnostics.
  std::string aliases = "version: 1\nbad: &b {x: 1}\nimages: [";
  for (int i = 0; i < 400; ++i) {
    aliases += "*b, ";
  }
  aliases += "*b]\nenvironments: []\n";
  const auto many = parse_rules(aliases, "f");
  ASSERT_FALSE(many.ok());
  EXPECT_LE(many.diagnostics().size(), 201u);
  EXPECT_NE(many.diagnostics().back().message.find("too many errors"), std::string::npos);

  // Deep nesting is a YAML error, not a stack overflow.
  std::string deep = "version: " + std::string(5000, '[') + "\n";
  EXPECT_FALSE(parse_rules(deep, "f").ok());
}

// Diagnostics quote the file's bytes; invalid UTF-8 there must not reach logs or commit statuses
// (which GitHub would refuse) as it is (issue 10).
TEST(rules, diagnostics_are_valid_utf8_whatever_the_file_holds) {
  const std::string text = "version: 1\nimages:\n  - name: app\n    imag\xE9: x\n";
  const auto out = parse_rules(text, "f");
  ASSERT_FALSE(out.ok());
  const auto report = out.report();
  EXPECT_NE(report.find("\xEF\xBF\xBD"), std::string::npos) << report;
  for (const auto& d : out.diagnostics()) {
    for (const char c : d.message) {
      // No byte of a Latin-1 e-acute survives on its own.
      EXPECT_NE(static_cast<unsigned char>(c), 0xE9u) << d.message;
    }
  }
}

}  // namespace

// Every complete rules file docs/rules.md shows (a ```yaml block starting with "version: 1") is
// valid: the documentation's examples are the rules ferry accepts.
TEST(parse_rules, every_complete_example_in_the_docs_is_valid) {
  std::ifstream in(std::string(FERRY_SOURCE_DIR) + "/docs/rules.md");
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  int examples = 0;
  bool with_gates = false;
  for (std::size_t at = doc.find("```yaml\n"); at != std::string::npos;
       at = doc.find("```yaml\n", at + 1)) {
    const auto start = at + 8;
    const auto end = doc.find("```", start);
    ASSERT_NE(end, std::string::npos);
    // Blocks indented under a list item: strip the common indentation of the opening fence.
    const auto line_start = doc.rfind('\n', at) + 1;
    const auto indent = at - line_start;
    std::string block;
    std::istringstream lines(doc.substr(start, end - start));
    for (std::string line; std::getline(lines, line);) {
      block += (line.size() >= indent ? line.substr(indent) : line) + "\n";
    }
    if (!block.starts_with("version: 1")) {
      continue;
    }
    ++examples;
    with_gates = with_gates || block.find("gates:") != std::string::npos;
    const auto out = parse_rules(block, "docs/rules.md");
    EXPECT_TRUE(out.ok()) << out.report() << "\n" << block;
  }
  EXPECT_GE(examples, 3);
  EXPECT_TRUE(with_gates);
}

}  // namespace ferry::rules
