#pragma once
// The service's configuration, read once by the composition root from the environment
// (SPEC: "Service configuration"). Only main.cpp calls load_settings(); every client gets a
// plain struct cut from the result.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "service/limits.hpp"
#include "service/log.hpp"
#include "service/result.hpp"

namespace ferry::service {

struct repo_name {
  std::string owner;
  std::string name;
  std::string full() const { return owner + "/" + name; }
};

struct settings {
  std::string listen_host = "0.0.0.0";
  std::uint16_t listen_port = 8080;
  // FERRY_HEALTH_LISTEN: a second listener for /healthz, /readyz and /metrics only; unset, none.
  std::optional<std::pair<std::string, std::uint16_t>> health_listen;
  std::string webhook_secret;
  std::string app_id;
  std::string private_key_pem;
  std::string private_key_file;
  std::string github_api_url = "https://api.github.com";
  std::string github_graphql_url;  // derived from github_api_url when not set
  std::string registry_host = "ghcr.io";
  // FERRY_GITHUB_WRITES_PER_MINUTE / _PER_HOUR: content-creating calls per installation.
  int github_writes_per_minute = limits::k_github_writes_per_minute;
  int github_writes_per_hour = limits::k_github_writes_per_hour;
  std::vector<repo_name> infra_repos;
  std::string rules_path = ".github/ferry.yaml";
  std::string cache_dir = "/var/cache/ferry";
  std::vector<std::string> apply_namespaces{"flux-system"};
  std::vector<std::string> apply_service_accounts{"ferry-apply"};
  std::string kube_api_url;     // empty: in-cluster (KUBERNETES_SERVICE_HOST/PORT)
  std::string kube_token_file;  // empty: the service account's token
  std::string kube_ca_file;     // empty: the service account's CA bundle
  log::level log_level = log::level::info;
  log::format log_format = log::format::json;
};

// The environment as name -> value, and a way to read secret files (injected so tests need
// neither a real environment nor files).
using environment = std::map<std::string, std::string>;
using file_reader = std::function<result<std::string>(const std::string& path)>;

// Every problem is reported, one a line, naming the variable; a secret's value never appears
// in a message. Unknown FERRY_* variables are errors (a typo must not silently fall back to a
// default).
result<settings> load_settings(const environment& env, const file_reader& read_file);

// GraphQL endpoint for a REST base URL: https://api.github.com -> https://api.github.com/graphql,
// https://HOST/api/v3 -> https://HOST/api/graphql (GitHub Enterprise Server).
std::string derive_graphql_url(const std::string& api_url);

// Every variable load_settings() reads (each with its _FILE form where it has one): the list the
// docs must cover (test/service/config_test.cpp holds docs/configuration.md to it).
std::span<const std::string_view> known_variables();

// Reads a whole file of at most `max` bytes (a larger one is an error, and no more than max + 1
// bytes are ever read); errors name the path.
result<std::string> read_whole_file(const std::string& path,
                                    std::size_t max = limits::k_setting_file_max);

}  // namespace ferry::service
