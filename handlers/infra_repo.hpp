#pragma once
// One infrastructure repository opened for a piece of work outside the tag-bump flow (applies,
// promotion after an apply, resuming, rules checks): the installation, the bare mirror, and the
// few GitHub calls that work makes (commit statuses, comments, the PR a commit came from).
// Used from the io_context's thread; git reads run on the settings' pool.

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/registry.hpp"
#include "service/git/reads.hpp"
#include "service/github/repo_api.hpp"
#include "service/log.hpp"
#include "service/markers/markers.hpp"
#include "service/result.hpp"
#include "service/rules/rules.hpp"

namespace ferry::handlers {

class infra_repo {
 public:
  // Finds the installation (the event's, when it names one), the clone URL and default branch
  // (from the event when given, else GET /repos/{o}/{r}) and opens the mirror. `log` carries
  // the delivery's fields to the GitHub calls' log lines.
  static boost::asio::awaitable<result<infra_repo>> open(
      const handler_settings& s, service::repo_name repo, std::optional<std::int64_t> installation,
      log::logger log, std::string clone_url = {}, std::string default_branch = {});

  // Makes `sha` present in the mirror (no network call when it already is).
  boost::asio::awaitable<result<void>> fetch(std::string sha);
  // The default branch's head as the mirror sees it after a fetch.
  boost::asio::awaitable<result<std::string>> fetch_default_head();
  // The rules file at `sha` (fetched first): not_found when the repository has none.
  boost::asio::awaitable<result<rules::parse_outcome>> rules_at(std::string sha);
  // Files under `prefixes` at `sha` that carry markers.
  // When `sha` was committed (its committer time, seconds since the epoch): for a merge made
  // on GitHub, the merge's time.
  boost::asio::awaitable<result<std::int64_t>> commit_time(std::string sha);
  boost::asio::awaitable<result<std::vector<markers::scanned_file>>> marker_files(
      std::string sha, std::vector<std::string> prefixes);
  boost::asio::awaitable<result<std::vector<std::string>>> changed_paths(std::string before,
                                                                         std::string after);
  boost::asio::awaitable<result<bool>> is_descendant(std::string commit, std::string ancestor);
  // The files under `prefixes` that `sha` changed against its first parent (a merged PR's
  // change, whether squashed, merged or rebased onto the branch: the last commit's), with their
  // content at `sha`; deleted files are left out. A root commit: every file.
  boost::asio::awaitable<result<std::vector<git::file>>> changed_files(
      std::string sha, std::vector<std::string> prefixes);
  boost::asio::awaitable<result<std::string>> read_file(std::string sha, std::string path);

  // POST /repos/{o}/{r}/statuses/{sha}; the description is cut to GitHub's 140 characters.
  boost::asio::awaitable<result<void>> status(std::string_view sha, std::string_view context,
                                              std::string_view state, std::string_view description);
  boost::asio::awaitable<result<void>> comment(std::int64_t number, std::string text);
  // The merged pull request `sha` came from (GET /repos/{o}/{r}/commits/{sha}/pulls), if any.
  boost::asio::awaitable<result<std::optional<std::int64_t>>> merged_pr_for(std::string_view sha);
  // The latest state per `ferry/apply/<env>` context on `sha` (GET .../commits/{sha}/statuses).
  boost::asio::awaitable<result<std::vector<std::pair<std::string, std::string>>>> apply_statuses(
      std::string_view sha);
  // Every commit status on `sha`, newest first (GET .../commits/{sha}/statuses, 3 pages).
  boost::asio::awaitable<result<std::vector<github::commit_status>>> statuses(std::string_view sha);
  // The latest check run per name on `sha` (GET .../commits/{sha}/check-runs, 3 pages).
  boost::asio::awaitable<result<std::vector<github::check_run>>> check_runs(std::string_view sha);
  // Up to `n` newest commits of the default branch (GET .../commits?sha=<default>).
  boost::asio::awaitable<result<std::vector<std::string>>> recent_commits(int n);

  const service::repo_name& name() const { return api_.name(); }
  std::int64_t installation() const { return api_.installation(); }
  const std::string& clone_url() const { return clone_url_; }
  const std::string& default_branch() const { return default_branch_; }

 private:
  infra_repo(const handler_settings& s, github::repo_api api) : s_(&s), api_(std::move(api)) {}
  boost::asio::awaitable<result<git::credentials>> credentials();

  const handler_settings* s_;
  github::repo_api api_;
  std::string clone_url_;
  std::string default_branch_;
  git::mirror* mirror_ = nullptr;
};

}  // namespace ferry::handlers
