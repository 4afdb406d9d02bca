#pragma once
// The GitHub operations ferry makes, one function each, typed: a repo_api is one repository as
// one installation sees it, the calls a delivery makes on it, and the delivery's logger (every
// call's log line carries the delivery id). Paths are built and escaped here, answers parsed
// here (objects.hpp); callers never see JSON. Errors are values, mapped by app_client (404 ->
// not_found, a lost compare-and-swap -> conflict, 5xx and rate limits -> transient).
//
// Request bodies are built with Boost.JSON (SPEC "Dependencies"). Each write is one call with
// app_client's retry policy; none is retried here.

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/config.hpp"
#include "service/github/app_client.hpp"
#include "service/github/graphql.hpp"
#include "service/github/objects.hpp"
#include "service/log.hpp"
#include "service/result.hpp"

namespace ferry::github {

// One entry of git/create-tree with inline content (GitHub makes the blob).
struct tree_file {
  std::string path;
  std::string mode;  // "100644", "100755"
  std::string content;
};

enum class pull_state { open, closed, all };

class repo_api {
 public:
  repo_api(app_client& client, service::repo_name repo, std::int64_t installation,
           log::logger log = {});

  // The repository's installation (the one given when positive, else GET .../installation).
  static boost::asio::awaitable<result<repo_api>> open(app_client& client, service::repo_name repo,
                                                       std::optional<std::int64_t> installation,
                                                       log::logger log = {});

  // GET /repos/{o}/{r}
  boost::asio::awaitable<result<repository>> get();

  // GET git/ref/heads/{branch}: the branch's head, nullopt when there is no such branch.
  boost::asio::awaitable<result<std::optional<std::string>>> branch_head(std::string_view branch);
  // GET git/ref/heads/{branch} with If-None-Match: `etag` (empty: unconditional). A 304 (no
  // rate limit spent: docs.github.com "Best practices for using the REST API") is `unchanged`;
  // else the head and the answer's ETag for the next call. not_found when there is no branch.
  struct ref_read {
    bool unchanged = false;
    std::string sha;
    std::string etag;
  };
  boost::asio::awaitable<result<ref_read>> branch_head_if_changed(std::string_view branch,
                                                                  std::string_view etag);
  // POST git/refs: conflict when the branch exists already.
  boost::asio::awaitable<result<void>> create_branch(std::string_view branch, std::string_view sha);
  // PATCH git/refs/heads/{branch}; without force, conflict unless it is a fast forward.
  boost::asio::awaitable<result<void>> move_branch(std::string_view branch, std::string_view sha,
                                                   bool force);
  // DELETE git/refs/heads/{branch}: GitHub answers 422 for a branch that is gone.
  boost::asio::awaitable<result<void>> delete_branch(std::string_view branch);

  // GET git/commits/{sha}
  boost::asio::awaitable<result<git_commit>> commit(std::string_view sha);
  // POST git/trees: the new tree's sha.
  boost::asio::awaitable<result<std::string>> create_tree(std::string_view base_tree,
                                                          const std::vector<tree_file>& files);
  // POST git/commits without author or committer: GitHub signs it as the App, so it shows as
  // verified (SPEC). The new commit's sha.
  boost::asio::awaitable<result<std::string>> create_commit(
      std::string_view message, std::string_view tree, const std::vector<std::string>& parents);

  // GraphQL createCommitOnBranch: one commit on `branch` on top of `expected_head`, with
  // `additions` (path and full content; mode stays 100644) and `deletions`. GitHub signs it as
  // the App (verified) and moves the branch only if it still points at `expected_head`: a
  // compare-and-swap, conflict (STALE_DATA) otherwise. The new commit's sha.
  boost::asio::awaitable<result<std::string>> commit_on_branch(
      std::string_view branch, std::string_view expected_head, std::string_view headline,
      std::string_view body, const std::vector<tree_file>& additions,
      const std::vector<std::string>& deletions);

  // GET pulls?state=&head={owner}:{branch}&per_page= (newest first).
  boost::asio::awaitable<result<std::vector<pull_request>>> pulls(std::string_view head_branch,
                                                                  pull_state state, int per_page);
  // POST pulls: conflict when an open one exists for the head already.
  boost::asio::awaitable<result<pull_request>> create_pull(std::string_view title,
                                                           std::string_view head,
                                                           std::string_view base,
                                                           std::string_view body);
  // PATCH pulls/{n}
  boost::asio::awaitable<result<void>> update_pull(std::int64_t number, std::string_view title,
                                                   std::string_view body);
  // PUT pulls/{n}/merge with the head the caller expects (sha); method: merge, squash, rebase.
  boost::asio::awaitable<result<void>> merge_pull(std::int64_t number, std::string_view method,
                                                  std::string_view sha);
  // POST issues/{n}/labels
  boost::asio::awaitable<result<void>> add_labels(std::int64_t number,
                                                  const std::vector<std::string>& labels);
  // POST pulls/{n}/requested_reviewers
  boost::asio::awaitable<result<void>> request_reviewers(std::int64_t number,
                                                         const std::vector<std::string>& users,
                                                         const std::vector<std::string>& teams);
  // GraphQL, one query: what a delivery reads before it decides (graphql.hpp, delivery_read).
  boost::asio::awaitable<result<delivery_read>> read_delivery(delivery_read_request request);
  // GraphQL, one mutation: labels, reviewers and auto-merge (graphql.hpp, pull_finish); which of
  // them failed. An error with no field (rate limit, the whole request refused) is an error.
  boost::asio::awaitable<result<pull_finish_outcome>> finish_pull(
      const pull_finish_request& request);
  // GET pulls/{n}/files, every page.
  boost::asio::awaitable<result<std::vector<pull_file>>> pull_files(std::int64_t number);
  // GET commits/{sha}/pulls
  boost::asio::awaitable<result<std::vector<pull_request>>> pulls_of_commit(std::string_view sha);

  // POST statuses/{sha}; the description must fit GitHub's 140 characters already.
  boost::asio::awaitable<result<void>> create_status(std::string_view sha, std::string_view context,
                                                     std::string_view state,
                                                     std::string_view description);
  // GET commits/{sha}/statuses, newest first, at most max_pages of 100.
  boost::asio::awaitable<result<std::vector<commit_status>>> statuses(std::string_view sha,
                                                                      int max_pages);

  // GET commits/{sha}/check-runs, at most max_pages of 100 (the newest run per name first:
  // GitHub's filter=latest, the default).
  boost::asio::awaitable<result<std::vector<check_run>>> check_runs(std::string_view sha,
                                                                    int max_pages);

  // POST issues/{n}/comments
  boost::asio::awaitable<result<void>> create_comment(std::int64_t number, std::string_view body);
  // GET issues/{n}/comments, every page.
  boost::asio::awaitable<result<std::vector<issue_comment>>> comments(std::int64_t number);

  // GET compare/{base}...{head}: head against base.
  boost::asio::awaitable<result<comparison>> compare(std::string_view base, std::string_view head);
  // GET releases/tags/{tag}: the release of that tag, nullopt when there is none (404).
  boost::asio::awaitable<result<std::optional<release>>> release_by_tag(std::string_view tag);
  // GET commits?sha={branch}&per_page={n}: the n newest commits' shas.
  boost::asio::awaitable<result<std::vector<std::string>>> commits(std::string_view branch, int n);
  // GET contents/{path}?ref={ref}: the file's bytes; not_found when there is none.
  boost::asio::awaitable<result<std::string>> file(std::string_view path, std::string_view ref);

  const service::repo_name& name() const noexcept { return repo_; }
  std::int64_t installation() const noexcept { return installation_; }
  app_client& client() noexcept { return *client_; }
  const log::logger& logger() const noexcept { return log_; }

 private:
  call_options options() const { return call_options{.log = &log_}; }
  std::string path(std::string_view rest) const { return repo_path(repo_, rest); }

  app_client* client_;
  service::repo_name repo_;
  std::int64_t installation_ = 0;
  log::logger log_;
};

// The App's own webhook deliveries (GET /app/hook/deliveries, with the JWT): one page, and the
// path of the next one (empty after the last).
struct delivery_page {
  std::vector<hook_delivery> deliveries;
  std::string next_path;
};
boost::asio::awaitable<result<delivery_page>> hook_deliveries(app_client& client,
                                                              std::string_view path,
                                                              const log::logger& log);
// The first page's path.
std::string hook_deliveries_path(int per_page);
// POST /app/hook/deliveries/{id}/attempts
boost::asio::awaitable<result<void>> redeliver(app_client& client, std::int64_t delivery_id,
                                               const log::logger& log);

}  // namespace ferry::github
