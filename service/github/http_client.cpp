#include "service/github/http_client.hpp"

#include "service/text.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <random>
#include <unordered_map>

namespace ferry::github {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

using text::lower;

bool icontains(std::string_view haystack, std::string_view needle) {
  return lower(haystack).find(needle) != std::string::npos;
}

std::optional<long long> parse_integer(const std::string* text) {
  if (text == nullptr) {
    return std::nullopt;
  }
  long long v = 0;
  auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc{} || p != text->data() + text->size()) {
    return std::nullopt;
  }
  return v;
}

struct parsed_url {
  bool tls = false;
  std::string host;         // without brackets
  std::string port;         // always set
  std::string host_header;  // host[:port] as the Host header wants it
  std::string target;       // path and query, "/" at least
  std::string pool_key;     // scheme://host:port
  bool host_is_ip = false;
};

result<parsed_url> parse_url(std::string_view url) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) {
    return make_error(error_kind::invalid_input, "not an absolute URL: " + std::string(url));
  }
  parsed_url out;
  auto scheme = lower(u->scheme());
  if (scheme == "https") {
    out.tls = true;
  } else if (scheme != "http") {
    return make_error(error_kind::invalid_input,
                      "URL scheme must be http or https: " + std::string(url));
  }
  out.host = std::string(u->host_address());
  if (out.host.empty()) {
    return make_error(error_kind::invalid_input, "URL without a host: " + std::string(url));
  }
  out.host_is_ip = u->host_type() == boost::urls::host_type::ipv4 ||
                   u->host_type() == boost::urls::host_type::ipv6;
  out.port = u->has_port() ? std::string(u->port()) : (out.tls ? "443" : "80");
  out.host_header = std::string(u->encoded_host_and_port());
  out.target = std::string(u->encoded_target());
  if (out.target.empty() || out.target.front() != '/') {
    out.target.insert(0, "/");
  }
  out.pool_key = scheme + "://" + out.host + ":" + out.port;
  return out;
}

// One keep-alive connection: plain TCP or TLS over TCP.
struct connection {
  std::string key;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  steady::time_point idle_since{};

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};

enum class stage { resolve, connect, handshake, write, read };

const char* to_string(stage s) {
  switch (s) {
    case stage::resolve:
      return "resolve";
    case stage::connect:
      return "connect";
    case stage::handshake:
      return "TLS handshake";
    case stage::write:
      return "write";
    case stage::read:
      return "read";
  }
  return "?";
}

struct attempt_outcome {
  std::optional<http_response> response;
  ferry::error err;
  bool retryable = false;
  // The request failed on a pooled connection before any byte of a response came back: the
  // server had closed it while idle. Worth one immediate retry on a fresh connection.
  bool stale_connection = false;
};

bool is_retryable_status(int status) {
  return status == 500 || status == 502 || status == 503 || status == 504;
}

// GitHub's `message` field, cut to a bounded length; empty when the body is not JSON.
std::string github_message(std::string_view body) {
  if (body.empty()) {
    return {};
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS) {
    return {};
  }
  std::string_view msg;
  if (doc["message"].get(msg) != simdjson::SUCCESS) {
    return {};
  }
  std::string out(msg.substr(0, limits::k_api_error_message_max));
  // Also note validation codes GitHub puts in errors[].code (e.g. "already_exists").
  simdjson::dom::array errors;
  if (doc["errors"].get(errors) == simdjson::SUCCESS) {
    for (auto e : errors) {
      std::string_view code;
      std::string_view text;
      if (e["code"].get(code) == simdjson::SUCCESS && code != "custom") {
        out += " [" + std::string(code.substr(0, 64)) + "]";
      } else if (e["message"].get(text) == simdjson::SUCCESS) {
        out += " [" + std::string(text.substr(0, 128)) + "]";
      }
    }
  }
  return out;
}

}  // namespace

const std::string* http_response::header(std::string_view lower_name) const noexcept {
  for (const auto& h : headers) {
    if (h.name == lower_name) {
      return &h.value;
    }
  }
  return nullptr;
}

struct http_client::impl {
  asio::any_io_executor executor;
  http_settings settings;
  ssl::context tls{ssl::context::tls_client};
  std::unordered_map<std::string, std::vector<std::unique_ptr<connection>>> idle;
  std::minstd_rand rng{std::random_device{}()};

  std::unique_ptr<connection> take_idle(const std::string& key) {
    auto it = idle.find(key);
    if (it == idle.end()) {
      return nullptr;
    }
    auto now = steady::now();
    while (!it->second.empty()) {
      auto c = std::move(it->second.back());
      it->second.pop_back();
      if (now - c->idle_since <= settings.idle_connection_max_age) {
        return c;
      }
    }
    return nullptr;
  }

  void give_back(std::unique_ptr<connection> c) {
    auto& list = idle[c->key];
    if (list.size() >= settings.idle_connections_per_host) {
      return;  // closes it
    }
    c->idle_since = steady::now();
    c->lowest().expires_never();
    list.push_back(std::move(c));
  }

  asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    if (d.count() <= 0) {
      co_return;
    }
    asio::steady_timer t(executor, d);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  std::chrono::milliseconds backoff(int attempt) {
    // Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))].
    auto ceiling = settings.backoff_base.count();
    for (int i = 1; i < attempt && ceiling < settings.backoff_cap.count(); ++i) {
      ceiling *= 2;
    }
    ceiling = std::min<long long>(ceiling, settings.backoff_cap.count());
    if (ceiling <= 0) {
      return std::chrono::milliseconds(0);
    }
    std::uniform_int_distribution<long long> dist(0, ceiling);
    return std::chrono::milliseconds(dist(rng));
  }

  void observe(const http_request& req, const parsed_url& url, int status,
               const http_response* resp) {
    if (!settings.observer) {
      return;
    }
    http_observation o;
    auto verb = bhttp::to_string(req.method);
    o.method = std::string_view(verb.data(), verb.size());
    o.host = url.host;
    o.status = status;
    if (resp != nullptr) {
      o.rate_limit_remaining = parse_integer(resp->header("x-ratelimit-remaining"));
      o.secondary_rate_limit = is_secondary_rate_limit(*resp);
    }
    settings.observer(o);
  }

  // Fills `c` as soon as it exists, so a failed handshake can still be asked why it failed.
  asio::awaitable<void> open(const parsed_url& url, steady::time_point deadline, stage& at,
                             std::unique_ptr<connection>& c) {
    using namespace asio::experimental::awaitable_operators;
    at = stage::resolve;
    tcp::resolver resolver(executor);
    asio::steady_timer timer(executor, deadline);
    auto resolved = co_await (resolver.async_resolve(url.host, url.port, asio::use_awaitable) ||
                              timer.async_wait(asio::use_awaitable));
    if (resolved.index() != 0) {
      throw boost::system::system_error(beast::error::timeout);
    }
    c = std::make_unique<connection>();
    c->key = url.pool_key;
    at = stage::connect;
    beast::tcp_stream stream(executor);
    stream.expires_at(deadline);
    co_await stream.async_connect(std::get<0>(resolved), asio::use_awaitable);
    if (!url.tls) {
      c->plain.emplace(std::move(stream));
      co_return;
    }
    at = stage::handshake;
    c->secure.emplace(std::move(stream), tls);
    SSL* native = c->secure->native_handle();
    if (url.host_is_ip) {
      // An IP literal is checked against the certificate's iPAddress SANs; no SNI for it
      // (RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName").
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), url.host.c_str()) != 1) {
        throw boost::system::system_error(asio::error::invalid_argument);
      }
    } else {
      // SNI, so a server hosting several names presents the right certificate, and OpenSSL's
      // RFC 6125 host-name check of the certificate during the handshake.
      if (SSL_set_tlsext_host_name(native, url.host.c_str()) != 1 ||
          SSL_set1_host(native, url.host.c_str()) != 1) {
        throw boost::system::system_error(asio::error::invalid_argument);
      }
    }
    co_await c->secure->async_handshake(ssl::stream_base::client, asio::use_awaitable);
  }

  template <typename Stream>
  asio::awaitable<void> exchange(Stream& stream, beast::flat_buffer& buffer,
                                 bhttp::request<bhttp::string_body>& msg,
                                 bhttp::response_parser<bhttp::string_body>& parser, stage& at) {
    at = stage::write;
    co_await bhttp::async_write(stream, msg, asio::use_awaitable);
    at = stage::read;
    co_await bhttp::async_read(stream, buffer, parser, asio::use_awaitable);
  }

  asio::awaitable<attempt_outcome> attempt(const http_request& req, const parsed_url& url,
                                           std::chrono::milliseconds timeout) {
    attempt_outcome out;
    const auto deadline = steady::now() + timeout;
    stage at = stage::connect;
    std::unique_ptr<connection> conn = take_idle(url.pool_key);
    const bool reused = conn != nullptr;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(settings.response_body_max);
    parser.header_limit(64u * 1024u);
    if (req.method == bhttp::verb::head) {
      parser.skip(true);
    }
    const std::string name =
        std::string(bhttp::to_string(req.method)) + " " + url.host_header + url.target;
    boost::system::error_code ec;
    try {
      if (!conn) {
        co_await open(url, deadline, at, conn);
      }
      conn->lowest().expires_at(deadline);

      bhttp::request<bhttp::string_body> msg{req.method, url.target, 11};
      msg.set(bhttp::field::host, url.host_header);
      msg.set(bhttp::field::user_agent, settings.user_agent);
      for (const auto& h : req.headers) {
        msg.set(h.name, h.value);
      }
      msg.body() = req.body;
      if (!req.body.empty() || req.method == bhttp::verb::post || req.method == bhttp::verb::put ||
          req.method == bhttp::verb::patch) {
        msg.prepare_payload();
      }
      msg.keep_alive(true);

      if (conn->secure) {
        co_await exchange(*conn->secure, conn->buffer, msg, parser, at);
      } else {
        co_await exchange(*conn->plain, conn->buffer, msg, parser, at);
      }
    } catch (const boost::system::system_error& e) {
      ec = e.code();
    }

    if (ec) {
      // A TLS peer that closes TCP without close_notify yields stream_truncated. RFC 8446 §6.1
      // makes that a truncation attack only when the close itself delimits the data, i.e. a
      // body that runs to end-of-connection. A message framed by Content-Length or chunked
      // encoding is complete when the parser says so, and async_read has already returned it;
      // so we accept the truncated close only then, and refuse EOF-delimited bodies cut short.
      if (ec == ssl::error::stream_truncated && parser.is_done()) {
        ec = {};
      }
    }
    if (ec) {
      if (reused && !parser.got_some() && ec != beast::error::timeout &&
          (at == stage::write || at == stage::read)) {
        out.stale_connection = true;
      }
      if (at == stage::handshake && conn && conn->secure) {
        long verify = SSL_get_verify_result(conn->secure->native_handle());
        if (verify != X509_V_OK) {
          out.err =
              make_error(error_kind::internal, name + ": TLS certificate verification failed: " +
                                                   X509_verify_cert_error_string(verify));
          co_return out;
        }
      }
      out.retryable = true;
      if (ec == beast::error::timeout || ec == asio::error::operation_aborted) {
        out.err = make_error(error_kind::transient, name + ": timed out during " + to_string(at) +
                                                        " after " +
                                                        std::to_string(timeout.count()) + " ms");
      } else if (ec == bhttp::error::body_limit) {
        out.retryable = false;
        out.err = make_error(
            error_kind::invalid_input,
            name + ": response body over " + std::to_string(settings.response_body_max) + " bytes");
      } else {
        out.err = make_error(error_kind::transient,
                             name + ": " + to_string(at) + " failed: " + ec.message());
      }
      co_return out;
    }

    http_response resp;
    auto& m = parser.get();
    resp.status = static_cast<int>(m.result_int());
    for (const auto& f : m) {
      resp.headers.push_back({lower(f.name_string()), std::string(f.value())});
    }
    const bool keep = m.keep_alive();
    resp.body = std::move(m.body());
    if (keep) {
      give_back(std::move(conn));
    }
    // Otherwise the connection closes here. No TLS close_notify is sent: nothing we read
    // depends on it, and a shutdown could wait on an unresponsive peer.
    out.response = std::move(resp);
    co_return out;
  }
};

http_client::http_client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
http_client::~http_client() = default;

void http_client::close_idle_connections() noexcept {
  impl_->idle.clear();
}

const http_settings& http_client::settings() const noexcept {
  return impl_->settings;
}
asio::any_io_executor http_client::executor() const noexcept {
  return impl_->executor;
}

result<std::unique_ptr<http_client>> http_client::create(asio::any_io_executor executor,
                                                         http_settings settings) {
  auto p = std::make_unique<impl>();
  p->executor = std::move(executor);
  p->settings = std::move(settings);
  if (p->settings.max_attempts < 1) {
    p->settings.max_attempts = 1;
  }
  boost::system::error_code ec;
  SSL_CTX_set_min_proto_version(p->tls.native_handle(), TLS1_2_VERSION);
  p->tls.set_verify_mode(ssl::verify_peer, ec);
  if (!ec) {
    if (p->settings.ca_file.empty()) {
      // OpenSSL's default verify paths honour SSL_CERT_FILE and SSL_CERT_DIR.
      p->tls.set_default_verify_paths(ec);
    } else {
      p->tls.load_verify_file(p->settings.ca_file, ec);
    }
  }
  if (ec) {
    return make_error(
        error_kind::invalid_input,
        "TLS trust store" +
            (p->settings.ca_file.empty() ? std::string() : " " + p->settings.ca_file) + ": " +
            ec.message());
  }
  return std::unique_ptr<http_client>(new http_client(std::move(p)));
}

asio::awaitable<result<http_response>> http_client::request(http_request req) {
  auto url = parse_url(req.url);
  if (!url) {
    co_return std::move(url).error();
  }
  auto& s = impl_->settings;
  const int max_attempts = req.max_attempts > 0 ? req.max_attempts : s.max_attempts;
  const auto timeout = req.deadline.count() > 0 ? req.deadline : s.attempt_timeout;
  bool stale_retry_used = false;

  for (int attempt = 1;; ++attempt) {
    auto out = co_await impl_->attempt(req, *url, timeout);
    if (!out.response) {
      if (out.stale_connection && !stale_retry_used) {
        // Not counted as an attempt: the request never reached a live server.
        stale_retry_used = true;
        --attempt;
        continue;
      }
      impl_->observe(req, *url, 0, nullptr);
      if (!out.retryable || attempt >= max_attempts) {
        if (out.retryable && max_attempts > 1) {
          out.err.message += " (" + std::to_string(attempt) + " attempts)";
        }
        co_return std::move(out.err);
      }
      co_await impl_->sleep_for(impl_->backoff(attempt));
      continue;
    }

    http_response& resp = *out.response;
    impl_->observe(req, *url, resp.status, &resp);
    if (attempt >= max_attempts) {
      co_return std::move(resp);
    }
    if (is_retryable_status(resp.status)) {
      co_await impl_->sleep_for(impl_->backoff(attempt));
      continue;
    }
    if (!is_rate_limited(resp)) {
      co_return std::move(resp);
    }
    const auto wait = rate_limit_wait(resp, std::chrono::system_clock::now());
    if (wait > s.rate_limit_wait_max) {
      co_return std::move(resp);  // maps to transient; the caller's retry comes later
    }
    co_await impl_->sleep_for(std::chrono::milliseconds(
        static_cast<long long>(static_cast<double>(wait.count()) * s.rate_limit_wait_scale)));
  }
}

namespace {

// Reads the response to `msg` from `stream`: headers first, then the body piece by piece
// (async_read_some returns after each read from the socket, so an event that arrives alone is
// delivered at once rather than when a buffer fills).
template <typename Stream>
asio::awaitable<void> stream_exchange(Stream& stream, beast::flat_buffer& buffer,
                                      bhttp::request<bhttp::string_body>& msg,
                                      bhttp::response_parser<bhttp::buffer_body>& parser,
                                      http_response& resp, std::size_t body_max,
                                      const std::function<bool(std::string_view)>& on_bytes,
                                      stage& at) {
  at = stage::write;
  co_await bhttp::async_write(stream, msg, asio::use_awaitable);
  at = stage::read;
  co_await bhttp::async_read_header(stream, buffer, parser, asio::use_awaitable);
  auto& m = parser.get();
  resp.status = static_cast<int>(m.result_int());
  for (const auto& f : m) {
    resp.headers.push_back({lower(f.name_string()), std::string(f.value())});
  }
  const bool success = resp.status >= 200 && resp.status < 300;
  std::array<char, 16384> piece{};
  while (!parser.is_done()) {
    m.body().data = piece.data();
    m.body().size = piece.size();
    boost::system::error_code ec;
    co_await bhttp::async_read_some(stream, buffer, parser,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::need_buffer) {
      ec = {};
    }
    const std::size_t n = piece.size() - m.body().size;
    if (n > 0) {
      const std::string_view bytes(piece.data(), n);
      if (success) {
        if (!on_bytes(bytes)) {
          co_return;
        }
      } else if (resp.body.size() + n > body_max) {
        throw boost::system::system_error(bhttp::error::body_limit);
      } else {
        resp.body.append(bytes);
      }
    }
    if (ec) {
      throw boost::system::system_error(ec);
    }
  }
}

}  // namespace

asio::awaitable<result<http_response>> http_client::request_stream(
    http_request req, std::function<bool(std::string_view bytes)> on_bytes) {
  auto url = parse_url(req.url);
  if (!url) {
    co_return std::move(url).error();
  }
  auto& s = impl_->settings;
  const auto timeout = req.deadline.count() > 0 ? req.deadline : s.attempt_timeout;
  const auto deadline = steady::now() + timeout;
  const std::string name =
      std::string(bhttp::to_string(req.method)) + " " + url->host_header + url->target;
  stage at = stage::connect;
  std::unique_ptr<connection> conn;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.header_limit(64u * 1024u);
  // The body of a watch has no length bound of its own (it ends when the server closes it);
  // the caller bounds what it keeps.
  parser.body_limit(boost::none);
  http_response resp;
  boost::system::error_code ec;
  try {
    co_await impl_->open(*url, deadline, at, conn);
    conn->lowest().expires_at(deadline);
    bhttp::request<bhttp::string_body> msg{req.method, url->target, 11};
    msg.set(bhttp::field::host, url->host_header);
    msg.set(bhttp::field::user_agent, s.user_agent);
    for (const auto& h : req.headers) {
      msg.set(h.name, h.value);
    }
    msg.body() = req.body;
    if (!req.body.empty() || req.method == bhttp::verb::post || req.method == bhttp::verb::put ||
        req.method == bhttp::verb::patch) {
      msg.prepare_payload();
    }
    if (conn->secure) {
      co_await stream_exchange(*conn->secure, conn->buffer, msg, parser, resp, s.response_body_max,
                               on_bytes, at);
    } else {
      co_await stream_exchange(*conn->plain, conn->buffer, msg, parser, resp, s.response_body_max,
                               on_bytes, at);
    }
  } catch (const boost::system::system_error& e) {
    ec = e.code();
  }
  // As in attempt(): a truncated TLS close after a complete (framed) message is harmless.
  if (ec == ssl::error::stream_truncated && parser.is_done()) {
    ec = {};
  }
  impl_->observe(req, *url, ec ? 0 : resp.status, ec ? nullptr : &resp);
  if (!ec) {
    co_return resp;
  }
  if (at == stage::handshake && conn && conn->secure) {
    long verify = SSL_get_verify_result(conn->secure->native_handle());
    if (verify != X509_V_OK) {
      co_return make_error(error_kind::internal, name + ": TLS certificate verification failed: " +
                                                     X509_verify_cert_error_string(verify));
    }
  }
  if (ec == beast::error::timeout || ec == asio::error::operation_aborted) {
    co_return make_error(error_kind::transient, name + ": timed out during " + to_string(at) +
                                                    " after " + std::to_string(timeout.count()) +
                                                    " ms");
  }
  if (ec == bhttp::error::body_limit) {
    co_return make_error(
        error_kind::invalid_input,
        name + ": response body over " + std::to_string(s.response_body_max) + " bytes");
  }
  co_return make_error(error_kind::transient,
                       name + ": " + to_string(at) + " failed: " + ec.message());
}

std::chrono::milliseconds rate_limit_wait(const http_response& response,
                                          std::chrono::system_clock::time_point now) {
  // Per docs.github.com "Rate limits for the REST API": with retry-after, wait that many
  // seconds; else with x-ratelimit-remaining 0, wait until x-ratelimit-reset (epoch seconds);
  // else (a secondary limit) wait at least a minute.
  auto retry_after = parse_integer(response.header("retry-after"));
  auto remaining = parse_integer(response.header("x-ratelimit-remaining"));
  auto reset = parse_integer(response.header("x-ratelimit-reset"));
  if (retry_after) {
    return std::chrono::seconds(std::max<long long>(*retry_after, 0));
  }
  if (remaining && *remaining == 0 && reset) {
    const auto since_epoch =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::milliseconds(std::chrono::seconds(*reset)) - since_epoch);
  }
  return limits::k_api_secondary_limit_default_wait;
}

bool is_rate_limited(const http_response& response) {
  if (response.status != 403 && response.status != 429) {
    return false;
  }
  if (response.header("retry-after") != nullptr) {
    return true;
  }
  auto remaining = parse_integer(response.header("x-ratelimit-remaining"));
  if (remaining && *remaining == 0) {
    return true;
  }
  if (response.status == 429) {
    return true;
  }
  // GitHub's secondary-limit answers say so in the message ("You have exceeded a secondary
  // rate limit"); older ones said "abuse detection mechanism".
  return icontains(response.body, "secondary rate limit") ||
         icontains(response.body, "abuse detection");
}

bool is_secondary_rate_limit(const http_response& response) {
  if (!is_rate_limited(response)) {
    return false;
  }
  const auto remaining = parse_integer(response.header("x-ratelimit-remaining"));
  return !(remaining && *remaining == 0);
}

std::optional<std::string> next_page_url(const http_response& response) {
  const std::string* link = response.header("link");
  if (link == nullptr) {
    return std::nullopt;
  }
  // Link: <url>; rel="next", <url>; rel="last"  (RFC 8288 §3). URLs are inside <>, so a
  // comma inside one cannot split a link-value.
  std::string_view rest(*link);
  while (!rest.empty()) {
    auto open = rest.find('<');
    if (open == std::string_view::npos) {
      break;
    }
    auto close = rest.find('>', open);
    if (close == std::string_view::npos) {
      break;
    }
    std::string_view target = rest.substr(open + 1, close - open - 1);
    rest.remove_prefix(close + 1);
    auto next_value = rest.find('<');
    std::string_view params = rest.substr(0, next_value);
    std::string lowered = lower(params);
    // rel may be quoted or not, and may list several relation types (rel="next last").
    for (auto pos = lowered.find("rel="); pos != std::string::npos;
         pos = lowered.find("rel=", pos + 4)) {
      std::string_view value = std::string_view(lowered).substr(pos + 4);
      if (!value.empty() && value.front() == '"') {
        value.remove_prefix(1);
        value = value.substr(0, value.find('"'));
      } else {
        value = value.substr(0, value.find_first_of(";, "));
      }
      std::size_t start = 0;
      while (start <= value.size()) {
        auto end = value.find(' ', start);
        if (value.substr(start, end - start) == "next") {
          return std::string(target);
        }
        if (end == std::string_view::npos) {
          break;
        }
        start = end + 1;
      }
    }
    if (next_value == std::string_view::npos) {
      break;
    }
  }
  return std::nullopt;
}

error error_from_response(std::string_view method, std::string_view path,
                          const http_response& response) {
  const int status = response.status;
  std::string msg = std::string(method) + " " + std::string(path) + ": " + std::to_string(status);
  const std::string github = github_message(response.body);
  if (!github.empty()) {
    msg += " " + github;
  }
  error_kind kind = error_kind::invalid_input;
  if (status == 401) {
    kind = error_kind::unauthorized;
  } else if (status == 404 || status == 410) {
    kind = error_kind::not_found;
  } else if (status >= 500 || is_rate_limited(response)) {
    kind = error_kind::transient;
    if (status < 500) {
      msg += " (rate limited)";
    }
  } else if (status == 409) {
    kind = error_kind::conflict;
  } else if (status == 422) {
    const std::string l = lower(github);
    if (l.find("already exists") != std::string::npos ||
        l.find("already_exists") != std::string::npos ||
        l.find("fast forward") != std::string::npos ||
        l.find("fast-forward") != std::string::npos) {
      kind = error_kind::conflict;
    }
  }
  return make_error(kind, std::move(msg));
}

}  // namespace ferry::github
