#pragma once
// The fields each event parser reads, as data. parse_event() is driven by exactly these tables
// (events.cpp), so what the schema test checks is what the parser does.
//
// A path is dot-separated from the body's root; a segment ending in "[]" names an array whose
// every element the rest of the path applies to ("pull_request.labels[].name"). Every proper
// prefix of a path has its own entry earlier in the same table.
//
// required: the field must be present and non-null with this type whenever its parent is
// present. optional: it may be absent or null; when present it must have this type.

#include <span>
#include <string_view>

namespace ferry::events {

enum class json_type { string, integer, boolean, object, array };
enum class presence { required, optional };

struct field_descriptor {
  std::string_view path;
  events::presence presence;
  json_type type;
};

const char* to_string(json_type t) noexcept;

// The table parse_event() uses for this event name; empty for names parsed as other_event.
std::span<const field_descriptor> fields_read(std::string_view event_name) noexcept;

// The event names with a typed parser: package, registry_package, push, pull_request, ping,
// installation, installation_repositories.
std::span<const std::string_view> typed_event_names() noexcept;

}  // namespace ferry::events
