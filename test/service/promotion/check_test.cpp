// promotion::check and to_text: which markers each image rule owns, per environment, with
// file:line (SPEC "Command line", `ferry check`).

#include "service/promotion/check.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ferry::promotion {
namespace {

constexpr const char* k_rules = R"(version: 1
images:
  - name: web
    image: ghcr.io/o/web
    policy: {semver: {range: ">=1.0.0"}}
  - name: api
    namespace: apps
    image: ghcr.io/o/api
    policy: {newest: {}}
environments:
  - name: staging
    paths: [clusters/staging]
    apply: {flux: {name: apps}}
  - name: production
    paths: [clusters/production]
    promoteFrom: staging
    apply: {flux: {name: apps}}
  - name: everything
    paths: [clusters]
    apply: {flux: {name: apps}}
)";

std::vector<markers::scanned_file> scan(
    const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<markers::scanned_file> out;
  for (const auto& [path, content] : files) {
    auto s = markers::scan_file(path, content);
    EXPECT_TRUE(s) << path;
    if (s) {
      out.push_back({path, content, s->markers});
    }
  }
  return out;
}

struct expected_entry {
  std::string environment;
  std::string file;
  int line;
};

TEST(check, lists_every_marker_per_rule_and_environment) {
  auto parsed = rules::parse_rules(k_rules, ".github/ferry.yaml");
  ASSERT_TRUE(parsed) << parsed.report();
  const auto files = scan({
      {"apps/web.yaml",
       "a: 1\nimage: ghcr.io/o/web:1.0.0 # {\"$imagepolicy\": \"flux-system:web\"}\n"},
      {"clusters/production/k.yaml",
       "images:\n  - newTag: 1.1.0 # {\"$imagepolicy\": \"flux-system:web:tag\"}\n"
       "  - newTag: sha-1 # {\"$imagepolicy\": \"apps:api:tag\"}\n"
       "  - newTag: x # {\"$imagepolicy\": \"flux-system:gone:tag\"}\n"},
      {"clusters/staging/web.yaml",
       "image: ghcr.io/o/web:1.2.0 # {\"$imagepolicy\": \"flux-system:web\"}\n"},
  });
  const auto report = check(parsed.value(), files);
  ASSERT_EQ(report.rules.size(), 2u);

  struct rule_case {
    std::string ref;
    std::vector<expected_entry> entries;
  };
  const std::vector<rule_case> cases = {
      {"flux-system:web",
       {{"-", "apps/web.yaml", 2},
        {"production", "clusters/production/k.yaml", 2},
        {"everything", "clusters/production/k.yaml", 2},
        {"staging", "clusters/staging/web.yaml", 1},
        {"everything", "clusters/staging/web.yaml", 1}}},
      {"apps:api",
       {{"production", "clusters/production/k.yaml", 3},
        {"everything", "clusters/production/k.yaml", 3}}},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& rm = report.rules[i];
    EXPECT_EQ(rm.rule->marker_ref(), cases[i].ref);
    ASSERT_EQ(rm.entries.size(), cases[i].entries.size()) << cases[i].ref;
    for (std::size_t j = 0; j < rm.entries.size(); ++j) {
      EXPECT_EQ(rm.entries[j].environment, cases[i].entries[j].environment) << cases[i].ref << j;
      EXPECT_EQ(rm.entries[j].marker->file, cases[i].entries[j].file) << cases[i].ref << j;
      EXPECT_EQ(rm.entries[j].marker->line, cases[i].entries[j].line) << cases[i].ref << j;
    }
  }
  ASSERT_EQ(report.orphans.size(), 1u);
  EXPECT_EQ(report.orphans[0]->name, "gone");

  markers::tree_scan ts;
  const auto text = to_text(report, ts);
  for (const char* needle :
       {"flux-system:web (ghcr.io/o/web, semver): 5 markers\n",
        "  staging  clusters/staging/web.yaml:1  whole = ghcr.io/o/web:1.2.0\n",
        "  -  apps/web.yaml:2  whole = ghcr.io/o/web:1.0.0\n",
        "apps:api (ghcr.io/o/api, newest): 2 markers\n",
        "  production  clusters/production/k.yaml:3  tag = sha-1\n",
        "warning: clusters/production/k.yaml:4: marker names flux-system:gone, which no image "
        "rule defines\n"}) {
    EXPECT_NE(text.find(needle), std::string::npos) << needle << "\nin\n" << text;
  }
}

TEST(check, a_rule_without_markers_is_listed_with_zero) {
  auto parsed = rules::parse_rules(k_rules, ".github/ferry.yaml");
  ASSERT_TRUE(parsed) << parsed.report();
  const auto report = check(parsed.value(), {});
  ASSERT_EQ(report.rules.size(), 2u);
  EXPECT_TRUE(report.rules[0].entries.empty());
  markers::tree_scan ts;
  ts.errors.push_back({"clusters/bad.yaml", 3, 1, "bad indentation"});
  const auto text = to_text(report, ts);
  EXPECT_NE(text.find("flux-system:web (ghcr.io/o/web, semver): 0 markers\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("warning: clusters/bad.yaml:3:1: bad indentation (file skipped)\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace ferry::promotion
