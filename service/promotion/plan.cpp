#include "service/promotion/plan.hpp"

#include "service/text.hpp"

#include <algorithm>
#include <cctype>

namespace ferry::promotion {
namespace {

using text::lower;

// The tag a marker carries now: a :tag marker's value, or the tag part of a whole reference.
std::optional<std::string> tag_of(const markers::marker& m) {
  switch (m.field) {
    case markers::marker_field::tag:
      return m.value;
    case markers::marker_field::whole: {
      auto ref = markers::parse_image_ref(m.value);
      if (ref.tag.empty()) {
        return std::nullopt;
      }
      return ref.tag;
    }
    case markers::marker_field::name:
    case markers::marker_field::digest:
      return std::nullopt;
  }
  return std::nullopt;
}

markers::edit_request request_for(const rules::image_rule& rule, const candidate& c) {
  return {rule.namespace_name, rule.name, rule.image, c.tag, c.digest, rule.pin_digest};
}

// Every changed file once, with the edits of every changing (rule, environment) applied
// together to the original bytes. Per-environment changes are each made from the original
// content (each environment and image gets its own branch), so two rules for one image, or two
// environments whose paths overlap, can edit the same file; concatenating their changes would
// print that file twice and `git apply` would refuse the second hunk set.
result<std::vector<markers::file_change>> compose(const plan_result& p,
                                                  std::span<const markers::scanned_file> files,
                                                  const candidate& c) {
  std::vector<markers::file_change> out;
  for (const auto& f : files) {
    std::vector<markers::edit_request> requests;
    for (const auto& e : p.environments) {
      if (e.status != env_status::change) {
        continue;
      }
      const bool touches =
          std::any_of(e.changes.begin(), e.changes.end(),
                      [&](const markers::file_change& ch) { return ch.path == f.path; });
      const bool known = std::any_of(requests.begin(), requests.end(), [&](const auto& r) {
        return r.ns == e.rule->namespace_name && r.name == e.rule->name;
      });
      if (touches && !known) {
        requests.push_back(request_for(*e.rule, c));
      }
    }
    if (requests.empty()) {
      continue;
    }
    auto edited = markers::apply_edits(f.content, f.markers, requests);
    if (!edited) {
      return edited.error();
    }
    if (!edited->records.empty()) {
      out.push_back({f.path, f.content, std::move(edited->content)});
    }
  }
  return out;
}

environment_plan plan_environment(const rules::image_rule& rule, const rules::environment& env,
                                  std::span<const markers::scanned_file> files, const candidate& c,
                                  const plan_options& options) {
  environment_plan out;
  out.environment = &env;
  out.rule = &rule;

  const auto admission = rules::admit(rule.policy, c.tag);
  if (!admission.admitted) {
    out.status = env_status::rejected;
    out.reason = admission.reason;
    return out;
  }
  // sourceBranches gates every policy (SPEC: "only images built from these branches"), not only
  // newest's diverged case: a feature-branch build must not be promoted because its semver is
  // higher. An unknown branch (an event without target_commitish) fails closed.
  if (!rule.source_branches.empty() && options.source_branch) {
    const auto& branches = rule.source_branches;
    if (std::find(branches.begin(), branches.end(), *options.source_branch) == branches.end()) {
      std::string listed;
      for (const auto& b : branches) {
        listed += (listed.empty() ? "" : ", ") + b;
      }
      out.status = env_status::rejected;
      out.reason = options.source_branch->empty()
                       ? "the event does not say which branch the image was built from, and "
                         "sourceBranches (" +
                             listed + ") requires one"
                       : "built from branch " + *options.source_branch +
                             ", not one of sourceBranches (" + listed + ")";
      return out;
    }
  }

  const std::string ref = rule.marker_ref();
  struct owned {
    const markers::scanned_file* file;
    std::vector<markers::marker> markers;
  };
  std::vector<owned> mine;
  bool needs_digest = false;
  for (const auto& f : files) {
    if (!under_paths(f.path, env.paths)) {
      continue;
    }
    owned o{&f, {}};
    for (const auto& m : f.markers) {
      if (m.ns + ":" + m.name != ref) {
        continue;
      }
      o.markers.push_back(m);
      if (m.field == markers::marker_field::digest ||
          (m.field == markers::marker_field::whole && rule.pin_digest)) {
        needs_digest = true;
      }
      if (auto t = tag_of(m); t && std::find(out.previous_values.begin(), out.previous_values.end(),
                                             *t) == out.previous_values.end()) {
        out.previous_values.push_back(*t);
      }
    }
    if (!o.markers.empty()) {
      mine.push_back(std::move(o));
    }
  }
  if (mine.empty()) {
    out.status = env_status::nothing;
    out.reason = "no marker for " + ref + " under " + env.name + "'s paths";
    return out;
  }

  // What runs now: the highest-ranked value among the markers and the open PR's value.
  std::vector<std::string> ranked = out.previous_values;
  for (const auto& [env_name, value] : options.open_pr_values) {
    if (env_name == env.name) {
      ranked.push_back(value);
    }
  }
  const auto top = rules::highest(rule.policy, ranked);
  if (top.ambiguous && options.newest == rules::newest_mode::compare_commits) {
    out.status = env_status::compare_commits;
    out.reason = "the markers of " + ref + " in " + env.name +
                 " carry different values; their commits must be compared";
    return out;
  }
  out.current = top.value;
  if (top.value && *top.value == c.tag) {
    out.status = env_status::nothing;
    out.reason = env.name + " already runs " + rule.image + ":" + c.tag;
    return out;
  }
  if (top.value) {
    const auto decision = rules::compare(rule.policy, c.tag, *top.value, options.newest);
    if (decision.outcome == rules::verdict::reject) {
      out.status = env_status::rejected;
      out.reason = decision.reason;
      return out;
    }
    if (decision.outcome == rules::verdict::compare_commits) {
      out.status = env_status::compare_commits;
      out.reason = decision.reason;
      return out;
    }
  }

  // Only a tag that would otherwise be promoted needs its digest: a rejected or equal tag says
  // so (exit 3 or 4) rather than asking for a digest that would not change the answer.
  if (needs_digest && !c.digest) {
    out.status = env_status::needs_digest;
    out.reason = "a :digest marker or pinDigest for " + ref + " needs the image digest (--digest)";
    return out;
  }

  const markers::edit_request request = request_for(rule, c);
  for (const auto& o : mine) {
    auto edited = markers::apply_edits(o.file->content, o.markers, request);
    if (!edited) {
      out.status = env_status::rejected;
      out.reason = edited.error().message;
      out.changes.clear();
      out.records.clear();
      return out;
    }
    if (edited->records.empty()) {
      continue;
    }
    out.records.insert(out.records.end(), edited->records.begin(), edited->records.end());
    out.changes.push_back({o.file->path, o.file->content, std::move(edited->content)});
  }
  if (out.changes.empty()) {
    out.status = env_status::nothing;
    out.reason = env.name + " already runs " + rule.image + ":" + c.tag;
    return out;
  }
  out.status = env_status::change;
  out.reason = env.name + ": " + (top.value ? *top.value : std::string("(none)")) + " -> " + c.tag;
  return out;
}

}  // namespace

bool under_paths(std::string_view path, std::span<const std::string> paths) noexcept {
  for (const auto& p : paths) {
    if (p == "." || p.empty()) {
      return true;
    }
    if (path.size() >= p.size() && path.compare(0, p.size(), p) == 0 &&
        (path.size() == p.size() || path[p.size()] == '/')) {
      return true;
    }
  }
  return false;
}

result<plan_result> plan(const rules::rules_file& rules,
                         std::span<const markers::scanned_file> files, const candidate& c,
                         const plan_options& options) {
  plan_result out;
  std::vector<const rules::environment*> targets;
  if (options.environment) {
    const auto* env = rules::find_environment(rules, *options.environment);
    if (env == nullptr) {
      std::string known;
      for (const auto& e : rules.environments) {
        known += (known.empty() ? "" : ", ") + e.name;
      }
      return make_error(
          error_kind::invalid_input,
          "--env " + *options.environment + ": no such environment (the rules name " + known + ")");
    }
    targets.push_back(env);
  } else {
    targets = rules::entry_environments(rules);
  }

  const auto rules_for = rules::rules_for_image(rules, lower(c.image));
  if (rules_for.empty()) {
    out.no_rule_reason = "no rule for image " + c.image;
    return out;
  }
  for (const auto* rule : rules_for) {
    for (const auto* env : targets) {
      if (rules::is_suspended(rules, env->name)) {
        // Only reachable through --env (entry_environments skips suspended ones): the rules
        // refuse changes here, so this is a rejection (exit 3), not "already there".
        environment_plan p;
        p.environment = env;
        p.rule = rule;
        p.status = env_status::rejected;
        p.reason = env->name + " is suspended (suspend: true here or upstream): no pull requests";
        out.environments.push_back(std::move(p));
        continue;
      }
      out.environments.push_back(plan_environment(*rule, *env, files, c, options));
    }
  }
  auto composed = compose(out, files, c);
  if (!composed) {
    return composed.error();
  }
  out.changes = std::move(*composed);
  return out;
}

int exit_code(const plan_result& p) noexcept {
  if (!p.no_rule_reason.empty()) {
    return 3;
  }
  bool any_change = false, any_reject = false, any_digest = false;
  for (const auto& e : p.environments) {
    any_change = any_change || e.status == env_status::change;
    any_reject =
        any_reject || e.status == env_status::rejected || e.status == env_status::compare_commits;
    any_digest = any_digest || e.status == env_status::needs_digest;
  }
  if (any_change) {
    return 0;
  }
  if (any_digest) {
    return 2;
  }
  if (any_reject) {
    return 3;
  }
  return 4;
}

}  // namespace ferry::promotion
