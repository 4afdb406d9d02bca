// The `newest` policy's questions to the source repository (SPEC "Policies"): which
// installation reads it, the source commit of what runs now (from its tag or ferry's trailer),
// the compare that decides, and a semver tag's release notes for the PR body.
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "handlers/blocking.hpp"
#include "handlers/bump_run.hpp"
#include "handlers/handlers.hpp"
#include "service/limits.hpp"
#include "service/promotion/plan.hpp"
#include "service/promotion/values.hpp"
#include "service/rules/policy.hpp"
#include "service/text.hpp"

namespace ferry::handlers::bump_detail {

// What runs now's source commit when its tag gives none (SPEC "Policies": "for what runs now,
// also from a Ferry-Source-Commit: trailer that ferry writes in its bump commits"): the trailer
// of `written_by` (the open PR's head), else of the newest commit on the default branch's
// history that is ferry's bump of this rule to `value` in this environment.
asio::awaitable<result<std::optional<std::string>>> bump_run::trailer_commit(
    const std::string& value, const std::optional<std::string>& written_by,
    const bump_facts& facts) {
  bump_facts wrote = facts;
  wrote.to_tag = value;
  const std::string title = pr_title(wrote);
  auto found = co_await blocking(s_.pool, [&]() {
    if (written_by) {
      return mirror_->find_commit(*written_by, 1, [](std::string_view) { return true; });
    }
    return mirror_->find_commit(head_, limits::k_trailer_search_commits,
                                [&title](std::string_view message) {
                                  return message.find(title) != std::string_view::npos &&
                                         source_commit_from_message(message).has_value();
                                });
  });
  if (!found) {
    co_return found.error();
  }
  if (!*found || ((*found)->message.find(title) == std::string::npos)) {
    co_return std::optional<std::string>{};
  }
  co_return source_commit_from_message((*found)->message);
}

// The source repository's release of a semver tag, for the PR body: one GET, under the same
// installation rules as the compare. None (nullopt) when there is no release, no source
// repository, or GitHub fails: release notes never decide or fail a promotion.
asio::awaitable<std::optional<github::release>> bump_run::release_notes(
    const rules::image_rule& rule) {
  if (!std::holds_alternative<rules::semver_policy>(rule.policy.kind) || !src_.source_repo ||
      src_.source_repo->owner.empty()) {
    co_return std::nullopt;
  }
  auto inst = co_await source_installation(*src_.source_repo);
  if (!inst) {
    co_return std::nullopt;
  }
  github::repo_api source(gh_, *src_.source_repo, *inst, log_);
  auto found = co_await source.release_by_tag(p_.tag);
  if (!found) {
    log_.warn("release notes not read", {{"tag", p_.tag}, {"error", found.error().message}});
    co_return std::nullopt;
  }
  co_return std::move(*found);
}

void bump_run::remember_not_installed(const std::string& source_key) {
  if (s_.rules->not_installed.size() >= limits::k_api_cache_entries) {
    s_.rules->not_installed.clear();
  }
  s_.rules->not_installed[source_key] =
      rules_cache::clock::now() + limits::k_not_installed_cache_ttl;
}

// The installation through which the source repository is read. The infra repository's own when
// both belong to one account (an installation covers one account's repositories; a repository
// outside its selection answers the compare with 404, which counts as "not installed"): no call.
// Else GET .../installation, whose 404 (not installed: nothing to compare with, the newer
// delivery wins) is remembered for a few minutes, so a busy source repository does not ask on
// every delivery. A GitHub failure, though, must not decide a promotion: the caller answers 503
// and the redelivery compares.
asio::awaitable<result<std::int64_t>> bump_run::source_installation(
    const service::repo_name& source_repo) {
  const std::string source_key = source_repo.full();
  const auto now = rules_cache::clock::now();
  if (auto it = s_.rules->not_installed.find(source_key);
      it != s_.rules->not_installed.end() && it->second > now) {
    co_return make_error(error_kind::not_found, "the App is not installed on " + source_key);
  }
  if (text::iequals(source_repo.owner, repo_.owner)) {
    co_return inst_;
  }
  const github::call_options calls{.log = &log_};
  auto found = co_await gh_.installation_for_repo(source_repo.owner, source_repo.name, calls);
  if (!found && found.error().kind == error_kind::not_found) {
    remember_not_installed(source_key);
  } else if (found) {
    s_.rules->not_installed.erase(source_key);
  }
  co_return found;
}

// `newest` (SPEC "Policies"): the candidate must be ahead of the source commit of every value
// that runs now, compared in the event's repository. Where no commit can be found or compared,
// the newer delivery wins and the PR says so.
asio::awaitable<result<bool>> bump_run::newest_allows(const rules::image_rule& rule,
                                                      std::span<const std::string> head_values,
                                                      std::span<const std::string> pr_values,
                                                      const std::optional<std::string>& pr_head,
                                                      bump_facts& facts) {
  struct current_value {
    std::string value;
    std::optional<std::string> written_by;  // the open PR's head, for its values
  };
  std::vector<current_value> values;
  for (const auto& v : head_values) {
    values.push_back({v, std::nullopt});
  }
  for (const auto& v : pr_values) {
    values.push_back({v, pr_head});
  }
  if (!facts.source_commit || !src_.source_repo || src_.source_repo->owner.empty()) {
    facts.note = "No source commit could be compared: the newer delivery wins.";
    co_return true;
  }
  const service::repo_name& source_repo = *src_.source_repo;
  const bool on_branch = src_.target_commitish.empty() ||
                         std::find(rule.source_branches.begin(), rule.source_branches.end(),
                                   src_.target_commitish) != rule.source_branches.end();
  result<std::int64_t> src_inst =
      make_error(error_kind::not_found, "the App is not installed on " + source_repo.full());
  bool src_inst_read = false;
  for (const auto& [value, written_by] : values) {
    if (value == p_.tag) {
      continue;
    }
    if (!src_inst_read) {
      src_inst_read = true;
      src_inst = co_await source_installation(source_repo);
      if (!src_inst && src_inst.error().kind != error_kind::not_found) {
        co_return src_inst.error();
      }
    }
    auto current = rules::commit_from_tag(rule.policy, value);
    if (!current && src_inst) {
      auto from_trailer = co_await trailer_commit(value, written_by, facts);
      if (!from_trailer) {
        co_return from_trailer.error();
      }
      current = std::move(*from_trailer);
    }
    if (!current || !src_inst) {
      facts.note = "The source commit of `" + table_cell(value) +
                   "` could not be compared: the newer delivery wins.";
      continue;
    }
    facts.current_commit = *current;
    github::repo_api source(gh_, source_repo, *src_inst, log_);
    auto cmp = co_await source.compare(*current, *facts.source_commit);
    if (!cmp) {
      if (cmp.error().kind == error_kind::not_found ||
          cmp.error().kind == error_kind::invalid_input) {
        if (cmp.error().kind == error_kind::not_found) {
          // Outside the installation's selection (or gone): remembered like "not installed".
          remember_not_installed(source_repo.full());
        }
        facts.note = "The source commits could not be compared (" + cmp.error().message +
                     "): the newer delivery wins.";
        continue;
      }
      co_return cmp.error();
    }
    const auto decision = rules::decide_newest(rules::parse_compare_status(cmp->status), on_branch);
    if (!decision.promote) {
      log_.info("newest policy refuses the tag",
                {{"tag", p_.tag}, {"current", value}, {"reason", decision.reason}});
      co_return false;
    }
    facts.why.push_back("`" + table_cell(value) + "` -> `" + table_cell(p_.tag) +
                        "`: its source commit is " + std::to_string(cmp->ahead_by) +
                        " commit(s) ahead of `" + current->substr(0, 12) + "` (`newest` policy)");
    if (!written_by) {
      // What runs now .. the candidate: the commits this promotion brings.
      facts.source_commits.clear();
      for (const auto& c : cmp->commits) {
        facts.source_commits.push_back({c.sha, c.headline});
      }
      facts.source_commits_total = cmp->total_commits;
    }
  }
  co_return true;
}

}  // namespace ferry::handlers::bump_detail
