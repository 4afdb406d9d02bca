#include "handlers/registry.hpp"

#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "handlers/apply.hpp"
#include "handlers/gates.hpp"
#include "handlers/group_lane.hpp"
#include "handlers/handlers.hpp"
#include "handlers/package_published.hpp"
#include "handlers/rules_cache.hpp"

namespace ferry::handlers {

namespace {

template <typename... F>
struct overloaded : F... {
  using F::operator()...;
};
// clang 14 has no class template argument deduction for aggregates yet.
template <typename... F>
overloaded(F...) -> overloaded<F...>;

// `why` must outlive the coroutine: callers pass string literals.
handler_task ignore(const service::delivery& d, const char* why) {
  d.log.debug("event ignored", {{"reason", why}});
  co_return service::outcome::ignored;
}

// The settings are shared by every call (the rules cache lives in them); the coroutine frame
// holds a reference count, so they outlive it.
handler_task dispatch(std::shared_ptr<const handler_settings> settings,
                      const service::delivery& d) {
  co_return co_await std::visit(
      overloaded{
          [&](const events::package_event& e) { return handle_package_published(d, e, *settings); },
          [&](const events::ping_event& e) { return handle_ping(d, e); },
          [&](const events::installation_event& e) { return handle_installation(d, e); },
          [&](const events::push_event& e) { return handle_push(d, e, settings); },
          [&](const events::pull_request_event& e) { return handle_pull_request(d, e, *settings); },
          [&](const events::status_event& e) { return handle_status(d, e, settings); },
          [&](const events::check_run_event& e) { return handle_check_run(d, e, settings); },
          [&](const events::other_event& e) {
            if (std::string_view(e.name).starts_with("installation")) {
              return handle_installation_other(d, e);
            }
            return ignore(d, "event not handled by ferry");
          },
      },
      d.event);
}

}  // namespace

std::shared_ptr<const handler_settings> share_settings(handler_settings settings) {
  if (!settings.rules) {
    settings.rules = make_rules_cache();
  }
  if (!settings.applies) {
    settings.applies = std::make_shared<apply_tracker>();
  }
  if (!settings.lanes) {
    settings.lanes = std::make_shared<group_lanes>();
  }
  return std::make_shared<const handler_settings>(std::move(settings));
}

service::dispatch_fn make_shared_dispatcher(std::shared_ptr<const handler_settings> settings) {
  return [settings](const service::delivery& d) { return dispatch(settings, d); };
}

service::decide_fn make_shared_decider(std::shared_ptr<const handler_settings> settings) {
  return [settings](const service::delivery& d) -> std::optional<service::handler_result> {
    if (const auto* e = std::get_if<events::package_event>(&d.event)) {
      package_decision decision = decide_package(*e, settings->registry_host);
      if (!decision.promote) {
        d.log.debug("package event ignored", {{"reason", std::move(decision.reason)}});
        return service::outcome::ignored;
      }
      if (!settings->rules) {
        return std::nullopt;
      }
      std::vector<const char*> reasons;
      for (const auto& repo : settings->infra_repos) {
        const auto no_rule =
            settings->rules->fresh_view_names_no_rule(repo.full(), decision.promote->image);
        if (!no_rule) {
          return std::nullopt;
        }
        reasons.push_back(*no_rule);
      }
      for (std::size_t i = 0; i < reasons.size(); ++i) {
        d.log.debug(reasons[i], {{"repo", settings->infra_repos[i].full()},
                                 {"image", decision.promote->image},
                                 {"from", "this replica's view of the rules"}});
      }
      return service::outcome::ignored;
    }
    if (const auto* e = std::get_if<events::push_event>(&d.event);
        e != nullptr && settings->rules && !infra_repo_of(*settings, e->repository.full_name)) {
      // A push to an application repository no infra repository's fresh view lists under
      // `onboarding.sources` (rules_cache.hpp); the handler asks GitHub otherwise.
      bool unlisted = true;
      for (const auto& repo : settings->infra_repos) {
        unlisted = unlisted && settings->rules->fresh_view_lists_no_source(repo.full(),
                                                                           e->repository.full_name);
      }
      if (unlisted) {
        d.log.debug("push ignored", {{"reason", "no infra repository lists it for onboarding"},
                                     {"from", "this replica's view of the rules"}});
        return service::outcome::ignored;
      }
    }
    // Gates wait for outcomes reported on infra commits by others: ferry's own statuses (every
    // status it posts comes back as a `status` delivery), pending ones and unfinished check runs
    // decide nothing.
    if (const auto* e = std::get_if<events::status_event>(&d.event);
        e != nullptr &&
        (e->state == "pending" || std::string_view(e->context).starts_with("ferry/") ||
         !infra_repo_of(*settings, e->repository.full_name))) {
      d.log.debug("status ignored", {{"reason", "not an outcome a gate could wait for"}});
      return service::outcome::ignored;
    }
    if (const auto* e = std::get_if<events::check_run_event>(&d.event);
        e != nullptr &&
        (e->action != "completed" || !infra_repo_of(*settings, e->repository.full_name))) {
      d.log.debug("check run ignored", {{"reason", "not an outcome a gate could wait for"}});
      return service::outcome::ignored;
    }
    if (const auto* e = std::get_if<events::other_event>(&d.event);
        e != nullptr && !std::string_view(e->name).starts_with("installation")) {
      d.log.debug("event ignored", {{"reason", "event not handled by ferry"}});
      return service::outcome::ignored;
    }
    return std::nullopt;
  };
}

service::dispatch_fn make_dispatcher(handler_settings settings) {
  return make_shared_dispatcher(share_settings(std::move(settings)));
}

}  // namespace ferry::handlers
