// TEMPORARY (ingress branch): replaced by the events branch's parser at merge. Validates that
// the body is one JSON document and reports every event as other_event.
#include "service/events/events.hpp"

#include <simdjson.h>

namespace ferry::events {

result<event> parse_event(std::string_view event_name, std::string_view json_body) {
  // One parser per thread, reused: a fresh dom::parser allocates its buffers (several times
  // the document size) on every call, and freeing them returns memory to the kernel, which
  // measured at ~0.5 ms of TLB flushing per 17 KB delivery. The real parser must reuse too.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  // parse(ptr, len) copies into a padded buffer when needed; fine for a stand-in.
  if (const auto err = parser.parse(json_body.data(), json_body.size()).get(root); err) {
    return make_error(error_kind::invalid_input,
                      std::string("malformed JSON: ") + simdjson::error_message(err));
  }
  if (!root.is_object()) {
    return make_error(error_kind::invalid_input, "the payload is not a JSON object");
  }
  return event{other_event{std::string(event_name)}};
}

}  // namespace ferry::events
