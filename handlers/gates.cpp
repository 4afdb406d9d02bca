#include "handlers/gates.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "handlers/apply.hpp"
#include "service/apply/gates.hpp"
#include "service/kube/client.hpp"
#include "service/kube/objects.hpp"
#include "service/limits.hpp"
#include "service/text.hpp"

namespace ferry::handlers {

namespace {

namespace asio = boost::asio;
using clock = std::chrono::system_clock;

std::string key_of(const infra_repo& repo, std::string_view env, std::string_view sha) {
  return "gates " + repo.name().full() + " " + std::string(env) + " " + std::string(sha);
}

std::string duration_text(std::chrono::seconds d) {
  const auto s = d.count();
  return s % 60 == 0 ? std::to_string(s / 60) + "m" : std::to_string(s) + "s";
}

// What the commit's statuses say about one environment's gates.
struct gates_record {
  std::string state;              // the latest ferry/gates/<env> state; empty when there is none
  std::string opened_at;          // the oldest ferry/gates/<env> status's created_at
  std::string apply_description;  // the latest ferry/apply/<env> description
};

gates_record record_of(const std::vector<github::commit_status>& newest_first,
                       std::string_view env) {
  gates_record r;
  const auto gates = gates_context(env);
  const auto applied = apply_context(env);
  bool apply_seen = false;
  for (const auto& st : newest_first) {
    if (st.context == gates) {
      if (r.state.empty()) {
        r.state = st.state;
      }
      r.opened_at = st.created_at;  // the last one seen is the oldest
    } else if (st.context == applied && !apply_seen) {
      apply_seen = true;
      r.apply_description = st.description;
    }
  }
  return r;
}

std::vector<apply::status_report> reports_of(const std::vector<github::commit_status>& statuses) {
  std::vector<apply::status_report> out;
  out.reserve(statuses.size());
  for (const auto& st : statuses) {
    out.push_back(apply::status_report{st.context, st.state, st.description, st.target_url});
  }
  return out;
}

asio::awaitable<void> sleep_until(clock::time_point at) {
  const auto left = at - clock::now();
  if (left <= clock::duration::zero()) {
    co_return;
  }
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           std::chrono::duration_cast<std::chrono::steady_clock::duration>(left));
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// The Flagger gate: the Canary judged against the merge commit's time, waiting for it to settle
// with the watch for at most `wait` (zero: one read).
asio::awaitable<result<apply::gate_result>> evaluate_canary(const handler_settings& s,
                                                            infra_repo& repo,
                                                            const rules::gate_flagger& g,
                                                            const std::string& sha,
                                                            std::chrono::milliseconds wait) {
  const std::string name = "Canary " + g.namespace_name + "/" + g.canary;
  if (s.kube == nullptr) {
    co_return apply::gate_result{
        name, apply::gate_verdict::failed, "ferry has no Kubernetes API access", {}};
  }
  auto merged_at = co_await repo.commit_time(sha);
  if (!merged_at) {
    co_return merged_at.error();
  }
  const clock::time_point since{std::chrono::seconds(*merged_at)};
  const std::string path = kube::flagger_canary_path(g.namespace_name, g.canary);
  result<std::string> object = make_error(error_kind::internal, "not read");
  if (wait.count() > 0) {
    // Named, not a temporary: GCC 12 destroys a capturing temporary twice across co_await.
    std::function<bool(std::string_view)> settled = [since](std::string_view json) {
      auto c = kube::parse_canary(json);
      return c && apply::judge_canary(*c, since).verdict != apply::gate_verdict::waiting;
    };
    object = co_await s.kube->follow(path, settled, wait);
    if (!object && object.error().kind == error_kind::transient) {
      object = co_await s.kube->get(path);  // the timeout passed: judge where it stands
    }
  } else {
    object = co_await s.kube->get(path);
  }
  if (!object) {
    if (object.error().kind == error_kind::not_found) {
      co_return apply::gate_result{name, apply::gate_verdict::failed, "it does not exist", {}};
    }
    if (object.error().kind != error_kind::transient) {
      // Refused (RBAC: manifests/components/flagger) or unreadable: it will not get better by
      // waiting, and the gate says why at once.
      co_return apply::gate_result{
          name, apply::gate_verdict::failed, "cannot read it: " + object.error().message, {}};
    }
    co_return object.error();
  }
  auto canary = kube::parse_canary(*object);
  if (!canary) {
    co_return apply::gate_result{
        name, apply::gate_verdict::failed, "unreadable: " + canary.error().message, {}};
  }
  co_return apply::judge_canary(*canary, since);
}

// Every gate of `env` at `sha`, once. `statuses` are the commit's statuses when already read.
asio::awaitable<result<std::vector<apply::gate_result>>> evaluate(
    const handler_settings& s, infra_repo& repo, const rules::gates_config& gates,
    const std::string& sha, std::chrono::milliseconds canary_wait,
    std::optional<std::vector<github::commit_status>> statuses, const log::logger& log) {
  std::vector<apply::gate_result> out;
  if (gates.flagger) {
    auto canary = co_await evaluate_canary(s, repo, *gates.flagger, sha, canary_wait);
    if (!canary) {
      co_return canary.error();
    }
    out.push_back(std::move(*canary));
  }
  if (!gates.statuses.empty()) {
    if (!statuses) {
      auto read = co_await repo.statuses(sha);
      if (!read) {
        co_return read.error();
      }
      statuses = std::move(*read);
    }
    std::vector<apply::check_report> runs;
    auto read_runs = co_await repo.check_runs(sha);
    if (read_runs) {
      for (auto& r : *read_runs) {
        runs.push_back(apply::check_report{std::move(r.name), std::move(r.status),
                                           std::move(r.conclusion), std::move(r.html_url)});
      }
    } else if (read_runs.error().kind == error_kind::transient) {
      co_return read_runs.error();
    } else {
      // Without the Checks read permission GitHub answers 403: commit statuses still count.
      log.warn("check runs unreadable: only commit statuses count for the gates",
               {{"error", read_runs.error().message}});
    }
    const auto judged = apply::judge_statuses(gates.statuses, reports_of(*statuses), runs);
    out.insert(out.end(), judged.begin(), judged.end());
  }
  co_return out;
}

asio::awaitable<void> comment_blocked(infra_repo& repo, const rules::rules_file& rules,
                                      const rules::environment& env, const std::string& sha,
                                      const std::string& what, const log::logger& log) {
  auto pr = co_await repo.merged_pr_for(sha);
  if (!pr || !*pr) {
    co_return;
  }
  std::string text =
      "**ferry: the gates of `" + env.name + "` at " + sha + " did not pass.**\n\n" + what + "\n";
  const auto downstream = rules::direct_downstream(rules, env.name);
  if (!downstream.empty()) {
    text += "\nPromotion to ";
    for (std::size_t i = 0; i < downstream.size(); ++i) {
      text += (i == 0 ? "`" : ", `") + downstream[i]->name + "`";
    }
    text += " is blocked until the gates of a later apply of `" + env.name + "` pass.\n";
  }
  if (auto posted = co_await repo.comment(**pr, std::move(text)); !posted) {
    log.warn("could not comment on the merged pull request", {{"error", posted.error().message}});
  }
}

// Acts on a judgement: passed -> promote, then success; failed -> failure; waiting past the
// deadline -> error; waiting before it -> nothing (true: still open).
asio::awaitable<result<bool>> settle(const handler_settings& s, infra_repo& repo,
                                     const rules::rules_file& rules, const rules::environment& env,
                                     const std::string& sha, const std::string& apply_description,
                                     const std::vector<apply::gate_result>& gates,
                                     clock::time_point deadline, const log::logger& log) {
  const auto verdict = apply::combined(gates);
  const auto context = gates_context(env.name);
  if (verdict == apply::gate_verdict::waiting && clock::now() < deadline) {
    co_return true;
  }
  if (verdict == apply::gate_verdict::passed) {
    const std::string evidence = apply_evidence(env.name, sha, apply_description) +
                                 "\n\n**Gates** (status `" + context + "` = success):\n" +
                                 apply::gates_evidence(gates);
    auto promoted = co_await promote_downstream(s, repo, rules, env, sha, evidence, log);
    if (!promoted) {
      // The status stays pending: the next report, or the resume, promotes again.
      co_return promoted.error();
    }
  }
  std::string description = apply::gates_summary(gates);
  std::string state = "success";
  if (verdict == apply::gate_verdict::failed) {
    state = "failure";
  } else if (verdict == apply::gate_verdict::waiting) {
    state = "error";
    description = "not passed within " + duration_text(env.gates->timeout) + ": " + description;
  }
  log.info("gates settled", {{"environment", env.name}, {"state", state}, {"detail", description}});
  if (s.metrics != nullptr) {
    s.metrics->gates.with({state}).inc();
  }
  auto posted = co_await repo.status(sha, context, state, description);
  if (!posted) {
    co_return posted.error();
  }
  if (verdict != apply::gate_verdict::passed) {
    const std::string what = description + "\n\n" + apply::gates_evidence(gates);
    co_await comment_blocked(repo, rules, env, sha, what, log);
  }
  co_return false;
}

// One look at the gates of `env` at `sha` when their status is pending: for reports and resumes.
asio::awaitable<result<void>> look_once(const handler_settings& s, infra_repo& repo,
                                        const rules::rules_file& rules,
                                        const rules::environment& env, const std::string& sha,
                                        const std::vector<github::commit_status>& statuses,
                                        const log::logger& log) {
  const auto record = record_of(statuses, env.name);
  if (record.state != "pending") {
    log.debug("gates not pending: nothing to decide", {{"environment", env.name}});
    co_return ok_v;
  }
  const auto opened = kube::parse_micro_time(record.opened_at).value_or(clock::now());
  auto gates =
      co_await evaluate(s, repo, *env.gates, sha, std::chrono::milliseconds(0), statuses, log);
  if (!gates) {
    co_return gates.error();
  }
  auto settled = co_await settle(s, repo, rules, env, sha, record.apply_description, *gates,
                                 opened + env.gates->timeout, log);
  if (!settled) {
    co_return settled.error();
  }
  co_return ok_v;
}

// A check reported on `sha` of the infra repository `full_name`: the environments whose gates
// name it and are pending there are decided again.
handler_task on_report(const service::delivery& d, std::shared_ptr<const handler_settings> s,
                       const events::repository_info& repository,
                       std::optional<std::int64_t> installation, std::string sha,
                       std::string check) {
  const auto repo_name = infra_repo_of(*s, repository.full_name);
  if (!repo_name || !text::is_commit_sha(sha) || check.starts_with("ferry/")) {
    co_return service::outcome::ignored;
  }
  const auto log = d.log.with({{"repo", repo_name->full()}, {"commit", sha}, {"check", check}});
  auto repo = co_await infra_repo::open(*s, *repo_name, installation, log, repository.clone_url,
                                        repository.default_branch);
  if (!repo) {
    co_return repo.error();
  }
  auto parsed = co_await repo->rules_at(sha);
  if (!parsed) {
    if (parsed.error().kind == error_kind::not_found) {
      co_return service::outcome::done;
    }
    co_return parsed.error();
  }
  if (!parsed->ok()) {
    log.info("rules invalid at the reported commit: no gates decided");
    co_return service::outcome::done;
  }
  const auto& rules = parsed->value();
  std::vector<const rules::environment*> gated;
  for (const auto& env : rules.environments) {
    if (env.gates && std::find(env.gates->statuses.begin(), env.gates->statuses.end(), check) !=
                         env.gates->statuses.end()) {
      gated.push_back(&env);
    }
  }
  if (gated.empty()) {
    log.debug("no gate waits for this check");
    co_return service::outcome::done;
  }
  auto statuses = co_await repo->statuses(sha);
  if (!statuses) {
    co_return statuses.error();
  }
  for (const auto* env : gated) {
    auto looked = co_await look_once(*s, *repo, rules, *env, sha, *statuses, log);
    if (!looked) {
      co_return looked.error();
    }
  }
  co_return service::outcome::done;
}

}  // namespace

std::string gates_context(std::string_view env) {
  return "ferry/gates/" + std::string(env);
}

std::string apply_evidence(std::string_view env, std::string_view sha,
                           std::string_view apply_description) {
  return "**Evidence:** `" + std::string(env) + "` applied " + std::string(sha) + " (" +
         std::string(apply_description) + "); status `" + apply_context(env) + "` = success.";
}

asio::awaitable<result<void>> open_gates(infra_repo& repo, const rules::environment& env,
                                         const std::string& sha) {
  std::string awaited;
  if (env.gates->flagger) {
    awaited = "Canary " + env.gates->flagger->namespace_name + "/" + env.gates->flagger->canary;
  }
  for (const auto& c : env.gates->statuses) {
    awaited += (awaited.empty() ? "" : ", ") + c;
  }
  co_return co_await repo.status(
      sha, gates_context(env.name), "pending",
      "waiting for " + awaited + " (at most " + duration_text(env.gates->timeout) + ")");
}

asio::awaitable<void> follow_gates(std::shared_ptr<const handler_settings> s, infra_repo repo,
                                   rules::rules_file rules, std::string env_name, std::string sha,
                                   std::string apply_description, clock::time_point started,
                                   log::logger log) {
  const auto* env = rules::find_environment(rules, env_name);
  if (env == nullptr || !env->gates) {
    co_return;
  }
  const auto key = key_of(repo, env_name, sha);
  if (!s->applies->following.insert(key).second) {
    co_return;
  }
  log = log.with({{"environment", env_name}, {"commit", sha}});
  const auto deadline = started + env->gates->timeout;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
  auto gates = co_await evaluate(*s, repo, *env->gates, sha,
                                 std::max(left, std::chrono::milliseconds(0)), std::nullopt, log);
  if (gates && apply::combined(*gates) == apply::gate_verdict::waiting && clock::now() < deadline) {
    // Only reports are awaited now (the Canary settled or timed out above): a status or
    // check_run delivery decides them; this look at the deadline catches a report GitHub never
    // delivered, or says which gate did not pass in time.
    log.info("gates waiting for reports", {{"detail", apply::gates_summary(*gates)}});
    co_await sleep_until(deadline);
    auto statuses = co_await repo.statuses(sha);
    if (!statuses) {
      gates = statuses.error();
    } else if (record_of(*statuses, env_name).state != "pending") {
      s->applies->following.erase(key);
      co_return;
    } else {
      gates = co_await evaluate(*s, repo, *env->gates, sha, std::chrono::milliseconds(0),
                                std::move(*statuses), log);
    }
  }
  if (!gates) {
    log.warn("gates could not be read; the status stays pending for the resume",
             {{"error", gates.error().message}});
    s->applies->following.erase(key);
    co_return;
  }
  auto settled =
      co_await settle(*s, repo, rules, *env, sha, apply_description, *gates, deadline, log);
  if (!settled) {
    log.warn("gates could not be settled; the status stays pending for the resume",
             {{"error", settled.error().message}});
  }
  s->applies->following.erase(key);
}

asio::awaitable<result<bool>> resume_gates(std::shared_ptr<const handler_settings> s,
                                           infra_repo repo, const rules::rules_file& rules,
                                           std::string env_name, std::string sha,
                                           std::vector<github::commit_status> statuses,
                                           log::logger log) {
  const auto* env = rules::find_environment(rules, env_name);
  if (env == nullptr || !env->gates) {
    log.warn("pending gates of an environment that has none at this commit: left",
             {{"environment", env_name}, {"commit", sha}});
    co_return false;
  }
  if (s->applies->following.count(key_of(repo, env_name, sha)) != 0) {
    co_return true;
  }
  const auto record = record_of(statuses, env_name);
  if (record.state != "pending") {
    co_return false;
  }
  const auto opened = kube::parse_micro_time(record.opened_at).value_or(clock::now());
  log.info("resuming gates", {{"environment", env_name}, {"commit", sha}});
  auto executor = co_await asio::this_coro::executor;
  asio::co_spawn(executor,
                 follow_gates(std::move(s), std::move(repo), rules, std::move(env_name),
                              std::move(sha), record.apply_description, opened, std::move(log)),
                 asio::detached);
  co_return true;
}

handler_task handle_status(const service::delivery& d, const events::status_event& e,
                           std::shared_ptr<const handler_settings> s) {
  if (e.state == "pending") {
    co_return service::outcome::ignored;  // decides nothing: gates wait for an outcome
  }
  co_return co_await on_report(d, std::move(s), e.repository, e.installation_id, e.sha, e.context);
}

handler_task handle_check_run(const service::delivery& d, const events::check_run_event& e,
                              std::shared_ptr<const handler_settings> s) {
  if (e.action != "completed") {
    co_return service::outcome::ignored;
  }
  co_return co_await on_report(d, std::move(s), e.repository, e.installation_id, e.head_sha,
                               e.name);
}

}  // namespace ferry::handlers
