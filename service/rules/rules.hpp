#pragma once
// The rules file (.github/ferry.yaml, SPEC "Rules file"), parsed once into validated structs.
// Every problem is reported with file:line:col (1-based) and a message a person can act on; the
// parser collects all of them instead of stopping at the first.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "service/result.hpp"
#include "service/rules/policy.hpp"

namespace ferry::rules {

inline constexpr std::string_view k_default_namespace = "flux-system";

struct position {
  int line = 0;  // 1-based; 0 when unknown
  int column = 0;
};

struct diagnostic {
  std::string file;
  int line = 0;  // 1-based
  int column = 0;
  std::string message;
  // "file:line:col: message", the format `ferry check` prints (SPEC exit code 1).
  std::string to_string() const;
};

struct image_rule {
  std::string name;
  std::string namespace_name{k_default_namespace};
  std::string image;  // lower-case repository reference, no tag or digest
  tag_policy policy;  // filterTags + policy
  std::vector<std::string> source_branches;
  bool pin_digest = false;
  // `group: NAME`: every image of the group promoted into one environment goes into one branch,
  // ferry/<env>/group-<NAME>, and one pull request listing each image (docs/rules.md, "Groups").
  // Empty: the rule has its own branch and PR.
  std::string group;
  position where;  // the rule's mapping in the file

  // Markers name a rule as "<namespace>:<name>" (Flux ImagePolicy reference).
  std::string marker_ref() const { return namespace_name + ":" + name; }
};

enum class merge_method { squash, merge, rebase };
const char* to_string(merge_method m) noexcept;

struct auto_merge {
  bool enabled = false;
  merge_method method = merge_method::squash;  // `autoMerge: true` means squash
};

// One entry of apply.flux.healthChecks, in Flux's own format (kustomize.toolkit.fluxcd.io/v1
// NamespacedObjectKindReference: apiVersion, kind, name, namespace). Kinds ferry can judge:
// HelmRelease (helm.toolkit.fluxcd.io/v2 or v2beta2) and Deployment (apps/v1).
struct health_check {
  std::string api_version;  // defaulted from the kind when the file leaves it out
  std::string kind;
  std::string name;
  std::string namespace_name;  // defaulted to the Kustomization's namespace
  bool operator==(const health_check&) const = default;
};

struct apply_flux {
  std::string kind{"Kustomization"};
  std::string name;
  std::string namespace_name{k_default_namespace};
  // Absent: the HelmReleases of the Kustomization's inventory that the pushed commit touched
  // (docs/rules.md, "Health checks"). An empty list: none, the Kustomization's Ready is enough.
  std::optional<std::vector<health_check>> health_checks;
};

struct apply_job {
  std::string namespace_name;
  std::string template_path;  // a path in the infra repo, normalised (no "./", no trailing '/')
};

// Argo CD mode: the Application is hard-refreshed and, with `sync`, synced at the pushed
// commit through its `operation` (docs/rules.md).
inline constexpr std::string_view k_default_argocd_namespace = "argocd";
struct apply_argocd {
  std::string application;
  std::string namespace_name{k_default_argocd_namespace};
  bool sync = false;  // false: Argo CD's automated sync applies the refreshed revision
};

// Fleet mode: the GitRepo's spec.forceSyncGeneration is incremented and the GitRepo followed to
// Ready at the pushed commit (docs/rules.md).
inline constexpr std::string_view k_default_fleet_namespace = "fleet-default";
struct apply_fleet {
  std::string git_repo;
  std::string namespace_name{k_default_fleet_namespace};
};

struct apply_config {
  std::variant<apply_flux, apply_job, apply_argocd, apply_fleet> target;
  std::chrono::seconds timeout{600};
};

// Gates before promotion (docs/rules.md, "Gates"): after this environment's apply succeeded,
// every gate must pass before the environments promoted from it get their pull requests.
struct gate_flagger {
  std::string canary;          // a flagger.app/v1beta1 Canary
  std::string namespace_name;  // required: Canaries live in their application's namespace
};

struct gates_config {
  std::optional<gate_flagger> flagger;
  // Commit statuses or check runs (by context / name) that must be successful on the merged
  // commit. None of them may be one of ferry's own ("ferry/..."): ferry writes those.
  std::vector<std::string> statuses;
  std::chrono::seconds timeout{1800};  // from the apply's success; SPEC leaves it open: 30m
};

struct environment {
  std::string name;
  std::vector<std::string> paths;  // normalised repository-relative paths ("." = whole repo)
  std::optional<std::string> promote_from;
  auto_merge merge;
  // Absent: pull requests only; Flux or Argo CD apply the merge on their own schedule (SPEC
  // "Rules file"). Such an environment cannot be named by promoteFrom: nothing reports when
  // its merge is live, so nothing could follow it.
  std::optional<apply_config> apply;
  // Absent: promotion follows the apply's success at once.
  std::optional<gates_config> gates;
  std::vector<std::string> reviewers;
  std::vector<std::string> team_reviewers;
  bool suspend = false;
  position where;
};

struct rules_file {
  int version = 1;
  std::vector<image_rule> images;
  std::vector<environment> environments;
};

// The outcome of parse_rules: the rules, or every diagnostic (never both).
class parse_outcome {
 public:
  explicit parse_outcome(rules_file rules) : rules_(std::move(rules)) {}
  explicit parse_outcome(std::vector<diagnostic> diagnostics)
      : diagnostics_(std::move(diagnostics)) {}

  bool ok() const noexcept { return rules_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  const rules_file& value() const& { return *rules_; }
  rules_file&& value() && { return std::move(*rules_); }
  const std::vector<diagnostic>& diagnostics() const noexcept { return diagnostics_; }
  // All diagnostics, one "file:line:col: message" a line.
  std::string report() const;
  // For callers that only pass errors on: invalid_input carrying report().
  result<rules_file> to_result() const&;

 private:
  std::optional<rules_file> rules_;
  std::vector<diagnostic> diagnostics_;
};

// Parses and validates the rules file text. file_name is only used in diagnostics.
parse_outcome parse_rules(std::string_view text, std::string_view file_name);

// --- helpers over valid rules ---------------------------------------------------------------

const environment* find_environment(const rules_file& rules, std::string_view name);
const image_rule* find_image_rule(const rules_file& rules, std::string_view namespace_name,
                                  std::string_view name);

// Every rule for an image reference (as a package event names it): compared lower-cased,
// so "ghcr.io/Dine-Together/App" finds the rule for "ghcr.io/dine-together/app".
std::vector<const image_rule*> rules_for_image(const rules_file& rules, std::string_view image_ref);

// Environments a published image goes to first: no promoteFrom and not suspended.
std::vector<const environment*> entry_environments(const rules_file& rules);

// Suspension propagates downstream: an environment is suspended when it, or any environment up
// its promoteFrom chain, says `suspend: true`. Unknown names count as suspended (fail closed).
bool is_suspended(const rules_file& rules, std::string_view environment_name);

// Environments whose promoteFrom names this one (the next step of the chain), in file order.
std::vector<const environment*> direct_downstream(const rules_file& rules,
                                                  std::string_view environment_name);
// Every environment below this one, nearest first (breadth-first, file order within a level).
std::vector<const environment*> all_downstream(const rules_file& rules,
                                               std::string_view environment_name);

// SPEC "Names": ferry/<env>/<namespace>-<name>, or ferry/<env>/group-<group> for a rule in a
// group.
std::string branch_name(const environment& env, const image_rule& rule);

// The rules of `group`, in file order (empty for an empty name).
std::vector<const image_rule*> group_rules(const rules_file& rules, std::string_view group);

}  // namespace ferry::rules
