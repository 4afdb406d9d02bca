#pragma once
// One HTTP connection of `ferry serve`, from its first byte to its close (Beast's awaitable
// server: one coroutine per connection, the coroutine frame owns it, no shared_ptr).
//
// A session reads requests in a loop (keep-alive), with a fresh request_parser per request and
// a deadline before every read and write, and routes each one:
//   POST /webhook  the guards (guards.hpp), then dispatch raced against the delivery deadline,
//                  answered with http_status_for() (200/202/204/500/503)
//                  (503 with Retry-After, before the body is read, when the body would pass the
//                  in-flight body budget; small bodies are exempt)
//   GET /healthz   200 while the process runs
//   GET /readyz    200 while listening and not draining, else 503
//   GET /metrics   Prometheus text format 0.0.4
//   anything else  404; a known path with another method 405 (with Allow)
//
// The listener (service/server.hpp) accepts and spawns sessions; what they share lives in one
// `context` the server owns.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "service/dispatch.hpp"
#include "service/limits.hpp"
#include "service/log.hpp"
#include "service/metrics.hpp"
#include "service/signature.hpp"

namespace ferry::service::ingress {

// Deadlines and sizes of one connection (server_settings carries them; limits.hpp says where
// each default comes from).
struct session_settings {
  std::chrono::steady_clock::duration header_timeout = limits::k_header_read_timeout;
  std::chrono::steady_clock::duration body_timeout = limits::k_body_read_timeout;
  std::chrono::steady_clock::duration keep_alive_idle = limits::k_keep_alive_idle;
  std::chrono::steady_clock::duration write_timeout = limits::k_write_timeout;
  std::chrono::steady_clock::duration lingering_close_timeout = limits::k_lingering_close_timeout;
  std::chrono::steady_clock::duration delivery_deadline = limits::k_delivery_deadline;
  std::size_t body_max = limits::k_webhook_body_max;
  std::size_t header_max = limits::k_header_max;
  std::size_t body_budget = limits::k_body_bytes_in_flight_max;
  // A health listener: /healthz, /readyz and /metrics only (POST /webhook is 404 there).
  bool health_only = false;
};

class connection;

// What the sessions of one server share. The server owns it; it is touched only on the
// io_context's thread, except `ready` and `active`, which any thread may read.
class context {
 public:
  // secret: the webhook secret; the verifier keeps the key, nothing else does.
  context(session_settings settings, dispatch_fn dispatch, ferry::log::logger log,
          ferry::service::metrics& m, std::string_view secret);
  // Live connections (their coroutines were not resumed again: the io_context was stopped)
  // are detached, so their destructors, run later with the io_context, do not reach back here.
  ~context();
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  const session_settings settings;
  const dispatch_fn dispatch;
  // Optional, set before the first connection (server::set_decider): deliveries it decides
  // never reach `dispatch`.
  decide_fn decide;
  const ferry::log::logger log;
  ferry::service::metrics& metrics;
  const webhook_verifier verifier;

  std::atomic<bool> ready{false};  // /readyz
  // When set, /readyz answers for that flag instead (a health listener follows the webhook
  // listener's readiness).
  const std::atomic<bool>* ready_source = nullptr;
  // Request-body bytes reserved by connections reading a body now (session_settings'
  // body_budget bounds it). Touched only on the io_context's thread.
  std::size_t body_bytes_in_flight = 0;
  bool draining = false;               // set by the server's drain(): every answer says close
  std::atomic<std::size_t> active{0};  // open connections
  // Runs on the io_context's thread each time a connection ends (the listener waits for a
  // free slot; drain waits for the last one). Set once by the server before any session runs.
  std::function<void()> on_connection_closed;

  // Closes the sockets of connections with no request in flight (idle_only), or of all.
  // Their sessions see the error at their next read or write and end.
  void close_connections(bool idle_only);
  // Closes the oldest connection with no request in flight (keep-alive idle, or still waiting
  // for its first header): at the connection bound, idle ones make room for new ones. False
  // when every connection is busy.
  bool shed_oldest_idle();
  bool has_connections() const noexcept { return connections_ != nullptr; }

  // Cached IMF-fixdate for the Date header (RFC 9110 section 6.6.1), formatted once a second.
  const std::string& http_date();
  // ferry_deliveries_total{event,outcome} and the handling latency of one delivery.
  void record_delivery(std::string_view event, std::size_t outcome_index,
                       std::chrono::steady_clock::time_point started);

  // The event and outcome label values of ferry_deliveries_total: the events ferry subscribes
  // to or answers, and "other" for the rest, so an unexpected X-GitHub-Event cannot add series.
  static constexpr std::array<std::string_view, 8> k_event_labels = {
      "package",      "registry_package",          "push", "pull_request", "ping",
      "installation", "installation_repositories", "other"};
  static constexpr std::array<std::string_view, 9> k_outcome_labels = {
      "done",      "accepted", "ignored",   "invalid_input", "unauthorized",
      "not_found", "conflict", "transient", "internal"};

 private:
  friend class connection;

  connection* connections_ = nullptr;  // intrusive list of live connections
  std::string date_;
  std::int64_t date_second_ = -1;
  // Delivery counters by (event label, outcome label), looked up once then kept.
  std::array<std::array<counter*, k_outcome_labels.size()>, k_event_labels.size()>
      delivery_counters_{};
};

// Serves one accepted connection until it closes, a deadline passes, or drain ends it.
// Errors are values; only a bug or an allocation failure escapes (the caller logs it).
boost::asio::awaitable<void> run_session(context& ctx, boost::asio::ip::tcp::socket socket);

}  // namespace ferry::service::ingress
