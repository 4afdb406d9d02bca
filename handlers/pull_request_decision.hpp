#pragma once
// The pure decisions of the pull_request handler (handlers/pull_request.cpp), SPEC "Behaviour
// by event", pull_request: which work a delivery asks for from its payload alone, whether a PR's
// changed files touch the rules file, and the `ferry/rules` status and comment for a parse
// outcome. No I/O here, so each is unit-tested.

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "service/config.hpp"
#include "service/events/events.hpp"
#include "service/rules/rules.hpp"

namespace ferry::handlers {

// The branch prefix of every branch ferry opens (SPEC "Names": ferry/<env>/<namespace>-<name>).
inline constexpr std::string_view k_ferry_branch_prefix = "ferry/";
// The commit status context of the rules check (SPEC "Rules file").
inline constexpr std::string_view k_rules_status_context = "ferry/rules";

enum class pull_request_work {
  ignore,           // nothing to do: answered 204 before any API call
  delete_branch,    // merged ferry PR: delete its head branch if ferry wrote it
  closed_unmerged,  // a ferry PR closed without merge: logged, done
  check_rules,      // opened/synchronize/reopened: check the rules file if the PR touches it
};

struct pull_request_plan {
  pull_request_work work = pull_request_work::ignore;
  std::string reason;  // for the log
};

// Decides from the payload alone. `infra_repos` is FERRY_INFRA_REPOS (compared
// case-insensitively, as GitHub names are).
pull_request_plan plan_pull_request(const events::pull_request_event& e,
                                    std::span<const service::repo_name> infra_repos);

// One entry of GET /repos/{o}/{r}/pulls/{n}/files.
struct changed_file {
  std::string filename;
  std::string status;             // added, removed, modified, renamed, copied, changed, unchanged
  std::string previous_filename;  // set for renamed
};

enum class rules_change { untouched, changed, removed };

// How the PR's files touch `rules_path`: removed when it is deleted or renamed away.
rules_change rules_file_change(std::span<const changed_file> files, std::string_view rules_path);

// The `ferry/rules` status for a parse of the rules file, and the comment to post on failure.
struct rules_verdict {
  std::string state;        // success | failure
  std::string description;  // at most limits::k_status_description_max bytes (UTF-8 safe)
  std::optional<std::string> comment;
};

rules_verdict rules_verdict_for(const rules::parse_outcome& parsed, std::string_view rules_path);
// The verdict for a PR that deletes the rules file.
rules_verdict rules_removed_verdict(std::string_view rules_path);

// Cuts `text` to at most `max` bytes without splitting a UTF-8 sequence, ending in "..." when
// cut.
std::string fit_description(std::string text, std::size_t max);

}  // namespace ferry::handlers
