#pragma once
// Typed GitHub webhook events.
//
// TEMPORARY (ingress branch): a minimal stand-in so the ingress can be built and tested before
// the real parser lands from the events branch, which replaces this file and events.cpp at
// merge. Only the contract the ingress relies on is here: parse_event() returns an event for a
// well-formed JSON document and an error for anything else (the ingress answers 400).
#include <string>
#include <string_view>
#include <variant>

#include "service/result.hpp"

namespace ferry::events {

struct other_event {
  std::string name;
};

using event = std::variant<other_event>;

// json_body is followed by at least limits::k_json_padding readable bytes when it comes from
// the ingress, so a parser may read it in place (simdjson::padded_string_view).
result<event> parse_event(std::string_view event_name, std::string_view json_body);

}  // namespace ferry::events
