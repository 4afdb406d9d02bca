#pragma once
// A scripted HTTP/1.1 server on 127.0.0.1, port 0, plain or TLS (Beast), running on the
// test's io_context. Each request is recorded and answered by the test's handler; a handler
// can also make the server hang (read, never answer) or close after answering.

#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "test/service/github/test_pki.hpp"

namespace ferry::github::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

struct recorded_request {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  int connection = 0;  // which accepted connection carried it (1-based)
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct scripted_response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool hang = false;         // read the request, never answer
  bool close_after = false;  // answer (advertising keep-alive), then close the connection
};

using handler_fn = std::function<scripted_response(const recorded_request&)>;

class test_server {
 public:
  // tls_identity: nullptr for plain HTTP.
  test_server(asio::io_context& ioc, const identity* tls_identity, handler_fn handler)
      : ioc_(ioc), acceptor_(ioc), handler_(std::move(handler)) {
    if (tls_identity != nullptr) {
      tls_.emplace(asio::ssl::context::tls_server);
      SSL_CTX_use_certificate(tls_->native_handle(), tls_identity->cert.get());
      SSL_CTX_use_PrivateKey(tls_->native_handle(), tls_identity->key.get());
    }
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::string base(const std::string& host = "127.0.0.1") const {
    return std::string(tls_ ? "https://" : "http://") + host + ":" + std::to_string(port());
  }

  int accepts = 0;
  std::vector<recorded_request> requests;
  std::vector<std::string> server_names;  // SNI seen per TLS handshake ("" when none)
  int failed_handshakes = 0;

  int count(const std::string& method, const std::string& target_prefix) const {
    int n = 0;
    for (const auto& r : requests) {
      if (r.method == method && r.target.rfind(target_prefix, 0) == 0) {
        ++n;
      }
    }
    return n;
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        co_return;
      }
      ++accepts;
      asio::co_spawn(ioc_, session(std::move(socket), accepts), asio::detached);
    }
  }

  asio::awaitable<void> session(asio::ip::tcp::socket socket, int connection_number) {
    beast::tcp_stream tcp(std::move(socket));
    if (!tls_) {
      co_await serve(tcp, connection_number);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp), *tls_);
    boost::system::error_code ec;
    co_await stream.async_handshake(asio::ssl::stream_base::server,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      ++failed_handshakes;
      co_return;
    }
    const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
    server_names.push_back(sni == nullptr ? "" : sni);
    co_await serve(stream, connection_number);
  }

  template <typename Stream>
  asio::awaitable<void> serve(Stream& stream, int connection_number) {
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      boost::system::error_code ec;
      co_await bhttp::async_read(stream, buffer, req,
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        co_return;
      }
      recorded_request rec;
      rec.method = std::string(req.method_string());
      rec.target = std::string(req.target());
      for (const auto& f : req) {
        std::string name(f.name_string());
        for (auto& c : name) {
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        rec.headers[name] = std::string(f.value());
      }
      rec.body = req.body();
      rec.connection = connection_number;
      requests.push_back(rec);
      scripted_response answer = handler_(rec);
      if (answer.hang) {
        asio::steady_timer forever(ioc_, std::chrono::hours(1));
        co_await forever.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        co_return;
      }
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(answer.status), 11};
      for (const auto& [k, v] : answer.headers) {
        res.set(k, v);
      }
      if (res.find(bhttp::field::content_type) == res.end()) {
        res.set(bhttp::field::content_type, "application/json");
      }
      res.body() = answer.body;
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !req.keep_alive() || answer.close_after) {
        beast::get_lowest_layer(stream).socket().close(ec);
        co_return;
      }
    }
  }

  asio::io_context& ioc_;
  asio::ip::tcp::acceptor acceptor_;
  std::optional<asio::ssl::context> tls_;
  handler_fn handler_;
};

// Runs one test coroutine on `ioc` to completion (servers keep running until it ends).
// The 60 s bound only stops a broken test from hanging the suite; nothing asserts timing.
template <typename Awaitable>
void run(asio::io_context& ioc, Awaitable body) {
  bool finished = false;
  std::exception_ptr failure;
  asio::co_spawn(ioc, std::move(body), [&](std::exception_ptr e) {
    failure = e;
    finished = true;
    ioc.stop();
  });
  ioc.run_for(std::chrono::seconds(60));
  if (failure) {
    std::rethrow_exception(failure);
  }
  if (!finished) {
    throw std::runtime_error("test coroutine did not finish within 60 s");
  }
}

}  // namespace ferry::github::test
