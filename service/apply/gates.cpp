#include "service/apply/gates.hpp"

#include <algorithm>
#include <array>
#include <span>

namespace ferry::apply {

namespace {

constexpr std::string_view k_flagger_phases_waiting_for_analysis[] = {
    "",          "Initializing", "Initialized", "Waiting", "Progressing", "WaitingPromotion",
    "Promoting", "Finalising"};

bool in(std::string_view value, std::span<const std::string_view> set) {
  return std::find(set.begin(), set.end(), value) != set.end();
}

// Conclusions GitHub's branch protection counts as passing (docs.github.com, "About protected
// branches": required checks must have a successful, skipped or neutral conclusion).
constexpr std::string_view k_passing_conclusions[] = {"success", "neutral", "skipped"};
// Conclusions that end a check run without success (checks/create-a-check-run, `conclusion`).
constexpr std::string_view k_failing_conclusions[] = {
    "failure", "cancelled", "timed_out", "action_required", "startup_failure", "stale"};

const char* verdict_word(gate_verdict v) {
  switch (v) {
    case gate_verdict::passed:
      return "passed";
    case gate_verdict::failed:
      return "failed";
    case gate_verdict::waiting:
      return "waiting";
  }
  return "waiting";
}

}  // namespace

gate_result judge_canary(const kube::canary_view& canary,
                         std::chrono::system_clock::time_point since) {
  gate_result out;
  out.gate = "Canary " + canary.meta.ns + "/" + canary.meta.name;
  const auto* promoted = kube::find_condition(canary.conditions, "Promoted");
  const std::string flagger_message =
      promoted != nullptr && !promoted->message.empty() ? promoted->message : canary.phase;
  if (canary.phase == "Succeeded" || canary.phase == "Failed") {
    const auto at = kube::parse_micro_time(canary.last_transition_time);
    // Strictly after: both times have whole seconds, and a verdict written in the merge's own
    // second may be the previous revision's (an analysis takes at least one interval).
    if (!at || *at <= since) {
      out.message = canary.phase + " " +
                    (canary.last_transition_time.empty() ? std::string("at an unknown time")
                                                         : "at " + canary.last_transition_time) +
                    ", before this revision: waiting for its analysis";
      return out;
    }
    out.verdict = canary.phase == "Succeeded" ? gate_verdict::passed : gate_verdict::failed;
    out.message = flagger_message;
    return out;
  }
  if (in(canary.phase, k_flagger_phases_waiting_for_analysis)) {
    out.message = canary.phase.empty() ? std::string("no analysis yet") : canary.phase;
    if (canary.phase == "Progressing") {
      out.message += " (canary weight " + std::to_string(canary.canary_weight) + "%)";
    }
    return out;
  }
  // Terminating, Terminated, or a phase this version of ferry does not know: not a success.
  out.message = canary.phase + ": " + flagger_message;
  return out;
}

std::vector<gate_result> judge_statuses(const std::vector<std::string>& required,
                                        const std::vector<status_report>& statuses,
                                        const std::vector<check_report>& runs) {
  std::vector<gate_result> out;
  out.reserve(required.size());
  for (const auto& context : required) {
    gate_result r;
    r.gate = context;
    const auto status = std::find_if(statuses.begin(), statuses.end(),
                                     [&](const status_report& s) { return s.context == context; });
    if (status != statuses.end()) {
      r.url = status->url;
      r.message = status->state + (status->description.empty() ? "" : ": " + status->description);
      if (status->state == "success") {
        r.verdict = gate_verdict::passed;
      } else if (status->state == "failure" || status->state == "error") {
        r.verdict = gate_verdict::failed;
      }
      out.push_back(std::move(r));
      continue;
    }
    const auto run = std::find_if(runs.begin(), runs.end(),
                                  [&](const check_report& c) { return c.name == context; });
    if (run == runs.end()) {
      r.message = "not reported yet";
      out.push_back(std::move(r));
      continue;
    }
    r.url = run->url;
    if (run->status != "completed") {
      r.message = "check run " + run->status;
    } else {
      r.message = "check run " + run->conclusion;
      if (in(run->conclusion, k_passing_conclusions)) {
        r.verdict = gate_verdict::passed;
      } else if (in(run->conclusion, k_failing_conclusions)) {
        r.verdict = gate_verdict::failed;
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

gate_verdict combined(const std::vector<gate_result>& gates) {
  if (std::any_of(gates.begin(), gates.end(),
                  [](const gate_result& g) { return g.verdict == gate_verdict::failed; })) {
    return gate_verdict::failed;
  }
  if (!gates.empty() && std::all_of(gates.begin(), gates.end(), [](const gate_result& g) {
        return g.verdict == gate_verdict::passed;
      })) {
    return gate_verdict::passed;
  }
  return gate_verdict::waiting;
}

std::string gates_summary(const std::vector<gate_result>& gates) {
  const auto verdict = combined(gates);
  std::string out;
  if (verdict == gate_verdict::failed) {
    for (const auto& g : gates) {
      if (g.verdict == gate_verdict::failed) {
        out += (out.empty() ? "gate " : "; gate ") + g.gate + " failed: " + g.message;
      }
    }
    return out;
  }
  if (verdict == gate_verdict::passed) {
    out = "gates passed: ";
    for (std::size_t i = 0; i < gates.size(); ++i) {
      out += (i == 0 ? "" : ", ") + gates[i].gate;
    }
    return out;
  }
  out = "waiting for ";
  bool first = true;
  for (const auto& g : gates) {
    if (g.verdict == gate_verdict::waiting) {
      out += (first ? "" : ", ") + g.gate + " (" + g.message + ")";
      first = false;
    }
  }
  return out;
}

std::string gates_evidence(const std::vector<gate_result>& gates) {
  std::string out;
  for (const auto& g : gates) {
    out += "- " + g.gate + ": " + verdict_word(g.verdict) + " (" + g.message + ")";
    if (!g.url.empty()) {
      out += " [details](" + g.url + ")";
    }
    out += "\n";
  }
  return out;
}

}  // namespace ferry::apply
