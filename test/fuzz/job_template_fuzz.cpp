// libFuzzer target: the apply Job renderer (and the small text helpers beside it). Any input
// must end in a refusal that says why, or in a Job that keeps every promise render_job makes:
// valid JSON, ferry's name, namespace, labels and service account, and none of the refused
// privileges, whatever YAML tricks (aliases, tags, duplicate keys, odd scalars) the input uses.

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "service/apply/environments.hpp"
#include "service/apply/flux.hpp"
#include "service/apply/job.hpp"

namespace {

namespace json = boost::json;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

bool truthy(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && !v->is_null() && !(v->is_bool() && !v->get_bool());
}

void check_job(const ferry::apply::rendered_job& r, const ferry::apply::job_vars& vars) {
  const auto v = json::parse(r.json);  // throws (and so crashes the fuzzer) on invalid JSON
  const auto& job = v.as_object();
  check(job.at("apiVersion") == "batch/v1" && job.at("kind") == "Job");
  const auto& meta = job.at("metadata").as_object();
  check(meta.at("name") == json::value(r.name) &&
        r.name == ferry::apply::job_name(vars.env, vars.sha));
  check(meta.at("namespace") == "flux-system" && r.ns == "flux-system");
  check(!meta.contains("generateName"));
  check(meta.at("labels").as_object().at("ferry.dev/env") == json::value(vars.env));
  const auto& spec = job.at("spec").as_object();
  check(spec.at("activeDeadlineSeconds").is_number() && spec.at("backoffLimit").is_number());
  const auto& pod = spec.at("template").as_object().at("spec").as_object();
  check(pod.at("serviceAccountName") == "ferry-apply");
  // A null serviceAccount (e.g. `serviceAccount: &anchor` with no value) is absent to
  // Kubernetes, as it is to render_job.
  check(!pod.contains("serviceAccount") || pod.at("serviceAccount").is_null() ||
        pod.at("serviceAccount") == "ferry-apply");
  for (const char* f : {"hostNetwork", "hostPID", "hostIPC"}) {
    check(!truthy(pod, f));
  }
  for (const char* list : {"containers", "initContainers", "ephemeralContainers"}) {
    if (const auto* l = pod.if_contains(list); l != nullptr && !l->is_null()) {
      for (const auto& c : l->as_array()) {
        const auto* sc = c.as_object().if_contains("securityContext");
        check(sc == nullptr || sc->is_null() || !truthy(sc->as_object(), "privileged"));
      }
    }
  }
  if (const auto* vols = pod.if_contains("volumes"); vols != nullptr && !vols->is_null()) {
    for (const auto& vol : vols->as_array()) {
      check(!vol.as_object().contains("hostPath"));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const ferry::apply::job_vars vars{"production", "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
                                    "dine-together/infra"};
  ferry::apply::job_policy policy;
  policy.namespaces = {"flux-system"};
  policy.service_accounts = {"ferry-apply"};
  const ferry::rules::apply_job apply{"flux-system", "infra/apply-job.yaml"};
  const auto r = ferry::apply::render_job(text, "infra/apply-job.yaml", apply, vars, policy);
  if (r.ok()) {
    check_job(*r, vars);
  } else {
    check(r.error().kind == ferry::error_kind::invalid_input);
    check(r.error().message.starts_with("infra/apply-job.yaml:"));
  }
  // The same bytes through the helpers that take outside text.
  const auto d = ferry::apply::status_description(text);
  check(d.size() <= text.size() + 3);
  if (auto c = ferry::apply::revision_commit(text)) {
    check(c->size() == 40);
  }
  return 0;
}
