// The per-service decisions of `ferry onboard` (docs/onboarding.md, "Conversion"), each with the
// log line that says what was decided and why.

#include <algorithm>
#include <set>

#include "service/markers/markers.hpp"
#include "service/onboard/plan.hpp"

namespace ferry::onboard::detail {
namespace {

std::string join(const std::vector<std::string>& v, std::string_view sep = " ") {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) {
      out += sep;
    }
    out += s;
  }
  return out;
}

bool contains_any(std::string_view hay, std::initializer_list<std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(),
                     [&](std::string_view n) { return hay.find(n) != std::string_view::npos; });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Images whose servers listen on a well-known port: compose files rarely list them (services
// on the default network reach each other on any port), the Service must.
struct known_port {
  std::string_view image;  // the repository's last path segment
  int port;
};
constexpr known_port k_known_ports[] = {
    {"postgres", 5432}, {"postgis", 5432},       {"mysql", 3306},      {"mariadb", 3306},
    {"redis", 6379},    {"valkey", 6379},        {"mongo", 27017},     {"memcached", 11211},
    {"rabbitmq", 5672}, {"elasticsearch", 9200}, {"opensearch", 9200}, {"minio", 9000},
    {"mailhog", 1025},  {"nats", 4222},
};

std::string last_segment(std::string_view repo) {
  const auto slash = repo.rfind('/');
  return std::string(slash == std::string_view::npos ? repo : repo.substr(slash + 1));
}

// The port rule of the issue: explicit ports/expose, else by image or command.
void choose_ports(const service& s, service_plan& p, std::vector<std::string>& log) {
  const auto where = s.name + ": ports: ";
  std::set<std::pair<int, std::string>> seen;
  auto add = [&](const port_spec& ps) {
    if (seen.insert({ps.target, ps.protocol}).second) {
      p.ports.push_back(ps);
    }
  };
  if (s.overrides.port) {
    add(port_spec{*s.overrides.port, std::nullopt, "TCP", ""});
  }
  for (const auto& ps : s.ports) {
    add(ps);
  }
  for (int e : s.expose) {
    add(port_spec{e, std::nullopt, "TCP", ""});
  }
  if (!p.ports.empty()) {
    std::vector<std::string> list;
    for (const auto& ps : p.ports) {
      list.push_back(std::to_string(ps.target) + (ps.protocol == "TCP" ? "" : "/" + ps.protocol));
    }
    log.push_back(where + join(list, ", ") + " (" +
                  (s.overrides.port ? "x-ferry.port" : "explicit ports/expose") + ")");
    for (const auto& ps : s.ports) {
      if (ps.published) {
        log.push_back(
            where + "host port " + std::to_string(*ps.published) +
            " not carried over (a cluster has no host ports; " +
            (p.is_public ? "the Ingress publishes it)" : "the Service is cluster-internal)"));
        break;
      }
    }
    return;
  }
  const std::string image = lower(s.image.value_or(""));
  const std::string seg = last_segment(split_image(image).repository);
  const std::string cmd = lower(join(s.entrypoint) + " " + join(s.command));
  const std::string ctx = lower(s.build_context.value_or(""));
  for (const auto& k : k_known_ports) {
    if (seg == k.image) {
      add(port_spec{k.port, std::nullopt, "TCP", ""});
      log.push_back(where + std::to_string(k.port) + " (rule: " + std::string(k.image) +
                    "'s well-known port)");
      return;
    }
  }
  if (!p.is_public &&
      (contains_any(cmd, {"worker", "celery", "sidekiq", "rq ", "cron", "beat", "consumer"}) ||
       contains_any(lower(s.name), {"worker", "cron", "scheduler", "consumer"}))) {
    log.push_back(where +
                  "none (rule: a worker by its name or command; no Service; "
                  "x-ferry.port gives it one)");
    return;
  }
  int port = 80;
  std::string rule = "default";
  const std::string all = seg + " " + cmd + " " + ctx + " " + lower(s.name);
  if (contains_any(all, {"next", "node", "npm", "yarn", "pnpm", "nuxt"})) {
    port = 3000, rule = "Node.js/Next.js";
  } else if (contains_any(all, {"django", "gunicorn", "manage.py", "uvicorn"})) {
    port = 8000, rule = "Django/gunicorn";
  } else if (contains_any(all, {"nginx"})) {
    port = 80, rule = "nginx";
  }
  add(port_spec{port, std::nullopt, "TCP", ""});
  log.push_back(where + std::to_string(port) + " (rule: " + rule + "; no ports or expose given)");
}

// curl -f URL / wget URL against this container -> httpGet.
bool http_probe(const std::vector<std::string>& words, probe_plan& pr) {
  if (words.empty()) {
    return false;
  }
  const auto prog = last_segment(words[0]);
  if (prog != "curl" && prog != "wget") {
    return false;
  }
  for (std::size_t i = 1; i < words.size(); ++i) {
    std::string_view w = words[i];
    for (std::string_view host : {"http://localhost", "http://127.0.0.1", "http://0.0.0.0"}) {
      if (!w.starts_with(host)) {
        continue;
      }
      w.remove_prefix(host.size());
      int port = 80;
      if (w.starts_with(':')) {
        w.remove_prefix(1);
        std::size_t n = 0;
        port = 0;
        while (n < w.size() && std::isdigit(static_cast<unsigned char>(w[n])) && n < 5) {
          port = port * 10 + (w[n] - '0');
          ++n;
        }
        if (n == 0 || port < 1 || port > 65535) {
          return false;
        }
        w.remove_prefix(n);
      }
      if (!w.empty() && w[0] != '/') {
        return false;
      }
      pr.http = true;
      pr.port = port;
      pr.path = w.empty() ? "/" : std::string(w);
      return true;
    }
  }
  return false;
}

std::vector<std::string> shell_words(std::string_view line) {
  // Only the first command of the line: `curl -f URL || exit 1` is still an HTTP check.
  for (std::string_view stop : {"||", "&&", ";", "|"}) {
    if (const auto p = line.find(stop); p != std::string_view::npos) {
      line = line.substr(0, p);
    }
  }
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ' ' || c == '\t') {
      if (!cur.empty()) {
        out.push_back(std::move(cur));
        cur.clear();
      }
    } else if (c != '"' && c != '\'') {
      cur += c;
    }
  }
  if (!cur.empty()) {
    out.push_back(std::move(cur));
  }
  return out;
}

void choose_probe(const service& s, service_plan& p, std::vector<std::string>& log) {
  const auto where = s.name + ": healthcheck: ";
  if (!s.health) {
    log.push_back(where + "none given: no probes");
    return;
  }
  const auto& h = *s.health;
  if (h.disabled) {
    log.push_back(where + "disabled: no probes");
    return;
  }
  probe_plan pr;
  std::string how;
  if (h.form == health_form::cmd) {
    if (!http_probe(h.argv, pr)) {
      pr.exec = h.argv;
      how = "exec [" + join(h.argv, ", ") + "] (CMD)";
    } else {
      how = "httpGet :" + std::to_string(pr.port) + pr.path + " (CMD " + last_segment(h.argv[0]) +
            ")";
    }
  } else if (http_probe(shell_words(h.shell), pr)) {
    how = "httpGet :" + std::to_string(pr.port) + pr.path + " (shell " +
          last_segment(shell_words(h.shell)[0]) + ")";
  } else {
    pr.exec = {"sh", "-c", h.shell};
    how = "exec sh -c (CMD-SHELL or a string test)";
  }
  pr.period = h.interval_s.value_or(30);
  pr.timeout = h.timeout_s.value_or(30);
  pr.failure = h.retries.value_or(3);
  pr.initial = h.start_period_s.value_or(0);
  log.push_back(where + "readiness and liveness probes: " + how + "; periodSeconds " +
                std::to_string(pr.period) + ", timeoutSeconds " + std::to_string(pr.timeout) +
                ", failureThreshold " + std::to_string(pr.failure) +
                (pr.initial > 0 ? ", initialDelaySeconds " + std::to_string(pr.initial) : "") +
                (h.interval_s && h.timeout_s && h.retries
                     ? ""
                     : " (compose defaults for what is not given)"));
  p.probe = std::move(pr);
}

bool url_with_password(std::string_view v) {
  const auto scheme = v.find("://");
  if (scheme == std::string_view::npos) {
    return false;
  }
  const auto rest = v.substr(scheme + 3);
  const auto at = rest.find('@');
  const auto slash = rest.find('/');
  if (at == std::string_view::npos || (slash != std::string_view::npos && slash < at)) {
    return false;
  }
  const auto colon = rest.substr(0, at).find(':');
  return colon != std::string_view::npos && colon + 1 < at;
}

std::string without_references(std::string v) {
  for (std::size_t p; (p = v.find("$(")) != std::string::npos;) {
    const auto close = v.find(')', p);
    v.erase(p, close == std::string::npos ? std::string::npos : close - p + 1);
  }
  return v;
}

// One ${...} interpolation of a value.
struct interpolation {
  std::size_t begin = 0, end = 0;  // [begin, end) in the value
  std::string var;
  std::optional<std::string> fallback;  // ${VAR:-x} / ${VAR-x}
};

std::vector<interpolation> interpolations(std::string_view v) {
  std::vector<interpolation> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '$' || i + 1 >= v.size()) {
      continue;
    }
    if (v[i + 1] == '$') {
      ++i;
      continue;
    }
    interpolation it;
    it.begin = i;
    if (v[i + 1] == '{') {
      const auto close = v.find('}', i + 2);
      if (close == std::string_view::npos) {
        break;
      }
      const auto body = v.substr(i + 2, close - i - 2);
      const auto op = body.find_first_of(":-?+");
      it.var = std::string(body.substr(0, op));
      if (op != std::string_view::npos) {
        auto rest = body.substr(op);
        if (rest.starts_with(":-") || rest.starts_with("-")) {
          it.fallback = std::string(rest.substr(rest.starts_with(":-") ? 2 : 1));
        }
      }
      it.end = close + 1;
    } else {
      std::size_t j = i + 1;
      while (j < v.size() && (std::isalnum(static_cast<unsigned char>(v[j])) || v[j] == '_')) {
        ++j;
      }
      if (j == i + 1) {
        continue;
      }
      it.var = std::string(v.substr(i + 1, j - i - 1));
      it.end = j;
    }
    out.push_back(it);
    i = it.end - 1;
  }
  return out;
}

std::string unescape_dollars(std::string v) {
  for (std::size_t p = 0; (p = v.find("$$", p)) != std::string::npos; ++p) {
    v.erase(p, 1);
  }
  return v;
}

void choose_environment(const service& s, service_plan& p, std::vector<std::string>& log) {
  for (const auto& e : s.environment) {
    const auto where = s.name + ": environment." + e.name + ": ";
    const bool secret_name = secret_looking(e.name);
    if (!e.value) {
      if (secret_name) {
        p.secret_keys[e.name] = "to fill";
        log.push_back(where + "no value in the file: secret reference to fill (name looks secret)");
      } else {
        p.config[e.name] = "";
        log.push_back(where + "no value in the file: ConfigMap entry to fill");
      }
      continue;
    }
    const auto its = interpolations(*e.value);
    if (its.empty()) {
      if (secret_name) {
        p.secret_keys[e.name] = "from the compose file";
        log.push_back(where + "secret (name looks secret): the value is not copied; fill it in");
      } else if (url_with_password(*e.value)) {
        p.secret_keys[e.name] = "from the compose file";
        log.push_back(where +
                      "secret (its URL carries a password): the value is not copied; "
                      "fill it in");
      } else {
        p.config[e.name] = unescape_dollars(*e.value);
      }
      continue;
    }
    // The whole value one interpolation: its default, or an entry to fill.
    if (its.size() == 1 && its[0].begin == 0 && its[0].end == e.value->size()) {
      const auto& it = its[0];
      const bool secret = secret_name || secret_looking(it.var);
      if (it.fallback && !secret) {
        p.config[e.name] = *it.fallback;
        log.push_back(where + "${" + it.var + "} has a default: ConfigMap entry \"" + *it.fallback +
                      "\"");
      } else if (secret) {
        p.secret_keys[e.name] = "to fill";
        log.push_back(where + "${" + it.var + "}: secret reference to fill (name looks secret)");
      } else {
        p.config[e.name] = "";
        log.push_back(where + "${" + it.var + "} has no value: ConfigMap entry to fill");
      }
      continue;
    }
    // Embedded: Kubernetes expands $(VAR) from the container's variables, so each
    // interpolation without a default becomes a variable of its own to fill.
    std::string value;
    std::size_t last = 0;
    std::vector<std::string> filled;
    for (const auto& it : its) {
      value += e.value->substr(last, it.begin - last);
      last = it.end;
      if (it.fallback) {
        value += *it.fallback;
        continue;
      }
      value += "$(" + it.var + ")";
      filled.push_back(it.var);
      if (secret_looking(it.var)) {
        p.secret_keys.emplace(it.var, "to fill");
      } else {
        p.config.emplace(it.var, "");
      }
    }
    value += e.value->substr(last);
    // A URL whose password is itself a $(VAR) reference holds no secret.
    if (secret_name || url_with_password(without_references(value))) {
      p.secret_keys[e.name] = "from the compose file";
      log.push_back(where + "secret (" +
                    std::string(secret_name ? "name looks secret" : "its URL carries a password") +
                    "): the value is not copied; fill it in");
      continue;
    }
    p.templated.emplace_back(e.name, value);
    log.push_back(where + "refers to " + join(filled, ", ") +
                  ": kept as $(VAR) references, each an entry to fill" +
                  (filled.empty() ? "" : " (secret-looking ones in the Secret)"));
  }
  for (const auto& f : s.env_files) {
    p.env_file_secret = true;
    p.env_files.push_back(f);
    log.push_back(s.name + ": env_file " + f + ": its variables go into Secret " + p.name +
                  "-env, to fill (never read: an env file may hold secrets)");
  }
}

}  // namespace

bool secret_looking(std::string_view name) {
  std::string up(name);
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
  return contains_any(up, {"SECRET", "PASSWORD", "PASSWD", "TOKEN", "KEY"});
}

// Volumes, secrets and the rest of plan_app live in plan_volumes.cpp.
void choose_volumes(const service& s, const compose_file& compose, const options& opts,
                    service_plan& p, app_plan& app, std::vector<std::string>& log);

result<app_plan> plan_app(const compose_file& compose, const options& opts,
                          std::vector<std::string>& log) {
  app_plan app;
  app.org = lower(opts.org);
  if (app.org.empty()) {
    for (const auto& s : compose.services) {
      const auto repo = split_image(s.image.value_or("")).repository;
      if (repo.starts_with("ghcr.io/")) {
        app.org = lower(repo.substr(8, repo.find('/', 8) - 8));
        log.push_back("org: " + app.org + " (from " + s.name + "'s image; --org sets it)");
        break;
      }
    }
    if (app.org.empty()) {
      app.org = opts.app;
      log.push_back("org: " + app.org + " (the app's name: no ghcr.io image and no --org)");
    }
  }
  app.domain = opts.domain;
  if (app.domain.empty()) {
    app.domain = "example.com";
    log.push_back("domain: example.com (a placeholder: set --domain or onboarding.domain)");
  }
  std::set<std::string> names;
  for (const auto& s : compose.services) {
    if (s.overrides.skip.value_or(false)) {
      log.push_back(s.name + ": skipped (x-ferry.skip: true)");
      continue;
    }
    if (!s.profiles.empty() && !s.overrides.skip.has_value()) {
      log.push_back(s.name + ": skipped: runs only under profiles " + join(s.profiles, ", ") +
                    " (x-ferry.skip: false converts it)");
      continue;
    }
    service_plan p;
    p.compose_name = s.name;
    p.name = dns_label(s.name);
    if (p.name.empty() || p.name.size() > 63 ||
        !std::isalpha(static_cast<unsigned char>(p.name[0]))) {
      return make_error(error_kind::invalid_input,
                        "services." + s.name +
                            ": the name cannot name Kubernetes objects (a letter first, letters, "
                            "digits and '-', at most 63)");
    }
    if (opts.app.size() + 1 + p.name.size() > 63) {
      // The image rule <app>-<service> is a DNS label (rules: markers and branch names).
      return make_error(error_kind::invalid_input,
                        "services." + s.name + ": the image rule " + opts.app + "-" + p.name +
                            " would be longer than 63 characters; shorten the service's or the "
                            "app's name");
    }
    if (!names.insert(p.name).second) {
      return make_error(error_kind::invalid_input, "services." + s.name + ": its Kubernetes name " +
                                                       p.name + " is another service's too");
    }
    if (p.name != s.name) {
      log.push_back(s.name + ": named " + p.name + " in Kubernetes (DNS label)");
    }
    // Image.
    if (s.image) {
      const auto ref = split_image(*s.image);
      p.repository = ref.repository;
      p.tag = ref.tag;
      if (s.build_context) {
        log.push_back(s.name + ": build: ignored, the image " + ref.repository +
                      " is built by the app's CI");
      }
    } else {
      p.repository = "ghcr.io/" + app.org + "/" + p.name;
      p.tag = "latest";
      log.push_back(s.name + ": image: built from " + *s.build_context + ": " + p.repository +
                    " (publish it from the app's CI; latest until ferry promotes a tag)");
    }
    if (p.repository.find("${") != std::string::npos || p.tag.find("${") != std::string::npos) {
      return make_error(error_kind::invalid_input,
                        "services." + s.name + ".image: \"" + s.image.value_or("") +
                            "\" still holds an interpolation; give the image literally");
    }
    p.marked = p.repository.starts_with("ghcr.io/");
    if (p.marked && lower(p.repository) != p.repository) {
      log.push_back(s.name + ": image: " + p.repository + " lower-cased (GHCR names are)");
      p.repository = lower(p.repository);
    }
    // An image ferry cannot write back (markers, rules) is refused here, naming the key.
    const auto tag_part = p.tag.substr(0, p.tag.find('@'));
    const bool repo_ok = valid_repository(p.repository);
    if (!repo_ok || (!tag_part.empty() && !markers::is_valid_tag(tag_part))) {
      return make_error(error_kind::invalid_input,
                        "services." + s.name + ".image: \"" +
                            s.image.value_or(p.repository + ":" + p.tag) +
                            "\" is not an image reference (registry/name:tag)");
    }
    p.image = p.tag.starts_with('@') ? p.repository + p.tag : p.repository + ":" + p.tag;
    if (!p.marked) {
      log.push_back(s.name + ": image: " + p.image +
                    " is not on ghcr.io: kept pinned, no marker or rule (ferry promotes GHCR "
                    "publications; bump it by hand)");
    }
    p.command = s.entrypoint;
    p.args = s.command;
    p.working_dir = s.working_dir;
    p.is_public = s.overrides.is_public.value_or(
        std::find(s.networks.begin(), s.networks.end(), "ingress") != s.networks.end());
    p.host_label = s.overrides.host.value_or(p.name);
    choose_ports(s, p, log);
    if (p.is_public && p.ports.empty()) {
      p.ports.push_back(port_spec{80, std::nullopt, "TCP", ""});
    }
    log.push_back(
        s.name + ": " +
        (p.is_public
             ? std::string("public: Service + Ingress at ") + p.host_label + ".<env domain> (" +
                   (s.overrides.is_public ? "x-ferry.public" : "on the ingress network") + ")"
             : std::string(p.ports.empty() ? "internal: no Service (no port)"
                                           : "internal: ClusterIP Service") +
                   ", a NetworkPolicy admitting only the app's pods"));
    choose_probe(s, p, log);
    choose_environment(s, p, log);
    choose_volumes(s, compose, opts, p, app, log);
    p.res = s.limits;
    if (s.overrides.replicas || s.replicas) {
      p.replicas = s.overrides.replicas ? *s.overrides.replicas : *s.replicas;
      p.replicas_explicit = true;
      log.push_back(s.name + ": replicas " + std::to_string(p.replicas) +
                    " in every environment (" +
                    (s.overrides.replicas ? "x-ferry.replicas" : "deploy.replicas") + ")");
    }
    app.services.push_back(std::move(p));
  }
  if (app.services.empty()) {
    return make_error(error_kind::invalid_input, "every service is skipped: nothing to onboard");
  }
  return app;
}

}  // namespace ferry::onboard::detail
