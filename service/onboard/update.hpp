#pragma once
// Onboarding pull requests (SPEC "Behaviour by event": a push to an application repository listed
// in `onboarding.sources` that changes its compose file): what the infra repository's default
// branch must become for one source at one application commit. Pure over a reader of the infra
// tree: the conversion (convert.hpp), the three-way merge against what ferry wrote last
// (ownership.hpp) and the splices into the rules file and the environments' kustomizations. The
// handler (handlers/onboard_push.cpp) reads, calls this, and writes the result as a PR.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/markers/markers.hpp"
#include "service/result.hpp"

namespace ferry::onboard {

struct update_request {
  std::string app;
  std::string source_repo;    // owner/name
  std::string source_commit;  // the pushed commit the compose file was read at
  std::string compose_path;   // in the application repository
  std::string compose_text;
  std::string rules_path{".github/ferry.yaml"};
};

// Reads a file of the infra repository's default-branch head: nullopt when there is none.
using tree_reader = std::function<result<std::optional<std::string>>(const std::string& path)>;

struct update_plan {
  std::vector<markers::file_change> changes;  // by path; empty: nothing would change
  std::vector<std::string> written;           // "path (new)" / "path (updated)"
  std::vector<std::string> left_alone;        // "path: what, and why"
  std::vector<std::string> log;               // the conversion log
};

// Where the ownership record of `app` lives.
std::string record_path(std::string_view app);

// The changes for `req`. Errors: invalid_input when the compose file does not convert (the
// message names the service and key) or the ownership record is unreadable; conflict when a
// rule of the same name names another image; what `read` answers otherwise. A plan whose only
// change would be the record is empty: a push that changes nothing in the output writes nothing.
result<update_plan> plan_update(const update_request& req, const tree_reader& read);

// "ferry: onboard shop from acme/shop@1a2b3c4"
std::string update_title(const update_request& req);
// The PR body: the source commit's link, the files written, what was left alone, the conversion
// log, and a machine-readable last line. At most limits::k_pr_body_max characters.
std::string update_body(const update_request& req, const update_plan& plan,
                        std::string_view source_html_url, std::string_view delivery_id);

}  // namespace ferry::onboard
