#include "service/github/repo_api.hpp"

#include <openssl/evp.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <utility>

#include "service/utf8.hpp"

namespace ferry::github {

namespace asio = boost::asio;
namespace json = boost::json;
using boost::beast::http::verb;

namespace {

json::array string_array(const std::vector<std::string>& values) {
  json::array a;
  for (const auto& v : values) {
    a.emplace_back(v);
  }
  return a;
}

const char* state_name(pull_state s) {
  switch (s) {
    case pull_state::open:
      return "open";
    case pull_state::closed:
      return "closed";
    case pull_state::all:
      return "all";
  }
  return "open";
}

// Text GitHub stores (titles, bodies, messages, descriptions) as valid UTF-8: bytes from a
// payload or a rules file never reach the API raw (issue 10.5).
std::string valid(std::string_view text) {
  return service::to_valid_utf8(text);
}

// RFC 4648 §4 base64 with padding (GraphQL's Base64String).
std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

result<void> done(const result<http_response>& r) {
  if (!r) {
    return r.error();
  }
  return ok_v;
}

// Parses every page with `parse` and concatenates the entries.
template <typename T, typename Parse>
result<std::vector<T>> all_pages(const result<std::vector<http_response>>& pages, Parse parse) {
  if (!pages) {
    return pages.error();
  }
  std::vector<T> out;
  for (const auto& page : *pages) {
    auto items = parse(page.body);
    if (!items) {
      return items.error();
    }
    std::move(items->begin(), items->end(), std::back_inserter(out));
  }
  return out;
}

}  // namespace

repo_api::repo_api(app_client& client, service::repo_name repo, std::int64_t installation,
                   log::logger log)
    : client_(&client), repo_(std::move(repo)), installation_(installation), log_(std::move(log)) {}

asio::awaitable<result<repo_api>> repo_api::open(app_client& client, service::repo_name repo,
                                                 std::optional<std::int64_t> installation,
                                                 log::logger log) {
  if (installation && *installation > 0) {
    co_return repo_api(client, std::move(repo), *installation, std::move(log));
  }
  const call_options calls{.log = &log};
  auto found = co_await client.installation_for_repo(repo.owner, repo.name, calls);
  if (!found) {
    co_return found.error();
  }
  co_return repo_api(client, std::move(repo), *found, std::move(log));
}

asio::awaitable<result<repository>> repo_api::get() {
  auto r = co_await client_->rest(verb::get, path(""), std::nullopt, installation_, options());
  if (!r) {
    co_return r.error();
  }
  co_return parse_repository(r->body);
}

asio::awaitable<result<std::optional<std::string>>> repo_api::branch_head(std::string_view branch) {
  auto r = co_await client_->rest(verb::get, path("/git/ref/heads/" + escape_path(branch)),
                                  std::nullopt, installation_, options());
  if (!r) {
    if (r.error().kind == error_kind::not_found) {
      co_return std::optional<std::string>{};
    }
    co_return r.error();
  }
  auto sha = parse_ref_sha(r->body);
  if (!sha) {
    co_return sha.error();
  }
  co_return std::optional<std::string>(std::move(*sha));
}

asio::awaitable<result<repo_api::ref_read>> repo_api::branch_head_if_changed(
    std::string_view branch, std::string_view etag) {
  call_options conditional = options();
  conditional.if_none_match = etag;
  auto r = co_await client_->rest(verb::get, path("/git/ref/heads/" + escape_path(branch)),
                                  std::nullopt, installation_, conditional);
  if (!r) {
    co_return r.error();
  }
  ref_read out;
  if (r->status == 304) {
    out.unchanged = true;
    co_return out;
  }
  auto sha = parse_ref_sha(r->body);
  if (!sha) {
    co_return sha.error();
  }
  out.sha = std::move(*sha);
  if (const auto* tag = r->header("etag")) {
    out.etag = *tag;
  }
  co_return out;
}

asio::awaitable<result<void>> repo_api::create_branch(std::string_view branch,
                                                      std::string_view sha) {
  json::object body;
  body["ref"] = "refs/heads/" + std::string(branch);
  body["sha"] = sha;
  co_return done(co_await client_->rest(verb::post, path("/git/refs"), json::value(std::move(body)),
                                        installation_, options()));
}

asio::awaitable<result<void>> repo_api::move_branch(std::string_view branch, std::string_view sha,
                                                    bool force) {
  json::object body;
  body["sha"] = sha;
  body["force"] = force;
  co_return done(co_await client_->rest(verb::patch, path("/git/refs/heads/" + escape_path(branch)),
                                        json::value(std::move(body)), installation_, options()));
}

asio::awaitable<result<std::string>> repo_api::commit_on_branch(
    std::string_view branch, std::string_view expected_head, std::string_view headline,
    std::string_view body, const std::vector<tree_file>& additions,
    const std::vector<std::string>& deletions) {
  json::object target;
  target["repositoryNameWithOwner"] = repo_.owner + "/" + repo_.name;
  target["branchName"] = branch;
  json::object message;
  message["headline"] = valid(headline);
  if (!body.empty()) {
    message["body"] = valid(body);
  }
  json::array added;
  for (const auto& f : additions) {
    json::object a;
    a["path"] = f.path;
    a["contents"] = base64_encode(f.content);
    added.emplace_back(std::move(a));
  }
  json::array deleted;
  for (const auto& p : deletions) {
    json::object d;
    d["path"] = p;
    deleted.emplace_back(std::move(d));
  }
  json::object changes;
  if (!added.empty()) {
    changes["additions"] = std::move(added);
  }
  if (!deleted.empty()) {
    changes["deletions"] = std::move(deleted);
  }
  json::object input;
  input["branch"] = std::move(target);
  input["message"] = std::move(message);
  input["expectedHeadOid"] = expected_head;
  input["fileChanges"] = std::move(changes);
  json::object variables;
  variables["input"] = std::move(input);
  auto r = co_await client_->graphql(
      "mutation($input: CreateCommitOnBranchInput!) { createCommitOnBranch(input: $input) { "
      "commit { oid } } }",
      std::move(variables), installation_, options());
  if (!r) {
    co_return r.error();
  }
  co_return parse_commit_on_branch(r->body);
}

asio::awaitable<result<void>> repo_api::delete_branch(std::string_view branch) {
  co_return done(co_await client_->rest(verb::delete_,
                                        path("/git/refs/heads/" + escape_path(branch)),
                                        std::nullopt, installation_, options()));
}

asio::awaitable<result<git_commit>> repo_api::commit(std::string_view sha) {
  auto r = co_await client_->rest(verb::get, path("/git/commits/" + escape_segment(sha)),
                                  std::nullopt, installation_, options());
  if (!r) {
    co_return r.error();
  }
  co_return parse_git_commit(r->body);
}

asio::awaitable<result<std::string>> repo_api::create_tree(std::string_view base_tree,
                                                           const std::vector<tree_file>& files) {
  json::array entries;
  for (const auto& f : files) {
    json::object e;
    e["path"] = f.path;
    e["mode"] = f.mode;
    e["type"] = "blob";
    e["content"] = f.content;
    entries.emplace_back(std::move(e));
  }
  json::object body;
  body["base_tree"] = base_tree;
  body["tree"] = std::move(entries);
  auto r = co_await client_->rest(verb::post, path("/git/trees"), json::value(std::move(body)),
                                  installation_, options());
  if (!r) {
    co_return r.error();
  }
  co_return parse_created_sha(r->body);
}

asio::awaitable<result<std::string>> repo_api::create_commit(
    std::string_view message, std::string_view tree, const std::vector<std::string>& parents) {
  json::object body;
  body["message"] = valid(message);
  body["tree"] = tree;
  body["parents"] = string_array(parents);
  auto r = co_await client_->rest(verb::post, path("/git/commits"), json::value(std::move(body)),
                                  installation_, options());
  if (!r) {
    co_return r.error();
  }
  co_return parse_created_sha(r->body);
}

asio::awaitable<result<std::vector<pull_request>>> repo_api::pulls(std::string_view head_branch,
                                                                   pull_state state, int per_page) {
  // pulls/list's head filter needs "owner:branch" (GitHub ignores a bare branch).
  const std::string query = std::string("?state=") + state_name(state) +
                            "&per_page=" + std::to_string(per_page) +
                            "&head=" + escape_query(repo_.owner) + ":" + escape_query(head_branch);
  auto r = co_await client_->rest(verb::get, path("/pulls" + query), std::nullopt, installation_,
                                  options());
  if (!r) {
    co_return r.error();
  }
  co_return parse_pulls(r->body);
}

asio::awaitable<result<pull_request>> repo_api::create_pull(std::string_view title,
                                                            std::string_view head,
                                                            std::string_view base,
                                                            std::string_view body_text) {
  json::object body;
  body["title"] = valid(title);
  body["head"] = head;
  body["base"] = base;
  body["body"] = valid(body_text);
  auto r = co_await client_->rest(verb::post, path("/pulls"), json::value(std::move(body)),
                                  installation_, options());
  if (!r) {
    co_return r.error();
  }
  co_return parse_pull(r->body);
}

asio::awaitable<result<void>> repo_api::update_pull(std::int64_t number, std::string_view title,
                                                    std::string_view body_text) {
  json::object body;
  body["title"] = valid(title);
  body["body"] = valid(body_text);
  co_return done(co_await client_->rest(verb::patch, path("/pulls/" + std::to_string(number)),
                                        json::value(std::move(body)), installation_, options()));
}

asio::awaitable<result<void>> repo_api::merge_pull(std::int64_t number, std::string_view method,
                                                   std::string_view sha) {
  json::object body;
  body["merge_method"] = method;
  body["sha"] = sha;
  co_return done(co_await client_->rest(verb::put,
                                        path("/pulls/" + std::to_string(number) + "/merge"),
                                        json::value(std::move(body)), installation_, options()));
}

asio::awaitable<result<void>> repo_api::add_labels(std::int64_t number,
                                                   const std::vector<std::string>& labels) {
  json::object body;
  body["labels"] = string_array(labels);
  co_return done(co_await client_->rest(verb::post,
                                        path("/issues/" + std::to_string(number) + "/labels"),
                                        json::value(std::move(body)), installation_, options()));
}

asio::awaitable<result<void>> repo_api::request_reviewers(std::int64_t number,
                                                          const std::vector<std::string>& users,
                                                          const std::vector<std::string>& teams) {
  json::object body;
  body["reviewers"] = string_array(users);
  body["team_reviewers"] = string_array(teams);
  co_return done(co_await client_->rest(
      verb::post, path("/pulls/" + std::to_string(number) + "/requested_reviewers"),
      json::value(std::move(body)), installation_, options()));
}

asio::awaitable<result<delivery_read>> repo_api::read_delivery(delivery_read_request request) {
  request.repo = repo_;
  auto q = delivery_read_query(request);
  auto r = co_await client_->graphql_raw(q.query, std::move(q.variables), installation_, options());
  if (!r) {
    co_return r.error();
  }
  co_return parse_delivery_read(r->body, request);
}

asio::awaitable<result<pull_finish_outcome>> repo_api::finish_pull(
    const pull_finish_request& request) {
  auto m = pull_finish_mutation(request);
  if (!m) {
    co_return pull_finish_outcome{};
  }
  auto r =
      co_await client_->graphql_raw(m->query, std::move(m->variables), installation_, options());
  if (!r) {
    co_return r.error();
  }
  auto out = parse_pull_finish(r->body);
  if (!out) {
    co_return out.error();
  }
  for (const auto& e : out->failed) {
    if (e.path.empty()) {
      co_return graphql_failure(out->failed);
    }
  }
  co_return out;
}

asio::awaitable<result<std::optional<release>>> repo_api::release_by_tag(std::string_view tag) {
  auto r = co_await client_->rest(verb::get, path("/releases/tags/" + escape_segment(tag)),
                                  std::nullopt, installation_, options());
  if (!r) {
    if (r.error().kind == error_kind::not_found) {
      co_return std::optional<release>{};
    }
    co_return r.error();
  }
  auto parsed = parse_release(r->body);
  if (!parsed) {
    co_return parsed.error();
  }
  co_return std::optional<release>(std::move(*parsed));
}

asio::awaitable<result<std::vector<pull_file>>> repo_api::pull_files(std::int64_t number) {
  auto pages =
      co_await client_->rest_pages(path("/pulls/" + std::to_string(number) + "/files?per_page=100"),
                                   installation_, limits::k_api_max_pages, options());
  co_return all_pages<pull_file>(pages, parse_pull_files);
}

asio::awaitable<result<std::vector<pull_request>>> repo_api::pulls_of_commit(std::string_view sha) {
  auto r = co_await client_->rest(verb::get, path("/commits/" + escape_segment(sha) + "/pulls"),
                                  std::nullopt, installation_, options());
  if (!r) {
    co_return r.error();
  }
  co_return parse_pulls(r->body);
}

asio::awaitable<result<void>> repo_api::create_status(std::string_view sha,
                                                      std::string_view context,
                                                      std::string_view state,
                                                      std::string_view description) {
  json::object body;
  body["state"] = state;
  body["context"] = context;
  body["description"] = valid(description);
  co_return done(co_await client_->rest(verb::post, path("/statuses/" + escape_segment(sha)),
                                        json::value(std::move(body)), installation_, options()));
}

asio::awaitable<result<std::vector<commit_status>>> repo_api::statuses(std::string_view sha,
                                                                       int max_pages) {
  auto pages = co_await client_->rest_pages(
      path("/commits/" + escape_segment(sha) + "/statuses?per_page=100"), installation_, max_pages,
      options());
  co_return all_pages<commit_status>(pages, parse_statuses);
}

asio::awaitable<result<std::vector<check_run>>> repo_api::check_runs(std::string_view sha,
                                                                     int max_pages) {
  auto pages = co_await client_->rest_pages(
      path("/commits/" + escape_segment(sha) + "/check-runs?per_page=100"), installation_,
      max_pages, options());
  co_return all_pages<check_run>(pages, parse_check_runs);
}

asio::awaitable<result<void>> repo_api::create_comment(std::int64_t number,
                                                       std::string_view body_text) {
  json::object body;
  body["body"] = valid(body_text);
  co_return done(co_await client_->rest(verb::post,
                                        path("/issues/" + std::to_string(number) + "/comments"),
                                        json::value(std::move(body)), installation_, options()));
}

asio::awaitable<result<std::vector<issue_comment>>> repo_api::comments(std::int64_t number) {
  auto pages = co_await client_->rest_pages(
      path("/issues/" + std::to_string(number) + "/comments?per_page=100"), installation_,
      limits::k_api_max_pages, options());
  co_return all_pages<issue_comment>(pages, parse_comments);
}

asio::awaitable<result<comparison>> repo_api::compare(std::string_view base,
                                                      std::string_view head) {
  auto r = co_await client_->rest(
      verb::get, path("/compare/" + escape_segment(base) + "..." + escape_segment(head)),
      std::nullopt, installation_, options());
  if (!r) {
    co_return r.error();
  }
  co_return parse_comparison(r->body);
}

asio::awaitable<result<std::vector<std::string>>> repo_api::commits(std::string_view branch,
                                                                    int n) {
  auto r = co_await client_->rest(
      verb::get, path("/commits?sha=" + escape_query(branch) + "&per_page=" + std::to_string(n)),
      std::nullopt, installation_, options());
  if (!r) {
    co_return r.error();
  }
  co_return parse_commit_shas(r->body);
}

asio::awaitable<result<std::string>> repo_api::file(std::string_view file_path,
                                                    std::string_view ref) {
  auto r = co_await client_->rest(
      verb::get, path("/contents/" + escape_path(file_path) + "?ref=" + escape_query(ref)),
      std::nullopt, installation_, options());
  if (!r) {
    co_return r.error();
  }
  co_return parse_file_content(r->body);
}

std::string hook_deliveries_path(int per_page) {
  return "/app/hook/deliveries?per_page=" + std::to_string(per_page);
}

asio::awaitable<result<delivery_page>> hook_deliveries(app_client& client, std::string_view path,
                                                       const log::logger& log) {
  const call_options calls{.log = &log};
  auto r = co_await client.app_rest(verb::get, path, std::nullopt, calls);
  if (!r) {
    co_return r.error();
  }
  auto items = parse_hook_deliveries(r->body);
  if (!items) {
    co_return items.error();
  }
  delivery_page page{std::move(*items), {}};
  // GitHub pages this list by cursor in Link rel="next"; only a link under the API base is
  // followed (a token is never sent elsewhere).
  if (auto next = next_page_url(*r); next && next->starts_with(client.api_url() + "/")) {
    page.next_path = next->substr(client.api_url().size());
  }
  co_return page;
}

asio::awaitable<result<void>> redeliver(app_client& client, std::int64_t delivery_id,
                                        const log::logger& log) {
  const call_options calls{.log = &log};
  co_return done(co_await client.app_rest(
      verb::post, "/app/hook/deliveries/" + std::to_string(delivery_id) + "/attempts", std::nullopt,
      calls));
}

}  // namespace ferry::github
