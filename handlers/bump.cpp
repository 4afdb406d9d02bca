#include "handlers/bump.hpp"

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
  return body;
}

std::string commit_message(const bump_facts& f) {
  std::string m = pr_title(f) + "\n";
  if (f.source_commit) {
    m += "\n" + std::string(k_source_commit_trailer) + ": " + *f.source_commit + "\n";
  }
  return m;
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

}  // namespace ferry::handlers
