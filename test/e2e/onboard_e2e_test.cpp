// Onboarding pull requests end to end (issue 13 item 2): the built `ferry serve` against the
// GitHub double. An application repository with a compose file is listed under
// `onboarding.sources` of the example infra repository; a person's push to it becomes the signed
// push webhook GitHub would send, and ferry answers it with the onboarding PR on the infra
// repository. The cases (updates, ownership, refusals) are in test/handlers/onboard_push_test.cpp.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>

#include "test/support/serve_double.hpp"

namespace {

using ferry::test::e2e::serve_double_test;
namespace http = boost::beast::http;
namespace json = boost::json;

class onboard_e2e : public serve_double_test {};

TEST_F(onboard_e2e, a_compose_push_to_a_listed_repository_opens_the_onboarding_pr) {
  const std::string compose =
      "services:\n  web:\n    image: ghcr.io/dine-together/shop:1.0.0\n"
      "    ports: [\"8080:80\"]\n  db:\n    image: postgres:16\n"
      "    environment:\n      POSTGRES_PASSWORD: ${DB_PASSWORD}\n"
      "    volumes: [\"data:/var/lib/postgresql/data\"]\nvolumes:\n  data: {}\n";
  ASSERT_EQ(control(http::verb::post, "/_double/repos",
                    json::serialize(json::value{{"owner", "dine-together"},
                                                {"name", "shop"},
                                                {"installation_id", 7},
                                                {"default_branch", "main"},
                                                {"files", json::object{{"README.md", "shop\n"}}}}))
                .status,
            201);
  std::string rules = ferry::test::e2e::read_all(std::string(FERRY_SOURCE_DIR) +
                                                 "/infra/example-infra/.github/ferry.yaml");
  rules +=
      "onboarding:\n  org: dine-together\n  domain: dine.dev\n  sources:\n"
      "    - repo: dine-together/shop\n";
  ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/move-ref",
                    json::serialize(json::value{{"ref", "heads/main"},
                                                {"files", {{".github/ferry.yaml", rules}}}}))
                    .status /
                100,
            2);

  const auto since = last_webhook_seq();
  const auto moved =
      control(http::verb::post, "/_double/repos/dine-together/shop/move-ref",
              json::serialize(json::value{{"ref", "heads/main"},
                                          {"files", {{"docker-compose.yml", compose}}},
                                          {"message", "Add the compose file"}}));
  ASSERT_EQ(moved.status / 100, 2) << moved.body;
  const std::string after(json::parse(moved.body).at("to").as_string());
  int pushes = 0;
  for (const auto& w : webhooks(since)) {
    const auto& o = w.as_object();
    if (o.at("event").as_string() == "push" &&
        o.at("payload").at("repository").at("full_name").as_string() == "dine-together/shop") {
      ++pushes;
      const int status = deliver_recorded(w);
      EXPECT_TRUE(status >= 200 && status < 300) << status << "\n" << ferry_->log();
    }
  }
  ASSERT_EQ(pushes, 1);

  std::optional<json::object> pr;
  const auto state = infra_state();
  for (const auto& p : state.at("pulls").as_array()) {
    if (p.at("head").as_string() == "ferry/onboard/shop") {
      pr = p.as_object();
    }
  }
  ASSERT_TRUE(pr) << ferry_->log();
  EXPECT_EQ(pr->at("state").as_string(), "open");
  const std::string body(pr->at("body").as_string());
  EXPECT_NE(body.find("/dine-together/shop/commit/" + after), std::string::npos) << body;
  EXPECT_NE(body.find("### Conversion log"), std::string::npos) << body;
  // The log flags the unset secret-looking interpolation as a secret reference to fill.
  EXPECT_NE(body.find("DB_PASSWORD"), std::string::npos) << body;
  // Nothing reached main: it is applied only once a person merges.
  EXPECT_EQ(github(http::verb::get,
                   "/repos/dine-together/infra/contents/apps/shop/base/kustomization.yaml?ref=main")
                .status,
            404);
  EXPECT_EQ(github(http::verb::get,
                   "/repos/dine-together/infra/contents/apps/shop/base/"
                   "kustomization.yaml?ref=ferry/onboard/shop")
                .status,
            200);
}

}  // namespace
