#pragma once
// Flux mode (SPEC "Apply, and the promotion chain"): the reconcile request ferry sends and the
// pure decision over what the Kustomization reports back. No I/O.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::apply {

// The annotation Flux's notification-controller receiver sets to ask for a reconcile now
// (fluxcd/pkg apis/meta: ReconcileRequestAnnotation); controllers copy the value they handled
// into status.lastHandledReconcileAt.
inline constexpr std::string_view k_requested_at_annotation = "reconcile.fluxcd.io/requestedAt";

// {"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"<value>"}}}, sent as
// application/merge-patch+json: custom resources refuse strategic merge patches.
std::string requested_at_patch(std::string_view value);

// The commit a Flux source revision names, lower-cased: "main@sha1:<40hex>" (Flux v2.1+),
// "sha1:<40hex>", legacy "main/<40hex>" (branches may hold '/'), or a bare 40-hex id. nullopt
// for anything else (OCI digests "sha256:...", bucket revisions, SHA-256 git object ids).
std::optional<std::string> revision_commit(std::string_view revision);

enum class flux_verdict { waiting, succeeded, failed };
const char* to_string(flux_verdict v) noexcept;

struct flux_progress {
  flux_verdict verdict = flux_verdict::waiting;
  std::string message;
};

// Judges a Kustomization after ferry set requestedAt = `requested`:
// - status.lastHandledReconcileAt != requested: Flux has not handled our request yet, so its
//   conditions describe an earlier reconcile -> waiting;
// - handled, Ready=True and lastAppliedRevision names the pushed commit or a descendant
//   (`is_descendant(commit)`, answered by the caller from git) -> succeeded. A Ready left from an
//   older revision never counts: the source may not have fetched the push yet when the
//   Kustomization reconciled, and Ready=True at the old revision says nothing about ours;
// - handled and Ready=False -> failed, with the condition's message;
// - anything else (Ready=Unknown while reconciling, no Ready yet, a revision that names no
//   commit) -> waiting; the caller's apply.timeout turns endless waiting into an error.
flux_progress judge_kustomization(
    std::string_view requested, std::string_view ready_status, std::string_view ready_message,
    std::string_view last_applied_revision, std::string_view last_handled_reconcile_at,
    const std::function<bool(std::string_view commit)>& is_descendant);

}  // namespace ferry::apply
