#pragma once
// The pure decisions of the tag-bump flow (handlers/package_published.cpp): PR title and body,
// the commit message and its trailer, "is this branch head one ferry wrote", and "does the
// branch already carry exactly these edits". No I/O here, so each is unit-tested.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "service/markers/markers.hpp"
#include "service/rules/policy.hpp"
#include "service/rules/rules.hpp"

namespace ferry::handlers {

// The trailer ferry writes in its bump commits (SPEC "Policies": what runs now can name its
// source commit through it).
inline constexpr std::string_view k_source_commit_trailer = "Ferry-Source-Commit";
// The trailer of ferry's onboarding commits (handlers/onboard_push.cpp): the application
// repository and commit the compose file was read at. Not a source commit of any image.
inline constexpr std::string_view k_onboard_source_trailer = "Ferry-Onboard-Source";
// The trailer of ferry's commits to an image group's branch (handlers/bump_group.cpp): the
// group's name. Every group commit carries it, so a later writer knows the head as ferry's even
// when no edit of the commit had a source commit.
inline constexpr std::string_view k_group_trailer = "Ferry-Group";

struct bump_facts {
  std::string image;                     // ghcr.io/dine-together/app
  std::string rule_name;                 // app
  std::string environment;               // staging
  std::vector<std::string> from_values;  // every value the markers carried (may be empty)
  std::string to_tag;
  std::string digest;                         // sha256:..., may be empty
  std::string package_url;                    // package html_url, may be empty
  std::string source_repo_url;                // https://github.com/o/r, may be empty
  std::optional<std::string> source_commit;   // the candidate's source commit
  std::optional<std::string> current_commit;  // what runs now's source commit, when known
  std::string delivery_id;
  std::string note;      // e.g. "no source commit could be compared: the newer delivery wins"
  std::string evidence;  // markdown after the table (a promotion's apply result); may be empty

  // What a reviewer decides from (issue 15.5); each is bounded when rendered.
  std::vector<std::string> why;       // one line per value replaced: why the candidate wins
  std::vector<std::string> on_merge;  // what merging sets off: the apply, the next promotion
  struct commit_line {
    std::string sha;
    std::string headline;  // the message's first line
  };
  std::vector<commit_line> source_commits;  // what runs now .. the candidate, oldest first
  std::int64_t source_commits_total = 0;    // may exceed source_commits.size()
  std::string release_name;                 // the source repository's release of the tag
  std::string release_notes;                // its Markdown body
  std::string release_url;
};

// The machine-readable line ferry puts at the end of each PR body, so a later delivery can tell
// which environment, image and tag a closed PR carried (SPEC pull_request: "Closed without merge
// -> that tag is skipped for that environment"):
//   <!-- ferry: env=staging image=ghcr.io/dine-together/app tag=sha-9f8e7d6 -->
// Empty when a value could break the comment (whitespace or '>'; OCI tags and image references
// never contain either).
std::string pr_marker(std::string_view environment, std::string_view image, std::string_view tag);
// Whether `body` carries exactly that marker (the last ferry marker in the body counts).
bool pr_marker_matches(std::string_view body, std::string_view environment, std::string_view image,
                       std::string_view tag);

// The value of the Ferry-Source-Commit trailer in a commit message (the last one, hex, 7 to 40
// characters), or nullopt.
std::optional<std::string> source_commit_from_message(std::string_view message);

// "ferry: bump app to sha-9f8e7d6 in staging"
std::string pr_title(const bump_facts& f);
// A markdown table: image, from -> to, digest, package link, source commit and compare link
// where known, delivery id; then the note and the evidence, if any; then "Why this PR", "On
// merge", the source commits and the release notes where known; last the pr_marker. At most
// limits::k_pr_body_max characters: sections that would not fit are left out, saying so.
// Text from GitHub (commit messages, release notes) cannot mention anyone: '@' is followed by
// a zero-width space, so nobody is notified by a bump PR.
std::string pr_body(const bump_facts& f);
// Why the candidate replaces each value, per the rule's policy, into facts.why (the `newest`
// policy's lines come from its compare, in the flow): head_values run now, pr_values are the
// open PR's.
void explain(bump_facts& facts, const rules::image_rule& rule,
             std::span<const std::string> head_values, std::span<const std::string> pr_values);
// What merging a PR for `env` sets off (SPEC "Apply, and the promotion chain"): its apply, and
// the environments promoted after it.
std::vector<std::string> merge_consequences(const rules::rules_file& rules,
                                            const rules::environment& env);
// Title line, a blank line, then the trailer when the source commit is known:
// "ferry: bump app to sha-9f8e7d6 in staging\n\nFerry-Source-Commit: <sha>\n".
std::string commit_message(const bump_facts& f);

// What GET /repos/{o}/{r}/git/commits/{sha} says about a branch head.
struct head_commit_facts {
  std::string author_name;
  bool verified = false;
  std::string message;
};

// A head ferry wrote: a verified commit authored by the App's bot ("<slug>[bot]", GitHub's
// name for commits made through the Git Data API without an author), or, when the App's slug
// is not known yet, a verified commit carrying one of ferry's trailers (bump or onboarding).
// Anything else is a person's.
bool is_ferry_head(const head_commit_facts& c, std::optional<std::string_view> app_slug);

// Whether a branch already holds exactly `changes` on top of the default-branch head: the
// paths that differ between the head and the branch are exactly the changed paths, and each
// holds the new content there. `branch_content(path)` reads the branch's file (nullopt when
// missing).
template <typename Reader>
bool branch_carries(std::span<const std::string> differing_paths,
                    std::span<const markers::file_change> changes, Reader branch_content) {
  if (differing_paths.size() != changes.size()) {
    return false;
  }
  for (const auto& c : changes) {
    bool listed = false;
    for (const auto& p : differing_paths) {
      listed = listed || p == c.path;
    }
    if (!listed) {
      return false;
    }
    const std::optional<std::string> content = branch_content(c.path);
    if (!content || *content != c.new_content) {
      return false;
    }
  }
  return true;
}

// Whether GitHub's answer to enablePullRequestAutoMerge means "already mergeable, merge it
// yourself" (the error "Pull request Pull request is in clean status").
bool is_clean_status_error(std::string_view message) noexcept;

// Markdown cell text: '|' and newlines would break the table.
std::string table_cell(std::string_view text);

// `newest` ranks by source commits (SPEC "Policies"): a change over a value that runs now (on
// the default branch, `head_values`, or in the open PR, `pr_values`) stands only once the
// commits are compared. Other policies rank the tags themselves.
bool needs_commit_compare(const rules::tag_policy& policy, std::span<const std::string> head_values,
                          std::span<const std::string> pr_values);

}  // namespace ferry::handlers
