// libFuzzer target: the Kubernetes object views (service/kube/objects.hpp): Job, Flux objects
// (with source artifacts and Kustomization inventories), Lease, workloads. Any input must end
// in a view or an invalid_input error with a message, never a crash; a view's derived values
// (state_of, find_condition) must be consistent with its conditions.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "service/kube/objects.hpp"

namespace {

template <typename R>
void check_error(const R& r) {
  if (!r.ok() &&
      (r.error().kind != ferry::error_kind::invalid_input || r.error().message.empty())) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto job = ferry::kube::parse_job(text);
  check_error(job);
  if (job.ok()) {
    const auto state = ferry::kube::state_of(*job);
    const auto* complete = ferry::kube::find_condition(job->conditions, "Complete");
    if (state == ferry::kube::job_state::succeeded &&
        (complete == nullptr || complete->status != "True")) {
      __builtin_trap();
    }
  }
  const auto flux = ferry::kube::parse_flux(text);
  check_error(flux);
  if (flux.ok() && !flux->source_name.empty() && flux->source_namespace.empty() &&
      !flux->meta.ns.empty()) {
    __builtin_trap();  // the source namespace defaults to the object's
  }
  check_error(ferry::kube::parse_lease(text));
  check_error(ferry::kube::parse_workload(text));
  return 0;
}
