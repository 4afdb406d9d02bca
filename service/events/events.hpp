#pragma once
// Typed GitHub webhook events. parse_event() turns a delivery body into one of the plain structs
// below; everything is copied into std::string, so an event outlives the request buffer.
//
// What is required and what is optional follows GitHub's own schema for each event
// (@octokit/openapi-webhooks, generated/api.github.com.json); test/service/events checks the
// table in fields.hpp against that schema. A field the schema allows to be absent or null is
// left empty (strings), std::nullopt, or false here.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "service/result.hpp"

namespace ferry::events {

// The repository object every event carries (docs.github.com "Webhook events and payloads").
struct repository_info {
  std::string full_name;  // "owner/name"
  std::string owner;      // owner.login; empty where the schema lets owner be null (push)
  std::string name;
  std::string clone_url;  // SPEC: clone URLs come from the API's repository objects
  std::string default_branch;
  std::string html_url;
};

// `package` and `registry_package` (both carry the same data under a different key).
struct package_event {
  enum class source_kind { package, registry_package };
  source_kind source = source_kind::package;
  std::string action;        // "published", "updated"
  std::string package_type;  // as sent: GHCR says "CONTAINER"; the examples say "npm"/"docker"
  std::string owner;         // package.owner.login; empty when the schema's nullable owner is null
  std::string name;          // package.name; may contain '/'
  std::string html_url;      // package.html_url
  // package_version may be null in `published` deliveries (schema): then these stay empty/0.
  bool has_version = false;
  std::int64_t version_id = 0;
  std::string digest;  // package_version.name, falling back to .version when name is empty
  std::string tag;     // package_version.container_metadata.tag.name; "" for untagged manifests
  std::string target_commitish;  // branch the image was built from, when GitHub knows it
  std::string target_oid;        // commit the image was built from, when GitHub knows it
  // OCI labels org.opencontainers.image.revision / .source, when present (GHCR reports them in
  // container_metadata.labels, which the schema leaves free-form).
  std::string label_revision;
  std::string label_source;
  std::optional<repository_info> repository;    // optional: GHCR omits it for unlinked packages
  std::optional<std::int64_t> installation_id;  // App deliveries only
  std::string sender;                           // sender.login
};

struct push_event {
  std::string ref;  // "refs/heads/main"
  std::string before;
  std::string after;
  bool forced = false;
  bool created = false;
  bool deleted = false;
  repository_info repository;
  std::optional<std::int64_t> installation_id;
  std::string head_commit_id;  // empty when head_commit is null (a branch deletion)
  std::string pusher;          // pusher.name (the schema's pusher has no login)
  // What the pushed commits did to files (commits[].added / modified / removed), for onboarding
  // pull requests. GitHub lists at most 2048 commits and 3000 files a commit (schema), so
  // `files_complete` is false when a list may be cut there, or holds something not a string.
  std::vector<std::string> touched;  // added or modified, in payload order (may repeat)
  std::vector<std::string> removed;
  std::size_t commit_count = 0;
  bool files_complete = true;
};

struct pull_request_event {
  std::string action;
  std::int64_t number = 0;
  bool merged = false;  // absent or null in most actions: false
  std::string head_ref;
  std::string head_sha;
  std::string head_repo_full_name;  // empty when the head repository was deleted (null)
  std::string base_ref;
  std::string base_sha;
  std::string merge_commit_sha;  // empty when null
  std::string title;
  std::vector<std::string> labels;
  std::string user;  // pull_request.user.login; empty when null
  repository_info repository;
  std::optional<std::int64_t> installation_id;
};

// `status`: a commit status was created (a CI job, an end-to-end suite, or ferry itself).
struct status_event {
  std::string sha;
  std::string context;
  std::string state;  // pending, success, failure, error
  std::string description;
  std::string target_url;
  repository_info repository;
  std::optional<std::int64_t> installation_id;
};

// `check_run`: a check run was created, completed, rerequested or requested an action.
struct check_run_event {
  std::string action;  // "completed" is the one gates wait for
  std::string head_sha;
  std::string name;
  std::string status;      // queued, in_progress, completed, pending
  std::string conclusion;  // empty until completed (null in the payload)
  std::string html_url;
  repository_info repository;
  std::optional<std::int64_t> installation_id;
};

struct ping_event {
  std::string zen;
  std::int64_t hook_id = 0;  // 0 when absent
};

// `installation` and `installation_repositories`.
struct installation_event {
  std::string action;
  std::int64_t installation_id = 0;
  std::string account;  // installation.account.login, or .slug for an enterprise; may be empty
};

// Any other event name: the body was checked to be well-formed JSON and nothing more.
struct other_event {
  std::string name;
};

using event = std::variant<package_event, push_event, pull_request_event, status_event,
                           check_run_event, ping_event, installation_event, other_event>;

// Parses a delivery body for the X-GitHub-Event name. Malformed, truncated, wrongly typed or
// missing required fields give error_kind::invalid_input with a message naming the field, e.g.
// "package.package_version.name: missing". Never throws.
ferry::result<event> parse_event(std::string_view event_name, std::string_view json_body);

// GHCR pushes provenance and SBOM attestations under tags "sha256-<64 lower-case hex>".
bool is_attestation_tag(std::string_view tag) noexcept;

// "<registry_host>/<owner>/<name>", lower-cased as container references are (SPEC; GHCR
// lower-cases owner and repository in references). Names may contain '/'.
std::string image_reference(std::string_view registry_host, const package_event& e);

}  // namespace ferry::events
