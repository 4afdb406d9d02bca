#include "service/doctor/doctor.hpp"

#include <openssl/evp.h>

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <map>

#include "service/github/app_client.hpp"
#include "service/kube/client.hpp"
#include "service/kube/objects.hpp"

namespace ferry::doctor {

namespace json = boost::json;

const char* to_string(level l) noexcept {
  switch (l) {
    case level::ok:
      return "ok";
    case level::warn:
      return "warn";
    case level::fail:
      return "fail";
  }
  return "fail";
}

namespace {

check ok(std::string name, std::string detail) {
  return check{std::move(name), level::ok, std::move(detail), {}};
}
check warn(std::string name, std::string detail, std::string fix) {
  return check{std::move(name), level::warn, std::move(detail), std::move(fix)};
}
check fail(std::string name, std::string detail, std::string fix) {
  return check{std::move(name), level::fail, std::move(detail), std::move(fix)};
}

// Parses an API answer into an object; an error names what was expected.
result<json::object> parse_object(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return make_error(error_kind::invalid_input, "the answer is not a JSON object");
  }
  return std::move(v.as_object());
}

std::string string_at(const json::object& o, std::string_view key) {
  if (auto* v = o.if_contains(key); v && v->is_string()) {
    return std::string(v->as_string());
  }
  return {};
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) {
      out += sep;
    }
    out += item;
  }
  return out;
}

int access_rank(std::string_view access) {
  if (access == "write" || access == "admin") {
    return 2;
  }
  return access == "read" ? 1 : 0;
}

}  // namespace

check evaluate_app(const result<std::string>& app_json) {
  const std::string name = "github.app";
  if (!app_json) {
    return fail(name, "GET /app failed: " + app_json.error().message,
                app_json.error().kind == error_kind::unauthorized
                    ? "GitHub rejected the JWT: FERRY_APP_ID must be this App's id or client ID "
                      "and FERRY_PRIVATE_KEY_FILE one of its current private keys; check the "
                      "host clock (the JWT is valid 10 minutes)"
                    : "check FERRY_GITHUB_API_URL and that GitHub is reachable");
  }
  auto o = parse_object(*app_json);
  if (!o) {
    return fail(name, "GET /app: " + o.error().message, "check FERRY_GITHUB_API_URL");
  }
  std::string id;
  if (auto* v = o->if_contains("id"); v && v->is_int64()) {
    id = std::to_string(v->as_int64());
  }
  return ok(name, "the key signs a JWT GitHub accepts: App " + string_at(*o, "slug") + " (id " +
                      id + ")");
}

const std::vector<permission_need>& needed_permissions() {
  static const std::vector<permission_need> needs{{"contents", "write"},
                                                  {"pull_requests", "write"},
                                                  {"statuses", "write"},
                                                  {"metadata", "read"},
                                                  {"packages", "read"}};
  return needs;
}

check evaluate_infra_installation(std::string_view repo,
                                  const result<std::string>& installation_json) {
  std::string name = "github.installation " + std::string(repo);
  if (!installation_json) {
    if (installation_json.error().kind == error_kind::not_found) {
      return fail(name, "the App is not installed on " + std::string(repo),
                  "install the App on " + std::string(repo) +
                      " (App settings > Install App), or remove it from FERRY_INFRA_REPOS");
    }
    return fail(name,
                "GET /repos/" + std::string(repo) +
                    "/installation failed: " + installation_json.error().message,
                "check FERRY_INFRA_REPOS and that GitHub is reachable");
  }
  auto o = parse_object(*installation_json);
  if (!o) {
    return fail(name, o.error().message, "check FERRY_GITHUB_API_URL");
  }
  const json::object empty;
  const json::object* perms = &empty;
  if (auto* p = o->if_contains("permissions"); p && p->is_object()) {
    perms = &p->as_object();
  }
  std::vector<std::string> missing;
  for (const auto& need : needed_permissions()) {
    if (access_rank(string_at(*perms, need.name)) < access_rank(need.access)) {
      missing.push_back(need.name + ": " + need.access);
    }
  }
  std::string id;
  if (auto* v = o->if_contains("id"); v && v->is_int64()) {
    id = std::to_string(v->as_int64());
  }
  if (!missing.empty()) {
    return fail(name, "installation " + id + " lacks " + join(missing, ", "),
                "grant the App these repository permissions (App settings > Permissions), then "
                "accept the new permissions on the installation");
  }
  return ok(name, "installed (installation " + id + ") with every permission ferry needs");
}

check evaluate_app_events(const result<std::string>& app_json) {
  const std::string name = "github.events";
  if (!app_json) {
    return fail(name, "GET /app failed: " + app_json.error().message, "see github.app");
  }
  auto o = parse_object(*app_json);
  if (!o) {
    return fail(name, o.error().message, "see github.app");
  }
  std::vector<std::string> events;
  if (auto* e = o->if_contains("events"); e && e->is_array()) {
    for (const auto& v : e->as_array()) {
      if (v.is_string()) {
        events.emplace_back(v.as_string());
      }
    }
  }
  auto has = [&](std::string_view ev) {
    return std::find(events.begin(), events.end(), ev) != events.end();
  };
  std::vector<std::string> missing;
  if (!has("package") && !has("registry_package")) {
    missing.emplace_back("package (or registry_package)");
  }
  for (const char* ev : {"push", "pull_request"}) {
    if (!has(ev)) {
      missing.emplace_back(ev);
    }
  }
  if (!missing.empty()) {
    return fail(name,
                "not subscribed to " + join(missing, ", ") + " (subscribed: " +
                    (events.empty() ? std::string("none") : join(events, ", ")) + ")",
                "subscribe the App to these events (App settings > Permissions & events)");
  }
  return ok(name, "subscribed to " + join(events, ", "));
}

std::optional<check> evaluate_gate_events(const result<std::string>& app_json,
                                          const std::vector<std::string>& gated) {
  const std::string name = "github.gate-events";
  if (gated.empty()) {
    return std::nullopt;
  }
  if (!app_json) {
    return fail(name, "GET /app failed: " + app_json.error().message, "see github.app");
  }
  auto o = parse_object(*app_json);
  if (!o) {
    return fail(name, o.error().message, "see github.app");
  }
  std::vector<std::string> missing;
  for (const char* ev : {"status", "check_run"}) {
    bool found = false;
    if (auto* e = o->if_contains("events"); e && e->is_array()) {
      for (const auto& v : e->as_array()) {
        found = found || (v.is_string() && v.as_string() == ev);
      }
    }
    if (!found) {
      missing.emplace_back(std::string("event ") + ev);
    }
  }
  std::string checks;
  if (auto* p = o->if_contains("permissions"); p && p->is_object()) {
    if (auto* c = p->as_object().if_contains("checks"); c && c->is_string()) {
      checks = std::string(c->as_string());
    }
  }
  if (checks != "read" && checks != "write") {
    missing.emplace_back("permission checks: read");
  }
  if (!missing.empty()) {
    return fail(name,
                "gates.statuses in " + join(gated, ", ") + " need " + join(missing, ", ") +
                    ": without them a gate waits until its timeout",
                "subscribe the App to status and check_run and grant Checks read (App settings > "
                "Permissions & events), then accept the new permissions on the installation");
  }
  return ok(name, "subscribed to status and check_run for the gates of " + join(gated, ", "));
}

std::vector<access_need> gate_needs(const rules::gates_config& gates) {
  std::vector<access_need> out;
  if (!gates.flagger) {
    return out;
  }
  const auto& ns = gates.flagger->namespace_name;
  const std::string by = "Role/RoleBinding ferry-flagger in " + ns;
  for (const char* verb : {"get", "list", "watch"}) {
    out.push_back({verb, "flagger.app", "canaries", "", ns, by});
  }
  return out;
}

check evaluate_hook_config(const result<std::string>& config_json) {
  const std::string name = "github.webhook";
  if (!config_json) {
    return fail(name, "GET /app/hook/config failed: " + config_json.error().message,
                "check the App's webhook in its settings");
  }
  auto o = parse_object(*config_json);
  if (!o) {
    return fail(name, o.error().message, "check FERRY_GITHUB_API_URL");
  }
  const std::string url = string_at(*o, "url");
  const std::string content_type = string_at(*o, "content_type");
  const std::string secret = string_at(*o, "secret");
  // insecure_ssl is a string ("0"/"1") or a number in GitHub's OpenAPI description
  // (webhook-config-insecure-ssl: oneOf string, number).
  std::string insecure = string_at(*o, "insecure_ssl");
  if (auto* v = o->if_contains("insecure_ssl"); v && v->is_number()) {
    insecure = v->to_number<double>() == 0 ? "0" : "1";
  }
  std::vector<std::string> problems;
  std::vector<std::string> fixes;
  if (url.empty()) {
    problems.emplace_back("no webhook URL");
    fixes.emplace_back("set the webhook URL to https://<ferry's host>/webhook");
  } else if (url.rfind("https://", 0) != 0) {
    problems.emplace_back("URL " + url + " is not https");
    fixes.emplace_back("serve ferry behind TLS and use an https:// URL");
  }
  if (content_type != "json") {
    problems.emplace_back("content type " + (content_type.empty() ? "unset" : content_type));
    fixes.emplace_back("set the content type to application/json");
  }
  // GitHub answers "********" for a secret that is set, and omits it otherwise.
  if (secret.empty()) {
    problems.emplace_back("no secret");
    fixes.emplace_back("set the webhook secret to FERRY_WEBHOOK_SECRET's value");
  }
  if (insecure != "0") {
    problems.emplace_back("SSL verification disabled (insecure_ssl " + insecure + ")");
    fixes.emplace_back("enable SSL verification");
  }
  if (!problems.empty()) {
    return fail(name, join(problems, "; "), join(fixes, "; "));
  }
  return ok(name, url + ", content type json, secret set, SSL verified");
}

check evaluate_deliveries(const result<std::string>& deliveries_json,
                          std::chrono::system_clock::time_point now) {
  const std::string name = "github.deliveries";
  if (!deliveries_json) {
    return warn(name, "GET /app/hook/deliveries failed: " + deliveries_json.error().message,
                "look at Advanced > Recent Deliveries in the App settings");
  }
  boost::system::error_code ec;
  auto v = json::parse(*deliveries_json, ec);
  if (ec || !v.is_array()) {
    return warn(name, "the answer is not a JSON array", "check FERRY_GITHUB_API_URL");
  }
  const auto since = now - std::chrono::hours(24);
  int total = 0;
  int failed = 0;
  std::string newest_guid;
  std::optional<std::chrono::system_clock::time_point> newest_at;
  for (const auto& item : v.as_array()) {
    if (!item.is_object()) {
      continue;
    }
    const auto& d = item.as_object();
    auto at = github::parse_github_time(string_at(d, "delivered_at"));
    if (!at || *at < since) {
      continue;
    }
    ++total;
    std::int64_t status = 0;
    if (auto* s = d.if_contains("status_code"); s && s->is_int64()) {
      status = s->as_int64();
    }
    if (status == 0 || status >= 500) {
      ++failed;
      if (!newest_at || *at > *newest_at) {
        newest_at = at;
        newest_guid = string_at(d, "guid");
      }
    }
  }
  if (failed > 0) {
    return warn(name,
                std::to_string(failed) + " of " + std::to_string(total) +
                    " deliveries in the last 24 h failed (status 0 or 5xx), newest " + newest_guid,
                "read ferry's logs for that delivery id; the Lease holder redelivers failures");
  }
  return ok(name, std::to_string(total) + " deliveries in the last 24 h, none failed");
}

std::vector<source_candidate> newest_sources(const rules::rules_file& rules,
                                             std::string_view registry_host) {
  std::vector<source_candidate> out;
  const std::string prefix = std::string(registry_host) + "/";
  for (const auto& rule : rules.images) {
    if (!std::holds_alternative<rules::newest_policy>(rule.policy.kind)) {
      continue;
    }
    if (rule.image.rfind(prefix, 0) != 0) {
      continue;
    }
    // ghcr.io/<owner>/<name>[/...]: GHCR links a package to the repository of the same name
    // by default; a nested name cannot be guessed, so only two segments count.
    const std::string rest = rule.image.substr(prefix.size());
    if (std::count(rest.begin(), rest.end(), '/') != 1) {
      continue;
    }
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const source_candidate& c) { return c.repo == rest; });
    if (it == out.end()) {
      out.push_back(source_candidate{rest, {}});
      it = std::prev(out.end());
    }
    it->rules.push_back(rule.marker_ref());
  }
  return out;
}

check evaluate_source(const source_candidate& source,
                      const result<std::string>& installation_json) {
  std::string name = "github.source " + source.repo;
  if (installation_json) {
    return ok(name,
              "the App can read " + source.repo + " (rules " + join(source.rules, ", ") + ")");
  }
  return warn(name,
              "the App is not installed on " + source.repo + " (" +
                  installation_json.error().message + "); the newest policy of rules " +
                  join(source.rules, ", ") + " cannot compare commits there",
              "install the App on " + source.repo +
                  " (contents: read), or give those rules a semver/alphabetical/numerical policy");
}

std::string access_need::describe() const {
  std::string r = group.empty() ? resource : group + "/" + resource;
  if (!subresource.empty()) {
    r += "/" + subresource;
  }
  return verb + " " + r + " in " + ns;
}

std::optional<std::string> flux_source_resource(std::string_view kind) {
  static const std::map<std::string, std::string, std::less<>> kinds{
      {"GitRepository", "gitrepositories"},
      {"OCIRepository", "ocirepositories"},
      {"Bucket", "buckets"},
      {"HelmRepository", "helmrepositories"}};
  if (auto it = kinds.find(kind); it != kinds.end()) {
    return it->second;
  }
  return std::nullopt;
}

std::vector<access_need> apply_needs(const rules::apply_config& apply,
                                     std::optional<std::string> source_resource) {
  std::vector<access_need> out;
  if (const auto* job = std::get_if<rules::apply_job>(&apply.target)) {
    const std::string by = "Role/RoleBinding ferry-apply in " + job->namespace_name;
    for (const char* verb : {"create", "get", "list", "watch"}) {
      out.push_back({verb, "batch", "jobs", "", job->namespace_name, by});
    }
    out.push_back({"list", "", "pods", "", job->namespace_name, by});
    out.push_back({"get", "", "pods", "log", job->namespace_name, by});
    return out;
  }
  if (const auto* argocd = std::get_if<rules::apply_argocd>(&apply.target)) {
    // The Application is read, watched and patched (refresh annotation, operation);
    // manifests/components/argocd grants exactly that.
    const std::string by = "Role/RoleBinding ferry-argocd in " + argocd->namespace_name;
    for (const char* verb : {"get", "list", "watch", "patch"}) {
      out.push_back({verb, "argoproj.io", "applications", "", argocd->namespace_name, by});
    }
    return out;
  }
  if (const auto* fleet = std::get_if<rules::apply_fleet>(&apply.target)) {
    // The GitRepo is read, watched and patched (spec.forceSyncGeneration); manifests/components/
    // fleet grants exactly that.
    const std::string by = "Role/RoleBinding ferry-fleet in " + fleet->namespace_name;
    for (const char* verb : {"get", "list", "watch", "patch"}) {
      out.push_back({verb, "fleet.cattle.io", "gitrepos", "", fleet->namespace_name, by});
    }
    return out;
  }
  const auto& flux = std::get<rules::apply_flux>(apply.target);
  const std::string by = "Role/RoleBinding ferry-apply in " + flux.namespace_name;
  // follow() watches the Kustomization (get, list, watch); the reconcile request is a patch.
  for (const char* verb : {"get", "list", "watch", "patch"}) {
    out.push_back(
        {verb, "kustomize.toolkit.fluxcd.io", "kustomizations", "", flux.namespace_name, by});
  }
  if (source_resource) {
    for (const char* verb : {"get", "patch"}) {
      out.push_back(
          {verb, "source.toolkit.fluxcd.io", *source_resource, "", flux.namespace_name, by});
    }
  }
  return out;
}

std::vector<access_need> lease_needs(std::string_view lease_namespace) {
  const std::string ns(lease_namespace);
  const std::string by = "Role/RoleBinding ferry-leader in " + ns;
  std::vector<access_need> out;
  for (const char* verb : {"get", "create", "update"}) {
    out.push_back({verb, "coordination.k8s.io", "leases", "", ns, by});
  }
  return out;
}

std::string access_review_body(const access_need& need) {
  json::object attrs{{"namespace", need.ns},
                     {"verb", need.verb},
                     {"group", need.group},
                     {"resource", need.resource}};
  if (!need.subresource.empty()) {
    attrs["subresource"] = need.subresource;
  }
  json::object body{{"apiVersion", "authorization.k8s.io/v1"},
                    {"kind", "SelfSubjectAccessReview"},
                    {"spec", json::object{{"resourceAttributes", std::move(attrs)}}}};
  return json::serialize(body);
}

check evaluate_access_review(const access_need& need, const result<std::string>& review_json) {
  std::string name = "kube.access " + need.describe();
  if (!review_json) {
    return fail(name, "SelfSubjectAccessReview failed: " + review_json.error().message,
                "check that the API server is reachable with ferry's credentials");
  }
  auto o = parse_object(*review_json);
  if (!o) {
    return fail(name, o.error().message, "check FERRY_KUBE_API_URL");
  }
  bool allowed = false;
  std::string reason;
  if (auto* s = o->if_contains("status"); s && s->is_object()) {
    if (auto* a = s->as_object().if_contains("allowed"); a && a->is_bool()) {
      allowed = a->as_bool();
    }
    reason = string_at(s->as_object(), "reason");
  }
  if (allowed) {
    return ok(name, "allowed");
  }
  return fail(name,
              "denied" + (reason.empty() ? std::string() : " (" + reason + ")") + ": missing " +
                  need.granted_by + "?",
              "apply the " + need.granted_by +
                  " that manifests/base ships (kubectl kustomize manifests/overlays/<name> | "
                  "kubectl apply -f -), bound to ferry's ServiceAccount");
}

namespace {

std::string base64_decode(std::string_view text) {
  std::string clean;
  for (char c : text) {
    if (c != '\n' && c != '\r') {
      clean += c;
    }
  }
  std::string out(clean.size() / 4 * 3 + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()),
                                static_cast<int>(clean.size()));
  if (n < 0) {
    return {};
  }
  std::size_t len = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts '=' padding as zero bytes.
  for (std::size_t i = clean.size(); i > 0 && clean[i - 1] == '=' && len > 0; --i) {
    --len;
  }
  out.resize(len);
  return out;
}

result<std::string> body_of(result<github::http_response> r) {
  if (!r) {
    return r.error();
  }
  return std::move(r->body);
}

}  // namespace

boost::asio::awaitable<std::vector<check>> run_doctor(doctor_inputs in) {
  using boost::beast::http::verb;
  std::vector<check> out;
  const auto& s = *in.settings;
  auto& gh = *in.github;

  auto app = body_of(co_await gh.app_rest(verb::get, "/app", std::nullopt, {.max_attempts = 2}));
  out.push_back(evaluate_app(app));
  const bool app_ok = out.back().verdict == level::ok;
  if (app_ok) {
    out.push_back(evaluate_app_events(app));
    out.push_back(evaluate_hook_config(body_of(
        co_await gh.app_rest(verb::get, "/app/hook/config", std::nullopt, {.max_attempts = 2}))));
    out.push_back(evaluate_deliveries(
        body_of(co_await gh.app_rest(verb::get, "/app/hook/deliveries?per_page=100", std::nullopt,
                                     {.max_attempts = 2})),
        in.now));
  }

  // Environments of every infra repo's rules, for the Kubernetes checks.
  std::vector<rules::environment> environments;
  std::vector<std::string> gated;  // "repo env" of environments with gates.statuses
  for (const auto& repo : s.infra_repos) {
    if (!app_ok) {
      break;
    }
    auto inst = body_of(co_await gh.app_rest(verb::get, "/repos/" + repo.full() + "/installation",
                                             std::nullopt, {.max_attempts = 2}));
    out.push_back(evaluate_infra_installation(repo.full(), inst));
    if (out.back().verdict == level::fail && !inst) {
      continue;
    }
    auto id = co_await gh.installation_for_repo(repo.owner, repo.name);
    const std::string rules_name = "rules " + repo.full() + ":" + s.rules_path;
    if (!id) {
      out.push_back(fail(rules_name, id.error().message, "see the installation line above"));
      continue;
    }
    // The contents API reads the default branch's head; nothing is cloned or cached.
    auto file =
        body_of(co_await gh.rest(verb::get, "/repos/" + repo.full() + "/contents/" + s.rules_path,
                                 std::nullopt, *id, {.max_attempts = 2}));
    if (!file) {
      out.push_back(fail(rules_name, "cannot read the rules file: " + file.error().message,
                         "commit " + s.rules_path +
                             " to the default branch (`ferry check` "
                             "validates it offline), or set FERRY_RULES_PATH"));
      continue;
    }
    auto o = parse_object(*file);
    if (!o || string_at(*o, "encoding") != "base64") {
      out.push_back(fail(rules_name, "the contents answer carries no base64 content",
                         "make " + s.rules_path + " a regular file under 1 MB"));
      continue;
    }
    auto parsed = rules::parse_rules(base64_decode(string_at(*o, "content")), s.rules_path);
    if (!parsed) {
      out.push_back(fail(rules_name, "invalid at the default branch head:\n" + parsed.report(),
                         "fix the file (`ferry check --repo <checkout>` shows the same errors)"));
      continue;
    }
    const auto& rules = parsed.value();
    out.push_back(ok(rules_name, "valid at the default branch head: " +
                                     std::to_string(rules.images.size()) + " image rules, " +
                                     std::to_string(rules.environments.size()) + " environments"));
    for (const auto& source : newest_sources(rules, s.registry_host)) {
      auto pos = source.repo.find('/');
      auto src = co_await gh.installation_for_repo(source.repo.substr(0, pos),
                                                   source.repo.substr(pos + 1));
      out.push_back(evaluate_source(source, src ? result<std::string>(std::to_string(*src))
                                                : result<std::string>(src.error())));
    }
    for (const auto& env : rules.environments) {
      if (env.gates && !env.gates->statuses.empty()) {
        gated.push_back(repo.full() + " " + env.name);
      }
      environments.push_back(env);
    }
  }
  if (auto gate_events = evaluate_gate_events(app, gated)) {
    out.push_back(std::move(*gate_events));
  }

  // Kubernetes.
  if (!in.kube) {
    out.push_back(fail("kube.reachable", "no Kubernetes API: " + in.kube_unavailable,
                       "run ferry doctor in the cluster (kubectl exec deploy/ferry -n "
                       "ferry-system -- ferry doctor) or set FERRY_KUBE_API_URL, "
                       "FERRY_KUBE_TOKEN_FILE and FERRY_KUBE_CA_FILE"));
    co_return out;
  }
  auto& kube = *in.kube;
  auto version = co_await kube.get("/version");
  if (!version) {
    out.push_back(fail("kube.reachable", "GET /version failed: " + version.error().message,
                       "check FERRY_KUBE_API_URL, the CA file and the token"));
    co_return out;
  }
  {
    auto o = parse_object(*version);
    out.push_back(
        ok("kube.reachable", "API server " + (o ? string_at(*o, "gitVersion") : std::string("?"))));
  }
  auto review = [&](const access_need& need) -> boost::asio::awaitable<void> {
    auto made = co_await kube.create_object(
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", access_review_body(need));
    out.push_back(evaluate_access_review(
        need, made ? result<std::string>(made->object) : result<std::string>(made.error())));
  };
  for (const auto& need : lease_needs(in.lease_namespace)) {
    co_await review(need);
  }
  for (const auto& env : environments) {
    if (!env.apply) {
      continue;  // pull requests only: ferry applies nothing there, so needs no access
    }
    std::optional<std::string> source_resource;
    if (const auto* flux = std::get_if<rules::apply_flux>(&env.apply->target)) {
      const std::string name = "kube.flux " + env.name + " " + flux->kind + " " +
                               flux->namespace_name + "/" + flux->name;
      auto path = kube::flux_path(flux->kind, flux->namespace_name, flux->name);
      if (!path) {
        out.push_back(fail(name, path.error().message, "fix the environment's apply target"));
      } else if (auto got = co_await kube.get(*path); !got) {
        out.push_back(fail(name, "GET failed: " + got.error().message,
                           got.error().kind == error_kind::not_found
                               ? "create the " + flux->kind + " or fix the rules' apply target"
                               : "see the access lines for " + flux->namespace_name));
      } else if (auto view = kube::parse_flux(*got); view) {
        out.push_back(ok(name, "exists, source " + view->source_kind + " " +
                                   view->source_namespace + "/" + view->source_name));
        source_resource = flux_source_resource(view->source_kind);
      } else {
        out.push_back(ok(name, "exists"));
      }
    }
    for (const auto& need : apply_needs(*env.apply, source_resource)) {
      co_await review(need);
    }
    if (env.gates) {
      for (const auto& need : gate_needs(*env.gates)) {
        co_await review(need);
      }
    }
  }
  co_return out;
}

std::string to_text(const std::vector<check>& checks) {
  std::string out;
  for (const auto& c : checks) {
    std::string lvl = to_string(c.verdict);
    lvl.resize(5, ' ');
    out += lvl + c.name + ": " + c.detail;
    if (!c.fix.empty()) {
      out += " -> " + c.fix;
    }
    out += "\n";
  }
  return out;
}

std::string to_json(const std::vector<check>& checks) {
  json::array a;
  for (const auto& c : checks) {
    a.push_back(json::object{
        {"name", c.name}, {"level", to_string(c.verdict)}, {"detail", c.detail}, {"fix", c.fix}});
  }
  return json::serialize(a) + "\n";
}

int exit_code(const std::vector<check>& checks) {
  return std::any_of(checks.begin(), checks.end(),
                     [](const check& c) { return c.verdict == level::fail; })
             ? 1
             : 0;
}

}  // namespace ferry::doctor
