// Every example delivery in @octokit/webhooks-examples for the event kinds ferry parses parses,
// and to the same values an independent reader (Boost.JSON) finds in the same JSON.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "service/events/events.hpp"
#include "service/events/fields.hpp"
#include "test/service/events/test_support.hpp"

namespace ferry::events {
namespace {

namespace json = boost::json;
using test::at_path;
using test::str_at;

std::optional<std::int64_t> int_at(const json::value& root, std::string_view path) {
  const auto* v = at_path(root, path);
  if (v == nullptr || !v->is_int64()) {
    return std::nullopt;
  }
  return v->get_int64();
}

bool bool_at(const json::value& root, std::string_view path) {
  const auto* v = at_path(root, path);
  return v != nullptr && v->is_bool() && v->get_bool();
}

bool is_object_at(const json::value& root, std::string_view path) {
  const auto* v = at_path(root, path);
  return v != nullptr && v->is_object();
}

void expect_repository(const repository_info& got, const json::value& root, bool owner_login) {
  EXPECT_EQ(got.full_name, str_at(root, "repository.full_name"));
  EXPECT_EQ(got.owner, owner_login ? str_at(root, "repository.owner.login") : "");
  EXPECT_EQ(got.name, str_at(root, "repository.name"));
  EXPECT_EQ(got.clone_url, str_at(root, "repository.clone_url"));
  EXPECT_EQ(got.default_branch, str_at(root, "repository.default_branch"));
  EXPECT_EQ(got.html_url, str_at(root, "repository.html_url"));
  EXPECT_FALSE(got.full_name.empty());
  EXPECT_FALSE(got.clone_url.empty());
}

std::string oci_label(const json::value& root, const std::string& labels, const char* short_key,
                      const char* oci_key) {
  std::string v = str_at(root, labels + "." + short_key);
  if (!v.empty()) {
    return v;
  }
  const auto* all = at_path(root, labels + ".all_labels");
  if (all != nullptr && all->is_object()) {
    if (const auto* l = all->get_object().if_contains(oci_key); l != nullptr && l->is_string()) {
      return std::string(l->get_string());
    }
  }
  return {};
}

void expect_package(const package_event& e, const std::string& key, const json::value& root) {
  EXPECT_EQ(e.source, key == "package" ? package_event::source_kind::package
                                       : package_event::source_kind::registry_package);
  EXPECT_EQ(e.action, str_at(root, "action"));
  EXPECT_EQ(e.package_type, str_at(root, key + ".package_type"));
  EXPECT_EQ(e.owner, str_at(root, key + ".owner.login"));
  EXPECT_EQ(e.name, str_at(root, key + ".name"));
  EXPECT_EQ(e.html_url, str_at(root, key + ".html_url"));
  const std::string pv = key + ".package_version";
  EXPECT_EQ(e.has_version, is_object_at(root, pv));
  EXPECT_EQ(e.version_id, int_at(root, pv + ".id").value_or(0));
  const std::string name = str_at(root, pv + ".name");
  EXPECT_EQ(e.digest, name.empty() ? str_at(root, pv + ".version") : name);
  EXPECT_EQ(e.tag, str_at(root, pv + ".container_metadata.tag.name"));
  EXPECT_EQ(e.target_commitish, str_at(root, pv + ".target_commitish"));
  EXPECT_EQ(e.target_oid, str_at(root, pv + ".target_oid"));
  const std::string labels = pv + ".container_metadata.labels";
  if (is_object_at(root, labels)) {
    EXPECT_EQ(e.label_revision,
              oci_label(root, labels, "revision", "org.opencontainers.image.revision"));
    EXPECT_EQ(e.label_source, oci_label(root, labels, "source", "org.opencontainers.image.source"));
  }
  EXPECT_EQ(e.repository.has_value(), is_object_at(root, "repository"));
  if (e.repository) {
    expect_repository(*e.repository, root, true);
  }
  EXPECT_EQ(e.installation_id, int_at(root, "installation.id"));
  EXPECT_EQ(e.sender, str_at(root, "sender.login"));
}

void expect_push(const push_event& e, const json::value& root) {
  EXPECT_EQ(e.ref, str_at(root, "ref"));
  EXPECT_EQ(e.before, str_at(root, "before"));
  EXPECT_EQ(e.after, str_at(root, "after"));
  EXPECT_EQ(e.forced, bool_at(root, "forced"));
  EXPECT_EQ(e.created, bool_at(root, "created"));
  EXPECT_EQ(e.deleted, bool_at(root, "deleted"));
  expect_repository(e.repository, root, is_object_at(root, "repository.owner"));
  EXPECT_EQ(e.installation_id, int_at(root, "installation.id"));
  EXPECT_EQ(e.head_commit_id, str_at(root, "head_commit.id"));
  EXPECT_EQ(e.pusher, str_at(root, "pusher.name"));
  EXPECT_EQ(e.ref.rfind("refs/", 0), 0u);
  EXPECT_EQ(e.after.size(), 40u);
}

void expect_pull_request(const pull_request_event& e, const json::value& root) {
  EXPECT_EQ(e.action, str_at(root, "action"));
  EXPECT_EQ(e.number, int_at(root, "number").value_or(-1));
  EXPECT_EQ(e.merged, bool_at(root, "pull_request.merged"));
  EXPECT_EQ(e.head_ref, str_at(root, "pull_request.head.ref"));
  EXPECT_EQ(e.head_sha, str_at(root, "pull_request.head.sha"));
  EXPECT_EQ(e.head_repo_full_name, str_at(root, "pull_request.head.repo.full_name"));
  EXPECT_EQ(e.base_ref, str_at(root, "pull_request.base.ref"));
  EXPECT_EQ(e.base_sha, str_at(root, "pull_request.base.sha"));
  EXPECT_EQ(e.merge_commit_sha, str_at(root, "pull_request.merge_commit_sha"));
  EXPECT_EQ(e.title, str_at(root, "pull_request.title"));
  std::vector<std::string> labels;
  for (const auto& l : at_path(root, "pull_request.labels")->as_array()) {
    labels.emplace_back(str_at(l, "name"));
  }
  EXPECT_EQ(e.labels, labels);
  EXPECT_EQ(e.user, str_at(root, "pull_request.user.login"));
  expect_repository(e.repository, root, true);
  EXPECT_EQ(e.installation_id, int_at(root, "installation.id"));
}

void expect_status(const status_event& e, const json::value& root) {
  EXPECT_EQ(e.sha, str_at(root, "sha"));
  EXPECT_EQ(e.context, str_at(root, "context"));
  EXPECT_EQ(e.state, str_at(root, "state"));
  EXPECT_EQ(e.description, str_at(root, "description"));
  EXPECT_EQ(e.target_url, str_at(root, "target_url"));
  expect_repository(e.repository, root, true);
  EXPECT_EQ(e.installation_id, int_at(root, "installation.id"));
}

void expect_check_run(const check_run_event& e, const json::value& root) {
  EXPECT_EQ(e.action, str_at(root, "action"));
  EXPECT_EQ(e.head_sha, str_at(root, "check_run.head_sha"));
  EXPECT_EQ(e.name, str_at(root, "check_run.name"));
  EXPECT_EQ(e.status, str_at(root, "check_run.status"));
  EXPECT_EQ(e.conclusion, str_at(root, "check_run.conclusion"));
  EXPECT_EQ(e.html_url, str_at(root, "check_run.html_url"));
  expect_repository(e.repository, root, true);
  EXPECT_EQ(e.installation_id, int_at(root, "installation.id"));
}

void expect_ping(const ping_event& e, const json::value& root) {
  EXPECT_EQ(e.zen, str_at(root, "zen"));
  EXPECT_EQ(e.hook_id, int_at(root, "hook_id").value_or(0));
}

void expect_installation(const installation_event& e, const json::value& root) {
  EXPECT_EQ(e.action, str_at(root, "action"));
  EXPECT_EQ(e.installation_id, int_at(root, "installation.id").value_or(-1));
  const std::string login = str_at(root, "installation.account.login");
  EXPECT_EQ(e.account, login.empty() ? str_at(root, "installation.account.slug") : login);
  EXPECT_FALSE(e.account.empty());
}

TEST(events_examples, every_example_of_every_typed_event_parses_to_what_it_says) {
  const std::string text =
      test::read_file(test::node_module("@octokit/webhooks-examples/api.github.com/index.json"));
  ASSERT_FALSE(text.empty());
  const json::value index = json::parse(text);
  // (event name, body): the collection's examples of typed events, and the fixtures, since
  // the current collection has no registry_package example (the fixture is an older one).
  std::vector<std::pair<std::string, json::value>> cases;
  for (const auto& entry : index.as_array()) {
    const std::string name(entry.at("name").as_string());
    const auto typed = typed_event_names();
    if (std::find(typed.begin(), typed.end(), name) == typed.end()) {
      continue;
    }
    for (const auto& example : entry.at("examples").as_array()) {
      cases.emplace_back(name, example);
    }
  }
  for (const auto& [name, file] : {
           std::pair{"registry_package", "registry_package.published.docker-example.json"},
           std::pair{"package", "package.published.docker-example.json"},
           std::pair{"package", "package.published.ghcr-multiarch-index.json"},
       }) {
    cases.emplace_back(name, json::parse(test::read_file(test::fixture(file))));
  }
  std::map<std::string, int> parsed;
  for (const auto& [name, example] : cases) {
    SCOPED_TRACE(name + " example " + std::to_string(parsed[name]) + " action " +
                 str_at(example, "action"));
    const auto r = parse_event(name, json::serialize(example));
    ASSERT_TRUE(r.ok()) << r.error().message;
    std::visit(
        [&](const auto& e) {
          using T = std::decay_t<decltype(e)>;
          if constexpr (std::is_same_v<T, package_event>) {
            expect_package(e, name, example);
          } else if constexpr (std::is_same_v<T, push_event>) {
            expect_push(e, example);
          } else if constexpr (std::is_same_v<T, pull_request_event>) {
            expect_pull_request(e, example);
          } else if constexpr (std::is_same_v<T, status_event>) {
            expect_status(e, example);
          } else if constexpr (std::is_same_v<T, check_run_event>) {
            expect_check_run(e, example);
          } else if constexpr (std::is_same_v<T, ping_event>) {
            expect_ping(e, example);
          } else if constexpr (std::is_same_v<T, installation_event>) {
            expect_installation(e, example);
          } else {
            ADD_FAILURE() << name << " parsed as an untyped event";
          }
        },
        *r);
    ++parsed[name];
  }
  // Every typed event has examples in the collection; a renamed or dropped entry must not make
  // this test pass vacuously.
  for (const auto name : typed_event_names()) {
    EXPECT_GT(parsed[std::string(name)], 0) << "no examples of " << name;
  }
}

// Event names ferry does not type still get a full validation of the body.
TEST(events_examples, untyped_events_are_validated_and_named) {
  const auto ok = parse_event("issues", R"({"action":"opened","issue":{"number":1}})");
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE(std::holds_alternative<other_event>(*ok));
  EXPECT_EQ(std::get<other_event>(*ok).name, "issues");
  // The malformed part is deep in a part no typed parser would read.
  const auto bad = parse_event("issues", R"({"action":"opened","issue":{"number":1,}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, error_kind::invalid_input);
  EXPECT_NE(bad.error().message.find("malformed JSON"), std::string::npos);
}

}  // namespace
}  // namespace ferry::events
