// resolve_settings: FERRY_KUBE_* overrides, the in-cluster service account fallback (client-go
// rest.InClusterConfig), and errors that name what is missing.

#include <gtest/gtest.h>

#include "service/kube/client.hpp"

namespace ferry::kube {
namespace {

TEST(kube_settings, in_cluster_from_service_env_and_account_files) {
  service::settings s;
  service::environment env{{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                           {"KUBERNETES_SERVICE_PORT", "443"}};
  auto r = resolve_settings(s, env);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->api_url, "https://10.96.0.1:443");
  EXPECT_EQ(r->token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  EXPECT_EQ(r->ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
  EXPECT_EQ(r->attempt_timeout, limits::k_kube_attempt_timeout);
  EXPECT_EQ(r->max_attempts, limits::k_kube_max_attempts);
}

TEST(kube_settings, in_cluster_ipv6_host_goes_in_brackets) {
  service::settings s;
  service::environment env{{"KUBERNETES_SERVICE_HOST", "fd00:10:96::1"},
                           {"KUBERNETES_SERVICE_PORT", "6443"}};
  auto r = resolve_settings(s, env);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->api_url, "https://[fd00:10:96::1]:6443");
}

TEST(kube_settings, overrides_win_over_the_cluster) {
  service::settings s;
  s.kube_api_url = "https://127.0.0.1:6443/";
  s.kube_token_file = "/tmp/token";
  s.kube_ca_file = "/tmp/ca.pem";
  service::environment env{{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                           {"KUBERNETES_SERVICE_PORT", "443"}};
  auto r = resolve_settings(s, env);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->api_url, "https://127.0.0.1:6443");  // trailing slash dropped
  EXPECT_EQ(r->token_file, "/tmp/token");
  EXPECT_EQ(r->ca_file, "/tmp/ca.pem");
}

TEST(kube_settings, url_override_keeps_the_account_files) {
  service::settings s;
  s.kube_api_url = "https://kube.example:443";
  auto r = resolve_settings(s, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
}

TEST(kube_settings, missing_pieces_are_named) {
  service::settings s;
  auto none = resolve_settings(s, {});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().kind, error_kind::invalid_input);
  EXPECT_NE(none.error().message.find("FERRY_KUBE_API_URL"), std::string::npos);
  EXPECT_NE(none.error().message.find("KUBERNETES_SERVICE_HOST"), std::string::npos);
  EXPECT_NE(none.error().message.find("KUBERNETES_SERVICE_PORT"), std::string::npos);

  auto no_port = resolve_settings(s, {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}});
  ASSERT_FALSE(no_port.ok());
  EXPECT_NE(no_port.error().message.find("KUBERNETES_SERVICE_PORT"), std::string::npos);
  EXPECT_EQ(no_port.error().message.find("KUBERNETES_SERVICE_HOST"), std::string::npos);
}

TEST(kube_settings, plain_http_is_refused) {
  service::settings s;
  s.kube_api_url = "http://127.0.0.1:8001";
  auto r = resolve_settings(s, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, error_kind::invalid_input);
  EXPECT_NE(r.error().message.find("https"), std::string::npos);
}

}  // namespace
}  // namespace ferry::kube
