#include "service/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <vector>

#include "test/support/process.hpp"

namespace ferry::service {
namespace {

result<std::string> fake_files(const std::string& path) {
  if (path == "/secrets/key.pem") {
    return std::string("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n");
  }
  if (path == "/secrets/webhook") {
    return std::string("file-secret\n");
  }
  return make_error(error_kind::invalid_input, path + ": cannot be read");
}

environment minimal() {
  return {{"FERRY_WEBHOOK_SECRET", "s3cret"},
          {"FERRY_APP_ID", "Iv1.abc"},
          {"FERRY_PRIVATE_KEY_FILE", "/secrets/key.pem"},
          {"FERRY_INFRA_REPOS", "dine-together/infra"}};
}

TEST(config, defaults_follow_the_spec_table) {
  auto s = load_settings(minimal(), fake_files);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->listen_host, "0.0.0.0");
  EXPECT_EQ(s->listen_port, 8080);
  EXPECT_EQ(s->github_api_url, "https://api.github.com");
  EXPECT_EQ(s->github_graphql_url, "https://api.github.com/graphql");
  EXPECT_EQ(s->registry_host, "ghcr.io");
  EXPECT_EQ(s->rules_path, ".github/ferry.yaml");
  EXPECT_EQ(s->cache_dir, "/var/cache/ferry");
  EXPECT_EQ(s->apply_namespaces, std::vector<std::string>{"flux-system"});
  EXPECT_EQ(s->apply_service_accounts, std::vector<std::string>{"ferry-apply"});
  ASSERT_EQ(s->infra_repos.size(), 1u);
  EXPECT_EQ(s->infra_repos[0].full(), "dine-together/infra");
  EXPECT_EQ(s->log_format, log::format::json);
  EXPECT_EQ(s->log_level, log::level::info);
}

TEST(config, ghes_graphql_url_is_derived) {
  auto env = minimal();
  env["FERRY_GITHUB_API_URL"] = "https://github.example.com/api/v3/";
  auto s = load_settings(env, fake_files);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->github_api_url, "https://github.example.com/api/v3");
  EXPECT_EQ(s->github_graphql_url, "https://github.example.com/api/graphql");
}

TEST(config, secret_from_file_is_trimmed) {
  auto env = minimal();
  env.erase("FERRY_WEBHOOK_SECRET");
  env["FERRY_WEBHOOK_SECRET_FILE"] = "/secrets/webhook";
  auto s = load_settings(env, fake_files);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->webhook_secret, "file-secret");
}

TEST(config, every_problem_is_reported_and_no_secret_leaks) {
  environment env{{"FERRY_WEBHOOK_SECRET", "hunter2-secret"},
                  {"FERRY_WEBHOOK_SECRET_FILE", "/secrets/webhook"},
                  {"FERRY_LISTEN", "8080"},
                  {"FERRY_INFRA_REPOS", "not-a-repo"},
                  {"FERRY_LOG_LEVEL", "loud"},
                  {"FERRY_LOG_FROMAT", "json"},
                  {"FERRY_PRIVATE_KEY_FILE", "/missing.pem"}};
  auto s = load_settings(env, fake_files);
  ASSERT_FALSE(s.ok());
  const auto& m = s.error().message;
  EXPECT_NE(m.find("FERRY_WEBHOOK_SECRET and FERRY_WEBHOOK_SECRET_FILE: set only one"),
            std::string::npos);
  EXPECT_NE(m.find("FERRY_LISTEN: expected address:port"), std::string::npos);
  EXPECT_NE(m.find("FERRY_INFRA_REPOS: 'not-a-repo' is not owner/name"), std::string::npos);
  EXPECT_NE(m.find("FERRY_LOG_LEVEL"), std::string::npos);
  EXPECT_NE(m.find("FERRY_LOG_FROMAT: unknown variable"), std::string::npos);
  EXPECT_NE(m.find("FERRY_APP_ID: required"), std::string::npos);
  EXPECT_NE(m.find("/missing.pem: cannot be read"), std::string::npos);
  EXPECT_EQ(m.find("hunter2"), std::string::npos);
}

TEST(config, github_write_budget_defaults_and_settings) {
  auto defaults = load_settings(minimal(), fake_files);
  ASSERT_TRUE(defaults.ok()) << defaults.error().message;
  EXPECT_EQ(defaults->github_writes_per_minute, 80);
  EXPECT_EQ(defaults->github_writes_per_hour, 500);
  auto env = minimal();
  env["FERRY_GITHUB_WRITES_PER_MINUTE"] = " 40 ";
  env["FERRY_GITHUB_WRITES_PER_HOUR"] = "250";
  auto set = load_settings(env, fake_files);
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->github_writes_per_minute, 40);
  EXPECT_EQ(set->github_writes_per_hour, 250);
  for (const std::string bad : {"0", "-5", "80/min", "", "1000001", "99999999999"}) {
    env["FERRY_GITHUB_WRITES_PER_MINUTE"] = bad;
    auto refused = load_settings(env, fake_files);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.error().message.find("FERRY_GITHUB_WRITES_PER_MINUTE: expected a whole "
                                           "number from 1 to 1000000, got '" +
                                           bad + "'"),
              std::string::npos)
        << refused.error().message;
  }
}

TEST(config, listen_accepts_ipv6_brackets) {
  auto env = minimal();
  env["FERRY_LISTEN"] = "[::1]:9000";
  auto s = load_settings(env, fake_files);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->listen_host, "::1");
  EXPECT_EQ(s->listen_port, 9000);
}

TEST(config, health_listen_is_a_second_address_or_nothing) {
  auto env = minimal();
  auto unset = load_settings(env, fake_files);
  ASSERT_TRUE(unset.ok()) << unset.error().message;
  EXPECT_FALSE(unset->health_listen.has_value());
  env["FERRY_HEALTH_LISTEN"] = "0.0.0.0:8081";
  auto set = load_settings(env, fake_files);
  ASSERT_TRUE(set.ok()) << set.error().message;
  ASSERT_TRUE(set->health_listen.has_value());
  EXPECT_EQ(set->health_listen->first, "0.0.0.0");
  EXPECT_EQ(set->health_listen->second, 8081);
  env["FERRY_HEALTH_LISTEN"] = "8081";
  auto bad = load_settings(env, fake_files);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("FERRY_HEALTH_LISTEN: expected address:port"),
            std::string::npos)
      << bad.error().message;
}

// docs/configuration.md documents every variable the code reads, and nothing the code does not
// read (issue 15: a setting in the code but not in the docs fails here).
TEST(config, docs_configuration_names_every_variable_and_no_other) {
  const auto doc =
      ferry::test::read_text(std::filesystem::path(FERRY_SOURCE_DIR) / "docs" / "configuration.md");
  ASSERT_FALSE(doc.empty());
  std::set<std::string> known;
  for (const auto name : known_variables()) {
    known.emplace(name);
    EXPECT_NE(doc.find("`" + std::string(name) + "`"), std::string::npos)
        << name << " is read by load_settings() but not documented in docs/configuration.md";
  }
  const std::regex mentioned("FERRY_[A-Z0-9_]+");
  for (std::sregex_iterator it(doc.begin(), doc.end(), mentioned), end; it != end; ++it) {
    const auto name = it->str();
    // The kubelet's service-link names are documented as what ferry ignores, not as settings.
    const bool service_link = name.starts_with("FERRY_SERVICE_") || name.starts_with("FERRY_PORT");
    const bool typo_example = name == "FERRY_INFRA_REPO";
    EXPECT_TRUE(known.contains(name) || service_link || typo_example)
        << "docs/configuration.md names " << name << ", which ferry does not read";
  }
}

TEST(config, infra_repos_follow_githubs_name_rules) {
  for (const std::string& bad :
       std::vector<std::string>{"../etc", "a/..", "a/.", "-x/y", "x", "a/b/c", "a b/c", "o/", "/r",
                                std::string(40, 'o') + "/r"}) {
    auto env = minimal();
    env["FERRY_INFRA_REPOS"] = bad;
    auto s = load_settings(env, fake_files);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.error().message.find("is not owner/name"), std::string::npos) << s.error().message;
  }
  auto env = minimal();
  env["FERRY_INFRA_REPOS"] = "dine-together/.github, Org2/infra_repo.v2";
  auto s = load_settings(env, fake_files);
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_EQ(s->infra_repos.size(), 2u);
  EXPECT_EQ(s->infra_repos[1].full(), "Org2/infra_repo.v2");
}

// A _FILE setting pointing at an endless file is refused after a bounded read (issue 10).
TEST(config, setting_files_are_read_with_a_bound) {
  auto zero = read_whole_file("/dev/zero");
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.error().message.find("/dev/zero: larger than"), std::string::npos);
  ferry::test::temp_dir dir;
  const auto path = dir.path() / "secret";
  ferry::test::write_text(path, std::string(limits::k_setting_file_max, 's'));
  auto exact = read_whole_file(path.string());
  ASSERT_TRUE(exact.ok()) << exact.error().message;
  EXPECT_EQ(exact->size(), limits::k_setting_file_max);
  ferry::test::write_text(path, std::string(limits::k_setting_file_max + 1, 's'));
  EXPECT_FALSE(read_whole_file(path.string()).ok());
  auto env = minimal();
  env.erase("FERRY_WEBHOOK_SECRET");
  env["FERRY_WEBHOOK_SECRET_FILE"] = "/dev/zero";
  auto s = load_settings(env, [](const std::string& p) { return read_whole_file(p); });
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("FERRY_WEBHOOK_SECRET_FILE: /dev/zero: larger than"),
            std::string::npos)
      << s.error().message;
}

}  // namespace
// The kubelet injects service-link variables for every Service of the namespace; for the
// Service `ferry` they all start with FERRY_ (a crash loop on a real cluster, issue 9).
TEST(config, the_kubelets_service_link_variables_are_not_settings) {
  auto env = minimal();
  env["FERRY_SERVICE_HOST"] = "10.43.0.10";
  env["FERRY_SERVICE_PORT"] = "80";
  env["FERRY_SERVICE_PORT_HTTP"] = "80";
  env["FERRY_PORT"] = "tcp://10.43.0.10:80";
  env["FERRY_PORT_80_TCP"] = "tcp://10.43.0.10:80";
  env["FERRY_PORT_80_TCP_PROTO"] = "tcp";
  env["FERRY_PORT_80_TCP_PORT"] = "80";
  env["FERRY_PORT_80_TCP_ADDR"] = "10.43.0.10";
  // Another Service whose name starts with `ferry-`, on IPv6, with a UDP port.
  env["FERRY_METRICS_SERVICE_HOST"] = "fd00:10:43::a";
  env["FERRY_METRICS_PORT"] = "udp://[fd00:10:43::a]:9090";
  env["FERRY_METRICS_PORT_9090_UDP_ADDR"] = "fd00:10:43::a";
  auto s = load_settings(env, fake_files);
  EXPECT_TRUE(s.ok()) << s.error().message;
}

TEST(config, a_typo_is_still_refused_with_a_hint) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"FERRY_INFRA_REPO", "did you mean FERRY_INFRA_REPOS?"},
      {"FERRY_LOG_FROMAT", "did you mean FERRY_LOG_FORMAT?"},
      {"FERRY_PORT", "unknown variable"},          // 8080 is not a service link's value
      {"FERRY_SERVICE_HOST", "unknown variable"},  // nor is a host name
      {"FERRY_PORT_80_TCP_PORT", "unknown variable"},
  };
  const std::map<std::string, std::string> values = {{"FERRY_INFRA_REPO", "me/infra"},
                                                     {"FERRY_LOG_FROMAT", "json"},
                                                     {"FERRY_PORT", "8080"},
                                                     {"FERRY_SERVICE_HOST", "ferry.local"},
                                                     {"FERRY_PORT_80_TCP_PORT", "http"}};
  for (const auto& [name, expected] : cases) {
    auto env = minimal();
    env[name] = values.at(name);
    auto s = load_settings(env, fake_files);
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_NE(s.error().message.find(name + ": unknown variable"), std::string::npos)
        << s.error().message;
    EXPECT_NE(s.error().message.find(expected), std::string::npos) << s.error().message;
  }
  // Far from every known name: no guess.
  auto env = minimal();
  env["FERRY_SOMETHING_ELSE_ENTIRELY"] = "1";
  auto s = load_settings(env, fake_files);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message.find("did you mean"), std::string::npos) << s.error().message;
}

}  // namespace ferry::service
