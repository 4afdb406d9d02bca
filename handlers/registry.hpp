#pragma once
// The handler registry: routes each parsed event kind to its handler (one handler a file in
// handlers/). service/main.cpp builds it once and gives it to the server.

#include <boost/asio/thread_pool.hpp>

#include <memory>
#include <string>
#include <vector>

#include "service/config.hpp"
#include "service/dispatch.hpp"
#include "service/git/mirror.hpp"
#include "service/github/app_client.hpp"
#include "service/metrics.hpp"

namespace ferry::handlers {

// Parsed rules files by blob id, and the flow's short-lived API answers (handlers/bump_flow.cpp).
struct rules_cache;

struct handler_settings {
  std::string registry_host = "ghcr.io";  // FERRY_REGISTRY_HOST
  // The clients the tag-bump flow uses; owned by the composition root and outliving the
  // dispatcher. Without `github` and `mirrors` the package handler only logs the promotion
  // (the handlers' unit tests run that way).
  github::app_client* github = nullptr;           // used from the io_context's thread only
  git::mirror_registry* mirrors = nullptr;        // blocking: called on `pool`
  boost::asio::thread_pool* pool = nullptr;       // null: mirror calls block the io thread
  service::metrics* metrics = nullptr;            // may be null
  std::vector<service::repo_name> infra_repos{};  // FERRY_INFRA_REPOS
  std::string rules_path = ".github/ferry.yaml";  // FERRY_RULES_PATH
  std::shared_ptr<rules_cache> rules{};           // created by make_dispatcher when null
};

// package / registry_package -> package_published; ping -> done; installation* -> done, logged;
// push and pull_request -> ignored (their work lands with later issues); anything else ->
// ignored. The returned function shares the settings (and their rules cache) between calls.
service::dispatch_fn make_dispatcher(handler_settings settings);

}  // namespace ferry::handlers
