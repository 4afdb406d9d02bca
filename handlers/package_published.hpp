#pragma once
// The decision behind handlers/package_published.cpp: which package deliveries name a promotion,
// as a pure function (SPEC "Behaviour by event", package / registry_package).

#include <optional>
#include <string>
#include <string_view>

#include "service/events/events.hpp"

namespace ferry::handlers {

struct promotion {
  std::string image;  // "<registry host>/<owner>/<name>", lower case
  std::string tag;
  std::string digest;  // "sha256:<hex>"
};

struct package_decision {
  std::optional<promotion> promote;  // set: a promotion to make
  std::string reason;                // otherwise: why the delivery is ignored (for the log)
};

// Only container packages (package_type CONTAINER, any case) name an image: `docker` is the
// retired docker.pkg.github.com registry, whose references (docker.pkg.github.com/owner/repo/
// name) are not "<registry host>/<owner>/<name>"; GHCR sends CONTAINER (fixtures README), and the
// `docker`/`npm` values appear only in GitHub's synthetic examples.
// Action `published`, or `updated` with a tag. Untagged versions (per-platform manifests of a
// multi-arch push) and attestation tags (sha256-<hex>) are ignored.
package_decision decide_package(const events::package_event& e, std::string_view registry_host);

}  // namespace ferry::handlers
