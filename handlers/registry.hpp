#pragma once
// The handler registry: routes each parsed event kind to its handler (one handler a file in
// handlers/). service/main.cpp builds it once and gives it to the server.

#include <boost/asio/thread_pool.hpp>

#include <memory>
#include <string>
#include <vector>

#include "service/apply/job.hpp"
#include "service/config.hpp"
#include "service/dispatch.hpp"
#include "service/git/mirror.hpp"
#include "service/github/app_client.hpp"
#include "service/metrics.hpp"

namespace ferry::kube {
class client;
}

namespace ferry::handlers {

// Parsed rules files by blob id, and the flow's short-lived API answers (handlers/bump_flow.cpp).
struct rules_cache;
struct apply_tracker;  // applies followed by this process (handlers/apply.hpp)
class group_lanes;     // one writer per group branch in this process (handlers/group_lane.hpp)

struct handler_settings {
  std::string registry_host = "ghcr.io";  // FERRY_REGISTRY_HOST
  // The clients the handlers use; owned by the composition root and outliving the dispatcher.
  // `serve` always sets both; work that needs them without them is an internal error (500), never
  // a pretended success.
  github::app_client* github = nullptr;           // used from the io_context's thread only
  git::mirror_registry* mirrors = nullptr;        // blocking: called on `pool`
  boost::asio::thread_pool* pool = nullptr;       // null: mirror calls block the io thread
  service::metrics* metrics = nullptr;            // may be null
  std::vector<service::repo_name> infra_repos{};  // FERRY_INFRA_REPOS
  std::string rules_path = ".github/ferry.yaml";  // FERRY_RULES_PATH
  std::shared_ptr<rules_cache> rules{};           // created by make_dispatcher when null
  // The cluster the applies run in; null: applies fail with a status that says so.
  kube::client* kube = nullptr;    // used from the io_context's thread only
  apply::job_policy job_policy{};  // FERRY_APPLY_NAMESPACES / FERRY_APPLY_SERVICE_ACCOUNTS
  std::shared_ptr<apply_tracker> applies{};  // created by share_settings when null
  // Turns on group branches (handlers/group_lane.hpp); null: deliveries of a group do not queue
  // in this process (the compare-and-swap on the branch still decides).
  std::shared_ptr<group_lanes> lanes{};  // created by share_settings when null
};

// The settings as every user shares them (the dispatcher, the apply followers, the maintenance
// loop): fills in the caches and trackers left null.
std::shared_ptr<const handler_settings> share_settings(handler_settings settings);

// package / registry_package -> package_published; push -> push (applies); pull_request ->
// pull_request; ping -> done; installation* -> done, logged; anything else -> ignored. The
// returned function shares the settings (and their caches) between calls.
service::dispatch_fn make_dispatcher(handler_settings settings);
// What the registry knows without I/O (server::set_decider): package deliveries that name no
// promotion (decide_package) or an image no infra repository's fresh rules view names, events
// ferry does not handle, pings. Everything else is left to the dispatcher.
service::decide_fn make_shared_decider(std::shared_ptr<const handler_settings> settings);
// The same over settings already shared (the composition root hands them to the maintenance
// loop too).
service::dispatch_fn make_shared_dispatcher(std::shared_ptr<const handler_settings> settings);

}  // namespace ferry::handlers
