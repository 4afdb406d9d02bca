#include "handlers/handlers.hpp"

#include <string>

namespace ferry::handlers {

// Installations need no work from a stateless service (tokens are minted per installation id
// on demand); SPEC: installation* -> 200, logged.
handler_task handle_installation(const service::delivery& d, const events::installation_event& e) {
  d.log.info("installation", {{"account", e.account},
                              {"action", e.action},
                              {"installation_id", std::to_string(e.installation_id)}});
  co_return service::outcome::done;
}

handler_task handle_installation_other(const service::delivery& d, const events::other_event& e) {
  d.log.info("installation", {{"event", e.name}});
  co_return service::outcome::done;
}

}  // namespace ferry::handlers
