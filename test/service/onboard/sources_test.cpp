// `onboarding.sources` of the rules file (sources_from_rules): the application
// repositories whose compose files become onboarding pull requests. Every bad
// entry is an error naming the file, line, column and entry; `ferry onboard`
// (options_from_rules) refuses the same entries.

#include <gtest/gtest.h>

#include <string>

#include "service/onboard/onboard.hpp"

using namespace ferry::onboard;

namespace {

std::string error_of(const std::string& sources_yaml) {
  const std::string text = "version: 1\nonboarding:\n  sources:\n" + sources_yaml;
  auto r = sources_from_rules(text, "ferry.yaml");
  auto o = options_from_rules(text, "ferry.yaml", options{});
  EXPECT_EQ(r.ok(), o.ok()) << "ferry onboard and onboarding pull requests disagree on\n" << text;
  if (r.ok()) {
    return "";
  }
  if (!o.ok()) {
    EXPECT_EQ(r.error().message, o.error().message);
  }
  return r.error().message;
}

TEST(OnboardingSources, DefaultsAndExplicitValues) {
  auto r = sources_from_rules(
      "version: 1\n"
      "onboarding:\n"
      "  domain: acme.dev\n"
      "  sources:\n"
      "    - repo: acme/Shop_Front.web\n"
      "    - {repo: acme/api, compose: "
      "deploy/compose.prod.yml, app: billing}\n",
      "ferry.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].repo, "acme/Shop_Front.web");
  EXPECT_EQ((*r)[0].compose, "docker-compose.yml");
  EXPECT_EQ((*r)[0].app, "shop-front-web");
  EXPECT_EQ((*r)[1].compose, "deploy/compose.prod.yml");
  EXPECT_EQ((*r)[1].app, "billing");
}

TEST(OnboardingSources, NoneWithoutTheSection) {
  for (const char* text : {"", "version: 1\n", "version: 1\nonboarding:\n  domain: x.dev\n"}) {
    auto r = sources_from_rules(text, "ferry.yaml");
    ASSERT_TRUE(r.ok()) << text;
    EXPECT_TRUE(r->empty()) << text;
  }
}

TEST(OnboardingSources, BadEntriesAreClearErrors) {
  EXPECT_EQ(error_of("    repo: acme/shop\n"),
            "ferry.yaml:4:5: onboarding.sources must be a list of {repo: "
            "owner/name, compose: "
            "FILE, app: NAME}");
  EXPECT_EQ(error_of("    - acme/shop\n"),
            "ferry.yaml:4:7: onboarding.sources[0] must be a mapping {repo: "
            "owner/name, compose: "
            "FILE, app: NAME}");
  EXPECT_EQ(error_of("    - {repo: acme/shop, branch: main}\n"),
            "ferry.yaml:4:25: unknown key \"branch\" in onboarding.sources[0] "
            "(valid keys: repo, "
            "compose, app)");
  EXPECT_EQ(error_of("    - {compose: docker-compose.yml}\n"),
            "ferry.yaml:4:7: onboarding.sources[0] has no repo (owner/name)");
  EXPECT_EQ(error_of("    - {repo: shop}\n"),
            "ferry.yaml:4:14: onboarding.sources[0].repo \"shop\" is not a "
            "GitHub repository "
            "owner/name");
  EXPECT_NE(error_of("    - {repo: ../etc/passwd}\n").find("is not a GitHub repository"),
            std::string::npos);
  EXPECT_EQ(error_of("    - {repo: acme/shop, compose: ../infra/ferry.yaml}\n"),
            "ferry.yaml:4:34: onboarding.sources[0].compose "
            "\"../infra/ferry.yaml\" must be a "
            "path inside the repository (relative, no '..')");
  EXPECT_NE(error_of("    - {repo: acme/shop, compose: /etc/compose.yml}\n").find(".compose"),
            std::string::npos);
  EXPECT_NE(error_of("    - {repo: acme/shop, compose: a//b.yml}\n").find(".compose"),
            std::string::npos);
  EXPECT_NE(error_of("    - {repo: acme/shop, app: Shop}\n")
                .find("onboarding.sources[0].app \"Shop\" must be a DNS label"),
            std::string::npos);
  EXPECT_NE(error_of("    - {repo: acme/shop, app: [a]}\n")
                .find("onboarding.sources[0].app must be a single value"),
            std::string::npos);
  EXPECT_NE(error_of("    - {repo: acme/___}\n").find("makes no app name; set app"),
            std::string::npos);
  EXPECT_EQ(error_of("    - {repo: acme/shop}\n    - {repo: ACME/shop}\n"),
            "ferry.yaml:5:7: onboarding.sources[1] repeats ACME/shop "
            "docker-compose.yml");
  EXPECT_EQ(error_of("    - {repo: acme/shop}\n    - {repo: other/shop}\n"),
            "ferry.yaml:5:7: onboarding.sources[1]: app \"shop\" is already "
            "onboarded from "
            "acme/shop");
  // Two compose files of one repository are two apps; a dot inside a name is
  // not "..".
  EXPECT_EQ(error_of("    - {repo: acme/shop, app: shop}\n"
                     "    - {repo: acme/shop, compose: worker/compose..yml, "
                     "app: shop-worker}\n"),
            "");
}

}  // namespace
