#pragma once
// The handlers the registry routes to, one a file. Internal to ferry_handlers: the rest of the
// program sees only make_dispatcher() (registry.hpp).

#include <boost/asio/awaitable.hpp>

#include <memory>
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

}  // namespace ferry::handlers
