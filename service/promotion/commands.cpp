#include "service/promotion/commands.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "service/promotion/check.hpp"
#include "service/promotion/plan.hpp"

namespace ferry::promotion {
namespace {

constexpr int k_exit_ok = 0;
constexpr int k_exit_invalid_rules = 1;
constexpr int k_exit_usage = 2;

std::optional<std::string> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Reads and parses DIR/<rules_path>; prints problems and sets `code` when it cannot.
std::optional<rules::rules_file> load_rules(const std::string& repo_dir,
                                            const std::string& rules_path, std::FILE* err,
                                            int& code) {
  std::error_code ec;
  if (!std::filesystem::is_directory(repo_dir, ec)) {
    std::fprintf(err, "%s: not a directory\n", repo_dir.c_str());
    code = k_exit_usage;
    return std::nullopt;
  }
  const auto path = std::filesystem::path(repo_dir) / rules_path;
  auto text = read_file(path);
  if (!text) {
    std::fprintf(err, "%s: cannot be read (is %s the infra repository's root?)\n",
                 path.string().c_str(), repo_dir.c_str());
    code = k_exit_usage;
    return std::nullopt;
  }
  auto parsed = rules::parse_rules(*text, rules_path);
  if (!parsed) {
    std::fprintf(err, "%s", parsed.report().c_str());
    code = k_exit_invalid_rules;
    return std::nullopt;
  }
  return std::move(parsed).value();
}

// The rules file and every marker of the checkout, as check and plan both need them.
struct loaded_repo {
  rules::rules_file rules;
  markers::tree_scan scan;
};
std::optional<loaded_repo> load_repo(const std::string& repo_dir, const std::string& rules_path,
                                     std::FILE* err, int& code) {
  auto rules = load_rules(repo_dir, rules_path, err, code);
  if (!rules) {
    return std::nullopt;
  }
  auto scan = markers::scan_tree(repo_dir);
  if (!scan) {
    std::fprintf(err, "%s\n", scan.error().message.c_str());
    code = k_exit_usage;
    return std::nullopt;
  }
  return loaded_repo{std::move(*rules), std::move(*scan)};
}

bool valid_digest(const std::string& d) {
  if (d.size() != 71 || d.compare(0, 7, "sha256:") != 0) {
    return false;
  }
  return d.find_first_not_of("0123456789abcdef", 7) == std::string::npos;
}

const char* status_word(env_status s) {
  switch (s) {
    case env_status::change:
      return "change";
    case env_status::rejected:
      return "rejected";
    case env_status::nothing:
      return "nothing to change";
    case env_status::needs_digest:
      return "needs --digest";
    case env_status::compare_commits:
      return "needs a commit comparison";
  }
  return "?";
}

}  // namespace

int run_check(const check_options& o, std::FILE* out, std::FILE* err) {
  int code = k_exit_ok;
  auto repo = load_repo(o.repo_dir, o.rules_path, err, code);
  if (!repo) {
    return code;
  }
  const auto& [rules, scan] = *repo;
  const auto report = check(rules, scan.files);
  std::fprintf(out, "%s: valid (%zu image rules, %zu environments)\n", o.rules_path.c_str(),
               rules.images.size(), rules.environments.size());
  std::fprintf(out, "%s", to_text(report, scan).c_str());
  return k_exit_ok;
}

int run_plan(const plan_options_cli& o, std::FILE* out, std::FILE* err) {
  if (o.image.empty() || o.image.find('@') != std::string::npos ||
      o.image.find(':', o.image.find('/') == std::string::npos ? 0 : o.image.rfind('/')) !=
          std::string::npos) {
    std::fprintf(err,
                 "--image %s: expected a repository without tag or digest, e.g. "
                 "ghcr.io/org/app\n",
                 o.image.c_str());
    return k_exit_usage;
  }
  if (!markers::is_valid_tag(o.tag)) {
    std::fprintf(err, "--tag %s: not a valid image tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})\n",
                 o.tag.c_str());
    return k_exit_usage;
  }
  if (o.digest && !valid_digest(*o.digest)) {
    std::fprintf(err, "--digest %s: expected sha256:<64 lower-case hex>\n", o.digest->c_str());
    return k_exit_usage;
  }
  int code = k_exit_ok;
  auto repo = load_repo(o.repo_dir, o.rules_path, err, code);
  if (!repo) {
    return code;
  }
  const auto& [rules, scan] = *repo;
  for (const auto& d : scan.errors) {
    std::fprintf(err, "warning: %s (file skipped)\n", markers::to_string(d).c_str());
  }
  plan_options options;
  options.environment = o.environment;
  options.newest = rules::newest_mode::accept_any;  // offline: SPEC accepts any tag under newest
  auto p = plan(rules, scan.files, candidate{o.image, o.tag, o.digest}, options);
  if (!p) {
    std::fprintf(err, "%s\n", p.error().message.c_str());
    return k_exit_usage;
  }
  if (!p->no_rule_reason.empty()) {
    std::fprintf(err, "%s\n", p->no_rule_reason.c_str());
    return exit_code(*p);
  }
  for (const auto& e : p->environments) {
    std::fprintf(err, "%s %s: %s: %s\n", e.environment->name.c_str(), e.rule->marker_ref().c_str(),
                 status_word(e.status), e.reason.c_str());
  }
  // The composed changes: one entry per file, so the diff applies with `git apply`.
  std::fputs(markers::unified_diff(p->changes).c_str(), out);
  return exit_code(*p);
}

}  // namespace ferry::promotion
