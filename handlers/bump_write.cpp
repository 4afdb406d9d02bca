#include "handlers/bump_write.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

#include "handlers/blocking.hpp"
#include "service/limits.hpp"

namespace ferry::handlers {

namespace {

namespace asio = boost::asio;
using github::pull_request;

bool contains(const std::vector<std::string>& values, const std::string& v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

}  // namespace

result<std::vector<markers::scanned_file>> scan_marker_files(
    const git::mirror& m, std::string_view commit, std::span<const std::string> prefixes) {
  std::vector<markers::scanned_file> out;
  auto walked =
      m.for_each_file(commit, prefixes, [&](std::string_view path, std::string_view content) {
        if (!markers::may_contain_marker(content)) {
          return true;
        }
        // A file the scanner refuses (not YAML) holds no marker ferry could edit.
        if (auto scanned = markers::scan_file(path, content)) {
          out.push_back({std::string(path), std::string(content), std::move(scanned->markers)});
        }
        return true;
      });
  if (!walked) {
    return walked.error();
  }
  return out;
}

asio::awaitable<result<branch_pulls>> pulls_of(github::repo_api& api, const std::string& branch) {
  // Newest first (REST "List pull requests" sorts by creation by default).
  auto listed = co_await api.pulls(branch, github::pull_state::all, limits::k_branch_pulls_page);
  if (!listed) {
    co_return listed.error();
  }
  branch_pulls out;
  for (auto& pr : *listed) {
    if (pr.state == "open" && !out.open) {
      out.open = std::move(pr);
    } else if (pr.state == "closed" && !out.last_closed) {
      out.last_closed = std::move(pr);
    }
  }
  co_return out;
}

void bump_writer::count_pr(std::string_view action) const {
  if (settings.metrics != nullptr) {
    settings.metrics->pull_requests.with({action}).inc();
  }
}

asio::awaitable<result<std::optional<branch_state>>> bump_writer::write_branch(
    const std::string& branch, const std::vector<markers::file_change>& changes,
    const bump_facts& facts, const std::optional<pull_request>& pr) {
  std::optional<std::string> commit;  // created at most once per delivery
  for (int attempt = 0; attempt < limits::k_ref_update_attempts; ++attempt) {
    auto branch_head = co_await api.branch_head(branch);
    if (!branch_head) {
      co_return branch_head.error();
    }
    if (*branch_head) {
      const std::string& at = **branch_head;
      // Already there? Compared in the mirror: no write for a redelivery.
      auto same = co_await branch_has(at, changes);
      if (!same) {
        co_return same.error();
      }
      if (*same) {
        log.info("branch already carries the change", {{"branch", branch}, {"head", at}});
        co_return branch_state{at, false};
      }
      auto head_commit = co_await api.commit(at);
      if (!head_commit) {
        co_return head_commit.error();
      }
      const auto app = api.client().app_info();
      const std::optional<std::string_view> slug =
          app ? std::optional<std::string_view>(app->slug) : std::nullopt;
      const head_commit_facts of_head{.author_name = head_commit->author_name,
                                      .verified = head_commit->verified,
                                      .message = head_commit->message};
      if (!is_ferry_head(of_head, slug)) {
        log.warn("branch head was not written by ferry: left alone",
                 {{"branch", branch}, {"head", at}});
        if (pr) {
          auto c = co_await api.create_comment(
              pr->number, "ferry did not move `" + branch + "` to `" + facts.to_tag +
                              "`: its head " + at + " is not a commit ferry wrote.");
          if (!c) {
            co_return c.error();
          }
        }
        co_return std::optional<branch_state>{};
      }
    }
    if (!commit) {
      auto created = co_await create_commit(changes, facts);
      if (!created) {
        co_return created.error();
      }
      commit = std::move(*created);
    }
    // Not a ?: of two co_awaits: GCC 12 destroys the unused arm's result.
    result<void> moved = ok_v;
    if (*branch_head) {
      moved = co_await api.move_branch(branch, *commit, /*force=*/true);
    } else {
      moved = co_await api.create_branch(branch, *commit);
    }
    if (moved) {
      log.info("branch written", {{"branch", branch}, {"commit", *commit}});
      co_return branch_state{*commit, true};
    }
    if (moved.error().kind != error_kind::conflict) {
      co_return moved.error();
    }
    // Another writer got there first: re-read the branch and converge.
    log.info("branch changed under us, re-reading", {{"branch", branch}});
  }
  co_return make_error(error_kind::conflict, "branch " + branch + " kept changing: gave up after " +
                                                 std::to_string(limits::k_ref_update_attempts) +
                                                 " attempts");
}

// Whether the branch at `branch_head` holds exactly `changes` on top of the default branch's
// head.
asio::awaitable<result<bool>> bump_writer::branch_has(
    const std::string& branch_head, const std::vector<markers::file_change>& changes) {
  co_return co_await blocking(settings.pool, [&]() -> result<bool> {
    auto present = mirror.fetch(clone_url, branch_head, git::credentials{token});
    if (!present) {
      return present.error();
    }
    auto differing = mirror.changed_paths(head, branch_head);
    if (!differing) {
      return differing.error();
    }
    return branch_carries(std::span<const std::string>(*differing), changes,
                          [&](const std::string& path) -> std::optional<std::string> {
                            auto c = mirror.read_file(branch_head, path);
                            return c ? std::optional<std::string>(std::move(*c)) : std::nullopt;
                          });
  });
}

// The edited files as one commit on the default branch's head, made through the Git Data API
// without author or committer: GitHub signs it, so it shows as verified (SPEC). Each file keeps
// its mode; the content is the edit's bytes, nothing re-emitted.
asio::awaitable<result<std::string>> bump_writer::create_commit(
    const std::vector<markers::file_change>& changes, const bump_facts& facts) {
  // The base tree from the mirror, which holds `head` (no GET git/commits round trip).
  auto base_tree = co_await blocking(settings.pool, [&]() { return mirror.tree_id(head); });
  if (!base_tree) {
    co_return base_tree.error();
  }
  auto files = co_await blocking(settings.pool, [&]() {
    std::vector<github::tree_file> out;
    for (const auto& c : changes) {
      auto entries = mirror.list_tree(head, c.path);
      const bool exec = entries && !entries->empty() && entries->front().mode == 0100755;
      out.push_back({c.path, exec ? "100755" : "100644", c.new_content});
    }
    return out;
  });
  auto tree = co_await api.create_tree(*base_tree, files);
  if (!tree) {
    co_return tree.error();
  }
  const std::vector<std::string> parents{head};
  co_return co_await api.create_commit(commit_message(facts), *tree, parents);
}

asio::awaitable<result<void>> bump_writer::converge_pr(const rules::environment& env,
                                                       const std::string& branch,
                                                       std::optional<pull_request> pr,
                                                       const bump_facts& facts,
                                                       const branch_state& written) {
  const std::string title = pr_title(facts);
  const std::string body = pr_body(facts);
  if (!pr) {
    auto created = co_await api.create_pull(title, branch, default_branch, body);
    if (created) {
      pr = std::move(*created);
      count_pr("opened");
      log.info("pull request opened", {{"number", std::to_string(pr->number)}});
    } else if (created.error().kind == error_kind::conflict) {
      // Opened by a concurrent delivery: update that one.
      auto found = co_await pulls_of(api, branch);
      if (!found) {
        co_return found.error();
      }
      if (!found->open) {
        co_return created.error();
      }
      pr = std::move(found->open);
    } else {
      co_return created.error();
    }
  }
  // A delivery that wrote nothing (a redelivery, the registry_package twin) leaves the body
  // naming the delivery that did the work; a new head or another tag rewrites it.
  if (pr->title != title || (written.wrote && pr->body != body)) {
    auto updated = co_await api.update_pull(pr->number, title, body);
    if (!updated) {
      co_return updated.error();
    }
    count_pr("updated");
  }
  const std::vector<std::string> want_labels{"ferry", "env:" + env.name};
  if (std::any_of(want_labels.begin(), want_labels.end(),
                  [&](const std::string& l) { return !contains(pr->labels, l); })) {
    auto labelled = co_await api.add_labels(pr->number, want_labels);
    if (!labelled) {
      co_return labelled.error();
    }
  }
  std::vector<std::string> reviewers;
  std::vector<std::string> teams;
  std::copy_if(env.reviewers.begin(), env.reviewers.end(), std::back_inserter(reviewers),
               [&](const std::string& r) { return !contains(pr->reviewers, r); });
  std::copy_if(env.team_reviewers.begin(), env.team_reviewers.end(), std::back_inserter(teams),
               [&](const std::string& t) { return !contains(pr->teams, t); });
  if (!reviewers.empty() || !teams.empty()) {
    auto requested = co_await api.request_reviewers(pr->number, reviewers, teams);
    if (!requested) {
      co_return requested.error();
    }
  }
  if (env.merge.enabled && !pr->auto_merge) {
    co_return co_await auto_merge(env, *pr, written.head);
  }
  co_return ok_v;
}

// GraphQL enablePullRequestAutoMerge; when GitHub answers that the PR is already in clean
// status, merge it through REST with the same method and the head ferry wrote (SPEC). A merge
// GitHub refuses (405) leaves the PR open with a comment.
asio::awaitable<result<void>> bump_writer::auto_merge(const rules::environment& env,
                                                      const pull_request& pr,
                                                      const std::string& written) {
  const std::string method = rules::to_string(env.merge.method);
  auto enabled = co_await api.enable_auto_merge(pr.node_id, method, written);
  if (enabled) {
    co_return ok_v;
  }
  if (!is_clean_status_error(enabled.error().message)) {
    co_return enabled.error();
  }
  auto merged = co_await api.merge_pull(pr.number, method, written);
  if (merged) {
    count_pr("merged");
    log.info("pull request merged", {{"number", std::to_string(pr.number)}});
    co_return ok_v;
  }
  if (merged.error().kind != error_kind::invalid_input) {
    co_return merged.error();
  }
  co_return co_await api.create_comment(
      pr.number, "ferry could not merge this pull request: " + merged.error().message);
}

}  // namespace ferry::handlers
