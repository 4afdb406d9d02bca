#pragma once
// The webhook's guards, in SPEC's order ("HTTP endpoints"), each answering early:
//
//   1  413  body over the limit: enforced by request_parser's body_limit while reading
//           (read_rejection turns the read's error into the answer)
//   2  401  X-Hub-Signature-256 missing, repeated, or not the HMAC-SHA256 of the raw body
//           (constant-time compare, before any parsing)
//   3  415  Content-Type other than application/json or application/x-www-form-urlencoded
//   4  400  X-GitHub-Event or X-GitHub-Delivery missing or repeated, a form body without its
//           `payload` field, or a payload that does not parse
//
// Pure functions over what was read: no I/O, so each row of the table is testable alone
// (test/service/ingress/guards_test.cpp); the session (session.hpp) writes the answers.

#include <boost/beast/core/error.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "service/events/events.hpp"
#include "service/ingress/request_head.hpp"
#include "service/signature.hpp"

namespace ferry::service::ingress {

// Why a request is refused, and what to answer.
struct rejection {
  int status = 400;
  std::string_view reason;  // label of ferry_webhook_rejections_total
  std::string detail;       // for the log line (never the body)
  std::string_view answer;  // text/plain body of the answer
};

// Which read failed: the header (any path) or a webhook's body.
enum class read_stage { header, body };

// The answer to a failed read, or nullopt when there is nobody to answer (the client went
// away, a deadline passed and closed the socket, or drain() closed the connection). Every
// rejection here ends the connection: what is left of the request cannot be trusted.
std::optional<rejection> read_rejection(read_stage stage, const boost::beast::error_code& ec);

// Media type of a Content-Type value without its parameters, trimmed ("application/json" from
// "Application/JSON; charset=utf-8"); RFC 9110 section 8.3.1: type and subtype are
// case-insensitive.
enum class body_format { json, form, unsupported };
body_format media_type_of(std::string_view content_type) noexcept;

// GitHub's form content type sends the JSON as the `payload` field of an
// application/x-www-form-urlencoded body (docs.github.com: "Creating webhooks", content type).
// Decodes that field into out ('+' is a space, %XX a byte: WHATWG URL "application/
// x-www-form-urlencoded parsing"). False when the field is missing or an escape is malformed.
bool extract_form_payload(std::string_view body, std::string& out);

// Guards 2 to 4 over a request read whole: the parsed event, or the rejection to answer.
// body gains padding capacity so the JSON parser reads it in place; form_json receives a form
// body's decoded payload (both are the connection's reused buffers).
std::variant<rejection, events::event> check_webhook(const request_head& head, std::string& body,
                                                     std::string& form_json,
                                                     const webhook_verifier& verifier);

}  // namespace ferry::service::ingress
