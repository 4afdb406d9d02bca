// How long the per-delivery rules work takes: parsing the rules file (done for every delivery
// whose rules blob is not cached), parsing a range, and ranking a candidate tag.

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "service/rules/rules.hpp"

namespace {

constexpr const char* k_rules = R"(version: 1
images:
  - name: app
    image: ghcr.io/dine-together/app
    filterTags: {pattern: '^sha-(?P<sha>[a-f0-9]+)$', extract: '$sha'}
    policy: {newest: {}}
    sourceBranches: [main]
  - name: api
    image: ghcr.io/dine-together/api
    policy: {semver: {range: ">=1.0.0 <2 || ^3.1"}}
environments:
  - name: staging
    paths: [clusters/staging]
    autoMerge: true
    apply: {flux: {kind: Kustomization, name: apps, namespace: flux-system}}
  - name: production
    paths: [clusters/production]
    promoteFrom: staging
    reviewers: [octocat]
    teamReviewers: [platform]
    apply: {job: {namespace: flux-system, template: infra/apply-job.yaml}}
)";

void parse_rules_file(benchmark::State& state) {
  for (auto _ : state) {
    auto out = ferry::rules::parse_rules(k_rules, ".github/ferry.yaml");
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(parse_rules_file);

void parse_semver_range(benchmark::State& state) {
  for (auto _ : state) {
    auto r = ferry::rules::semver_range::parse(">=1.1, <2, !=1.2.3 || >= 3.0.0-0 <4 || 5 - 6.x");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(parse_semver_range);

void compare_semver_tags(benchmark::State& state) {
  auto rules = ferry::rules::parse_rules(k_rules, "f");
  const auto& policy = rules.value().images[1].policy;
  for (auto _ : state) {
    auto d = ferry::rules::compare(policy, "v1.4.0", "v1.3.9");
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(compare_semver_tags);

void filter_and_extract(benchmark::State& state) {
  auto rules = ferry::rules::parse_rules(k_rules, "f");
  const auto& filter = *rules.value().images[0].policy.filter;
  for (auto _ : state) {
    auto v = filter.apply("sha-0123456789abcdef0123456789abcdef01234567");
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(filter_and_extract);

}  // namespace

BENCHMARK_MAIN();
