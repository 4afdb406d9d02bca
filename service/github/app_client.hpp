#pragma once
// The GitHub App client: app JWT, installation tokens (cached, minted once under
// concurrency), installation lookup, GET /app in the background, and authenticated REST and
// GraphQL calls for the handlers. Built on http_client (same threading rule: one executor).
//
// Every call sends Accept: application/vnd.github+json, X-GitHub-Api-Version: 2022-11-28 and
// User-Agent: ferry/<version> (docs.github.com: "Getting started with the REST API").

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "service/github/http_client.hpp"
#include "service/github/jwt.hpp"
#include "service/github/write_budget.hpp"
#include "service/limits.hpp"
#include "service/log.hpp"
#include "service/result.hpp"

namespace ferry::github {

// What the write budget did with one content-creating call, for metrics.
struct write_budget_observation {
  enum class outcome {
    taken,     // a slot was taken; the call goes out
    deferred,  // no slot within the call's wait: not sent, failed transient (503, redelivered)
  };
  outcome what = outcome::taken;
  std::int64_t installation_id = 0;
  int remaining = 0;  // slots left in the installation's budget afterwards
};
using write_budget_observer = std::function<void(const write_budget_observation&)>;

struct github_settings {
  // REST base; GHES: https://HOST/api/v3. Paths are appended to its path.
  std::string api_url = "https://api.github.com";
  // Empty: derived from api_url (see derive_graphql_url).
  std::string graphql_url;
  std::string app_id;           // FERRY_APP_ID: client ID or numeric app id (JWT iss)
  std::string private_key_pem;  // FERRY_PRIVATE_KEY_FILE's contents
  http_settings http;           // CA file, per-attempt deadline, retries, observer
  // Tokens and the JWT are renewed this long before they expire.
  std::chrono::seconds token_refresh_margin =
      std::chrono::duration_cast<std::chrono::seconds>(limits::k_token_refresh_margin);
  // Wall clock for JWT claims, token expiry and the write budget's windows; empty means
  // system_clock::now.
  std::function<std::chrono::system_clock::time_point()> clock;
  // The budget of content-creating calls (REST POST/PATCH/PUT/DELETE, GraphQL mutations) per
  // installation (FERRY_GITHUB_WRITES_PER_MINUTE / _PER_HOUR), and the longest a write waits
  // for a slot (bounded further by the call's deadline).
  write_budget_settings writes;
  std::chrono::milliseconds write_wait_max = limits::k_github_write_wait_max;
  // Called for each write the budget lets through or defers (metrics).
  write_budget_observer write_observer;
};

// https://api.github.com -> https://api.github.com/graphql;
// https://HOST/api/v3 -> https://HOST/api/graphql (GHES: "Forming calls with GraphQL");
// anything else -> api_url + "/graphql" (local doubles).
std::string derive_graphql_url(std::string_view api_url);

// What GET /app says about ourselves.
struct app_identity {
  std::int64_t id = 0;
  std::string slug;  // the bot's login is slug + "[bot]"
  std::string name;
};

// The retry policy of one call, written where the call is made:
//   client.rest(verb::post, path, body, inst, {.max_attempts = 1});
struct call_options {
  int max_attempts = 0;                   // 0: settings.http.max_attempts
  std::chrono::milliseconds deadline{0};  // per attempt; 0: settings.http.attempt_timeout
  // The caller's logger: the call's lines (and those of a token it mints) go there, so a
  // delivery's GitHub calls carry its id (SPEC: every log line of a delivery carries it).
  // nullptr: the client's own logger. Must outlive the call.
  const log::logger* log = nullptr;
  // A conditional GET (docs.github.com "Best practices for using the REST API": a 304 costs no
  // rate limit): sent as If-None-Match, and a 304 answer is then a value (status 304, no body),
  // not an error. Keep the answer's `etag` header for the next call. A view: the caller keeps
  // the string alive. call_options must stay trivially destructible: GCC 12 destroys a
  // defaulted `call_options options = {}` argument of a coroutine twice when it owns memory.
  std::string_view if_none_match{};
};
static_assert(std::is_trivially_destructible_v<call_options>,
              "call_options is a coroutine default argument: see if_none_match");

class app_client {
 public:
  // Loads and checks the private key (invalid_input when it is not an RSA key of at least
  // 2048 bits), the CA file, and the URLs.
  static result<std::unique_ptr<app_client>> create(boost::asio::any_io_executor executor,
                                                    github_settings settings,
                                                    log::logger logger = {});
  ~app_client();
  app_client(const app_client&) = delete;
  app_client& operator=(const app_client&) = delete;

  // An installation token (POST /app/installations/{id}/access_tokens with the JWT), cached
  // until token_refresh_margin before its expires_at. Concurrent callers for the same
  // installation share one request. Tokens are opaque strings of any length.
  boost::asio::awaitable<result<std::string>> installation_token(std::int64_t installation_id,
                                                                 call_options options = {});
  // Drops the cached token so the next call mints a new one (done automatically on a 401).
  void forget_installation_token(std::int64_t installation_id);

  // GET /repos/{owner}/{repo}/installation with the JWT; cached per repository (lower-cased).
  boost::asio::awaitable<result<std::int64_t>> installation_for_repo(std::string_view owner,
                                                                     std::string_view repo,
                                                                     call_options options = {});

  // GET /app now (with the JWT), caching the answer. For a background task, not the request
  // path: see refresh_app_info_until_ok.
  boost::asio::awaitable<result<app_identity>> fetch_app_info();
  // The cached answer of GET /app; never waits.
  std::optional<app_identity> app_info() const;
  // Retries fetch_app_info with backoff until it succeeds, then returns. co_spawn it at start;
  // the client must outlive it (stop the io_context first).
  boost::asio::awaitable<void> refresh_app_info_until_ok(
      std::chrono::milliseconds first_retry = std::chrono::seconds(1),
      std::chrono::milliseconds max_retry = std::chrono::minutes(5));

  // A REST call as the installation (Authorization: token <installation token>). `path`
  // starts with '/' and may carry a query; it is appended to api_url's path. 2xx -> the
  // response (parse its body with simdjson); anything else -> error_from_response's mapping.
  // A 401 also drops the cached token, so the next call re-mints ("an expired token").
  // A write (any verb but GET and HEAD) first takes a slot of the installation's write budget
  // (github_settings::writes), waiting at most write_wait_max and the call's deadline for one;
  // without one it is not sent and fails transient. While GitHub's rate limit holds the
  // installation's writes back (a 403/429 with retry-after), writes fail transient unsent.
  boost::asio::awaitable<result<http_response>> rest(boost::beast::http::verb method,
                                                     std::string_view path,
                                                     std::optional<boost::json::value> body,
                                                     std::int64_t installation_id,
                                                     call_options options = {});

  // GET `path` and every page after it through Link rel="next" (same origin as api_url
  // only: a token is never sent elsewhere), at most max_pages. Each response body is one
  // page (a JSON array, or an object for search-style endpoints).
  boost::asio::awaitable<result<std::vector<http_response>>> rest_pages(
      std::string_view path, std::int64_t installation_id, int max_pages = limits::k_api_max_pages,
      call_options options = {});

  // A REST call as the App itself (Authorization: Bearer <JWT>): /app, /app/hook/deliveries,
  // /app/installations... Same mapping as rest().
  boost::asio::awaitable<result<http_response>> app_rest(boost::beast::http::verb method,
                                                         std::string_view path,
                                                         std::optional<boost::json::value> body,
                                                         call_options options = {});

  // POST {query, variables} to the GraphQL endpoint as the installation. A mutation takes a
  // slot of the write budget first, as a REST write does. A 200 whose `errors`
  // array is non-empty is an error too, mapped from the first error's `type`:
  // NOT_FOUND -> not_found; RATE_LIMITED -> transient; STALE_DATA -> conflict (an
  // expectedHeadOid that no longer matches); INTERNAL, SERVICE_UNAVAILABLE -> transient;
  // FORBIDDEN and everything else -> invalid_input. The message carries type and message.
  boost::asio::awaitable<result<http_response>> graphql(std::string_view query,
                                                        boost::json::object variables,
                                                        std::int64_t installation_id,
                                                        call_options options = {});

  // The same request, answered as sent: a 200 with `errors` is not an error here. For documents
  // whose fields may fail on their own (several mutations, optional lookups): the caller reads
  // graphql_errors() and decides per field.
  boost::asio::awaitable<result<http_response>> graphql_raw(std::string_view query,
                                                            boost::json::object variables,
                                                            std::int64_t installation_id,
                                                            call_options options = {});

  // The app JWT (cached until token_refresh_margin before exp). Exposed for the sweep and
  // for tests; never log it.
  result<std::string> app_jwt();

  const std::string& api_url() const noexcept;
  const std::string& graphql_url() const noexcept;
  http_client& http() noexcept;

  struct impl;

 private:
  explicit app_client(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// Parses GitHub's timestamps ("2016-07-11T22:14:10Z", UTC).
std::optional<std::chrono::system_clock::time_point> parse_github_time(std::string_view text);

}  // namespace ferry::github
