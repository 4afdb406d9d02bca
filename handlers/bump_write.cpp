#include "handlers/bump_write.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <iterator>
#include <map>
#include <utility>

#include "handlers/blocking.hpp"
#include "service/limits.hpp"
#include "service/text.hpp"

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
  co_return github::split_pulls(std::move(*listed));
}

void bump_writer::count_pr(std::string_view action) const {
  if (settings.metrics != nullptr) {
    settings.metrics->pull_requests.with({action}).inc();
  }
}

// The branch at `at` as the mirror sees it (no API call).
struct bump_writer::branch_look {
  bool carries = false;     // its tree is the default head's with exactly `changes`
  bool holds = false;       // each changed path holds its new content at `at`
  bool ferrys = false;      // its head is a commit GitHub signed for this App
  bool empty = false;       // it holds nothing the default head lacks (an ancestor of it)
  bool on_head = false;     // it descends from the default head
  bool plain_files = true;  // no path to write is executable (createCommitOnBranch writes 100644)
  std::vector<std::string> differing;  // paths that differ between the default head and `at`
};

asio::awaitable<result<bump_writer::branch_look>> bump_writer::look_at(
    const std::string& at, const std::vector<markers::file_change>& changes) {
  const auto app = api.client().app_info();
  const std::optional<std::string> slug =
      app ? std::optional<std::string>(app->slug) : std::nullopt;
  co_return co_await blocking(settings.pool, [&]() -> result<branch_look> {
    auto present = mirror.fetch(clone_url, at, git::credentials{token});
    if (!present) {
      return present.error();
    }
    branch_look look;
    auto differing = mirror.changed_paths(head, at);
    if (!differing) {
      return differing.error();
    }
    auto carries =
        branch_carries(std::span<const std::string>(*differing), changes,
                       [&](const std::string& path) -> std::optional<std::string> {
                         auto c = mirror.read_file(at, path);
                         return c ? std::optional<std::string>(std::move(*c)) : std::nullopt;
                       });
    look.carries = carries;
    look.holds = std::all_of(changes.begin(), changes.end(), [&](const markers::file_change& c) {
      auto content = mirror.read_file(at, c.path);
      return content && *content == c.new_content;
    });
    look.differing = std::move(*differing);
    auto info = mirror.commit_info(at);
    if (!info) {
      return info.error();
    }
    // GitHub signs what it commits for an App with its web-flow key, as committer
    // noreply@github.com; the object's gpgsig header is that signature.
    const head_commit_facts of_head{
        .author_name = info->author_name,
        .verified = info->signed_ && info->committer_email == "noreply@github.com",
        .message = info->message};
    look.ferrys =
        is_ferry_head(of_head, slug ? std::optional<std::string_view>(*slug) : std::nullopt);
    auto empty = mirror.is_descendant(head, at);
    auto on_head = mirror.is_descendant(at, head);
    if (!empty || !on_head) {
      return !empty ? empty.error() : on_head.error();
    }
    look.empty = *empty;
    look.on_head = *on_head;
    std::vector<std::string> paths = look.differing;
    for (const auto& c : changes) {
      paths.push_back(c.path);
    }
    for (const auto& p : paths) {
      auto entries = mirror.list_tree(head, p);
      if (entries && !entries->empty() && entries->front().mode == 0100755) {
        look.plain_files = false;
      }
    }
    return look;
  });
}

asio::awaitable<result<std::optional<branch_state>>> bump_writer::write_branch(
    const std::string& branch, const std::vector<markers::file_change>& changes,
    const bump_facts& facts, const std::optional<pull_request>& pr, const branch_read& seen) {
  const commit_text text{commit_message(facts), facts.to_tag};
  co_return co_await write_branch(branch, changes, text, pr, seen);
}

asio::awaitable<result<std::optional<branch_state>>> bump_writer::write_branch(
    const std::string& branch, const std::vector<markers::file_change>& changes,
    const commit_text& text, const std::optional<pull_request>& pr, const branch_read& seen) {
  if (!seen.known || !seen.head) {
    // A new branch at the default head (conflict when it exists: the caller reads it), then the
    // commit on it, compare-and-swap on that head. Two writes.
    auto created = co_await api.create_branch(branch, head);
    if (!created) {
      co_return created.error();
    }
    branch_look none;
    none.empty = true;
    none.on_head = true;
    auto commit = co_await commit_via_graphql(branch, head, none, changes, text.message);
    if (!commit) {
      co_return commit.error();
    }
    log.info("branch written", {{"branch", branch}, {"commit", *commit}});
    co_return branch_state{*commit, true};
  }
  const std::string& at = *seen.head;
  auto look = co_await look_at(at, changes);
  if (!look) {
    co_return look.error();
  }
  if (on_branch ? look->holds : look->carries) {
    log.info("branch already carries the change", {{"branch", branch}, {"head", at}});
    co_return branch_state{at, false};
  }
  // A branch holding nothing beyond the default branch (a create whose commit never came) is
  // nobody's work; any other head ferry did not write is left alone.
  if (!look->empty && !look->ferrys) {
    log.warn("branch head was not written by ferry: left alone",
             {{"branch", branch}, {"head", at}});
    if (pr) {
      auto c = co_await api.create_comment(pr->number, "ferry did not move `" + branch + "` to `" +
                                                           text.what + "`: its head " + at +
                                                           " is not a commit ferry wrote.");
      if (!c) {
        co_return c.error();
      }
    }
    co_return std::optional<branch_state>{};
  }
  result<std::string> commit = make_error(error_kind::internal, "no commit made");
  if (on_branch) {
    // On top of the branch head, keeping what it carries: createCommitOnBranch with only the
    // changed files (compare-and-swap by expectedHeadOid), or, for an executable file, a commit
    // on the branch head's tree moved to by a non-forced ref update.
    if (look->plain_files) {
      branch_look only = *look;
      only.differing.clear();
      commit = co_await commit_via_graphql(branch, at, only, changes, text.message);
    } else {
      const std::vector<std::string> parents{at};
      auto made = co_await create_commit(changes, text.message, parents, at);
      if (!made) {
        co_return made.error();
      }
      auto moved = co_await api.move_branch(branch, *made, /*force=*/false);
      if (!moved) {
        co_return moved.error();
      }
      commit = std::move(*made);
    }
  } else if (look->on_head && look->plain_files) {
    // One write: the commit on top of `at`, compare-and-swap by expectedHeadOid.
    commit = co_await commit_via_graphql(branch, at, *look, changes, text.message);
  } else {
    // The commit through the Git Data API on the default head's tree, with parents that make it
    // a fast forward from `at` (and a merge of the default head when the branch is behind it),
    // so the non-forced ref update is the compare-and-swap.
    std::vector<std::string> parents;
    if (look->empty) {
      parents = {head};
    } else if (look->on_head) {
      parents = {at};
    } else {
      parents = {at, head};
    }
    auto made = co_await create_commit(changes, text.message, parents, head);
    if (!made) {
      co_return made.error();
    }
    auto moved = co_await api.move_branch(branch, *made, /*force=*/false);
    if (!moved) {
      co_return moved.error();
    }
    commit = std::move(*made);
  }
  if (!commit) {
    co_return commit.error();
  }
  log.info("branch written", {{"branch", branch}, {"commit", *commit}});
  co_return branch_state{*commit, true};
}

// createCommitOnBranch on top of `at` (a descendant of the default head): every path that differs
// from what the branch must hold is written, so the new tree is the default head's with
// `changes`.
asio::awaitable<result<std::string>> bump_writer::commit_via_graphql(
    const std::string& branch, const std::string& at, const branch_look& look,
    const std::vector<markers::file_change>& changes, const std::string& message) {
  auto edits = co_await blocking(
      settings.pool,
      [&]() -> result<std::pair<std::vector<github::tree_file>, std::vector<std::string>>> {
        std::vector<github::tree_file> additions;
        std::vector<std::string> deletions;
        for (const auto& c : changes) {
          additions.push_back({c.path, "100644", c.new_content});
        }
        for (const auto& p : look.differing) {
          if (std::any_of(changes.begin(), changes.end(),
                          [&](const markers::file_change& c) { return c.path == p; })) {
            continue;
          }
          auto content = mirror.read_file(head, p);
          if (content) {
            additions.push_back({p, "100644", std::move(*content)});
          } else if (content.error().kind == error_kind::not_found) {
            deletions.push_back(p);
          } else {
            return content.error();
          }
        }
        return std::pair{std::move(additions), std::move(deletions)};
      });
  if (!edits) {
    co_return edits.error();
  }
  const auto cut = message.find("\n\n");
  const std::string headline = message.substr(0, std::min(cut, message.find('\n')));
  std::string body = cut == std::string::npos ? std::string() : message.substr(cut + 2);
  while (!body.empty() && body.back() == '\n') {
    body.pop_back();
  }
  co_return co_await api.commit_on_branch(branch, at, headline, body, edits->first, edits->second);
}

// The edited files as one commit on the default branch's head's tree, made through the Git Data
// API without author or committer: GitHub signs it, so it shows as verified (SPEC). Each file
// keeps its mode; the content is the edit's bytes, nothing re-emitted.
asio::awaitable<result<std::string>> bump_writer::create_commit(
    const std::vector<markers::file_change>& changes, const std::string& message,
    const std::vector<std::string>& parents, const std::string& base) {
  // The base tree from the mirror, which holds `base` (no GET git/commits round trip).
  auto base_tree = co_await blocking(settings.pool, [&]() { return mirror.tree_id(base); });
  if (!base_tree) {
    co_return base_tree.error();
  }
  auto files = co_await blocking(settings.pool, [&]() {
    std::vector<github::tree_file> out;
    for (const auto& c : changes) {
      auto entries = mirror.list_tree(base, c.path);
      const bool exec = entries && !entries->empty() && entries->front().mode == 0100755;
      out.push_back({c.path, exec ? "100755" : "100644", c.new_content});
    }
    return out;
  });
  auto tree = co_await api.create_tree(*base_tree, files);
  if (!tree) {
    co_return tree.error();
  }
  co_return co_await api.create_commit(message, *tree, parents);
}

asio::awaitable<result<void>> bump_writer::converge_pr(const rules::environment& env,
                                                       const std::string& branch,
                                                       std::optional<pull_request> pr,
                                                       const bump_facts& facts,
                                                       const branch_state& written) {
  pr_shape shape;
  shape.title = pr_title(facts);
  shape.body = pr_body(facts);
  shape.labels = {"ferry", "env:" + env.name};
  shape.reviewers = env.reviewers;
  shape.team_reviewers = env.team_reviewers;
  shape.merge = env.merge;
  auto converged = co_await converge_pr(shape, branch, std::move(pr), written, env.name);
  if (converged && written.wrote && settings.metrics != nullptr) {
    settings.metrics->promotions.with({env.name, facts.rule_name}).inc();
  }
  co_return converged;
}

asio::awaitable<result<void>> bump_writer::converge_pr(const pr_shape& shape,
                                                       const std::string& branch,
                                                       std::optional<pull_request> pr,
                                                       const branch_state& written,
                                                       std::string_view lead_env) {
  const std::string& title = shape.title;
  const std::string& body = shape.body;
  if (!pr) {
    auto created = co_await api.create_pull(title, branch, default_branch, body);
    if (created) {
      pr = std::move(*created);
      count_pr("opened");
      if (settings.metrics != nullptr && !lead_env.empty()) {
        settings.metrics->lead_time.with({lead_stage, lead_env})
            .observe(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      }
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
  co_return co_await finish(shape, *pr, written.head);
}

// Labels `ferry` and `env:<env>`, the environment's reviewers and auto-merge, whatever of them
// the PR lacks: one GraphQL mutation for the parts whose node ids the delivery's read resolved
// (all of them once the labels exist in the repository), REST by name for the rest (REST also
// creates a label the repository does not have yet).
asio::awaitable<result<void>> bump_writer::finish(const pr_shape& shape, const pull_request& pr,
                                                  const std::string& written) {
  auto id_of = [](const std::map<std::string, std::string>* ids,
                  const std::string& name) -> const std::string* {
    if (ids == nullptr) {
      return nullptr;
    }
    auto it = ids->find(name);
    return it == ids->end() ? nullptr : &it->second;
  };
  github::pull_finish_request gql;
  gql.pull_node_id = pr.node_id;
  gql.expected_head = written;
  // What the PR lacks of `wanted`: by node id where the read resolved one, else by name (REST).
  auto split = [&id_of](const std::vector<std::string>& wanted, const std::vector<std::string>& has,
                        const std::map<std::string, std::string>* known,
                        std::vector<std::string>& by_id, std::vector<std::string>& by_name) {
    for (const auto& w : wanted) {
      if (contains(has, w)) {
        continue;
      }
      if (const auto* id = id_of(known, w)) {
        by_id.push_back(*id);
      } else {
        by_name.push_back(w);
      }
    }
  };
  std::vector<std::string> rest_labels;
  std::vector<std::string> rest_users;
  std::vector<std::string> rest_teams;
  const std::vector<std::string>& want_labels = shape.labels;
  split(want_labels, pr.labels, ids ? &ids->label_ids : nullptr, gql.label_ids, rest_labels);
  split(shape.reviewers, pr.reviewers, ids ? &ids->user_ids : nullptr, gql.user_ids, rest_users);
  split(shape.team_reviewers, pr.teams, ids ? &ids->team_ids : nullptr, gql.team_ids, rest_teams);
  if (shape.merge.enabled && !pr.auto_merge) {
    gql.merge_method = text::upper(rules::to_string(shape.merge.method));
  }
  if (!rest_labels.empty()) {
    // Both labels: REST adds to what is there, and one call creates what is missing.
    rest_labels = want_labels;
    gql.label_ids.clear();
  }
  // The REST part (labels or reviewers GitHub could not name by id) and the mutation touch
  // different things: sent together, one round trip.
  auto by_name = [](github::repo_api& api, std::int64_t number, std::vector<std::string> labels,
                    std::vector<std::string> users,
                    std::vector<std::string> teams) -> asio::awaitable<result<void>> {
    if (!labels.empty()) {
      auto labelled = co_await api.add_labels(number, labels);
      if (!labelled) {
        co_return labelled.error();
      }
    }
    if (!users.empty() || !teams.empty()) {
      co_return co_await api.request_reviewers(number, users, teams);
    }
    co_return ok_v;
  };
  using namespace asio::experimental::awaitable_operators;
  auto [named, finished] = co_await (by_name(api, pr.number, std::move(rest_labels),
                                             std::move(rest_users), std::move(rest_teams)) &&
                                     api.finish_pull(gql));
  if (!named) {
    co_return named.error();
  }
  if (!finished) {
    co_return finished.error();
  }
  if (!finished->failed.empty() && finished->of("enablePullRequestAutoMerge") == nullptr) {
    co_return github::graphql_failure(finished->failed);
  }
  if (const auto* e = finished->of("enablePullRequestAutoMerge")) {
    if (finished->failed.size() > 1 || !is_clean_status_error(e->message)) {
      co_return github::graphql_failure(finished->failed);
    }
    co_return co_await merge_now(shape, pr, written);
  }
  co_return ok_v;
}

// GitHub refuses auto-merge on a PR that could merge right now ("clean status"): merge it through
// REST with the same method and the head ferry wrote (SPEC). A merge GitHub refuses (405) leaves
// the PR open with a comment.
asio::awaitable<result<void>> bump_writer::merge_now(const pr_shape& shape, const pull_request& pr,
                                                     const std::string& written) {
  const std::string method = rules::to_string(shape.merge.method);
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
