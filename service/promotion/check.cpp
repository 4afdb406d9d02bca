#include "service/promotion/check.hpp"

#include "service/promotion/plan.hpp"

namespace ferry::promotion {

check_report check(const rules::rules_file& rules, std::span<const markers::scanned_file> files) {
  check_report out;
  for (const auto& rule : rules.images) {
    rule_markers rm;
    rm.rule = &rule;
    const auto ref = rule.marker_ref();
    for (const auto& f : files) {
      for (const auto& m : f.markers) {
        if (m.ns + ":" + m.name != ref) {
          continue;
        }
        bool placed = false;
        for (const auto& env : rules.environments) {
          if (under_paths(f.path, env.paths)) {
            rm.entries.push_back({env.name, &m});
            placed = true;
          }
        }
        if (!placed) {
          rm.entries.push_back({"-", &m});
        }
      }
    }
    out.rules.push_back(std::move(rm));
  }
  for (const auto& f : files) {
    for (const auto& m : f.markers) {
      if (rules::find_image_rule(rules, m.ns, m.name) == nullptr) {
        out.orphans.push_back(&m);
      }
    }
  }
  return out;
}

std::string to_text(const check_report& r, const markers::tree_scan& scan) {
  std::string out;
  for (const auto& rm : r.rules) {
    out += rm.rule->marker_ref() + " (" + rm.rule->image + ", " +
           rules::policy_name(rm.rule->policy.kind) + "): " + std::to_string(rm.entries.size()) +
           (rm.entries.size() == 1 ? " marker\n" : " markers\n");
    for (const auto& e : rm.entries) {
      out += "  " + e.environment + "  " + e.marker->file + ":" + std::to_string(e.marker->line) +
             "  " + markers::to_string(e.marker->field) + " = " + e.marker->value + "\n";
    }
  }
  for (const auto* m : r.orphans) {
    out += "warning: " + m->file + ":" + std::to_string(m->line) + ": marker names " + m->ns + ":" +
           m->name + ", which no image rule defines\n";
  }
  for (const auto& d : scan.errors) {
    out += "warning: " + markers::to_string(d) + " (file skipped)\n";
  }
  for (const auto& d : scan.problems) {
    out += "warning: " + markers::to_string(d) + "\n";
  }
  return out;
}

}  // namespace ferry::promotion
