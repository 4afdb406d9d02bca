#include "service/config.hpp"

#include <gtest/gtest.h>

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

TEST(config, listen_accepts_ipv6_brackets) {
  auto env = minimal();
  env["FERRY_LISTEN"] = "[::1]:9000";
  auto s = load_settings(env, fake_files);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->listen_host, "::1");
  EXPECT_EQ(s->listen_port, 9000);
}

}  // namespace
}  // namespace ferry::service
