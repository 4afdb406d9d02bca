#include "handlers/bump.hpp"

#include <variant>

namespace ferry::handlers {

namespace {

std::string short_sha(std::string_view sha) {
  return std::string(sha.substr(0, 12));
}

}  // namespace

std::string table_cell(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
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
  if (const std::string marker = pr_marker(f.environment, f.image, f.to_tag); !marker.empty()) {
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
  const std::string needle = "\n" + std::string(k_source_commit_trailer) + ": ";
  return c.message.find(needle) != std::string::npos;
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

}  // namespace ferry::handlers
