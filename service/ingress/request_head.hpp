#pragma once
// Reading one HTTP/1.1 request: the request line and the few headers the ingress looks at
// (request_head), filled by a Beast parser that also appends the body to a reused buffer.
// Nothing here decides anything; the guards (guards.hpp) do that over what was read.

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/verb.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::service::ingress {

// The request line and the headers the ingress reads. Strings keep their capacity between
// requests on a connection, so a keep-alive delivery allocates nothing here.
struct request_head {
  boost::beast::http::verb method = boost::beast::http::verb::unknown;
  int version = 11;
  std::string target;
  std::string content_type;
  std::string signature;  // X-Hub-Signature-256
  std::string event;      // X-GitHub-Event
  std::string delivery;   // X-GitHub-Delivery
  // How often each GitHub header appeared: a repeated one is refused rather than choosing one.
  int signature_count = 0;
  int event_count = 0;
  int delivery_count = 0;
  bool expect_continue = false;

  void clear();
};

// A Beast parser that keeps only what the ingress needs: the head above, and the body appended
// to the connection's reused buffer. basic_parser enforces header_limit and body_limit itself
// (a Content-Length above the limit fails with error::body_limit before any body byte is
// consumed; chunked data fails as soon as the running total passes it), so the buffer never
// holds more than the limit. A fresh one is made for every request; it clears head and body.
class request_parser final : public boost::beast::http::basic_parser<true> {
 public:
  request_parser(request_head& head, std::string& body, std::size_t body_max,
                 std::size_t header_max);

 private:
  void on_request_impl(boost::beast::http::verb method, boost::beast::string_view method_string,
                       boost::beast::string_view target, int version,
                       boost::beast::error_code& ec) override;
  void on_response_impl(int code, boost::beast::string_view reason, int version,
                        boost::beast::error_code& ec) override;
  void on_field_impl(boost::beast::http::field name, boost::beast::string_view name_string,
                     boost::beast::string_view value, boost::beast::error_code& ec) override;
  void on_header_impl(boost::beast::error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         boost::beast::error_code& ec) override;
  std::size_t on_body_impl(boost::beast::string_view body, boost::beast::error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, boost::beast::string_view extensions,
                            boost::beast::error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, boost::beast::string_view body,
                                 boost::beast::error_code& ec) override;
  void on_finish_impl(boost::beast::error_code& ec) override;

  request_head& head_;
  std::string& body_;
};

// The path of a request target, without its query ("/webhook" from "/webhook?x=1").
std::string_view target_path(std::string_view target) noexcept;

// True for Beast's errors that mean "not valid HTTP" (answered 400); false for the ends of a
// stream (the client went away, or half-closed mid-body) and for every other category.
bool is_http_parse_error(const boost::beast::error_code& ec);

}  // namespace ferry::service::ingress
