#pragma once
// The tag-bump flow as one reusable call: given a promotion (an image tag and where it came
// from), converge the infra repository's environment pull requests on it. The package handler
// calls it for entry environments; the promotion chain (SPEC "Apply, and the promotion chain")
// calls it for the environments downstream of a successful apply, with the apply's evidence.

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/package_published.hpp"
#include "handlers/registry.hpp"
#include "service/config.hpp"
#include "service/dispatch.hpp"
#include "service/log.hpp"

namespace ferry::handlers {

struct promotion_source {
  promotion candidate;          // image, tag, digest (package_published.hpp)
  std::string package_url;      // may be empty
  std::string source_repo_url;  // may be empty
  // Where `newest` compares commits; nullopt: no compare, a different value is accepted.
  std::optional<service::repo_name> source_repo;
  // The candidate's source commit when its tag gives none (the image's revision label, the
  // version's target_oid); a hex value the rule's filterTags extracts from the tag wins.
  std::optional<std::string> source_commit;
  std::string target_commitish;  // the build's branch (sourceBranches); empty: any
  // Markdown appended to the PR body (promotion: the apply result and links); empty for
  // package deliveries.
  std::string evidence;
};

// Converges, on infra repo `repo`, the PRs of `environments` (names; empty = the entry
// environments: no promoteFrom, not suspended) for `source`, reading the rules at the default
// branch's head. An environment named explicitly that is suspended, or downstream of a
// suspended one, or unknown, is skipped with a log line. ignored: no rule for the image there
// (or no rules file); done: converged, including "nothing to change". Errors: transient GitHub
// or git failures (answer 5xx; the redelivery converges), invalid_input for an invalid rules
// file (reported on the head's ferry/rules status).
boost::asio::awaitable<service::handler_result> converge_promotion(
    std::string_view delivery_id, const log::logger& log, const handler_settings& settings,
    const service::repo_name& repo, const promotion_source& source,
    std::vector<std::string> environments = {});

}  // namespace ferry::handlers
