#include "handlers/infra_repo.hpp"

#include <simdjson.h>
#include <boost/json.hpp>

#include <algorithm>
#include <map>

#include "handlers/blocking.hpp"
#include "service/apply/environments.hpp"
#include "service/git/mirror.hpp"
#include "service/utf8.hpp"

namespace ferry::handlers {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using boost::beast::http::verb;

// API answers are parsed with simdjson (SPEC "Dependencies"); what is kept is copied out
// before the parser goes.
result<simdjson::dom::element> parse_answer(simdjson::dom::parser& parser, const std::string& body,
                                            std::string_view what) {
  auto doc = parser.parse(body);
  if (doc.error() != simdjson::SUCCESS) {
    return make_error(error_kind::transient, std::string(what) + ": the answer is not JSON");
  }
  return doc.value_unsafe();
}

std::string text_at(simdjson::dom::element e, std::string_view pointer) {
  auto v = e.at_pointer(pointer);
  if (v.error() != simdjson::SUCCESS || !v.value_unsafe().is_string()) {
    return {};
  }
  return std::string(v.value_unsafe().get_string().value_unsafe());
}

}  // namespace

asio::awaitable<result<infra_repo>> infra_repo::open(const handler_settings& s,
                                                     service::repo_name repo,
                                                     std::optional<std::int64_t> installation,
                                                     std::string clone_url,
                                                     std::string default_branch) {
  infra_repo r(s, std::move(repo));
  if (s.github == nullptr || s.mirrors == nullptr) {
    co_return make_error(error_kind::internal, "no GitHub client configured");
  }
  if (installation && *installation > 0) {
    r.installation_ = *installation;
  } else {
    auto inst = co_await s.github->installation_for_repo(r.repo_.owner, r.repo_.name);
    if (!inst) {
      co_return inst.error();
    }
    r.installation_ = *inst;
  }
  if (clone_url.empty() || default_branch.empty()) {
    auto got = co_await s.github->rest(verb::get, r.path(""), std::nullopt, r.installation_);
    if (!got) {
      co_return got.error();
    }
    simdjson::dom::parser parser;
    auto doc = parse_answer(parser, got->body, "GET repository");
    if (!doc) {
      co_return doc.error();
    }
    clone_url = text_at(*doc, "/clone_url");
    default_branch = text_at(*doc, "/default_branch");
  }
  if (clone_url.empty() || default_branch.empty()) {
    co_return make_error(error_kind::transient,
                         "GET repository " + r.repo_.full() + ": no clone_url or default_branch");
  }
  r.clone_url_ = std::move(clone_url);
  r.default_branch_ = std::move(default_branch);
  auto m = s.mirrors->open(r.repo_.owner, r.repo_.name);
  if (!m) {
    co_return m.error();
  }
  r.mirror_ = *m;
  co_return r;
}

std::string infra_repo::path(std::string_view rest) const {
  return "/repos/" + repo_.owner + "/" + repo_.name + std::string(rest);
}

asio::awaitable<result<git::credentials>> infra_repo::credentials() {
  auto token = co_await s_->github->installation_token(installation_);
  if (!token) {
    co_return token.error();
  }
  co_return git::credentials{std::move(*token)};
}

asio::awaitable<result<void>> infra_repo::fetch(std::string sha) {
  auto creds = co_await credentials();
  if (!creds) {
    co_return creds.error();
  }
  auto fetched = co_await blocking(s_->pool, [&]() -> result<void> {
    auto got = mirror_->fetch(clone_url_, sha, *creds);
    if (!got) {
      return got.error();
    }
    return ok_v;
  });
  co_return fetched;
}

asio::awaitable<result<std::string>> infra_repo::fetch_default_head() {
  auto creds = co_await credentials();
  if (!creds) {
    co_return creds.error();
  }
  co_return co_await blocking(
      s_->pool, [&]() { return mirror_->fetch(clone_url_, default_branch_, *creds); });
}

asio::awaitable<result<rules::parse_outcome>> infra_repo::rules_at(std::string sha) {
  auto fetched = co_await fetch(sha);
  if (!fetched) {
    co_return fetched.error();
  }
  auto text =
      co_await blocking(s_->pool, [&]() { return mirror_->read_file(sha, s_->rules_path); });
  if (!text) {
    co_return text.error();
  }
  co_return rules::parse_rules(*text, s_->rules_path);
}

asio::awaitable<result<std::vector<markers::scanned_file>>> infra_repo::marker_files(
    std::string sha, std::vector<std::string> prefixes) {
  co_return co_await blocking(s_->pool, [&]() -> result<std::vector<markers::scanned_file>> {
    std::vector<markers::scanned_file> out;
    auto walked =
        mirror_->for_each_file(sha, prefixes, [&](std::string_view path, std::string_view content) {
          if (!markers::may_contain_marker(content)) {
            return true;
          }
          auto scanned = markers::scan_file(path, content);
          if (scanned) {
            out.push_back({std::string(path), std::string(content), std::move(scanned->markers)});
          }
          return true;
        });
    if (!walked) {
      return walked.error();
    }
    return out;
  });
}

asio::awaitable<result<std::vector<std::string>>> infra_repo::changed_paths(std::string before,
                                                                            std::string after) {
  co_return co_await blocking(s_->pool, [&]() { return mirror_->changed_paths(before, after); });
}

asio::awaitable<result<bool>> infra_repo::is_descendant(std::string commit, std::string ancestor) {
  auto present = mirror_->resolve(commit);
  if (!present) {
    // The revision Flux applied may be newer than anything ferry fetched.
    auto fetched = co_await fetch(commit);
    if (!fetched) {
      co_return fetched.error();
    }
  }
  co_return co_await blocking(s_->pool, [&]() { return mirror_->is_descendant(commit, ancestor); });
}

asio::awaitable<result<std::string>> infra_repo::read_file(std::string sha, std::string path) {
  co_return co_await blocking(s_->pool, [&]() { return mirror_->read_file(sha, path); });
}

asio::awaitable<result<void>> infra_repo::status(std::string_view sha, std::string_view context,
                                                 std::string_view state,
                                                 std::string_view description) {
  // Built outside the co_await: GCC 12 cannot keep a braced list across it.
  json::value body =
      json::value{{"state", state},
                  {"context", context},
                  {"description", apply::status_description(service::to_valid_utf8(description))}};
  auto posted = co_await s_->github->rest(verb::post, path("/statuses/" + std::string(sha)),
                                          std::move(body), installation_);
  if (!posted) {
    co_return posted.error();
  }
  co_return ok_v;
}

asio::awaitable<result<void>> infra_repo::comment(std::int64_t number, std::string text) {
  // A comment quotes pod logs and Flux messages: any bytes; GitHub takes only UTF-8 JSON.
  json::value body = json::value{{"body", service::to_valid_utf8(text)}};
  auto posted =
      co_await s_->github->rest(verb::post, path("/issues/" + std::to_string(number) + "/comments"),
                                std::move(body), installation_);
  if (!posted) {
    co_return posted.error();
  }
  co_return ok_v;
}

asio::awaitable<result<std::optional<std::int64_t>>> infra_repo::merged_pr_for(
    std::string_view sha) {
  auto got = co_await s_->github->rest(verb::get, path("/commits/" + std::string(sha) + "/pulls"),
                                       std::nullopt, installation_);
  if (!got) {
    co_return got.error();
  }
  simdjson::dom::parser parser;
  auto doc = parse_answer(parser, got->body, "list pulls of a commit");
  if (!doc) {
    co_return doc.error();
  }
  simdjson::dom::array prs;
  if (doc->get_array().get(prs) != simdjson::SUCCESS) {
    co_return std::optional<std::int64_t>{};
  }
  for (auto pr : prs) {
    auto merged_at = pr.at_key("merged_at");
    const bool merged =
        merged_at.error() == simdjson::SUCCESS && merged_at.value_unsafe().is_string();
    std::int64_t number = 0;
    if (merged && pr.at_key("number").get_int64().get(number) == simdjson::SUCCESS) {
      co_return std::optional<std::int64_t>(number);
    }
  }
  co_return std::optional<std::int64_t>{};
}

asio::awaitable<result<std::vector<std::pair<std::string, std::string>>>>
infra_repo::apply_statuses(std::string_view sha) {
  auto pages = co_await s_->github->rest_pages(
      path("/commits/" + std::string(sha) + "/statuses?per_page=100"), installation_, 3);
  if (!pages) {
    co_return pages.error();
  }
  // Newest first (GitHub's order): the first state seen per context is the latest.
  std::map<std::string, std::string> latest;
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& page : *pages) {
    simdjson::dom::parser parser;
    auto doc = parse_answer(parser, page.body, "list statuses");
    if (!doc) {
      co_return doc.error();
    }
    simdjson::dom::array statuses;
    if (doc->get_array().get(statuses) != simdjson::SUCCESS) {
      continue;
    }
    for (auto st : statuses) {
      std::string context = text_at(st, "/context");
      if (!context.starts_with("ferry/apply/") || latest.count(context) != 0) {
        continue;
      }
      std::string state = text_at(st, "/state");
      latest.emplace(context, state);
      out.emplace_back(std::move(context), std::move(state));
    }
  }
  co_return out;
}

asio::awaitable<result<std::vector<std::string>>> infra_repo::recent_commits(int n) {
  auto got = co_await s_->github->rest(
      verb::get, path("/commits?sha=" + default_branch_ + "&per_page=" + std::to_string(n)),
      std::nullopt, installation_);
  if (!got) {
    co_return got.error();
  }
  simdjson::dom::parser parser;
  auto doc = parse_answer(parser, got->body, "list commits");
  if (!doc) {
    co_return doc.error();
  }
  std::vector<std::string> out;
  simdjson::dom::array commits;
  if (doc->get_array().get(commits) == simdjson::SUCCESS) {
    for (auto c : commits) {
      std::string sha = text_at(c, "/sha");
      if (sha.size() == 40) {
        out.push_back(std::move(sha));
      }
    }
  }
  co_return out;
}

}  // namespace ferry::handlers
