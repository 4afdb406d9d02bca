#pragma once
// What a published image changes in an infra repository, decided without I/O: the rules say
// which environments take the image and how tags rank, the markers say what runs now and
// where to write the new value. `ferry plan` calls it on a checkout, the package handler on
// the files of the default branch's head.

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "service/markers/markers.hpp"
#include "service/rules/rules.hpp"

namespace ferry::promotion {

struct candidate {
  std::string image;  // registry reference without tag, e.g. ghcr.io/dine-together/app
  std::string tag;
  std::optional<std::string> digest;  // sha256:<64 hex>
};

struct plan_options {
  std::optional<std::string> environment;  // only this one (else the entry environments)
  rules::newest_mode newest = rules::newest_mode::accept_any;
  // Values the environment's open ferry PR already carries, per environment name: a candidate
  // must rank above those too, so a late delivery never moves a PR backwards (SPEC).
  std::vector<std::pair<std::string, std::string>> open_pr_values;
  // The branch the candidate was built from (a publication's package_version.target_commitish),
  // which a rule's sourceBranches must list. Unset where no event says it (`ferry plan`, the
  // promotion of what an environment already runs): the gate applies where images enter.
  std::optional<std::string> source_branch;
};

enum class env_status {
  change,           // edits were made
  rejected,         // the rules refuse the tag here (reason says why)
  nothing,          // already there, or no marker for the rule under the environment's paths
  needs_digest,     // a :digest marker or pinDigest needs the digest the caller did not give
  compare_commits,  // `newest`: the caller must compare source commits (reason says which)
};

struct environment_plan {
  const rules::environment* environment = nullptr;
  const rules::image_rule* rule = nullptr;
  env_status status = env_status::nothing;
  std::string reason;
  std::optional<std::string> current;        // the highest-ranked value the markers carry now
  std::vector<std::string> previous_values;  // every distinct tag the markers carried
  std::vector<markers::file_change> changes;
  std::vector<markers::edit_record> records;
};

struct plan_result {
  std::vector<environment_plan> environments;
  std::string no_rule_reason;  // set when no rule names the image (nothing else is)
  // Every file the changing environments edit, once, with all their edits composed on the
  // original bytes: what `ferry plan` prints. (environment_plan::changes are each made from the
  // original content, one pull request per environment and image.)
  std::vector<markers::file_change> changes;
};

// Plans the promotion of `c` over the scanned files (markers of the whole repository or at
// least of every environment's paths). Errors only for inputs that cannot be planned at all:
// an --env that names no environment (invalid_input).
result<plan_result> plan(const rules::rules_file& rules,
                         std::span<const markers::scanned_file> files, const candidate& c,
                         const plan_options& options);

// SPEC's exit codes for `ferry plan`: 0 a diff (at least one environment changes), 2 a digest
// is needed, 3 the rules reject the tag (no rule, filtered out, not ranked above, the
// environment named by --env is suspended), 4 nothing would change (the value is there already,
// or no marker of the rule under the environment's paths).
//
// Where they overlap:
// - within one environment the checks run in the order filter (3), markers present (4), rank
//   against what runs now (equal 4, lower 3), digest (2): a digest is asked for only when it is
//   the one thing missing for a change, so a downgrade without --digest is 3, not 2;
// - across environments: any change wins (0); else a needed digest (2: supplying it yields a
//   diff); else a rejection (3); else 4.
int exit_code(const plan_result& p) noexcept;

// Whether a repository path lies under one of an environment's paths ("." is everything).
bool under_paths(std::string_view path, std::span<const std::string> paths) noexcept;

}  // namespace ferry::promotion
