// libFuzzer target: `ferry migrate-flux` over one hostile file. Any input must end in a
// migration or errors with the SPEC exit codes, never a crash; what it prints with exit 0 must
// be a rules file ferry's own parser accepts.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "service/migrate/migrate_flux.hpp"
#include "service/rules/rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ferry::migrate::kustomization_namespace(text);
  const auto read = ferry::migrate::read_flux_objects("fuzz.yaml", text, "ns");
  for (const auto& p : read.unreadable) {
    if (p.message.empty()) {
      __builtin_trap();
    }
  }
  const std::vector<ferry::migrate::source_file> files{
      {"clusters/fuzz/objects.yaml", std::string(text)}};
  const auto m = ferry::migrate::migrate_flux(files, {}, {.apply_flux = (size % 2) == 1});
  switch (m.exit_code) {
    case 0:
      if (m.text.find("\nenvironments:\n") != std::string::npos &&
          !ferry::rules::parse_rules(m.text, "fuzz").ok()) {
        __builtin_trap();  // printed rules ferry itself refuses
      }
      break;
    case 1:
    case 2:
    case 4:
      if (m.errors.empty() || !m.text.empty()) {
        __builtin_trap();  // a failure must say why, and print no rules
      }
      break;
    default:
      __builtin_trap();
  }
  return 0;
}
