#pragma once
// The writes of the tag-bump flow (handlers/bump_flow.cpp), once it has decided what an
// environment's branch must carry: a commit GitHub signs, the branch moved to it by
// compare-and-swap (retried on a stale head, bounded), and the pull request opened or brought
// up to date (title, body, labels, reviewers, auto-merge). Each step writes only what differs,
// so a redelivery writes nothing (SPEC "Reliability"), and a branch head ferry did not write is
// left alone with a comment (SPEC pull_request).

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/bump.hpp"
#include "handlers/registry.hpp"
#include "service/git/mirror.hpp"
#include "service/github/repo_api.hpp"
#include "service/log.hpp"
#include "service/markers/markers.hpp"
#include "service/result.hpp"
#include "service/rules/rules.hpp"

namespace ferry::handlers {

// The files under `prefixes` at `commit` that carry markers (files the scanner refuses hold no
// marker ferry could edit). Blocking: call it on the pool.
result<std::vector<markers::scanned_file>> scan_marker_files(const git::mirror& m,
                                                             std::string_view commit,
                                                             std::span<const std::string> prefixes);

// A branch's pull requests over REST (one call), for a branch the delivery's read did not cover.
using github::branch_pulls;
boost::asio::awaitable<result<branch_pulls>> pulls_of(github::repo_api& api,
                                                      const std::string& branch);

// The branch head after write_branch: the commit, and whether this delivery wrote it.
struct branch_state {
  std::string head;
  bool wrote = false;
};

// What the flow knows of the environment's branch before it writes. Not read (known false): the
// branch is assumed absent, and creating it answers conflict when it exists after all.
struct branch_read {
  bool known = false;
  std::optional<std::string> head;  // when known: the head, nullopt when there is no branch
};

// What a commit says, for writes other than a tag bump (onboarding pull requests): the message,
// and what a comment names when a head ferry did not write is left alone.
struct commit_text {
  std::string message;
  std::string what;
};

// What a pull request must carry: title, body, labels, reviewers and auto-merge.
struct pr_shape {
  std::string title;
  std::string body;
  std::vector<std::string> labels;
  std::vector<std::string> reviewers;
  std::vector<std::string> team_reviewers;
  rules::auto_merge merge{};
};

// One environment's writes on the infra repository of one delivery. References only: it lives
// within the flow's run.
struct bump_writer {
  const handler_settings& settings;
  github::repo_api& api;
  git::mirror& mirror;
  const std::string& clone_url;
  const std::string& token;           // the installation token, for git fetches
  const std::string& default_branch;  // the PR's base
  const std::string& head;            // the default branch's head: the commit's parent
  const log::logger& log;
  // For ferry_lead_time_seconds: the stage a PR opened here ends, and when it began.
  std::string_view lead_stage = "publication_to_pr";
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  // The node ids the delivery's read resolved (labels, reviewers), for the one finishing
  // mutation; what is missing there is written over REST by name. Null: none resolved.
  const github::delivery_read* ids = nullptr;
  // The changes are edits of the branch's own files, not of the default head's (a group branch,
  // handlers/bump_flow.cpp): the commit goes on top of the branch head and keeps whatever else
  // the branch carries (the group's other images); "already carries" means each changed file
  // holds its new content there.
  bool on_branch = false;

  // Puts `changes` on `branch` so that its tree is the default branch's head with them, unless
  // the branch already carries exactly that. Every branch move is a compare-and-swap on the
  // head in `seen`: a new branch is created (conflict if it exists), an existing one moves by
  // createCommitOnBranch with expectedHeadOid or by a non-forced ref update (a fast forward from
  // that head). A lost race answers conflict: the caller reads the branch again and decides
  // again. The branch head ferry wrote (or found), or nullopt when the head is someone else's
  // (left alone, with a comment on `pr`).
  boost::asio::awaitable<result<std::optional<branch_state>>> write_branch(
      const std::string& branch, const std::vector<markers::file_change>& changes,
      const bump_facts& facts, const std::optional<github::pull_request>& pr,
      const branch_read& seen);
  // The same for any commit (onboarding pull requests).
  boost::asio::awaitable<result<std::optional<branch_state>>> write_branch(
      const std::string& branch, const std::vector<markers::file_change>& changes,
      const commit_text& text, const std::optional<github::pull_request>& pr,
      const branch_read& seen);

  // Opens the PR (or adopts the one a concurrent delivery opened) and converges its title,
  // body, labels `ferry` and `env:<env>`, reviewers and auto-merge.
  boost::asio::awaitable<result<void>> converge_pr(const rules::environment& env,
                                                   const std::string& branch,
                                                   std::optional<github::pull_request> pr,
                                                   const bump_facts& facts,
                                                   const branch_state& written);
  // The same for any pull request: opened (or adopted) and brought to `shape`. `lead_env`, when
  // not empty, names the environment whose ferry_lead_time_seconds an opened PR ends.
  boost::asio::awaitable<result<void>> converge_pr(const pr_shape& shape, const std::string& branch,
                                                   std::optional<github::pull_request> pr,
                                                   const branch_state& written,
                                                   std::string_view lead_env = {});

 private:
  struct branch_look;
  boost::asio::awaitable<result<branch_look>> look_at(
      const std::string& at, const std::vector<markers::file_change>& changes);
  boost::asio::awaitable<result<std::string>> commit_via_graphql(
      const std::string& branch, const std::string& at, const branch_look& look,
      const std::vector<markers::file_change>& changes, const std::string& message);
  boost::asio::awaitable<result<std::string>> create_commit(
      const std::vector<markers::file_change>& changes, const std::string& message,
      const std::vector<std::string>& parents, const std::string& base);
  boost::asio::awaitable<result<void>> finish(const pr_shape& shape, const github::pull_request& pr,
                                              const std::string& written);
  boost::asio::awaitable<result<void>> merge_now(const pr_shape& shape,
                                                 const github::pull_request& pr,
                                                 const std::string& written);
  void count_pr(std::string_view action) const;
};

}  // namespace ferry::handlers
