#pragma once
// Which environments a push to the infra repo's default branch applies (SPEC "Behaviour by
// event", push), and the text of the ferry/apply/<env> status. Pure.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "service/rules/rules.hpp"

namespace ferry::apply {

struct applied_environments {
  std::vector<const rules::environment*> apply;      // file order
  std::vector<const rules::environment*> suspended;  // touched but suspended (rules::is_suspended)
  // Touched, not suspended, but without `apply`: pull requests only (SPEC "Rules file"); Flux
  // or Argo CD pick the merge up on their own schedule, so nothing is applied or reported.
  std::vector<const rules::environment*> pull_requests_only;
};

// The environments with a path (env.paths, "." = everything) that one of `changed_paths` lies
// under, in file order; `all` (a push whose `before` is zero, or a forced push) takes every
// environment. Suspended ones and ones without `apply` are returned apart so the caller can say
// why nothing ran.
applied_environments environments_to_apply(const rules::rules_file& rules,
                                           std::span<const std::string> changed_paths, bool all);

// A commit status description within GitHub's limit (limits::k_status_description_max
// characters): longer text is cut on a UTF-8 character boundary and ends with "...".
std::string status_description(std::string_view text);

}  // namespace ferry::apply
