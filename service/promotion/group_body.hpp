#pragma once
// The pull request of an image group (rules `group: NAME`, docs/rules.md "Groups"): one PR per
// environment and group, on branch ferry/<env>/group-<NAME>, whose body is one table with a row
// per image the branch changes. A new publication of an image replaces that image's row in
// place; the other rows stay as they were.
//
// Each row is one line of the table ending in a machine-readable comment inside its last cell:
//   | `ghcr.io/o/api` | `1.0.0` -> `1.1.0` | ... | `delivery` <!-- ferry-row: env=staging
//   rule=flux-system:api image=ghcr.io/o/api tag=1.1.0 --> |
// (one line), so a later delivery can read back which rows the body has and which tag each
// names, and a closed PR tells which tags were skipped (SPEC pull_request). Pure functions, no
// I/O.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::promotion {

// Markdown table cell text: '|' and newlines would break the table (the group body's cells and
// the single-image body's, handlers/bump.cpp).
std::string markdown_cell(std::string_view text);

// One image's row of a group PR body.
struct group_row {
  std::string environment;
  std::string rule;   // "<namespace>:<name>": the row's key
  std::string image;  // the rule's image
  std::string tag;    // the value the row names
  std::string text;   // the whole table row, one line
};

// The rows of a group PR body, in body order: lines that start with "| " and end with a
// well-formed row comment and " |". Anything else (a person's edits, a damaged row) is not a row.
// At most limits::k_group_rows_max rows, each at most limits::k_group_row_max bytes; a row key
// seen twice counts once (the first).
std::vector<group_row> parse_group_rows(std::string_view body);

// What one image's row says.
struct group_row_facts {
  std::string environment;
  std::string rule;  // "<namespace>:<name>"
  std::string image;
  std::vector<std::string> from_values;  // what the default branch carries (may be empty)
  std::string to_tag;
  std::string digest;           // may be empty
  std::string package_url;      // may be empty
  std::string source_repo_url;  // may be empty
  std::optional<std::string> source_commit;
  std::string delivery_id;  // empty: the row was rebuilt from the branch (see merge_group_rows)
};

// The row for `f`. nullopt when a value could break the row comment (whitespace or '>'; rule
// names, image references and OCI tags never contain either).
std::optional<group_row> make_group_row(const group_row_facts& f);

// What the group branch carries for one rule of the group.
struct group_member {
  std::string rule;  // "<namespace>:<name>"
  std::string image;
  std::vector<std::string> from_values;    // on the default branch
  std::vector<std::string> branch_values;  // on the group branch, after this delivery's write
};

// The rows a group PR must list after a write: one for each member whose branch values differ
// from its default-branch values (the images the branch changes), in the order of `old_rows`
// (rows stay in place), new ones after them in member order. A member's row is the row of
// `written` (this delivery's edits) for its rule when that names one of the branch values; else
// its old row when that does; else a row rebuilt from the branch (no digest, links or delivery:
// a concurrent writer's body update was lost, the branch, written by compare-and-swap, still
// says what the PR carries).
std::vector<group_row> merge_group_rows(std::span<const group_row> old_rows,
                                        std::span<const group_member> members,
                                        std::span<const group_row> written,
                                        std::string_view environment);

// "ferry: bump 3 images of group train in staging"
std::string group_pr_title(std::string_view environment, std::string_view group,
                           std::size_t images);
// The body: a sentence, the table of `rows`, `evidence` (a promotion's apply result; may be
// empty), the "On merge" lines, and the group's own marker last. At most limits::k_pr_body_max
// characters: rows that would not fit are left out, saying how many.
std::string group_pr_body(std::string_view environment, std::string_view group,
                          std::span<const group_row> rows, std::string_view evidence,
                          std::span<const std::string> on_merge);

// Whether `body` has a row of `environment` naming `image` at `tag` (a closed group PR skips
// exactly the tags its rows named).
bool group_body_lists(std::string_view body, std::string_view environment, std::string_view image,
                      std::string_view tag);

}  // namespace ferry::promotion
