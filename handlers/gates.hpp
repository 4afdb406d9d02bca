#pragma once
// Gates before promotion (SPEC "Rules file", "Behaviour by event"; docs/rules.md "Gates"): after
// an environment's apply succeeded, its `gates` must pass before the environments promoted from
// it get their pull requests. The state lives on the merged commit as the status
// `ferry/gates/<env>`: pending while the gates are awaited (its first time starts the timeout),
// then success (and the promotion), failure (a gate failed) or error (a gate never settled).
//
// Three ways in, all converging on the same status:
// - follow_gates, right after the apply's success: follows the Flagger Canary with the watch,
//   reads the statuses, and sleeps until the timeout when only statuses are awaited;
// - handle_status / handle_check_run: GitHub reports a check on an infra commit whose gates are
//   pending; one read of the statuses and the Canary decides;
// - the Lease holder's resume (handlers/maintenance.cpp): pending gates nobody follows.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/handlers.hpp"
#include "handlers/infra_repo.hpp"
#include "service/log.hpp"
#include "service/result.hpp"
#include "service/rules/rules.hpp"

namespace ferry::handlers {

// "ferry/gates/<env>"
std::string gates_context(std::string_view env);

// The evidence line an apply's success leaves in the promotion PR's body.
std::string apply_evidence(std::string_view env, std::string_view sha,
                           std::string_view apply_description);

// Posts `ferry/gates/<env>` pending on `sha`, naming what is awaited: before the apply's success
// status, so a replica that dies in between leaves a pending status for the resume.
boost::asio::awaitable<result<void>> open_gates(infra_repo& repo, const rules::environment& env,
                                                const std::string& sha);

// Follows the gates of `env_name` at `sha` (its apply succeeded with `apply_description`) to a
// result and promotes on success. `started`: when the gates opened (the timeout counts from
// there). Runs in the background; nothing it needs lives only in memory.
boost::asio::awaitable<void> follow_gates(std::shared_ptr<const handler_settings> s,
                                          infra_repo repo, rules::rules_file rules,
                                          std::string env_name, std::string sha,
                                          std::string apply_description,
                                          std::chrono::system_clock::time_point started,
                                          log::logger log);

// For the resume: the gates of `env_name` on `sha`, whose statuses (newest first) the sweep has
// read, followed here when they are still pending and this process does not follow them
// already; the timeout counts from the first `ferry/gates/<env>` status. False when they were
// left (no such environment or no gates at that commit, or not pending).
boost::asio::awaitable<result<bool>> resume_gates(std::shared_ptr<const handler_settings> s,
                                                  infra_repo repo, const rules::rules_file& rules,
                                                  std::string env_name, std::string sha,
                                                  std::vector<github::commit_status> statuses,
                                                  log::logger log);

handler_task handle_status(const service::delivery& d, const events::status_event& e,
                           std::shared_ptr<const handler_settings> s);
handler_task handle_check_run(const service::delivery& d, const events::check_run_event& e,
                              std::shared_ptr<const handler_settings> s);

}  // namespace ferry::handlers
