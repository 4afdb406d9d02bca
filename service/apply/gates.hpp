#pragma once
// Gates before promotion (docs/rules.md, "Gates"; SPEC "Rules file"): after an environment's
// apply succeeded, a Flagger Canary must have finished its analysis of the new revision and the
// named commit statuses or check runs must be successful on the merged commit before the
// environments promoted from it get their pull requests. The judgements only; no I/O.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "service/kube/objects.hpp"

namespace ferry::apply {

enum class gate_verdict { waiting, passed, failed };

struct gate_result {
  std::string gate;  // "Canary apps/podinfo", "ci/e2e"
  gate_verdict verdict = gate_verdict::waiting;
  std::string message;  // Flagger's message, the status's description, what is awaited
  std::string url;      // the status's target_url or the check run's page, when known
};

// Flagger (fluxcd/flagger pkg/apis/flagger/v1beta1/status.go: CanaryPhase, CanaryStatus):
// `since` is when the revision reached the cluster's Git (the merge commit's time). The phase
// and status.lastTransitionTime tell the analysis's outcome:
// - Succeeded after `since` -> passed;
// - Failed after `since` -> failed, with the Promoted condition's message;
// - Succeeded or Failed at or before `since`: left over from an older revision -> waiting;
// - any other phase (Progressing, Promoting, Finalising, Waiting, ...) -> waiting.
gate_result judge_canary(const kube::canary_view& canary,
                         std::chrono::system_clock::time_point since);

// What GitHub reports on a commit, as the gates read it.
struct status_report {  // a commit status (GET commits/{sha}/statuses, newest first)
  std::string context;
  std::string state;  // pending, success, failure, error
  std::string description;
  std::string url;
};
struct check_report {  // a check run (GET commits/{sha}/check-runs, the latest per name)
  std::string name;
  std::string status;      // queued, in_progress, completed, ...
  std::string conclusion;  // empty until completed
  std::string url;
};

// One result per required context, in the rules' order. A context is matched against the
// newest commit status of that name first, then a check run of that name:
// - status success, or a completed check run concluding success, neutral or skipped (the
//   conclusions GitHub's branch protection accepts) -> passed;
// - status failure or error; a check run concluding failure, cancelled, timed_out,
//   action_required, startup_failure or stale -> failed;
// - pending, an unfinished check run, or nothing reported yet -> waiting.
std::vector<gate_result> judge_statuses(const std::vector<std::string>& required,
                                        const std::vector<status_report>& statuses,
                                        const std::vector<check_report>& runs);

// failed when any gate failed, passed when every gate passed (and there is at least one),
// waiting otherwise.
gate_verdict combined(const std::vector<gate_result>& gates);

// For the `ferry/gates/<env>` status (cut to 140 by the caller): "gates passed: ...",
// "gate ci/e2e failed: ...", "waiting for ci/e2e (pending), Canary apps/web (Progressing)".
std::string gates_summary(const std::vector<gate_result>& gates);

// Markdown lines for the promotion PR's body: one bullet per gate with its evidence.
std::string gates_evidence(const std::vector<gate_result>& gates);

}  // namespace ferry::apply
