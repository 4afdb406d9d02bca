#include "handlers/package_published.hpp"

#include <utility>

#include "handlers/handlers.hpp"

namespace ferry::handlers {

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

package_decision ignore(std::string reason) {
  return {std::nullopt, std::move(reason)};
}

}  // namespace

package_decision decide_package(const events::package_event& e, std::string_view registry_host) {
  const bool published = e.action == "published";
  const bool updated_with_tag = e.action == "updated" && !e.tag.empty();
  if (!published && !updated_with_tag) {
    return ignore(e.action == "updated" ? "action updated without a tag" : "action " + e.action);
  }
  if (!iequals(e.package_type, "container")) {
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
                                      std::string_view registry_host) {
  package_decision decision = decide_package(e, registry_host);
  if (!decision.promote) {
    d.log.debug("package event ignored", {{"reason", std::move(decision.reason)}});
    co_return service::outcome::ignored;
  }
  const promotion& p = *decision.promote;
  // The rules lookup and the pull request come with a later issue; until then ferry says what
  // it would promote, so a deployment can be checked against real deliveries.
  d.log.info("promotion", {{"image", p.image},
                           {"tag", p.tag},
                           {"digest", p.digest},
                           {"package_version", std::to_string(e.version_id)}});
  co_return service::outcome::done;
}

}  // namespace ferry::handlers
