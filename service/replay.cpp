#include "service/replay.hpp"

#include <openssl/rand.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "service/signature.hpp"

namespace ferry::service {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

template <typename Stream>
result<replay_answer> exchange(Stream& stream, http::request<http::string_body>& req) {
  beast::error_code ec;
  http::write(stream, req, ec);
  if (ec) {
    return make_error(error_kind::transient, "sending the delivery failed: " + ec.message());
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1024 * 1024);
  http::read(stream, buffer, parser, ec);
  if (ec) {
    return make_error(error_kind::transient, "reading the answer failed: " + ec.message());
  }
  auto res = parser.release();
  return replay_answer{static_cast<int>(res.result_int()), std::move(res.body())};
}

}  // namespace

std::string random_delivery_id() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) {
    // RAND_bytes only fails when the system has no entropy source; fall back to the clock so
    // replay still works (the id only needs to be unique enough for local development).
    const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
    for (std::size_t i = 0; i < sizeof b; ++i) {
      b[i] = static_cast<unsigned char>(t >> ((i % 8) * 8));
    }
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      out += '-';
    }
    out += hex[b[i] >> 4];
    out += hex[b[i] & 0xf];
  }
  return out;
}

result<saved_delivery> load_saved_delivery(std::string_view file_name, std::string_view content,
                                           std::string_view event_override) {
  boost::system::error_code ec;
  auto doc = boost::json::parse(content, ec);
  if (ec) {
    return make_error(error_kind::invalid_input,
                      std::string(file_name) + ": not JSON (" + ec.message() + ")");
  }
  saved_delivery d;
  const auto* obj = doc.if_object();
  const bool wrapped = obj && obj->contains("payload") &&
                       (obj->contains("event") || !event_override.empty()) &&
                       (*obj).at("payload").is_object();
  if (wrapped) {
    d.payload = boost::json::serialize(obj->at("payload"));
    if (const auto* e = obj->if_contains("event"); e && e->is_string()) {
      d.event = std::string(e->as_string());
    }
    for (const char* key : {"delivery", "guid", "delivery_id"}) {
      if (const auto* v = obj->if_contains(key); v && v->is_string()) {
        d.delivery_id = std::string(v->as_string());
        break;
      }
    }
  } else {
    d.payload = std::string(content);  // sent byte for byte as saved
  }
  if (!event_override.empty()) {
    d.event = std::string(event_override);
  }
  if (d.event.empty()) {
    return make_error(error_kind::invalid_input,
                      std::string(file_name) +
                          ": a raw payload needs --event (or save it as {\"event\": ..., "
                          "\"payload\": ...})");
  }
  if (d.delivery_id.empty()) {
    d.delivery_id = random_delivery_id();
  }
  return d;
}

result<replay_answer> post_delivery(const replay_target& target, const saved_delivery& d) {
  auto url = boost::urls::parse_absolute_uri(target.url);
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty()) {
    return make_error(error_kind::invalid_input,
                      "--url: expected http(s)://host[:port]/path, got '" + target.url + "'");
  }
  const bool tls = url->scheme() == "https";
  const std::string host = url->host();
  const std::string port = url->has_port() ? std::string(url->port()) : (tls ? "443" : "80");
  std::string path = url->encoded_path().empty() ? "/" : std::string(url->encoded_path());
  if (url->has_query()) {
    path += "?" + std::string(url->encoded_query());
  }

  http::request<http::string_body> req{http::verb::post, path, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "GitHub-Hookshot/ferry-replay");
  req.set(http::field::content_type, "application/json");
  req.set("X-GitHub-Event", d.event);
  req.set("X-GitHub-Delivery", d.delivery_id);
  req.set("X-Hub-Signature-256", sign_sha256(target.secret, d.payload));
  req.body() = d.payload;
  req.prepare_payload();

  try {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    const auto endpoints = resolver.resolve(host, port, ec);
    if (ec) {
      return make_error(error_kind::transient, "resolving " + host + ": " + ec.message());
    }
    if (!tls) {
      beast::tcp_stream stream(ioc);
      stream.expires_after(target.timeout);
      stream.connect(endpoints, ec);
      if (ec) {
        return make_error(error_kind::transient,
                          "connecting to " + host + ":" + port + ": " + ec.message());
      }
      auto answer = exchange(stream, req);
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      return answer;
    }
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_default_verify_paths();
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()) ||
        !SSL_set1_host(stream.native_handle(), host.c_str())) {
      return make_error(error_kind::internal, "setting up TLS for " + host + " failed");
    }
    beast::get_lowest_layer(stream).expires_after(target.timeout);
    beast::get_lowest_layer(stream).connect(endpoints, ec);
    if (!ec) {
      stream.handshake(asio::ssl::stream_base::client, ec);
    }
    if (ec) {
      return make_error(error_kind::transient,
                        "connecting to " + host + ":" + port + ": " + ec.message());
    }
    return exchange(stream, req);
  } catch (const std::exception& e) {
    return make_error(error_kind::transient, std::string("replay to ") + host + ": " + e.what());
  }
}

}  // namespace ferry::service
