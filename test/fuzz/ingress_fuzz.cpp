// libFuzzer target for the ingress (issue 10.6): the bytes of one HTTP request as a client sends
// them, through request_parser (service/ingress/request_head.hpp, the head and body reader every
// connection uses) and, once a request has been read whole, the webhook's guards 2-4
// (guards.hpp): the signature check, the media type, the form `payload` decoding, and each
// event kind's payload parser. The first input byte decides whether the body is signed with
// the test secret (so fuzzed payloads reach the parsers, not just the 401) and how the request
// is split into reads (a parser must not depend on where a read ends).
//
// Whatever the input: no crash, no leak, no hang; a rejection always carries a status and an
// answer; a request the parser accepted never exceeds the limits it was given.
//
//   cmake --preset fuzz && cmake --build build-fuzz --target ingress_fuzz
//   ./build-fuzz/test/fuzz/ingress_fuzz -max_total_time=60 fixtures/fuzz/ingress_fuzz
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include "service/ingress/guards.hpp"
#include "service/ingress/request_head.hpp"
#include "service/signature.hpp"

namespace {

constexpr std::string_view k_secret = "fuzz-secret";
constexpr std::size_t k_body_max = 256 * 1024;
constexpr std::size_t k_header_max = 16 * 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::service::ingress;
  namespace http = boost::beast::http;
  if (size == 0) {
    return 0;
  }
  static const ferry::service::webhook_verifier verifier(k_secret);
  const bool sign = (data[0] & 1) != 0;
  const std::size_t step = 1 + (data[0] >> 1);  // bytes per read: 1..128
  const std::string_view wire(reinterpret_cast<const char*>(data + 1), size - 1);

  request_head head;
  std::string body;
  request_parser p(head, body, k_body_max, k_header_max);
  p.eager(true);
  std::string pending;
  std::size_t offset = 0;
  boost::beast::error_code ec;
  while (!p.is_done() && offset < wire.size()) {
    const std::size_t n = std::min(step, wire.size() - offset);
    pending.append(wire.substr(offset, n));
    offset += n;
    const std::size_t used = p.put(boost::asio::buffer(pending), ec);
    pending.erase(0, used);
    if (ec == http::error::need_more) {
      ec = {};
      continue;
    }
    if (ec) {
      // A read error becomes an answer or a silent close, never anything else.
      if (const auto r =
              read_rejection(p.is_header_done() ? read_stage::body : read_stage::header, ec)) {
        if (r->status < 400 || r->status > 599 || r->answer.empty()) {
          std::abort();
        }
      }
      return 0;
    }
  }
  if (!p.is_done()) {
    return 0;
  }
  if (body.size() > k_body_max) {
    std::abort();  // the parser's limit was not enforced
  }
  (void)target_path(head.target);
  if (sign) {
    head.signature = ferry::service::sign_sha256(k_secret, body);
    head.signature_count = 1;
  }
  std::string form_json;
  const auto checked = check_webhook(head, body, form_json, verifier);
  if (const auto* r = std::get_if<rejection>(&checked)) {
    if (r->status < 400 || r->status > 499 || r->answer.empty() || r->reason.empty()) {
      std::abort();
    }
  }
  return 0;
}
