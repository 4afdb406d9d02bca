// ferry's composition root: flags and environment become settings structs, the clients and
// the handler registry are built, and the command runs. No logic lives here; every command's
// work is a library function the tests call too.

#include <git2.h>
#include <openssl/crypto.h>
#include <simdjson.h>
#include <CLI/CLI.hpp>
#include <boost/version.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>

#include "handlers/maintenance.hpp"
#include "handlers/registry.hpp"
#include "service/config.hpp"
#include "service/demo/demo.hpp"
#include "service/doctor/doctor.hpp"
#include "service/git/mirror.hpp"
#include "service/github/app_client.hpp"
#include "service/kube/client.hpp"
#include "service/kube/lease.hpp"
#include "service/metrics.hpp"
#include "service/migrate/migrate_flux.hpp"
#include "service/onboard/onboard.hpp"
#include "service/promotion/commands.hpp"
#include "service/register/register.hpp"
#include "service/replay.hpp"
#include "service/server.hpp"

extern char** environ;

namespace {

// SPEC's exit codes, for every command.
constexpr int k_exit_ok = 0;
constexpr int k_exit_usage = 2;

ferry::service::environment current_environment() {
  ferry::service::environment env;
  for (char** e = environ; e && *e; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string::npos) {
      env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
    }
  }
  return env;
}

int run_version() {
  int major = 0, minor = 0, rev = 0;
  git_libgit2_version(&major, &minor, &rev);
  std::printf("ferry %s\n", FERRY_VERSION);
  std::printf("  boost %d.%d.%d\n", BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000,
              BOOST_VERSION % 100);
  std::printf("  %s\n", OpenSSL_version(OPENSSL_VERSION));
  std::printf("  libgit2 %d.%d.%d\n", major, minor, rev);
  std::printf("  simdjson %d.%d.%d\n", simdjson::SIMDJSON_VERSION_MAJOR,
              simdjson::SIMDJSON_VERSION_MINOR, simdjson::SIMDJSON_VERSION_REVISION);
  std::printf("  CLI11 %s\n", CLI11_VERSION);
  return k_exit_ok;
}

// The Lease lives in ferry's own namespace: POD_NAMESPACE (the Deployment sets it from the
// downward API), else the service account's namespace file, else the first apply namespace.
std::string lease_namespace(const ferry::service::settings& s,
                            const ferry::service::environment& env) {
  if (auto it = env.find("POD_NAMESPACE"); it != env.end() && !it->second.empty()) {
    return it->second;
  }
  if (auto ns = ferry::service::read_whole_file(
          "/var/run/secrets/kubernetes.io/serviceaccount/namespace");
      ns && !ns->empty()) {
    return *ns;
  }
  return s.apply_namespaces.empty() ? "default" : s.apply_namespaces.front();
}

// The Lease holder's identity: the pod name (HOSTNAME in a pod), with the process id so two
// processes on one host never share it.
std::string replica_identity(const ferry::service::environment& env) {
  std::string host = "ferry";
  if (auto it = env.find("HOSTNAME"); it != env.end() && !it->second.empty()) {
    host = it->second;
  }
  return host + "-" + std::to_string(::getpid());
}

// `ferry serve`: configuration from the environment, then the listener until SIGTERM drains.
int run_serve() {
  auto settings = ferry::service::load_settings(current_environment(), [](const std::string& path) {
    return ferry::service::read_whole_file(path);
  });
  if (!settings) {
    std::fprintf(stderr, "ferry serve: configuration error:\n%s\n",
                 settings.error().message.c_str());
    return k_exit_usage;
  }
  auto sink = std::make_shared<ferry::log::sink>(stdout, settings->log_level, settings->log_format);
  ferry::log::logger log(sink);

  // Declared before the io_context so they are destroyed after it: destroying the io_context
  // destroys the coroutines still suspended in it (GET /app retries), which use the client.
  std::unique_ptr<ferry::github::app_client> github;
  std::unique_ptr<ferry::kube::client> kube;
  std::unique_ptr<ferry::kube::lease_elector> elector;
  ferry::service::metrics metrics;
  boost::asio::io_context ioc{1};

  // GitHub: one client on the io_context's thread; every attempt is counted by status.
  ferry::github::github_settings gh;
  gh.api_url = settings->github_api_url;
  gh.graphql_url = settings->github_graphql_url;
  gh.app_id = settings->app_id;
  gh.private_key_pem = settings->private_key_pem;
  gh.http.observer = [&metrics](const ferry::github::http_observation& o) {
    metrics.github_api_calls.with({o.status == 0 ? std::string("error") : std::to_string(o.status)})
        .inc();
    if (o.rate_limit_remaining) {
      metrics.github_rate_limit_remaining.set(static_cast<double>(*o.rate_limit_remaining));
    }
    if (o.secondary_rate_limit) {
      metrics.github_secondary_limits.inc();
    }
  };
  gh.writes.per_minute = settings->github_writes_per_minute;
  gh.writes.per_hour = settings->github_writes_per_hour;
  gh.write_observer = [&metrics](const ferry::github::write_budget_observation& o) {
    const auto installation = std::to_string(o.installation_id);
    metrics.github_write_budget_remaining.with({installation}).set(o.remaining);
    if (o.what == ferry::github::write_budget_observation::outcome::deferred) {
      metrics.github_writes_deferred.with({installation}).inc();
    }
  };
  auto created = ferry::github::app_client::create(ioc.get_executor(), std::move(gh), log);
  if (!created) {
    std::fprintf(stderr, "ferry serve: configuration error: %s\n", created.error().message.c_str());
    return k_exit_usage;
  }
  github = std::move(*created);
  ferry::git::mirror_settings mirror_settings;
  mirror_settings.cache_dir = settings->cache_dir;
  auto mirrors = ferry::git::mirror_registry::create(std::move(mirror_settings));
  if (!mirrors) {
    std::fprintf(stderr, "ferry serve: configuration error: %s\n", mirrors.error().message.c_str());
    return k_exit_usage;
  }
  // Kubernetes: FERRY_KUBE_* or the pod's service account. Out of a cluster with neither, ferry
  // still serves (pull requests need no cluster) and every apply fails with a status saying
  // why; a FERRY_KUBE_* value that does not work is a configuration error.
  const auto env = current_environment();
  auto kube_settings = ferry::kube::resolve_settings(*settings, env);
  if (kube_settings) {
    auto made = ferry::kube::client::create(ioc.get_executor(), std::move(*kube_settings), log);
    if (!made) {
      std::fprintf(stderr, "ferry serve: configuration error: %s\n", made.error().message.c_str());
      return k_exit_usage;
    }
    kube = std::move(*made);
    elector = std::make_unique<ferry::kube::lease_elector>(*kube, lease_namespace(*settings, env),
                                                           "ferry", replica_identity(env));
  } else if (!settings->kube_api_url.empty() || !settings->kube_token_file.empty() ||
             !settings->kube_ca_file.empty()) {
    std::fprintf(stderr, "ferry serve: configuration error: %s\n",
                 kube_settings.error().message.c_str());
    return k_exit_usage;
  } else {
    log.warn(
        "no Kubernetes API: applies will fail until ferry runs in a cluster or "
        "FERRY_KUBE_API_URL is set",
        {{"reason", kube_settings.error().message}});
  }
  // libgit2 fetches and reads block: they run here, never on the io_context's thread.
  boost::asio::thread_pool git_pool(2);

  ferry::handlers::handler_settings handler_settings;
  handler_settings.registry_host = settings->registry_host;
  handler_settings.github = github.get();
  handler_settings.mirrors = mirrors->get();
  handler_settings.pool = &git_pool;
  handler_settings.metrics = &metrics;
  handler_settings.infra_repos = settings->infra_repos;
  handler_settings.rules_path = settings->rules_path;
  handler_settings.kube = kube.get();
  handler_settings.job_policy.namespaces = settings->apply_namespaces;
  handler_settings.job_policy.service_accounts = settings->apply_service_accounts;
  const auto shared_settings = ferry::handlers::share_settings(std::move(handler_settings));
  ferry::service::server server(
      ioc,
      ferry::service::server_settings{.address = settings->listen_host,
                                      .port = settings->listen_port,
                                      .webhook_secret = settings->webhook_secret},
      ferry::handlers::make_shared_dispatcher(shared_settings), log, metrics);
  server.set_decider(ferry::handlers::make_shared_decider(shared_settings));
  auto bound = server.start();
  if (!bound) {
    std::fprintf(stderr, "ferry serve: %s\n", bound.error().message.c_str());
    return k_exit_usage;
  }
  log.info("listening", {{"address", bound->address().to_string()},
                         {"port", std::to_string(bound->port())},
                         {"version", FERRY_VERSION}});
  boost::asio::signal_set signals(ioc, SIGTERM, SIGINT);
  // Probes and scrapes on their own listener (FERRY_HEALTH_LISTEN): a flood on the webhook port
  // cannot fail liveness. Its /readyz follows the webhook listener's.
  // It runs on its own thread and io_context: a webhook loop busy with a flood of connections
  // or large bodies cannot delay a probe. It shares only atomics with the rest (readiness,
  // metrics) and the log sink.
  boost::asio::io_context health_ioc(1);
  std::optional<ferry::service::server> health;
  std::thread health_thread;
  if (settings->health_listen) {
    ferry::service::server_settings hs;
    hs.address = settings->health_listen->first;
    hs.port = settings->health_listen->second;
    hs.health_only = true;
    health.emplace(health_ioc, std::move(hs), ferry::service::dispatch_fn{},
                   log.with({{"listener", "health"}}), metrics);
    health->follow_readiness_of(server);
    auto health_bound = health->start();
    if (!health_bound) {
      std::fprintf(stderr, "ferry serve: health listener: %s\n",
                   health_bound.error().message.c_str());
      return k_exit_usage;
    }
    health_thread = std::thread([&health_ioc] { health_ioc.run(); });
  }
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (!ec) {
      log.info("draining", {{"signal", std::to_string(signo)}});
      // Once every answer is out, stop: the GitHub client's background work (GET /app
      // retries, pooled connections) must not keep the process alive. The health listener
      // answers until the webhook listener has drained (liveness holds meanwhile).
      server.drain([&log, &ioc, &health, &health_ioc] {
        log.info("drained");
        if (health) {
          boost::asio::post(health_ioc, [&health] { health->drain(); });
        }
        ioc.stop();
      });
    }
  });
  // GET /app in the background: the bot's slug tells ferry's own branch heads apart.
  boost::asio::co_spawn(ioc, github->refresh_app_info_until_ok(), boost::asio::detached);
  // One replica at a time (the Lease holder) resumes pending applies and redelivers failures.
  // Without a cluster there is no Lease to share that duty and no apply to resume: every replica
  // sweeps failed deliveries itself (issue 10: a 5xx outside a cluster was never retried).
  boost::asio::co_spawn(ioc, ferry::handlers::run_maintenance(shared_settings, elector.get(), log),
                        boost::asio::detached);
  ioc.run();
  if (health_thread.joinable()) {
    // Drained already when the webhook listener drained (a second drain does nothing).
    boost::asio::post(health_ioc, [&health] { health->drain(); });
    health_thread.join();
  }
  git_pool.join();
  // The clients outlive the io_context (coroutines it destroys still refer to them), but their
  // pooled sockets must not: close those while it is still there.
  github->http().close_idle_connections();
  if (kube) {
    kube->close_idle_connections();
  }
  return k_exit_ok;
}

// `ferry doctor`: the settings and clients serve builds, the checks, one line each (or a JSON
// array). Exit 0 when nothing fails, 1 when something does, 2 on a configuration error.
int run_doctor(const std::string& output) {
  const auto env = current_environment();
  auto settings = ferry::service::load_settings(
      env, [](const std::string& path) { return ferry::service::read_whole_file(path); });
  if (!settings) {
    std::fprintf(stderr, "ferry doctor: configuration error:\n%s\n",
                 settings.error().message.c_str());
    return k_exit_usage;
  }
  // Logs go to stderr at warn: stdout carries only the report.
  auto sink =
      std::make_shared<ferry::log::sink>(stderr, ferry::log::level::warn, settings->log_format);
  ferry::log::logger log(sink);
  std::unique_ptr<ferry::github::app_client> github;
  std::unique_ptr<ferry::kube::client> kube;
  boost::asio::io_context ioc{1};
  ferry::github::github_settings gh;
  gh.api_url = settings->github_api_url;
  gh.graphql_url = settings->github_graphql_url;
  gh.app_id = settings->app_id;
  gh.private_key_pem = settings->private_key_pem;
  auto created = ferry::github::app_client::create(ioc.get_executor(), std::move(gh), log);
  if (!created) {
    std::fprintf(stderr, "ferry doctor: configuration error: %s\n",
                 created.error().message.c_str());
    return k_exit_usage;
  }
  github = std::move(*created);
  ferry::doctor::doctor_inputs in;
  in.settings = &*settings;
  in.github = github.get();
  in.lease_namespace = lease_namespace(*settings, env);
  in.now = std::chrono::system_clock::now();
  auto kube_settings = ferry::kube::resolve_settings(*settings, env);
  if (kube_settings) {
    auto made = ferry::kube::client::create(ioc.get_executor(), std::move(*kube_settings), log);
    if (made) {
      kube = std::move(*made);
      in.kube = kube.get();
    } else {
      in.kube_unavailable = made.error().message;
    }
  } else {
    in.kube_unavailable = kube_settings.error().message;
  }
  std::vector<ferry::doctor::check> checks;
  boost::asio::co_spawn(
      ioc,
      [&]() -> boost::asio::awaitable<void> { checks = co_await ferry::doctor::run_doctor(in); },
      boost::asio::detached);
  ioc.run();
  github->http().close_idle_connections();
  if (kube) {
    kube->close_idle_connections();
  }
  const std::string text =
      output == "json" ? ferry::doctor::to_json(checks) : ferry::doctor::to_text(checks);
  std::fputs(text.c_str(), stdout);
  return ferry::doctor::exit_code(checks);
}

struct replay_options {
  std::string url;
  std::string secret;
  std::string event;
  double timeout_seconds = 10;
  std::vector<std::string> files;
};

int run_replay(const replay_options& o) {
  using namespace ferry::service;
  replay_target target{o.url, o.secret,
                       std::chrono::milliseconds(static_cast<long>(o.timeout_seconds * 1000))};
  bool all_2xx = true;
  for (const auto& file : o.files) {
    // A saved delivery can be as large as a delivery GitHub sends.
    auto content = read_whole_file(file, ferry::limits::k_webhook_body_max + 4096);
    if (!content) {
      std::fprintf(stderr, "ferry replay: %s\n", content.error().message.c_str());
      return k_exit_usage;
    }
    auto delivery = load_saved_delivery(file, *content, o.event);
    if (!delivery) {
      std::fprintf(stderr, "ferry replay: %s\n", delivery.error().message.c_str());
      return k_exit_usage;
    }
    auto answer = post_delivery(target, *delivery);
    if (!answer) {
      std::fprintf(stderr, "ferry replay: %s: %s\n", file.c_str(), answer.error().message.c_str());
      all_2xx = false;
      continue;
    }
    std::printf("%s  event=%s delivery=%s -> %d\n", file.c_str(), delivery->event.c_str(),
                delivery->delivery_id.c_str(), answer->status);
    if (answer->status < 200 || answer->status > 299) {
      all_2xx = false;
    }
  }
  return all_2xx ? k_exit_ok : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ferry: event-driven GitOps promotion. A GHCR publish becomes a reviewed pull "
      "request on the infra repo; a merge becomes an apply."};
  app.require_subcommand(1);
  app.set_version_flag("--version", FERRY_VERSION);

  auto* version = app.add_subcommand("version", "print the version and linked library versions");

  auto* serve = app.add_subcommand(
      "serve",
      "run the webhook service. Configuration comes from the environment: FERRY_LISTEN "
      "(0.0.0.0:8080), FERRY_HEALTH_LISTEN (unset; address:port of a listener for /healthz, "
      "/readyz and /metrics only), FERRY_WEBHOOK_SECRET or FERRY_WEBHOOK_SECRET_FILE (required), "
      "FERRY_APP_ID "
      "(required), FERRY_PRIVATE_KEY_FILE (required), FERRY_GITHUB_API_URL, "
      "FERRY_GITHUB_GRAPHQL_URL, FERRY_REGISTRY_HOST (ghcr.io), FERRY_INFRA_REPOS (required), "
      "FERRY_RULES_PATH, FERRY_CACHE_DIR, FERRY_APPLY_NAMESPACES, FERRY_APPLY_SERVICE_ACCOUNTS, "
      "FERRY_KUBE_API_URL, FERRY_KUBE_TOKEN_FILE, FERRY_KUBE_CA_FILE, FERRY_LOG_FORMAT "
      "(json|text), FERRY_LOG_LEVEL (debug|info|warn|error), FERRY_GITHUB_WRITES_PER_MINUTE "
      "(80), FERRY_GITHUB_WRITES_PER_HOUR (500); POD_NAMESPACE names the Lease's "
      "namespace. Any other FERRY_* variable is an error, except the kubelet's service links "
      "(FERRY_SERVICE_HOST, FERRY_PORT, ...). Exits 0 after draining on SIGTERM, 2 on a "
      "configuration error");

  ferry::promotion::check_options check;
  auto* check_cmd = app.add_subcommand(
      "check",
      "validate DIR/.github/ferry.yaml (every error as file:line:col: message, exit 1) and list, "
      "per image rule, every setter marker found (file:line)");
  check_cmd->add_option("--repo", check.repo_dir, "a checkout of the infra repository")->required();

  ferry::promotion::plan_options_cli plan;
  std::string plan_digest, plan_env;
  auto* plan_cmd = app.add_subcommand(
      "plan",
      "offline dry run on a checkout: print the unified diff (git diff format, accepted by git "
      "apply) of what the pull requests would change, for the entry environments or the one "
      "named, each file once; reasons per environment on stderr. Under a newest policy any tag "
      "its filter admits is taken (no commit comparison offline). Exit 0 a diff, 1 invalid "
      "rules, 2 usage or a needed --digest missing, 3 rejected by the rules (no rule, filtered "
      "out, not above what runs now, suspended), 4 nothing would change");
  plan_cmd->add_option("--repo", plan.repo_dir, "a checkout of the infra repository")->required();
  plan_cmd->add_option("--image", plan.image, "image repository, e.g. ghcr.io/org/app")->required();
  plan_cmd->add_option("--tag", plan.tag, "the published tag")->required();
  auto* plan_digest_opt =
      plan_cmd->add_option("--digest", plan_digest, "the image digest, sha256:<64 hex>");
  auto* plan_env_opt =
      plan_cmd->add_option("--env", plan_env, "plan this environment instead of the entry ones");

  ferry::migrate::migrate_cli migrate;
  auto* migrate_cmd = app.add_subcommand(
      "migrate-flux",
      "print the rules file equivalent to the Flux image automation objects (ImageRepository, "
      "ImagePolicy, ImageUpdateAutomation) in DIR's *.yaml/*.yml files: one image rule per "
      "ImagePolicy, one environment per ImageUpdateAutomation update.path (pull requests only "
      "unless --apply-flux), then as comments the markers the rules claim (file:line  NS:NAME), "
      "notes, and what to suspend and delete on the cluster. Errors as file:line: message. Exit 0 "
      "printed, 1 a Flux object cannot be migrated, 2 usage or unreadable YAML, 4 no Flux image "
      "objects found");
  migrate_cmd->add_option("--repo", migrate.repo_dir, "a checkout of the infra repository")
      ->required();
  migrate_cmd->add_flag("--apply-flux", migrate.options.apply_flux,
                        "give each environment apply: {flux: ...} naming the Flux Kustomization "
                        "whose spec.path is the environment's path or its nearest parent");

  ferry::onboard::onboard_cli onboard;
  auto* onboard_cmd = app.add_subcommand(
      "onboard",
      "convert a docker-compose.yml into the infra repository's layout: a Kustomize base "
      "(apps/<app>/base) and one overlay per environment (under the environment's first path "
      "in .github/ferry.yaml, else apps/<app>/overlays/<env>) with a Flux setter marker on "
      "every ghcr.io image, and the image rules added to .github/ferry.yaml. Prints the "
      "conversion log, one decision a line. Files that exist and were not generated by ferry "
      "onboard are left alone (nothing is written then). Options also come from the rules "
      "file's onboarding: section. Exit 0 written (--dry-run: the diff printed), 1 the rules "
      "file is invalid, 2 usage, an unreadable or unconvertible compose file or files in the "
      "way, 4 nothing would change. See docs/onboarding.md");
  onboard_cmd->add_option("--compose", onboard.compose_path, "the docker-compose.yml to convert")
      ->required();
  onboard_cmd->add_option("--app", onboard.app, "the application's name (a DNS label)")->required();
  onboard_cmd->add_option("--repo", onboard.repo_dir, "a checkout of the infra repository")
      ->required();
  onboard_cmd->add_option("--env", onboard.envs,
                          "environments, comma-separated (default: staging,production)");
  onboard_cmd->add_option("--org", onboard.org,
                          "the GitHub organisation: ghcr.io/<org>/<service> for build-only "
                          "services and the {org} of namespaces (default: from the first "
                          "ghcr.io image)");
  onboard_cmd->add_option("--domain", onboard.domain,
                          "the production domain: <service>.<domain>, staging "
                          "<service>.staging.<domain> (default: onboarding.domain)");
  onboard_cmd->add_flag("--dry-run", onboard.dry_run,
                        "write nothing: print the unified diff on stdout, the log on stderr");

  auto* demo = app.add_subcommand(
      "demo",
      "the embedded default: run ferry offline on its example infra repository and "
      "print what happened");

  std::string doctor_output = "text";
  auto* doctor_cmd = app.add_subcommand(
      "doctor",
      "check a live installation with serve's settings (same environment): the App key, "
      "installations and permissions, webhook configuration and events, failed deliveries in "
      "the last 24 h, the rules file at each infra repo's default branch head, the source "
      "repositories newest policies read, and in Kubernetes the access every apply target and "
      "the Lease need (SelfSubjectAccessReview) and the named Flux objects. Writes nothing. One "
      "line per check (ok/warn/fail, with what to do); exit 0 when no check fails, 1 when one "
      "does, 2 on a configuration error. See docs/doctor.md");
  doctor_cmd->add_option("--output", doctor_output, "text (one line per check) or json (an array)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  ferry::registration::register_options reg;
  auto* register_cmd = app.add_subcommand(
      "register",
      "register ferry's GitHub App with GitHub's App manifest flow: serves a one-page form on "
      "127.0.0.1 (open the printed URL in a browser signed in to GitHub; nothing is launched) "
      "that posts infra/github-app-manifest.json (compiled in) with the name and webhook URL "
      "to ORG's App settings; after you confirm, GitHub redirects back with a one-hour code, "
      "ferry trades it (POST /app-manifests/{code}/conversions) and writes app-id, client-id, "
      "webhook-secret and private-key.pem to DIR (mode 0600, DIR 0700), then prints the "
      "kubectl commands creating the Secret ferry-secrets, the settings for the overlay and "
      "the install URL. Never prints a secret. Exit 0 written, 1 the registration failed "
      "(code refused or expired, no answer in 10 minutes, GitHub unreachable: nothing "
      "written), 2 usage or files already in DIR. See docs/register.md");
  register_cmd->add_option("--org", reg.org, "the GitHub organisation that will own the App")
      ->required();
  register_cmd->add_option("--name", reg.name, "the App's name (unique on GitHub, 34 characters)")
      ->capture_default_str();
  register_cmd
      ->add_option("--webhook-url", reg.webhook_url,
                   "where GitHub sends deliveries: ferry's public URL, e.g. "
                   "https://ferry.example.com/webhook")
      ->required();
  register_cmd->add_option("--out", reg.out_dir, "directory for the credential files")
      ->capture_default_str();
  register_cmd
      ->add_option("--github-url", reg.github_url,
                   "GitHub's web address the form posts to; https://HOST for GitHub Enterprise "
                   "Server")
      ->capture_default_str();
  register_cmd->add_option("--api-url", reg.api_url,
                           "the REST API the code is traded at (default: https://api.github.com "
                           "for github.com, else <github-url>/api/v3)");
  register_cmd->add_option("--port", reg.port,
                           "local port of the form and of the redirect (default: any free one)");
  register_cmd->add_option("--ca-file", reg.ca_file,
                           "PEM file of CAs trusted for the API (GHES with a private CA)");
  register_cmd->add_flag("--force", reg.force, "replace the files already in DIR");

  replay_options replay;
  auto* replay_cmd = app.add_subcommand(
      "replay",
      "sign and POST saved webhook deliveries to a running ferry (local development without "
      "a tunnel); exits 0 only if every POST got a 2xx");
  replay_cmd->add_option("--url", replay.url, "webhook URL, e.g. http://127.0.0.1:8080/webhook")
      ->required();
  replay_cmd->add_option("--secret", replay.secret, "the webhook secret to sign with")->required();
  replay_cmd->add_option("--event", replay.event,
                         "event name for raw payload files (overrides the file's \"event\")");
  replay_cmd->add_option("--timeout", replay.timeout_seconds, "seconds per delivery")
      ->capture_default_str();
  replay_cmd
      ->add_option("FILE", replay.files,
                   "saved deliveries: {\"event\", \"payload\"[, \"delivery\"]} JSON, or "
                   "raw payloads with --event")
      ->required()
      ->check(CLI::ExistingFile);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return k_exit_usage;
  }

  if (version->parsed()) {
    return run_version();
  }
  if (serve->parsed()) {
    return run_serve();
  }
  if (check_cmd->parsed()) {
    return ferry::promotion::run_check(check, stdout, stderr);
  }
  if (plan_cmd->parsed()) {
    // Given at all, even empty, is given: `--digest ""` or `--env ""` is a usage error with
    // the input named, not a silent plan without a digest or for the entry environments.
    if (plan_digest_opt->count() > 0) {
      plan.digest = plan_digest;
    }
    if (plan_env_opt->count() > 0) {
      plan.environment = plan_env;
    }
    return ferry::promotion::run_plan(plan, stdout, stderr);
  }
  if (migrate_cmd->parsed()) {
    return ferry::migrate::run_migrate_flux(migrate, stdout, stderr);
  }
  if (onboard_cmd->parsed()) {
    return ferry::onboard::run_onboard(onboard, stdout, stderr);
  }
  if (demo->parsed()) {
    return ferry::demo::run(stdout);
  }
  if (doctor_cmd->parsed()) {
    return run_doctor(doctor_output);
  }
  if (register_cmd->parsed()) {
    return ferry::registration::run_register(reg, stdout, stderr);
  }
  if (replay_cmd->parsed()) {
    return run_replay(replay);
  }
  return k_exit_usage;
}
