#pragma once
// The handlers the registry routes to, one a file. Internal to ferry_handlers: the rest of the
// program sees only make_dispatcher() (registry.hpp).

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string_view>

#include "handlers/registry.hpp"
#include "service/dispatch.hpp"
#include "service/events/events.hpp"

namespace ferry::handlers {

using handler_task = boost::asio::awaitable<service::handler_result>;

handler_task handle_ping(const service::delivery& d, const events::ping_event& e);
handler_task handle_installation(const service::delivery& d, const events::installation_event& e);
// installation_target and other installation* events the parser leaves untyped.
handler_task handle_installation_other(const service::delivery& d, const events::other_event& e);
handler_task handle_package_published(const service::delivery& d, const events::package_event& e,
                                      const handler_settings& settings);
// Merged ferry PR -> branch deleted; PR touching the rules file -> ferry/rules status.
handler_task handle_pull_request(const service::delivery& d, const events::pull_request_event& e,
                                 const handler_settings& settings);
std::shared_ptr<rules_cache> make_rules_cache();
// Applies the environments a push to an infra repo's default branch changed (handlers/push.cpp).
// Takes the shared settings: the applies it starts outlive the delivery.
handler_task handle_push(const service::delivery& d, const events::push_event& e,
                         std::shared_ptr<const handler_settings> settings);
// The configured infra repository `full_name` names (compared case-insensitively), if any.
std::optional<service::repo_name> infra_repo_of(const handler_settings& s,
                                                std::string_view full_name);

}  // namespace ferry::handlers
