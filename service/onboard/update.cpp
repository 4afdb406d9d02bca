#include "service/onboard/update.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include "service/limits.hpp"
#include "service/onboard/onboard.hpp"
#include "service/onboard/ownership.hpp"
#include "service/rules/rules.hpp"

namespace ferry::onboard {

namespace {

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Text from a compose file inside a fenced block: a fence in it would end the block early.
std::string fenced(std::string_view text) {
  std::string out(text);
  for (auto at = out.find("```"); at != std::string::npos; at = out.find("```", at)) {
    out.replace(at, 3, "'''");
  }
  return out;
}

}  // namespace

std::string record_path(std::string_view app) {
  return ".github/ferry-onboard/" + std::string(app) + ".json";
}

result<update_plan> plan_update(const update_request& req, const tree_reader& read) {
  update_plan plan;
  auto rules_text = read(req.rules_path);
  if (!rules_text) {
    return rules_text.error();
  }
  if (!*rules_text) {
    return make_error(error_kind::not_found, req.rules_path + ": no rules file");
  }
  const std::string& rules_now = **rules_text;
  const auto parsed = rules::parse_rules(rules_now, req.rules_path);
  if (!parsed.ok()) {
    return make_error(error_kind::invalid_input, parsed.report());
  }
  options base;
  base.app = req.app;
  base.envs.clear();
  for (const auto& env : parsed.value().environments) {
    base.envs.push_back(env.name);
  }
  if (base.envs.empty()) {
    base.envs = {"staging", "production"};
  }
  base.compose_name = std::filesystem::path(req.compose_path).filename().string();
  auto opts = options_from_rules(rules_now, req.rules_path, base);
  if (!opts) {
    return opts.error();
  }
  auto conv = convert_text(req.compose_text, *opts);
  if (!conv) {
    return make_error(error_kind::invalid_input, req.compose_path + ": " + conv.error().message);
  }
  plan.log = conv->log;

  const std::string rec_path = record_path(req.app);
  auto rec_text = read(rec_path);
  if (!rec_text) {
    return rec_text.error();
  }
  ownership_record previous;
  if (*rec_text) {
    auto r = read_record(**rec_text, rec_path);
    if (!r) {
      return r.error();
    }
    previous = std::move(*r);
  }
  ownership_record next;
  next.app = req.app;
  next.source = req.source_repo;
  next.compose = req.compose_path;
  next.commit = req.source_commit;

  auto change = [&plan](const std::string& path, const std::optional<std::string>& old,
                        std::string content) {
    plan.written.push_back(path + (old ? " (updated)" : " (new)"));
    plan.changes.push_back({path, old.value_or(std::string()), std::move(content)});
  };

  for (const auto& f : conv->files) {
    auto current = read(f.path);
    if (!current) {
      return current.error();
    }
    std::optional<recorded_file> was;
    if (auto it = previous.files.find(f.path); it != previous.files.end()) {
      was = it->second;
    }
    auto merged = merge_generated(was, *current, f.content);
    for (auto& l : merged.left_alone) {
      plan.left_alone.push_back(f.path + ": " + l);
    }
    // A file that was there before ferry and is not ferry's stays out of the record, so it
    // stays the person's.
    const bool not_ours = !was && *current && **current != f.content;
    if (!not_ours) {
      next.files[f.path] = record_of(f.content);
    }
    if (merged.content && merged.content != *current) {
      change(f.path, *current, std::move(*merged.content));
    }
  }

  // The image rules: added once; a rule a person removed since stays removed.
  std::set<std::string> rules_there;
  for (const auto& rule : parsed.value().images) {
    rules_there.insert(rule.name);
  }
  conversion for_rules = *conv;
  for_rules.rules.clear();
  for (const auto& rule : conv->rules) {
    const std::string entry = req.rules_path + ": rule " + rule.name;
    next.spliced.push_back(entry);
    if (contains(previous.spliced, entry) && rules_there.count(rule.name) == 0) {
      plan.left_alone.push_back(entry + " (removed in the infra repository: stays removed)");
      continue;
    }
    for_rules.rules.push_back(rule);
  }
  std::vector<std::string> rules_log;
  auto new_rules = add_image_rules(rules_now, for_rules, *opts, rules_log);
  if (!new_rules) {
    return new_rules.error();
  }
  if (*new_rules != rules_now) {
    const auto check = rules::parse_rules(*new_rules, req.rules_path);
    if (!check.ok()) {
      return make_error(error_kind::invalid_input,
                        "the rules file with the new rules would be invalid: " + check.report());
    }
    change(req.rules_path, rules_now, *new_rules);
  }
  plan.log.insert(plan.log.end(), rules_log.begin(), rules_log.end());

  // Each overlay under an environment's path is listed in that path's kustomization, once.
  for (const auto& [env, dir] : opts->overlay_dirs) {
    const auto kpath =
        (std::filesystem::path(dir).parent_path() / "kustomization.yaml").generic_string();
    auto k = read(kpath);
    if (!k) {
      return k.error();
    }
    if (!*k) {
      continue;
    }
    const std::string entry = kpath + ": resource " + req.app;
    next.spliced.push_back(entry);
    auto updated = add_kustomize_resource(**k, req.app);
    if (!updated) {
      continue;
    }
    if (contains(previous.spliced, entry)) {
      plan.left_alone.push_back(entry + " (removed in the infra repository: stays removed)");
      continue;
    }
    change(kpath, *k, std::move(*updated));
    plan.log.push_back(env + ": " + kpath + ": " + req.app + " added to resources");
  }

  if (plan.changes.empty()) {
    return plan;
  }
  std::sort(next.spliced.begin(), next.spliced.end());
  next.spliced.erase(std::unique(next.spliced.begin(), next.spliced.end()), next.spliced.end());
  std::string record = write_record(next);
  if (record != rec_text->value_or(std::string())) {
    change(rec_path, *rec_text, std::move(record));
  }
  std::sort(plan.changes.begin(), plan.changes.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  std::sort(plan.written.begin(), plan.written.end());
  return plan;
}

std::string update_title(const update_request& req) {
  return "ferry: onboard " + req.app + " from " + req.source_repo + "@" +
         req.source_commit.substr(0, 7);
}

std::string update_body(const update_request& req, const update_plan& plan,
                        std::string_view source_html_url, std::string_view delivery_id) {
  const std::string short_sha = req.source_commit.substr(0, 7);
  std::string body = "ferry converted `" + req.compose_path + "` of ";
  if (!source_html_url.empty()) {
    body += "[" + req.source_repo + "@" + short_sha + "](" + std::string(source_html_url) +
            "/commit/" + req.source_commit + ")";
  } else {
    body += req.source_repo + "@" + short_sha;
  }
  body += " into the layout of this repository for app **" + req.app +
          "**. Nothing is applied until this pull request is merged; a later push to the compose "
          "file updates it.\n\n";
  body += "### Files written\n\n";
  for (const auto& w : plan.written) {
    body += "- `" + w.substr(0, w.find(' ')) + "`" + w.substr(w.find(' ')) + "\n";
  }
  body += "\n### Left alone\n\n";
  if (plan.left_alone.empty()) {
    body += "Nothing: no field ferry wrote before was changed here since.\n";
  } else {
    body += "Changed in this repository since ferry wrote it, so kept as it is:\n\n";
    for (const auto& l : plan.left_alone) {
      body += "- " + fenced(l) + "\n";
    }
  }
  std::string log = "\n### Conversion log\n\n```text\n";
  for (const auto& l : plan.log) {
    log += fenced(l) + "\n";
  }
  log += "```\n";
  const std::string tail = "\nDelivery: `" + std::string(delivery_id) +
                           "`\n\n<!-- ferry: onboard app=" + req.app +
                           " source=" + req.source_repo + " commit=" + req.source_commit + " -->\n";
  if (body.size() + log.size() + tail.size() > limits::k_pr_body_max) {
    log = "\n### Conversion log\n\nLeft out: too long for a pull request body.\n";
  }
  if (body.size() + log.size() + tail.size() > limits::k_pr_body_max) {
    body.resize(limits::k_pr_body_max - log.size() - tail.size() - 32);
    body += "\n\n(cut: too long)\n";
  }
  return body + log + tail;
}

}  // namespace ferry::onboard
