#include "service/apply/health.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "service/limits.hpp"
#include "service/rules/yaml_documents.hpp"

namespace ferry::apply {
namespace {

using kube::find_condition;

constexpr std::string_view k_helm_group = "helm.toolkit.fluxcd.io";

std::string counts(std::string_view what, std::int64_t have, std::int64_t want) {
  return std::string(what) + ": " + std::to_string(have) + "/" + std::to_string(want);
}

std::string scalar_at(const YAML::Node& map, const char* key) {
  if (!map.IsMap()) {
    return {};
  }
  const YAML::Node n = map[key];
  return n && n.IsScalar() ? n.Scalar() : std::string();
}

// A release named by a document: {name, namespace ("" = any)}; name "" = every HelmRelease.
struct named_release {
  std::string name, ns;
};

// The HelmReleases one YAML document names (see touched_helmreleases); false when the document
// is not a mapping we can read.
void releases_in(const YAML::Node& doc, std::vector<named_release>& out) {
  if (!doc.IsMap()) {
    return;
  }
  const std::string kind = scalar_at(doc, "kind");
  if (kind == "HelmRelease") {
    const YAML::Node meta = doc["metadata"];
    const std::string name = scalar_at(meta, "name");
    if (!name.empty()) {
      out.push_back({name, scalar_at(meta, "namespace")});
    }
    return;
  }
  // A kustomize Kustomization (kustomize.config.k8s.io; `kind` may be left out) patching
  // HelmReleases by target.
  if (!kind.empty() && kind != "Kustomization") {
    return;
  }
  const YAML::Node patches = doc["patches"];
  if (!patches || !patches.IsSequence()) {
    return;
  }
  for (const auto& p : patches) {
    if (!p.IsMap()) {
      continue;
    }
    const YAML::Node target = p["target"];
    if (scalar_at(target, "kind") == "HelmRelease") {
      out.push_back({scalar_at(target, "name"), scalar_at(target, "namespace")});
    }
  }
}

}  // namespace

health_progress judge_helmrelease(const kube::workload_view& hr) {
  if (hr.observed_generation != hr.meta.generation) {
    return {health_verdict::waiting, "generation " + std::to_string(hr.meta.generation) +
                                         " not handled yet (observed " +
                                         std::to_string(hr.observed_generation) + ")"};
  }
  for (const std::string_view type : {"Released", "TestSuccess"}) {
    if (const auto* c = find_condition(hr.conditions, type); c != nullptr && c->status == "False") {
      return {health_verdict::failed,
              (c->reason.empty() ? std::string(type) + "=False" : c->reason) +
                  (c->message.empty() ? std::string() : ": " + c->message)};
    }
  }
  if (const auto* c = find_condition(hr.conditions, "Stalled");
      c != nullptr && c->status == "True") {
    return {health_verdict::failed, (c->reason.empty() ? std::string("Stalled") : c->reason) +
                                        (c->message.empty() ? std::string() : ": " + c->message)};
  }
  const auto* ready = find_condition(hr.conditions, "Ready");
  // helm-controller's own words for a failed install or upgrade at this generation, also when
  // it left no Released condition (v2beta2 objects, or Ready written before Released).
  if (ready != nullptr && ready->status == "False" &&
      (ready->reason == "UpgradeFailed" || ready->reason == "InstallFailed")) {
    return {health_verdict::failed,
            ready->reason + (ready->message.empty() ? std::string() : ": " + ready->message)};
  }
  if (ready != nullptr && ready->status == "True") {
    return {health_verdict::ready, ready->message.empty() ? "Ready" : ready->message};
  }
  if (ready == nullptr) {
    return {health_verdict::waiting, "no Ready condition yet"};
  }
  return {health_verdict::waiting,
          "Ready=" + ready->status + (ready->message.empty() ? "" : ": " + ready->message)};
}

health_progress judge_deployment(const kube::workload_view& d) {
  // kstatus checks the generation first for every kind (status.go, checkGenericProperties).
  if (d.observed_generation != d.meta.generation) {
    return {health_verdict::waiting,
            "Deployment generation is " + std::to_string(d.meta.generation) +
                ", but latest observed generation is " + std::to_string(d.observed_generation)};
  }
  bool progressing = false;
  bool available = false;
  for (const auto& c : d.conditions) {
    if (c.type == "Progressing") {
      if (c.reason == "ProgressDeadlineExceeded") {
        return {health_verdict::failed,
                "ProgressDeadlineExceeded" + (c.message.empty() ? "" : ": " + c.message)};
      }
      progressing = progressing || (c.status == "True" && c.reason == "NewReplicaSetAvailable");
    } else if (c.type == "Available") {
      available = available || c.status == "True";
    }
  }
  const auto spec = d.spec_replicas;
  if (spec > d.replicas) {
    return {health_verdict::waiting, counts("Replicas", d.replicas, spec)};
  }
  if (spec > d.updated_replicas) {
    return {health_verdict::waiting, counts("Updated", d.updated_replicas, spec)};
  }
  if (d.replicas > spec) {
    return {health_verdict::waiting, "Pending termination: " + std::to_string(d.replicas - spec)};
  }
  if (d.updated_replicas > d.available_replicas) {
    return {health_verdict::waiting, counts("Available", d.available_replicas, d.updated_replicas)};
  }
  if (spec > d.ready_replicas) {
    return {health_verdict::waiting, counts("Ready", d.ready_replicas, spec)};
  }
  if (!progressing) {
    return {health_verdict::waiting, "ReplicaSet not Available"};
  }
  if (!available) {
    return {health_verdict::waiting, "Deployment not Available"};
  }
  return {health_verdict::ready,
          "Deployment is available. Replicas: " + std::to_string(d.replicas)};
}

health_progress judge_workload(std::string_view kind, const kube::workload_view& object) {
  if (kind == "HelmRelease") {
    return judge_helmrelease(object);
  }
  if (kind == "Deployment") {
    return judge_deployment(object);
  }
  return {health_verdict::failed, "ferry cannot judge a " + std::string(kind)};
}

std::optional<object_ref> parse_inventory_id(std::string_view id) {
  object_ref out;
  std::string* fields[] = {&out.ns, &out.name, &out.group, &out.kind};
  std::size_t start = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const auto end = i < 3 ? id.find('_', start) : id.size();
    if (end == std::string_view::npos) {
      return std::nullopt;
    }
    fields[i]->assign(id.substr(start, end - start));
    start = end + 1;
  }
  if (out.name.empty() || out.kind.empty() || out.kind.find('_') != std::string::npos) {
    return std::nullopt;  // "__" escapes (RBAC names with ':') leave a part with '_' or empty
  }
  return out;
}

std::vector<rules::health_check> touched_helmreleases(
    std::span<const kube::inventory_entry> inventory, std::span<const changed_file> changed) {
  std::vector<named_release> named;
  bool everything = false;
  for (const auto& f : changed) {
    if (everything) {
      break;
    }
    if (!f.path.ends_with(".yaml") && !f.path.ends_with(".yml") && f.path != "Kustomization" &&
        !f.path.ends_with("/Kustomization")) {
      continue;
    }
    if (f.content.size() > limits::k_health_scan_file_max) {
      everything = true;
      break;
    }
    const auto docs = yaml::load_all(f.content, limits::k_health_scan_documents_max);
    if (docs.failed) {
      everything = true;
      break;
    }
    try {
      for (const auto& doc : docs.nodes) {
        releases_in(doc, named);
      }
    } catch (const YAML::Exception&) {
      everything = true;
    }
  }
  std::vector<rules::health_check> out;
  for (const auto& entry : inventory) {
    const auto ref = parse_inventory_id(entry.id);
    if (!ref || ref->group != k_helm_group || ref->kind != "HelmRelease") {
      continue;
    }
    const bool touched =
        everything || std::any_of(named.begin(), named.end(), [&](const named_release& n) {
          return (n.name.empty() || n.name == ref->name) && (n.ns.empty() || n.ns == ref->ns);
        });
    if (!touched) {
      continue;
    }
    // helm-controller serves v2 (GA) and v2beta2; older versions are read at v2.
    const std::string version =
        entry.version == "v2beta2" ? std::string("v2beta2") : std::string("v2");
    out.push_back(rules::health_check{std::string(k_helm_group) + "/" + version, "HelmRelease",
                                      ref->name, ref->ns});
  }
  return out;
}

}  // namespace ferry::apply
