#include "service/dispatch.hpp"

namespace ferry::service {

int http_status_for(const handler_result& r) noexcept {
  if (r.ok()) {
    switch (*r) {
      case outcome::done:
        return 200;
      case outcome::accepted:
        return 202;
      case outcome::ignored:
        return 204;
    }
    return 200;
  }
  switch (r.error().kind) {
    case error_kind::invalid_input:
    case error_kind::not_found:
      return 200;
    case error_kind::transient:
    case error_kind::conflict:
    case error_kind::unauthorized:
      return 503;
    case error_kind::internal:
      return 500;
  }
  return 500;
}

}  // namespace ferry::service
