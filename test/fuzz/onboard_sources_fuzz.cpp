// libFuzzer target: `onboarding.sources` of a hostile rules file
// (sources_from_rules). Any input ends in a list or an error that says why,
// never a crash; every accepted source names an owner/name repository, a
// compose path inside it and an app that is a DNS label, and `ferry onboard`'s
// reading of the same file (options_from_rules) refuses every file this
// refuses.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "service/onboard/convert.hpp"
#include "service/onboard/onboard.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto sources = ferry::onboard::sources_from_rules(text, "ferry.yaml");
  if (!sources.ok()) {
    if (sources.error().message.empty() ||
        ferry::onboard::options_from_rules(text, "ferry.yaml", {}).ok()) {
      __builtin_trap();  // an error must say why, and the command must refuse
                         // the file too
    }
    return 0;
  }
  for (const auto& s : *sources) {
    const auto slash = s.repo.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == s.repo.size() ||
        s.compose.empty() || s.compose.front() == '/' ||
        ("/" + s.compose + "/").find("/../") != std::string::npos || s.app.empty() ||
        ferry::onboard::dns_label(s.app) != s.app) {
      __builtin_trap();
    }
  }
  return 0;
}
