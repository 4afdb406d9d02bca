#include "handlers/apply.hpp"

#include "service/text.hpp"

#include <simdjson.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <utility>

#include "handlers/bump_flow.hpp"
#include "handlers/gates.hpp"
#include "service/apply/argocd.hpp"
#include "service/apply/environments.hpp"
#include "service/apply/fleet.hpp"
#include "service/apply/flux.hpp"
#include "service/apply/health.hpp"
#include "service/apply/job.hpp"
#include "service/kube/client.hpp"
#include "service/kube/objects.hpp"
#include "service/limits.hpp"
#include "service/promotion/values.hpp"

namespace ferry::handlers {

namespace {

namespace asio = boost::asio;

using text::short_sha;

std::string key_of(const infra_repo& repo, std::string_view env, std::string_view sha) {
  return repo.name().full() + " " + std::string(env) + " " + std::string(sha);
}

std::string minutes_text(std::chrono::seconds d) {
  const auto s = d.count();
  if (s % 60 == 0) {
    return std::to_string(s / 60) + "m";
  }
  return std::to_string(s) + "s";
}

// The names of a Job's pods (GET pods?labelSelector=job-name=<job>).
std::vector<std::string> pod_names(std::string_view list_json) {
  std::vector<std::string> out;
  simdjson::dom::parser parser;
  auto doc = parser.parse(list_json.data(), list_json.size());
  if (doc.error() != simdjson::SUCCESS) {
    return out;
  }
  simdjson::dom::array items;
  if (doc.value_unsafe().at_key("items").get_array().get(items) != simdjson::SUCCESS) {
    return out;
  }
  for (auto item : items) {
    std::string_view name;
    if (item.at_pointer("/metadata/name").get_string().get(name) == simdjson::SUCCESS) {
      out.emplace_back(name);
    }
  }
  return out;
}

// The outcome of following one apply to its end.
struct apply_outcome {
  enum class state { success, failure, error } kind = state::error;
  std::string description;  // for the status (cut to 140 later)
  std::string detail;       // for the comment on a failure (log lines, messages)
};

asio::awaitable<apply_outcome> follow_job(const handler_settings& s, const rules::environment& env,
                                          const apply_started& started) {
  auto& kube = *s.kube;
  auto settled = co_await kube.follow(
      started.object_path,
      [](std::string_view object) {
        auto job = kube::parse_job(object);
        return job && kube::state_of(*job) != kube::job_state::running;
      },
      std::chrono::duration_cast<std::chrono::milliseconds>(env.apply->timeout));
  if (!settled) {
    if (settled.error().kind == error_kind::transient) {
      co_return apply_outcome{
          apply_outcome::state::error,
          started.object_name + ": no result within " + minutes_text(env.apply->timeout),
          settled.error().message};
    }
    co_return apply_outcome{apply_outcome::state::error,
                            started.object_name + ": " + settled.error().message,
                            settled.error().message};
  }
  auto job = kube::parse_job(*settled);
  if (!job) {
    co_return apply_outcome{apply_outcome::state::error, started.object_name + ": unreadable",
                            job.error().message};
  }
  if (kube::state_of(*job) == kube::job_state::succeeded) {
    co_return apply_outcome{apply_outcome::state::success, started.object_name + " succeeded", {}};
  }
  std::string why = "failed";
  if (const auto* failed = kube::find_condition(job->conditions, "Failed")) {
    why = "failed: " + (failed->message.empty() ? failed->reason : failed->message);
  }
  // The last lines of the Job's pod go into the comment (SPEC "Job mode").
  std::string logs;
  auto pods = co_await kube.get(kube::pods_for_job(job->meta.ns, job->meta.name));
  if (pods) {
    for (const auto& pod : pod_names(*pods)) {
      auto text =
          co_await kube.get_text(kube::pod_log_path(job->meta.ns, pod, limits::k_apply_log_lines));
      if (text) {
        logs += "pod " + pod + ":\n" + *text;
        if (!logs.empty() && logs.back() != '\n') {
          logs += '\n';
        }
      }
    }
  }
  co_return apply_outcome{apply_outcome::state::failure, started.object_name + " " + why,
                          std::move(logs)};
}

// The source's facts the verdict needs beyond the Kustomization (flux.hpp, applied_commit): only
// read for sources whose revision names no commit by itself.
asio::awaitable<result<apply::source_facts>> read_source(kube::client& kube,
                                                         const kube::flux_view& k) {
  apply::source_facts facts;
  facts.kind = k.source_kind;
  if (k.source_kind != "OCIRepository" && k.source_kind != "Bucket") {
    co_return facts;
  }
  auto path = kube::flux_path(k.source_kind, k.source_namespace, k.source_name);
  if (!path) {
    co_return path.error();
  }
  auto object = co_await kube.get(*path);
  if (!object) {
    co_return object.error();
  }
  auto source = kube::parse_flux(*object);
  if (!source) {
    co_return source.error();
  }
  facts.artifact_revision = source->artifact_revision;
  facts.artifact_source_revision = source->artifact_source_revision;
  facts.last_handled_reconcile_at = source->last_handled_reconcile_at;
  co_return facts;
}

std::string check_name(const rules::health_check& c) {
  return c.kind + " " + c.namespace_name + "/" + c.name;
}

// Follows each health check to Ready at its generation (health.hpp), until `deadline`. success
// names them; failure carries the object's own message.
asio::awaitable<apply_outcome> follow_health(kube::client& kube,
                                             const std::vector<rules::health_check>& checks,
                                             std::chrono::steady_clock::time_point deadline,
                                             std::chrono::seconds timeout) {
  for (const auto& check : checks) {
    const std::string name = check_name(check);
    auto path =
        kube::workload_path(check.api_version, check.kind, check.namespace_name, check.name);
    if (!path) {
      co_return apply_outcome{apply_outcome::state::error, name + ": " + path.error().message,
                              path.error().message};
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const std::string kind = check.kind;
    // Named, not a temporary: GCC 12 destroys a capturing temporary twice across co_await.
    std::function<bool(std::string_view)> settled_yet = [kind](std::string_view object) {
      auto w = kube::parse_workload(object);
      return w && apply::judge_workload(kind, *w).verdict != apply::health_verdict::waiting;
    };
    const auto wait_for = std::max(left, std::chrono::milliseconds(1));
    auto settled = co_await kube.follow(*path, settled_yet, wait_for);
    if (!settled) {
      if (settled.error().kind == error_kind::not_found) {
        co_return apply_outcome{apply_outcome::state::error, name + " does not exist",
                                settled.error().message};
      }
      if (settled.error().kind != error_kind::transient) {
        co_return apply_outcome{apply_outcome::state::error, name + ": " + settled.error().message,
                                settled.error().message};
      }
      // Timed out: say where it stood.
      std::string last = settled.error().message;
      if (auto now = co_await kube.get(*path); now) {
        if (auto w = kube::parse_workload(*now); w) {
          last = apply::judge_workload(kind, *w).message;
        }
      }
      co_return apply_outcome{apply_outcome::state::error,
                              name + ": not Ready within " + minutes_text(timeout) + ": " + last,
                              last};
    }
    auto w = kube::parse_workload(*settled);
    if (!w) {
      co_return apply_outcome{apply_outcome::state::error, name + ": unreadable",
                              w.error().message};
    }
    const auto verdict = apply::judge_workload(kind, *w);
    if (verdict.verdict == apply::health_verdict::failed) {
      co_return apply_outcome{apply_outcome::state::failure, name + " failed: " + verdict.message,
                              verdict.message};
    }
  }
  co_return apply_outcome{apply_outcome::state::success, {}, {}};
}

// The health checks of an apply: the rules' list, or the touched HelmReleases of the
// Kustomization's inventory (health.hpp, touched_helmreleases).
asio::awaitable<result<std::vector<rules::health_check>>> health_checks_for(
    infra_repo& repo, const rules::environment& env, const rules::apply_flux& flux,
    const std::string& sha, const kube::flux_view& k) {
  if (flux.health_checks) {
    co_return *flux.health_checks;
  }
  bool has_helm = false;
  for (const auto& entry : k.inventory) {
    const auto ref = apply::parse_inventory_id(entry.id);
    has_helm = has_helm || (ref && ref->kind == "HelmRelease");
  }
  if (!has_helm) {
    co_return std::vector<rules::health_check>{};
  }
  auto files = co_await repo.changed_files(sha, env.paths);
  if (!files) {
    co_return files.error();
  }
  std::vector<apply::changed_file> changed;
  changed.reserve(files->size());
  for (auto& f : *files) {
    changed.push_back(apply::changed_file{std::move(f.path), std::move(f.content)});
  }
  co_return apply::touched_helmreleases(k.inventory, changed);
}

asio::awaitable<apply_outcome> follow_flux(const handler_settings& s, infra_repo& repo,
                                           const rules::environment& env, const std::string& sha,
                                           const apply_started& started) {
  auto& kube = *s.kube;
  const auto& flux = std::get<rules::apply_flux>(env.apply->target);
  const auto deadline = std::chrono::steady_clock::now() + env.apply->timeout;
  std::string judged_version;  // the resourceVersion last judged "waiting"
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      break;
    }
    // Wake up when Flux has handled a request (ours, or a later one) and says Ready or not,
    // for a version of the object not judged yet.
    auto seen = co_await kube.follow(
        started.object_path,
        [&judged_version](std::string_view object) {
          auto k = kube::parse_flux(object);
          if (!k || k->meta.resource_version == judged_version ||
              k->last_handled_reconcile_at.empty()) {
            return false;
          }
          const auto* ready = kube::find_condition(k->conditions, "Ready");
          return ready != nullptr && ready->status != "Unknown";
        },
        left);
    if (!seen) {
      if (seen.error().kind == error_kind::transient) {
        break;
      }
      co_return apply_outcome{apply_outcome::state::error,
                              started.object_name + ": " + seen.error().message,
                              seen.error().message};
    }
    auto k = kube::parse_flux(*seen);
    if (!k) {
      co_return apply_outcome{apply_outcome::state::error, started.object_name + ": unreadable",
                              k.error().message};
    }
    const auto* ready = kube::find_condition(k->conditions, "Ready");
    // A request made after ours (a later push) supersedes it: its handling counts for us when
    // the revision it applied descends from our commit.
    std::string requested = sha;
    if (auto it = k->meta.annotations.find("reconcile.fluxcd.io/requestedAt");
        it != k->meta.annotations.end() && it->second != sha) {
      requested = k->last_handled_reconcile_at;
    }
    auto source = co_await read_source(kube, *k);
    if (!source) {
      co_return apply_outcome{apply_outcome::state::error,
                              started.object_name + ": its source: " + source.error().message,
                              source.error().message};
    }
    bool descends = false;
    if (const auto commit = apply::applied_commit(k->last_applied_revision, *source)) {
      auto d = co_await repo.is_descendant(*commit, sha);
      descends = d && *d;
    }
    const auto progress = apply::judge_kustomization(
        requested, ready != nullptr ? ready->status : "", ready != nullptr ? ready->message : "",
        k->last_applied_revision, k->last_handled_reconcile_at, *source,
        [descends](std::string_view) { return descends; });
    if (progress.verdict == apply::flux_verdict::succeeded) {
      std::string applied = started.object_name + " is Ready at " + k->last_applied_revision;
      auto checks = co_await health_checks_for(repo, env, flux, sha, *k);
      if (!checks) {
        co_return apply_outcome{apply_outcome::state::error,
                                started.object_name + ": health checks: " + checks.error().message,
                                checks.error().message};
      }
      if (checks->empty()) {
        co_return apply_outcome{apply_outcome::state::success, std::move(applied), {}};
      }
      auto health = co_await follow_health(kube, *checks, deadline, env.apply->timeout);
      if (health.kind != apply_outcome::state::success) {
        co_return health;
      }
      std::string names;
      for (const auto& c : *checks) {
        names += (names.empty() ? "" : ", ") + check_name(c);
      }
      // The checked objects first: a status is cut to 140 characters.
      co_return apply_outcome{apply_outcome::state::success,
                              "Ready at their generation: " + names + "; " + applied,
                              {}};
    }
    if (progress.verdict == apply::flux_verdict::failed) {
      co_return apply_outcome{apply_outcome::state::failure,
                              started.object_name + " is not Ready: " + progress.message,
                              progress.message};
    }
    judged_version = k->meta.resource_version;
  }
  co_return apply_outcome{apply_outcome::state::error,
                          started.object_name + ": not Ready at " + short_sha(sha) + " within " +
                              minutes_text(env.apply->timeout),
                          {}};
}

// The answers git gives for the revisions an object names: is each the pushed commit or a
// descendant of it? Asked before the pure verdict, which cannot wait.
asio::awaitable<std::map<std::string, bool>> descendants_of(infra_repo& repo,
                                                            std::vector<std::string> revisions,
                                                            const std::string& sha) {
  std::map<std::string, bool> out;
  for (auto& r : revisions) {
    if (!text::is_commit_sha(r)) {
      continue;
    }
    r = text::lower(r);
    if (out.count(r) != 0) {
      continue;
    }
    auto d = co_await repo.is_descendant(r, sha);
    out[r] = d && *d;
  }
  co_return out;
}

// Follows an Argo CD Application (apply.argocd) until argocd.hpp's verdict settles or the
// timeout passes. Every new version of the object is judged: the controller writes status with
// the object, so a watch event is a status change.
asio::awaitable<apply_outcome> follow_argocd(const handler_settings& s, infra_repo& repo,
                                             const rules::environment& env, const std::string& sha,
                                             const apply_started& started) {
  auto& kube = *s.kube;
  const auto& argocd = std::get<rules::apply_argocd>(env.apply->target);
  const auto deadline = std::chrono::steady_clock::now() + env.apply->timeout;
  std::string judged_version;
  std::string last = "no answer from Argo CD";
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      break;
    }
    auto seen = co_await kube.follow(
        started.object_path,
        [&judged_version](std::string_view object) {
          auto app = kube::parse_argocd(object);
          return app && app->meta.resource_version != judged_version;
        },
        left);
    if (!seen) {
      if (seen.error().kind == error_kind::transient) {
        break;
      }
      co_return apply_outcome{apply_outcome::state::error,
                              started.object_name + ": " + seen.error().message,
                              seen.error().message};
    }
    auto app = kube::parse_argocd(*seen);
    if (!app) {
      co_return apply_outcome{apply_outcome::state::error, started.object_name + ": unreadable",
                              app.error().message};
    }
    std::vector<std::string> revisions{app->sync_revision, app->operation_sync_revision,
                                       app->operation_result_revision};
    const auto known = co_await descendants_of(repo, std::move(revisions), sha);
    const auto progress = apply::judge_application(*app, argocd.sync, [&known](std::string_view c) {
      auto it = known.find(std::string(c));
      return it != known.end() && it->second;
    });
    if (progress.verdict == apply::argocd_verdict::succeeded) {
      co_return apply_outcome{
          apply_outcome::state::success, started.object_name + " is " + progress.message, {}};
    }
    if (progress.verdict == apply::argocd_verdict::failed) {
      co_return apply_outcome{apply_outcome::state::failure,
                              started.object_name + " failed: " + progress.message,
                              progress.message};
    }
    last = progress.message;
    judged_version = app->meta.resource_version;
  }
  co_return apply_outcome{apply_outcome::state::error,
                          started.object_name + ": not Synced and Healthy at " + short_sha(sha) +
                              " within " + minutes_text(env.apply->timeout) + ": " + last,
                          last};
}

// Follows a Fleet GitRepo (apply.fleet) until fleet.hpp's verdict settles or the timeout passes.
asio::awaitable<apply_outcome> follow_fleet(const handler_settings& s, infra_repo& repo,
                                            const rules::environment& env, const std::string& sha,
                                            const apply_started& started) {
  auto& kube = *s.kube;
  const auto deadline = std::chrono::steady_clock::now() + env.apply->timeout;
  std::string judged_version;  // the resourceVersion last judged "waiting"
  std::string last = "no answer from Fleet";
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      break;
    }
    auto seen = co_await kube.follow(
        started.object_path,
        [&judged_version](std::string_view object) {
          auto g = kube::parse_fleet(object);
          return g && g->meta.resource_version != judged_version;
        },
        left);
    if (!seen) {
      if (seen.error().kind == error_kind::transient) {
        break;
      }
      co_return apply_outcome{apply_outcome::state::error,
                              started.object_name + ": " + seen.error().message,
                              seen.error().message};
    }
    auto g = kube::parse_fleet(*seen);
    if (!g) {
      co_return apply_outcome{apply_outcome::state::error, started.object_name + ": unreadable",
                              g.error().message};
    }
    std::vector<std::string> revisions{g->commit};
    const auto known = co_await descendants_of(repo, std::move(revisions), sha);
    const auto progress = apply::judge_gitrepo(*g, [&known](std::string_view c) {
      auto it = known.find(std::string(c));
      return it != known.end() && it->second;
    });
    if (progress.verdict == apply::fleet_verdict::succeeded) {
      co_return apply_outcome{
          apply_outcome::state::success, started.object_name + " is " + progress.message, {}};
    }
    if (progress.verdict == apply::fleet_verdict::failed) {
      co_return apply_outcome{apply_outcome::state::failure,
                              started.object_name + " failed: " + progress.message,
                              progress.message};
    }
    last = progress.message;
    judged_version = g->meta.resource_version;
  }
  co_return apply_outcome{apply_outcome::state::error,
                          started.object_name + ": not Ready at " + short_sha(sha) + " within " +
                              minutes_text(env.apply->timeout) + ": " + last,
                          last};
}

// Reports a refused or failed apply on the merged PR, with the detail a status cannot hold.
asio::awaitable<void> comment_failure(infra_repo& repo, const rules::rules_file& rules,
                                      const rules::environment& env, const std::string& sha,
                                      const std::string& what, const std::string& detail,
                                      const log::logger& log) {
  auto pr = co_await repo.merged_pr_for(sha);
  if (!pr || !*pr) {
    log.info("no merged pull request to comment on", {{"commit", sha}});
    co_return;
  }
  std::string text = "**ferry: the apply of `" + env.name + "` at " + sha +
                     " did not succeed.**\n\n" + what + "\n";
  if (!detail.empty()) {
    std::string d = detail;
    if (d.size() > limits::k_apply_comment_detail_max) {
      d = "...\n" + d.substr(d.size() - limits::k_apply_comment_detail_max);
    }
    text += "\n```\n" + d + (d.ends_with('\n') ? "" : "\n") + "```\n";
  }
  const auto downstream = rules::direct_downstream(rules, env.name);
  if (!downstream.empty()) {
    text += "\nPromotion to ";
    for (std::size_t i = 0; i < downstream.size(); ++i) {
      text += (i == 0 ? "`" : ", `") + downstream[i]->name + "`";
    }
    text += " is blocked until an apply of `" + env.name + "` succeeds.\n";
  }
  auto posted = co_await repo.comment(**pr, std::move(text));
  if (!posted) {
    log.warn("could not comment on the merged pull request", {{"error", posted.error().message}});
  }
}

asio::awaitable<void> follow_apply(std::shared_ptr<const handler_settings> s, infra_repo repo,
                                   rules::rules_file rules, std::string env_name, std::string sha,
                                   apply_started started, log::logger log) {
  const auto key = key_of(repo, env_name, sha);
  const auto* env = rules::find_environment(rules, env_name);
  apply_outcome outcome;
  if (started.kind == apply_started::mode::job) {
    outcome = co_await follow_job(*s, *env, started);
  } else if (started.kind == apply_started::mode::argocd) {
    outcome = co_await follow_argocd(*s, repo, *env, sha, started);
  } else if (started.kind == apply_started::mode::fleet) {
    outcome = co_await follow_fleet(*s, repo, *env, sha, started);
  } else {
    outcome = co_await follow_flux(*s, repo, *env, sha, started);
  }
  const auto context = apply_context(env_name);
  const std::string state = outcome.kind == apply_outcome::state::success   ? "success"
                            : outcome.kind == apply_outcome::state::failure ? "failure"
                                                                            : "error";
  if (s->metrics != nullptr) {
    s->metrics->applies.with({state}).inc();
  }
  log.info("apply finished", {{"state", state}, {"detail", outcome.description}});
  if (outcome.kind == apply_outcome::state::success && s->metrics != nullptr) {
    // Merge -> applied: from the merge commit's committer time (GitHub's merge time).
    if (auto at = co_await repo.commit_time(sha); at) {
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      s->metrics->lead_time.with({"merge_to_applied", env_name})
          .observe(static_cast<double>(std::max<std::int64_t>(0, now - *at)));
    }
  }
  const bool gated = outcome.kind == apply_outcome::state::success && env->gates.has_value();
  if (gated) {
    // The gates' pending status before the apply's success: a replica that dies in between
    // leaves one of the two pending, and the resume picks it up (handlers/gates.hpp).
    auto opened = co_await open_gates(repo, *env, sha);
    if (!opened) {
      log.warn("could not open the gates; the apply status stays pending for the resume",
               {{"error", opened.error().message}});
      s->applies->following.erase(key);
      co_return;
    }
  } else if (outcome.kind == apply_outcome::state::success) {
    // Promote before the final status: a replica that dies in between leaves the status
    // pending, and the resume redoes both (the promotion converges).
    const std::string evidence = apply_evidence(env_name, sha, outcome.description);
    auto promoted = co_await promote_downstream(*s, repo, rules, *env, sha, evidence, log);
    if (!promoted) {
      log.warn("promotion failed; the status stays pending so the resume retries it",
               {{"error", promoted.error().message}});
      s->applies->following.erase(key);
      co_return;
    }
  }
  for (int attempt = 0; attempt < limits::k_status_post_attempts; ++attempt) {
    auto posted = co_await repo.status(sha, context, state, outcome.description);
    if (posted) {
      break;
    }
    log.warn("could not post the apply status", {{"error", posted.error().message}});
  }
  if (outcome.kind != apply_outcome::state::success) {
    co_await comment_failure(repo, rules, *env, sha, outcome.description, outcome.detail, log);
  }
  if (started.kind == apply_started::mode::job) {
    // Marks the Job reported (SPEC "Crash-safe"); best effort, the status is the record.
    (void)co_await s->kube->merge_patch(
        started.object_path,
        R"({"metadata":{"annotations":{"ferry.dev/reported":")" + state + "\"}}}");
  }
  s->applies->following.erase(key);
  if (gated) {
    co_await follow_gates(s, std::move(repo), std::move(rules), std::move(env_name), std::move(sha),
                          std::move(outcome.description), std::chrono::system_clock::now(),
                          std::move(log));
  }
}

}  // namespace

std::string apply_context(std::string_view env) {
  return "ferry/apply/" + std::string(env);
}

asio::awaitable<result<apply_started>> trigger_apply(const handler_settings& s, infra_repo& repo,
                                                     const rules::environment& env,
                                                     const std::string& sha,
                                                     const log::logger& log) {
  if (!env.apply) {
    co_return make_error(error_kind::invalid_input,
                         env.name + " has no apply: it gets pull requests only");
  }
  if (s.kube == nullptr) {
    co_return make_error(error_kind::invalid_input,
                         "ferry has no Kubernetes API access (set FERRY_KUBE_API_URL or run in a "
                         "cluster)");
  }
  if (const auto* job = std::get_if<rules::apply_job>(&env.apply->target)) {
    auto text = co_await repo.read_file(sha, job->template_path);
    if (!text) {
      if (text.error().kind == error_kind::not_found) {
        co_return make_error(error_kind::invalid_input, "the Job template " + job->template_path +
                                                            " is missing at " + short_sha(sha));
      }
      co_return text.error();
    }
    auto rendered =
        apply::render_job(*text, job->template_path, *job,
                          apply::job_vars{env.name, sha, repo.name().full()}, s.job_policy);
    if (!rendered) {
      co_return rendered.error();
    }
    auto created =
        co_await s.kube->create_object(kube::job_collection(rendered->ns), rendered->json);
    if (!created) {
      co_return created.error();
    }
    log.info(created->already_existed ? "apply Job exists already" : "apply Job created",
             {{"job", rendered->ns + "/" + rendered->name}});
    co_return apply_started{apply_started::mode::job, kube::job_path(rendered->ns, rendered->name),
                            "Job " + rendered->ns + "/" + rendered->name};
  }
  if (const auto* argocd = std::get_if<rules::apply_argocd>(&env.apply->target)) {
    const std::string path =
        kube::argocd_application_path(argocd->namespace_name, argocd->application);
    const std::string name = "Application " + argocd->namespace_name + "/" + argocd->application;
    auto object = co_await s.kube->get(path);
    if (!object) {
      if (object.error().kind == error_kind::not_found) {
        co_return make_error(error_kind::invalid_input, name + " does not exist");
      }
      co_return object.error();
    }
    auto app = kube::parse_argocd(*object);
    if (!app) {
      co_return app.error();
    }
    const auto action = apply::argocd_next_action(*app, sha, argocd->sync);
    if (action == apply::argocd_action::busy) {
      // Argo CD runs one operation at a time; overwriting another's would cancel it. The status
      // stays pending and the redelivery (or the resume) tries again.
      co_return make_error(error_kind::conflict,
                           name + " has an operation at another revision in progress");
    }
    std::optional<std::string_view> revision;
    if (action == apply::argocd_action::sync) {
      revision = sha;
    }
    auto patched = co_await s.kube->merge_patch(path, apply::argocd_patch(revision));
    if (!patched) {
      co_return patched.error();
    }
    log.info(action == apply::argocd_action::sync ? "Argo CD sync requested"
                                                  : "Argo CD refresh requested",
             {{"object", argocd->namespace_name + "/" + argocd->application}});
    co_return apply_started{apply_started::mode::argocd, path, name};
  }
  if (const auto* fleet = std::get_if<rules::apply_fleet>(&env.apply->target)) {
    const std::string path = kube::fleet_gitrepo_path(fleet->namespace_name, fleet->git_repo);
    const std::string name = "GitRepo " + fleet->namespace_name + "/" + fleet->git_repo;
    auto object = co_await s.kube->get(path);
    if (!object) {
      if (object.error().kind == error_kind::not_found) {
        co_return make_error(error_kind::invalid_input, name + " does not exist");
      }
      co_return object.error();
    }
    auto gitrepo = kube::parse_fleet(*object);
    if (!gitrepo) {
      co_return gitrepo.error();
    }
    // Fleet redeploys when spec.forceSyncGeneration changes; once per commit (the label says
    // which), so a resumed apply does not force a second deployment.
    if (auto patch = apply::fleet_force_sync_patch(*gitrepo, sha)) {
      auto patched = co_await s.kube->merge_patch(path, std::move(*patch));
      if (!patched) {
        co_return patched.error();
      }
      log.info("Fleet sync forced", {{"object", fleet->namespace_name + "/" + fleet->git_repo}});
    }
    co_return apply_started{apply_started::mode::fleet, path, name};
  }
  const auto& flux = std::get<rules::apply_flux>(env.apply->target);
  auto kpath = kube::flux_path(flux.kind, flux.namespace_name, flux.name);
  if (!kpath) {
    co_return kpath.error();
  }
  auto object = co_await s.kube->get(*kpath);
  if (!object) {
    if (object.error().kind == error_kind::not_found) {
      co_return make_error(error_kind::invalid_input, flux.kind + " " + flux.namespace_name + "/" +
                                                          flux.name + " does not exist");
    }
    co_return object.error();
  }
  auto k = kube::parse_flux(*object);
  if (!k) {
    co_return k.error();
  }
  // The source first, so that the Kustomization's reconcile finds the new revision (Flux's
  // webhook receiver annotates the source; SPEC "Flux mode" asks for both).
  if (!k->source_name.empty()) {
    auto spath = kube::flux_path(k->source_kind, k->source_namespace, k->source_name);
    if (!spath) {
      co_return spath.error();
    }
    auto patched = co_await s.kube->merge_patch(*spath, apply::requested_at_patch(sha));
    if (!patched) {
      co_return patched.error();
    }
  }
  auto patched = co_await s.kube->merge_patch(*kpath, apply::requested_at_patch(sha));
  if (!patched) {
    co_return patched.error();
  }
  log.info("reconcile requested", {{"object", flux.namespace_name + "/" + flux.name}});
  co_return apply_started{apply_started::mode::flux, *kpath,
                          flux.kind + " " + flux.namespace_name + "/" + flux.name};
}

asio::awaitable<result<bool>> start_apply(std::shared_ptr<const handler_settings> s,
                                          infra_repo repo, const rules::rules_file& rules,
                                          const rules::environment& env, std::string sha,
                                          log::logger log, bool resuming) {
  log = log.with({{"environment", env.name}, {"commit", sha}});
  if (!env.apply) {
    // SPEC "Rules file": pull requests only; Flux or Argo CD apply the merge on their own
    // schedule, so there is nothing to trigger and no ferry/apply/<env> status to post.
    log.info("not applied: the environment has no apply");
    co_return false;
  }
  const auto key = key_of(repo, env.name, sha);
  if (s->applies->following.count(key) != 0) {
    log.debug("apply already followed here");
    co_return true;
  }
  const auto context = apply_context(env.name);
  if (!resuming) {
    // A redelivered push (the sweep redelivers for three days) must not apply again once the
    // result is on the commit: the Job may be gone by then (ttlSecondsAfterFinished).
    auto statuses = co_await repo.apply_statuses(sha);
    if (!statuses) {
      co_return statuses.error();
    }
    for (const auto& [ctx, state] : *statuses) {
      if (ctx == context && state != "pending") {
        log.info("already applied: the result is on the commit", {{"state", state}});
        co_return false;
      }
    }
    auto pending = co_await repo.status(sha, context, "pending",
                                        "applying " + short_sha(sha) + " to " + env.name);
    if (!pending) {
      co_return pending.error();
    }
  }
  auto started = co_await trigger_apply(*s, repo, env, sha, log);
  if (!started) {
    const auto kind = started.error().kind;
    if (kind == error_kind::transient || kind == error_kind::conflict ||
        kind == error_kind::internal) {
      // The status stays pending: the redelivery (or the resume) tries again.
      co_return started.error();
    }
    log.warn("apply refused", {{"error", started.error().message}});
    if (s->metrics != nullptr) {
      s->metrics->applies.with({"failure"}).inc();
    }
    auto failed =
        co_await repo.status(sha, context, "failure", "not applied: " + started.error().message);
    if (!failed) {
      co_return failed.error();
    }
    co_await comment_failure(repo, rules, env, sha, "The apply could not start.",
                             started.error().message, log);
    co_return false;
  }
  s->applies->following.insert(key);
  auto executor = co_await asio::this_coro::executor;
  asio::co_spawn(executor,
                 follow_apply(s, std::move(repo), rules, env.name, std::move(sha),
                              std::move(*started), std::move(log)),
                 asio::detached);
  co_return true;
}

asio::awaitable<result<void>> promote_downstream(const handler_settings& s, infra_repo& repo,
                                                 const rules::rules_file& rules,
                                                 const rules::environment& env,
                                                 const std::string& sha,
                                                 const std::string& evidence,
                                                 const log::logger& log) {
  const auto downstream = rules::direct_downstream(rules, env.name);
  if (downstream.empty()) {
    co_return ok_v;
  }
  std::vector<std::string> targets;
  for (const auto* d : downstream) {
    if (rules::is_suspended(rules, d->name)) {
      log.info("not promoted: the environment is suspended", {{"target", d->name}});
      continue;
    }
    targets.push_back(d->name);
  }
  if (targets.empty()) {
    co_return ok_v;
  }
  auto files = co_await repo.marker_files(sha, env.paths);
  if (!files) {
    co_return files.error();
  }
  const std::string delivery = "apply/" + env.name + "@" + short_sha(sha);
  for (const auto& rule : rules.images) {
    const auto value = ferry::promotion::running_value_of(*files, rule, env);
    if (!value) {
      continue;
    }
    promotion_source source;
    source.candidate = promotion{rule.image, value->tag, value->digest.value_or("")};
    source.evidence = evidence;
    log.info("promoting", {{"image", rule.image}, {"tag", value->tag}, {"from", env.name}});
    auto r = co_await converge_promotion(delivery, log, s, repo.name(), source, targets);
    if (!r) {
      co_return r.error();
    }
  }
  co_return ok_v;
}

}  // namespace ferry::handlers
