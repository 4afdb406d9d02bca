#pragma once
// Typed views of the GitHub REST answers ferry reads, parsed once with simdjson (SPEC
// "Dependencies": simdjson parses API responses), and the REST paths ferry calls, built with
// their segments escaped. The views hold only what ferry decides on; every string is copied out
// of the parser. The shapes follow GitHub's REST description (@octokit/openapi,
// api.github.com.json): test/service/github/objects_test.cpp parses its examples.
//
// An answer that is not JSON, or lacks a field ferry cannot do without (a sha, a number), is
// error_kind::transient: GitHub answered 2xx with something broken, and a redelivery may fare
// better. Optional fields that are absent or null read as empty.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/config.hpp"
#include "service/result.hpp"

namespace ferry::github {

// GET /repos/{owner}/{repo}
struct repository {
  std::string full_name;
  std::string clone_url;
  std::string default_branch;
};

// GET /repos/{owner}/{repo}/git/commits/{sha} (the Git Data API's commit).
struct git_commit {
  std::string sha;
  std::string tree_sha;
  std::string message;
  std::string author_name;
  bool verified = false;  // verification.verified: GitHub checked its signature
};

// A pull request as pulls/list, pulls/get, pulls/create and commits/{sha}/pulls show it.
struct pull_request {
  std::int64_t number = 0;
  std::string node_id;  // GraphQL's id (auto-merge)
  std::string state;    // open, closed
  std::string title;
  std::string body;  // null on GitHub when empty: read as ""
  std::string head_ref;
  std::string head_sha;
  std::string base_ref;
  bool merged = false;                 // merged_at is set
  std::vector<std::string> labels;     // names
  std::vector<std::string> reviewers;  // requested_reviewers' logins
  std::vector<std::string> teams;      // requested_teams' slugs
  bool auto_merge = false;             // auto_merge is an object
};

// One entry of GET /repos/{o}/{r}/commits/{ref}/statuses.
struct commit_status {
  std::string context;
  std::string state;  // error, failure, pending, success
  std::string description;
  std::string created_at;  // ISO 8601, as GitHub writes it
  std::string target_url;
};

// GET /repos/{o}/{r}/commits/{ref}/check-runs: one check run (checks/list-for-ref).
struct check_run {
  std::string name;
  std::string status;      // queued, in_progress, completed, ...
  std::string conclusion;  // empty until completed
  std::string html_url;
};

// GET /repos/{o}/{r}/compare/{base}...{head}: head against base.
struct comparison {
  std::string status;  // ahead, behind, identical, diverged
  std::int64_t ahead_by = 0;
  std::int64_t behind_by = 0;
  // The commits from base to head as the answer lists them (oldest first, at most 250), each
  // with its message's first line; total_commits may be larger.
  struct commit_line {
    std::string sha;
    std::string headline;
  };
  std::vector<commit_line> commits;
  std::int64_t total_commits = 0;
};

// GET /repos/{o}/{r}/releases/tags/{tag}: what a PR body shows of a release.
struct release {
  std::string name;
  std::string body;  // Markdown, may be empty
  std::string html_url;
};

// One entry of GET /repos/{o}/{r}/pulls/{n}/files.
struct pull_file {
  std::string filename;
  std::string status;  // added, removed, modified, renamed, copied, changed, unchanged
  std::string previous_filename;
};

// One entry of GET /repos/{o}/{r}/issues/{n}/comments.
struct issue_comment {
  std::int64_t id = 0;
  std::string body;
};

// One entry of GET /app/hook/deliveries.
struct hook_delivery {
  std::int64_t id = 0;
  std::string guid;
  std::int64_t status_code = 0;  // 0: no answer at all (null)
  std::chrono::system_clock::time_point delivered_at;
};

result<repository> parse_repository(std::string_view json);
// git/get-ref: the sha the ref points at (object.sha, 40 hex).
result<std::string> parse_ref_sha(std::string_view json);
result<git_commit> parse_git_commit(std::string_view json);
// The `sha` of an object GitHub created (git/create-tree, git/create-commit).
result<std::string> parse_created_sha(std::string_view json);
// GraphQL createCommitOnBranch's answer: data.createCommitOnBranch.commit.oid.
result<std::string> parse_commit_on_branch(std::string_view json);
result<pull_request> parse_pull(std::string_view json);
result<std::vector<pull_request>> parse_pulls(std::string_view json);
result<std::vector<commit_status>> parse_statuses(std::string_view json);
// The page's `check_runs` (the answer is an object with total_count, not a list).
result<std::vector<check_run>> parse_check_runs(std::string_view json);
result<comparison> parse_comparison(std::string_view json);
result<release> parse_release(std::string_view json);
result<std::vector<pull_file>> parse_pull_files(std::string_view json);
result<std::vector<issue_comment>> parse_comments(std::string_view json);
// repos/list-commits: the shas, newest first.
result<std::vector<std::string>> parse_commit_shas(std::string_view json);
// repos/get-content for a file: its bytes (the API sends base64 in lines of 60 characters).
// invalid_input for a directory or a file the API does not inline (over 1 MB: "encoding":
// "none").
result<std::string> parse_file_content(std::string_view json);
// apps/list-webhook-deliveries; entries without an id, guid or readable delivered_at are left
// out.
result<std::vector<hook_delivery>> parse_hook_deliveries(std::string_view json);

// Path segments, percent-encoded (RFC 3986 unreserved characters stay). A branch keeps its '/'
// (GitHub's {ref} parameters take "heads/feature/x" unescaped); a query value escapes it.
std::string escape_segment(std::string_view text);
std::string escape_path(std::string_view text);  // like escape_segment, '/' kept
std::string escape_query(std::string_view text);

// /repos/{owner}/{repo}{rest}; `rest` is appended as given (already escaped).
std::string repo_path(const service::repo_name& repo, std::string_view rest = {});

}  // namespace ferry::github
