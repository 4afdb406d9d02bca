// run_register: the loopback server of `ferry register`. One io_context thread; the form on
// GET /, GitHub's redirect on GET /callback. Requests are small GETs from a browser on this
// machine; every answer closes its connection.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>

#include <memory>
#include <optional>

#include "service/register/register.hpp"

namespace ferry::registration {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

std::string small_page(std::string_view title, std::string_view text) {
  return "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>ferry register</title>"
         "</head>\n<body><h1>" +
         std::string(title) + "</h1><p>" + std::string(text) + "</p></body></html>\n";
}

struct flow {
  register_options opts;
  std::string state;
  std::string manifest;
  std::string page;
  unsigned short port = 0;
  github::http_client* http = nullptr;
  tcp::acceptor* acceptor = nullptr;
  net::steady_timer* timer = nullptr;
  std::FILE* err = nullptr;
  bool exchanging = false;
  bool finished = false;
  // Set when the flow ends: the credentials written, or why not.
  std::optional<result<app_credentials>> outcome;

  void finish(result<app_credentials> r) {
    if (finished) {
      return;
    }
    finished = true;
    outcome = std::move(r);
    beast::error_code ignored;
    acceptor->close(ignored);
    timer->cancel();
    // Stops the loop once the current handler returns: connections still open (a browser's
    // speculative preconnect) must not keep the command alive.
    auto& ioc = static_cast<net::io_context&>(acceptor->get_executor().context());
    net::post(ioc, [&ioc] { ioc.stop(); });
  }
};

// The Host header names this server: a page read through another name (DNS rebinding) would
// hand the state to a foreign origin.
bool host_is_ours(std::string_view host, unsigned short port) {
  const std::string p = ":" + std::to_string(port);
  for (std::string_view name : {"127.0.0.1", "localhost"}) {
    if (host == name || host == std::string(name) + p) {
      return true;
    }
  }
  return false;
}

struct reply {
  reply() = default;
  reply(http::status s, std::string b) : status(s), body(std::move(b)) {}
  http::status status = http::status::ok;
  std::string body;
  // The flow's end, applied once this answer is written (so the browser gets its page).
  std::optional<result<app_credentials>> outcome;
};

net::awaitable<reply> callback(flow& f, const boost::urls::url_view& target) {
  if (f.finished || f.exchanging) {
    co_return reply{http::status::conflict,
                    small_page("Already handled",
                               "This registration has already received its "
                               "answer from GitHub. Return to the terminal.")};
  }
  const auto params = target.params();
  const auto code = params.find("code");
  const auto state = params.find("state");
  if (code == params.end() || state == params.end() || !(*code).has_value || !(*state).has_value) {
    co_return reply{http::status::bad_request,
                    small_page("Not a GitHub redirect", "The callback needs code and state.")};
  }
  if (!state_matches(f.state, (*state).value)) {
    std::fprintf(f.err,
                 "ferry register: refused a callback whose state does not match the form's "
                 "(it did not come from this registration); still waiting\n");
    co_return reply{http::status::bad_request,
                    small_page("State mismatch",
                               "This callback does not belong to the form "
                               "ferry served. Nothing was done.")};
  }
  f.exchanging = true;
  auto app = co_await exchange_code(*f.http, f.opts.api_url, std::string((*code).value));
  if (app) {
    if (auto w = write_credentials(f.opts.out_dir, *app, f.opts.force); !w) {
      app = w.error();
    }
  }
  reply r = app ? reply{http::status::ok,
                        small_page("Done",
                                   "The GitHub App is registered and its credentials are "
                                   "written. Return to the terminal for the next steps.")}
                : reply{http::status::bad_gateway,
                        small_page("Registration failed",
                                   "ferry could not finish the registration; the terminal says "
                                   "why. Nothing was written.")};
  r.outcome = std::move(app);
  co_return r;
}

net::awaitable<void> serve_connection(flow& f, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  stream.expires_after(limits::k_register_read_timeout);
  beast::flat_buffer buffer;
  http::request_parser<http::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits::k_register_request_max));
  parser.body_limit(0);
  auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
  (void)n;
  if (ec) {
    co_return;
  }
  const auto& req = parser.get();
  reply r;
  auto target = boost::urls::parse_origin_form(req.target());
  if (!host_is_ours(req[http::field::host], f.port)) {
    r = reply{http::status::bad_request,
              small_page("Wrong host", "Open the address ferry printed.")};
  } else if (req.method() != http::verb::get) {
    r = reply{http::status::method_not_allowed, small_page("Method not allowed", "GET only.")};
  } else if (!target) {
    r = reply{http::status::bad_request, small_page("Bad request", "Unreadable target.")};
  } else if (target->path() == "/") {
    r = reply{http::status::ok, f.page};
  } else if (target->path() == "/callback") {
    r = co_await callback(f, *target);
  } else {
    r = reply{http::status::not_found, small_page("Not found", "Open the address ferry printed.")};
  }
  http::response<http::string_body> res{r.status, req.version()};
  res.set(http::field::content_type, "text/html; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  // The callback URL carries the code: no page here may leak it to another origin.
  res.set("Referrer-Policy", "no-referrer");
  res.set(http::field::connection, "close");
  res.body() = std::move(r.body);
  res.prepare_payload();
  stream.expires_after(limits::k_register_read_timeout);
  co_await http::async_write(stream, res, use_nothrow);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  if (r.outcome) {
    f.finish(std::move(*r.outcome));
  }
}

net::awaitable<void> accept_loop(flow& f) {
  for (;;) {
    auto [ec, socket] = co_await f.acceptor->async_accept(use_nothrow);
    if (ec) {
      co_return;  // closed by finish()
    }
    net::co_spawn(f.acceptor->get_executor(), serve_connection(f, std::move(socket)),
                  net::detached);
  }
}

}  // namespace

int run_register(const register_options& given, std::FILE* out, std::FILE* err) {
  auto o = validated(given);
  if (!o) {
    std::fprintf(err, "ferry register: %s\n", o.error().message.c_str());
    return 2;
  }
  if (auto w = check_writable(o->out_dir, o->force); !w) {
    std::fprintf(err, "ferry register: %s\n", w.error().message.c_str());
    return 2;
  }
  auto state = new_state();
  if (!state) {
    std::fprintf(err, "ferry register: %s\n", state.error().message.c_str());
    return 1;
  }
  // Declared before the io_context so it is destroyed after it (coroutines suspended in the
  // loop hold references to it).
  std::unique_ptr<github::http_client> http;
  net::io_context ioc{1};
  github::http_settings hs;
  hs.ca_file = o->ca_file;
  hs.response_body_max = limits::k_register_conversion_max;
  auto made = github::http_client::create(ioc.get_executor(), std::move(hs));
  if (!made) {
    std::fprintf(err, "ferry register: %s\n", made.error().message.c_str());
    return 2;
  }
  http = std::move(*made);

  tcp::acceptor acceptor(ioc);
  beast::error_code ec;
  const tcp::endpoint at(net::ip::make_address_v4("127.0.0.1"), o->port);
  acceptor.open(at.protocol(), ec);
  if (!ec) {
    acceptor.bind(at, ec);
  }
  if (!ec) {
    acceptor.listen(net::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    std::fprintf(err, "ferry register: cannot listen on 127.0.0.1:%u: %s\n",
                 static_cast<unsigned>(o->port), ec.message().c_str());
    return 2;
  }
  net::steady_timer timer(ioc);

  flow f;
  f.opts = *o;
  f.state = *state;
  f.port = acceptor.local_endpoint().port();
  f.http = http.get();
  f.acceptor = &acceptor;
  f.timer = &timer;
  f.err = err;
  const std::string local = "http://127.0.0.1:" + std::to_string(f.port);
  f.manifest = manifest_json(f.opts, local + "/callback");
  f.page = form_page(form_action(f.opts, f.state), f.manifest);

  std::fprintf(err,
               "ferry register: open %s/ in a browser signed in to %s as an owner of %s, and "
               "confirm the App there (waiting %lld minutes)\n",
               local.c_str(), f.opts.github_url.c_str(), f.opts.org.c_str(),
               static_cast<long long>(
                   std::chrono::duration_cast<std::chrono::minutes>(f.opts.wait).count()));
  std::fflush(err);

  timer.expires_after(f.opts.wait);
  timer.async_wait([&f](beast::error_code e) {
    if (!e) {
      f.finish(make_error(error_kind::transient,
                          "no answer from GitHub in time: nothing was written; run `ferry "
                          "register` again and confirm the App in the browser"));
    }
  });
  net::co_spawn(ioc, accept_loop(f), net::detached);
  ioc.run();
  http->close_idle_connections();

  if (!f.outcome || !*f.outcome) {
    std::fprintf(err, "ferry register: %s\n",
                 f.outcome ? f.outcome->error().message.c_str() : "stopped");
    return 1;
  }
  const std::string steps = next_steps(f.opts, **f.outcome);
  std::fputs(steps.c_str(), out);
  return 0;
}

}  // namespace ferry::registration
