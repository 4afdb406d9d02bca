#include "handlers/handlers.hpp"

#include <string>

namespace ferry::handlers {

// GitHub sends `ping` when a webhook is created; a 200 tells it the endpoint works.
handler_task handle_ping(const service::delivery& d, const events::ping_event& e) {
  d.log.info("ping", {{"hook_id", std::to_string(e.hook_id)}});
  co_return service::outcome::done;
}

}  // namespace ferry::handlers
