#pragma once
// `ferry check`: the rules file is valid, and which markers each image rule owns, per
// environment, so a user sees before the first publish what ferry would edit.

#include <span>
#include <string>
#include <vector>

#include "service/markers/markers.hpp"
#include "service/rules/rules.hpp"

namespace ferry::promotion {

struct rule_markers {
  const rules::image_rule* rule = nullptr;
  // "env: file:line (field)" per marker, environments in file order; markers outside every
  // environment's paths are listed with env "-" (ferry never edits them).
  struct entry {
    std::string environment;  // "-" when under no environment's paths
    const markers::marker* marker = nullptr;
  };
  std::vector<entry> entries;
};

struct check_report {
  std::vector<rule_markers> rules;
  std::vector<const markers::marker*> orphans;  // markers naming no rule of this file
};

check_report check(const rules::rules_file& rules, std::span<const markers::scanned_file> files);

// The text `ferry check` prints.
std::string to_text(const check_report& r, const markers::tree_scan& scan);

}  // namespace ferry::promotion
