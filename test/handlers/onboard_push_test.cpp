// Onboarding pull requests (handlers/onboard_push.cpp) through the dispatcher, in process,
// against the GitHub double (test/support/handler_double.hpp): an application repository
// `dine-together/shop` with a compose file, listed under `onboarding.sources` of the example
// infra repository. Each test pushes to the application as a person would (the double records
// the push webhook GitHub would send) and hands that delivery to ferry.
#include <gtest/gtest.h>

#include <string>

#include "test/support/handler_double.hpp"

namespace {

using ferry::service::outcome;
using ferry::test::e2e::handler_double_test;
namespace http = boost::beast::http;
namespace json = boost::json;

constexpr const char* k_app = "dine-together/shop";
constexpr const char* k_branch = "ferry/onboard/shop";

const std::string k_compose = R"(services:
  web:
    image: ghcr.io/dine-together/shop:1.0.0
    ports: ["8080:80"]
)";

class onboard_push : public handler_double_test {
 protected:
  void SetUp() override {
    handler_double_test::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    const std::string repo = json::serialize(json::value{
        {"owner", "dine-together"},
        {"name", "shop"},
        {"installation_id", 7},
        {"default_branch", "main"},
        {"files", json::object{{"docker-compose.yml", k_compose}, {"README.md", "shop\n"}}}});
    ASSERT_EQ(control(http::verb::post, "/_double/repos", repo).status, 201);
    // The infra repository lists the application for onboarding.
    std::string rules = ferry::test::e2e::read_all(std::string(FERRY_SOURCE_DIR) +
                                                   "/infra/example-infra/.github/ferry.yaml");
    rules +=
        "onboarding:\n  org: dine-together\n  domain: dine.dev\n  sources:\n"
        "    - repo: dine-together/shop\n";
    push_files("heads/main", {{".github/ferry.yaml", rules}});
    ASSERT_EQ(control(http::verb::delete_, "/_double/requests").status / 100, 2);
  }

  // Pushes `files` to the application repository's `ref` as a person would; the push webhook
  // GitHub would send for it.
  json::value push_app(const json::object& files, const std::string& ref = "heads/main") {
    const auto since = last_webhook_seq();
    const auto moved =
        control(http::verb::post, std::string("/_double/repos/") + k_app + "/move-ref",
                json::serialize(json::value{{"ref", ref}, {"files", files}}));
    EXPECT_EQ(moved.status / 100, 2) << moved.body;
    for (const auto& w : webhooks(since)) {
      const auto& o = w.as_object();
      if (o.at("event").as_string() == "push" &&
          o.at("payload").at("repository").at("full_name").as_string() == k_app) {
        return w;
      }
    }
    ADD_FAILURE() << "no push recorded for " << k_app;
    return {};
  }

  static std::string after_of(const json::value& push) {
    return std::string(push.at("payload").at("after").as_string());
  }

  json::array pulls() { return infra_state().at("pulls").as_array(); }
  // The onboarding PRs (open or not).
  std::vector<json::object> onboarding_pulls() {
    std::vector<json::object> out;
    for (const auto& p : pulls()) {
      if (p.at("head").as_string() == k_branch) {
        out.push_back(p.as_object());
      }
    }
    return out;
  }

  // A file of the infra repository at `ref` ("" when absent), read by git from the double's
  // repository.
  std::string infra_file(const std::string& path, const std::string& ref) {
    const std::string object = "'" + ref + ":" + path + "'";
    if (!git("cat-file -e " + object).empty()) {
      return {};
    }
    return git("show " + object);
  }

  std::string app_status(const std::string& sha) {
    const auto s = json::parse(control(http::verb::get, "/_double/state").body);
    const auto* by_sha = s.at("repos").at(k_app).at("statuses").as_object().if_contains(sha);
    if (by_sha == nullptr) {
      return {};
    }
    std::string latest;
    for (const auto& st : by_sha->as_array()) {
      if (st.at("context").as_string() == "ferry/onboard") {
        latest = std::string(st.at("state").as_string()) + ": " +
                 std::string(st.at("description").as_string());
      }
    }
    return latest;
  }

  // Merges the onboarding PR as a person would.
  void merge_onboarding_pr() {
    const auto prs = onboarding_pulls();
    ASSERT_EQ(prs.size(), 1u);
    const auto n = prs.front().at("number").as_int64();
    const auto merged =
        control(http::verb::post, "/_double/repos/dine-together/infra/pulls/" + std::to_string(n),
                R"({"merge": "squash"})");
    ASSERT_EQ(merged.status / 100, 2) << merged.body;
  }
};

TEST_F(onboard_push, a_listed_repository_s_compose_push_opens_the_onboarding_pr) {
  const auto push = push_app({{"docker-compose.yml", k_compose + "    x-ferry: {replicas: 1}\n"}});
  const auto r = dispatch_recorded(push);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::done);

  const auto prs = onboarding_pulls();
  ASSERT_EQ(prs.size(), 1u);
  const auto& pr = prs.front();
  EXPECT_EQ(pr.at("state").as_string(), "open");
  const std::string sha = after_of(push);
  EXPECT_EQ(pr.at("title").as_string(),
            "ferry: onboard shop from dine-together/shop@" + sha.substr(0, 7));
  const std::string body(pr.at("body").as_string());
  EXPECT_NE(body.find("/dine-together/shop/commit/" + sha), std::string::npos) << body;
  EXPECT_NE(body.find("`apps/shop/base/web-deployment.yaml` (new)"), std::string::npos) << body;
  EXPECT_NE(body.find("`.github/ferry.yaml` (updated)"), std::string::npos) << body;
  EXPECT_NE(body.find("### Conversion log"), std::string::npos) << body;
  EXPECT_NE(body.find("Nothing is applied until this pull request is merged"), std::string::npos);
  bool labelled = false;
  for (const auto& l : pr.at("labels").as_array()) {
    labelled = labelled || l.as_string() == "ferry";
  }
  EXPECT_TRUE(labelled) << json::serialize(pr);

  // The branch carries the conversion, the new rule and the ownership record; main does not.
  const std::string deployment = infra_file("apps/shop/base/web-deployment.yaml", k_branch);
  EXPECT_NE(deployment.find("image: ghcr.io/dine-together/shop:1.0.0"), std::string::npos)
      << deployment;
  EXPECT_NE(infra_file(".github/ferry.yaml", k_branch).find("name: shop-web"), std::string::npos);
  EXPECT_NE(infra_file(".github/ferry-onboard/shop.json", k_branch)
                .find("\"apps/shop/base/web-deployment.yaml\""),
            std::string::npos);
  EXPECT_TRUE(infra_file("apps/shop/base/web-deployment.yaml", "main").empty());
  // The commit is GitHub's, verified; nothing reached the application repository.
  const auto head = std::string(pr.at("head_sha").as_string());
  const auto commit = github(http::verb::get, "/repos/dine-together/infra/git/commits/" + head);
  ASSERT_EQ(commit.status, 200);
  EXPECT_TRUE(json::parse(commit.body).at("verification").at("verified").as_bool());
  EXPECT_TRUE(app_status(sha).empty());
}

TEST_F(onboard_push, a_second_push_updates_the_same_pr) {
  ASSERT_TRUE(dispatch_recorded(push_app({{"docker-compose.yml", k_compose + "\n"}})).ok());
  ASSERT_EQ(onboarding_pulls().size(), 1u);
  const auto first_head = std::string(onboarding_pulls().front().at("head_sha").as_string());

  const auto push =
      push_app({{"docker-compose.yml", k_compose + "    environment:\n      LOG_LEVEL: debug\n"}});
  ASSERT_EQ(control(http::verb::delete_, "/_double/requests").status / 100, 2);
  const auto r = dispatch_recorded(push);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto prs = onboarding_pulls();
  ASSERT_EQ(prs.size(), 1u);
  EXPECT_NE(prs.front().at("head_sha").as_string(), first_head);
  EXPECT_EQ(prs.front().at("title").as_string(),
            "ferry: onboard shop from dine-together/shop@" + after_of(push).substr(0, 7));
  EXPECT_NE(infra_file("apps/shop/base/web-configmap.yaml", k_branch).find("LOG_LEVEL: debug"),
            std::string::npos);
}

TEST_F(onboard_push, a_person_s_change_in_the_infra_repo_is_left_alone_and_named) {
  ASSERT_TRUE(dispatch_recorded(push_app({{"docker-compose.yml", k_compose + "\n"}})).ok());
  merge_onboarding_pr();
  const std::string path = "apps/shop/base/web-deployment.yaml";
  std::string deployment = infra_file(path, "main");
  const auto at = deployment.find("replicas: 1");
  ASSERT_NE(at, std::string::npos) << deployment;
  deployment.replace(at, 11, "replicas: 3  # we need three");
  push_files("heads/main", {{path, deployment}});

  // The application now asks for two replicas and a new port.
  const auto r = dispatch_recorded(push_app(
      {{"docker-compose.yml", std::string("services:\n  web:\n    image: "
                                          "ghcr.io/dine-together/shop:1.0.0\n    ports: "
                                          "[\"8080:80\", \"9090:9090\"]\n    deploy: {replicas: "
                                          "2}\n")}}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto prs = onboarding_pulls();
  ASSERT_EQ(prs.size(), 2u);  // the first, merged; the update
  const json::object* open = nullptr;
  for (const auto& p : prs) {
    if (p.at("state").as_string() == "open") {
      open = &p;
    }
  }
  ASSERT_NE(open, nullptr);
  const std::string body(open->at("body").as_string());
  EXPECT_NE(body.find(path + ": spec.replicas (you set 3; ferry would write 2)"), std::string::npos)
      << body;
  const std::string updated = infra_file(path, k_branch);
  EXPECT_NE(updated.find("replicas: 3  # we need three"), std::string::npos) << updated;
  EXPECT_NE(updated.find("containerPort: 9090"), std::string::npos) << updated;
}

TEST_F(onboard_push, pushes_that_are_not_onboarding_write_nothing) {
  // Not the default branch.
  auto r = dispatch_recorded(push_app({{"docker-compose.yml", k_compose + "\n"}}, "heads/feature"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::ignored);
  EXPECT_TRUE(requests().empty()) << json::serialize(requests());
  // The compose file not touched.
  r = dispatch_recorded(push_app({{"README.md", "shop, now with docs\n"}}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::ignored);
  // The compose file removed.
  r = dispatch_recorded(push_app({{"docker-compose.yml", nullptr}}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::ignored);
  EXPECT_EQ(github_writes(), 0) << json::serialize(requests());
  EXPECT_TRUE(onboarding_pulls().empty());
}

TEST_F(onboard_push, an_unlisted_repository_is_answered_from_the_fresh_rules_view) {
  const std::string repo =
      json::serialize(json::value{{"owner", "dine-together"},
                                  {"name", "other"},
                                  {"installation_id", 7},
                                  {"files", json::object{{"docker-compose.yml", k_compose}}}});
  ASSERT_EQ(control(http::verb::post, "/_double/repos", repo).status, 201);
  auto push_other = [&]() {
    const auto since = last_webhook_seq();
    const auto moved =
        control(http::verb::post, "/_double/repos/dine-together/other/move-ref",
                json::serialize(json::value{
                    {"ref", "heads/main"},
                    {"files", json::object{{"docker-compose.yml",
                                            k_compose + "# " + std::to_string(since) + "\n"}}}}));
    EXPECT_EQ(moved.status / 100, 2);
    return webhooks(since).back();
  };
  // The first push reads the rules (no write); the view then answers the next one at once.
  auto r = dispatch_recorded(push_other());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::ignored);
  EXPECT_EQ(github_writes(), 0) << json::serialize(requests());
  ASSERT_EQ(control(http::verb::delete_, "/_double/requests").status / 100, 2);
  const auto second = push_other();
  r = dispatch_recorded(second);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::ignored);
  EXPECT_TRUE(requests().empty()) << json::serialize(requests());
  // The ingress decider says the same without the handler.
  const auto parsed = ferry::events::parse_event("push", json::serialize(second.at("payload")));
  ASSERT_TRUE(parsed.ok());
  const ferry::events::event ev = *parsed;
  const ferry::log::logger log;
  const ferry::service::delivery d{"decider", "push", ev, log};
  const auto decided = ferry::handlers::make_shared_decider(shared_)(d);
  ASSERT_TRUE(decided.has_value());
  ASSERT_TRUE(decided->ok());
  EXPECT_EQ(**decided, outcome::ignored);
  EXPECT_TRUE(requests().empty());
}

TEST_F(onboard_push, a_compose_file_that_does_not_convert_gets_a_status_and_no_pr) {
  const auto push =
      push_app({{"docker-compose.yml", std::string("services:\n  web:\n    image: nginx\n    "
                                                   "network_mode: host\n")}});
  const auto r = dispatch_recorded(push);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::done);
  const auto status = app_status(after_of(push));
  EXPECT_TRUE(status.starts_with("failure: not onboarded: docker-compose.yml: ")) << status;
  EXPECT_NE(status.find("network_mode"), std::string::npos) << status;
  EXPECT_TRUE(onboarding_pulls().empty());
}

TEST_F(onboard_push, a_redelivery_writes_nothing_more) {
  const auto push = push_app({{"docker-compose.yml", k_compose + "\n"}});
  ASSERT_TRUE(dispatch_recorded(push).ok());
  ASSERT_EQ(onboarding_pulls().size(), 1u);
  ASSERT_EQ(control(http::verb::delete_, "/_double/requests").status / 100, 2);
  const auto r = dispatch_recorded(push);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::done);
  EXPECT_EQ(github_writes(), 0) << json::serialize(requests());
  EXPECT_EQ(onboarding_pulls().size(), 1u);
}

TEST_F(onboard_push, a_push_from_another_installation_is_not_read) {
  const std::string repo =
      json::serialize(json::value{{"owner", "elsewhere"},
                                  {"name", "shop"},
                                  {"installation_id", 99},
                                  {"files", json::object{{"docker-compose.yml", k_compose}}}});
  ASSERT_EQ(control(http::verb::post, "/_double/repos", repo).status, 201);
  std::string rules = infra_file(".github/ferry.yaml", "main");
  rules += "    - repo: elsewhere/shop\n      app: theirs\n";
  push_files("heads/main", {{".github/ferry.yaml", rules}});
  const auto since = last_webhook_seq();
  ASSERT_EQ(control(http::verb::post, "/_double/repos/elsewhere/shop/move-ref",
                    json::serialize(json::value{
                        {"ref", "heads/main"},
                        {"files", json::object{{"docker-compose.yml", k_compose + "\n"}}}}))
                    .status /
                100,
            2);
  const auto r = dispatch_recorded(webhooks(since).back());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, outcome::ignored);
  EXPECT_EQ(github_writes(), 0) << json::serialize(requests());
  for (const auto& req : requests()) {
    EXPECT_EQ(req.at("path").as_string().find("/repos/elsewhere/shop/contents"), std::string::npos);
  }
}

}  // namespace
