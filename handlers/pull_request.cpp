// The pull_request flow (SPEC "Behaviour by event", pull_request): a merged ferry PR gets its
// branch deleted when ferry wrote the branch's head (a person's head is left alone, with a
// comment saying why); a PR that touches the rules file gets `ferry/rules` on its head and, when
// the file is invalid, a comment listing every error. The decisions are pure functions in
// pull_request_decision.hpp and bump.hpp; this file sequences the calls.
#include <openssl/evp.h>

#include <boost/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "handlers/bump.hpp"
#include "handlers/handlers.hpp"
#include "handlers/pull_request_decision.hpp"
#include "service/limits.hpp"

namespace ferry::handlers {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using boost::beast::http::verb;

// The value at a JSON pointer ("/head/sha"), or nullptr.
const json::value* find(const json::value& v, std::string_view pointer) {
  boost::system::error_code ec;
  return v.find_pointer(pointer, ec);
}

std::string text_at(const json::value& v, std::string_view pointer) {
  const auto* x = find(v, pointer);
  return x != nullptr && x->is_string() ? std::string(x->as_string()) : std::string();
}

result<json::value> parse_json(const github::http_response& r, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec) {
    return make_error(error_kind::transient, std::string(what) + ": the answer is not JSON");
  }
  return v;
}

// The contents API sends files as base64 in lines of 60 characters (RFC 2045 style);
// OpenSSL's EVP decoder skips the line breaks.
result<std::string> decode_base64(std::string_view text) {
  // At most 3 bytes per 4 characters; the slack covers the decoder's 64-character blocks.
  std::string out((text.size() / 4 + 1) * 3 + 96, '\0');
  EVP_ENCODE_CTX* ctx = EVP_ENCODE_CTX_new();
  if (ctx == nullptr) {
    return make_error(error_kind::internal, "base64: out of memory");
  }
  EVP_DecodeInit(ctx);
  int n = 0;
  int tail = 0;
  const int updated = EVP_DecodeUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &n,
                                       reinterpret_cast<const unsigned char*>(text.data()),
                                       static_cast<int>(text.size()));
  const int finished =
      updated < 0 ? -1
                  : EVP_DecodeFinal(ctx, reinterpret_cast<unsigned char*>(out.data()) + n, &tail);
  EVP_ENCODE_CTX_free(ctx);
  if (updated < 0 || finished < 0) {
    return make_error(error_kind::transient, "contents: the file's base64 does not decode");
  }
  out.resize(static_cast<std::size_t>(n + tail));
  return out;
}

// One delivery's work on one pull request of an infra repository.
class pull_request_run {
 public:
  pull_request_run(const service::delivery& d, const events::pull_request_event& e,
                   const handler_settings& s)
      : e_(e),
        s_(s),
        gh_(*s.github),
        log_(d.log.with({{"repo", e.repository.full_name},
                         {"pull_request", std::to_string(e.number)},
                         {"branch", e.head_ref}})) {}

  asio::awaitable<service::handler_result> run(pull_request_work work) {
    if (e_.installation_id) {
      inst_ = *e_.installation_id;
    } else {
      auto inst = co_await gh_.installation_for_repo(e_.repository.owner, e_.repository.name);
      if (!inst) {
        co_return inst.error();
      }
      inst_ = *inst;
    }
    if (work == pull_request_work::delete_branch) {
      co_return co_await delete_branch();
    }
    co_return co_await check_rules();
  }

 private:
  std::string repo_path(std::string_view rest) const {
    return "/repos/" + e_.repository.owner + "/" + e_.repository.name + std::string(rest);
  }

  asio::awaitable<service::handler_result> delete_branch();
  asio::awaitable<service::handler_result> check_rules();
  asio::awaitable<result<std::vector<changed_file>>> changed_files();
  asio::awaitable<result<void>> comment_once(std::string text);

  const events::pull_request_event& e_;
  const handler_settings& s_;
  github::app_client& gh_;
  log::logger log_;
  std::int64_t inst_ = 0;
};

asio::awaitable<service::handler_result> pull_request_run::delete_branch() {
  const std::string& branch = e_.head_ref;
  // The branch as it is now: a redelivery after the deletion finds nothing to do, and a head
  // moved since the merge is judged as it is, not as it was.
  auto ref =
      co_await gh_.rest(verb::get, repo_path("/git/ref/heads/" + branch), std::nullopt, inst_);
  if (!ref) {
    if (ref.error().kind == error_kind::not_found) {
      log_.info("merged ferry branch is already gone");
      co_return service::outcome::done;
    }
    co_return ref.error();
  }
  auto ref_body = parse_json(*ref, "get ref");
  if (!ref_body) {
    co_return ref_body.error();
  }
  const std::string head = text_at(*ref_body, "/object/sha");
  auto commit =
      co_await gh_.rest(verb::get, repo_path("/git/commits/" + head), std::nullopt, inst_);
  if (!commit) {
    co_return commit.error();
  }
  auto c = parse_json(*commit, "get commit");
  if (!c) {
    co_return c.error();
  }
  head_commit_facts facts;
  facts.author_name = text_at(*c, "/author/name");
  facts.message = text_at(*c, "/message");
  const auto* verified = find(*c, "/verification/verified");
  facts.verified = verified != nullptr && verified->is_bool() && verified->as_bool();
  const auto app = gh_.app_info();
  const std::optional<std::string_view> slug =
      app ? std::optional<std::string_view>(app->slug) : std::nullopt;
  if (!is_ferry_head(facts, slug)) {
    // SPEC: "ferry never touches a branch head it did not write; it comments instead."
    log_.warn("merged branch's head was not written by ferry: left alone", {{"head", head}});
    auto posted = co_await comment_once("ferry did not delete `" + branch + "`: its head " + head +
                                        " is not a commit ferry wrote. Delete it by hand when "
                                        "it is no longer needed.");
    if (!posted) {
      co_return posted.error();
    }
    co_return service::outcome::done;
  }
  auto deleted =
      co_await gh_.rest(verb::delete_, repo_path("/git/refs/heads/" + branch), std::nullopt, inst_);
  if (!deleted) {
    // Someone (a redelivery on another replica, GitHub's "delete branch on merge") was first:
    // 404 and 422 ("Reference does not exist") both mean the branch is gone.
    if (deleted.error().kind == error_kind::not_found ||
        deleted.error().kind == error_kind::invalid_input) {
      log_.info("merged ferry branch was already deleted", {{"reason", deleted.error().message}});
      co_return service::outcome::done;
    }
    co_return deleted.error();
  }
  log_.info("merged ferry branch deleted", {{"head", head}});
  co_return service::outcome::done;
}

asio::awaitable<result<std::vector<changed_file>>> pull_request_run::changed_files() {
  auto pages = co_await gh_.rest_pages(
      repo_path("/pulls/" + std::to_string(e_.number) + "/files?per_page=100"), inst_);
  if (!pages) {
    co_return pages.error();
  }
  std::vector<changed_file> out;
  for (const auto& page : *pages) {
    auto body = parse_json(page, "list pull request files");
    if (!body) {
      co_return body.error();
    }
    if (!body->is_array()) {
      co_return make_error(error_kind::transient, "list pull request files: not an array");
    }
    for (const auto& f : body->as_array()) {
      out.push_back(
          {text_at(f, "/filename"), text_at(f, "/status"), text_at(f, "/previous_filename")});
    }
  }
  co_return out;
}

// Posts `text` unless the PR already carries exactly that comment: a redelivery converges
// instead of repeating itself (SPEC "Reliability").
asio::awaitable<result<void>> pull_request_run::comment_once(std::string text) {
  const std::string path = repo_path("/issues/" + std::to_string(e_.number) + "/comments");
  auto pages = co_await gh_.rest_pages(path + "?per_page=100", inst_);
  if (!pages) {
    co_return pages.error();
  }
  for (const auto& page : *pages) {
    auto body = parse_json(page, "list comments");
    if (!body) {
      co_return body.error();
    }
    if (body->is_array()) {
      for (const auto& c : body->as_array()) {
        if (text_at(c, "/body") == text) {
          co_return ok_v;
        }
      }
    }
  }
  // Built outside the co_await: GCC 12 cannot keep a braced list across it.
  json::value request_body = json::value{{"body", std::move(text)}};
  auto posted = co_await gh_.rest(verb::post, path, std::move(request_body), inst_);
  if (!posted) {
    co_return posted.error();
  }
  co_return ok_v;
}

asio::awaitable<service::handler_result> pull_request_run::check_rules() {
  auto files = co_await changed_files();
  if (!files) {
    co_return files.error();
  }
  const rules_change change = rules_file_change(*files, s_.rules_path);
  if (change == rules_change::untouched) {
    log_.debug("pull request does not touch the rules file");
    co_return service::outcome::done;
  }
  rules_verdict verdict;
  if (change == rules_change::removed) {
    verdict = rules_removed_verdict(s_.rules_path);
  } else {
    auto content = co_await gh_.rest(
        verb::get, repo_path("/contents/" + s_.rules_path + "?ref=" + e_.head_sha), std::nullopt,
        inst_);
    if (!content) {
      co_return content.error();
    }
    auto body = parse_json(*content, "get rules file");
    if (!body) {
      co_return body.error();
    }
    if (text_at(*body, "/encoding") != "base64") {
      co_return make_error(error_kind::transient,
                           "get rules file: the contents API did not send base64");
    }
    auto text = decode_base64(text_at(*body, "/content"));
    if (!text) {
      co_return text.error();
    }
    verdict = rules_verdict_for(rules::parse_rules(*text, s_.rules_path), s_.rules_path);
  }
  // Built outside the co_await: GCC 12 cannot keep a braced list across it.
  json::value status = json::value{{"state", verdict.state},
                                   {"context", std::string(k_rules_status_context)},
                                   {"description", verdict.description}};
  auto posted = co_await gh_.rest(verb::post, repo_path("/statuses/" + e_.head_sha),
                                  std::move(status), inst_);
  if (!posted) {
    co_return posted.error();
  }
  if (verdict.comment) {
    // The head sha makes a new push's errors a new comment and a redelivery's the same one.
    auto c = co_await comment_once(*verdict.comment + "\nChecked at " + e_.head_sha + ".\n");
    if (!c) {
      co_return c.error();
    }
  }
  log_.info(
      "rules file checked",
      {{"state", verdict.state}, {"description", verdict.description}, {"head", e_.head_sha}});
  co_return service::outcome::done;
}

}  // namespace

handler_task handle_pull_request(const service::delivery& d, const events::pull_request_event& e,
                                 const handler_settings& settings) {
  const pull_request_plan plan = plan_pull_request(e, settings.infra_repos);
  switch (plan.work) {
    case pull_request_work::ignore:
      d.log.debug("event ignored", {{"reason", plan.reason}});
      co_return service::outcome::ignored;
    case pull_request_work::closed_unmerged:
      // The tag-bump flow decides what a closed PR means for its tag (SPEC: "that tag is
      // skipped for that environment"); here it is only recorded.
      d.log.info("ferry pull request closed without merge",
                 {{"repo", e.repository.full_name},
                  {"pull_request", std::to_string(e.number)},
                  {"branch", e.head_ref}});
      co_return service::outcome::done;
    case pull_request_work::delete_branch:
    case pull_request_work::check_rules:
      break;
  }
  if (settings.github == nullptr) {
    d.log.info("no GitHub client: pull request work only logged", {{"reason", plan.reason}});
    co_return service::outcome::done;
  }
  pull_request_run run(d, e, settings);
  co_return co_await run.run(plan.work);
}

}  // namespace ferry::handlers
