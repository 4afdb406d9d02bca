#pragma once
// The tag-bump flow's one run (internal to handlers/: bump_flow.cpp is the recipe,
// bump_rules_view.cpp reads the facts and the rules, bump_newest.cpp asks the source repository
// under the `newest` policy; bump_write.cpp writes). One object per delivery and infra
// repository, living within converge_promotion's call.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/bump.hpp"
#include "handlers/bump_flow.hpp"
#include "handlers/bump_write.hpp"
#include "handlers/group_lane.hpp"
#include "handlers/registry.hpp"
#include "handlers/rules_cache.hpp"
#include "service/github/repo_api.hpp"
#include "service/log.hpp"
#include "service/promotion/group_body.hpp"
#include "service/result.hpp"
#include "service/rules/rules.hpp"

namespace ferry::handlers::bump_detail {

namespace asio = boost::asio;
using github::pull_request;

// One delivery's work on one infra repository.
class bump_run {
 public:
  bump_run(std::string_view delivery_id, const log::logger& log, const promotion_source& src,
           const handler_settings& s, const service::repo_name& repo,
           std::vector<std::string> environments)
      : delivery_id_(delivery_id),
        src_(src),
        p_(src.candidate),
        s_(s),
        gh_(*s.github),
        repo_(repo),
        log_(log.with({{"repo", repo.full()}, {"image", src.candidate.image}})),
        wanted_(std::move(environments)) {}

  // ignored: no rule here; done: converged (including nothing to change).
  asio::awaitable<service::handler_result> run();

 private:
  asio::awaitable<result<rules_cache::rules_view>> read_facts_and_rules();
  asio::awaitable<result<void>> read_facts(const rules::rules_file& rules);
  asio::awaitable<result<rules_cache::rules_view>> current_rules();
  asio::awaitable<result<rules_cache::rules_view>> renew_rules_view();
  asio::awaitable<result<rules_cache::rules_view>> rules_at(std::string head, std::string etag);
  std::vector<const rules::environment*> select_environments(const rules::rules_file& rules,
                                                             bool quiet = false) const;
  asio::awaitable<result<branch_pulls>> pulls_for(const std::string& branch);
  asio::awaitable<result<void>> environment(const rules::rules_file& rules,
                                            const rules::environment& env,
                                            const rules::image_rule& rule);
  // Facts
  bump_facts facts_for(const rules::environment& env, const rules::image_rule& rule) const;
  // What one decision over one view of the branch came to: the facts for the PR, and the branch
  // state written (nullopt: nothing to write, or a head left alone).
  struct decided {
    bump_facts facts;
    std::optional<branch_state> state;
  };
  asio::awaitable<result<decided>> decide_and_write(
      const rules::rules_file& rules, const rules::environment& env, const rules::image_rule& rule,
      const std::string& branch, const std::optional<pull_request>& pr, const branch_read& seen,
      const std::vector<std::string>& open_values);
  asio::awaitable<result<std::vector<std::string>>> branch_values(const std::string& branch_head,
                                                                  const rules::environment& env,
                                                                  const rules::image_rule& rule);
  // Groups (bump_group.cpp): the group's deliveries queue on its branch in this process, and the
  // one whose turn it is makes the edits queued behind it too, in one commit and PR update.
  asio::awaitable<result<void>> group_environment(const rules::rules_file& rules,
                                                  const rules::environment& env,
                                                  const rules::image_rule& rule);
  asio::awaitable<result<void>> write_group(const rules::rules_file& rules,
                                            const rules::environment& env,
                                            const rules::image_rule& rule,
                                            std::vector<std::shared_ptr<group_edit>> batch);
  // The marker files under env's paths at a branch head (fetched into the mirror first).
  asio::awaitable<result<std::vector<markers::scanned_file>>> branch_files(
      const std::string& branch_head, const rules::environment& env);
  // The group's PR: its rows follow what the branch carries (`files`, after the write),
  // `written_rows` replacing their images' rows; once written, the branch is read again, and a
  // head moved meanwhile by another writer brings the body up to that head (bounded).
  asio::awaitable<result<std::vector<ferry::promotion::group_row>>> recover_rows(
      const std::string& head, const rules::environment& env,
      const std::vector<ferry::promotion::group_member>& members,
      const std::vector<ferry::promotion::group_row>& old_rows,
      const std::vector<ferry::promotion::group_row>& written);
  asio::awaitable<result<void>> converge_group_pr(
      const rules::rules_file& rules, const rules::environment& env, const rules::image_rule& rule,
      branch_state state, std::vector<markers::scanned_file> files,
      std::vector<ferry::promotion::group_row> written_rows, std::string evidence);
  // Decision (newest)
  asio::awaitable<result<std::int64_t>> source_installation(const service::repo_name& source_repo);
  void remember_not_installed(const std::string& source_key);
  asio::awaitable<std::optional<github::release>> release_notes(const rules::image_rule& rule);
  asio::awaitable<result<bool>> newest_allows(const rules::image_rule& rule,
                                              std::span<const std::string> head_values,
                                              std::span<const std::string> pr_values,
                                              const std::optional<std::string>& pr_head,
                                              bump_facts& facts);
  asio::awaitable<result<std::optional<std::string>>> trailer_commit(
      const std::string& value, const std::optional<std::string>& written_by,
      const bump_facts& facts);
  bump_writer writer() {
    return bump_writer{s_,
                       *api_,
                       *mirror_,
                       clone_url_,
                       token_,
                       default_branch_,
                       head_,
                       log_,
                       src_.evidence.empty() ? "publication_to_pr" : "applied_to_promotion_pr",
                       started_,
                       read_ ? &*read_ : nullptr};
  }

  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::string_view delivery_id_;
  const promotion_source& src_;
  const promotion& p_;
  const handler_settings& s_;
  github::app_client& gh_;
  const service::repo_name& repo_;
  log::logger log_;
  std::vector<std::string> wanted_;  // environment names; empty: the entry environments
  std::int64_t inst_ = 0;
  std::optional<github::repo_api> api_;  // the infra repository, as its installation
  git::mirror* mirror_ = nullptr;
  std::string clone_url_;
  std::string token_;
  std::string default_branch_;
  std::string head_;  // the default branch's head commit
  std::vector<markers::scanned_file> head_files_;
  std::optional<github::delivery_read> read_;  // the delivery's one GraphQL read, once made
};

}  // namespace ferry::handlers::bump_detail
