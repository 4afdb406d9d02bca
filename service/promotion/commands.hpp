#pragma once
// `ferry check` and `ferry plan` on a checkout: read the rules file and the tree, decide,
// print, and return SPEC's exit code. The composition root only parses flags and calls these.

#include <cstdio>
#include <optional>
#include <string>

namespace ferry::promotion {

struct check_options {
  std::string repo_dir;
  std::string rules_path = ".github/ferry.yaml";
};

// Prints every rules error as file:line:col: message (exit 1), or the markers per rule (exit
// 0). An unreadable repository or rules file is exit 2.
int run_check(const check_options& o, std::FILE* out, std::FILE* err);

struct plan_options_cli {
  std::string repo_dir;
  std::string rules_path = ".github/ferry.yaml";
  std::string image;
  std::string tag;
  std::optional<std::string> digest;
  std::optional<std::string> environment;
};

// Prints the unified diff the pull request would contain (git diff format) on `out` and the
// reasons per environment on `err`; returns 0 (a diff), 1 (invalid rules), 2 (usage or a
// missing digest), 3 (rejected) or 4 (nothing would change).
int run_plan(const plan_options_cli& o, std::FILE* out, std::FILE* err);

}  // namespace ferry::promotion
