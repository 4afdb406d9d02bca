#pragma once
// `ferry onboard`: the command around the pure conversion (convert.hpp). Reads the compose
// file and the infra checkout's rules file, writes the base, the overlays and the image rules
// (or prints their diff with --dry-run) and prints the conversion log. docs/onboarding.md.

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "service/onboard/convert.hpp"
#include "service/result.hpp"

namespace ferry::onboard {

// The rules file's `onboarding:` section (SPEC "Rules file") applied over `base`: domain,
// namespacePattern, ingressClass, ingressAnnotations, secretBackend (sops | externalSecrets),
// secretStore, imagePullSecret, productionReplicas, org; `sources` belongs to onboarding pull
// requests: it is validated here (sources_from_rules' errors), not used. Each environment of the
// file that `base.envs` names gets its overlay under its first path (<path>/<app>), where ferry
// edits markers. Read here with yaml-cpp rather than by service/rules: promotion never needs these
// keys. Errors (invalid_input) as "file:line:col: message".
result<options> options_from_rules(std::string_view rules_text, std::string_view file_name,
                                   options base);

// One application repository whose compose file becomes onboarding pull requests on this
// infra repository (`onboarding.sources`, docs/onboarding.md "Onboarding pull requests"):
//   sources:
//     - repo: acme/shop              # required: owner/name, an installation's repository
//       compose: deploy/compose.yml  # default docker-compose.yml; repository-relative
//       app: shop                    # default: the repository's name as a DNS label
struct onboarding_source {
  std::string repo;
  std::string compose{"docker-compose.yml"};
  std::string app;
};

// `onboarding.sources` of a rules file; empty when there is none. Errors (invalid_input) as
// "file:line:col: message": not a list, an item that is not a mapping, an unknown key, a repo
// that is not owner/name, a compose path that is absolute or leaves the repository, an app that
// is not a DNS label of at most 40 characters, two items for the same repo and compose file,
// or two for the same app.
result<std::vector<onboarding_source>> sources_from_rules(std::string_view rules_text,
                                                          std::string_view file_name);

// The rules file after the new image rules: `current` empty means no file yet (a new one with
// the environments' overlay paths). Existing rules of the same name and image are kept (not
// added twice); the same name with another image is an error. The new entries are spliced
// after the last item of `images:`; every other byte stays.
result<std::string> add_image_rules(std::string_view current, const conversion& c,
                                    const options& opts, std::vector<std::string>& log);

// `resources:` of a kustomization.yaml with `entry` appended (byte splice), or nullopt when it
// is listed already or the file has no block list to append to.
std::optional<std::string> add_kustomize_resource(std::string_view kustomization,
                                                  std::string_view entry);

struct onboard_cli {
  std::string compose_path;
  std::string app;
  std::string repo_dir;
  std::string envs;  // comma-separated; empty: staging, production
  std::string org;
  std::string domain;
  bool dry_run = false;
};

// Exit codes (SPEC "Command line"): 0 written (or, with --dry-run, the diff printed); 1 the
// rules file is invalid; 2 usage, an unreadable or unconvertible compose file, or files in
// the way that ferry did not generate (nothing is written then); 4 nothing would change.
int run_onboard(const onboard_cli& cli, std::FILE* out, std::FILE* err);

}  // namespace ferry::onboard
