#include "service/apply/flux.hpp"

#include "service/text.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>

namespace ferry::apply {
namespace {

using text::lower;

}  // namespace

std::string requested_at_patch(std::string_view value) {
  boost::json::object annotations;
  annotations[k_requested_at_annotation] = value;
  boost::json::object metadata;
  metadata["annotations"] = std::move(annotations);
  boost::json::object patch;
  patch["metadata"] = std::move(metadata);
  return boost::json::serialize(patch);
}

std::optional<std::string> revision_commit(std::string_view revision) {
  // Flux v2.1 revisions are "<ref>@<algo>:<hash>" (fluxcd/pkg: "main@sha1:..."); the ref part
  // may be missing ("sha1:..."), and before v2.1 they were "<branch>/<hash>".
  std::string_view id = revision;
  if (const auto at = id.rfind('@'); at != std::string_view::npos) {
    id.remove_prefix(at + 1);
  }
  if (id.starts_with("sha1:")) {
    id.remove_prefix(5);
  } else if (const auto colon = id.find(':'); colon != std::string_view::npos) {
    return std::nullopt;  // another algorithm: sha256 (OCI, SHA-256 git), blake3 (buckets)
  } else if (const auto slash = id.rfind('/'); slash != std::string_view::npos) {
    if (revision.find('@') != std::string_view::npos) {
      return std::nullopt;
    }
    id.remove_prefix(slash + 1);
  }
  if (!text::is_commit_sha(id)) {
    return std::nullopt;
  }
  return lower(id);
}

const char* to_string(flux_verdict v) noexcept {
  switch (v) {
    case flux_verdict::waiting:
      return "waiting";
    case flux_verdict::succeeded:
      return "succeeded";
    case flux_verdict::failed:
      return "failed";
  }
  return "waiting";
}

std::optional<std::string> applied_commit(std::string_view last_applied_revision,
                                          const source_facts& source) {
  if (source.kind == "OCIRepository") {
    if (source.artifact_revision != last_applied_revision ||
        source.artifact_source_revision.empty()) {
      return std::nullopt;
    }
    return revision_commit(source.artifact_source_revision);
  }
  if (source.kind == "Bucket") {
    return std::nullopt;
  }
  return revision_commit(last_applied_revision);
}

flux_progress judge_kustomization(
    std::string_view requested, std::string_view ready_status, std::string_view ready_message,
    std::string_view last_applied_revision, std::string_view last_handled_reconcile_at,
    const std::function<bool(std::string_view commit)>& is_descendant) {
  return judge_kustomization(requested, ready_status, ready_message, last_applied_revision,
                             last_handled_reconcile_at, source_facts{"GitRepository", {}, {}, {}},
                             is_descendant);
}

flux_progress judge_kustomization(
    std::string_view requested, std::string_view ready_status, std::string_view ready_message,
    std::string_view last_applied_revision, std::string_view last_handled_reconcile_at,
    const source_facts& source, const std::function<bool(std::string_view commit)>& is_descendant) {
  if (requested.empty() || last_handled_reconcile_at != requested) {
    return {flux_verdict::waiting, "waiting for Flux to handle the reconcile request"};
  }
  if (ready_status == "False") {
    return {flux_verdict::failed,
            ready_message.empty() ? std::string("Ready=False") : std::string(ready_message)};
  }
  if (ready_status != "True") {
    return {flux_verdict::waiting, "reconciling"};
  }
  const auto commit = applied_commit(last_applied_revision, source);
  if (!commit) {
    const bool no_commit_source = source.kind == "Bucket" || source.kind == "OCIRepository";
    if (no_commit_source && !last_applied_revision.empty() &&
        source.artifact_revision == last_applied_revision &&
        source.last_handled_reconcile_at == requested) {
      return {flux_verdict::succeeded, "applied " + std::string(last_applied_revision) + " (the " +
                                           source.kind +
                                           "'s artifact names no commit: fetched after the "
                                           "request)"};
    }
    if (no_commit_source) {
      return {flux_verdict::waiting, "Ready at " + std::string(last_applied_revision) +
                                         ", not yet the artifact " + source.kind +
                                         " stored for the request"};
    }
    return {flux_verdict::waiting, "Ready, but the applied revision \"" +
                                       std::string(last_applied_revision) +
                                       "\" names no git commit"};
  }
  if (!is_descendant || !is_descendant(*commit)) {
    return {flux_verdict::waiting,
            "Ready at " + std::string(last_applied_revision) + ", not yet the pushed commit"};
  }
  return {flux_verdict::succeeded, "applied " + std::string(last_applied_revision)};
}

}  // namespace ferry::apply
