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

// What the Kustomization's source (spec.sourceRef) says about the artifact it serves, read
// after the Kustomization reconciled.
struct source_facts {
  std::string kind;                       // GitRepository, OCIRepository or Bucket
  std::string artifact_revision;          // status.artifact.revision
  std::string artifact_source_revision;   // OCI: org.opencontainers.image.revision
  std::string last_handled_reconcile_at;  // status.lastHandledReconcileAt
};

// The commit an applied revision stands for:
// - a GitRepository's revision names it ("main@sha1:<hex>");
// - an OCIRepository's revision is a digest ("latest@sha256:..."): the commit is the one the
//   artifact was built from, `org.opencontainers.image.revision` in the artifact's metadata
//   (`flux push artifact --revision="main@sha1:$(git rev-parse HEAD)"` sets it), provided the
//   source still serves the applied artifact;
// - a Bucket's revision is a content digest and names no commit: nullopt.
std::optional<std::string> applied_commit(std::string_view last_applied_revision,
                                          const source_facts& source);

// judge_kustomization for any source kind. When the applied revision names a commit
// (applied_commit), the rule above holds. When it names none (a Bucket; an OCI artifact pushed
// without --revision), success is the best the cluster can tell: the Kustomization handled our
// request, is Ready, and applied the artifact the source stored after handling our request too
// (source lastHandledReconcileAt == requested and artifact revision == lastAppliedRevision).
// Whether the bucket or registry already held the pushed commit's content then is the CI's
// business; docs/rules.md says so.
flux_progress judge_kustomization(
    std::string_view requested, std::string_view ready_status, std::string_view ready_message,
    std::string_view last_applied_revision, std::string_view last_handled_reconcile_at,
    const source_facts& source, const std::function<bool(std::string_view commit)>& is_descendant);

}  // namespace ferry::apply
