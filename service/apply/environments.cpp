#include "service/apply/environments.hpp"

#include "service/limits.hpp"
#include "service/promotion/plan.hpp"

namespace ferry::apply {

applied_environments environments_to_apply(const rules::rules_file& rules,
                                           std::span<const std::string> changed_paths, bool all) {
  applied_environments out;
  for (const auto& env : rules.environments) {
    bool touched = all;
    for (std::size_t i = 0; !touched && i < changed_paths.size(); ++i) {
      touched = promotion::under_paths(changed_paths[i], env.paths);
    }
    if (!touched) {
      continue;
    }
    if (rules::is_suspended(rules, env.name)) {
      out.suspended.push_back(&env);
    } else if (!env.apply) {
      out.pull_requests_only.push_back(&env);
    } else {
      out.apply.push_back(&env);
    }
  }
  return out;
}

std::string status_description(std::string_view text) {
  // GitHub counts characters, not bytes ("description is too long (maximum is 140
  // characters)"): count UTF-8 lead bytes, i.e. every byte that is not 10xxxxxx.
  const auto is_lead = [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; };
  std::size_t chars = 0;
  for (char c : text) {
    chars += is_lead(c) ? 1 : 0;
  }
  if (chars <= limits::k_status_description_max) {
    return std::string(text);
  }
  constexpr std::string_view k_ellipsis = "...";
  const std::size_t keep = limits::k_status_description_max - k_ellipsis.size();
  std::size_t seen = 0;
  std::size_t end = 0;
  for (; end < text.size(); ++end) {
    if (is_lead(text[end])) {
      if (seen == keep) {
        break;
      }
      ++seen;
    }
  }
  return std::string(text.substr(0, end)) + std::string(k_ellipsis);
}

}  // namespace ferry::apply
