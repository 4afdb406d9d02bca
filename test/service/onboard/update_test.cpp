// The plan of an onboarding pull request (service/onboard/update.hpp) over an in-memory infra
// tree: what a first conversion writes, that the same conversion over its own result writes
// nothing, and what a person's deletions keep.
#include "service/onboard/update.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>

namespace {

using ferry::onboard::plan_update;
using ferry::onboard::update_request;

const std::string k_rules = R"(version: 1
images:
  - name: app
    image: ghcr.io/acme/app
    policy: {newest: {}}
environments:
  - name: staging
    paths: [clusters/staging]
onboarding:
  org: acme
  domain: acme.dev
  sources: [{repo: acme/shop}]
)";

struct tree {
  std::map<std::string, std::string> files;
  ferry::onboard::tree_reader reader() const {
    return [this](const std::string& path) -> ferry::result<std::optional<std::string>> {
      const auto it = files.find(path);
      if (it == files.end()) {
        return std::optional<std::string>();
      }
      return std::optional<std::string>(it->second);
    };
  }
  void apply(const ferry::onboard::update_plan& plan) {
    for (const auto& c : plan.changes) {
      files[c.path] = c.new_content;
    }
  }
};

update_request request(std::string compose) {
  update_request r;
  r.app = "shop";
  r.source_repo = "acme/shop";
  r.source_commit = std::string(40, 'b');
  r.compose_path = "docker-compose.yml";
  r.compose_text = std::move(compose);
  return r;
}

const std::string k_compose = "services:\n  web:\n    image: ghcr.io/acme/web:1.2.0\n";

TEST(onboard_update, a_first_conversion_writes_the_files_the_rule_and_the_record) {
  tree t{{{".github/ferry.yaml", k_rules}}};
  const auto plan = plan_update(request(k_compose), t.reader());
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  std::vector<std::string> paths;
  for (const auto& c : plan->changes) {
    paths.push_back(c.path);
  }
  EXPECT_NE(std::find(paths.begin(), paths.end(), "apps/shop/base/web-deployment.yaml"),
            paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), "clusters/staging/shop/kustomization.yaml"),
            paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), ".github/ferry-onboard/shop.json"), paths.end());
  t.apply(*plan);
  EXPECT_NE(t.files[".github/ferry.yaml"].find("  - name: shop-web\n"), std::string::npos);
  EXPECT_TRUE(t.files[".github/ferry.yaml"].starts_with(k_rules.substr(0, 40)));
  EXPECT_TRUE(plan->left_alone.empty());
  EXPECT_FALSE(plan->log.empty());

  // The same conversion over its own result: nothing, not even the record.
  const auto again = plan_update(request(k_compose), t.reader());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->changes.empty());
}

TEST(onboard_update, what_a_person_deleted_stays_deleted) {
  tree t{{{".github/ferry.yaml", k_rules}}};
  const auto first = plan_update(request(k_compose), t.reader());
  ASSERT_TRUE(first.ok()) << first.error().message;
  t.apply(*first);
  // A person deletes the Service and the rule ferry added.
  t.files.erase("apps/shop/base/web-service.yaml");
  t.files[".github/ferry.yaml"] = k_rules;
  const auto plan = plan_update(
      request("services:\n  web:\n    image: ghcr.io/acme/web:1.2.0\n    ports: [\"8080:80\"]\n"),
      t.reader());
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  for (const auto& c : plan->changes) {
    EXPECT_NE(c.path, "apps/shop/base/web-service.yaml");
    EXPECT_NE(c.path, ".github/ferry.yaml");
  }
  const auto named = [&](const std::string& text) {
    return std::find(plan->left_alone.begin(), plan->left_alone.end(), text) !=
           plan->left_alone.end();
  };
  EXPECT_TRUE(
      named("apps/shop/base/web-service.yaml: the whole file (deleted in the infra "
            "repository: stays deleted)"));
  EXPECT_TRUE(
      named(".github/ferry.yaml: rule shop-web (removed in the infra repository: stays "
            "removed)"));
}

TEST(onboard_update, a_compose_file_that_does_not_convert_is_invalid_input_naming_it) {
  tree t{{{".github/ferry.yaml", k_rules}}};
  const auto plan =
      plan_update(request("services:\n  web:\n    image: x\n    privileged: true\n"), t.reader());
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().kind, ferry::error_kind::invalid_input);
  EXPECT_TRUE(plan.error().message.starts_with("docker-compose.yml: ")) << plan.error().message;
}

TEST(onboard_update, an_unreadable_record_is_refused_not_overwritten) {
  tree t{{{".github/ferry.yaml", k_rules}, {".github/ferry-onboard/shop.json", "{not json"}}};
  const auto plan = plan_update(request(k_compose), t.reader());
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().kind, ferry::error_kind::invalid_input);
  EXPECT_TRUE(plan.error().message.starts_with(".github/ferry-onboard/shop.json: not JSON"))
      << plan.error().message;
}

}  // namespace
