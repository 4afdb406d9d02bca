#include "handlers/pull_request_decision.hpp"

#include <algorithm>
#include <cctype>

#include "service/limits.hpp"

namespace ferry::handlers {

namespace {

bool same_name(std::string_view a, std::string_view b) noexcept {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

bool is_infra_repo(std::string_view full_name, std::span<const service::repo_name> infra_repos) {
  return std::any_of(infra_repos.begin(), infra_repos.end(),
                     [&](const service::repo_name& r) { return same_name(r.full(), full_name); });
}

}  // namespace

pull_request_plan plan_pull_request(const events::pull_request_event& e,
                                    std::span<const service::repo_name> infra_repos) {
  if (!is_infra_repo(e.repository.full_name, infra_repos)) {
    return {pull_request_work::ignore, "not an infra repository"};
  }
  const bool ferry_branch = e.head_ref.starts_with(k_ferry_branch_prefix);
  // A PR from a fork can carry a ferry/ branch name too; only a branch of the infra repository
  // itself can be ferry's (SPEC: "merged from a ferry/ branch of the same repository").
  const bool same_repo = same_name(e.head_repo_full_name, e.repository.full_name);
  if (e.action == "closed") {
    if (!ferry_branch || !same_repo) {
      return {pull_request_work::ignore, "closed pull request is not ferry's"};
    }
    if (e.merged) {
      return {pull_request_work::delete_branch, "merged ferry pull request"};
    }
    return {pull_request_work::closed_unmerged, "ferry pull request closed without merge"};
  }
  if (e.action == "opened" || e.action == "synchronize" || e.action == "reopened") {
    return {pull_request_work::check_rules, "pull request may touch the rules file"};
  }
  return {pull_request_work::ignore, "pull_request action not handled"};
}

rules_change rules_file_change(std::span<const changed_file> files, std::string_view rules_path) {
  rules_change out = rules_change::untouched;
  for (const auto& f : files) {
    if (f.filename == rules_path) {
      // A rename onto the rules path, or any other change there, leaves a file to check.
      if (f.status == "removed") {
        out = rules_change::removed;
      } else {
        return rules_change::changed;
      }
    } else if (f.status == "renamed" && f.previous_filename == rules_path) {
      out = rules_change::removed;
    }
  }
  return out;
}

std::string fit_description(std::string text, std::size_t max) {
  if (text.size() <= max) {
    return text;
  }
  constexpr std::string_view k_ellipsis = "...";
  std::size_t cut = max > k_ellipsis.size() ? max - k_ellipsis.size() : 0;
  // Step back over UTF-8 continuation bytes (10xxxxxx) so no character is split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) {
    --cut;
  }
  text.resize(cut);
  text += k_ellipsis;
  return text;
}

rules_verdict rules_verdict_for(const rules::parse_outcome& parsed, std::string_view rules_path) {
  if (parsed.ok()) {
    const auto& r = parsed.value();
    const auto plural = [](std::size_t n, std::string_view one, std::string_view many) {
      return std::to_string(n) + " " + std::string(n == 1 ? one : many);
    };
    return {"success",
            fit_description("rules valid: " + plural(r.images.size(), "image", "images") + ", " +
                                plural(r.environments.size(), "environment", "environments"),
                            limits::k_status_description_max),
            std::nullopt};
  }
  const auto& diags = parsed.diagnostics();
  const std::size_t n = diags.size();
  std::string description = "invalid " + std::string(rules_path) + ": " + std::to_string(n) +
                            (n == 1 ? " error" : " errors");
  if (n > 0) {
    description += ", first: " + diags.front().message;
  }
  // The status carries a summary; every error goes into the comment (SPEC "Apply": detail goes
  // into a comment), in a code block so that markdown leaves the messages alone.
  std::string report = parsed.report();
  // A fence longer than any run of backticks in the messages (they quote the file's text).
  std::size_t longest = 0;
  std::size_t run = 0;
  for (const char ch : report) {
    run = ch == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(std::max<std::size_t>(3, longest + 1), '`');
  std::string comment = "ferry: `" + std::string(rules_path) +
                        "` in this pull request is invalid (" + std::to_string(n) +
                        (n == 1 ? " error" : " errors") +
                        "). While it is, ferry opens no pull requests and applies nothing.\n\n" +
                        fence + "\n" + report + (report.ends_with('\n') ? "" : "\n") + fence + "\n";
  return {"failure", fit_description(std::move(description), limits::k_status_description_max),
          std::move(comment)};
}

rules_verdict rules_removed_verdict(std::string_view rules_path) {
  return {"failure", "rules file removed",
          "ferry: this pull request removes `" + std::string(rules_path) +
              "`. Without it ferry opens no pull requests and applies nothing in this "
              "repository.\n"};
}

}  // namespace ferry::handlers
