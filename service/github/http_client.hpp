#pragma once
// An HTTP/1.1 client for the GitHub API: Beast over OpenSSL (the model is Beast's awaitable
// SSL client example), https:// and plain http:// (local doubles and development).
//
// - TLS: verify_peer against the system's default verify paths (OpenSSL honours SSL_CERT_FILE
//   and SSL_CERT_DIR there) or the CA file named in the settings; host-name verification by
//   OpenSSL during the handshake (SSL_set1_host, or the IP address for IP literals); SNI for
//   names (RFC 6066 §3 forbids IP literals in SNI); TLS 1.2 at least.
// - One deadline per attempt covers resolve, connect, handshake, write and read.
// - Keep-alive: idle connections are pooled per scheme://host:port and reused.
// - Retries are bounded (http_request::max_attempts) and only for transient failures:
//   connect/resolve/handshake I/O errors, timeouts, 500/502/503/504, and rate limits whose wait
//   fits in http_settings::rate_limit_wait_max. Backoff is exponential with full jitter.
//
// Not thread-safe: one client lives on one executor and is used from coroutines running on
// it (one io_context thread, or one strand). That is what lets the token cache coordinate
// concurrent callers without locks.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/limits.hpp"
#include "service/result.hpp"

namespace ferry::github {

// What one attempt saw, for metrics (GitHub API calls by status, rate-limit remaining).
// status is 0 when no response arrived (connect failure, timeout).
struct http_observation {
  std::string_view method;
  std::string_view host;
  int status = 0;
  std::optional<long long> rate_limit_remaining;  // x-ratelimit-remaining, when present
  bool secondary_rate_limit = false;              // is_secondary_rate_limit(response)
};
using http_observer = std::function<void(const http_observation&)>;

struct http_settings {
  std::string user_agent = "ferry/" FERRY_VERSION;
  // PEM file of trusted CAs; empty: OpenSSL's default verify paths (honours SSL_CERT_FILE).
  std::string ca_file;
  // One deadline per attempt, for resolve + connect + handshake + write + read together.
  std::chrono::milliseconds attempt_timeout = limits::k_api_attempt_timeout;
  int max_attempts = limits::k_api_max_attempts;
  std::chrono::milliseconds backoff_base = limits::k_api_backoff_base;
  std::chrono::milliseconds backoff_cap = limits::k_api_backoff_cap;
  // A rate-limit wait (retry-after, x-ratelimit-reset) longer than this is not waited for:
  // the call ends with the 403/429 response, which maps to error_kind::transient.
  std::chrono::milliseconds rate_limit_wait_max = limits::k_api_rate_limit_wait_max;
  // Multiplies every rate-limit wait actually slept (the decision above uses the unscaled
  // wait). 1.0 in production; tests set e.g. 0.001 so `retry-after: 1` sleeps 1 ms.
  double rate_limit_wait_scale = 1.0;
  std::size_t idle_connections_per_host = limits::k_api_idle_connections_per_host;
  std::chrono::milliseconds idle_connection_max_age = limits::k_api_idle_connection_max_age;
  std::size_t response_body_max = limits::k_api_response_body_max;
  // Called once per attempt (metrics). No metrics registry exists in this branch; the
  // composition root connects this to it.
  http_observer observer;
};

struct http_header {
  std::string name;
  std::string value;
};

struct http_request {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string url;  // absolute: http[s]://host[:port]/path[?query]
  std::vector<http_header> headers;
  std::string body;  // sent with Content-Length when non-empty or for POST/PUT/PATCH
  // Retry policy, visible where the call is made. 0 means "the settings' value".
  int max_attempts = 0;
  std::chrono::milliseconds deadline{0};  // per attempt
};

struct http_response {
  int status = 0;
  std::vector<http_header> headers;  // names lower-cased, in arrival order
  std::string body;
  // First header with this (lower-case) name, or nullptr.
  const std::string* header(std::string_view lower_name) const noexcept;
};

class http_client {
 public:
  // Fails (invalid_input) when the CA file cannot be loaded.
  static result<std::unique_ptr<http_client>> create(boost::asio::any_io_executor executor,
                                                     http_settings settings);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  // A response for any status the server answered with (after retries, the last one); an
  // error (transient) when no response could be had: DNS, connect, TLS I/O, timeouts;
  // invalid_input for a malformed URL; internal for a certificate that fails verification
  // (never retried: a retry cannot fix it).
  boost::asio::awaitable<result<http_response>> request(http_request req);

  // One request whose response body is handed over as it arrives (a Kubernetes watch: a
  // chunked stream of JSON lines that may stay open for minutes). For a 2xx response,
  // on_bytes gets each piece of the decoded body as soon as it is read (pieces do not respect
  // any framing inside the body); returning false stops reading and closes the connection.
  // The returned response carries the status and headers, and for a non-2xx status the body
  // (up to response_body_max) so the caller can map it to an error. The deadline
  // (req.deadline, else attempt_timeout) covers the whole exchange, stream included. One
  // attempt: no retries (a stream half consumed cannot be replayed). The connection is a
  // fresh one and never returns to the keep-alive pool. Errors as for request().
  boost::asio::awaitable<result<http_response>> request_stream(
      http_request req, std::function<bool(std::string_view bytes)> on_bytes);

  const http_settings& settings() const noexcept;
  boost::asio::any_io_executor executor() const noexcept;

  // Closes the pooled keep-alive connections. Call it after the io_context stopped and before
  // it is destroyed: a socket must not outlive its io_context.
  void close_idle_connections() noexcept;

  struct impl;

 private:
  explicit http_client(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// The target of a Link header's rel="next" (RFC 8288), or nullopt. GitHub paginates this way
// (docs.github.com: "Using pagination in the REST API").
std::optional<std::string> next_page_url(const http_response& response);

// Maps a non-2xx response to an error value. `method` and `path` name the call in the message
// together with the status and GitHub's `message` field; headers (tokens) never appear.
//   401 -> unauthorized; 404, 410 -> not_found;
//   403/429 that are rate limits (x-ratelimit-remaining: 0, retry-after, or a body saying
//   "secondary rate limit") -> transient; 500..599 -> transient;
//   409 -> conflict (a Git ref or merge conflict);
//   422 -> conflict when GitHub says the thing already exists or the ref update is not a fast
//   forward (a compare-and-swap lost: "Reference already exists", "A pull request already
//   exists", "Update is not a fast forward"), else invalid_input (validation failed);
//   every other status -> invalid_input.
error error_from_response(std::string_view method, std::string_view path,
                          const http_response& response);

// True for a 403/429 that GitHub uses to signal a primary or secondary rate limit.
bool is_rate_limited(const http_response& response);

// True for a rate-limited answer (is_rate_limited) that is not the primary limit running out
// (x-ratelimit-remaining 0): a secondary limit, such as the one on content creation.
bool is_secondary_rate_limit(const http_response& response);

// How long a rate-limited answer asks the caller to wait (docs.github.com "Rate limits for the
// REST API"): retry-after seconds; else, with x-ratelimit-remaining 0, until x-ratelimit-reset;
// else (a secondary limit) limits::k_api_secondary_limit_default_wait. `now`: the wall clock.
std::chrono::milliseconds rate_limit_wait(const http_response& response,
                                          std::chrono::system_clock::time_point now);

}  // namespace ferry::github
