#include "service/apply/fleet.hpp"

#include <boost/json.hpp>

#include "service/text.hpp"

namespace ferry::apply {

std::optional<std::string> fleet_force_sync_patch(const kube::fleet_view& gitrepo,
                                                  std::string_view commit) {
  if (auto it = gitrepo.meta.labels.find(std::string(k_fleet_commit_label));
      it != gitrepo.meta.labels.end() && it->second == commit) {
    return std::nullopt;
  }
  boost::json::object labels;
  labels[k_fleet_commit_label] = commit;
  boost::json::object metadata;
  metadata["labels"] = std::move(labels);
  boost::json::object spec;
  spec["forceSyncGeneration"] = gitrepo.force_sync_generation + 1;
  boost::json::object patch;
  patch["metadata"] = std::move(metadata);
  patch["spec"] = std::move(spec);
  return boost::json::serialize(patch);
}

fleet_progress judge_gitrepo(const kube::fleet_view& g,
                             const std::function<bool(std::string_view commit)>& is_descendant) {
  if (g.observed_generation < g.meta.generation) {
    return {fleet_verdict::waiting, "generation " + std::to_string(g.meta.generation) +
                                        " not handled yet (observed " +
                                        std::to_string(g.observed_generation) + ")"};
  }
  const bool at_ours =
      text::is_commit_sha(g.commit) && is_descendant && is_descendant(text::lower(g.commit));
  if (!at_ours) {
    return {fleet_verdict::waiting, g.commit.empty() ? std::string("no commit deployed yet")
                                                     : "at commit " + g.commit.substr(0, 12) +
                                                           ", not yet the pushed commit"};
  }
  const auto* ready = kube::find_condition(g.conditions, "Ready");
  const std::string ready_message =
      ready != nullptr && !ready->message.empty() ? ready->message : std::string();
  const std::string fleet_message = !g.non_ready_message.empty() ? g.non_ready_message
                                    : !ready_message.empty()     ? ready_message
                                                                 : g.display_message;
  if (const auto* stalled = kube::find_condition(g.conditions, "Stalled");
      stalled != nullptr && stalled->status == "True") {
    return {fleet_verdict::failed,
            "Stalled" + (stalled->message.empty() ? std::string() : ": " + stalled->message)};
  }
  if (g.summary_err_applied > 0) {
    return {fleet_verdict::failed, "ErrApplied (" + std::to_string(g.summary_err_applied) +
                                       " bundle deployments)" +
                                       (fleet_message.empty() ? "" : ": " + fleet_message)};
  }
  const std::string counts = std::to_string(g.summary_ready) + "/" +
                             std::to_string(g.summary_desired_ready) + " bundle deployments ready";
  if (ready != nullptr && ready->status == "True" && g.summary_ready == g.summary_desired_ready) {
    return {fleet_verdict::succeeded, "Ready at " + g.commit.substr(0, 12) + ", " + counts};
  }
  return {fleet_verdict::waiting,
          "Ready=" + (ready == nullptr ? std::string("unknown") : ready->status) + ", " + counts +
              (fleet_message.empty() ? "" : ": " + fleet_message)};
}

}  // namespace ferry::apply
