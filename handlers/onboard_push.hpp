#pragma once
// Onboarding pull requests (SPEC "Behaviour by event"): a `push` to an application repository
// that an infra repository's `onboarding.sources` lists, changing its compose file on its default
// branch, opens or updates the PR `ferry/onboard/<app>` on that infra repository
// (handlers/onboard_push.cpp; the plan is service/onboard/update.hpp, docs/onboarding.md).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/handlers.hpp"

namespace ferry::handlers {

// A push to a repository that is not an infra repository.
handler_task handle_app_push(const service::delivery& d, const events::push_event& e,
                             std::shared_ptr<const handler_settings> settings);

// The repositories a rules file's `onboarding.sources` lists, lower-case owner/name (for the
// rules view, rules_cache.hpp); empty when the section is absent or invalid.
std::shared_ptr<const std::vector<std::string>> onboarding_repos_of(std::string_view rules_text,
                                                                    std::string_view file_name);

}  // namespace ferry::handlers
