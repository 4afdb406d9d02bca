#pragma once
// The seam between the ingress (service/server) and the handlers (handlers/): the server
// authenticates and parses a delivery, then calls a dispatch function and answers with the
// HTTP status that http_status_for() derives from what the handler returned.

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "service/events/events.hpp"
#include "service/log.hpp"
#include "service/result.hpp"

namespace ferry::service {

// What a handler did with a delivery it understood.
enum class outcome {
  done,      // 200: the work is done, including "nothing to change"
  accepted,  // 202: accepted and still followed (an apply in progress)
  ignored,   // 204: irrelevant, untagged, attestation, no rule: decided before any API call
};

struct delivery {
  std::string_view id;          // X-GitHub-Delivery
  std::string_view event_name;  // X-GitHub-Event
  const events::event& event;   // parsed body
  const log::logger& log;       // carries the delivery id (and event) on every line
};

// A handler's answer: an outcome, or an error whose kind decides between "permanent, reported
// elsewhere, answer 2xx" and "transient, answer 5xx so GitHub records a failed delivery".
using handler_result = result<outcome>;
using dispatch_fn = std::function<boost::asio::awaitable<handler_result>(const delivery&)>;
// What is known without any I/O (an event or package ferry ignores, an image this replica's fresh
// view of the rules names nowhere): answered at once, without the deadline race and the
// coroutines dispatch costs. nullopt: dispatch it. Must never wait and never call out.
using decide_fn = std::function<std::optional<handler_result>(const delivery&)>;

// The one mapping from a handler's result to the HTTP status GitHub sees.
//   done -> 200, accepted -> 202, ignored -> 204;
//   invalid_input -> 200 (permanent: retrying cannot help; the handler reported it on a commit
//   status or in a comment), not_found -> 200 (the thing is gone; nothing to redo);
//   transient, conflict, unauthorized -> 503 (GitHub records a failed delivery and the sweep
//   redelivers it); internal -> 500.
int http_status_for(const handler_result& r) noexcept;

}  // namespace ferry::service
