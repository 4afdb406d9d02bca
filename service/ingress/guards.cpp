#include "service/ingress/guards.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include "service/limits.hpp"

namespace ferry::service::ingress {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

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

}  // namespace

std::optional<rejection> read_rejection(read_stage stage, const beast::error_code& ec) {
  const bool header = stage == read_stage::header;
  if (ec == http::error::body_limit) {
    // In the header stage: a Content-Length over the limit, refused before any body byte.
    return rejection{413, "too_large",
                     header ? "Content-Length over the limit" : "body over the limit",
                     "request body too large\n"};
  }
  if (header && ec == http::error::header_limit) {
    return rejection{431, "bad_request", "request header too large", "request header too large\n"};
  }
  if (!header && ec == http::error::partial_message) {
    // The client half-closed before sending the whole body it announced.
    return rejection{400, "bad_request", "truncated body", "truncated body\n"};
  }
  if (ec && is_http_parse_error(ec)) {
    return rejection{400, "bad_request", ec.message(),
                     header ? "malformed request\n" : "malformed request body\n"};
  }
  return std::nullopt;
}

body_format media_type_of(std::string_view content_type) noexcept {
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

std::variant<rejection, events::event> check_webhook(const request_head& head, std::string& body,
                                                     std::string& form_json,
                                                     const webhook_verifier& verifier) {
  // Guard 2 (401): HMAC over the raw bytes, constant-time compare, before any parsing. A
  // repeated signature header is refused rather than choosing one.
  if (head.signature_count != 1 || !verifier.verify(body, head.signature)) {
    return rejection{401, "bad_signature",
                     head.signature_count == 0 ? "X-Hub-Signature-256 missing"
                                               : "X-Hub-Signature-256 does not match",
                     "signature missing or invalid\n"};
  }
  // Guard 3 (415).
  const body_format format = media_type_of(head.content_type);
  if (format == body_format::unsupported) {
    return rejection{415, "unsupported_media_type", "Content-Type: " + head.content_type,
                     "Content-Type must be application/json or "
                     "application/x-www-form-urlencoded\n"};
  }
  // Guard 4 (400): headers, then the body.
  if (head.event_count != 1 || head.event.empty() || head.delivery_count != 1 ||
      head.delivery.empty()) {
    return rejection{400, "bad_request",
                     (head.event_count != 1 || head.event.empty())
                         ? "X-GitHub-Event missing or repeated"
                         : "X-GitHub-Delivery missing or repeated",
                     "X-GitHub-Event and X-GitHub-Delivery are required\n"};
  }
  std::string_view json;
  if (format == body_format::json) {
    body.reserve(body.size() + limits::k_json_padding);  // no-op when Content-Length was set
    json = body;
  } else {
    if (!extract_form_payload(body, form_json)) {
      return rejection{400, "bad_request", "form body without a well-formed payload field",
                       "form body needs a payload field\n"};
    }
    json = form_json;
  }
  auto parsed = events::parse_event(head.event, json);
  if (!parsed) {
    return rejection{400, "bad_request", parsed.error().message, "malformed payload\n"};
  }
  return std::move(*parsed);
}

}  // namespace ferry::service::ingress
