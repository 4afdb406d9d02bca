#pragma once
// What one replica remembers between deliveries, per process and used from the io_context's
// thread only (handlers/bump_flow.cpp fills it; handlers/push.cpp marks a view stale):
// - parsed rules files by blob id: equal ids mean equal text, so a file is parsed once per
//   version, not once per delivery;
// - per infra repository, the view of its rules: the default branch's head, that answer's ETag
//   and the rules parsed there. While it is at most limits::k_rules_view_max_age old, a delivery
//   for an image no rule names is answered with no GitHub call at all (SPEC: 204 "before any API
//   call" for "no rule"). Past that, one conditional request renews it, shared by every delivery
//   that arrives while it runs;
// - the flow's short-lived API answers: repositories where the App is not installed (the 404 of
//   GET /repos/{o}/{r}/installation) and each infra repository's clone_url and default_branch.
//   Both expire after a short time (limits.hpp), so a fresh installation or a renamed default
//   branch is seen within minutes without a restart.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/limits.hpp"
#include "service/result.hpp"
#include "service/rules/rules.hpp"

namespace ferry::handlers {

struct rules_cache {
  using clock = std::chrono::steady_clock;
  struct repository_facts {
    std::string clone_url;
    std::string default_branch;
    clock::time_point until;
  };
  // One infra repository's rules as this replica last read them.
  struct rules_view {
    std::string head;  // the default branch's head commit the rules were read at
    std::string etag;  // of GET git/ref/heads/<default branch> that named `head`
    std::shared_ptr<const rules::parse_outcome> rules;  // null: no rules file at `head`
    clock::time_point read_at{};
    bool stale = false;  // a push to the default branch was handled here since
    // The repositories `onboarding.sources` lists there (lower-case owner/name); null: not
    // known (an invalid section names none).
    std::shared_ptr<const std::vector<std::string>> onboarding_repos;
  };
  // The renewal of one view in flight; the deliveries that need it meanwhile wait on `done`
  // (cancelled when `outcome` is set, or when the renewing delivery is abandoned).
  struct view_renewal {
    explicit view_renewal(boost::asio::any_io_executor ex)
        : done(ex, boost::asio::steady_timer::time_point::max()) {}
    boost::asio::steady_timer done;
    std::optional<result<rules_view>> outcome;
  };

  std::map<std::string, std::shared_ptr<const rules::parse_outcome>, std::less<>> by_blob;
  // The same blobs' onboarding sources (rules_view::onboarding_repos), cleared with by_blob.
  std::map<std::string, std::shared_ptr<const std::vector<std::string>>, std::less<>>
      sources_by_blob;
  std::map<std::string, rules_view, std::less<>> views;  // "owner/name"
  std::map<std::string, std::shared_ptr<view_renewal>, std::less<>> renewing;
  std::map<std::string, clock::time_point, std::less<>> not_installed;  // "owner/name" -> until
  std::map<std::string, repository_facts, std::less<>> repositories;    // "owner/name"

  // This replica's view of `repo`'s rules, while fresh (limits::k_rules_view_max_age, no push
  // seen since), says that no rule names `image` (or that there is no rules file): the
  // reason, for the log. nullopt: the view is missing, old or stale, or a rule names it; only
  // GitHub can tell.
  std::optional<const char*> fresh_view_names_no_rule(std::string_view repo,
                                                      std::string_view image) const {
    const auto it = views.find(repo);
    if (it == views.end() || it->second.stale ||
        clock::now() - it->second.read_at > limits::k_rules_view_max_age) {
      return std::nullopt;
    }
    const auto& rules = it->second.rules;
    if (!rules) {
      return "no rules file in this repository";
    }
    if (rules->ok() && rules::rules_for_image(rules->value(), image).empty()) {
      return "no rule for the image in this repository";
    }
    return std::nullopt;
  }

  // This replica's view of `repo`'s rules, while fresh, says that `onboarding.sources` does not
  // list `source` (owner/name, any case) or that there is no rules file: the reason, for the
  // log. nullopt: only GitHub can tell.
  std::optional<const char*> fresh_view_lists_no_source(std::string_view repo,
                                                        std::string_view source) const {
    const auto it = views.find(repo);
    if (it == views.end() || it->second.stale ||
        clock::now() - it->second.read_at > limits::k_rules_view_max_age) {
      return std::nullopt;
    }
    if (!it->second.rules) {
      return "no rules file in this repository";
    }
    const auto& listed = it->second.onboarding_repos;
    if (!listed) {
      return std::nullopt;
    }
    std::string lower(source);
    for (auto& c : lower) {
      c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    for (const auto& r : *listed) {
      if (r == lower) {
        return std::nullopt;
      }
    }
    return "onboarding.sources does not list the repository";
  }

  // A push to `repo`'s default branch was seen: the next delivery renews the view first.
  void push_seen(const std::string& repo) {
    if (auto it = views.find(repo); it != views.end()) {
      it->second.stale = true;
    }
  }
};

}  // namespace ferry::handlers
