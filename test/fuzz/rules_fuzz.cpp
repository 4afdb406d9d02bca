// libFuzzer target: the rules file parser and the helpers over what it accepts. Any input must
// end in rules or diagnostics with positions inside the text, never a crash or an escape.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "service/rules/rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto out = ferry::rules::parse_rules(text, "fuzz.yaml");
  if (!out.ok()) {
    if (out.diagnostics().empty()) {
      __builtin_trap();  // a failure must say why
    }
    for (const auto& d : out.diagnostics()) {
      if (d.line < 1 || d.column < 1 || d.message.empty()) {
        __builtin_trap();
      }
    }
    return 0;
  }
  const auto& rules = out.value();
  if (rules.environments.empty()) {
    __builtin_trap();
  }
  for (const auto& env : rules.environments) {
    (void)ferry::rules::is_suspended(rules, env.name);
    (void)ferry::rules::all_downstream(rules, env.name);
    for (const auto& img : rules.images) {
      (void)ferry::rules::branch_name(env, img);
    }
  }
  (void)ferry::rules::entry_environments(rules);
  for (const auto& img : rules.images) {
    if (ferry::rules::rules_for_image(rules, img.image).empty()) {
      __builtin_trap();  // a rule must be found by its own image
    }
    (void)ferry::rules::compare(img.policy, "v1.2.3", "sha-0123abc");
  }
  return 0;
}
