#include "service/github/objects.hpp"

#include <openssl/evp.h>
#include <simdjson.h>

#include <utility>

#include "service/github/app_client.hpp"
#include "service/github/json_read.hpp"

namespace ferry::github {

namespace {

using namespace json_read;
using simdjson::dom::element;

pull_request read_pull(element v) {
  pull_request pr;
  pr.number = integer(v, {"number"});
  pr.node_id = text(v, {"node_id"});
  pr.state = text(v, {"state"});
  pr.title = text(v, {"title"});
  pr.body = text(v, {"body"});
  pr.head_ref = text(v, {"head", "ref"});
  pr.head_sha = text(v, {"head", "sha"});
  pr.base_ref = text(v, {"base", "ref"});
  const auto merged_at = at(v, {"merged_at"});
  pr.merged = merged_at && merged_at->is_string();
  pr.labels = names(v, "labels", "name");
  pr.reviewers = names(v, "requested_reviewers", "login");
  pr.teams = names(v, "requested_teams", "slug");
  const auto am = at(v, {"auto_merge"});
  pr.auto_merge = am && am->is_object();
  return pr;
}

// The contents API sends files as base64 in lines of 60 characters (RFC 2045 style);
// OpenSSL's EVP decoder skips the line breaks.
result<std::string> decode_base64(std::string_view encoded) {
  // At most 3 bytes per 4 characters; the slack covers the decoder's 64-character blocks.
  std::string out((encoded.size() / 4 + 1) * 3 + 96, '\0');
  EVP_ENCODE_CTX* ctx = EVP_ENCODE_CTX_new();
  if (ctx == nullptr) {
    return make_error(error_kind::internal, "base64: out of memory");
  }
  EVP_DecodeInit(ctx);
  int n = 0;
  int tail = 0;
  const int updated = EVP_DecodeUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &n,
                                       reinterpret_cast<const unsigned char*>(encoded.data()),
                                       static_cast<int>(encoded.size()));
  const int finished =
      updated < 0 ? -1
                  : EVP_DecodeFinal(ctx, reinterpret_cast<unsigned char*>(out.data()) + n, &tail);
  EVP_ENCODE_CTX_free(ctx);
  if (updated < 0 || finished < 0) {
    return broken("contents", "the file's base64 does not decode");
  }
  out.resize(static_cast<std::size_t>(n + tail));
  return out;
}

bool unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string percent_encode(std::string_view s, bool keep_slash) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += k_hex[b >> 4];
      out += k_hex[b & 0xf];
    }
  }
  return out;
}

}  // namespace

result<repository> parse_repository(std::string_view json) {
  return parse_with(json, "GET repository", [](element v) -> result<repository> {
    repository r{text(v, {"full_name"}), text(v, {"clone_url"}), text(v, {"default_branch"})};
    if (r.clone_url.empty() || r.default_branch.empty()) {
      return broken("GET repository " + r.full_name, "no clone_url or default_branch");
    }
    return r;
  });
}

result<std::string> parse_ref_sha(std::string_view json) {
  return parse_with(json, "GET ref", [](element v) -> result<std::string> {
    std::string sha = text(v, {"object", "sha"});
    if (!is_sha(sha)) {
      return broken("GET ref " + text(v, {"ref"}), "no sha");
    }
    return sha;
  });
}

result<git_commit> parse_git_commit(std::string_view json) {
  return parse_with(json, "GET commit", [](element v) -> result<git_commit> {
    git_commit c;
    c.sha = text(v, {"sha"});
    c.tree_sha = text(v, {"tree", "sha"});
    c.message = text(v, {"message"});
    c.author_name = text(v, {"author", "name"});
    c.verified = boolean(v, {"verification", "verified"});
    if (!is_sha(c.sha) || !is_sha(c.tree_sha)) {
      return broken("GET commit", "no sha or tree");
    }
    return c;
  });
}

result<std::string> parse_created_sha(std::string_view json) {
  return parse_with(json, "created object", [](element v) -> result<std::string> {
    std::string sha = text(v, {"sha"});
    if (!is_sha(sha)) {
      return broken("created object", "no sha");
    }
    return sha;
  });
}

result<std::string> parse_commit_on_branch(std::string_view json) {
  return parse_with(json, "createCommitOnBranch", [](element v) -> result<std::string> {
    std::string sha = text(v, {"data", "createCommitOnBranch", "commit", "oid"});
    if (!is_sha(sha)) {
      return broken("createCommitOnBranch", "no commit oid");
    }
    return sha;
  });
}

result<pull_request> parse_pull(std::string_view json) {
  return parse_with(json, "pull request", [](element v) -> result<pull_request> {
    pull_request pr = read_pull(v);
    if (pr.number <= 0) {
      return broken("pull request", "no number");
    }
    return pr;
  });
}

result<std::vector<pull_request>> parse_pulls(std::string_view json) {
  return parse_list<pull_request>(json, "list pulls", [](element v) -> std::optional<pull_request> {
    pull_request pr = read_pull(v);
    return pr.number > 0 ? std::optional<pull_request>(std::move(pr)) : std::nullopt;
  });
}

result<std::vector<commit_status>> parse_statuses(std::string_view json) {
  return parse_list<commit_status>(json, "list statuses", [](element v) {
    return std::optional<commit_status>(
        commit_status{text(v, {"context"}), text(v, {"state"}), text(v, {"description"}),
                      text(v, {"created_at"}), text(v, {"target_url"})});
  });
}

result<std::vector<check_run>> parse_check_runs(std::string_view json) {
  return parse_with(json, "list check runs", [](element v) -> result<std::vector<check_run>> {
    simdjson::dom::array runs;
    if (v["check_runs"].get(runs) != simdjson::SUCCESS) {
      return broken("list check runs", "no check_runs");
    }
    std::vector<check_run> out;
    for (auto r : runs) {
      out.push_back(check_run{text(r, {"name"}), text(r, {"status"}), text(r, {"conclusion"}),
                              text(r, {"html_url"})});
    }
    return out;
  });
}

result<comparison> parse_comparison(std::string_view json) {
  return parse_with(json, "compare", [](element v) -> result<comparison> {
    comparison c{text(v, {"status"}),
                 integer(v, {"ahead_by"}),
                 integer(v, {"behind_by"}),
                 {},
                 integer(v, {"total_commits"})};
    simdjson::dom::array commits;
    if (v["commits"].get(commits) == simdjson::SUCCESS) {
      for (element e : commits) {
        std::string message = text(e, {"commit", "message"});
        message = message.substr(0, message.find('\n'));
        c.commits.push_back({text(e, {"sha"}), std::move(message)});
      }
    }
    return c;
  });
}

result<release> parse_release(std::string_view json) {
  return parse_with(json, "release", [](element v) -> result<release> {
    return release{text(v, {"name"}), text(v, {"body"}), text(v, {"html_url"})};
  });
}

result<std::vector<pull_file>> parse_pull_files(std::string_view json) {
  return parse_list<pull_file>(json, "list pull request files", [](element v) {
    return std::optional<pull_file>(
        pull_file{text(v, {"filename"}), text(v, {"status"}), text(v, {"previous_filename"})});
  });
}

result<std::vector<issue_comment>> parse_comments(std::string_view json) {
  return parse_list<issue_comment>(json, "list comments", [](element v) {
    return std::optional<issue_comment>(issue_comment{integer(v, {"id"}), text(v, {"body"})});
  });
}

result<std::vector<std::string>> parse_commit_shas(std::string_view json) {
  return parse_list<std::string>(json, "list commits", [](element v) -> std::optional<std::string> {
    std::string sha = text(v, {"sha"});
    return is_sha(sha) ? std::optional<std::string>(std::move(sha)) : std::nullopt;
  });
}

result<std::string> parse_file_content(std::string_view json) {
  return parse_with(json, "get contents", [](element v) -> result<std::string> {
    if (!v.is_object()) {
      return make_error(error_kind::invalid_input, "get contents: not a file (a directory?)");
    }
    if (text(v, {"encoding"}) != "base64") {
      return broken("get contents", "the contents API did not send base64");
    }
    return decode_base64(text(v, {"content"}));
  });
}

result<std::vector<hook_delivery>> parse_hook_deliveries(std::string_view json) {
  return parse_list<hook_delivery>(
      json, "GET /app/hook/deliveries", [](element v) -> std::optional<hook_delivery> {
        hook_delivery d;
        d.id = integer(v, {"id"});
        d.guid = text(v, {"guid"});
        d.status_code = integer(v, {"status_code"});  // null: no answer at all -> 0
        const auto when = parse_github_time(text(v, {"delivered_at"}));
        if (d.id == 0 || d.guid.empty() || !when) {
          return std::nullopt;
        }
        d.delivered_at = *when;
        return d;
      });
}

std::string escape_segment(std::string_view text) {
  return percent_encode(text, false);
}

std::string escape_path(std::string_view text) {
  return percent_encode(text, true);
}

std::string escape_query(std::string_view text) {
  return percent_encode(text, false);
}

std::string repo_path(const service::repo_name& repo, std::string_view rest) {
  return "/repos/" + escape_segment(repo.owner) + "/" + escape_segment(repo.name) +
         std::string(rest);
}

}  // namespace ferry::github
