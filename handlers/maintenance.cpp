#include "handlers/maintenance.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <map>
#include <set>

#include "handlers/apply.hpp"
#include "handlers/gates.hpp"
#include "handlers/infra_repo.hpp"
#include "service/github/repo_api.hpp"
#include "service/kube/lease.hpp"
#include "service/limits.hpp"

namespace ferry::handlers {

namespace {

namespace asio = boost::asio;

asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace

asio::awaitable<result<int>> resume_pending_applies(std::shared_ptr<const handler_settings> s,
                                                    log::logger log) {
  int resumed = 0;
  std::optional<error> first_error;
  for (const auto& name : s->infra_repos) {
    const auto repo_log = log.with({{"repo", name.full()}});
    auto repo = co_await infra_repo::open(*s, name, std::nullopt, repo_log);
    if (!repo) {
      repo_log.warn("cannot resume applies", {{"error", repo.error().message}});
      first_error = first_error ? first_error : repo.error();
      continue;
    }
    auto commits = co_await repo->recent_commits(limits::k_resume_commits);
    if (!commits) {
      first_error = first_error ? first_error : commits.error();
      continue;
    }
    for (const auto& sha : *commits) {
      auto statuses = co_await repo->statuses(sha);
      if (!statuses) {
        first_error = first_error ? first_error : statuses.error();
        continue;
      }
      // The latest state per ferry/apply/<env> and ferry/gates/<env> (newest first).
      constexpr std::string_view apply_prefix = "ferry/apply/";
      constexpr std::string_view gates_prefix = "ferry/gates/";
      std::set<std::string> seen;
      std::vector<std::string> pending;
      std::vector<std::string> pending_gates;
      for (const auto& st : *statuses) {
        if (!seen.insert(st.context).second || st.state != "pending") {
          continue;
        }
        if (st.context.starts_with(apply_prefix)) {
          pending.push_back(st.context.substr(apply_prefix.size()));
        } else if (st.context.starts_with(gates_prefix)) {
          pending_gates.push_back(st.context.substr(gates_prefix.size()));
        }
      }
      if (pending.empty() && pending_gates.empty()) {
        continue;
      }
      auto parsed = co_await repo->rules_at(sha);
      if (!parsed || !parsed->ok()) {
        repo_log.warn("pending applies at a commit without valid rules: left", {{"commit", sha}});
        continue;
      }
      for (const auto& env_name : pending) {
        const auto* env = rules::find_environment(parsed->value(), env_name);
        if (env == nullptr || !env->apply) {
          // Gone from the rules, or pull requests only at that commit: nothing to follow.
          repo_log.warn("pending apply of an environment that has none at this commit: left",
                        {{"environment", env_name}, {"commit", sha}});
          continue;
        }
        repo_log.info("resuming apply", {{"environment", env_name}, {"commit", sha}});
        auto started =
            co_await start_apply(s, *repo, parsed->value(), *env, sha, repo_log, /*resuming=*/true);
        if (!started) {
          first_error = first_error ? first_error : started.error();
          continue;
        }
        resumed += *started ? 1 : 0;
      }
      for (const auto& env_name : pending_gates) {
        auto followed =
            co_await resume_gates(s, *repo, parsed->value(), env_name, sha, *statuses, repo_log);
        if (!followed) {
          first_error = first_error ? first_error : followed.error();
          continue;
        }
        resumed += *followed ? 1 : 0;
      }
    }
  }
  if (first_error && resumed == 0) {
    co_return *first_error;
  }
  co_return resumed;
}

asio::awaitable<result<int>> redeliver_failed(const handler_settings& s, log::logger log,
                                              std::chrono::system_clock::time_point now) {
  if (s.github == nullptr) {
    co_return make_error(error_kind::internal, "the redelivery sweep needs the GitHub client");
  }
  const auto horizon = now - limits::k_redelivery_window;
  // Newest first; a guid is settled once any of its attempts succeeded.
  std::set<std::string> settled;
  std::map<std::string, github::hook_delivery> latest_failed;
  std::string path = github::hook_deliveries_path(100);
  bool past_horizon = false;
  for (int page = 0; page < limits::k_sweep_pages && !past_horizon && !path.empty(); ++page) {
    auto got = co_await github::hook_deliveries(*s.github, path, log);
    if (!got) {
      co_return got.error();
    }
    past_horizon = true;
    for (const auto& d : got->deliveries) {
      if (d.delivered_at < horizon) {
        continue;  // GitHub lists newest first; a page of nothing but old ones ends the sweep
      }
      past_horizon = false;
      // 5xx (ferry said "retry") or 0 (no answer at all); 4xx answers are final (a bad
      // signature stays bad).
      const bool failed = d.status_code == 0 || d.status_code >= 500;
      if (!failed) {
        settled.insert(d.guid);
      } else if (settled.count(d.guid) == 0 && latest_failed.count(d.guid) == 0) {
        latest_failed.emplace(d.guid, d);
      }
    }
    path = std::move(got->next_path);
  }
  int requested = 0;
  for (const auto& [guid, d] : latest_failed) {
    if (settled.count(guid) != 0) {
      continue;
    }
    auto posted = co_await github::redeliver(*s.github, d.id, log);
    if (!posted) {
      log.warn("redelivery refused", {{"delivery", guid}, {"error", posted.error().message}});
      continue;
    }
    log.info("redelivery requested",
             {{"delivery", guid}, {"status", std::to_string(d.status_code)}});
    ++requested;
  }
  co_return requested;
}

asio::awaitable<void> run_maintenance(std::shared_ptr<const handler_settings> s,
                                      kube::lease_elector* elector, log::logger log) {
  bool leader = false;
  auto next_sweep = std::chrono::steady_clock::now();
  // Applies run in a cluster; without one there is nothing to resume.
  const bool resume = s->kube != nullptr;
  if (elector == nullptr) {
    log.info(
        resume ? "no Lease: this replica resumes applies and sweeps failed deliveries itself"
               : "no Kubernetes API: this replica sweeps failed deliveries itself (every "
                 "replica does; a redelivery is handled idempotently)",
        {{"every",
          std::to_string(
              std::chrono::duration_cast<std::chrono::seconds>(limits::k_sweep_interval).count()) +
              " s"}});
  }
  while (true) {
    bool now_leader = true;
    if (elector != nullptr) {
      auto held = co_await elector->step();
      if (!held) {
        log.warn("lease round failed", {{"error", held.error().message}});
      }
      now_leader = held && *held;
    }
    if (now_leader && !leader && elector != nullptr) {
      log.info("holding the lease: resuming pending applies, sweeping failed deliveries");
      next_sweep = std::chrono::steady_clock::now();
    }
    leader = now_leader;
    if (leader && std::chrono::steady_clock::now() >= next_sweep) {
      // Again on every sweep: an apply followed by a replica that died while another held
      // the Lease is still pending, and nobody else would pick it up.
      if (resume) {
        if (auto resumed = co_await resume_pending_applies(s, log); !resumed) {
          log.warn("resume failed", {{"error", resumed.error().message}});
        }
      }
      auto swept = co_await redeliver_failed(*s, log, std::chrono::system_clock::now());
      if (!swept) {
        log.warn("sweep of failed deliveries failed", {{"error", swept.error().message}});
      }
      next_sweep = std::chrono::steady_clock::now() + limits::k_sweep_interval;
    }
    co_await sleep_for(limits::k_lease_renew_period);
  }
}

}  // namespace ferry::handlers
