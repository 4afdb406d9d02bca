// Image groups in converge_promotion (handlers/bump_flow.hpp; docs/rules.md "Groups"), in
// process against the GitHub double: the group's images share one branch and one PR per
// environment; deliveries racing on the branch lose nothing (compare-and-swap, re-read,
// re-apply, bounded), and within a process they take turns (handlers/group_lane.hpp); the
// promotion chain moves the group into the next environment's one PR.
#include <gtest/gtest.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "handlers/bump_flow.hpp"
#include "handlers/group_lane.hpp"
#include "handlers/handlers.hpp"
#include "handlers/registry.hpp"
#include "service/promotion/group_body.hpp"
#include "test/support/handler_double.hpp"

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;

constexpr int k_images = 6;

std::string image_name(int i) {
  return "img" + std::to_string(i);
}

std::string rules_text() {
  std::string r = "version: 1\nimages:\n";
  for (int i = 0; i < k_images; ++i) {
    r += "  - name: " + image_name(i) + "\n    image: ghcr.io/dine-together/" + image_name(i) +
         "\n    policy: {semver: {range: \">=1.0.0\"}}\n    group: train\n";
  }
  r += R"(environments:
  - name: staging
    paths: [clusters/staging]
    apply: {flux: {kind: Kustomization, name: apps, namespace: flux-system}}
  - name: production
    paths: [clusters/production]
    promoteFrom: staging
    apply: {job: {namespace: flux-system, template: infra/apply-job.yaml}}
)";
  return r;
}

std::string kustomization() {
  std::string k = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n";
  for (int i = 0; i < k_images; ++i) {
    k += "  - name: ghcr.io/dine-together/" + image_name(i) + "\n    newTag: \"1.0.0\" # " +
         "{\"$imagepolicy\": \"flux-system:" + image_name(i) + ":tag\"}\n";
  }
  return k;
}

class group_flow : public ferry::test::e2e::handler_double_test {
 protected:
  void SetUp() override {
    handler_double_test::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    settings_.rules = ferry::handlers::make_rules_cache();
    ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/settings",
                      R"({"auto_merge_clean": false})")
                  .status,
              200);
    const std::string moved = json::serialize(json::value{
        {"ref", "heads/main"},
        {"files",
         json::object{{".github/ferry.yaml", rules_text()},
                      {"clusters/staging/train/kustomization.yaml", kustomization()},
                      {"clusters/production/train/kustomization.yaml", kustomization()}}}});
    ASSERT_EQ(
        control(http::verb::post, "/_double/repos/dine-together/infra/move-ref", moved).status /
            100,
        2);
  }

  static ferry::handlers::promotion_source published(int image, const std::string& tag) {
    ferry::handlers::promotion_source s;
    s.candidate = {"ghcr.io/dine-together/" + image_name(image), tag,
                   "sha256:" + std::string(63, 'e') + std::to_string(image)};
    return s;
  }

  asio::awaitable<ferry::service::handler_result> converge_one(
      std::string delivery, ferry::handlers::promotion_source source,
      std::vector<std::string> environments) {
    const ferry::log::logger log(std::getenv("FERRY_TEST_LOG") != nullptr
                                     ? std::make_shared<ferry::log::sink>(stderr,
                                                                          ferry::log::level::debug,
                                                                          ferry::log::format::text)
                                     : nullptr);
    co_return co_await ferry::handlers::converge_promotion(
        delivery, log, settings_, settings_.infra_repos.front(), source, environments);
  }

  // Every image published at once (one coroutine each, interleaved on the io_context): the
  // results, in image order.
  std::vector<ferry::service::handler_result> publish_all_at_once(const std::string& tag) {
    auto all = [this, tag]() -> asio::awaitable<std::vector<ferry::service::handler_result>> {
      using namespace asio::experimental::awaitable_operators;
      static_assert(k_images == 6);
      // Named, not braced in the co_await (GCC 12).
      const std::vector<std::string> entry;
      auto a0 = converge_one("d0", published(0, tag), entry);
      auto a1 = converge_one("d1", published(1, tag), entry);
      auto a2 = converge_one("d2", published(2, tag), entry);
      auto a3 = converge_one("d3", published(3, tag), entry);
      auto a4 = converge_one("d4", published(4, tag), entry);
      auto a5 = converge_one("d5", published(5, tag), entry);
      auto [a, b, c, d, e, f] = co_await (std::move(a0) && std::move(a1) && std::move(a2) &&
                                          std::move(a3) && std::move(a4) && std::move(a5));
      std::vector<ferry::service::handler_result> out;
      out.push_back(std::move(a));
      out.push_back(std::move(b));
      out.push_back(std::move(c));
      out.push_back(std::move(d));
      out.push_back(std::move(e));
      out.push_back(std::move(f));
      co_return out;
    };
    auto out = run(all());
    EXPECT_TRUE(out.has_value()) << "did not finish";
    return out ? std::move(*out) : std::vector<ferry::service::handler_result>{};
  }

  json::object only_open_pull() {
    const auto state = infra_state();
    std::vector<json::object> open;
    for (const auto& p : state.at("pulls").as_array()) {
      if (p.as_object().at("state").as_string() == "open") {
        open.push_back(p.as_object());
      }
    }
    EXPECT_EQ(open.size(), 1u) << json::serialize(state.at("pulls"));
    return open.empty() ? json::object{} : open.front();
  }

  std::string file_at_branch(const std::string& branch, const std::string& path) {
    const auto state = infra_state();
    const std::string head(state.at("refs").as_object().at("refs/heads/" + branch).as_string());
    return git("show " + head + ":" + path);
  }

  // Every image at `tag` on the branch, and a row for each naming it.
  void expect_every_image_at(const std::string& env, const std::string& tag) {
    const std::string branch = "ferry/" + env + "/group-train";
    const auto pr = only_open_pull();
    ASSERT_FALSE(pr.empty());
    EXPECT_EQ(pr.at("head").as_string(), branch);
    EXPECT_EQ(std::string(pr.at("title").as_string()),
              "ferry: bump 6 images of group train in " + env);
    const auto rows = ferry::promotion::parse_group_rows(std::string(pr.at("body").as_string()));
    ASSERT_EQ(rows.size(), static_cast<std::size_t>(k_images)) << pr.at("body").as_string();
    for (const auto& r : rows) {
      EXPECT_EQ(r.tag, tag) << r.text;
    }
    const std::string file =
        file_at_branch(branch, "clusters/" + env + "/train/kustomization.yaml");
    for (int i = 0; i < k_images; ++i) {
      EXPECT_NE(file.find("newTag: \"" + tag +
                          "\" # {\"$imagepolicy\": \"flux-system:" + image_name(i) + ":tag\"}"),
                std::string::npos)
          << file;
    }
  }
};

TEST_F(group_flow, racing_deliveries_of_one_group_lose_nothing_and_their_redeliveries_finish) {
  // No lanes: every delivery writes at once and the compare-and-swap decides.
  settings_.lanes.reset();
  auto results = publish_all_at_once("1.1.0");
  ASSERT_EQ(results.size(), static_cast<std::size_t>(k_images));
  int lost = 0;
  for (int i = 0; i < k_images; ++i) {
    if (results[i].ok()) {
      continue;
    }
    // Still losing after the bounded retries: transient (503), and the redelivery finishes.
    ++lost;
    EXPECT_EQ(results[i].error().kind, ferry::error_kind::conflict) << results[i].error().message;
    auto again = run(converge_one("again", published(i, "1.1.0"), {}));
    ASSERT_TRUE(again.has_value());
    EXPECT_TRUE(again->ok()) << again->error().message;
  }
  RecordProperty("lost_after_retries", lost);
  expect_every_image_at("staging", "1.1.0");
}

TEST_F(group_flow, within_a_process_a_groups_deliveries_take_turns_and_all_succeed_at_once) {
  settings_.lanes = std::make_shared<ferry::handlers::group_lanes>();
  auto results = publish_all_at_once("1.2.0");
  ASSERT_EQ(results.size(), static_cast<std::size_t>(k_images));
  for (const auto& r : results) {
    EXPECT_TRUE(r.ok()) << r.error().message;
  }
  expect_every_image_at("staging", "1.2.0");
  // A new tag of one image replaces its row; the others stay.
  auto one = run(converge_one("d-next", published(3, "1.3.0"), {}));
  ASSERT_TRUE(one.has_value());
  EXPECT_TRUE(one->ok());
  const auto rows =
      ferry::promotion::parse_group_rows(std::string(only_open_pull().at("body").as_string()));
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(k_images));
  for (int i = 0; i < k_images; ++i) {
    EXPECT_EQ(rows[i].rule, "flux-system:" + image_name(i));
    EXPECT_EQ(rows[i].tag, i == 3 ? "1.3.0" : "1.2.0");
  }
}

TEST_F(group_flow, promotion_moves_the_group_into_the_next_environments_one_pr) {
  settings_.lanes = std::make_shared<ferry::handlers::group_lanes>();
  for (int i = 0; i < k_images; ++i) {
    auto source = published(i, "1.4.0");
    source.evidence = "Applied in **staging**.";
    auto r = run(converge_one("apply/staging", source, {"production"}));
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->ok()) << r->error().message;
  }
  expect_every_image_at("production", "1.4.0");
  const auto pr = only_open_pull();
  EXPECT_NE(std::string(pr.at("body").as_string()).find("Applied in **staging**."),
            std::string::npos);
}

TEST_F(group_flow, a_closed_group_pr_skips_the_tags_its_rows_named) {
  settings_.lanes = std::make_shared<ferry::handlers::group_lanes>();
  auto first = run(converge_one("d-a", published(0, "1.5.0"), {}));
  ASSERT_TRUE(first.has_value() && first->ok());
  const auto pr = only_open_pull();
  const auto number = pr.at("number").as_int64();
  ASSERT_EQ(github(http::verb::patch, "/repos/dine-together/infra/pulls/" + std::to_string(number),
                   R"({"state": "closed"})")
                .status,
            200);
  // The same tag again: skipped. A higher one: a new group PR.
  auto again = run(converge_one("d-b", published(0, "1.5.0"), {}));
  ASSERT_TRUE(again.has_value() && again->ok());
  EXPECT_EQ(infra_state().at("pulls").as_array().size(), 1u);
  auto higher = run(converge_one("d-c", published(0, "1.6.0"), {}));
  ASSERT_TRUE(higher.has_value() && higher->ok());
  const auto reopened = only_open_pull();
  const auto rows =
      ferry::promotion::parse_group_rows(std::string(reopened.at("body").as_string()));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].tag, "1.6.0");
}

// Two replicas' body updates can interleave: the later PATCH, built from the body it read, drops
// the row the other just added. The branch (compare-and-swap) still carries the image, and the
// commit that bumped it carries its row: the next write puts the row back with its details.
TEST_F(group_flow, a_row_lost_to_a_concurrent_body_update_comes_back_from_the_branch_whole) {
  settings_.lanes = std::make_shared<ferry::handlers::group_lanes>();
  for (int i = 0; i < 2; ++i) {
    auto r = run(converge_one("d" + std::to_string(i), published(i, "1.7.0"), {}));
    ASSERT_TRUE(r.has_value() && r->ok());
  }
  const auto pr = only_open_pull();
  const std::string body(pr.at("body").as_string());
  const auto rows = ferry::promotion::parse_group_rows(body);
  ASSERT_EQ(rows.size(), 2u) << body;
  std::string without = body;
  without.erase(without.find(rows[1].text), rows[1].text.size() + 1);
  ASSERT_EQ(github(http::verb::patch,
                   "/repos/dine-together/infra/pulls/" + std::to_string(pr.at("number").as_int64()),
                   json::serialize(json::object{{"body", without}}))
                .status,
            200);

  auto third = run(converge_one("d2", published(2, "1.7.0"), {}));
  ASSERT_TRUE(third.has_value() && third->ok());
  const auto after =
      ferry::promotion::parse_group_rows(std::string(only_open_pull().at("body").as_string()));
  ASSERT_EQ(after.size(), 3u);
  for (const auto& r : after) {
    EXPECT_EQ(r.text.find("read from the branch"), std::string::npos) << r.text;
  }
  const auto img1 = std::find_if(after.begin(), after.end(), [](const auto& r) {
    return r.rule == "flux-system:" + image_name(1);
  });
  ASSERT_NE(img1, after.end());
  EXPECT_EQ(img1->text, rows[1].text);  // digest, links and delivery as first written
}

}  // namespace
