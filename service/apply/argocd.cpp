#include "service/apply/argocd.hpp"

#include <boost/json.hpp>

#include "service/text.hpp"

namespace ferry::apply {
namespace {

bool is_commit(std::string_view s) {
  return text::is_commit_sha(s);
}

// The revision an operation state is about: what it synced (syncResult.revision) once known,
// else what it was asked to sync (operation.sync.revision).
std::string_view operation_revision(const kube::argocd_view& app) {
  return !app.operation_result_revision.empty() ? std::string_view(app.operation_result_revision)
                                                : std::string_view(app.operation_sync_revision);
}

bool finished(std::string_view phase) {
  return phase == "Succeeded" || phase == "Failed" || phase == "Error";
}

}  // namespace

std::string argocd_patch(std::optional<std::string_view> sync_revision) {
  boost::json::object annotations;
  annotations[k_argocd_refresh_annotation] = "hard";
  boost::json::object metadata;
  metadata["annotations"] = std::move(annotations);
  boost::json::object patch;
  patch["metadata"] = std::move(metadata);
  if (sync_revision) {
    boost::json::object initiated;
    initiated["username"] = "ferry";
    boost::json::object reason;
    reason["name"] = "Reason";
    reason["value"] = "ferry: apply of " + std::string(*sync_revision);
    boost::json::array info;
    info.push_back(std::move(reason));
    boost::json::object sync;
    sync["revision"] = *sync_revision;
    boost::json::object operation;
    operation["initiatedBy"] = std::move(initiated);
    operation["info"] = std::move(info);
    operation["sync"] = std::move(sync);
    patch["operation"] = std::move(operation);
  }
  return boost::json::serialize(patch);
}

argocd_action argocd_next_action(const kube::argocd_view& app, std::string_view commit, bool sync) {
  if (!sync) {
    return argocd_action::refresh;
  }
  if (app.has_operation) {
    // Requested already (a resumed apply, or a redelivery): not a second time.
    return app.operation_revision == commit ? argocd_action::refresh : argocd_action::busy;
  }
  if (app.operation_phase == "Running" || app.operation_phase == "Terminating") {
    return app.operation_sync_revision == commit ? argocd_action::refresh : argocd_action::busy;
  }
  if (app.operation_phase == "Succeeded" && app.operation_sync_revision == commit) {
    return argocd_action::refresh;  // our sync ran to its end already
  }
  return argocd_action::sync;
}

argocd_progress judge_application(
    const kube::argocd_view& app, bool sync,
    const std::function<bool(std::string_view commit)>& is_descendant) {
  const auto descends = [&](std::string_view revision) {
    return is_commit(revision) && is_descendant && is_descendant(text::lower(revision));
  };
  const std::string_view op_revision = operation_revision(app);
  const bool op_ours = !app.operation_phase.empty() && descends(op_revision);
  if (op_ours && (app.operation_phase == "Failed" || app.operation_phase == "Error")) {
    return {argocd_verdict::failed,
            "sync " + app.operation_phase +
                (app.operation_message.empty() ? std::string() : ": " + app.operation_message)};
  }
  if (op_ours && !finished(app.operation_phase)) {
    return {argocd_verdict::waiting,
            "sync " + app.operation_phase + " at " + std::string(op_revision.substr(0, 12))};
  }
  if (sync && (app.has_operation || !op_ours)) {
    return {argocd_verdict::waiting, "waiting for Argo CD to run the sync"};
  }
  if (!descends(app.sync_revision)) {
    return {argocd_verdict::waiting,
            app.sync_revision.empty()
                ? std::string("no compared revision yet")
                : "compared at " + app.sync_revision + ", not yet the pushed commit"};
  }
  if (app.sync_status != "Synced") {
    std::string why = "sync status " + (app.sync_status.empty() ? "unknown" : app.sync_status);
    for (const auto& c : app.conditions) {
      if (c.type.ends_with("Error")) {
        why += "; " + c.type + ": " + c.message;
      }
    }
    return {argocd_verdict::waiting, std::move(why)};
  }
  if (app.health_status == "Degraded") {
    return {argocd_verdict::failed,
            "Degraded" + (app.health_message.empty() ? std::string() : ": " + app.health_message)};
  }
  if (app.health_status != "Healthy") {
    return {argocd_verdict::waiting,
            "health " + (app.health_status.empty() ? std::string("unknown") : app.health_status)};
  }
  return {argocd_verdict::succeeded, "Synced and Healthy at " + app.sync_revision};
}

}  // namespace ferry::apply
