#pragma once
// The `ferry serve` HTTP listener and its lifecycle (start, the connection bound, drain). The
// ingress itself, what one connection does, lives in service/ingress/:
//   request_head.hpp  reading a request's head and body (a Beast parser keeping what we need)
//   guards.hpp        the webhook's guards in SPEC's order, pure functions
//   session.hpp       one connection: keep-alive loop, routing, dispatch, answers
//
// What the endpoints answer (SPEC: "HTTP endpoints"):
//   POST /webhook  guards in SPEC's order, each answering early:
//                  413 body over body_max (Content-Length refused before any body byte is read;
//                      a chunked body is cut off at the limit while reading)
//                  401 X-Hub-Signature-256 missing or not the HMAC-SHA256 of the raw body
//                  415 Content-Type other than application/json or
//                      application/x-www-form-urlencoded (its `payload` field holds the JSON)
//                  400 X-GitHub-Event or X-GitHub-Delivery missing, or the body not parsing
//                  then dispatch, answered with http_status_for() (200/202/204/500/503)
//   GET /healthz   200 while the process runs
//   GET /readyz    200 while listening and not draining, else 503
//   GET /metrics   Prometheus text format 0.0.4
//   anything else  404; a known path with another method 405 (with Allow)
//
// One coroutine per connection (Beast's awaitable server): a fresh parser per request with
// header and body limits, a deadline before every read and write, keep-alive, and at most
// max_connections connections (at the bound the oldest idle connection is closed to make room;
// when every one is busy the listener stops accepting and the kernel's backlog holds new ones). The
// server runs on a single-threaded io_context: its own state is touched only from that thread,
// metrics are atomics.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "service/dispatch.hpp"
#include "service/ingress/session.hpp"
#include "service/limits.hpp"
#include "service/log.hpp"
#include "service/metrics.hpp"
#include "service/result.hpp"

namespace ferry::service {

struct server_settings {
  std::string address = "0.0.0.0";  // an IP literal or a host name resolved once at start()
  std::uint16_t port = 8080;        // 0: any free port (start() returns the one bound)
  std::string webhook_secret;       // required; never logged
  std::chrono::steady_clock::duration header_timeout = limits::k_header_read_timeout;
  std::chrono::steady_clock::duration body_timeout = limits::k_body_read_timeout;
  std::chrono::steady_clock::duration keep_alive_idle = limits::k_keep_alive_idle;
  std::chrono::steady_clock::duration write_timeout = limits::k_write_timeout;
  std::chrono::steady_clock::duration drain_timeout = limits::k_drain_timeout;
  std::chrono::steady_clock::duration lingering_close_timeout = limits::k_lingering_close_timeout;
  // The handling of one delivery is cut off after this long and answered 503 (GitHub records a
  // failed delivery and it is redelivered); tests lower it.
  std::chrono::steady_clock::duration delivery_deadline = limits::k_delivery_deadline;
  std::size_t max_connections = limits::k_max_connections;
  std::size_t body_max = limits::k_webhook_body_max;
  std::size_t header_max = limits::k_header_max;
  std::size_t body_budget = limits::k_body_bytes_in_flight_max;
  // A health listener (FERRY_HEALTH_LISTEN): /healthz, /readyz and /metrics only, no secret
  // needed; probes and scrapes there never queue behind webhook traffic.
  bool health_only = false;
};

class server {
 public:
  // Nothing happens until start(). dispatch is called once per authenticated, parsed delivery
  // on the io_context's thread; the delivery and everything it points to live until the
  // awaitable completes. log gets the server's lines; each delivery's lines carry "delivery" and
  // "event" fields.
  server(boost::asio::io_context& ioc, server_settings settings, dispatch_fn dispatch,
         log::logger log, metrics& m);
  // Requires that no coroutine of this server runs again: destroy it after drain() completed
  // and io_context::run() returned, or after the io_context was stopped.
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds, listens and starts accepting. Returns the endpoint actually bound (port 0 becomes
  // the kernel's choice); an error (address in use, bad address, empty secret) names the
  // address and the reason.
  result<boost::asio::ip::tcp::endpoint> start();

  // /readyz: true after start() succeeded and until drain() is called. Any thread may read it.
  bool ready() const noexcept { return ingress_.ready.load(std::memory_order_relaxed); }

  // Call on the io_context's thread (e.g. from an asio::signal_set handler on SIGTERM).
  // Stops accepting (new connections are refused), closes idle keep-alive connections, lets
  // requests whose header has arrived finish and answer (with "Connection: close"), and after
  // settings.drain_timeout closes whatever is left. on_drained runs once, on the io_context's
  // thread, when the last connection has ended or the timeout has passed. After it, the server
  // holds no more work, so io_context::run() returns once the caller's other work ends too.
  void drain(std::function<void()> on_drained = {});

  // /readyz here answers for `webhook`'s readiness (a health listener's probes follow the
  // webhook listener: not ready while it drains). `webhook` must outlive this server.
  void follow_readiness_of(const server& webhook) noexcept {
    ingress_.ready_source = &webhook.ingress_.ready;
  }

  // Deliveries `decide` answers (from the payload and memory alone) skip dispatch and its
  // deadline race. Call before start().
  void set_decider(decide_fn decide) { ingress_.decide = std::move(decide); }

  // Open connections. Any thread may read it.
  std::size_t active_connections() const noexcept {
    return ingress_.active.load(std::memory_order_relaxed);
  }

 private:
  boost::asio::awaitable<void> accept_loop();
  void connection_closed();
  void finish_drain();

  boost::asio::io_context& ioc_;
  server_settings settings_;  // the secret replaced by "set": the verifier holds the key
  log::logger log_;
  ingress::context ingress_;  // what every session shares (service/ingress/session.hpp)
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer slot_timer_;   // the listener waits on it while at max_connections
  boost::asio::steady_timer drain_timer_;  // bounds drain()
  bool drain_finished_ = false;
  std::function<void()> on_drained_;
};

}  // namespace ferry::service
