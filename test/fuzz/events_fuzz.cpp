// libFuzzer target for parse_event: the first byte picks the event name, the rest is the body.
// Whatever the input, the parser returns a value (an event or an invalid_input error with a
// message). The handler decision on a parsed event is covered by test/handlers' tables: the
// handlers library holds coroutine code that clang 14 cannot instrument for coverage.
//
//   cmake --preset fuzz && cmake --build build-fuzz --target events_fuzz
//   ./build-fuzz/test/fuzz/events_fuzz -max_total_time=20 fixtures/fuzz/events_fuzz
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

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
  return 0;
}
