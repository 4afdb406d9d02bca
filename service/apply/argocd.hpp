#pragma once
// Argo CD mode (docs/rules.md, apply.argocd): the patch that asks Argo CD for a hard refresh and,
// with `sync: true`, a sync at the pushed commit through the Application's `operation`, and the
// pure verdict over the Application Argo CD's controller writes back. No I/O.
//
// Argo CD's Application (argoproj.io/v1alpha1) has no status subresource: the controller writes
// status with the object, and ferry's merge patch names only metadata.annotations and operation.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "service/kube/objects.hpp"

namespace ferry::apply {

// argocd.argoproj.io/refresh: "normal" or "hard" (Argo CD docs, "Annotations and Labels"); the
// controller removes it once it refreshed. "hard" also drops the manifest cache, so the pushed
// commit is fetched and rendered again.
inline constexpr std::string_view k_argocd_refresh_annotation = "argocd.argoproj.io/refresh";

// {"metadata":{"annotations":{"argocd.argoproj.io/refresh":"hard"}}} and, when `sync_revision`
// is given, "operation": {"initiatedBy":{"username":"ferry"}, "info":[...],
// "sync":{"revision":"<sha>"}} (the Operation `argocd app sync --revision` creates). Sent as
// application/merge-patch+json: custom resources refuse strategic merge (415).
std::string argocd_patch(std::optional<std::string_view> sync_revision);

// What ferry does to an Application before following it, given what it holds now:
// - refresh: only the refresh annotation (no sync asked, or the sync of this commit is already
//   requested or done: a resumed apply does not start a second one);
// - sync: the annotation and a new operation at `commit`;
// - busy: an operation for another revision is pending or running; Argo CD runs one at a time
//   and ferry does not overwrite it (the apply is retried later).
enum class argocd_action { refresh, sync, busy };
argocd_action argocd_next_action(const kube::argocd_view& app, std::string_view commit, bool sync);

enum class argocd_verdict { waiting, succeeded, failed };

struct argocd_progress {
  argocd_verdict verdict = argocd_verdict::waiting;
  std::string message;
};

// Judges an Application after ferry asked for a refresh (and a sync at `commit` when `sync`).
// `is_descendant(c)` answers from git whether c is the pushed commit or a descendant of it.
// - the operation (status.operationState) at the pushed commit or a descendant: Failed or
//   Error -> failed with Argo CD's message; Running/Terminating -> waiting. With `sync`, an
//   operation of ours must have finished (Succeeded) before anything else counts; one left
//   from an older revision never counts either way;
// - status.sync.revision (the first of status.sync.revisions for multi-source Applications)
//   must name the pushed commit or a descendant, else waiting: Synced + Healthy at an older
//   revision says nothing about ours;
// - then sync.status Synced and health.status Healthy -> succeeded; health Degraded -> failed
//   with the health message; anything else (OutOfSync, Progressing, Missing...) -> waiting,
//   and the apply's timeout turns endless waiting into an error.
argocd_progress judge_application(
    const kube::argocd_view& app, bool sync,
    const std::function<bool(std::string_view commit)>& is_descendant);

}  // namespace ferry::apply
