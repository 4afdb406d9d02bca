// libFuzzer target: Flux mode's health checks (service/apply/health.hpp). The input is read as
// a workload object (HelmRelease / Deployment JSON), as an inventory id and as a changed YAML
// file. Nothing may crash or hang; a Ready verdict needs the generation observed; an inventory
// id splits and joins back to itself; the touched releases are a subset of the inventory's.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "service/apply/health.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  namespace apply = ferry::apply;
  if (const auto w = ferry::kube::parse_workload(text); w.ok()) {
    for (const std::string_view kind : {"HelmRelease", "Deployment"}) {
      const auto p = apply::judge_workload(kind, *w);
      if (p.verdict == apply::health_verdict::ready &&
          w->observed_generation != w->meta.generation) {
        __builtin_trap();  // a stale Ready never counts
      }
      if (p.message.empty()) {
        __builtin_trap();
      }
    }
  } else if (w.error().message.empty()) {
    __builtin_trap();
  }
  if (const auto ref = apply::parse_inventory_id(text)) {
    if (ref->ns + "_" + ref->name + "_" + ref->group + "_" + ref->kind != text) {
      __builtin_trap();
    }
  }
  const std::vector<ferry::kube::inventory_entry> inventory = {
      {"flux-system_app_helm.toolkit.fluxcd.io_HelmRelease", "v2"},
      {"apps_api_helm.toolkit.fluxcd.io_HelmRelease", "v2beta2"},
      {"apps_web_apps_Deployment", "v1"},
  };
  const std::vector<apply::changed_file> changed = {{"clusters/x.yaml", std::string(text)}};
  const auto touched = apply::touched_helmreleases(inventory, changed);
  if (touched.size() > 2) {
    __builtin_trap();
  }
  for (const auto& c : touched) {
    if (c.kind != "HelmRelease" || (c.name != "app" && c.name != "api")) {
      __builtin_trap();
    }
  }
  return 0;
}
