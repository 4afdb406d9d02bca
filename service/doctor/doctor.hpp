#pragma once
// `ferry doctor`: checks a live installation with the settings `serve` uses and says, one line
// per check, what is ok, what is suspicious (warn) and what will break (fail), with what to do.
// It never writes: GitHub and the API server only see GETs, plus SelfSubjectAccessReview
// creates, which the API server evaluates and does not store (kubernetes.io "Checking API
// access": "no object is persisted").
//
// The evaluators below are pure (an API answer in, checks out) so each verdict is unit-tested;
// run_doctor makes the calls and feeds them.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/config.hpp"
#include "service/result.hpp"
#include "service/rules/rules.hpp"

namespace ferry::github {
class app_client;
}
namespace ferry::kube {
class client;
}

namespace ferry::doctor {

enum class level { ok, warn, fail };
const char* to_string(level l) noexcept;

struct check {
  std::string name;  // what was checked, e.g. "github.installation dine-together/infra"
  level verdict = level::ok;
  std::string detail;  // what was seen
  std::string fix;     // what to do; empty when ok
};

// --- GitHub -------------------------------------------------------------------------------

// GET /app: the key signs a JWT GitHub accepts.
check evaluate_app(const result<std::string>& app_json);

// The repository permissions ferry needs (SPEC "GitHub App"): contents, pull_requests and
// statuses write; metadata and packages read.
struct permission_need {
  std::string name;
  std::string access;  // "read" or "write"
};
const std::vector<permission_need>& needed_permissions();

// GET /repos/{owner}/{repo}/installation for an infra repository: installed, and granted
// every needed permission (write satisfies read).
check evaluate_infra_installation(std::string_view repo,
                                  const result<std::string>& installation_json);

// GET /app: the events the App subscribes to (package or registry_package, push,
// pull_request).
check evaluate_app_events(const result<std::string>& app_json);

// GET /app/hook/config: URL set (https), content type json, secret set ("********"),
// insecure_ssl "0".
check evaluate_hook_config(const result<std::string>& config_json);
// `gates.statuses` are decided from `status` and `check_run` deliveries and read with the Checks
// permission (docs/rules.md, "Gates"): with such gates in `gated` ("repo env" names), GET /app
// must list both events and checks: read (or write); without any, the check is not made
// (nullopt), since subscribing delivers every CI report on the repository.
std::optional<check> evaluate_gate_events(const result<std::string>& app_json,
                                          const std::vector<std::string>& gated);

// GET /app/hook/deliveries (newest first): failures in the 24 h before `now` (status_code 0 or
// >= 500), their count and the newest one's guid.
check evaluate_deliveries(const result<std::string>& deliveries_json,
                          std::chrono::system_clock::time_point now);

// The rules file at the default branch's head: valid, and per image rule with the `newest`
// policy the candidate source repository (ghcr.io/<owner>/<name> -> <owner>/<name>).
struct source_candidate {
  std::string repo;                // "owner/name"
  std::vector<std::string> rules;  // marker refs "namespace:name" of the rules it serves
};
std::vector<source_candidate> newest_sources(const rules::rules_file& rules,
                                             std::string_view registry_host);
// installed: whether GET /repos/{repo}/installation answered 200.
check evaluate_source(const source_candidate& source, const result<std::string>& installation_json);

// --- Kubernetes ---------------------------------------------------------------------------

// One verb ferry needs on one resource in one namespace, and the RBAC object the manifests
// ship that grants it.
struct access_need {
  std::string verb;
  std::string group;  // "" for the core group
  std::string resource;
  std::string subresource;
  std::string ns;
  std::string granted_by;        // "Role/RoleBinding ferry-apply in flux-system"
  std::string describe() const;  // "create batch/jobs in flux-system"
};

// What an environment's apply target needs. Flux: the Kustomization (get, list, watch, patch)
// and, when known, its source kind (get, patch). Job: jobs create/get/list/watch, pods list,
// pods/log get.
std::vector<access_need> apply_needs(const rules::apply_config& apply,
                                     std::optional<std::string> flux_source_resource);
// A Flagger gate's Canary: get and watch (and list, for the watch's relist) in its namespace,
// granted by manifests/components/flagger.
std::vector<access_need> gate_needs(const rules::gates_config& gates);
// The Lease: leases get/create/update in ferry's own namespace.
std::vector<access_need> lease_needs(std::string_view lease_namespace);

// The body of a SelfSubjectAccessReview for a need (authorization.k8s.io/v1).
std::string access_review_body(const access_need& need);
// The created review: status.allowed true -> ok; false -> fail naming the verb, resource,
// namespace and the Role/RoleBinding that should grant it.
check evaluate_access_review(const access_need& need, const result<std::string>& review_json);

// Flux: the plural resource of a Kustomization's spec.sourceRef.kind ("GitRepository" ->
// "gitrepositories" in source.toolkit.fluxcd.io); nullopt for a kind ferry does not know.
std::optional<std::string> flux_source_resource(std::string_view kind);

// --- running ------------------------------------------------------------------------------

struct doctor_inputs {
  const service::settings* settings = nullptr;
  github::app_client* github = nullptr;
  kube::client* kube = nullptr;  // nullptr: no Kubernetes configuration (a fail line)
  std::string kube_unavailable;  // why kube is nullptr
  std::string lease_namespace;   // POD_NAMESPACE, as serve resolves it
  std::chrono::system_clock::time_point now;
};

boost::asio::awaitable<std::vector<check>> run_doctor(doctor_inputs in);

// One line per check: "ok    name: detail" and, for warn/fail, " -> fix".
std::string to_text(const std::vector<check>& checks);
// A JSON array of {name, level, detail, fix}.
std::string to_json(const std::vector<check>& checks);
// Exit status: 0 when no check fails (warnings allowed), 1 otherwise.
int exit_code(const std::vector<check>& checks);

}  // namespace ferry::doctor
