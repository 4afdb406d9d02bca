// The pull_request flow (SPEC "Behaviour by event", pull_request): a merged ferry PR gets its
// branch deleted when ferry wrote the branch's head (a person's head is left alone, with a
// comment saying why); a PR that touches the rules file gets `ferry/rules` on its head and, when
// the file is invalid, a comment listing every error. The decisions are pure functions in
// pull_request_decision.hpp and bump.hpp; this file sequences the calls.
#include <string>
#include <utility>
#include <vector>

#include "handlers/bump.hpp"
#include "handlers/handlers.hpp"
#include "handlers/pull_request_decision.hpp"
#include "service/github/repo_api.hpp"
#include "service/limits.hpp"

namespace ferry::handlers {

namespace {

namespace asio = boost::asio;

// One delivery's work on one pull request of an infra repository.
class pull_request_run {
 public:
  pull_request_run(const service::delivery& d, const events::pull_request_event& e,
                   const handler_settings& s)
      : e_(e),
        s_(s),
        log_(d.log.with({{"repo", e.repository.full_name},
                         {"pull_request", std::to_string(e.number)},
                         {"branch", e.head_ref}})) {}

  asio::awaitable<service::handler_result> run(pull_request_work work) {
    // Named, not braced in the co_await: GCC 12 mishandles braced temporaries across it.
    service::repo_name repo{e_.repository.owner, e_.repository.name};
    auto api =
        co_await github::repo_api::open(*s_.github, std::move(repo), e_.installation_id, log_);
    if (!api) {
      co_return api.error();
    }
    api_.emplace(std::move(*api));
    if (work == pull_request_work::delete_branch) {
      co_return co_await delete_branch();
    }
    co_return co_await check_rules();
  }

 private:
  asio::awaitable<service::handler_result> delete_branch();
  asio::awaitable<service::handler_result> check_rules();
  asio::awaitable<result<std::vector<changed_file>>> changed_files();
  asio::awaitable<result<void>> comment_once(std::string text);

  const events::pull_request_event& e_;
  const handler_settings& s_;
  log::logger log_;
  std::optional<github::repo_api> api_;
};

asio::awaitable<service::handler_result> pull_request_run::delete_branch() {
  const std::string& branch = e_.head_ref;
  // The branch as it is now: a redelivery after the deletion finds nothing to do, and a head
  // moved since the merge is judged as it is, not as it was.
  auto head = co_await api_->branch_head(branch);
  if (!head) {
    co_return head.error();
  }
  if (!*head) {
    log_.info("merged ferry branch is already gone");
    co_return service::outcome::done;
  }
  auto commit = co_await api_->commit(**head);
  if (!commit) {
    co_return commit.error();
  }
  const auto app = s_.github->app_info();
  const std::optional<std::string_view> slug =
      app ? std::optional<std::string_view>(app->slug) : std::nullopt;
  const head_commit_facts facts{
      .author_name = commit->author_name, .verified = commit->verified, .message = commit->message};
  if (!is_ferry_head(facts, slug)) {
    // SPEC: "ferry never touches a branch head it did not write; it comments instead."
    log_.warn("merged branch's head was not written by ferry: left alone", {{"head", **head}});
    auto posted =
        co_await comment_once("ferry did not delete `" + branch + "`: its head " + **head +
                              " is not a commit ferry wrote. Delete it by hand when "
                              "it is no longer needed.");
    if (!posted) {
      co_return posted.error();
    }
    co_return service::outcome::done;
  }
  auto deleted = co_await api_->delete_branch(branch);
  if (!deleted) {
    // Someone (a redelivery on another replica, GitHub's "delete branch on merge") was first:
    // 404 and 422 ("Reference does not exist") both mean the branch is gone.
    if (deleted.error().kind == error_kind::not_found ||
        deleted.error().kind == error_kind::invalid_input) {
      log_.info("merged ferry branch was already deleted", {{"reason", deleted.error().message}});
      co_return service::outcome::done;
    }
    co_return deleted.error();
  }
  log_.info("merged ferry branch deleted", {{"head", **head}});
  co_return service::outcome::done;
}

asio::awaitable<result<std::vector<changed_file>>> pull_request_run::changed_files() {
  auto files = co_await api_->pull_files(e_.number);
  if (!files) {
    co_return files.error();
  }
  std::vector<changed_file> out;
  for (auto& f : *files) {
    out.push_back({std::move(f.filename), std::move(f.status), std::move(f.previous_filename)});
  }
  co_return out;
}

// Posts `text` unless the PR already carries exactly that comment: a redelivery converges
// instead of repeating itself (SPEC "Reliability").
asio::awaitable<result<void>> pull_request_run::comment_once(std::string text) {
  auto comments = co_await api_->comments(e_.number);
  if (!comments) {
    co_return comments.error();
  }
  for (const auto& c : *comments) {
    if (c.body == text) {
      co_return ok_v;
    }
  }
  co_return co_await api_->create_comment(e_.number, text);
}

asio::awaitable<service::handler_result> pull_request_run::check_rules() {
  auto files = co_await changed_files();
  if (!files) {
    co_return files.error();
  }
  const rules_change change = rules_file_change(*files, s_.rules_path);
  if (change == rules_change::untouched) {
    log_.debug("pull request does not touch the rules file");
    co_return service::outcome::done;
  }
  rules_verdict verdict;
  if (change == rules_change::removed) {
    verdict = rules_removed_verdict(s_.rules_path);
  } else {
    auto text = co_await api_->file(s_.rules_path, e_.head_sha);
    if (!text) {
      co_return text.error();
    }
    verdict = rules_verdict_for(rules::parse_rules(*text, s_.rules_path), s_.rules_path);
  }
  auto posted = co_await api_->create_status(e_.head_sha, k_rules_status_context, verdict.state,
                                             verdict.description);
  if (!posted) {
    co_return posted.error();
  }
  if (verdict.comment) {
    // The head sha makes a new push's errors a new comment and a redelivery's the same one.
    auto c = co_await comment_once(*verdict.comment + "\nChecked at " + e_.head_sha + ".\n");
    if (!c) {
      co_return c.error();
    }
  }
  log_.info(
      "rules file checked",
      {{"state", verdict.state}, {"description", verdict.description}, {"head", e_.head_sha}});
  co_return service::outcome::done;
}

}  // namespace

handler_task handle_pull_request(const service::delivery& d, const events::pull_request_event& e,
                                 const handler_settings& settings) {
  const pull_request_plan plan = plan_pull_request(e, settings.infra_repos);
  switch (plan.work) {
    case pull_request_work::ignore:
      d.log.debug("event ignored", {{"reason", plan.reason}});
      co_return service::outcome::ignored;
    case pull_request_work::closed_unmerged:
      // The tag-bump flow decides what a closed PR means for its tag (SPEC: "that tag is
      // skipped for that environment"); here it is only recorded.
      d.log.info("ferry pull request closed without merge",
                 {{"repo", e.repository.full_name},
                  {"pull_request", std::to_string(e.number)},
                  {"branch", e.head_ref}});
      co_return service::outcome::done;
    case pull_request_work::delete_branch:
    case pull_request_work::check_rules:
      break;
  }
  if (settings.github == nullptr || settings.mirrors == nullptr) {
    co_return make_error(error_kind::internal, "pull request work needs the GitHub client");
  }
  pull_request_run run(d, e, settings);
  co_return co_await run.run(plan.work);
}

}  // namespace ferry::handlers
