// The webhook's guards as pure functions, one row a case (the socket-level rows, with the real
// server, are in test/service/server_test.cpp).
#include "service/ingress/guards.hpp"

#include <gtest/gtest.h>
#include <boost/beast/http/error.hpp>

#include <string>
#include <variant>
#include <vector>

#include "service/signature.hpp"

namespace ferry::service::ingress {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view k_secret = "It's a Secret to Everybody";
constexpr std::string_view k_ping = R"({"zen":"Keep it logically awesome.","hook_id":1})";

request_head signed_head(std::string_view body) {
  request_head h;
  h.method = http::verb::post;
  h.target = "/webhook";
  h.content_type = "application/json";
  h.signature = sign_sha256(k_secret, body);
  h.signature_count = 1;
  h.event = "ping";
  h.event_count = 1;
  h.delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
  h.delivery_count = 1;
  return h;
}

TEST(guards, read_errors_map_to_answers) {
  struct row {
    read_stage stage;
    http::error error;
    int status;  // 0: nobody to answer
  };
  const std::vector<row> rows = {
      {read_stage::header, http::error::body_limit, 413},
      {read_stage::header, http::error::header_limit, 431},
      {read_stage::header, http::error::bad_method, 400},
      {read_stage::header, http::error::end_of_stream, 0},
      {read_stage::body, http::error::body_limit, 413},
      {read_stage::body, http::error::partial_message, 400},
      {read_stage::body, http::error::bad_chunk, 400},
      {read_stage::body, http::error::end_of_stream, 0},
  };
  for (const auto& r : rows) {
    const auto got = read_rejection(r.stage, http::make_error_code(r.error));
    if (r.status == 0) {
      EXPECT_FALSE(got.has_value()) << static_cast<int>(r.error);
    } else {
      ASSERT_TRUE(got.has_value()) << static_cast<int>(r.error);
      EXPECT_EQ(got->status, r.status) << static_cast<int>(r.error);
    }
  }
}

TEST(guards, media_type_ignores_case_parameters_and_spaces) {
  EXPECT_EQ(media_type_of("application/json"), body_format::json);
  EXPECT_EQ(media_type_of(" Application/JSON ; charset=utf-8"), body_format::json);
  EXPECT_EQ(media_type_of("application/x-www-form-urlencoded"), body_format::form);
  EXPECT_EQ(media_type_of("text/plain"), body_format::unsupported);
  EXPECT_EQ(media_type_of(""), body_format::unsupported);
}

TEST(guards, form_payload_is_decoded) {
  std::string out;
  ASSERT_TRUE(extract_form_payload("a=1&payload=%7B%22x%22%3A+1%7D&b=2", out));
  EXPECT_EQ(out, R"({"x": 1})");
  EXPECT_FALSE(extract_form_payload("payload=%7", out));
  EXPECT_FALSE(extract_form_payload("payload=%zz", out));
  EXPECT_FALSE(extract_form_payload("other=1", out));
}

TEST(guards, webhook_guards_in_spec_order) {
  struct row {
    const char* name;
    void (*edit)(request_head&, std::string&);
    int status;  // 0: accepted and parsed
  };
  const std::vector<row> rows = {
      {"valid", [](request_head&, std::string&) {}, 0},
      {"no signature",
       [](request_head& h, std::string&) {
         h.signature.clear();
         h.signature_count = 0;
       },
       401},
      {"two signatures", [](request_head& h, std::string&) { h.signature_count = 2; }, 401},
      {"body changed after signing", [](request_head&, std::string& b) { b += " "; }, 401},
      // 401 comes before 415 and 400: a bad signature and a bad type answer 401.
      {"bad signature and type",
       [](request_head& h, std::string& b) {
         b += " ";
         h.content_type = "text/plain";
       },
       401},
      {"unsupported type", [](request_head& h, std::string&) { h.content_type = "text/plain"; },
       415},
      {"no event",
       [](request_head& h, std::string&) {
         h.event.clear();
         h.event_count = 0;
       },
       400},
      {"two deliveries", [](request_head& h, std::string&) { h.delivery_count = 2; }, 400},
      {"form without payload",
       [](request_head& h, std::string&) { h.content_type = "application/x-www-form-urlencoded"; },
       400},
  };
  const webhook_verifier verifier(k_secret);
  for (const auto& r : rows) {
    std::string body(k_ping);
    request_head head = signed_head(body);
    r.edit(head, body);
    std::string form;
    auto got = check_webhook(head, body, form, verifier);
    if (r.status == 0) {
      EXPECT_TRUE(std::holds_alternative<events::event>(got)) << r.name;
    } else {
      ASSERT_TRUE(std::holds_alternative<rejection>(got)) << r.name;
      EXPECT_EQ(std::get<rejection>(got).status, r.status) << r.name;
    }
  }
}

TEST(guards, malformed_json_with_a_valid_signature_is_400) {
  std::string body = "{not json";
  const request_head head = signed_head(body);
  std::string form;
  const webhook_verifier verifier(k_secret);
  auto got = check_webhook(head, body, form, verifier);
  ASSERT_TRUE(std::holds_alternative<rejection>(got));
  EXPECT_EQ(std::get<rejection>(got).status, 400);
  EXPECT_EQ(std::get<rejection>(got).reason, "bad_request");
}

}  // namespace
}  // namespace ferry::service::ingress
