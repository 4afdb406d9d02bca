// `push` to an infra repository's default branch (SPEC "Behaviour by event"): the rules file's
// validity goes on the new head as `ferry/rules`, and every environment whose paths the push
// changed is applied (all of them when `before` is zero or the push was forced). The delivery
// answers 202 while applies are followed, 200 when nothing needed applying. A push to any other
// repository may be an application's compose file: handlers/onboard_push.cpp.
#include "handlers/apply.hpp"

#include "handlers/handlers.hpp"
#include "handlers/infra_repo.hpp"
#include "handlers/onboard_push.hpp"
#include "handlers/rules_cache.hpp"
#include "service/apply/environments.hpp"
#include "service/git/reads.hpp"
#include "service/text.hpp"

namespace ferry::handlers {

std::optional<service::repo_name> infra_repo_of(const handler_settings& s,
                                                std::string_view full_name) {
  for (const auto& r : s.infra_repos) {
    if (text::iequals(r.full(), full_name)) {
      return r;
    }
  }
  return std::nullopt;
}

handler_task handle_push(const service::delivery& d, const events::push_event& e,
                         std::shared_ptr<const handler_settings> s) {
  // Decided from the payload alone, before any API call.
  const auto repo_name = infra_repo_of(*s, e.repository.full_name);
  if (!repo_name) {
    // An application repository: onboarding pull requests, if an infra repository lists it.
    co_return co_await handle_app_push(d, e, std::move(s));
  }
  if (e.deleted || e.ref != "refs/heads/" + e.repository.default_branch ||
      !text::is_commit_sha(e.after)) {
    d.log.debug("push ignored", {{"reason", "not a new head of the default branch"}});
    co_return service::outcome::ignored;
  }
  // The rules may have changed: this replica's next delivery reads them again at once, not
  // after its view's age runs out (handlers/rules_cache.hpp).
  if (s->rules != nullptr) {
    s->rules->push_seen(repo_name->full());
  }
  const auto log = d.log.with({{"repo", repo_name->full()}, {"commit", e.after}});
  auto repo = co_await infra_repo::open(*s, *repo_name, e.installation_id, log,
                                        e.repository.clone_url, e.repository.default_branch);
  if (!repo) {
    co_return repo.error();
  }
  auto parsed = co_await repo->rules_at(e.after);
  if (!parsed) {
    if (parsed.error().kind == error_kind::not_found) {
      log.info("no rules file at the pushed commit: nothing to apply");
      co_return service::outcome::done;
    }
    co_return parsed.error();
  }
  if (s->metrics != nullptr) {
    s->metrics->rules_valid.with({repo_name->full()}).set(parsed->ok() ? 1.0 : 0.0);
  }
  // Every new head of the default branch says whether its rules are valid, so branch
  // protection can require `ferry/rules` (SPEC "Rules file").
  const std::string rules_description =
      parsed->ok() ? "rules valid: " + std::to_string(parsed->value().images.size()) + " images, " +
                         std::to_string(parsed->value().environments.size()) + " environments"
                   : "invalid " + s->rules_path + ": " + parsed->diagnostics().front().to_string();
  // Held in a local: GCC 12 mishandles temporaries of a ?: inside a co_await operand.
  const std::string_view rules_state = parsed->ok() ? "success" : "failure";
  auto rules_status = co_await repo->status(e.after, "ferry/rules", rules_state, rules_description);
  if (!rules_status) {
    co_return rules_status.error();
  }
  if (!parsed->ok()) {
    // Fail closed: no applies while the rules are invalid.
    log.warn("rules file is invalid: nothing applied", {{"errors", parsed->report()}});
    co_return service::outcome::done;
  }
  const rules::rules_file& rules = parsed->value();
  const bool all = e.forced || e.before.empty() || e.before == git::k_zero_oid;
  std::vector<std::string> changed;
  if (!all) {
    auto fetched = co_await repo->fetch(e.before);
    if (!fetched) {
      co_return fetched.error();
    }
    auto paths = co_await repo->changed_paths(e.before, e.after);
    if (!paths) {
      co_return paths.error();
    }
    changed = std::move(*paths);
  }
  const auto selected = apply::environments_to_apply(rules, changed, all);
  for (const auto* env : selected.suspended) {
    log.info("not applied: the environment is suspended", {{"environment", env->name}});
  }
  for (const auto* env : selected.pull_requests_only) {
    log.info("not applied: the environment has no apply (pull requests only)",
             {{"environment", env->name}});
  }
  if (selected.apply.empty()) {
    log.info("the push changes no environment");
    co_return service::outcome::done;
  }
  bool following = false;
  std::optional<error> first_error;
  for (const auto* env : selected.apply) {
    auto started = co_await start_apply(s, *repo, rules, *env, e.after, log);
    if (!started) {
      log.warn("apply could not start",
               {{"environment", env->name}, {"error", started.error().message}});
      if (!first_error) {
        first_error = started.error();
      }
      continue;
    }
    following = following || *started;
  }
  if (first_error) {
    co_return *first_error;
  }
  co_return following ? service::outcome::accepted : service::outcome::done;
}

}  // namespace ferry::handlers
