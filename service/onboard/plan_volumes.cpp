// Volumes and compose secrets of one service (docs/onboarding.md, "Volumes", "Secrets").

#include <algorithm>

#include "service/onboard/plan.hpp"

namespace ferry::onboard::detail {
namespace {

// Default claim size (issue 13: "10Gi unless x-ferry.size").
constexpr std::string_view k_default_size = "10Gi";

std::string base_name(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') {
    path.remove_suffix(1);
  }
  const auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// A bind mount of a single file (./nginx.conf, ./init.sql) rather than a directory: its name
// has an extension, on the host or in the container.
bool looks_like_file(const mount& m) {
  for (const auto& p : {m.source, m.target}) {
    const auto b = base_name(p);
    const auto dot = b.rfind('.');
    if (dot != std::string::npos && dot > 0 && dot + 1 < b.size()) {
      return true;
    }
  }
  return false;
}

// A ConfigMap key: [-._a-zA-Z0-9]+.
std::string config_key(std::string_view name) {
  std::string out;
  for (char c : name) {
    out +=
        (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_') ? c : '_';
  }
  return out.empty() ? "file" : out;
}

}  // namespace

void choose_volumes(const service& s, const compose_file& compose, const options& opts,
                    service_plan& p, app_plan& app, std::vector<std::string>& log) {
  (void)opts;
  int anonymous = 0;
  for (const auto& m : s.volumes) {
    const auto where =
        s.name + ": volumes " + (m.source.empty() ? "" : m.source + ":") + m.target + ": ";
    volume_plan v;
    v.mount_path = m.target;
    v.read_only = m.read_only;
    switch (m.kind) {
      case mount_kind::named: {
        const auto claim = dns_label(m.source);
        if (claim.empty()) {
          log.push_back(where + "skipped: the volume name makes no Kubernetes name");
          continue;
        }
        const auto top = std::find_if(compose.volumes.begin(), compose.volumes.end(),
                                      [&](const named_volume& nv) { return nv.name == m.source; });
        v.name = claim;
        v.source = volume_source::pvc;
        v.object = claim;
        p.has_pvc = true;
        if (top != compose.volumes.end() && top->external) {
          log.push_back(where + "PersistentVolumeClaim " + claim +
                        " referenced, not created (external: true)");
          break;
        }
        const auto existing = std::find_if(app.pvcs.begin(), app.pvcs.end(),
                                           [&](const pvc_plan& c) { return c.name == claim; });
        if (existing != app.pvcs.end()) {
          log.push_back(where + "PersistentVolumeClaim " + claim +
                        " shared with another service (ReadWriteOnce: both pods must run on "
                        "one node)");
          break;
        }
        const std::string size = s.overrides.size.value_or(std::string(k_default_size));
        app.pvcs.push_back({claim, size});
        log.push_back(
            where + "PersistentVolumeClaim " + claim + " (ReadWriteOnce, " + size +
            (s.overrides.size ? ", x-ferry.size)" : ", the default; x-ferry.size sets it)"));
        break;
      }
      case mount_kind::anonymous:
        v.name = "anon-" + std::to_string(++anonymous);
        v.source = volume_source::empty_dir;
        log.push_back(where + "emptyDir (an anonymous volume lives as long as the pod)");
        break;
      case mount_kind::tmpfs:
        v.name = "tmpfs-" + std::to_string(++anonymous);
        v.source = volume_source::memory;
        log.push_back(where + "emptyDir in memory (tmpfs)");
        break;
      case mount_kind::bind:
        if (m.source.find("docker.sock") != std::string::npos) {
          log.push_back(where +
                        "bind mount not carried over: the Docker socket does not exist "
                        "in a cluster");
          continue;
        }
        if (looks_like_file(m)) {
          const auto key = config_key(base_name(m.target));
          p.config_files[key] = m.source;
          v.name = "files";
          v.source = volume_source::config_file;
          v.object = p.name + "-files";
          v.key = key;
          log.push_back(where + "bind mount of a file: ConfigMap " + p.name + "-files key " + key +
                        " to fill with " + m.source + "'s content, mounted in its place");
          break;
        }
        log.push_back(where +
                      "bind mount not carried over (no host paths in a cluster): the "
                      "code belongs in the image; data needs a named volume");
        continue;
    }
    p.volumes.push_back(std::move(v));
  }
  if (p.has_pvc) {
    log.push_back(s.name +
                  ": strategy Recreate (a ReadWriteOnce claim cannot be mounted by the "
                  "old and the new pod at once)");
  }
  for (const auto& u : s.secrets) {
    const auto where = s.name + ": secrets " + u.source + ": ";
    const auto top = std::find_if(compose.secrets.begin(), compose.secrets.end(),
                                  [&](const top_secret& t) { return t.name == u.source; });
    const auto name = dns_label(u.source);
    if (name.empty()) {
      log.push_back(where + "skipped: the name makes no Kubernetes name");
      continue;
    }
    volume_plan v;
    v.name = "secret-" + name;
    v.source = volume_source::secret;
    v.object = name;
    v.key = config_key(u.source);
    v.mount_path = u.target.starts_with('/') ? u.target : "/run/secrets/" + u.target;
    v.read_only = true;
    p.volumes.push_back(std::move(v));
    const bool known = std::any_of(app.secrets.begin(), app.secrets.end(),
                                   [&](const secret_plan& sp) { return sp.name == name; });
    if (!known) {
      std::string from = top == compose.secrets.end() ? "undeclared"
                         : !top->file.empty()         ? "file " + top->file
                         : !top->environment.empty()  ? "variable " + top->environment
                                                      : "external";
      app.secrets.push_back({name, config_key(u.source), from});
    }
    log.push_back(where + "Secret " + name + " to fill (the compose secret's " +
                  (top == compose.secrets.end() ? std::string("declaration is missing")
                                                : "value is never read") +
                  "), mounted at " +
                  (u.target.starts_with('/') ? u.target : "/run/secrets/" + u.target));
  }
  std::sort(app.pvcs.begin(), app.pvcs.end(),
            [](const pvc_plan& a, const pvc_plan& b) { return a.name < b.name; });
  std::sort(app.secrets.begin(), app.secrets.end(),
            [](const secret_plan& a, const secret_plan& b) { return a.name < b.name; });
}

}  // namespace ferry::onboard::detail
