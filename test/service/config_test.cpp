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
