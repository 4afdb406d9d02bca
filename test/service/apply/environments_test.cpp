#include "service/apply/environments.hpp"

#include <gtest/gtest.h>

#include "service/limits.hpp"

namespace ferry::apply {
namespace {

rules::rules_file example_rules() {
  auto parsed = rules::parse_rules(R"(version: 1
images:
  - name: app
    image: ghcr.io/o/app
    policy: {newest: {}}
environments:
  - name: staging
    paths: [clusters/staging]
    apply: {flux: {name: apps}}
  - name: production
    paths: [clusters/production, shared/prod]
    promoteFrom: staging
    apply: {job: {namespace: flux-system, template: infra/apply-job.yaml}}
  - name: dr
    paths: [clusters/dr]
    promoteFrom: production
    suspend: true
    apply: {flux: {name: apps}}
  - name: everything
    paths: ["."]
    apply: {flux: {name: all}}
)",
                                   "ferry.yaml");
  EXPECT_TRUE(parsed.ok()) << parsed.report();
  return std::move(parsed).value();
}

std::vector<std::string> names(const std::vector<const rules::environment*>& envs) {
  std::vector<std::string> out;
  for (const auto* e : envs) {
    out.push_back(e->name);
  }
  return out;
}

using v = std::vector<std::string>;

TEST(environments_to_apply, the_environments_whose_paths_changed_in_file_order) {
  const auto rules = example_rules();
  const v changed{"shared/prod/config.yaml", "clusters/staging/app/deployment.yaml"};
  const auto a = environments_to_apply(rules, changed, false);
  EXPECT_EQ(names(a.apply), (v{"staging", "production", "everything"}));
  EXPECT_TRUE(a.suspended.empty());
}

TEST(environments_to_apply, a_path_prefix_is_not_a_directory_prefix) {
  const auto rules = example_rules();
  const v changed{"clusters/staging-eu/app.yaml", "README.md"};
  EXPECT_EQ(names(environments_to_apply(rules, changed, false).apply), (v{"everything"}));
}

TEST(environments_to_apply, suspended_ones_are_returned_apart) {
  const auto rules = example_rules();
  const v changed{"clusters/dr/app.yaml"};
  const auto a = environments_to_apply(rules, changed, false);
  EXPECT_EQ(names(a.apply), (v{"everything"}));
  EXPECT_EQ(names(a.suspended), (v{"dr"}));
}

// SPEC "Rules file": an environment without apply gets pull requests only; a push that touches
// it applies nothing there (and posts no ferry/apply/<env> status), but the caller hears of it.
TEST(environments_to_apply, environments_without_apply_are_returned_apart) {
  auto parsed = rules::parse_rules(R"(version: 1
images: []
environments:
  - name: staging
    paths: [clusters/staging]
  - name: production
    paths: [clusters/production]
    apply: {flux: {name: apps}}
  - name: dr
    paths: [clusters/dr]
    suspend: true
)",
                                   "ferry.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.report();
  const v changed{"clusters/staging/app.yaml", "clusters/production/app.yaml",
                  "clusters/dr/app.yaml"};
  const auto a = environments_to_apply(parsed.value(), changed, false);
  EXPECT_EQ(names(a.apply), (v{"production"}));
  EXPECT_EQ(names(a.pull_requests_only), (v{"staging"}));
  EXPECT_EQ(names(a.suspended), (v{"dr"}));
  const auto all = environments_to_apply(parsed.value(), {}, true);
  EXPECT_EQ(names(all.apply), (v{"production"}));
  EXPECT_EQ(names(all.pull_requests_only), (v{"staging"}));
}

TEST(environments_to_apply, all_takes_every_environment) {
  const auto rules = example_rules();
  const auto a = environments_to_apply(rules, {}, true);
  EXPECT_EQ(names(a.apply), (v{"staging", "production", "everything"}));
  EXPECT_EQ(names(a.suspended), (v{"dr"}));
  EXPECT_TRUE(environments_to_apply(rules, {}, false).apply.empty());
}

std::size_t characters(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    n += (c & 0xC0) != 0x80 ? 1 : 0;
  }
  return n;
}

bool valid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80         ? 1
                            : (c >> 5) == 6  ? 2
                            : (c >> 4) == 14 ? 3
                            : (c >> 3) == 30 ? 4
                                             : 0;
    if (len == 0 || i + len > s.size()) {
      return false;
    }
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) {
        return false;
      }
    }
    i += len;
  }
  return true;
}

TEST(status_description, short_text_is_kept) {
  EXPECT_EQ(status_description("applied main@sha1:abc"), "applied main@sha1:abc");
  const std::string exactly(limits::k_status_description_max, 'x');
  EXPECT_EQ(status_description(exactly), exactly);
  // 140 characters of 3 bytes each are 420 bytes, still within GitHub's limit
  std::string wide;
  for (std::size_t i = 0; i < limits::k_status_description_max; ++i) {
    wide += "\xE2\x9C\x93";  // U+2713
  }
  EXPECT_EQ(status_description(wide), wide);
}

TEST(status_description, long_text_is_cut_on_a_character_boundary) {
  const std::string ascii(200, 'a');
  const auto a = status_description(ascii);
  EXPECT_EQ(characters(a), limits::k_status_description_max);
  EXPECT_TRUE(a.ends_with("..."));
  EXPECT_EQ(a, std::string(137, 'a') + "...");

  for (const std::string unit : {"\xC3\xA9", "\xE2\x9C\x93", "\xF0\x9F\x9A\xA2"}) {  // é ✓ 🚢
    for (std::size_t prefix = 0; prefix < 4; ++prefix) {
      std::string text(prefix, 'p');
      for (int i = 0; i < 150; ++i) {
        text += unit;
      }
      const auto d = status_description(text);
      EXPECT_EQ(characters(d), limits::k_status_description_max) << prefix;
      EXPECT_TRUE(valid_utf8(d)) << prefix;
      EXPECT_TRUE(d.ends_with("...")) << prefix;
      EXPECT_TRUE(text.starts_with(d.substr(0, d.size() - 3))) << prefix;
    }
  }
}

}  // namespace
}  // namespace ferry::apply
