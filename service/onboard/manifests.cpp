// The YAML `ferry onboard` writes: written out as text, not emitted by yaml-cpp, so the bytes
// are ours to keep stable (key order, quoting, comments, the markers) for the goldens.

#include <algorithm>
#include <set>

#include "service/onboard/plan.hpp"

namespace ferry::onboard::detail {
namespace {

std::string pad(int indent) {
  return std::string(static_cast<std::size_t>(indent), ' ');
}

std::string kv(int indent, std::string_view key, std::string_view value) {
  return pad(indent) + std::string(key) + ": " + yaml_scalar(value) + "\n";
}

std::string num(int indent, std::string_view key, long value) {
  return pad(indent) + std::string(key) + ": " + std::to_string(value) + "\n";
}

std::string header(const options& o, std::string_view what) {
  return std::string(k_generated_header) + " from " + o.compose_name + " (app " + o.app +
         "): remove this line to keep it from being overwritten.\n" +
         (what.empty() ? "" : "# " + std::string(what) + "\n");
}

std::string labels(int indent, const options& o, std::string_view name) {
  return pad(indent) + "app.kubernetes.io/name: " + yaml_scalar(name) + "\n" + pad(indent) +
         "app.kubernetes.io/part-of: " + yaml_scalar(o.app) + "\n";
}

std::string metadata(const options& o, std::string_view name, std::string_view labelled) {
  return "metadata:\n" + kv(2, "name", name) + "  labels:\n" + labels(4, o, labelled);
}

std::string list(int indent, std::string_view key, const std::vector<std::string>& items) {
  std::string out = pad(indent) + std::string(key) + ":\n";
  for (const auto& i : items) {
    out += pad(indent + 2) + "- " + yaml_scalar(i) + "\n";
  }
  return out;
}

std::string probe(int indent, std::string_view key, const probe_plan& p) {
  std::string out = pad(indent) + std::string(key) + ":\n";
  const int in = indent + 2;
  if (p.http) {
    out += pad(in) + "httpGet:\n" + kv(in + 2, "path", p.path) + num(in + 2, "port", p.port);
  } else {
    out += pad(in) + "exec:\n" + list(in + 2, "command", p.exec);
  }
  if (p.initial > 0) {
    out += num(in, "initialDelaySeconds", p.initial);
  }
  out += num(in, "periodSeconds", p.period) + num(in, "timeoutSeconds", p.timeout) +
         num(in, "failureThreshold", p.failure);
  return out;
}

std::string deployment(const service_plan& s, const options& o) {
  std::string out = header(o, "");
  out += "apiVersion: apps/v1\nkind: Deployment\n" + metadata(o, s.name, s.name);
  out += "spec:\n" + num(2, "replicas", s.replicas);
  if (s.has_pvc) {
    out += "  strategy:\n    type: Recreate\n";
  }
  out += "  selector:\n    matchLabels:\n" + labels(6, o, s.name);
  out += "  template:\n    metadata:\n      labels:\n" + labels(8, o, s.name);
  out += "    spec:\n";
  if (!o.image_pull_secret.empty()) {
    out += "      imagePullSecrets:\n        - name: " + yaml_scalar(o.image_pull_secret) + "\n";
  }
  out += "      containers:\n        - name: " + yaml_scalar(s.name) + "\n";
  const int c = 10;
  out += kv(c, "image", s.image);
  if (!s.command.empty()) {
    out += list(c, "command", s.command);
  }
  if (!s.args.empty()) {
    out += list(c, "args", s.args);
  }
  if (s.working_dir) {
    out += kv(c, "workingDir", *s.working_dir);
  }
  if (!s.ports.empty()) {
    out += pad(c) + "ports:\n";
    for (const auto& p : s.ports) {
      out += pad(c + 2) + "- containerPort: " + std::to_string(p.target) + "\n" +
             kv(c + 4, "protocol", p.protocol);
    }
  }
  const bool has_config = !s.config.empty();
  const bool has_secret = !s.secret_keys.empty();
  if (has_config || has_secret || s.env_file_secret) {
    out += pad(c) + "envFrom:\n";
    if (has_config) {
      out += pad(c + 2) + "- configMapRef:\n" + kv(c + 6, "name", s.name + "-config");
    }
    if (has_secret) {
      out += pad(c + 2) + "- secretRef:\n" + kv(c + 6, "name", s.name + "-secrets");
    }
    if (s.env_file_secret) {
      out += pad(c + 2) + "- secretRef:\n" + kv(c + 6, "name", s.name + "-env");
    }
  }
  if (!s.templated.empty()) {
    out += pad(c) + "env:\n";
    for (const auto& [name, value] : s.templated) {
      out += pad(c + 2) + "- name: " + yaml_scalar(name) + "\n" + kv(c + 4, "value", value);
    }
  }
  const auto& r = s.res;
  if (!r.cpu_limit.empty() || !r.memory_limit.empty() || !r.cpu_request.empty() ||
      !r.memory_request.empty()) {
    out += pad(c) + "resources:\n";
    if (!r.cpu_limit.empty() || !r.memory_limit.empty()) {
      out += pad(c + 2) + "limits:\n";
      out += r.cpu_limit.empty() ? "" : kv(c + 4, "cpu", r.cpu_limit);
      out += r.memory_limit.empty() ? "" : kv(c + 4, "memory", r.memory_limit);
    }
    if (!r.cpu_request.empty() || !r.memory_request.empty()) {
      out += pad(c + 2) + "requests:\n";
      out += r.cpu_request.empty() ? "" : kv(c + 4, "cpu", r.cpu_request);
      out += r.memory_request.empty() ? "" : kv(c + 4, "memory", r.memory_request);
    }
  }
  if (s.probe) {
    out += probe(c, "readinessProbe", *s.probe) + probe(c, "livenessProbe", *s.probe);
  }
  if (!s.volumes.empty()) {
    out += pad(c) + "volumeMounts:\n";
    for (const auto& v : s.volumes) {
      out += pad(c + 2) + "- name: " + yaml_scalar(v.name) + "\n" +
             kv(c + 4, "mountPath", v.mount_path);
      if (!v.key.empty()) {
        out += kv(c + 4, "subPath", v.key);
      }
      if (v.read_only) {
        out += pad(c + 4) + "readOnly: true\n";
      }
    }
    out += "      volumes:\n";
    std::set<std::string> seen;
    for (const auto& v : s.volumes) {
      if (!seen.insert(v.name).second) {
        continue;
      }
      out += "        - name: " + yaml_scalar(v.name) + "\n";
      switch (v.source) {
        case volume_source::pvc:
          out += "          persistentVolumeClaim:\n" + kv(12, "claimName", v.object);
          break;
        case volume_source::empty_dir:
          out += "          emptyDir: {}\n";
          break;
        case volume_source::memory:
          out += "          emptyDir:\n            medium: Memory\n";
          break;
        case volume_source::config_file:
          out += "          configMap:\n" + kv(12, "name", v.object);
          break;
        case volume_source::secret:
          out += "          secret:\n" + kv(12, "secretName", v.object);
          break;
      }
    }
  }
  return out;
}

std::string service_object(const service_plan& s, const options& o) {
  std::string out = header(o, "");
  out += "apiVersion: v1\nkind: Service\n" + metadata(o, s.name, s.name);
  out += "spec:\n  type: ClusterIP\n  selector:\n" + labels(4, o, s.name) + "  ports:\n";
  for (const auto& p : s.ports) {
    std::string name = p.name.empty() ? "" : dns_label(p.name);
    if (name.empty()) {
      name = (p.protocol == "TCP"   ? "tcp-"
              : p.protocol == "UDP" ? "udp-"
                                    : "sctp-") +
             std::to_string(p.target);
    }
    out += "    - name: " + yaml_scalar(name) + "\n" + num(6, "port", p.target) +
           num(6, "targetPort", p.target) + kv(6, "protocol", p.protocol);
  }
  return out;
}

std::string network_policy(const service_plan& s, const options& o) {
  std::string out = header(o, "Only the pods of " + o.app + " may connect to " + s.name + ".");
  out += "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n" + metadata(o, s.name, s.name);
  out += "spec:\n  podSelector:\n    matchLabels:\n" + labels(6, o, s.name);
  out +=
      "  policyTypes:\n    - Ingress\n  ingress:\n    - from:\n        - podSelector:\n"
      "            matchLabels:\n              app.kubernetes.io/part-of: " +
      yaml_scalar(o.app) + "\n";
  return out;
}

std::string config_map(const options& o, std::string_view name, std::string_view owner,
                       const std::map<std::string, std::string>& data,
                       const std::map<std::string, std::string>& comments, std::string_view what) {
  std::string out = header(o, what);
  out += "apiVersion: v1\nkind: ConfigMap\n" + metadata(o, name, owner);
  if (data.empty()) {
    return out + "data: {}\n";
  }
  out += "data:\n";
  for (const auto& [k, v] : data) {
    if (const auto it = comments.find(k); it != comments.end()) {
      out += "  # " + it->second + "\n";
    }
    out += kv(2, k, v);
  }
  return out;
}

// A secret to fill: a SOPS-encrypted Secret stub or an ExternalSecret, never a value.
std::string secret_stub(const options& o, std::string_view name, std::string_view owner,
                        const std::vector<std::string>& keys, std::string_view remote) {
  if (o.secrets == secret_backend::external_secrets) {
    std::string out = header(o, "The values come from the secret store; nothing secret is here.");
    out += "apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\n" +
           metadata(o, name, owner);
    out += "spec:\n  refreshInterval: 1h\n  secretStoreRef:\n    kind: ClusterSecretStore\n" +
           kv(4, "name", o.secret_store) + "  target:\n" + kv(4, "name", name);
    if (keys.empty()) {
      out += "  dataFrom:\n    - extract:\n" + kv(8, "key", remote);
      return out;
    }
    out += "  data:\n";
    for (const auto& k : keys) {
      out += "    - secretKey: " + yaml_scalar(k) + "\n      remoteRef:\n" + kv(8, "key", remote) +
             kv(8, "property", k);
    }
    return out;
  }
  std::string out = header(o,
                           "Fill in the values, then encrypt before committing: "
                           "sops --encrypt --in-place <this file>");
  out += "apiVersion: v1\nkind: Secret\n" + metadata(o, name, owner) + "type: Opaque\n";
  if (keys.empty()) {
    return out + "stringData: {}\n";
  }
  out += "stringData:\n";
  for (const auto& k : keys) {
    out += kv(2, k, "");
  }
  return out;
}

std::string pvc(const pvc_plan& c, const options& o) {
  std::string out = header(o, "");
  out += "apiVersion: v1\nkind: PersistentVolumeClaim\n" + metadata(o, c.name, c.name);
  out += "spec:\n  accessModes:\n    - ReadWriteOnce\n  resources:\n    requests:\n" +
         kv(6, "storage", c.size);
  return out;
}

std::string env_domain(std::string_view env, std::string_view domain) {
  if (env == "production") {
    return std::string(domain);
  }
  return std::string(env) + "." + std::string(domain);
}

std::string ingress(const service_plan& s, const options& o, std::string_view host) {
  std::string out = header(o, "");
  out += "apiVersion: networking.k8s.io/v1\nkind: Ingress\n" + metadata(o, s.name, s.name);
  if (!o.ingress_annotations.empty()) {
    out += "  annotations:\n";
    for (const auto& [k, v] : o.ingress_annotations) {
      out += kv(4, k, v);
    }
  }
  out += "spec:\n";
  if (!o.ingress_class.empty()) {
    out += kv(2, "ingressClassName", o.ingress_class);
  }
  out += "  rules:\n    - host: " + yaml_scalar(host) + "\n      http:\n        paths:\n" +
         "          - path: /\n            pathType: Prefix\n            backend:\n" +
         "              service:\n" + kv(16, "name", s.name) + "                port:\n" +
         num(18, "number", s.ports.front().target);
  return out;
}

std::string namespace_for(const options& o, std::string_view org, std::string_view env) {
  std::string out = o.namespace_pattern;
  for (const auto& [from, to] : {std::pair<std::string_view, std::string_view>{"{org}", org},
                                 {"{app}", o.app},
                                 {"{env}", env}}) {
    for (std::size_t p = 0; (p = out.find(from, p)) != std::string::npos; p += to.size()) {
      out.replace(p, from.size(), to);
    }
  }
  return out;
}

}  // namespace

std::vector<output_file> write_manifests(const app_plan& plan, const options& o,
                                         std::vector<std::string>& log) {
  std::vector<output_file> files;
  const std::string base = "apps/" + o.app + "/base";
  std::vector<std::string> resources;
  auto add = [&](const std::string& dir, const std::string& name, std::string content,
                 std::vector<std::string>* listed) {
    files.push_back({dir + "/" + name, std::move(content)});
    if (listed != nullptr) {
      listed->push_back(name);
    }
  };
  for (const auto& s : plan.services) {
    add(base, s.name + "-deployment.yaml", deployment(s, o), &resources);
    if (!s.ports.empty()) {
      add(base, s.name + "-service.yaml", service_object(s, o), &resources);
    }
    if (!s.is_public) {
      add(base, s.name + "-networkpolicy.yaml", network_policy(s, o), &resources);
    }
    if (!s.config.empty()) {
      add(base, s.name + "-configmap.yaml",
          config_map(o, s.name + "-config", s.name, s.config, {},
                     "Plain environment values of " + s.compose_name + "; empty ones are to fill."),
          &resources);
    }
    if (!s.config_files.empty()) {
      std::map<std::string, std::string> empty, comments;
      for (const auto& [k, src] : s.config_files) {
        empty[k] = "";
        comments[k] = "fill with the content of " + src + " (a bind mount in the compose file)";
      }
      add(base, s.name + "-files-configmap.yaml",
          config_map(o, s.name + "-files", s.name, empty, comments, ""), &resources);
    }
    const std::string kind = o.secrets == secret_backend::sops ? "secret" : "externalsecret";
    if (!s.secret_keys.empty()) {
      std::vector<std::string> keys;
      for (const auto& [k, why] : s.secret_keys) {
        keys.push_back(k);
      }
      add(base, s.name + "-" + kind + ".yaml",
          secret_stub(o, s.name + "-secrets", s.name, keys, o.app + "/" + s.name), &resources);
    }
    if (s.env_file_secret) {
      add(base, s.name + "-env-" + kind + ".yaml",
          secret_stub(o, s.name + "-env", s.name, {}, o.app + "/" + s.name + "-env"), &resources);
    }
  }
  for (const auto& c : plan.pvcs) {
    add(base, c.name + "-pvc.yaml", pvc(c, o), &resources);
  }
  for (const auto& sec : plan.secrets) {
    const std::string kind = o.secrets == secret_backend::sops ? "secret" : "externalsecret";
    add(base, sec.name + "-" + kind + ".yaml",
        secret_stub(o, sec.name, sec.name, {sec.key}, o.app + "/" + sec.name), &resources);
  }
  std::sort(resources.begin(), resources.end());
  std::string kust = header(o, "") +
                     "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
                     list(0, "resources", resources);
  add(base, "kustomization.yaml", std::move(kust), nullptr);
  log.push_back("layout: base " + base + "/ (" + std::to_string(resources.size()) + " objects)");

  for (const auto& env : o.envs) {
    const auto it = o.overlay_dirs.find(env);
    const std::string dir =
        it != o.overlay_dirs.end() ? it->second : "apps/" + o.app + "/overlays/" + env;
    const auto ns = namespace_for(o, plan.org, env);
    std::vector<std::string> own;
    for (const auto& s : plan.services) {
      if (s.is_public) {
        const auto host = s.host_label + "." + env_domain(env, plan.domain);
        add(dir, s.name + "-ingress.yaml", ingress(s, o, host), &own);
        log.push_back(env + ": " + s.compose_name + ": Ingress at " + host);
      }
    }
    std::sort(own.begin(), own.end());
    std::vector<std::string> res{relative_path(dir, base)};
    res.insert(res.end(), own.begin(), own.end());
    std::string k = header(o, "") +
                    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
                    kv(0, "namespace", ns) + list(0, "resources", res);
    std::string images;
    for (const auto& s : plan.services) {
      if (!s.marked) {
        continue;
      }
      const auto at = s.tag.find('@');
      const std::string tag = at == std::string::npos ? s.tag : s.tag.substr(0, at);
      images += "  - name: " + yaml_scalar(s.repository) +
                "\n    newTag: " + yaml_scalar(tag.empty() ? "latest" : tag) +
                " # {\"$imagepolicy\": \"" + o.rules_namespace + ":" + o.app + "-" + s.name +
                ":tag\"}\n";
    }
    if (!images.empty()) {
      k += "images:\n" + images;
    }
    std::string replicas;
    if (env == "production" && o.production_replicas > 0) {
      for (const auto& s : plan.services) {
        // Only the app's own images: a second postgres or redis pod is a second database.
        if (s.replicas_explicit || s.has_pvc || !s.marked || s.replicas >= o.production_replicas) {
          continue;
        }
        replicas +=
            "  - name: " + yaml_scalar(s.name) + "\n" + num(4, "count", o.production_replicas);
        log.push_back(
            env + ": " + s.compose_name + ": replicas " + std::to_string(o.production_replicas) +
            " (onboarding.productionReplicas; third-party images and services with a claim stay at "
            "one)");
      }
    }
    if (!replicas.empty()) {
      k += "replicas:\n" + replicas;
    }
    add(dir, "kustomization.yaml", std::move(k), nullptr);
    log.push_back("layout: overlay " + dir + "/ (namespace " + ns + ")");
  }
  std::sort(files.begin(), files.end(),
            [](const output_file& a, const output_file& b) { return a.path < b.path; });
  return files;
}

}  // namespace ferry::onboard::detail
