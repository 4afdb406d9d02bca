#include "service/promotion/group_body.hpp"

#include <algorithm>
#include <iterator>
#include <set>

#include "service/limits.hpp"

namespace ferry::promotion {

namespace {

constexpr std::string_view k_row_open = "<!-- ferry-row: ";
constexpr std::string_view k_row_close = " --> |";

bool marker_safe(std::string_view v) noexcept {
  if (v.empty()) {
    return false;
  }
  for (const char c : v) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '>' || c == '|') {
      return false;
    }
  }
  return true;
}

std::string cell(std::string_view text) {
  return markdown_cell(text);
}

std::string code(std::string_view text) {
  return "`" + cell(text) + "`";
}

// A URL as a link target: only when it cannot break the row (no space, '|', ')' or newline).
bool link_safe(std::string_view url) noexcept {
  if (!(url.starts_with("https://") || url.starts_with("http://"))) {
    return false;
  }
  return url.find_first_of(" \t\r\n|()<>") == std::string_view::npos;
}

std::string row_comment(std::string_view env, std::string_view rule, std::string_view image,
                        std::string_view tag) {
  return std::string(k_row_open) + "env=" + std::string(env) + " rule=" + std::string(rule) +
         " image=" + std::string(image) + " tag=" + std::string(tag);
}

// Reads "key=value" after `key` from the fields of a row comment.
std::optional<group_row> parse_row_line(std::string_view line) {
  if (!line.starts_with("| ") || !line.ends_with(k_row_close)) {
    return std::nullopt;
  }
  const auto open = line.rfind(k_row_open);
  if (open == std::string_view::npos) {
    return std::nullopt;
  }
  const auto fields_begin = open + k_row_open.size();
  if (fields_begin > line.size() - k_row_close.size()) {
    return std::nullopt;
  }
  std::string_view fields =
      line.substr(fields_begin, line.size() - k_row_close.size() - fields_begin);
  group_row row;
  constexpr std::string_view keys[] = {"env=", "rule=", "image=", "tag="};
  std::string* values[] = {&row.environment, &row.rule, &row.image, &row.tag};
  for (std::size_t i = 0; i < std::size(keys); ++i) {
    if (!fields.starts_with(keys[i])) {
      return std::nullopt;
    }
    fields.remove_prefix(keys[i].size());
    const auto space = fields.find(' ');
    const std::string_view value = fields.substr(0, space);
    if (!marker_safe(value)) {
      return std::nullopt;
    }
    *values[i] = std::string(value);
    const bool last = i + 1 == std::size(keys);
    if (last != (space == std::string_view::npos)) {
      return std::nullopt;
    }
    if (!last) {
      fields.remove_prefix(space + 1);
    }
  }
  row.text = std::string(line);
  return row;
}

std::string from_cell(std::span<const std::string> values) {
  std::string from;
  for (const auto& v : values) {
    from += (from.empty() ? "" : ", ") + code(v);
  }
  return from.empty() ? "(none)" : from;
}

}  // namespace

std::string markdown_cell(std::string_view text) {
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

std::vector<group_row> parse_group_rows(std::string_view body) {
  std::vector<group_row> out;
  std::set<std::string> keys;
  std::size_t start = 0;
  while (start < body.size() && out.size() < limits::k_group_rows_max) {
    auto end = body.find('\n', start);
    if (end == std::string_view::npos) {
      end = body.size();
    }
    std::string_view line = body.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    start = end + 1;
    if (line.size() > limits::k_group_row_max) {
      continue;
    }
    if (auto row = parse_row_line(line); row && keys.insert(row->rule).second) {
      out.push_back(std::move(*row));
    }
  }
  return out;
}

std::optional<group_row> make_group_row(const group_row_facts& f) {
  if (!marker_safe(f.environment) || !marker_safe(f.rule) || !marker_safe(f.image) ||
      !marker_safe(f.to_tag)) {
    return std::nullopt;
  }
  std::string text = "| " + code(f.image) + " | " + from_cell(f.from_values) + " -> " +
                     code(f.to_tag) + " | " +
                     (f.digest.empty() ? std::string("(unknown)") : code(f.digest)) + " | ";
  if (f.source_commit && !f.source_commit->empty()) {
    const std::string short_sha = code(f.source_commit->substr(0, 12));
    text += link_safe(f.source_repo_url) && marker_safe(*f.source_commit)
                ? "[" + short_sha + "](" + f.source_repo_url + "/commit/" + *f.source_commit + ")"
                : short_sha;
  }
  text += " | ";
  if (link_safe(f.package_url)) {
    text += "[package](" + f.package_url + ")";
  }
  text += " | ";
  text += f.delivery_id.empty() ? std::string("(read from the branch)") : code(f.delivery_id);
  text += " " + row_comment(f.environment, f.rule, f.image, f.to_tag) + std::string(k_row_close);
  if (text.size() > limits::k_group_row_max) {
    return std::nullopt;
  }
  group_row row;
  row.environment = f.environment;
  row.rule = f.rule;
  row.image = f.image;
  row.tag = f.to_tag;
  row.text = std::move(text);
  return row;
}

std::vector<group_row> merge_group_rows(std::span<const group_row> old_rows,
                                        std::span<const group_member> members,
                                        std::span<const group_row> written,
                                        std::string_view environment) {
  auto row_for = [&](const group_member& m) -> std::optional<group_row> {
    const bool changes = !m.branch_values.empty() && m.branch_values != m.from_values;
    if (!changes) {
      return std::nullopt;
    }
    const auto names_value = [&](const group_row& r) {
      return r.rule == m.rule && r.environment == environment &&
             std::find(m.branch_values.begin(), m.branch_values.end(), r.tag) !=
                 m.branch_values.end();
    };
    for (const auto& r : written) {
      if (names_value(r)) {
        return r;
      }
    }
    for (const auto& r : old_rows) {
      if (names_value(r)) {
        return r;
      }
    }
    group_row_facts f;
    f.environment = std::string(environment);
    f.rule = m.rule;
    f.image = m.image;
    f.from_values = m.from_values;
    f.to_tag = m.branch_values.back();
    return make_group_row(f);
  };
  std::vector<group_row> out;
  std::set<std::string> placed;
  // Old rows first, each replaced by what its member needs now (or dropped).
  for (const auto& r : old_rows) {
    for (const auto& m : members) {
      if (m.rule == r.rule && placed.insert(m.rule).second) {
        if (auto row = row_for(m)) {
          out.push_back(std::move(*row));
        }
      }
    }
  }
  for (const auto& m : members) {
    if (placed.insert(m.rule).second) {
      if (auto row = row_for(m)) {
        out.push_back(std::move(*row));
      }
    }
  }
  return out;
}

std::string group_pr_title(std::string_view environment, std::string_view group,
                           std::size_t images) {
  return "ferry: bump " + std::to_string(images) + (images == 1 ? " image" : " images") +
         " of group " + std::string(group) + " in " + std::string(environment);
}

std::string group_pr_body(std::string_view environment, std::string_view group,
                          std::span<const group_row> rows, std::string_view evidence,
                          std::span<const std::string> on_merge) {
  std::string body = "ferry promotes " + std::to_string(rows.size()) + " image" +
                     (rows.size() == 1 ? "" : "s") + " of group " + code(group) + " in **" +
                     cell(environment) +
                     "**: one pull request for the group, where a new publication of an image "
                     "replaces its row.\n\n";
  body += "| image | from -> to | digest | source commit | package | delivery |\n";
  body += "|---|---|---|---|---|---|\n";
  std::string tail;
  if (!evidence.empty()) {
    tail += "\n" + std::string(evidence) + "\n";
  }
  if (!on_merge.empty()) {
    tail += "\n**On merge**\n";
    for (const auto& line : on_merge) {
      tail += "- " + line + "\n";
    }
  }
  const std::string marker =
      "\n<!-- ferry: env=" + std::string(environment) + " group=" + std::string(group) + " -->\n";
  // Room for the note on rows left out (below), whatever its numbers.
  constexpr std::size_t k_note_room = 160;
  const std::size_t reserve = tail.size() + marker.size() + k_note_room;
  std::size_t left_out = 0;
  for (const auto& r : rows) {
    if (left_out > 0 || body.size() + r.text.size() + 1 + reserve > limits::k_pr_body_max) {
      ++left_out;
      continue;
    }
    body += r.text + "\n";
  }
  if (left_out > 0) {
    body += "\n(" + std::to_string(left_out) +
            " more images are on the branch: a pull request body holds at most " +
            std::to_string(limits::k_pr_body_max) + " characters.)\n";
  }
  body += tail;
  body += marker;
  return body;
}

bool group_body_lists(std::string_view body, std::string_view environment, std::string_view image,
                      std::string_view tag) {
  const auto rows = parse_group_rows(body);
  return std::any_of(rows.begin(), rows.end(), [&](const group_row& r) {
    return r.environment == environment && r.image == image && r.tag == tag;
  });
}

}  // namespace ferry::promotion
