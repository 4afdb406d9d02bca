#include "service/ingress/request_head.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>

#include <algorithm>

#include "service/limits.hpp"

namespace ferry::service::ingress {

namespace beast = boost::beast;
namespace http = beast::http;

void request_head::clear() {
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

request_parser::request_parser(request_head& head, std::string& body, std::size_t body_max,
                               std::size_t header_max)
    : head_(head), body_(body) {
  head_.clear();
  body_.clear();
  header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(header_max, UINT32_MAX)));
  body_limit(body_max);
}

void request_parser::on_request_impl(http::verb method, beast::string_view,
                                     beast::string_view target, int version, beast::error_code&) {
  head_.method = method;
  head_.target.assign(target.data(), target.size());
  head_.version = version;
}

void request_parser::on_response_impl(int, beast::string_view, int, beast::error_code&) {}

void request_parser::on_field_impl(http::field name, beast::string_view name_string,
                                   beast::string_view value, beast::error_code&) {
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

void request_parser::on_header_impl(beast::error_code&) {}

void request_parser::on_body_init_impl(const boost::optional<std::uint64_t>& length,
                                       beast::error_code&) {
  if (length) {
    // Checked against body_limit by basic_parser before this call; the padding lets the events
    // parser read in place.
    body_.reserve(static_cast<std::size_t>(*length) + limits::k_json_padding);
  }
}

std::size_t request_parser::on_body_impl(beast::string_view s, beast::error_code&) {
  body_.append(s.data(), s.size());
  return s.size();
}

void request_parser::on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) {}

std::size_t request_parser::on_chunk_body_impl(std::uint64_t, beast::string_view s,
                                               beast::error_code&) {
  body_.append(s.data(), s.size());
  return s.size();
}

void request_parser::on_finish_impl(beast::error_code&) {}

std::string_view target_path(std::string_view target) noexcept {
  return target.substr(0, target.find('?'));
}

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

}  // namespace ferry::service::ingress
