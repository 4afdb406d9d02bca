// promotion::running_value_of over files scanned in the test: what an environment's markers say
// it runs, the value the promotion chain hands to the next environment.

#include "service/promotion/values.hpp"

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
  - name: app
    image: ghcr.io/o/app
    policy: {newest: {}}
environments:
  - name: staging
    paths: [clusters/staging]
    apply: {flux: {name: apps}}
  - name: production
    paths: [clusters/production]
    promoteFrom: staging
    apply: {flux: {name: apps}}
)";

class running_value_test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto parsed = rules::parse_rules(k_rules, "ferry.yaml");
    ASSERT_TRUE(parsed.ok()) << parsed.report();
    rules_ = std::move(parsed).value();
  }
  void add(const std::string& path, const std::string& content) {
    auto scanned = markers::scan_file(path, content);
    ASSERT_TRUE(scanned) << scanned.error().message;
    files_.push_back({path, content, std::move(scanned->markers)});
  }
  std::optional<running_value> of(std::string_view rule, std::string_view env) {
    return running_value_of(files_, *rules::find_image_rule(rules_, "flux-system", rule),
                            *rules::find_environment(rules_, env));
  }
  rules::rules_file rules_;
  std::vector<markers::scanned_file> files_;
};

TEST_F(running_value_test, whole_reference_gives_tag_and_digest) {
  add("clusters/staging/web.yaml", "image: ghcr.io/o/web:1.2.0@sha256:" + std::string(64, 'a') +
                                       " # {\"$imagepolicy\": \"flux-system:web\"}\n");
  const auto v = of("web", "staging");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->tag, "1.2.0");
  EXPECT_EQ(v->digest, "sha256:" + std::string(64, 'a'));
}

TEST_F(running_value_test, tag_and_digest_markers) {
  add("clusters/staging/values.yaml",
      "tag: 1.4.0 # {\"$imagepolicy\": \"flux-system:web:tag\"}\n"
      "digest: sha256:" +
          std::string(64, 'b') + " # {\"$imagepolicy\": \"flux-system:web:digest\"}\n");
  const auto v = of("web", "staging");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->tag, "1.4.0");
  EXPECT_EQ(v->digest, "sha256:" + std::string(64, 'b'));
}

TEST_F(running_value_test, disagreeing_markers_give_the_highest_ranked) {
  add("clusters/staging/a.yaml",
      "image: ghcr.io/o/web:1.2.0 # {\"$imagepolicy\": \"flux-system:web\"}\n");
  add("clusters/staging/b.yaml", "tag: 1.10.0 # {\"$imagepolicy\": \"flux-system:web:tag\"}\n");
  const auto v = of("web", "staging");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->tag, "1.10.0");
  EXPECT_FALSE(v->digest);
}

TEST_F(running_value_test, only_the_environment_paths_count) {
  add("clusters/production/web.yaml",
      "image: ghcr.io/o/web:1.0.0 # {\"$imagepolicy\": \"flux-system:web\"}\n");
  EXPECT_FALSE(of("web", "staging"));
  ASSERT_TRUE(of("web", "production"));
  EXPECT_EQ(of("web", "production")->tag, "1.0.0");
}

TEST_F(running_value_test, newest_cannot_rank_disagreeing_values) {
  add("clusters/staging/a.yaml",
      "image: ghcr.io/o/app:sha-aaaa # {\"$imagepolicy\": \"flux-system:app\"}\n");
  add("clusters/staging/b.yaml", "tag: sha-bbbb # {\"$imagepolicy\": \"flux-system:app:tag\"}\n");
  EXPECT_FALSE(of("app", "staging"));
}

TEST_F(running_value_test, newest_with_one_value) {
  add("clusters/staging/a.yaml",
      "image: ghcr.io/o/app:sha-aaaa # {\"$imagepolicy\": \"flux-system:app\"}\n");
  ASSERT_TRUE(of("app", "staging"));
  EXPECT_EQ(of("app", "staging")->tag, "sha-aaaa");
}

}  // namespace
}  // namespace ferry::promotion
