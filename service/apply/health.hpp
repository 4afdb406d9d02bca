#pragma once
// Flux mode's health checks (docs/rules.md, "Health checks"): after the Kustomization is Ready
// at the pushed revision, the objects it applied must be Ready at their new generation. Which
// objects (the rules' healthChecks, or the HelmReleases of the inventory the pushed commit
// touched) and the pure verdict over each one. No I/O.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "service/kube/objects.hpp"
#include "service/rules/rules.hpp"

namespace ferry::apply {

enum class health_verdict { waiting, ready, failed };

struct health_progress {
  health_verdict verdict = health_verdict::waiting;
  std::string message;
};

// A HelmRelease (helm.toolkit.fluxcd.io/v2) after its Kustomization applied it:
// - status.observedGeneration != metadata.generation: helm-controller has not handled this
//   spec yet, so every condition describes an older one -> waiting (a stale Ready never counts);
// - Released=False or TestSuccess=False (install/upgrade or `helm test` failed; helm-controller
//   v2 condition types) -> failed with that condition's message, Helm's own words;
// - Stalled=True (retries exhausted, kstatus "Failed") -> failed with its message;
// - Ready=False with reason UpgradeFailed or InstallFailed -> failed with Ready's message;
// - Ready=True -> ready; anything else (Ready=Unknown while upgrading, Ready=False while it
//   retries) -> waiting, with Ready's message; the apply's timeout ends it.
health_progress judge_helmrelease(const kube::workload_view& hr);

// A Deployment (apps/v1), by kstatus' rules (sigs.k8s.io/cli-utils pkg/kstatus/status
// core.go, deploymentConditions, which Flux's health checks use): observedGeneration must
// reach generation; Progressing with reason ProgressDeadlineExceeded -> failed; then
// spec.replicas (default 1) against status.replicas, updatedReplicas, availableReplicas and
// readyReplicas, then Progressing=True reason NewReplicaSetAvailable and Available=True ->
// ready; anything short of that -> waiting with kstatus' message ("Updated: 1/3", ...).
health_progress judge_deployment(const kube::workload_view& d);

// The verdict for a health check's kind (HelmRelease or Deployment; another kind fails).
health_progress judge_workload(std::string_view kind, const kube::workload_view& object);

// "<namespace>_<name>_<group>_<kind>" (cli-utils ObjMetadata, Flux's inventory ids), split;
// nullopt for anything else (RBAC names with ':' escaped as "__" included: never HelmReleases).
struct object_ref {
  std::string ns, name, group, kind;
};
std::optional<object_ref> parse_inventory_id(std::string_view id);

// A file the pushed commit changed, with its content at that commit.
struct changed_file {
  std::string path;
  std::string content;
};

// The default health checks when the rules name none: the HelmReleases of the Kustomization's
// inventory (group helm.toolkit.fluxcd.io) that the pushed commit touched, in inventory order.
// A HelmRelease is touched when one of `changed` (the files under the environment's paths that
// differ from the pushed commit's first parent) holds
// - a YAML document of kind HelmRelease with that metadata.name (the release itself, or a
//   kustomize patch of it; its metadata.namespace, when set, must match), or
// - a kustomize Kustomization whose patches[].target names kind HelmRelease and that name
//   (or no name: every HelmRelease).
// A file that cannot be read as YAML, or that is past the scan limits
// (limits::k_health_scan_file_max, k_health_scan_documents_max), counts as touching every
// HelmRelease: waiting on an untouched, healthy release costs nothing, missing a touched one
// would promote a broken release. apiVersion is the inventory entry's group/v.
std::vector<rules::health_check> touched_helmreleases(
    std::span<const kube::inventory_entry> inventory, std::span<const changed_file> changed);

}  // namespace ferry::apply
