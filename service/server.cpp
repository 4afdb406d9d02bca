#include "service/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ferry::service {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Errors as values: a failed accept is an ordinary outcome on a server, not an exception.
constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

ingress::session_settings session_settings_of(const server_settings& s) {
  return ingress::session_settings{.header_timeout = s.header_timeout,
                                   .body_timeout = s.body_timeout,
                                   .keep_alive_idle = s.keep_alive_idle,
                                   .write_timeout = s.write_timeout,
                                   .lingering_close_timeout = s.lingering_close_timeout,
                                   .delivery_deadline = s.delivery_deadline,
                                   .body_max = s.body_max,
                                   .header_max = s.header_max,
                                   .body_budget = s.body_budget,
                                   .health_only = s.health_only};
}

// The completion handler of a spawned coroutine: what escaped it is logged, never rethrown.
auto log_escaped(const log::logger& log, const char* what) {
  return [&log, what](std::exception_ptr e) {
    if (!e) {
      return;
    }
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log.error(std::string(what) + " by an exception", {{"error", ex.what()}});
    } catch (...) {
      log.error(std::string(what) + " by an unknown exception");
    }
  };
}

}  // namespace

server::server(net::io_context& ioc, server_settings settings, dispatch_fn dispatch,
               log::logger log, metrics& m)
    : ioc_(ioc),
      settings_(std::move(settings)),
      log_(log),
      ingress_(session_settings_of(settings_), std::move(dispatch), std::move(log), m,
               settings_.webhook_secret),
      acceptor_(ioc),
      slot_timer_(ioc),
      drain_timer_(ioc) {
  // The verifier holds the key from here on; the settings copy need not keep the secret.
  const bool has_secret = !settings_.webhook_secret.empty();
  settings_.webhook_secret.assign(has_secret ? "set" : "");
  ingress_.on_connection_closed = [this] { connection_closed(); };
}

// Sessions still alive (the io_context was stopped, not drained) are destroyed later with the
// io_context; ~context detaches them so they do not reach back into this object.
server::~server() = default;

result<tcp::endpoint> server::start() {
  if (settings_.webhook_secret.empty() && !settings_.health_only) {
    return make_error(error_kind::invalid_input, "the webhook secret is empty");
  }
  const std::string where = settings_.address + ":" + std::to_string(settings_.port);
  boost::system::error_code ec;
  tcp::endpoint endpoint;
  const auto address = net::ip::make_address(settings_.address, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, settings_.port);
  } else {
    tcp::resolver resolver(ioc_);
    const auto results = resolver.resolve(settings_.address, std::to_string(settings_.port),
                                          tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return make_error(error_kind::invalid_input,
                        "listen on " + where + ": cannot resolve the address: " + ec.message());
    }
    endpoint = results.begin()->endpoint();
  }
  const auto fail = [&](const char* step) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return make_error(error_kind::invalid_input,
                      "listen on " + where + ": " + step + ": " + ec.message());
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) {
    return fail("open");
  }
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) {
    return fail("set SO_REUSEADDR");
  }
  acceptor_.bind(endpoint, ec);
  if (ec) {
    return fail("bind");
  }
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return fail("listen");
  }
  const auto bound = acceptor_.local_endpoint(ec);
  if (ec) {
    return fail("local address");
  }
  net::co_spawn(ioc_, accept_loop(), log_escaped(log_, "listener stopped"));
  ingress_.ready.store(true, std::memory_order_relaxed);
  log_.info("listening",
            {{"address", bound.address().to_string()}, {"port", std::to_string(bound.port())}});
  return bound;
}

net::awaitable<void> server::accept_loop() {
  while (!ingress_.draining) {
    // At the connection bound, stop accepting until one ends; the kernel's backlog holds the
    // newcomers meanwhile.
    while (active_connections() >= settings_.max_connections && !ingress_.draining) {
      // Wait for a newcomer in the kernel's backlog (without accepting it yet).
      auto [wait_ec] = co_await acceptor_.async_wait(tcp::acceptor::wait_read, use_nothrow);
      if (wait_ec || ingress_.draining || active_connections() < settings_.max_connections) {
        break;
      }
      // Idle connections make room (oldest first): a flood of idle ones cannot keep new
      // requests, probes included, waiting. The shed session ends and wakes this loop; when
      // every connection is busy, the newcomer waits in the backlog for a slot.
      ingress_.shed_oldest_idle();
      slot_timer_.expires_at(net::steady_timer::time_point::max());
      co_await slot_timer_.async_wait(use_nothrow);
    }
    if (ingress_.draining) {
      break;
    }
    auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
    if (ec) {
      if (ec == net::error::operation_aborted || ingress_.draining) {
        break;
      }
      log_.warn("accept failed", {{"error", ec.message()}});
      slot_timer_.expires_after(limits::k_accept_retry_delay);
      co_await slot_timer_.async_wait(use_nothrow);
      continue;
    }
    boost::system::error_code ignored;
    // One write per answer; without this, Nagle's algorithm can hold a 100 Continue or a short
    // answer behind the client's delayed ACK.
    socket.set_option(tcp::no_delay(true), ignored);
    net::co_spawn(ioc_, ingress::run_session(ingress_, std::move(socket)),
                  log_escaped(log_, "connection ended"));
  }
}

void server::connection_closed() {
  slot_timer_.cancel();  // wakes the listener if it waits for a free slot
  if (ingress_.draining && !ingress_.has_connections()) {
    finish_drain();
  }
}

void server::drain(std::function<void()> on_drained) {
  if (ingress_.draining) {
    return;
  }
  ingress_.draining = true;
  ingress_.ready.store(false, std::memory_order_relaxed);
  on_drained_ = std::move(on_drained);
  log_.info("draining", {{"connections", std::to_string(active_connections())}});
  boost::system::error_code ignored;
  acceptor_.close(ignored);  // new connections are refused from here on
  slot_timer_.cancel();
  // Idle connections have nothing in flight: close them now. Busy ones answer, then close.
  ingress_.close_connections(/*idle_only=*/true);
  if (!ingress_.has_connections()) {
    finish_drain();
    return;
  }
  drain_timer_.expires_after(settings_.drain_timeout);
  drain_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || drain_finished_) {
      return;
    }
    log_.warn("drain timeout: closing connections still in flight",
              {{"connections", std::to_string(active_connections())}});
    ingress_.close_connections(/*idle_only=*/false);
    finish_drain();
  });
}

void server::finish_drain() {
  if (drain_finished_) {
    return;
  }
  drain_finished_ = true;
  drain_timer_.cancel();
  log_.info("drained");
  if (on_drained_) {
    // Posted, not called: this may run inside a connection's destructor.
    net::post(ioc_, std::move(on_drained_));
    on_drained_ = nullptr;
  }
}

}  // namespace ferry::service
