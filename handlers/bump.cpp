#include "handlers/bump.hpp"

#include <algorithm>
#include <variant>

#include "service/limits.hpp"
#include "service/promotion/group_body.hpp"

namespace ferry::handlers {

namespace {

std::string short_sha(std::string_view sha) {
  return std::string(sha.substr(0, 12));
}

// At most `max` bytes, cut at a UTF-8 character boundary, with "…" when cut.
std::string cut(std::string_view text, std::size_t max) {
  if (text.size() <= max) {
    return std::string(text);
  }
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) {
    --n;
  }
  return std::string(text.substr(0, n)) + "\u2026";
}

// "@name" would notify name: a zero-width space after every '@' keeps the text and the silence.
std::string no_mentions(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    out += c;
    if (c == '@') {
      out += "\u200b";
    }
  }
  return out;
}

}  // namespace

std::string table_cell(std::string_view text) {
  return promotion::markdown_cell(text);
}

namespace {

constexpr std::string_view k_marker_open = "<!-- ferry: ";
constexpr std::string_view k_marker_close = " -->";

bool marker_safe(std::string_view v) noexcept {
  if (v.empty()) {
    return false;
  }
  for (const char c : v) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '>') {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string pr_marker(std::string_view environment, std::string_view image, std::string_view tag) {
  if (!marker_safe(environment) || !marker_safe(image) || !marker_safe(tag)) {
    return {};
  }
  return std::string(k_marker_open) + "env=" + std::string(environment) +
         " image=" + std::string(image) + " tag=" + std::string(tag) + std::string(k_marker_close);
}

bool pr_marker_matches(std::string_view body, std::string_view environment, std::string_view image,
                       std::string_view tag) {
  const std::string want = pr_marker(environment, image, tag);
  if (want.empty()) {
    return false;
  }
  const auto at = body.rfind(k_marker_open);
  if (at == std::string_view::npos) {
    return false;
  }
  const auto end = body.find(k_marker_close, at);
  if (end == std::string_view::npos) {
    return false;
  }
  return body.substr(at, end + k_marker_close.size() - at) == want;
}

std::string pr_title(const bump_facts& f) {
  return "ferry: bump " + f.rule_name + " to " + f.to_tag + " in " + f.environment;
}

std::string pr_body(const bump_facts& f) {
  std::string from;
  for (const auto& v : f.from_values) {
    from += (from.empty() ? "" : ", ") + ("`" + table_cell(v) + "`");
  }
  if (from.empty()) {
    from = "(none)";
  }
  std::string body = "ferry promotes `" + table_cell(f.image) + "` in **" +
                     table_cell(f.environment) + "**.\n\n| | |\n|---|---|\n";
  body += "| image | `" + table_cell(f.image) + "` |\n";
  body += "| from -> to | " + from + " -> `" + table_cell(f.to_tag) + "` |\n";
  body +=
      "| digest | " + (f.digest.empty() ? std::string("(unknown)") : "`" + f.digest + "`") + " |\n";
  if (!f.package_url.empty()) {
    body += "| package | [" + table_cell(f.image) + "](" + f.package_url + ") |\n";
  }
  if (f.source_commit) {
    std::string cell = "`" + short_sha(*f.source_commit) + "`";
    if (!f.source_repo_url.empty()) {
      cell = "[" + cell + "](" + f.source_repo_url + "/commit/" + *f.source_commit + ")";
    }
    body += "| source commit | " + cell + " |\n";
    if (f.current_commit && !f.source_repo_url.empty()) {
      body += "| compare | [" + short_sha(*f.current_commit) + "..." + short_sha(*f.source_commit) +
              "](" + f.source_repo_url + "/compare/" + *f.current_commit + "..." +
              *f.source_commit + ") |\n";
    }
  }
  body += "| delivery | `" + table_cell(f.delivery_id) + "` |\n";
  if (!f.note.empty()) {
    body += "\n" + f.note + "\n";
  }
  if (!f.evidence.empty()) {
    body += "\n" + f.evidence + "\n";
  }
  std::vector<std::string> sections;
  if (!f.why.empty()) {
    std::string s = "\n**Why this PR**\n";
    for (const auto& line : f.why) {
      s += "- " + line + "\n";
    }
    sections.push_back(std::move(s));
  }
  if (!f.on_merge.empty()) {
    std::string s = "\n**On merge**\n";
    for (const auto& line : f.on_merge) {
      s += "- " + line + "\n";
    }
    sections.push_back(std::move(s));
  }
  if (!f.source_commits.empty()) {
    const auto total = std::max<std::int64_t>(f.source_commits_total,
                                              static_cast<std::int64_t>(f.source_commits.size()));
    std::string s = "\n**Source commits** (" + std::to_string(total) + ", oldest first)\n";
    std::size_t shown = 0;
    for (const auto& c : f.source_commits) {
      if (shown == limits::k_pr_source_commits_max) {
        break;
      }
      std::string line = "`" + short_sha(c.sha) + "`";
      if (!f.source_repo_url.empty()) {
        line = "[" + line + "](" + f.source_repo_url + "/commit/" + c.sha + ")";
      }
      s += "- " + line + " " + no_mentions(cut(table_cell(c.headline), limits::k_pr_headline_max)) +
           "\n";
      ++shown;
    }
    if (static_cast<std::int64_t>(shown) < total) {
      s += "- and " + std::to_string(total - static_cast<std::int64_t>(shown)) + " more";
      if (f.current_commit && f.source_commit && !f.source_repo_url.empty()) {
        s += ": [compare](" + f.source_repo_url + "/compare/" + *f.current_commit + "..." +
             *f.source_commit + ")";
      }
      s += "\n";
    }
    sections.push_back(std::move(s));
  }
  if (!f.release_notes.empty() || !f.release_url.empty()) {
    std::string s = "\n**Release " + no_mentions(table_cell(f.release_name)) + "**";
    if (!f.release_url.empty()) {
      s += " ([on GitHub](" + f.release_url + "))";
    }
    s += "\n\n";
    const std::string notes = cut(f.release_notes, limits::k_pr_release_notes_max);
    std::size_t start = 0;
    while (start < notes.size()) {
      const auto end = notes.find('\n', start);
      s += "> " +
           no_mentions(
               notes.substr(start, end == std::string::npos ? std::string::npos : end - start)) +
           "\n";
      start = end == std::string::npos ? notes.size() : end + 1;
    }
    sections.push_back(std::move(s));
  }
  const std::string marker = pr_marker(f.environment, f.image, f.to_tag);
  const std::string cut_note =
      "\n(Some sections were left out: a pull request body holds at most " +
      std::to_string(limits::k_pr_body_max) + " characters.)\n";
  bool left_out = false;
  for (const auto& s : sections) {
    if (body.size() + s.size() + cut_note.size() + marker.size() + 2 > limits::k_pr_body_max) {
      left_out = true;
      continue;
    }
    body += s;
  }
  if (left_out) {
    body += cut_note;
  }
  if (!marker.empty()) {
    body += "\n" + marker + "\n";
  }
  return body;
}

std::string commit_message(const bump_facts& f) {
  std::string m = pr_title(f) + "\n";
  if (f.source_commit) {
    m += "\n" + std::string(k_source_commit_trailer) + ": " + *f.source_commit + "\n";
  }
  return m;
}

std::optional<std::string> source_commit_from_message(std::string_view message) {
  const std::string needle = "\n" + std::string(k_source_commit_trailer) + ": ";
  const auto at = message.rfind(needle);
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view value = message.substr(at + needle.size());
  value = value.substr(0, value.find_first_of("\r\n"));
  while (!value.empty() && value.back() == ' ') {
    value.remove_suffix(1);
  }
  if (value.size() < 7 || value.size() > 40) {
    return std::nullopt;
  }
  for (const char c : value) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return std::nullopt;
    }
  }
  return std::string(value);
}

bool is_ferry_head(const head_commit_facts& c, std::optional<std::string_view> app_slug) {
  if (!c.verified) {
    return false;
  }
  if (app_slug) {
    return c.author_name == std::string(*app_slug) + "[bot]";
  }
  // Trailers sit at the start of a line in the message's last paragraph (git interpret-trailers).
  for (const auto trailer : {k_source_commit_trailer, k_onboard_source_trailer, k_group_trailer}) {
    if (c.message.find("\n" + std::string(trailer) + ": ") != std::string::npos) {
      return true;
    }
  }
  return false;
}

bool is_clean_status_error(std::string_view message) noexcept {
  return message.find("clean status") != std::string_view::npos;
}

bool needs_commit_compare(const rules::tag_policy& policy, std::span<const std::string> head_values,
                          std::span<const std::string> pr_values) {
  if (!std::holds_alternative<rules::newest_policy>(policy.kind)) {
    return false;
  }
  std::vector<std::string> running(head_values.begin(), head_values.end());
  running.insert(running.end(), pr_values.begin(), pr_values.end());
  const auto top = rules::highest(policy, running);
  return top.ambiguous || top.value.has_value();
}

// Why the candidate replaces each value, for the PR body (the `newest` policy's compare adds
// its own lines in newest_allows).
void explain(bump_facts& facts, const rules::image_rule& rule,
             std::span<const std::string> head_values, std::span<const std::string> pr_values) {
  const auto& kind = rule.policy.kind;
  for (const auto& v : head_values) {
    if (v == facts.to_tag) {
      continue;
    }
    std::string why = "`" + table_cell(v) + "` -> `" + table_cell(facts.to_tag) + "`: ";
    if (const auto* semver = std::get_if<rules::semver_policy>(&kind)) {
      why += "a higher version within `" + table_cell(semver->range.text()) + "` (`semver` policy)";
    } else if (const auto* a = std::get_if<rules::alphabetical_policy>(&kind)) {
      why += std::string("next in ") +
             (a->order == rules::sort_order::asc ? "ascending" : "descending") +
             " alphabetical order (`alphabetical` policy)";
    } else if (const auto* n = std::get_if<rules::numerical_policy>(&kind)) {
      why += std::string("next in ") +
             (n->order == rules::sort_order::asc ? "ascending" : "descending") +
             " numerical order (`numerical` policy)";
    } else {
      continue;  // `newest`: newest_allows says why, from the compare
    }
    facts.why.push_back(std::move(why));
  }
  for (const auto& v : pr_values) {
    if (v != facts.to_tag) {
      facts.why.push_back("supersedes `" + table_cell(v) + "`, which this pull request carried");
    }
  }
}

// What merging sets off (SPEC "Apply, and the promotion chain"), for the PR body.
std::vector<std::string> merge_consequences(const rules::rules_file& rules,
                                            const rules::environment& env) {
  std::vector<std::string> out;
  const std::string e = "`" + table_cell(env.name) + "`";
  if (!env.apply) {
    out.push_back(e +
                  " has no `apply`: your GitOps controller applies the merge on its own "
                  "schedule, and nothing is promoted after it");
    return out;
  }
  if (const auto* flux = std::get_if<rules::apply_flux>(&env.apply->target)) {
    out.push_back(e + " is applied at once: Flux " + table_cell(flux->kind) + " `" +
                  table_cell(flux->namespace_name) + "/" + table_cell(flux->name) +
                  "` reconciles at the merge commit (status `ferry/apply/" + table_cell(env.name) +
                  "`)");
  } else if (const auto* job = std::get_if<rules::apply_job>(&env.apply->target)) {
    out.push_back(e + " is applied at once: a Job from `" + table_cell(job->template_path) +
                  "` runs in `" + table_cell(job->namespace_name) + "` (status `ferry/apply/" +
                  table_cell(env.name) + "`)");
  } else if (const auto* argocd = std::get_if<rules::apply_argocd>(&env.apply->target)) {
    out.push_back(e + " is applied at once: Argo CD Application `" +
                  table_cell(argocd->namespace_name) + "/" + table_cell(argocd->application) +
                  (argocd->sync ? "` is refreshed and synced at the merge commit"
                                : "` is refreshed (its automated sync applies the merge)") +
                  " (status `ferry/apply/" + table_cell(env.name) + "`)");
  } else if (const auto* fleet = std::get_if<rules::apply_fleet>(&env.apply->target)) {
    out.push_back(e + " is applied at once: Fleet GitRepo `" + table_cell(fleet->namespace_name) +
                  "/" + table_cell(fleet->git_repo) +
                  "` is forced to sync the merge commit (status `ferry/apply/" +
                  table_cell(env.name) + "`)");
  }
  for (const auto& next : rules.environments) {
    if (next.promote_from && *next.promote_from == env.name) {
      out.push_back(next.suspend ? "`" + table_cell(next.name) +
                                       "` follows it but is suspended: no promotion PR"
                                 : "when that apply succeeds, `" + table_cell(next.name) +
                                       "` gets its promotion pull request");
    }
  }
  return out;
}

}  // namespace ferry::handlers
