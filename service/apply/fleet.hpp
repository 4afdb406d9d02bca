#pragma once
// Fleet mode (docs/rules.md, apply.fleet): Rancher Fleet's GitRepo is asked to deploy again by
// incrementing spec.forceSyncGeneration ("Increment this number to force a redeployment of
// contents from Git", rancher/fleet pkg/apis/fleet.cattle.io/v1alpha1 gitrepo_types.go), and
// judged from the status Fleet writes back. No I/O.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "service/kube/objects.hpp"

namespace ferry::apply {

// The label ferry leaves on the GitRepo with the commit it forced a sync for: a resumed or
// redelivered apply of the same commit finds it and does not force a second sync.
inline constexpr std::string_view k_fleet_commit_label = "ferry.dev/commit";

// The merge patch for `gitrepo` and `commit`: {"metadata":{"labels":{"ferry.dev/commit":
// "<commit>"}},"spec":{"forceSyncGeneration":<current + 1>}}, or nullopt when the label already
// names this commit (the sync was forced for it before).
std::optional<std::string> fleet_force_sync_patch(const kube::fleet_view& gitrepo,
                                                  std::string_view commit);

enum class fleet_verdict { waiting, succeeded, failed };

struct fleet_progress {
  fleet_verdict verdict = fleet_verdict::waiting;
  std::string message;
};

// Judges a GitRepo after ferry forced a sync (`is_descendant(c)`: c is the pushed commit or a
// descendant of it, from git):
// - status.observedGeneration below metadata.generation: Fleet has not handled the forced sync
//   yet, its status describes an older deployment -> waiting;
// - status.commit not at the pushed commit or a descendant -> waiting (a Ready left from an
//   older commit never counts);
// - Stalled=True, or bundle deployments in ErrApplied (status.summary.errApplied > 0) -> failed
//   with Fleet's message (the first non-ready resource's, else the Ready condition's);
// - Ready=True and every bundle deployment ready (summary.ready == summary.desiredReady) ->
//   succeeded; anything else -> waiting with the counts.
fleet_progress judge_gitrepo(const kube::fleet_view& gitrepo,
                             const std::function<bool(std::string_view commit)>& is_descendant);

}  // namespace ferry::apply
