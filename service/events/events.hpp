#pragma once
// Typed GitHub webhook events (placeholder until the events parser lands).
#include <string>
#include <variant>

namespace ferry::events {

struct other_event {
  std::string name;
};

using event = std::variant<other_event>;

}  // namespace ferry::events
