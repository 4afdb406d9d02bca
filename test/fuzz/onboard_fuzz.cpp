// libFuzzer target: `ferry onboard`'s compose reader and converter over one hostile file. Any
// input must end in a conversion or an error that says why, never a crash or a hang (alias
// bombs are bounded by k_compose_nodes_max); a conversion never writes outside apps/ and the
// overlay directories, and its rules must be accepted by ferry's own rules parser.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "service/onboard/convert.hpp"
#include "service/onboard/onboard.hpp"
#include "service/rules/rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto compose = ferry::onboard::read_compose(text);
  if (!compose.ok()) {
    if (compose.error().message.empty()) {
      __builtin_trap();  // an error must say why
    }
    return 0;
  }
  ferry::onboard::options o;
  o.app = "fuzz";
  o.org = "acme";
  if (size % 2 == 1) {
    o.secrets = ferry::onboard::secret_backend::external_secrets;
  }
  auto c = ferry::onboard::convert(*compose, o);
  if (!c.ok()) {
    if (c.error().message.empty()) {
      __builtin_trap();
    }
    return 0;
  }
  for (const auto& f : c->files) {
    if (!f.path.starts_with("apps/fuzz/") || f.path.find("..") != std::string::npos ||
        !f.content.starts_with(ferry::onboard::k_generated_header)) {
      __builtin_trap();  // a file outside the app's directories, or not marked as ferry's
    }
  }
  std::vector<std::string> log;
  const auto rules = ferry::onboard::add_image_rules("", *c, o, log);
  if (!rules.ok() || !ferry::rules::parse_rules(*rules, "fuzz").ok()) {
    __builtin_trap();  // rules ferry itself refuses
  }
  return 0;
}
