// The fields each parser reads (fields.hpp, the table parse_event() is driven by) agree with
// GitHub's schema for that event in @octokit/openapi-webhooks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "service/events/events.hpp"
#include "service/events/fields.hpp"
#include "test/service/events/schema_check.hpp"
#include "test/service/events/test_support.hpp"

namespace ferry::events {
namespace {

using test::check_mode;

const boost::json::value& webhooks_spec() {
  static const boost::json::value spec = [] {
    const std::string text = test::read_file(
        test::node_module("@octokit/openapi-webhooks/generated/api.github.com.json"));
    return text.empty() ? boost::json::value{} : boost::json::parse(text);
  }();
  return spec;
}

std::vector<std::string> webhook_keys_with_prefix(std::string_view prefix,
                                                  std::vector<std::string_view> except = {}) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : webhooks_spec().at("webhooks").as_object()) {
    const std::string_view k = key;
    bool excluded = false;
    for (auto e : except) {
      excluded = excluded || k.starts_with(e);
    }
    if (k.starts_with(prefix) && !excluded) {
      keys.emplace_back(k);
    }
  }
  return keys;
}

void expect_agrees(std::string_view event_name, std::string_view key, check_mode mode) {
  const auto fields = fields_read(event_name);
  ASSERT_FALSE(fields.empty()) << event_name;
  const test::schema_checker checker(webhooks_spec());
  for (const auto& p : checker.check(key, fields, mode)) {
    ADD_FAILURE() << event_name << " vs " << key << ": " << p;
  }
}

// The action ferry acts on: every field read must be described, with the same type, and what
// ferry requires must be required and non-null there.
TEST(events_schema, tables_agree_with_the_schema_of_each_event) {
  ASSERT_TRUE(webhooks_spec().is_object());
  expect_agrees("package", "package-published", check_mode::strict);
  expect_agrees("registry_package", "registry-package-published", check_mode::strict);
  expect_agrees("push", "push", check_mode::strict);
  for (const char* key : {"pull-request-closed", "pull-request-opened", "pull-request-reopened",
                          "pull-request-synchronize"}) {
    expect_agrees("pull_request", key, check_mode::strict);
  }
  expect_agrees("status", "status", check_mode::strict);
  expect_agrees("check_run", "check-run-completed", check_mode::strict);
  expect_agrees("ping", "ping", check_mode::strict);
  expect_agrees("installation", "installation-created", check_mode::strict);
  expect_agrees("installation_repositories", "installation-repositories-added", check_mode::strict);
}

// Every other action of the same event: ferry must not refuse a delivery the schema allows.
TEST(events_schema, nothing_required_that_another_action_may_omit) {
  ASSERT_TRUE(webhooks_spec().is_object());
  expect_agrees("package", "package-updated", check_mode::required_only);
  expect_agrees("registry_package", "registry-package-updated", check_mode::required_only);
  const auto pr_keys = webhook_keys_with_prefix("pull-request-", {"pull-request-review"});
  EXPECT_GE(pr_keys.size(), 15u);
  for (const auto& key : pr_keys) {
    expect_agrees("pull_request", key, check_mode::required_only);
  }
  const auto check_run_keys = webhook_keys_with_prefix("check-run-");
  EXPECT_GE(check_run_keys.size(), 4u);
  for (const auto& key : check_run_keys) {
    expect_agrees("check_run", key, check_mode::required_only);
  }
  const auto installation_keys = webhook_keys_with_prefix(
      "installation-", {"installation-repositories", "installation-target"});
  EXPECT_GE(installation_keys.size(), 5u);
  for (const auto& key : installation_keys) {
    expect_agrees("installation", key, check_mode::required_only);
  }
  for (const auto& key : webhook_keys_with_prefix("installation-repositories")) {
    expect_agrees("installation_repositories", key, check_mode::required_only);
  }
}

// The check can fail: each deliberately wrong descriptor is reported.
TEST(events_schema, wrong_descriptors_are_reported) {
  ASSERT_TRUE(webhooks_spec().is_object());
  const test::schema_checker checker(webhooks_spec());
  struct wrong {
    const char* key;
    field_descriptor field;
    const char* expected;
  };
  const wrong cases[] = {
      // nullable in package-published: must not be required
      {"package-published",
       {"package.package_version", presence::required, json_type::object},
       "schema says nullable"},
      // optional in the schema (SPEC and the fixtures README agree)
      {"package-published",
       {"repository", presence::required, json_type::object},
       "schema says optional"},
      // wrong type
      {"package-published",
       {"package.name", presence::required, json_type::integer},
       "read as integer, schema says string"},
      {"push",
       {"forced", presence::optional, json_type::string},
       "read as string, schema says boolean"},
      // not in the schema at all
      {"push", {"pusher.login", presence::optional, json_type::string}, "not in the schema"},
      {"ping", {"hook.id_typo", presence::optional, json_type::integer}, "not in the schema"},
      // required under an array's items, typed wrong
      {"pull-request-closed",
       {"pull_request.labels[].name", presence::required, json_type::boolean},
       "read as boolean, schema says string"},
      // an undocumented key under a free-form object may be read, never required
      {"package-published",
       {"package.package_version.container_metadata.labels.revision", presence::required,
        json_type::string},
       "not in the schema"},
      // no such webhook
      {"package-deleted-typo",
       {"action", presence::required, json_type::string},
       "no such webhook"},
  };
  for (const auto& c : cases) {
    const auto problems = checker.check(c.key, std::span(&c.field, 1), check_mode::strict);
    ASSERT_FALSE(problems.empty()) << c.key << " " << c.field.path << " passed the check";
    EXPECT_NE(problems.front().find(c.expected), std::string::npos)
        << c.key << " " << c.field.path << ": " << problems.front();
  }
  // And the same descriptors, corrected, pass: the failures above are about what was wrong.
  const field_descriptor right[] = {
      {"package.package_version", presence::optional, json_type::object},
      {"repository", presence::optional, json_type::object},
      {"package.name", presence::required, json_type::string},
      {"package.package_version.container_metadata.labels.revision", presence::optional,
       json_type::string},
  };
  EXPECT_TRUE(checker.check("package-published", right, check_mode::strict).empty());
}

// Each table is well formed: every proper prefix of a path is an earlier entry of the right
// kind (the parser relies on it to look up each field from its parent).
TEST(events_schema, tables_list_parents_before_children) {
  for (const auto name : typed_event_names()) {
    const auto fields = fields_read(name);
    for (std::size_t i = 0; i < fields.size(); ++i) {
      std::string_view path = fields[i].path;
      const auto dot = path.rfind('.');
      if (dot == std::string_view::npos) {
        continue;
      }
      std::string_view parent = path.substr(0, dot);
      const bool items = parent.ends_with("[]");
      if (items) {
        parent.remove_suffix(2);
      }
      bool found = false;
      for (std::size_t j = 0; j < i; ++j) {
        if (fields[j].path == parent) {
          found = true;
          EXPECT_EQ(fields[j].type, items ? json_type::array : json_type::object) << path;
        }
      }
      EXPECT_TRUE(found) << name << ": " << path << " has no parent entry before it";
    }
  }
}

}  // namespace
}  // namespace ferry::events
