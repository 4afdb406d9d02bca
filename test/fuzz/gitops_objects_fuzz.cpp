// libFuzzer target: the Argo CD Application, Fleet GitRepo and Flagger Canary views
// (service/kube/objects.hpp) and the verdicts over them (service/apply/argocd.hpp, fleet.hpp,
// gates.hpp). Any input ends in a view or
// an invalid_input error with a message; a success never comes from a revision that does not
// descend from the pushed commit, and a Canary passes only when Succeeded after the merge; the
// patches ferry would send are JSON objects.

#include <boost/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "service/apply/argocd.hpp"
#include "service/apply/fleet.hpp"
#include "service/apply/gates.hpp"
#include "service/text.hpp"

namespace {

constexpr std::string_view k_pushed = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";

bool is_pushed(std::string_view c) {
  return c == k_pushed;
}

template <typename R>
void check_error(const R& r) {
  if (!r.ok() &&
      (r.error().kind != ferry::error_kind::invalid_input || r.error().message.empty())) {
    __builtin_trap();
  }
}

void check_json_object(const std::string& text) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace apply = ferry::apply;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto app = ferry::kube::parse_argocd(text);
  check_error(app);
  if (app.ok()) {
    for (const bool sync : {false, true}) {
      const auto p = apply::judge_application(*app, sync, is_pushed);
      if (p.verdict == apply::argocd_verdict::succeeded &&
          !is_pushed(ferry::text::lower(app->sync_revision))) {
        __builtin_trap();  // Synced and Healthy elsewhere never counts
      }
    }
    (void)apply::argocd_next_action(*app, k_pushed, true);
    check_json_object(apply::argocd_patch(k_pushed));
  }
  const auto repo = ferry::kube::parse_fleet(text);
  check_error(repo);
  if (repo.ok()) {
    const auto p = apply::judge_gitrepo(*repo, is_pushed);
    if (p.verdict == apply::fleet_verdict::succeeded &&
        (!is_pushed(ferry::text::lower(repo->commit)) ||
         repo->summary_ready != repo->summary_desired_ready)) {
      __builtin_trap();
    }
    if (const auto patch = apply::fleet_force_sync_patch(*repo, k_pushed)) {
      check_json_object(*patch);
    }
  }
  const auto canary = ferry::kube::parse_canary(text);
  check_error(canary);
  if (canary.ok()) {
    const auto merged = std::chrono::system_clock::time_point(std::chrono::seconds(1767225600));
    const auto g = apply::judge_canary(*canary, merged);
    if (g.verdict == apply::gate_verdict::passed) {
      const auto at = ferry::kube::parse_micro_time(canary->last_transition_time);
      if (canary->phase != "Succeeded" || !at || *at <= merged) {
        __builtin_trap();  // a stale or unfinished analysis never passes
      }
    }
    if (apply::gates_summary({g}).empty()) {
      __builtin_trap();
    }
  }
  return 0;
}
