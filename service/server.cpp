#include "service/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>

#include <charconv>
#include <ctime>
#include <optional>

#include "service/events/events.hpp"

namespace ferry::service {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

// Errors as values: a failed read or write is an ordinary outcome on a server, not an exception.
constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

// The first read on an idle keep-alive connection (Beast's own reads size themselves): large
// enough that a typical delivery (GitHub's headers plus a 10-15 KB package event) arrives in
// one recv instead of several.
constexpr std::size_t k_idle_read_size = 16u * 1024u;
// Beast reads at most 64 KiB at a time (beast::http::detail::read_size default); the
// connection's read buffer holds at most a full header plus one such read.
constexpr std::size_t k_read_chunk = 64u * 1024u;

// Event labels for ferry_deliveries_total: the events ferry subscribes to or answers, and
// "other" for the rest, so an unexpected X-GitHub-Event cannot add series.
constexpr std::array<std::string_view, 8> k_event_labels = {
    "package",      "registry_package",          "push", "pull_request", "ping",
    "installation", "installation_repositories", "other"};

constexpr std::array<std::string_view, 9> k_outcome_labels = {
    "done",      "accepted", "ignored",   "invalid_input", "unauthorized",
    "not_found", "conflict", "transient", "internal"};

std::size_t event_label_index(std::string_view event) {
  for (std::size_t i = 0; i + 1 < k_event_labels.size(); ++i) {
    if (k_event_labels[i] == event) {
      return i;
    }
  }
  return k_event_labels.size() - 1;
}

std::size_t outcome_label_index(const handler_result& r) {
  if (r.ok()) {
    return static_cast<std::size_t>(*r);  // done, accepted, ignored in enum order
  }
  switch (r.error().kind) {
    case error_kind::invalid_input:
      return 3;
    case error_kind::unauthorized:
      return 4;
    case error_kind::not_found:
      return 5;
    case error_kind::conflict:
      return 6;
    case error_kind::transient:
      return 7;
    case error_kind::internal:
      return 8;
  }
  return 8;
}
static_assert(static_cast<int>(outcome::done) == 0 && static_cast<int>(outcome::accepted) == 1 &&
              static_cast<int>(outcome::ignored) == 2);

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

// Media type of a Content-Type value without its parameters, trimmed ("application/json" from
// "Application/JSON; charset=utf-8"); RFC 9110 section 8.3.1: type and subtype are
// case-insensitive.
enum class body_format { json, form, unsupported };

body_format media_type_of(std::string_view content_type) {
  const auto semi = content_type.find(';');
  std::string_view type = content_type.substr(0, semi);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) {
    type.remove_prefix(1);
  }
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) {
    type.remove_suffix(1);
  }
  if (beast::iequals(type, "application/json")) {
    return body_format::json;
  }
  if (beast::iequals(type, "application/x-www-form-urlencoded")) {
    return body_format::form;
  }
  return body_format::unsupported;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// GitHub's form content type sends the JSON as the `payload` field of an
// application/x-www-form-urlencoded body (docs.github.com: "Creating webhooks", content type).
// Decodes that field into out ('+' is a space, %XX a byte: WHATWG URL "application/
// x-www-form-urlencoded parsing"). False when the field is missing or an escape is malformed.
bool extract_form_payload(std::string_view body, std::string& out) {
  while (!body.empty()) {
    const auto amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != "payload" || eq == std::string_view::npos) {
      continue;
    }
    const std::string_view value = pair.substr(eq + 1);
    out.clear();
    out.reserve(value.size() + limits::k_json_padding);
    for (std::size_t i = 0; i < value.size(); ++i) {
      const char c = value[i];
      if (c == '+') {
        out += ' ';
      } else if (c == '%') {
        if (i + 2 >= value.size()) {
          return false;
        }
        const int hi = hex_digit(value[i + 1]);
        const int lo = hex_digit(value[i + 2]);
        if (hi < 0 || lo < 0) {
          return false;
        }
        out += static_cast<char>(hi << 4 | lo);
        i += 2;
      } else {
        out += c;
      }
    }
    return true;
  }
  return false;
}

std::string_view target_path(std::string_view target) {
  return target.substr(0, target.find('?'));
}

}  // namespace

// The request line and the few headers the ingress reads. Strings keep their capacity between
// requests on a connection, so a keep-alive delivery allocates nothing here.
struct request_head {
  http::verb method = http::verb::unknown;
  int version = 11;
  std::string target;
  std::string content_type;
  std::string signature;
  std::string event;
  std::string delivery;
  int signature_count = 0;
  int event_count = 0;
  int delivery_count = 0;
  bool expect_continue = false;

  void clear() {
    method = http::verb::unknown;
    version = 11;
    target.clear();
    content_type.clear();
    signature.clear();
    event.clear();
    delivery.clear();
    signature_count = event_count = delivery_count = 0;
    expect_continue = false;
  }
};

// A Beast parser that keeps only what the ingress needs: the head above, and the body appended
// to the connection's reused buffer. basic_parser enforces header_limit and body_limit itself
// (a Content-Length above the limit fails with error::body_limit before any body byte is
// consumed; chunked data fails as soon as the running total passes it), so the buffer never
// holds more than the limit. A fresh one is made for every request.
class server::parser final : public http::basic_parser<true> {
 public:
  parser(request_head& head, std::string& body, std::size_t body_max, std::size_t header_max)
      : head_(head), body_(body) {
    head_.clear();
    body_.clear();
    header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(header_max, UINT32_MAX)));
    body_limit(body_max);
  }

 private:
  void on_request_impl(http::verb method, beast::string_view, beast::string_view target,
                       int version, beast::error_code&) override {
    head_.method = method;
    head_.target.assign(target.data(), target.size());
    head_.version = version;
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code&) override {}
  void on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                     beast::error_code&) override {
    const std::string_view v(value.data(), value.size());
    if (name == http::field::content_type) {
      head_.content_type.assign(v);
    } else if (name == http::field::expect) {
      head_.expect_continue = beast::iequals(value, "100-continue");
    } else if (beast::iequals(name_string, "X-Hub-Signature-256")) {
      head_.signature.assign(v);
      ++head_.signature_count;
    } else if (beast::iequals(name_string, "X-GitHub-Event")) {
      head_.event.assign(v);
      ++head_.event_count;
    } else if (beast::iequals(name_string, "X-GitHub-Delivery")) {
      head_.delivery.assign(v);
      ++head_.delivery_count;
    }
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         beast::error_code&) override {
    if (length) {
      // Checked against body_limit by basic_parser before this call; the padding lets the events
      // parser read in place.
      body_.reserve(static_cast<std::size_t>(*length) + limits::k_json_padding);
    }
  }
  std::size_t on_body_impl(beast::string_view s, beast::error_code&) override {
    body_.append(s.data(), s.size());
    return s.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view s, beast::error_code&) override {
    body_.append(s.data(), s.size());
    return s.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  request_head& head_;
  std::string& body_;
};

// Everything one connection owns. It lives in its coroutine's frame (no shared_ptr): the frame
// ends when the connection does.
struct server::connection {
  connection(server& s, tcp::socket socket)
      : owner(&s), stream(std::move(socket)), buffer(s.settings_.header_max + k_read_chunk) {
    owner->add_connection(*this);
  }
  ~connection() {
    if (owner != nullptr) {
      owner->remove_connection(*this);
    }
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  std::string remote() const {
    beast::error_code ec;
    const auto ep = stream.socket().remote_endpoint(ec);
    if (ec) {
      return "unknown";
    }
    return ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  server* owner;  // null once the server is gone (see ~server)
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  request_head head;
  std::string body;
  std::string json;      // the decoded `payload` of a form-encoded delivery
  std::string response;  // the answer being written
  std::string scratch;   // a response body built on the fly (/metrics)
  bool busy = false;     // a request's header has arrived: drain lets it finish
  bool linger = false;   // answered with "Connection: close": drain the socket before closing
  connection* prev = nullptr;
  connection* next = nullptr;
};

server::server(net::io_context& ioc, server_settings settings, dispatch_fn dispatch,
               log::logger log, metrics& m)
    : ioc_(ioc),
      settings_(std::move(settings)),
      dispatch_(std::move(dispatch)),
      log_(std::move(log)),
      metrics_(m),
      verifier_(settings_.webhook_secret),
      acceptor_(ioc),
      slot_timer_(ioc),
      drain_timer_(ioc) {
  // The verifier holds the key from here on; the settings copy need not keep the secret.
  const bool has_secret = !settings_.webhook_secret.empty();
  settings_.webhook_secret.assign(has_secret ? "set" : "");
}

server::~server() {
  // Coroutine frames still alive (the io_context was stopped, not drained) are destroyed later
  // with the io_context; their connections must not reach back into this object.
  for (connection* c = connections_; c != nullptr; c = c->next) {
    c->owner = nullptr;
  }
}

result<tcp::endpoint> server::start() {
  if (settings_.webhook_secret.empty()) {
    return make_error(error_kind::invalid_input, "the webhook secret is empty");
  }
  const std::string where = settings_.address + ":" + std::to_string(settings_.port);
  beast::error_code ec;
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
    beast::error_code ignored;
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
  net::co_spawn(ioc_, accept_loop(), [this](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log_.error("listener stopped by an exception", {{"error", ex.what()}});
      } catch (...) {
        log_.error("listener stopped by an unknown exception");
      }
    }
  });
  ready_.store(true, std::memory_order_relaxed);
  log_.info("listening",
            {{"address", bound.address().to_string()}, {"port", std::to_string(bound.port())}});
  return bound;
}

net::awaitable<void> server::accept_loop() {
  while (!draining_) {
    // At the connection bound, stop accepting until one ends; the kernel's backlog holds the
    // newcomers meanwhile.
    while (active_.load(std::memory_order_relaxed) >= settings_.max_connections && !draining_) {
      slot_timer_.expires_at(net::steady_timer::time_point::max());
      co_await slot_timer_.async_wait(use_nothrow);
    }
    if (draining_) {
      break;
    }
    auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
    if (ec) {
      if (ec == net::error::operation_aborted || draining_) {
        break;
      }
      log_.warn("accept failed", {{"error", ec.message()}});
      slot_timer_.expires_after(limits::k_accept_retry_delay);
      co_await slot_timer_.async_wait(use_nothrow);
      continue;
    }
    beast::error_code ignored;
    // One write per answer; without this, Nagle's algorithm can hold a 100 Continue or a short
    // answer behind the client's delayed ACK.
    socket.set_option(tcp::no_delay(true), ignored);
    net::co_spawn(ioc_, session(std::move(socket)), [this](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log_.error("connection ended by an exception", {{"error", ex.what()}});
        } catch (...) {
          log_.error("connection ended by an unknown exception");
        }
      }
    });
  }
}

void server::add_connection(connection& c) {
  c.next = connections_;
  if (connections_ != nullptr) {
    connections_->prev = &c;
  }
  connections_ = &c;
  active_.fetch_add(1, std::memory_order_relaxed);
  metrics_.connections_active.add(1);
}

void server::remove_connection(connection& c) {
  if (c.prev != nullptr) {
    c.prev->next = c.next;
  } else {
    connections_ = c.next;
  }
  if (c.next != nullptr) {
    c.next->prev = c.prev;
  }
  active_.fetch_sub(1, std::memory_order_relaxed);
  metrics_.connections_active.add(-1);
  slot_timer_.cancel();  // wakes the listener if it waits for a free slot
  if (draining_ && connections_ == nullptr) {
    finish_drain();
  }
}

void server::drain(std::function<void()> on_drained) {
  if (draining_) {
    return;
  }
  draining_ = true;
  ready_.store(false, std::memory_order_relaxed);
  on_drained_ = std::move(on_drained);
  log_.info("draining", {{"connections", std::to_string(active_connections())}});
  beast::error_code ignored;
  acceptor_.close(ignored);  // new connections are refused from here on
  slot_timer_.cancel();
  // Idle connections have nothing in flight: close them now. Busy ones answer, then close.
  for (connection* c = connections_; c != nullptr; c = c->next) {
    if (!c->busy) {
      c->stream.socket().close(ignored);
    }
  }
  if (connections_ == nullptr) {
    finish_drain();
    return;
  }
  drain_timer_.expires_after(settings_.drain_timeout);
  drain_timer_.async_wait([this](beast::error_code ec) {
    if (ec || drain_finished_) {
      return;
    }
    log_.warn("drain timeout: closing connections still in flight",
              {{"connections", std::to_string(active_connections())}});
    beast::error_code ignored_close;
    for (connection* c = connections_; c != nullptr; c = c->next) {
      c->stream.socket().close(ignored_close);
    }
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

const std::string& server::http_date() {
  // RFC 9110 section 6.6.1: an origin server with a clock sends Date; IMF-fixdate format.
  // Formatted once a second, not per response.
  const auto now = std::chrono::system_clock::now();
  const auto second = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
  if (second.count() != date_second_) {
    date_second_ = second.count();
    const std::time_t t = static_cast<std::time_t>(date_second_);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    const auto n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    date_.assign(buf, n);
  }
  return date_;
}

net::awaitable<bool> server::respond(connection& c, int status, std::string_view content_type,
                                     std::string_view body, bool keep_alive,
                                     std::string_view extra_headers, bool head_only) {
  // The answer is formatted by hand into the connection's reused buffer: Beast's message and
  // serializer would allocate a field list per response, and every answer here is a status, a
  // handful of fixed headers and a short body.
  keep_alive = keep_alive && !draining_;  // a draining server tells every client to go
  std::string& r = c.response;
  r.clear();
  r += "HTTP/1.1 ";
  char num[24];
  r.append(num, std::to_chars(num, num + sizeof num, status).ptr);
  r += ' ';
  const auto reason = http::obsolete_reason(static_cast<http::status>(status));
  r.append(reason.data(), reason.size());
  r += "\r\nDate: ";
  r += http_date();
  r += "\r\n";
  // RFC 9110 section 8.6: no Content-Length in a 204.
  if (status != 204) {
    if (!content_type.empty()) {
      r += "Content-Type: ";
      r += content_type;
      r += "\r\n";
    }
    r += "Content-Length: ";
    r.append(num, std::to_chars(num, num + sizeof num, body.size()).ptr);
    r += "\r\n";
  }
  r += extra_headers;
  if (!keep_alive) {
    r += "Connection: close\r\n";
  } else if (c.head.version == 10) {
    r += "Connection: keep-alive\r\n";  // HTTP/1.0 closes unless told otherwise
  }
  r += "\r\n";
  if (status != 204 && !head_only) {
    r += body;
  }
  c.linger = !keep_alive;
  c.stream.expires_after(settings_.write_timeout);
  auto [ec, n] = co_await net::async_write(c.stream, net::buffer(r), use_nothrow);
  (void)n;
  co_return !ec;
}

server::route_result server::reject(connection& c, int status, std::string_view reason,
                                    std::string_view detail) {
  metrics_.webhook_rejections.with({reason}).inc();
  if (log_.enabled(log::level::warn)) {
    log_.warn("webhook rejected", {{"status", std::to_string(status)},
                                   {"reason", std::string(reason)},
                                   {"detail", std::string(detail)},
                                   {"delivery", c.head.delivery},
                                   {"event", c.head.event},
                                   {"remote", c.remote()}});
  }
  return route_result::close;
}

void server::record_delivery(std::string_view event, std::string_view outcome,
                             std::chrono::steady_clock::time_point started) {
  static_assert(k_event_labels.size() == k_event_label_count &&
                k_outcome_labels.size() == k_outcome_label_count);
  const std::size_t e = event_label_index(event);
  std::size_t o = 0;
  while (o + 1 < k_outcome_labels.size() && k_outcome_labels[o] != outcome) {
    ++o;
  }
  counter*& slot = delivery_counters_[e][o];
  if (slot == nullptr) {
    slot = &metrics_.deliveries.with({k_event_labels[e], k_outcome_labels[o]});
  }
  slot->inc();
  metrics_.delivery_duration.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

net::awaitable<void> server::session(tcp::socket socket) {
  connection c(*this, std::move(socket));
  bool first = true;
  while (!draining_) {
    c.busy = false;
    if (!first && c.buffer.size() == 0) {
      // Keep-alive idle: wait for the next request's first bytes.
      c.stream.expires_after(settings_.keep_alive_idle);
      auto [ec, n] =
          co_await c.stream.async_read_some(c.buffer.prepare(k_idle_read_size), use_nothrow);
      if (ec) {
        break;  // idle timeout, the client closed, or drain() closed an idle connection
      }
      c.buffer.commit(n);
    }
    first = false;
    if (co_await serve_one(c) == route_result::close) {
      break;
    }
    // Release a large delivery's buffer rather than keep it for the connection's lifetime.
    if (c.body.capacity() > limits::k_retained_body_capacity) {
      std::string().swap(c.body);
    }
    if (c.json.capacity() > limits::k_retained_body_capacity) {
      std::string().swap(c.json);
    }
  }
  if (c.linger && c.stream.socket().is_open()) {
    co_await lingering_close(c);
  }
  beast::error_code ignored;
  c.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  c.stream.socket().close(ignored);
}

net::awaitable<void> server::lingering_close(connection& c) {
  // Stop sending, then read and discard what the client still sends (up to a bound) so the
  // answer already written is not destroyed by a TCP reset (RFC 9112 section 9.6).
  beast::error_code ec;
  c.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) {
    co_return;
  }
  c.stream.expires_after(settings_.lingering_close_timeout);
  std::size_t discarded = 0;
  std::array<char, 4096> sink{};
  while (discarded < limits::k_lingering_close_bytes) {
    auto [rec, n] = co_await c.stream.async_read_some(net::buffer(sink), use_nothrow);
    if (rec) {
      break;
    }
    discarded += n;
  }
}

net::awaitable<server::route_result> server::serve_one(connection& c) {
  parser p(c.head, c.body, settings_.body_max, settings_.header_max);
  c.stream.expires_after(settings_.header_timeout);
  {
    auto [ec, n] = co_await http::async_read_header(c.stream, c.buffer, p, use_nothrow);
    (void)n;
    if (ec == http::error::body_limit) {
      // Content-Length over the limit: refused before reading any of the body.
      reject(c, 413, "too_large", "Content-Length over the limit");
      co_await respond(c, 413, "text/plain", "request body too large\n", false);
      co_return route_result::close;
    }
    if (ec == http::error::header_limit) {
      reject(c, 431, "bad_request", "request header too large");
      co_await respond(c, 431, "text/plain", "request header too large\n", false);
      co_return route_result::close;
    }
    if (ec && is_http_parse_error(ec)) {
      reject(c, 400, "bad_request", ec.message());
      co_await respond(c, 400, "text/plain", "malformed request\n", false);
      co_return route_result::close;
    }
    if (ec) {
      // The client went away, the header deadline passed (tcp_stream closed the socket), or
      // drain() closed the connection: nobody to answer.
      co_return route_result::close;
    }
  }
  c.busy = true;
  const std::string_view path = target_path(c.head.target);
  // A body this endpoint does not read would be taken for the next request: close instead.
  const bool keep_alive = p.keep_alive() && p.is_done() && !draining_;
  const bool head = c.head.method == http::verb::head;
  const bool get = c.head.method == http::verb::get || head;

  if (path == "/webhook") {
    if (c.head.method != http::verb::post) {
      co_await respond(c, 405, "text/plain", "method not allowed\n", keep_alive, "Allow: POST\r\n");
      co_return keep_alive ? route_result::keep_alive : route_result::close;
    }
    co_return co_await serve_webhook(c, p);
  }
  if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
    if (!get) {
      co_await respond(c, 405, "text/plain", "method not allowed\n", keep_alive,
                       "Allow: GET, HEAD\r\n");
      co_return keep_alive ? route_result::keep_alive : route_result::close;
    }
    bool written = false;
    if (path == "/healthz") {
      written = co_await respond(c, 200, "text/plain", "ok\n", keep_alive, {}, head);
    } else if (path == "/readyz") {
      written = ready()
                    ? co_await respond(c, 200, "text/plain", "ready\n", keep_alive, {}, head)
                    : co_await respond(c, 503, "text/plain", "not ready\n", keep_alive, {}, head);
    } else {
      c.scratch.clear();
      metrics_.registry.render(c.scratch);
      written = co_await respond(c, 200, k_metrics_content_type, c.scratch, keep_alive, {}, head);
    }
    co_return written&& keep_alive ? route_result::keep_alive : route_result::close;
  }
  const bool written = co_await respond(c, 404, "text/plain", "not found\n", keep_alive);
  co_return written&& keep_alive ? route_result::keep_alive : route_result::close;
}

net::awaitable<server::route_result> server::answer(connection& c, bool keep_alive, int status,
                                                    std::string_view text) {
  const bool ok = co_await respond(c, status, text.empty() ? "" : "text/plain", text, keep_alive);
  co_return ok&& keep_alive ? route_result::keep_alive : route_result::close;
}

net::awaitable<handler_result> server::guarded_dispatch(const delivery& d) {
  // A handler's exception becomes a 500 and a log line; it never ends the server. It is caught
  // here, inside the race below: awaitable_operators' `||` waits for the first arm that
  // *succeeds*, so an exception escaping this arm would only be seen at the deadline.
  std::string failure;
  try {
    co_return co_await dispatch_(d);
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  // Cancelled by the deadline: the handler's co_await threw operation_aborted; call_dispatch
  // reports that, so no second line here.
  if ((co_await net::this_coro::cancellation_state).cancelled() == net::cancellation_type::none) {
    d.log.error("handler failed with an exception", {{"error", failure}});
  }
  co_return make_error(error_kind::internal, failure);
}

net::awaitable<handler_result> server::call_dispatch(connection& c, const events::event& event,
                                                     const log::logger& dlog) {
  using namespace net::experimental::awaitable_operators;
  // GitHub waits 10 s for the answer: past settings_.delivery_deadline the handler is cancelled
  // (its pending operation ends with operation_aborted, and so does every later co_await in it)
  // and the delivery answers 503. Nothing is lost: the handlers converge, so the redelivery
  // finishes what this one started.
  const delivery d{c.head.delivery, c.head.event, event, dlog};
  net::steady_timer deadline(c.stream.get_executor(), settings_.delivery_deadline);
  auto raced = co_await (guarded_dispatch(d) || deadline.async_wait(net::use_awaitable));
  if (raced.index() == 0) {
    co_return std::move(std::get<0>(raced));
  }
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(settings_.delivery_deadline).count();
  dlog.error("delivery deadline passed: handling cancelled", {{"deadline_ms", std::to_string(ms)}});
  co_return make_error(error_kind::transient, "handling took longer than " + std::to_string(ms) +
                                                  " ms; GitHub's redelivery will finish it");
}

net::awaitable<server::route_result> server::serve_webhook(connection& c, parser& p) {
  const auto started = std::chrono::steady_clock::now();
  if (c.head.expect_continue && !p.is_done()) {
    // RFC 9110 section 10.1.1: the client waits for this before sending its body.
    static constexpr std::string_view k_continue = "HTTP/1.1 100 Continue\r\n\r\n";
    c.stream.expires_after(settings_.write_timeout);
    auto [ec, n] = co_await net::async_write(c.stream, net::buffer(k_continue), use_nothrow);
    (void)n;
    if (ec) {
      co_return route_result::close;
    }
  }
  // Guard 1 (413): the body is read with the parser's body_limit; the deadline covers the
  // whole body so a slow sender cannot hold the connection.
  c.stream.expires_after(settings_.body_timeout);
  {
    auto [ec, n] = co_await http::async_read(c.stream, c.buffer, p, use_nothrow);
    (void)n;
    if (ec == http::error::body_limit) {
      reject(c, 413, "too_large", "body over the limit");
      co_await respond(c, 413, "text/plain", "request body too large\n", false);
      co_return route_result::close;
    }
    if (ec == http::error::partial_message) {
      // The client half-closed before sending the whole body it announced.
      reject(c, 400, "bad_request", "truncated body");
      co_await respond(c, 400, "text/plain", "truncated body\n", false);
      co_return route_result::close;
    }
    if (ec && is_http_parse_error(ec)) {
      reject(c, 400, "bad_request", ec.message());
      co_await respond(c, 400, "text/plain", "malformed request body\n", false);
      co_return route_result::close;
    }
    if (ec) {
      co_return route_result::close;  // timeout (socket closed), reset, or drain timeout
    }
  }
  // Past here the whole request has been read, so the connection may stay open.
  const bool keep_alive = p.keep_alive() && !draining_;

  // Guard 2 (401): HMAC over the raw bytes, constant-time compare, before any parsing. A
  // repeated signature header is refused rather than choosing one.
  if (c.head.signature_count != 1 || !verifier_.verify(c.body, c.head.signature)) {
    reject(c, 401, "bad_signature",
           c.head.signature_count == 0 ? "X-Hub-Signature-256 missing"
                                       : "X-Hub-Signature-256 does not match");
    co_return co_await answer(c, keep_alive, 401, "signature missing or invalid\n");
  }
  // Guard 3 (415).
  const body_format format = media_type_of(c.head.content_type);
  if (format == body_format::unsupported) {
    reject(c, 415, "unsupported_media_type", "Content-Type: " + c.head.content_type);
    co_return co_await answer(c, keep_alive, 415,
                              "Content-Type must be application/json or "
                              "application/x-www-form-urlencoded\n");
  }
  // Guard 4 (400): headers, then the body.
  if (c.head.event_count != 1 || c.head.event.empty() || c.head.delivery_count != 1 ||
      c.head.delivery.empty()) {
    reject(c, 400, "bad_request",
           (c.head.event_count != 1 || c.head.event.empty())
               ? "X-GitHub-Event missing or repeated"
               : "X-GitHub-Delivery missing or repeated");
    co_return co_await answer(c, keep_alive, 400,
                              "X-GitHub-Event and X-GitHub-Delivery are required\n");
  }
  std::string_view json;
  if (format == body_format::json) {
    c.body.reserve(c.body.size() + limits::k_json_padding);  // no-op when Content-Length was set
    json = c.body;
  } else {
    if (!extract_form_payload(c.body, c.json)) {
      reject(c, 400, "bad_request", "form body without a well-formed payload field");
      co_return co_await answer(c, keep_alive, 400, "form body needs a payload field\n");
    }
    json = c.json;
  }
  auto parsed = events::parse_event(c.head.event, json);
  if (!parsed) {
    reject(c, 400, "bad_request", parsed.error().message);
    co_return co_await answer(c, keep_alive, 400, "malformed payload\n");
  }

  // Dispatch. Every line the handler logs carries the delivery id and the event.
  const log::logger dlog = log_.with({{"delivery", c.head.delivery}, {"event", c.head.event}});
  const handler_result r = co_await call_dispatch(c, *parsed, dlog);
  const int status = http_status_for(r);
  const std::string_view outcome_label = k_outcome_labels[outcome_label_index(r)];
  record_delivery(c.head.event, outcome_label, started);
  if (!r.ok()) {
    const auto lvl = status >= 500 ? log::level::error : log::level::warn;
    dlog.log(lvl, "delivery failed",
             {{"status", std::to_string(status)},
              {"outcome", std::string(outcome_label)},
              {"error", r.error().message}});
  } else {
    // Ignored deliveries (the bulk of a busy App's traffic) log at debug; their count is in
    // ferry_deliveries_total.
    const auto lvl = *r == outcome::ignored ? log::level::debug : log::level::info;
    if (dlog.enabled(lvl)) {
      dlog.log(lvl, "delivery handled",
               {{"status", std::to_string(status)}, {"outcome", std::string(outcome_label)}});
    }
  }
  co_return co_await answer(c, keep_alive, status, status >= 500 ? "delivery failed\n" : "");
}

}  // namespace ferry::service
