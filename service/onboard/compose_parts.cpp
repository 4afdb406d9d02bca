// The compose reader's pieces: scalar helpers and the readers of the structured service keys
// (ports, healthcheck, environment, volumes, deploy, x-ferry). Internal to ferry_onboard.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "service/onboard/compose_yaml.hpp"

namespace ferry::onboard::detail {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw compose_error{where + ": " + what};
}

// --- scalar helpers -------------------------------------------------------------------------
std::string scalar(const YAML::Node& n, const std::string& where) {
  if (!n.IsScalar()) {
    fail(where, "expected a single value, found " + std::string(n.IsMap()        ? "a mapping"
                                                                : n.IsSequence() ? "a list"
                                                                                 : "nothing"));
  }
  return n.Scalar();
}

std::optional<int> to_int(std::string_view s) {
  int v = 0;
  const auto* end = s.data() + s.size();
  const auto r = std::from_chars(s.data(), end, v);
  if (r.ec != std::errc() || r.ptr != end) {
    return std::nullopt;
  }
  return v;
}

int integer(const YAML::Node& n, const std::string& where, int lo, int hi) {
  const auto s = scalar(n, where);
  const auto v = to_int(s);
  if (!v || *v < lo || *v > hi) {
    fail(where, "expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) +
                    ", found \"" + s + "\"");
  }
  return *v;
}

bool boolean(const YAML::Node& n, const std::string& where) {
  const auto s = scalar(n, where);
  if (s == "true" || s == "True" || s == "TRUE") {
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    return false;
  }
  fail(where, "expected true or false, found \"" + s + "\"");
}

std::vector<std::string> string_list(const YAML::Node& n, const std::string& where) {
  std::vector<std::string> out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
    return out;
  }
  if (!n.IsSequence()) {
    fail(where, "expected a value or a list of values");
  }
  std::size_t i = 0;
  for (const auto& item : n) {
    out.push_back(scalar(item, where + "[" + std::to_string(i++) + "]"));
  }
  return out;
}

// A command as compose runs it: a list is the argv, a string is split like a shell would for
// simple words (compose itself uses shlex); quotes group words.
std::vector<std::string> command_argv(const YAML::Node& n, const std::string& where) {
  if (n.IsSequence()) {
    return string_list(n, where);
  }
  const auto s = scalar(n, where);
  std::vector<std::string> out;
  std::string cur;
  bool have = false;
  char quote = 0;
  for (char c : s) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        cur += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      have = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (have) {
        out.push_back(cur);
        cur.clear();
        have = false;
      }
    } else {
      cur += c;
      have = true;
    }
  }
  if (quote != 0) {
    fail(where, "unbalanced quote in \"" + s + "\"");
  }
  if (have) {
    out.push_back(cur);
  }
  return out;
}

// Mapping entries in file order with YAML merge keys (<<: *anchor) resolved: yaml-cpp 0.7's
// nodes keep `<<` as an ordinary key. Keys written in the mapping win over merged ones.
std::vector<std::pair<std::string, YAML::Node>> entries(const YAML::Node& map,
                                                        const std::string& where) {
  if (!map.IsMap()) {
    fail(where, "expected a mapping");
  }
  std::vector<std::pair<std::string, YAML::Node>> own, merged;
  for (const auto& kv : map) {
    const auto key = scalar(kv.first, where);
    if (key == "<<") {
      const auto& v = kv.second;
      if (v.IsMap()) {
        for (auto& e : entries(v, where + ".<<")) {
          merged.push_back(std::move(e));
        }
      } else if (v.IsSequence()) {
        for (const auto& m : v) {
          for (auto& e : entries(m, where + ".<<")) {
            merged.push_back(std::move(e));
          }
        }
      } else {
        fail(where + ".<<", "a merge key needs a mapping or a list of mappings");
      }
      continue;
    }
    own.emplace_back(key, kv.second);
  }
  std::set<std::string> seen;
  for (const auto& [k, v] : own) {
    seen.insert(k);
  }
  for (auto& e : merged) {
    if (seen.insert(e.first).second) {
      own.push_back(std::move(e));
    }
  }
  return own;
}

// --- service keys ---------------------------------------------------------------------------
// Compose-only keys: read, not carried over, each with the reason the log gives.
const std::map<std::string_view, std::string_view>& ignored_keys() {
  static const std::map<std::string_view, std::string_view> m{
      {"depends_on", "Kubernetes starts pods independently; readiness probes gate traffic"},
      {"restart", "Deployments always restart their pods"},
      {"container_name", "Kubernetes names pods itself; the Service keeps the compose name"},
      {"links", "Services are reached by name in the namespace"},
      {"external_links", "Services are reached by name in the namespace"},
      {"labels", "container labels have no pod equivalent here"},
      {"logging", "the cluster's log collection applies"},
      {"hostname", "pods get their own host names"},
      {"domainname", "pods get their own host names"},
      {"stdin_open", "no interactive terminals in a Deployment"},
      {"tty", "no interactive terminals in a Deployment"},
      {"platform", "the nodes decide the platform"},
      {"pull_policy", "Kubernetes' default pull policy applies"},
      {"extra_hosts", "use Services or the cluster DNS"},
      {"dns", "the cluster DNS applies"},
      {"dns_search", "the cluster DNS applies"},
      {"dns_opt", "the cluster DNS applies"},
      {"stop_signal", "Kubernetes sends SIGTERM"},
      {"stop_grace_period", "terminationGracePeriodSeconds keeps its default"},
      {"init", "add an init process to the image if it needs one"},
      {"user", "set securityContext.runAsUser by hand if needed"},
      {"configs", "make a ConfigMap and mount it by hand"},
      {"develop", "compose watch is for local development"},
      {"attach", "compose-only"},
      {"annotations", "compose-only"},
      {"cap_add", "set securityContext.capabilities by hand if needed"},
      {"cap_drop", "set securityContext.capabilities by hand if needed"},
      {"read_only", "set securityContext.readOnlyRootFilesystem by hand if needed"},
      {"shm_size", "mount an emptyDir with medium Memory at /dev/shm if needed"},
      {"ulimits", "the node's limits apply"},
      {"sysctls", "set securityContext.sysctls by hand if needed"},
      {"security_opt", "compose-only"},
      {"mem_swappiness", "no swap settings in Kubernetes"},
      {"memswap_limit", "no swap settings in Kubernetes"},
      {"oom_score_adj", "Kubernetes sets it from the QoS class"},
      {"oom_kill_disable", "Kubernetes sets it from the QoS class"},
      {"pids_limit", "the node's limits apply"},
      {"cpu_shares", "use deploy.resources"},
      {"cpu_quota", "use deploy.resources"},
      {"cpu_period", "use deploy.resources"},
      {"cpuset", "use deploy.resources"},
      {"stop_grace", "compose-only"},
      {"mac_address", "pods get their own addresses"},
      {"label_file", "compose-only"},
      {"post_start", "add a lifecycle.postStart hook by hand"},
      {"pre_stop", "add a lifecycle.preStop hook by hand"},
  };
  return m;
}

// Features with no equivalent the conversion could keep: refused rather than half-converted.
const std::map<std::string_view, std::string_view>& refused_keys() {
  static const std::map<std::string_view, std::string_view> m{
      {"extends",
       "extends pulls in other files; run `docker compose config` and onboard its "
       "output"},
      {"volumes_from", "pods cannot share another service's volumes; use a named volume"},
      {"devices", "host devices cannot be carried into a cluster"},
      {"gpus", "GPU scheduling needs a device plugin; write the resources by hand"},
      {"runtime", "the runtime is the cluster's"},
      {"isolation", "Windows isolation has no Kubernetes equivalent"},
      {"cgroup", "the kubelet owns cgroups"},
      {"cgroup_parent", "the kubelet owns cgroups"},
      {"userns_mode", "user namespaces are the cluster's"},
      {"uts", "the host UTS namespace cannot be shared"},
      {"provider", "provider services are not containers"},
      {"use_api_socket", "the Docker API socket does not exist in a cluster"},
      {"blkio_config", "block IO weights have no Kubernetes equivalent"},
      {"device_cgroup_rules", "host devices cannot be carried into a cluster"},
      {"credential_spec", "Windows credential specs have no equivalent here"},
      {"storage_opt", "storage drivers are the node's"},
      {"group_add", "set securityContext.supplementalGroups by hand"},
      {"cpu_count", "Windows-only"},
      {"cpu_percent", "Windows-only"},
      {"cpu_rt_runtime", "realtime scheduling is the node's"},
      {"cpu_rt_period", "realtime scheduling is the node's"},
  };
  return m;
}

void parse_port_range(std::string_view s, const std::string& where, std::vector<int>& out) {
  const auto dash = s.find('-');
  const auto lo = to_int(s.substr(0, dash));
  const auto hi = dash == std::string_view::npos ? lo : to_int(s.substr(dash + 1));
  if (!lo || !hi || *lo < 1 || *hi > 65535 || *hi < *lo) {
    fail(where, "\"" + std::string(s) + "\" is not a port or a port range (1-65535)");
  }
  if (*hi - *lo >= 20) {
    fail(where, "the range " + std::string(s) +
                    " has more than 20 ports; list the ones the service serves (x-ferry.port)");
  }
  for (int p = *lo; p <= *hi; ++p) {
    out.push_back(p);
  }
}

std::string upper_protocol(std::string p, const std::string& where) {
  std::transform(p.begin(), p.end(), p.begin(), [](unsigned char c) { return std::toupper(c); });
  if (p != "TCP" && p != "UDP" && p != "SCTP") {
    fail(where, "unknown protocol \"" + p + "\" (tcp or udp)");
  }
  return p;
}

void read_ports(const YAML::Node& n, const std::string& where, service& s) {
  if (!n.IsSequence()) {
    fail(where, "expected a list of ports");
  }
  std::size_t i = 0;
  for (const auto& item : n) {
    const auto at = where + "[" + std::to_string(i++) + "]";
    if (item.IsMap()) {
      port_spec p;
      bool have_target = false;
      for (const auto& [k, v] : entries(item, at)) {
        if (k == "target") {
          p.target = integer(v, at + ".target", 1, 65535);
          have_target = true;
        } else if (k == "published") {
          std::vector<int> pub;
          parse_port_range(scalar(v, at + ".published"), at + ".published", pub);
          p.published = pub.front();
        } else if (k == "protocol") {
          p.protocol = upper_protocol(scalar(v, at + ".protocol"), at + ".protocol");
        } else if (k == "name") {
          p.name = scalar(v, at + ".name");
        } else if (k != "mode" && k != "host_ip" && k != "app_protocol" && !k.starts_with("x-")) {
          fail(at, "unknown port key \"" + k + "\"");
        }
      }
      if (!have_target) {
        fail(at, "a long-syntax port needs target");
      }
      s.ports.push_back(std::move(p));
      continue;
    }
    std::string text = scalar(item, at);
    std::string protocol = "TCP";
    if (const auto slash = text.find('/'); slash != std::string::npos) {
      protocol = upper_protocol(text.substr(slash + 1), at);
      text.resize(slash);
    }
    const auto colon = text.rfind(':');
    std::vector<int> targets, published;
    parse_port_range(colon == std::string::npos ? text : text.substr(colon + 1), at, targets);
    if (colon != std::string::npos) {
      auto host = std::string_view(text).substr(0, colon);
      const auto c2 = host.rfind(':');  // host_ip:published
      const auto pub = c2 == std::string_view::npos ? host : host.substr(c2 + 1);
      if (!pub.empty()) {
        parse_port_range(pub, at, published);
      }
    }
    for (std::size_t k = 0; k < targets.size(); ++k) {
      port_spec p;
      p.target = targets[k];
      p.protocol = protocol;
      if (k < published.size()) {
        p.published = published[k];
      }
      s.ports.push_back(std::move(p));
    }
  }
}

healthcheck read_health(const YAML::Node& n, const std::string& where) {
  healthcheck h;
  bool have_test = false;
  for (const auto& [k, v] : entries(n, where)) {
    const auto at = where + "." + k;
    if (k == "test") {
      have_test = true;
      if (v.IsScalar()) {
        h.form = health_form::shell;
        h.shell = v.Scalar();
      } else {
        const auto argv = string_list(v, at);
        if (argv.empty()) {
          fail(at, "an empty test");
        }
        if (argv[0] == "NONE") {
          h.form = health_form::none;
          h.disabled = true;
        } else if (argv[0] == "CMD") {
          h.argv.assign(argv.begin() + 1, argv.end());
          if (h.argv.empty()) {
            fail(at, "CMD needs a command");
          }
        } else if (argv[0] == "CMD-SHELL") {
          h.form = health_form::shell;
          for (std::size_t i = 1; i < argv.size(); ++i) {
            h.shell += (i > 1 ? " " : "") + argv[i];
          }
        } else {
          fail(at, "a test list starts with CMD, CMD-SHELL or NONE, found \"" + argv[0] + "\"");
        }
      }
    } else if (k == "interval" || k == "timeout" || k == "start_period") {
      const auto text = scalar(v, at);
      const auto secs = parse_duration_seconds(text);
      if (!secs) {
        fail(at, "\"" + text + "\" is not a duration (e.g. 30s, 1m30s)");
      }
      (k == "interval" ? h.interval_s : k == "timeout" ? h.timeout_s : h.start_period_s) = *secs;
    } else if (k == "retries") {
      h.retries = integer(v, at, 1, 1000);
    } else if (k == "disable") {
      h.disabled = boolean(v, at);
    } else if (k != "start_interval" && !k.starts_with("x-")) {
      fail(at, "unknown healthcheck key");
    }
  }
  if (!have_test && !h.disabled) {
    fail(where, "a healthcheck needs test (or disable: true)");
  }
  // Compose turns $$ into a literal $ before the command reaches the shell.
  for (std::size_t p = 0; (p = h.shell.find("$$", p)) != std::string::npos; ++p) {
    h.shell.erase(p, 1);
  }
  return h;
}

void read_environment(const YAML::Node& n, const std::string& where, service& s) {
  std::set<std::string> seen;
  auto add = [&](std::string name, std::optional<std::string> value, const std::string& at) {
    if (name.empty()) {
      fail(at, "an environment variable needs a name");
    }
    if (!seen.insert(name).second) {
      fail(at, "variable " + name + " is set twice");
    }
    s.environment.push_back({std::move(name), std::move(value)});
  };
  if (n.IsMap()) {
    for (const auto& [name, value] : entries(n, where)) {
      const auto at = where + "." + name;
      if (value.IsNull()) {
        add(name, std::nullopt, at);
      } else {
        add(name, scalar(value, at), at);
      }
    }
    return;
  }
  const auto list = string_list(n, where);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto eq = list[i].find('=');
    const auto at = where + "[" + std::to_string(i) + "]";
    if (eq == std::string::npos) {
      add(list[i], std::nullopt, at);
    } else {
      add(list[i].substr(0, eq), list[i].substr(eq + 1), at);
    }
  }
}

bool looks_like_path(std::string_view src) {
  return src.starts_with('.') || src.starts_with('/') || src.starts_with('~') ||
         src.starts_with('$') || src.find('/') != std::string_view::npos;
}

void read_volumes(const YAML::Node& n, const std::string& where, service& s) {
  if (!n.IsSequence()) {
    fail(where, "expected a list of volumes");
  }
  std::size_t i = 0;
  for (const auto& item : n) {
    const auto at = where + "[" + std::to_string(i++) + "]";
    mount m;
    if (item.IsMap()) {
      std::string type;
      for (const auto& [k, v] : entries(item, at)) {
        if (k == "type") {
          type = scalar(v, at + ".type");
        } else if (k == "source") {
          m.source = scalar(v, at + ".source");
        } else if (k == "target") {
          m.target = scalar(v, at + ".target");
        } else if (k == "read_only") {
          m.read_only = boolean(v, at + ".read_only");
        } else if (k != "volume" && k != "bind" && k != "tmpfs" && k != "consistency" &&
                   !k.starts_with("x-")) {
          fail(at, "unknown volume key \"" + k + "\"");
        }
      }
      if (type == "volume") {
        m.kind = m.source.empty() ? mount_kind::anonymous : mount_kind::named;
      } else if (type == "bind") {
        m.kind = mount_kind::bind;
      } else if (type == "tmpfs") {
        m.kind = mount_kind::tmpfs;
      } else {
        fail(at + ".type", "volume type \"" + type + "\" is not supported (volume, bind, tmpfs)");
      }
    } else {
      const auto text = scalar(item, at);
      std::vector<std::string> parts;
      std::size_t start = 0;
      for (std::size_t p; (p = text.find(':', start)) != std::string::npos; start = p + 1) {
        parts.push_back(text.substr(start, p - start));
      }
      parts.push_back(text.substr(start));
      if (parts.size() == 1) {
        m.kind = mount_kind::anonymous;
        m.target = parts[0];
      } else if (parts.size() <= 3) {
        m.source = parts[0];
        m.target = parts[1];
        m.kind = looks_like_path(m.source) ? mount_kind::bind : mount_kind::named;
        if (parts.size() == 3) {
          m.read_only = parts[2].find("ro") != std::string::npos;
        }
      } else {
        fail(at, "\"" + text + "\" is not SOURCE:TARGET[:MODE]");
      }
    }
    if (m.target.empty() || m.target[0] != '/') {
      fail(at, "the mount target must be an absolute container path");
    }
    s.volumes.push_back(std::move(m));
  }
}

void read_deploy(const YAML::Node& n, const std::string& where, service& s,
                 std::vector<note>& notes) {
  for (const auto& [k, v] : entries(n, where)) {
    const auto at = where + "." + k;
    if (k == "replicas") {
      s.replicas = integer(v, at, 0, 1000);
    } else if (k == "resources") {
      for (const auto& [rk, rv] : entries(v, at)) {
        const auto rat = at + "." + rk;
        if (rk != "limits" && rk != "reservations") {
          fail(rat, "unknown resources key");
        }
        const bool lim = rk == "limits";
        for (const auto& [qk, qv] : entries(rv, rat)) {
          const auto qat = rat + "." + qk;
          const auto text = scalar(qv, qat);
          if (qk == "cpus") {
            const auto q = cpu_quantity(text);
            if (!q) {
              fail(qat, "\"" + text + "\" is not a number of CPUs");
            }
            (lim ? s.limits.cpu_limit : s.limits.cpu_request) = *q;
          } else if (qk == "memory") {
            const auto q = memory_quantity(text);
            if (!q) {
              fail(qat, "\"" + text + "\" is not a byte value (e.g. 512m, 1g)");
            }
            (lim ? s.limits.memory_limit : s.limits.memory_request) = *q;
          } else {
            notes.push_back({s.name, qat.substr(qat.find("deploy")), "not carried over"});
          }
        }
      }
    } else {
      notes.push_back({s.name, "deploy." + k, "Kubernetes' Deployment defaults apply"});
    }
  }
}

void read_x_ferry(const YAML::Node& n, const std::string& where, service& s) {
  for (const auto& [k, v] : entries(n, where)) {
    const auto at = where + "." + k;
    auto& x = s.overrides;
    if (k == "port") {
      x.port = integer(v, at, 1, 65535);
    } else if (k == "public") {
      x.is_public = boolean(v, at);
    } else if (k == "host") {
      x.host = scalar(v, at);
    } else if (k == "skip") {
      x.skip = boolean(v, at);
    } else if (k == "size") {
      x.size = scalar(v, at);
    } else if (k == "replicas") {
      x.replicas = integer(v, at, 0, 1000);
    } else {
      fail(at, "unknown x-ferry key (port, public, host, skip, size, replicas)");
    }
  }
}
}  // namespace ferry::onboard::detail
