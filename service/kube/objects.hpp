#pragma once
// Typed views of the Kubernetes objects ferry reads (batch/v1 Job, Flux Kustomization and
// sources, coordination.k8s.io/v1 Lease), parsed with simdjson, and the API paths ferry uses.
// The views hold only what ferry decides on; the full JSON stays with the caller when it needs
// to write an object back (optimistic concurrency needs metadata.resourceVersion).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/result.hpp"

namespace ferry::kube {

struct condition {
  std::string type, status, reason, message;
};

struct object_meta {
  std::string name, ns, resource_version, uid;
  std::int64_t generation = 0;
  std::map<std::string, std::string> labels, annotations;
};

struct job_view {
  object_meta meta;
  std::vector<condition> conditions;
  int active = 0, succeeded = 0, failed = 0;
};

// batch/v1 JobConditionType: Complete=True -> succeeded, Failed=True -> failed, else running.
enum class job_state { running, succeeded, failed };
job_state state_of(const job_view& job);

// One entry of a Kustomization's status.inventory.entries: id "<namespace>_<name>_<group>_<kind>"
// (cli-utils ObjMetadata) and v, the API version it was applied at.
struct inventory_entry {
  std::string id, version;
};

struct flux_view {
  object_meta meta;
  std::vector<condition> conditions;
  std::string last_applied_revision, last_handled_reconcile_at;
  std::string source_kind, source_name, source_namespace;
  std::int64_t observed_generation = 0;
  // Sources: status.artifact.revision, and the commit an OCI artifact was built from
  // (status.artifact.metadata["org.opencontainers.image.revision"], which `flux push artifact
  // --revision` writes).
  std::string artifact_revision, artifact_source_revision;
  // Kustomizations: what the last apply put on the cluster.
  std::vector<inventory_entry> inventory;
};

// A workload a health check reads: a HelmRelease (conditions, observedGeneration) or a
// Deployment (apps/v1: spec.replicas, status replica counts, conditions).
struct workload_view {
  object_meta meta;
  std::vector<condition> conditions;
  std::int64_t observed_generation = 0;
  // Deployment only. spec.replicas defaults to 1 (apps/v1 defaulting; kstatus reads it so).
  std::int64_t spec_replicas = 1;
  std::int64_t replicas = 0, updated_replicas = 0, ready_replicas = 0, available_replicas = 0;
};

// An Argo CD Application (argoproj.io/v1alpha1), the fields ferry decides on.
struct argocd_view {
  object_meta meta;
  bool has_operation = false;      // `operation` set: a sync requested, not yet taken up
  std::string operation_revision;  // operation.sync.revision
  // status.sync: status (Synced, OutOfSync, Unknown) and the revision compared (revision, or
  // the first of revisions for a multi-source Application).
  std::string sync_status, sync_revision;
  // status.health (Healthy, Progressing, Degraded, Suspended, Missing, Unknown); the message
  // (deprecated in Argo CD 3) or, failing it, the first Degraded resource's.
  std::string health_status, health_message;
  // status.operationState: phase (Running, Terminating, Failed, Error, Succeeded), message, the
  // revision asked (operation.sync.revision) and the one synced (syncResult.revision).
  std::string operation_phase, operation_message, operation_sync_revision,
      operation_result_revision;
  std::vector<condition> conditions;  // status.conditions: type, message
};

// A Rancher Fleet GitRepo (fleet.cattle.io/v1alpha1; fields from rancher/fleet
// pkg/apis/fleet.cattle.io/v1alpha1 gitrepo_types.go and bundle_types.go, BundleSummary).
struct fleet_view {
  object_meta meta;
  std::int64_t force_sync_generation = 0;  // spec.forceSyncGeneration
  std::int64_t observed_generation = 0;    // status.observedGeneration
  std::string commit;                      // status.commit: the commit Fleet last deployed
  std::vector<condition> conditions;       // wrangler GenericConditions: type, status, message
  // status.summary (bundle deployments): ready, desiredReady, errApplied; the first
  // nonReadyResources entry as "NAME BUNDLESTATE: message".
  std::int64_t summary_ready = 0, summary_desired_ready = 0, summary_err_applied = 0;
  std::string non_ready_message;
  std::string display_message;  // status.display.message
};

// A Flagger Canary (flagger.app/v1beta1; fields from fluxcd/flagger
// pkg/apis/flagger/v1beta1/status.go, CanaryStatus and CanaryCondition).
struct canary_view {
  object_meta meta;
  std::string phase;                  // status.phase: Progressing, Succeeded, Failed, ...
  std::string last_transition_time;   // status.lastTransitionTime (RFC 3339): the phase's start
  std::int64_t canary_weight = 0;     // status.canaryWeight, 0 when absent or not an integer
  std::vector<condition> conditions;  // status.conditions: Promoted, with Flagger's message
};

struct lease_view {
  object_meta meta;
  std::string holder;
  int lease_duration_seconds = 0;
  std::string acquire_time, renew_time;
  int transitions = 0;
};

// Kubernetes MicroTime (metav1.MicroTime, RFC 3339 with microseconds, UTC):
// "2026-11-24T01:02:03.000000Z".
std::string format_micro_time(std::chrono::system_clock::time_point t);
// Accepts RFC 3339 UTC times with or without a fraction ("...:03Z", "...:03.5Z",
// "...:03.000000Z"); nullopt otherwise.
std::optional<std::chrono::system_clock::time_point> parse_micro_time(std::string_view text);

// The first condition of this type, or nullptr.
const condition* find_condition(const std::vector<condition>& conditions, std::string_view type);

// invalid_input when the text is not JSON or not an object, or a field has the wrong type.
result<job_view> parse_job(std::string_view json);
// A Kustomization (spec.sourceRef: kind, name, namespace defaulting to the object's) or a
// source (GitRepository, OCIRepository, ...: no sourceRef).
result<flux_view> parse_flux(std::string_view json);
result<lease_view> parse_lease(std::string_view json);
result<workload_view> parse_workload(std::string_view json);
result<fleet_view> parse_fleet(std::string_view json);
result<argocd_view> parse_argocd(std::string_view json);
result<canary_view> parse_canary(std::string_view json);

std::string job_collection(std::string_view ns);
std::string job_path(std::string_view ns, std::string_view name);
// The Job controller labels its pods job-name=<name> (and batch.kubernetes.io/job-name since
// Kubernetes 1.27; the old label is still set).
std::string pods_for_job(std::string_view ns, std::string_view job_name);
std::string pod_log_path(std::string_view ns, std::string_view pod, int tail_lines);
// Kustomization -> kustomize.toolkit.fluxcd.io/v1; GitRepository, OCIRepository, Bucket,
// HelmRepository -> source.toolkit.fluxcd.io/v1; any other kind -> invalid_input.
result<std::string> flux_path(std::string_view kind, std::string_view ns, std::string_view name);
std::string lease_path(std::string_view ns, std::string_view name);
// An Argo CD Application: /apis/argoproj.io/v1alpha1/namespaces/<ns>/applications/<name>.
std::string argocd_application_path(std::string_view ns, std::string_view name);
// A Fleet GitRepo: /apis/fleet.cattle.io/v1alpha1/namespaces/<ns>/gitrepos/<name>.
std::string fleet_gitrepo_path(std::string_view ns, std::string_view name);
// A Flagger Canary: /apis/flagger.app/v1beta1/namespaces/<ns>/canaries/<name>.
std::string flagger_canary_path(std::string_view ns, std::string_view name);
// A health check's object: HelmRelease at helm.toolkit.fluxcd.io/<version> (helmreleases),
// Deployment at apps/v1 (deployments); any other kind -> invalid_input.
result<std::string> workload_path(std::string_view api_version, std::string_view kind,
                                  std::string_view ns, std::string_view name);

}  // namespace ferry::kube
