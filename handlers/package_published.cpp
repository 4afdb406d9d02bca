// The package handler (SPEC "Behaviour by event", package / registry_package): decide whether
// the delivery names a promotion, then converge every infra repository on it through the
// tag-bump flow (handlers/bump_flow.hpp).
#include "handlers/package_published.hpp"

#include <optional>
#include <utility>

#include "handlers/bump_flow.hpp"
#include "handlers/handlers.hpp"
#include "service/text.hpp"

namespace ferry::handlers {

namespace {

package_decision ignore(std::string reason) {
  return {std::nullopt, std::move(reason)};
}

// What a package delivery says about where its image came from.
promotion_source source_of(const events::package_event& e, promotion p) {
  promotion_source src;
  src.candidate = std::move(p);
  src.package_url = e.html_url;
  if (e.repository) {
    src.source_repo_url = e.repository->html_url;
    if (!e.repository->owner.empty() && !e.repository->name.empty()) {
      src.source_repo = service::repo_name{e.repository->owner, e.repository->name};
    }
  }
  // The image's revision label, else the version's target_oid (SPEC "Policies").
  if (!e.label_revision.empty()) {
    src.source_commit = e.label_revision;
  } else if (!e.target_oid.empty()) {
    src.source_commit = e.target_oid;
  }
  src.target_commitish = e.target_commitish;
  return src;
}

}  // namespace

package_decision decide_package(const events::package_event& e, std::string_view registry_host) {
  const bool published = e.action == "published";
  const bool updated_with_tag = e.action == "updated" && !e.tag.empty();
  if (!published && !updated_with_tag) {
    return ignore(e.action == "updated" ? "action updated without a tag" : "action " + e.action);
  }
  if (!text::iequals(e.package_type, "container")) {
    return ignore("package_type " + e.package_type + " is not a container image");
  }
  if (!e.has_version) {
    return ignore("no package_version");
  }
  if (e.owner.empty()) {
    return ignore("package has no owner");
  }
  if (e.tag.empty()) {
    return ignore("untagged version (a per-platform manifest or an attestation)");
  }
  if (events::is_attestation_tag(e.tag)) {
    return ignore("attestation tag");
  }
  if (e.digest.empty()) {
    return ignore("no digest");
  }
  return {promotion{events::image_reference(registry_host, e), e.tag, e.digest}, {}};
}

handler_task handle_package_published(const service::delivery& d, const events::package_event& e,
                                      const handler_settings& settings) {
  package_decision decision = decide_package(e, settings.registry_host);
  if (!decision.promote) {
    d.log.debug("package event ignored", {{"reason", std::move(decision.reason)}});
    co_return service::outcome::ignored;
  }
  const promotion p = *decision.promote;
  d.log.info("promotion", {{"image", p.image},
                           {"tag", p.tag},
                           {"digest", p.digest},
                           {"package_version", std::to_string(e.version_id)}});
  const promotion_source source = source_of(e, p);
  bool any_rule = false;
  std::optional<error> first_error;
  for (const auto& repo : settings.infra_repos) {
    auto r = co_await converge_promotion(d.id, d.log, settings, repo, source);
    if (!r) {
      d.log.warn("promotion failed", {{"repo", repo.full()},
                                      {"kind", to_string(r.error().kind)},
                                      {"error", r.error().message}});
      // Keep going: one repository's failure must not hold back the others; the delivery
      // still answers with the first error so GitHub records it.
      if (!first_error) {
        first_error = r.error();
      }
      continue;
    }
    any_rule = any_rule || *r != service::outcome::ignored;
  }
  if (first_error) {
    co_return *first_error;
  }
  co_return any_rule ? service::outcome::done : service::outcome::ignored;
}

}  // namespace ferry::handlers
