#include "service/replay.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace ferry::service {
namespace {

TEST(replay, wrapped_delivery_keeps_event_and_id) {
  auto d = load_saved_delivery("a.json",
                               R"({"event":"ping","delivery":"abc-1","payload":{"zen":"x"}})", "");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->event, "ping");
  EXPECT_EQ(d->delivery_id, "abc-1");
  EXPECT_EQ(d->payload, R"({"zen":"x"})");
}

TEST(replay, raw_payload_is_sent_byte_for_byte_with_the_given_event) {
  const std::string raw = "{ \"zen\" : \"Keep it simple\" }\n";
  auto d = load_saved_delivery("raw.json", raw, "ping");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->event, "ping");
  EXPECT_EQ(d->payload, raw);
  // A generated delivery id has GitHub's shape: a version-4 UUID.
  EXPECT_TRUE(std::regex_match(
      d->delivery_id,
      std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << d->delivery_id;
}

TEST(replay, event_flag_overrides_the_file) {
  auto d = load_saved_delivery("a.json", R"({"event":"ping","payload":{}})", "package");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->event, "package");
}

TEST(replay, raw_payload_without_event_names_the_file_and_the_fix) {
  auto d = load_saved_delivery("saved/raw.json", R"({"zen":"x"})", "");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("saved/raw.json"), std::string::npos);
  EXPECT_NE(d.error().message.find("--event"), std::string::npos);
}

TEST(replay, not_json_is_an_error_naming_the_file) {
  auto d = load_saved_delivery("broken.json", "{\"event\":", "ping");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().kind, error_kind::invalid_input);
  EXPECT_NE(d.error().message.find("broken.json"), std::string::npos);
}

TEST(replay, bad_url_is_refused_before_any_connection) {
  auto answer = post_delivery({"ftp://example.invalid/webhook", "s"}, {"ping", "id", "{}"});
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().kind, error_kind::invalid_input);
  EXPECT_NE(answer.error().message.find("--url"), std::string::npos);
}

TEST(replay, unreachable_server_is_a_transient_error) {
  // Port 1 on loopback: nothing listens there in a test sandbox; the connection is refused.
  auto answer = post_delivery({"http://127.0.0.1:1/webhook", "s"}, {"ping", "id", "{}"});
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().kind, error_kind::transient);
}

}  // namespace
}  // namespace ferry::service
