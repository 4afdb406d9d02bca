#pragma once
// Applies after a merge (SPEC "Apply, and the promotion chain"): trigger the environment's apply
// in the cluster (a Job from the repository's template, a Flux reconcile request, or a Fleet
// GitRepo's forced sync), follow it
// with the watch API, report it as the commit status `ferry/apply/<env>`, and on success open
// the next environment's pull request with what this environment now runs.
//
// Nothing here lives only in memory: the Job (or the requestedAt annotation) and the pending
// status are the state; a restarted replica resumes from them (handlers/maintenance.hpp).

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <set>
#include <string>

#include "handlers/infra_repo.hpp"
#include "handlers/registry.hpp"
#include "service/log.hpp"
#include "service/result.hpp"
#include "service/rules/rules.hpp"

namespace ferry::handlers {

// Applies this process is following, "owner/name env sha", so a resume and a redelivered push
// never follow one apply twice here (other replicas may: everything they write converges).
// Used from the io_context's thread only.
struct apply_tracker {
  std::set<std::string, std::less<>> following;
};

struct apply_started {
  enum class mode { job, flux, argocd, fleet } kind = mode::job;
  std::string object_path;  // the Job, Kustomization, Application or GitRepo, as an API path
  std::string object_name;  // "Job flux-system/ferry-apply-staging-0123456789ab", for people
};

// Starts the apply of `env` at `sha`, idempotently: a Job that already exists, or a
// reconcile already requested for this commit, counts as started. invalid_input when the
// template or the containment rules refuse it, or the Flux objects are missing; transient when
// the cluster could not be reached.
boost::asio::awaitable<result<apply_started>> trigger_apply(const handler_settings& s,
                                                            infra_repo& repo,
                                                            const rules::environment& env,
                                                            const std::string& sha,
                                                            const log::logger& log);

// Posts `ferry/apply/<env>` pending (unless resuming), triggers, and follows the apply in the
// background. Returns true when an apply is being followed, false when it was refused (the
// failure is on the status and in a comment on the merged PR); an error (transient) when the
// delivery should be retried.
boost::asio::awaitable<result<bool>> start_apply(std::shared_ptr<const handler_settings> s,
                                                 infra_repo repo, const rules::rules_file& rules,
                                                 const rules::environment& env, std::string sha,
                                                 log::logger log, bool resuming = false);

// The promotion step after `env`'s apply at `sha` succeeded: every environment whose
// promoteFrom names it (and is not suspended) gets the PR for what `env`'s markers carry at
// `sha`, with `evidence` in its body.
boost::asio::awaitable<result<void>> promote_downstream(const handler_settings& s, infra_repo& repo,
                                                        const rules::rules_file& rules,
                                                        const rules::environment& env,
                                                        const std::string& sha,
                                                        const std::string& evidence,
                                                        const log::logger& log);

// "ferry/apply/<env>"
std::string apply_context(std::string_view env);

}  // namespace ferry::handlers
