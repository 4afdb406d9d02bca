// libFuzzer target for parse_event and the handler decision: the first byte picks the event
// name, the rest is the body. Whatever the input, the parser returns a value (an event or an
// invalid_input error), and a parsed package event goes through decide_package.
//
//   cmake --preset fuzz && cmake --build build-fuzz --target events_fuzz
//   ./build-fuzz/test/fuzz/events_fuzz -max_total_time=20 fixtures/fuzz/events_fuzz
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "handlers/package_published.hpp"
#include "service/events/events.hpp"

namespace {

constexpr std::string_view k_names[] = {
    "package", "registry_package", "push",   "pull_request",
    "ping",    "installation",     "issues", "installation_repositories"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view name = k_names[data[0] % std::size(k_names)];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto r = ferry::events::parse_event(name, body);
  if (!r.ok()) {
    if (r.error().kind != ferry::error_kind::invalid_input || r.error().message.empty()) {
      std::abort();  // bad input must be reported as such, with a message
    }
    return 0;
  }
  if (const auto* e = std::get_if<ferry::events::package_event>(&*r)) {
    const auto d = ferry::handlers::decide_package(*e, "ghcr.io");
    if (!d.promote && d.reason.empty()) {
      std::abort();  // an ignored delivery always says why
    }
  }
  return 0;
}
