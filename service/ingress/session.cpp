#include "service/ingress/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>

#include <charconv>
#include <ctime>
#include <variant>

#include "service/events/events.hpp"
#include "service/ingress/guards.hpp"
#include "service/ingress/request_head.hpp"

namespace ferry::service::ingress {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

// Errors as values: a failed read or write is an ordinary outcome on a server, not an exception.
constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

std::size_t event_label_index(std::string_view event) {
  for (std::size_t i = 0; i + 1 < context::k_event_labels.size(); ++i) {
    if (context::k_event_labels[i] == event) {
      return i;
    }
  }
  return context::k_event_labels.size() - 1;
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

enum class route_result { keep_alive, close };

}  // namespace

// Everything one connection owns. It lives in its coroutine's frame (no shared_ptr): the frame
// ends when the connection does.
class connection {
 public:
  connection(context& ctx, tcp::socket socket)
      : owner_(&ctx),
        stream_(std::move(socket)),
        buffer_(ctx.settings.header_max + limits::k_read_chunk) {
    next_ = ctx.connections_;
    if (ctx.connections_ != nullptr) {
      ctx.connections_->prev_ = this;
    }
    ctx.connections_ = this;
    ctx.active.fetch_add(1, std::memory_order_relaxed);
    ctx.metrics.connections_active.add(1);
  }
  ~connection() {
    if (owner_ == nullptr) {
      return;  // the context is gone (see ~context)
    }
    context& ctx = *owner_;
    if (prev_ != nullptr) {
      prev_->next_ = next_;
    } else {
      ctx.connections_ = next_;
    }
    if (next_ != nullptr) {
      next_->prev_ = prev_;
    }
    ctx.active.fetch_sub(1, std::memory_order_relaxed);
    ctx.metrics.connections_active.add(-1);
    if (ctx.on_connection_closed) {
      ctx.on_connection_closed();
    }
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  net::awaitable<void> run();

 private:
  friend class context;

  context& ctx() const noexcept { return *owner_; }
  std::string remote() const;

  net::awaitable<route_result> serve_one();
  net::awaitable<route_result> serve_webhook(request_parser& p);
  net::awaitable<handler_result> call_dispatch(const events::event& event, const log::logger& dlog);
  net::awaitable<route_result> answer(bool keep_alive, int status, std::string_view text);
  net::awaitable<bool> respond(int status, std::string_view content_type, std::string_view body,
                               bool keep_alive, std::string_view extra_headers = {},
                               bool head_only = false);
  net::awaitable<route_result> refuse(const rejection& r);
  void reject(int status, std::string_view reason, std::string_view detail);
  net::awaitable<void> lingering_close();

  context* owner_;  // null once the context is gone (see ~context)
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  request_head head_;
  std::string body_;
  std::string json_;      // the decoded `payload` of a form-encoded delivery
  std::string response_;  // the answer being written
  std::string scratch_;   // a response body built on the fly (/metrics)
  bool busy_ = false;     // a request's header has arrived: drain lets it finish
  bool linger_ = false;   // answered with "Connection: close": drain the socket before closing
  connection* prev_ = nullptr;
  connection* next_ = nullptr;
};

context::context(session_settings s, dispatch_fn d, ferry::log::logger l,
                 ferry::service::metrics& m, std::string_view secret)
    : settings(s), dispatch(std::move(d)), log(std::move(l)), metrics(m), verifier(secret) {}

context::~context() {
  for (connection* c = connections_; c != nullptr; c = c->next_) {
    c->owner_ = nullptr;
  }
}

void context::close_connections(bool idle_only) {
  beast::error_code ignored;
  for (connection* c = connections_; c != nullptr; c = c->next_) {
    if (!idle_only || !c->busy_) {
      c->stream_.socket().close(ignored);
    }
  }
}

bool context::shed_oldest_idle() {
  // The list is newest first: the oldest idle connection is the last idle one.
  connection* oldest = nullptr;
  for (connection* c = connections_; c != nullptr; c = c->next_) {
    if (!c->busy_ && c->stream_.socket().is_open()) {
      oldest = c;
    }
  }
  if (oldest == nullptr) {
    return false;
  }
  beast::error_code ignored;
  oldest->stream_.socket().close(ignored);
  return true;
}

const std::string& context::http_date() {
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

void context::record_delivery(std::string_view event, std::size_t o,
                              std::chrono::steady_clock::time_point started) {
  const std::size_t e = event_label_index(event);
  counter*& slot = delivery_counters_[e][o];
  if (slot == nullptr) {
    slot = &metrics.deliveries.with({k_event_labels[e], k_outcome_labels[o]});
  }
  slot->inc();
  metrics.delivery_duration.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

net::awaitable<void> run_session(context& ctx, tcp::socket socket) {
  connection c(ctx, std::move(socket));
  co_await c.run();
}

std::string connection::remote() const {
  beast::error_code ec;
  const auto ep = stream_.socket().remote_endpoint(ec);
  if (ec) {
    return "unknown";
  }
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

net::awaitable<void> connection::run() {
  bool first = true;
  while (!ctx().draining) {
    busy_ = false;
    if (!first && buffer_.size() == 0) {
      // Keep-alive idle: wait for the next request's first bytes.
      stream_.expires_after(ctx().settings.keep_alive_idle);
      auto [ec, n] =
          co_await stream_.async_read_some(buffer_.prepare(limits::k_idle_read_size), use_nothrow);
      if (ec) {
        break;  // idle timeout, the client closed, or drain() closed an idle connection
      }
      buffer_.commit(n);
    }
    first = false;
    if (co_await serve_one() == route_result::close) {
      break;
    }
    // Release a large delivery's buffer rather than keep it for the connection's lifetime.
    if (body_.capacity() > limits::k_retained_body_capacity) {
      std::string().swap(body_);
    }
    if (json_.capacity() > limits::k_retained_body_capacity) {
      std::string().swap(json_);
    }
  }
  if (linger_ && stream_.socket().is_open()) {
    co_await lingering_close();
  }
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

net::awaitable<void> connection::lingering_close() {
  // Stop sending, then read and discard what the client still sends (up to a bound) so the
  // answer already written is not destroyed by a TCP reset (RFC 9112 section 9.6).
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) {
    co_return;
  }
  stream_.expires_after(ctx().settings.lingering_close_timeout);
  std::size_t discarded = 0;
  std::array<char, limits::k_lingering_close_read_size> sink{};
  while (discarded < limits::k_lingering_close_bytes) {
    auto [rec, n] = co_await stream_.async_read_some(net::buffer(sink), use_nothrow);
    if (rec) {
      break;
    }
    discarded += n;
  }
}

net::awaitable<route_result> connection::serve_one() {
  request_parser p(head_, body_, ctx().settings.body_max, ctx().settings.header_max);
  stream_.expires_after(ctx().settings.header_timeout);
  {
    auto [ec, n] = co_await http::async_read_header(stream_, buffer_, p, use_nothrow);
    (void)n;
    if (ec) {
      if (const auto r = read_rejection(read_stage::header, ec)) {
        co_return co_await refuse(*r);
      }
      // The client went away, the header deadline passed (tcp_stream closed the socket), or
      // drain() closed the connection: nobody to answer.
      co_return route_result::close;
    }
  }
  busy_ = true;
  const std::string_view path = target_path(head_.target);
  // A body this endpoint does not read would be taken for the next request: close instead.
  const bool keep_alive = p.keep_alive() && p.is_done() && !ctx().draining;
  const bool head = head_.method == http::verb::head;
  const bool get = head_.method == http::verb::get || head;

  if (path == "/webhook" && !ctx().settings.health_only) {
    if (head_.method != http::verb::post) {
      co_await respond(405, "text/plain", "method not allowed\n", keep_alive, "Allow: POST\r\n");
      co_return keep_alive ? route_result::keep_alive : route_result::close;
    }
    co_return co_await serve_webhook(p);
  }
  if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
    if (!get) {
      co_await respond(405, "text/plain", "method not allowed\n", keep_alive,
                       "Allow: GET, HEAD\r\n");
      co_return keep_alive ? route_result::keep_alive : route_result::close;
    }
    bool written = false;
    if (path == "/healthz") {
      written = co_await respond(200, "text/plain", "ok\n", keep_alive, {}, head);
    } else if (path == "/readyz") {
      const std::atomic<bool>& ready = ctx().ready_source ? *ctx().ready_source : ctx().ready;
      written = ready.load(std::memory_order_relaxed)
                    ? co_await respond(200, "text/plain", "ready\n", keep_alive, {}, head)
                    : co_await respond(503, "text/plain", "not ready\n", keep_alive, {}, head);
    } else {
      scratch_.clear();
      ctx().metrics.registry.render(scratch_);
      written = co_await respond(200, k_metrics_content_type, scratch_, keep_alive, {}, head);
    }
    co_return written&& keep_alive ? route_result::keep_alive : route_result::close;
  }
  const bool written = co_await respond(404, "text/plain", "not found\n", keep_alive);
  co_return written&& keep_alive ? route_result::keep_alive : route_result::close;
}

// A share of the in-flight body budget, given back when the request is done.
class body_reservation {
 public:
  body_reservation(context& ctx, std::size_t n) : ctx_(ctx), n_(n) {
    ctx_.body_bytes_in_flight += n_;
  }
  ~body_reservation() { ctx_.body_bytes_in_flight -= n_; }
  body_reservation(const body_reservation&) = delete;
  body_reservation& operator=(const body_reservation&) = delete;

 private:
  context& ctx_;
  std::size_t n_;
};

net::awaitable<route_result> connection::serve_webhook(request_parser& p) {
  const auto started = std::chrono::steady_clock::now();
  // The budget of body bytes held before any signature is checked: a body that would pass it
  // is refused before a byte of it is read (and before 100 Continue invites it).
  std::size_t need = 0;
  if (!p.is_done()) {
    const auto length = p.content_length();
    need = length ? static_cast<std::size_t>(std::min<std::uint64_t>(*length, SIZE_MAX))
                  : ctx().settings.body_max;
    need = std::min(need, ctx().settings.body_max);
  }
  if (need > limits::k_body_budget_exempt &&
      ctx().body_bytes_in_flight + need > ctx().settings.body_budget) {
    reject(503, "body_budget", "in-flight request bodies are at their budget");
    co_await respond(503, "text/plain", "busy: retry later\n", false, "Retry-After: 1\r\n");
    co_return route_result::close;
  }
  const body_reservation reserved(ctx(), need > limits::k_body_budget_exempt ? need : 0);
  if (head_.expect_continue && !p.is_done()) {
    // RFC 9110 section 10.1.1: the client waits for this before sending its body.
    static constexpr std::string_view k_continue = "HTTP/1.1 100 Continue\r\n\r\n";
    stream_.expires_after(ctx().settings.write_timeout);
    auto [ec, n] = co_await net::async_write(stream_, net::buffer(k_continue), use_nothrow);
    (void)n;
    if (ec) {
      co_return route_result::close;
    }
  }
  // Guard 1 (413): the body is read with the parser's body_limit; the deadline covers the
  // whole body so a slow sender cannot hold the connection.
  stream_.expires_after(ctx().settings.body_timeout);
  {
    auto [ec, n] = co_await http::async_read(stream_, buffer_, p, use_nothrow);
    (void)n;
    if (ec) {
      if (const auto r = read_rejection(read_stage::body, ec)) {
        co_return co_await refuse(*r);
      }
      co_return route_result::close;  // timeout (socket closed), reset, or drain timeout
    }
  }
  // Past here the whole request has been read, so the connection may stay open.
  const bool keep_alive = p.keep_alive() && !ctx().draining;

  // Guards 2-4 (401, 415, 400), then the parse.
  auto checked = check_webhook(head_, body_, json_, ctx().verifier);
  if (const auto* r = std::get_if<rejection>(&checked)) {
    reject(r->status, r->reason, r->detail);
    co_return co_await answer(keep_alive, r->status, r->answer);
  }
  const auto& event = std::get<events::event>(checked);

  // Dispatch. Every line the handler logs carries the delivery id and the event.
  const log::logger dlog = ctx().log.with({{"delivery", head_.delivery}, {"event", head_.event}});
  const handler_result r = co_await call_dispatch(event, dlog);
  const int status = http_status_for(r);
  const std::size_t outcome_index = outcome_label_index(r);
  const std::string_view outcome_label = context::k_outcome_labels[outcome_index];
  ctx().record_delivery(head_.event, outcome_index, started);
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
  co_return co_await answer(keep_alive, status, status >= 500 ? "delivery failed\n" : "");
}

namespace {

net::awaitable<handler_result> guarded_dispatch(const dispatch_fn& dispatch, const delivery& d) {
  // A handler's exception becomes a 500 and a log line; it never ends the server. It is caught
  // here, inside the race below: awaitable_operators' `||` waits for the first arm that
  // *succeeds*, so an exception escaping this arm would only be seen at the deadline.
  std::string failure;
  try {
    co_return co_await dispatch(d);
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

}  // namespace

net::awaitable<handler_result> connection::call_dispatch(const events::event& event,
                                                         const log::logger& dlog) {
  using namespace net::experimental::awaitable_operators;
  // GitHub waits 10 s for the answer: past settings.delivery_deadline the handler is cancelled
  // (its pending operation ends with operation_aborted, and so does every later co_await in it)
  // and the delivery answers 503. Nothing is lost: the handlers converge, so the redelivery
  // finishes what this one started.
  const delivery d{head_.delivery, head_.event, event, dlog};
  if (ctx().decide) {
    if (auto decided = ctx().decide(d)) {
      co_return std::move(*decided);
    }
  }
  const auto deadline_after = ctx().settings.delivery_deadline;
  net::steady_timer deadline(stream_.get_executor(), deadline_after);
  // The timer's wait completes as a value (use_nothrow): when the handler wins, its cancelled
  // wait must not throw operation_aborted, an exception per delivery (the ingress profile found
  // _Unwind_Find_FDE at 1-4% of the CPU).
  auto raced = co_await (guarded_dispatch(ctx().dispatch, d) || deadline.async_wait(use_nothrow));
  if (raced.index() == 0) {
    co_return std::move(std::get<0>(raced));
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_after).count();
  dlog.error("delivery deadline passed: handling cancelled", {{"deadline_ms", std::to_string(ms)}});
  co_return make_error(error_kind::transient, "handling took longer than " + std::to_string(ms) +
                                                  " ms; GitHub's redelivery will finish it");
}

net::awaitable<route_result> connection::answer(bool keep_alive, int status,
                                                std::string_view text) {
  const bool ok = co_await respond(status, text.empty() ? "" : "text/plain", text, keep_alive);
  co_return ok&& keep_alive ? route_result::keep_alive : route_result::close;
}

net::awaitable<route_result> connection::refuse(const rejection& r) {
  // A failed read: what is left of the request cannot be trusted, so the connection closes.
  reject(r.status, r.reason, r.detail);
  co_await respond(r.status, "text/plain", r.answer, false);
  co_return route_result::close;
}

net::awaitable<bool> connection::respond(int status, std::string_view content_type,
                                         std::string_view body, bool keep_alive,
                                         std::string_view extra_headers, bool head_only) {
  // The answer is formatted by hand into the connection's reused buffer: Beast's message and
  // serializer would allocate a field list per response, and every answer here is a status, a
  // handful of fixed headers and a short body.
  keep_alive = keep_alive && !ctx().draining;  // a draining server tells every client to go
  std::string& r = response_;
  r.clear();
  r += "HTTP/1.1 ";
  char num[24];
  r.append(num, std::to_chars(num, num + sizeof num, status).ptr);
  r += ' ';
  const auto reason = http::obsolete_reason(static_cast<http::status>(status));
  r.append(reason.data(), reason.size());
  r += "\r\nDate: ";
  r += ctx().http_date();
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
  } else if (head_.version == 10) {
    r += "Connection: keep-alive\r\n";  // HTTP/1.0 closes unless told otherwise
  }
  r += "\r\n";
  if (status != 204 && !head_only) {
    r += body;
  }
  linger_ = !keep_alive;
  stream_.expires_after(ctx().settings.write_timeout);
  auto [ec, n] = co_await net::async_write(stream_, net::buffer(r), use_nothrow);
  (void)n;
  co_return !ec;
}

void connection::reject(int status, std::string_view reason, std::string_view detail) {
  ctx().metrics.webhook_rejections.with({reason}).inc();
  if (ctx().log.enabled(log::level::warn)) {
    ctx().log.warn("webhook rejected", {{"status", std::to_string(status)},
                                        {"reason", std::string(reason)},
                                        {"detail", std::string(detail)},
                                        {"delivery", head_.delivery},
                                        {"event", head_.event},
                                        {"remote", remote()}});
  }
}

}  // namespace ferry::service::ingress
