#include "service/kube/objects.hpp"

#include <simdjson.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <limits>
#include <utility>

namespace ferry::kube {

namespace {

// Errors from a view's parse: what was wrong and where, never the document (it may carry
// secrets in a Job's env).
error bad(std::string_view what, std::string_view detail) {
  return make_error(error_kind::invalid_input, std::string(what) + ": " + std::string(detail));
}

// An optional string member: absent or null -> empty; another type -> error.
bool get_string(simdjson::dom::element parent, std::string_view key, std::string& out) {
  simdjson::dom::element e;
  if (parent[key].get(e) != simdjson::SUCCESS || e.is_null()) {
    return true;
  }
  std::string_view v;
  if (e.get(v) != simdjson::SUCCESS) {
    return false;
  }
  out.assign(v);
  return true;
}

template <typename Int>
bool get_int(simdjson::dom::element parent, std::string_view key, Int& out) {
  simdjson::dom::element e;
  if (parent[key].get(e) != simdjson::SUCCESS || e.is_null()) {
    return true;
  }
  std::int64_t v = 0;
  if (e.get(v) != simdjson::SUCCESS) {
    return false;
  }
  if (v < static_cast<std::int64_t>(std::numeric_limits<Int>::min()) ||
      v > static_cast<std::int64_t>(std::numeric_limits<Int>::max())) {
    return false;
  }
  out = static_cast<Int>(v);
  return true;
}

// An optional object member: absent or null -> false with ok; another type -> not ok.
bool get_object(simdjson::dom::element parent, std::string_view key, simdjson::dom::object& out,
                bool& ok) {
  ok = true;
  simdjson::dom::element e;
  if (parent[key].get(e) != simdjson::SUCCESS || e.is_null()) {
    return false;
  }
  if (e.get(out) != simdjson::SUCCESS) {
    ok = false;
    return false;
  }
  return true;
}

bool get_string_map(simdjson::dom::element parent, std::string_view key,
                    std::map<std::string, std::string>& out) {
  simdjson::dom::object o;
  bool ok = true;
  if (!get_object(parent, key, o, ok)) {
    return ok;
  }
  for (auto field : o) {
    std::string_view v;
    if (field.value.get(v) != simdjson::SUCCESS) {
      return false;
    }
    out.emplace(std::string(field.key), std::string(v));
  }
  return true;
}

// Parses a document whose root must be an object; `kind` names it in errors.
result<simdjson::dom::element> parse_root(simdjson::dom::parser& parser, std::string_view json,
                                          std::string_view kind) {
  simdjson::dom::element root;
  auto err = parser.parse(json.data(), json.size(), true).get(root);
  if (err != simdjson::SUCCESS) {
    return bad(kind, std::string("not JSON (") + simdjson::error_message(err) + ")");
  }
  if (!root.is_object()) {
    return bad(kind, "not a JSON object");
  }
  return root;
}

result<object_meta> parse_meta(simdjson::dom::element root, std::string_view kind) {
  object_meta m;
  simdjson::dom::object meta_obj;
  bool ok = true;
  if (!get_object(root, "metadata", meta_obj, ok)) {
    if (!ok) {
      return bad(kind, "metadata is not an object");
    }
    return m;
  }
  simdjson::dom::element meta = root["metadata"];
  if (!get_string(meta, "name", m.name) || !get_string(meta, "namespace", m.ns) ||
      !get_string(meta, "resourceVersion", m.resource_version) || !get_string(meta, "uid", m.uid)) {
    return bad(kind, "metadata.name, namespace, resourceVersion or uid is not a string");
  }
  if (!get_int(meta, "generation", m.generation)) {
    return bad(kind, "metadata.generation is not an integer");
  }
  if (!get_string_map(meta, "labels", m.labels)) {
    return bad(kind, "metadata.labels is not a map of strings");
  }
  if (!get_string_map(meta, "annotations", m.annotations)) {
    return bad(kind, "metadata.annotations is not a map of strings");
  }
  return m;
}

// status.conditions (metav1.Condition or batch/v1 JobCondition: both have type, status,
// reason, message).
bool parse_conditions(simdjson::dom::element status, std::vector<condition>& out) {
  simdjson::dom::element e;
  if (status["conditions"].get(e) != simdjson::SUCCESS || e.is_null()) {
    return true;
  }
  simdjson::dom::array arr;
  if (e.get(arr) != simdjson::SUCCESS) {
    return false;
  }
  for (auto item : arr) {
    if (!item.is_object()) {
      return false;
    }
    condition c;
    if (!get_string(item, "type", c.type) || !get_string(item, "status", c.status) ||
        !get_string(item, "reason", c.reason) || !get_string(item, "message", c.message)) {
      return false;
    }
    out.push_back(std::move(c));
  }
  return true;
}

// The member as an element when present and an object; `present` says whether it exists.
result<bool> section(simdjson::dom::element root, std::string_view key, std::string_view kind,
                     simdjson::dom::element& out) {
  simdjson::dom::element e;
  if (root[key].get(e) != simdjson::SUCCESS || e.is_null()) {
    return false;
  }
  if (!e.is_object()) {
    return bad(kind, std::string(key) + " is not an object");
  }
  out = e;
  return true;
}

std::string ns_prefix(std::string_view group_version, std::string_view ns) {
  std::string out = group_version.starts_with("v") ? "/api/" : "/apis/";
  out += group_version;
  out += "/namespaces/";
  out += ns;
  return out;
}

}  // namespace

job_state state_of(const job_view& job) {
  // batch/v1 JobConditionType: "Complete" and "Failed" are terminal; a Job carries at most
  // one of them with status True. (SuccessCriteriaMet / FailureTarget precede them and are
  // not terminal: the pods may still be terminating.)
  if (const auto* c = find_condition(job.conditions, "Failed");
      c != nullptr && c->status == "True") {
    return job_state::failed;
  }
  if (const auto* c = find_condition(job.conditions, "Complete");
      c != nullptr && c->status == "True") {
    return job_state::succeeded;
  }
  return job_state::running;
}

const condition* find_condition(const std::vector<condition>& conditions, std::string_view type) {
  for (const auto& c : conditions) {
    if (c.type == type) {
      return &c;
    }
  }
  return nullptr;
}

result<job_view> parse_job(std::string_view json) {
  constexpr std::string_view kind = "Job";
  simdjson::dom::parser parser;
  auto root = parse_root(parser, json, kind);
  if (!root) {
    return std::move(root).error();
  }
  job_view job;
  auto meta = parse_meta(*root, kind);
  if (!meta) {
    return std::move(meta).error();
  }
  job.meta = std::move(*meta);
  simdjson::dom::element status;
  auto has = section(*root, "status", kind, status);
  if (!has) {
    return std::move(has).error();
  }
  if (*has) {
    if (!parse_conditions(status, job.conditions)) {
      return bad(kind, "status.conditions is malformed");
    }
    if (!get_int(status, "active", job.active) || !get_int(status, "succeeded", job.succeeded) ||
        !get_int(status, "failed", job.failed)) {
      return bad(kind, "status.active, succeeded or failed is not an integer");
    }
  }
  return job;
}

result<flux_view> parse_flux(std::string_view json) {
  constexpr std::string_view kind = "Flux object";
  simdjson::dom::parser parser;
  auto root = parse_root(parser, json, kind);
  if (!root) {
    return std::move(root).error();
  }
  flux_view view;
  auto meta = parse_meta(*root, kind);
  if (!meta) {
    return std::move(meta).error();
  }
  view.meta = std::move(*meta);
  simdjson::dom::element spec;
  auto has_spec = section(*root, "spec", kind, spec);
  if (!has_spec) {
    return std::move(has_spec).error();
  }
  if (*has_spec) {
    simdjson::dom::element ref;
    auto has_ref = section(spec, "sourceRef", kind, ref);
    if (!has_ref) {
      return std::move(has_ref).error();
    }
    if (*has_ref) {
      if (!get_string(ref, "kind", view.source_kind) ||
          !get_string(ref, "name", view.source_name) ||
          !get_string(ref, "namespace", view.source_namespace)) {
        return bad(kind, "spec.sourceRef kind, name or namespace is not a string");
      }
      // Flux: "Namespace of the referent, defaults to the namespace of the Kubernetes resource
      // object that contains the reference" (kustomize.toolkit.fluxcd.io/v1
      // CrossNamespaceSourceReference).
      if (view.source_namespace.empty()) {
        view.source_namespace = view.meta.ns;
      }
    }
  }
  simdjson::dom::element status;
  auto has_status = section(*root, "status", kind, status);
  if (!has_status) {
    return std::move(has_status).error();
  }
  if (*has_status) {
    if (!parse_conditions(status, view.conditions)) {
      return bad(kind, "status.conditions is malformed");
    }
    if (!get_string(status, "lastAppliedRevision", view.last_applied_revision) ||
        !get_string(status, "lastHandledReconcileAt", view.last_handled_reconcile_at)) {
      return bad(kind, "status.lastAppliedRevision or lastHandledReconcileAt is not a string");
    }
    if (!get_int(status, "observedGeneration", view.observed_generation)) {
      return bad(kind, "status.observedGeneration is not an integer");
    }
    simdjson::dom::element artifact;
    auto has_artifact = section(status, "artifact", kind, artifact);
    if (!has_artifact) {
      return std::move(has_artifact).error();
    }
    if (*has_artifact) {
      if (!get_string(artifact, "revision", view.artifact_revision)) {
        return bad(kind, "status.artifact.revision is not a string");
      }
      std::map<std::string, std::string> metadata;
      if (!get_string_map(artifact, "metadata", metadata)) {
        return bad(kind, "status.artifact.metadata is not a map of strings");
      }
      if (auto it = metadata.find("org.opencontainers.image.revision"); it != metadata.end()) {
        view.artifact_source_revision = it->second;
      }
    }
    simdjson::dom::element inventory;
    auto has_inventory = section(status, "inventory", kind, inventory);
    if (!has_inventory) {
      return std::move(has_inventory).error();
    }
    if (*has_inventory) {
      simdjson::dom::element e;
      if (inventory["entries"].get(e) == simdjson::SUCCESS && !e.is_null()) {
        simdjson::dom::array entries;
        if (e.get(entries) != simdjson::SUCCESS) {
          return bad(kind, "status.inventory.entries is not a list");
        }
        for (auto item : entries) {
          inventory_entry entry;
          if (!item.is_object() || !get_string(item, "id", entry.id) ||
              !get_string(item, "v", entry.version)) {
            return bad(kind, "status.inventory.entries holds an entry without string id and v");
          }
          view.inventory.push_back(std::move(entry));
        }
      }
    }
  }
  return view;
}

result<workload_view> parse_workload(std::string_view json) {
  constexpr std::string_view kind = "workload";
  simdjson::dom::parser parser;
  auto root = parse_root(parser, json, kind);
  if (!root) {
    return std::move(root).error();
  }
  workload_view view;
  auto meta = parse_meta(*root, kind);
  if (!meta) {
    return std::move(meta).error();
  }
  view.meta = std::move(*meta);
  simdjson::dom::element spec;
  auto has_spec = section(*root, "spec", kind, spec);
  if (!has_spec) {
    return std::move(has_spec).error();
  }
  if (*has_spec && !get_int(spec, "replicas", view.spec_replicas)) {
    return bad(kind, "spec.replicas is not an integer");
  }
  simdjson::dom::element status;
  auto has_status = section(*root, "status", kind, status);
  if (!has_status) {
    return std::move(has_status).error();
  }
  if (*has_status) {
    if (!parse_conditions(status, view.conditions)) {
      return bad(kind, "status.conditions is malformed");
    }
    if (!get_int(status, "observedGeneration", view.observed_generation) ||
        !get_int(status, "replicas", view.replicas) ||
        !get_int(status, "updatedReplicas", view.updated_replicas) ||
        !get_int(status, "readyReplicas", view.ready_replicas) ||
        !get_int(status, "availableReplicas", view.available_replicas)) {
      return bad(kind,
                 "status.observedGeneration, replicas, updatedReplicas, readyReplicas or "
                 "availableReplicas is not an integer");
    }
  }
  return view;
}

result<lease_view> parse_lease(std::string_view json) {
  constexpr std::string_view kind = "Lease";
  simdjson::dom::parser parser;
  auto root = parse_root(parser, json, kind);
  if (!root) {
    return std::move(root).error();
  }
  lease_view lease;
  auto meta = parse_meta(*root, kind);
  if (!meta) {
    return std::move(meta).error();
  }
  lease.meta = std::move(*meta);
  simdjson::dom::element spec;
  auto has = section(*root, "spec", kind, spec);
  if (!has) {
    return std::move(has).error();
  }
  if (*has) {
    if (!get_string(spec, "holderIdentity", lease.holder) ||
        !get_string(spec, "acquireTime", lease.acquire_time) ||
        !get_string(spec, "renewTime", lease.renew_time)) {
      return bad(kind, "spec.holderIdentity, acquireTime or renewTime is not a string");
    }
    if (!get_int(spec, "leaseDurationSeconds", lease.lease_duration_seconds) ||
        !get_int(spec, "leaseTransitions", lease.transitions)) {
      return bad(kind, "spec.leaseDurationSeconds or leaseTransitions is not an integer");
    }
  }
  return lease;
}

std::string job_collection(std::string_view ns) {
  return ns_prefix("batch/v1", ns) + "/jobs";
}

std::string job_path(std::string_view ns, std::string_view name) {
  return job_collection(ns) + "/" + std::string(name);
}

std::string pods_for_job(std::string_view ns, std::string_view job_name) {
  // '=' percent-encoded in the query value (RFC 3986 leaves it to the application; the API
  // server decodes either form).
  return ns_prefix("v1", ns) + "/pods?labelSelector=job-name%3D" + std::string(job_name);
}

std::string pod_log_path(std::string_view ns, std::string_view pod, int tail_lines) {
  return ns_prefix("v1", ns) + "/pods/" + std::string(pod) +
         "/log?tailLines=" + std::to_string(tail_lines);
}

result<std::string> flux_path(std::string_view kind, std::string_view ns, std::string_view name) {
  // Served versions, Flux v2.6+: kustomize.toolkit.fluxcd.io/v1 (GA in v2.0); in
  // source.toolkit.fluxcd.io/v1 GitRepository (v2.0), Bucket, HelmRepository and HelmChart
  // (v2.3) and OCIRepository (v2.6). The older beta versions are deprecated.
  struct entry {
    std::string_view kind, group_version, plural;
  };
  static constexpr std::array<entry, 5> k_kinds{{
      {"Kustomization", "kustomize.toolkit.fluxcd.io/v1", "kustomizations"},
      {"GitRepository", "source.toolkit.fluxcd.io/v1", "gitrepositories"},
      {"OCIRepository", "source.toolkit.fluxcd.io/v1", "ocirepositories"},
      {"Bucket", "source.toolkit.fluxcd.io/v1", "buckets"},
      {"HelmRepository", "source.toolkit.fluxcd.io/v1", "helmrepositories"},
  }};
  for (const auto& e : k_kinds) {
    if (e.kind == kind) {
      return ns_prefix(e.group_version, ns) + "/" + std::string(e.plural) + "/" + std::string(name);
    }
  }
  return make_error(error_kind::invalid_input,
                    "unsupported Flux kind \"" + std::string(kind) +
                        "\" (expected Kustomization, GitRepository, OCIRepository, Bucket or "
                        "HelmRepository)");
}

std::string lease_path(std::string_view ns, std::string_view name) {
  return ns_prefix("coordination.k8s.io/v1", ns) + "/leases/" + std::string(name);
}

result<argocd_view> parse_argocd(std::string_view json) {
  constexpr std::string_view kind = "Application";
  simdjson::dom::parser parser;
  auto root = parse_root(parser, json, kind);
  if (!root) {
    return std::move(root).error();
  }
  argocd_view view;
  auto meta = parse_meta(*root, kind);
  if (!meta) {
    return std::move(meta).error();
  }
  view.meta = std::move(*meta);
  simdjson::dom::element operation;
  auto has_operation = section(*root, "operation", kind, operation);
  if (!has_operation) {
    return std::move(has_operation).error();
  }
  view.has_operation = *has_operation;
  if (*has_operation) {
    simdjson::dom::element sync;
    auto has_sync = section(operation, "sync", kind, sync);
    if (!has_sync) {
      return std::move(has_sync).error();
    }
    if (*has_sync && !get_string(sync, "revision", view.operation_revision)) {
      return bad(kind, "operation.sync.revision is not a string");
    }
  }
  simdjson::dom::element status;
  auto has_status = section(*root, "status", kind, status);
  if (!has_status) {
    return std::move(has_status).error();
  }
  if (!*has_status) {
    return view;
  }
  if (!parse_conditions(status, view.conditions)) {
    return bad(kind, "status.conditions is malformed");
  }
  simdjson::dom::element sync;
  auto has_sync = section(status, "sync", kind, sync);
  if (!has_sync) {
    return std::move(has_sync).error();
  }
  if (*has_sync) {
    if (!get_string(sync, "status", view.sync_status) ||
        !get_string(sync, "revision", view.sync_revision)) {
      return bad(kind, "status.sync.status or revision is not a string");
    }
    simdjson::dom::element revisions;
    if (view.sync_revision.empty() && sync["revisions"].get(revisions) == simdjson::SUCCESS &&
        !revisions.is_null()) {
      simdjson::dom::array list;
      if (revisions.get(list) != simdjson::SUCCESS) {
        return bad(kind, "status.sync.revisions is not a list");
      }
      for (auto r : list) {
        std::string_view s;
        if (r.get(s) != simdjson::SUCCESS) {
          return bad(kind, "status.sync.revisions holds a non-string");
        }
        if (view.sync_revision.empty()) {
          view.sync_revision.assign(s);
        }
      }
    }
  }
  simdjson::dom::element health;
  auto has_health = section(status, "health", kind, health);
  if (!has_health) {
    return std::move(has_health).error();
  }
  if (*has_health && (!get_string(health, "status", view.health_status) ||
                      !get_string(health, "message", view.health_message))) {
    return bad(kind, "status.health.status or message is not a string");
  }
  simdjson::dom::element resources;
  if (view.health_message.empty() && status["resources"].get(resources) == simdjson::SUCCESS &&
      !resources.is_null()) {
    simdjson::dom::array list;
    if (resources.get(list) != simdjson::SUCCESS) {
      return bad(kind, "status.resources is not a list");
    }
    for (auto r : list) {
      simdjson::dom::element h;
      if (!r.is_object() || r["health"].get(h) != simdjson::SUCCESS || !h.is_object()) {
        continue;
      }
      std::string state, message, rkind, rns, rname;
      if (!get_string(h, "status", state) || !get_string(h, "message", message) ||
          !get_string(r, "kind", rkind) || !get_string(r, "namespace", rns) ||
          !get_string(r, "name", rname)) {
        return bad(kind, "status.resources holds a malformed entry");
      }
      if (state == "Degraded" && view.health_message.empty()) {
        view.health_message = rkind + " " + (rns.empty() ? "" : rns + "/") + rname +
                              (message.empty() ? "" : ": " + message);
      }
    }
  }
  simdjson::dom::element op_state;
  auto has_op_state = section(status, "operationState", kind, op_state);
  if (!has_op_state) {
    return std::move(has_op_state).error();
  }
  if (*has_op_state) {
    if (!get_string(op_state, "phase", view.operation_phase) ||
        !get_string(op_state, "message", view.operation_message)) {
      return bad(kind, "status.operationState.phase or message is not a string");
    }
    simdjson::dom::element e;
    if (op_state.at_pointer("/operation/sync").get(e) == simdjson::SUCCESS && e.is_object() &&
        !get_string(e, "revision", view.operation_sync_revision)) {
      return bad(kind, "status.operationState.operation.sync.revision is not a string");
    }
    if (op_state["syncResult"].get(e) == simdjson::SUCCESS && e.is_object() &&
        !get_string(e, "revision", view.operation_result_revision)) {
      return bad(kind, "status.operationState.syncResult.revision is not a string");
    }
  }
  return view;
}

std::string argocd_application_path(std::string_view ns, std::string_view name) {
  return ns_prefix("argoproj.io/v1alpha1", ns) + "/applications/" + std::string(name);
}

result<fleet_view> parse_fleet(std::string_view json) {
  constexpr std::string_view kind = "GitRepo";
  simdjson::dom::parser parser;
  auto root = parse_root(parser, json, kind);
  if (!root) {
    return std::move(root).error();
  }
  fleet_view view;
  auto meta = parse_meta(*root, kind);
  if (!meta) {
    return std::move(meta).error();
  }
  view.meta = std::move(*meta);
  simdjson::dom::element spec;
  auto has_spec = section(*root, "spec", kind, spec);
  if (!has_spec) {
    return std::move(has_spec).error();
  }
  if (*has_spec && !get_int(spec, "forceSyncGeneration", view.force_sync_generation)) {
    return bad(kind, "spec.forceSyncGeneration is not an integer");
  }
  simdjson::dom::element status;
  auto has_status = section(*root, "status", kind, status);
  if (!has_status) {
    return std::move(has_status).error();
  }
  if (!*has_status) {
    return view;
  }
  if (!parse_conditions(status, view.conditions)) {
    return bad(kind, "status.conditions is malformed");
  }
  if (!get_int(status, "observedGeneration", view.observed_generation) ||
      !get_string(status, "commit", view.commit)) {
    return bad(kind, "status.observedGeneration or commit has the wrong type");
  }
  simdjson::dom::element summary;
  auto has_summary = section(status, "summary", kind, summary);
  if (!has_summary) {
    return std::move(has_summary).error();
  }
  if (*has_summary) {
    if (!get_int(summary, "ready", view.summary_ready) ||
        !get_int(summary, "desiredReady", view.summary_desired_ready) ||
        !get_int(summary, "errApplied", view.summary_err_applied)) {
      return bad(kind, "status.summary ready, desiredReady or errApplied is not an integer");
    }
    simdjson::dom::element e;
    if (summary["nonReadyResources"].get(e) == simdjson::SUCCESS && !e.is_null()) {
      simdjson::dom::array list;
      if (e.get(list) != simdjson::SUCCESS) {
        return bad(kind, "status.summary.nonReadyResources is not a list");
      }
      for (auto item : list) {
        std::string name, state, message;
        if (!item.is_object() || !get_string(item, "name", name) ||
            !get_string(item, "bundleState", state) || !get_string(item, "message", message)) {
          return bad(kind, "status.summary.nonReadyResources holds a malformed entry");
        }
        if (view.non_ready_message.empty()) {
          view.non_ready_message = name + " " + state + (message.empty() ? "" : ": " + message);
        }
      }
    }
  }
  simdjson::dom::element display;
  auto has_display = section(status, "display", kind, display);
  if (!has_display) {
    return std::move(has_display).error();
  }
  if (*has_display && !get_string(display, "message", view.display_message)) {
    return bad(kind, "status.display.message is not a string");
  }
  return view;
}

result<canary_view> parse_canary(std::string_view json) {
  constexpr std::string_view kind = "Canary";
  simdjson::dom::parser parser;
  auto root = parse_root(parser, json, kind);
  if (!root) {
    return std::move(root).error();
  }
  canary_view view;
  auto meta = parse_meta(*root, kind);
  if (!meta) {
    return std::move(meta).error();
  }
  view.meta = std::move(*meta);
  simdjson::dom::element status;
  auto has_status = section(*root, "status", kind, status);
  if (!has_status) {
    return std::move(has_status).error();
  }
  if (!*has_status) {
    return view;
  }
  if (!get_string(status, "phase", view.phase) ||
      !get_string(status, "lastTransitionTime", view.last_transition_time)) {
    return bad(kind, "status.phase or status.lastTransitionTime is not a string");
  }
  if (!parse_conditions(status, view.conditions)) {
    return bad(kind, "status.conditions is malformed");
  }
  // The CRD types it `number`; Flagger writes a Go int. Only shown to people, so a value of
  // another shape is left at 0 rather than refusing the object.
  if (!get_int(status, "canaryWeight", view.canary_weight)) {
    view.canary_weight = 0;
  }
  return view;
}

std::string flagger_canary_path(std::string_view ns, std::string_view name) {
  return ns_prefix("flagger.app/v1beta1", ns) + "/canaries/" + std::string(name);
}

std::string fleet_gitrepo_path(std::string_view ns, std::string_view name) {
  return ns_prefix("fleet.cattle.io/v1alpha1", ns) + "/gitrepos/" + std::string(name);
}

result<std::string> workload_path(std::string_view api_version, std::string_view kind,
                                  std::string_view ns, std::string_view name) {
  if (kind == "HelmRelease" && (api_version == "helm.toolkit.fluxcd.io/v2" ||
                                api_version == "helm.toolkit.fluxcd.io/v2beta2")) {
    return ns_prefix(api_version, ns) + "/helmreleases/" + std::string(name);
  }
  if (kind == "Deployment" && api_version == "apps/v1") {
    return ns_prefix(api_version, ns) + "/deployments/" + std::string(name);
  }
  return make_error(error_kind::invalid_input,
                    "unsupported health check " + std::string(api_version) + " " +
                        std::string(kind) + " (expected a HelmRelease or a Deployment)");
}

std::string format_micro_time(std::chrono::system_clock::time_point t) {
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
  long long frac = us % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    --secs;
  }
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_micro_time(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction]Z
  if (text.size() < 20 || text.back() != 'Z') {
    return std::nullopt;
  }
  auto num = [&](std::size_t pos, std::size_t len, int& out) {
    const char* b = text.data() + pos;
    auto [p, ec] = std::from_chars(b, b + len, out);
    return ec == std::errc{} && p == b + len;
  };
  std::tm tm{};
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
  if (text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') || text[13] != ':' ||
      text[16] != ':' || !num(0, 4, year) || !num(5, 2, mon) || !num(8, 2, day) ||
      !num(11, 2, hour) || !num(14, 2, min) || !num(17, 2, sec)) {
    return std::nullopt;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
    return std::nullopt;
  }
  long long micros = 0;
  std::string_view rest = text.substr(19, text.size() - 20);
  if (!rest.empty()) {
    if (rest.front() != '.' || rest.size() < 2 || rest.size() > 10) {
      return std::nullopt;
    }
    rest.remove_prefix(1);
    long long scale = 100000;
    for (std::size_t i = 0; i < rest.size(); ++i) {
      if (std::isdigit(static_cast<unsigned char>(rest[i])) == 0) {
        return std::nullopt;
      }
      if (i < 6) {
        micros += (rest[i] - '0') * scale;
        scale /= 10;
      }
    }
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const std::time_t secs = ::timegm(&tm);
  return std::chrono::system_clock::time_point(std::chrono::seconds(secs)) +
         std::chrono::microseconds(micros);
}

}  // namespace ferry::kube
