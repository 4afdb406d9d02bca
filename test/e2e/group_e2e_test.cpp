// Image groups through the built `ferry serve` (issue 12 item 1; docs/rules.md "Groups"): the
// images of a group go into one branch, ferry/<env>/group-<name>, and one PR whose body has a row
// per image; a new publication of an image replaces its row in place, the others stay; two
// replicas writing the group's images at once end on one branch and one PR with every image at
// its highest tag.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <future>
#include <optional>
#include <string>
#include <vector>

#include "service/promotion/group_body.hpp"
#include "test/support/serve_double.hpp"

namespace {

using namespace ferry::test::e2e;  // the shared fixture's helpers (test/support/serve_double.hpp)

constexpr const char* k_rules = R"(version: 1
images:
  - name: api
    image: ghcr.io/dine-together/api
    policy: {semver: {range: ">=1.0.0 <2"}}
  - name: web
    image: ghcr.io/dine-together/web
    policy: {semver: {range: ">=1.0.0"}}
    group: train
  - name: worker
    image: ghcr.io/dine-together/worker
    policy: {semver: {range: ">=1.0.0"}}
    group: train
environments:
  - name: staging
    paths: [clusters/staging]
    autoMerge: true
    apply: {flux: {kind: Kustomization, name: apps, namespace: flux-system}}
)";

constexpr const char* k_train = R"(apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
  - name: ghcr.io/dine-together/web
    newTag: "1.0.0" # {"$imagepolicy": "flux-system:web:tag"}
  - name: ghcr.io/dine-together/worker
    newTag: "2.0.0" # {"$imagepolicy": "flux-system:worker:tag"}
)";

constexpr const char* k_branch = "ferry/staging/group-train";

std::string digest_for(int n) {
  std::string hex = std::to_string(n);
  return "sha256:" + std::string(64 - hex.size(), 'c') + hex;
}

class group_e2e : public serve_double_test {
 protected:
  void before_ferry() override {
    // Auto-merge recorded, not merged at once: the PR stays open and each publication updates it.
    ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/settings",
                      R"({"auto_merge_clean": false})")
                  .status,
              200);
    const std::string moved = json::serialize(json::value{
        {"ref", "heads/main"},
        {"files", json::object{{".github/ferry.yaml", k_rules},
                               {"clusters/staging/train/kustomization.yaml", k_train}}}});
    ASSERT_EQ(
        control(http::verb::post, "/_double/repos/dine-together/infra/move-ref", moved).status /
            100,
        2);
  }

  void start_second() {
    std::vector<std::string> env = ferry_env_;
    for (auto& e : env) {
      if (e.rfind("FERRY_CACHE_DIR=", 0) == 0) {
        e = "FERRY_CACHE_DIR=" + (dir_ / "cache-second").string();
      }
    }
    fs::create_directories(dir_ / "cache-second");
    second_.emplace(std::vector<std::string>{FERRY_BINARY, "serve"}, env,
                    dir_ / "ferry-second.log");
    const auto listening = second_->wait_for_line("\"listening\"");
    ASSERT_TRUE(listening) << second_->log();
    second_port_ = static_cast<unsigned short>(
        std::stoi(std::string(json::parse(*listening).as_object().at("port").as_string())));
  }

  int publish_to(unsigned short port, const std::string& image, const std::string& tag, int n) {
    ferry::service::replay_target target{"http://127.0.0.1:" + std::to_string(port) + "/webhook",
                                         k_secret, std::chrono::seconds(30)};
    auto r =
        ferry::service::post_delivery(target, {"package", ferry::service::random_delivery_id(),
                                               ghcr_package_payload(image, tag, digest_for(n))});
    return r.ok() ? r->status : 0;
  }

  // The open PRs of the infra repository.
  std::vector<json::object> open_pulls() {
    std::vector<json::object> out;
    const auto state = infra_state();
    for (const auto& p : state.at("pulls").as_array()) {
      if (p.as_object().at("state").as_string() == "open") {
        out.push_back(p.as_object());
      }
    }
    return out;
  }

  std::string branch_file(const std::string& branch) {
    const auto state = infra_state();
    const std::string head(state.at("refs").as_object().at("refs/heads/" + branch).as_string());
    return git("show " + head + ":clusters/staging/train/kustomization.yaml");
  }

  std::optional<child> second_;
  unsigned short second_port_ = 0;
};

TEST_F(group_e2e, the_images_of_a_group_share_one_pr_and_a_new_tag_replaces_its_row_in_place) {
  EXPECT_EQ(publish_to(ferry_port_, "web", "1.1.0", 1) / 100, 2);
  EXPECT_EQ(publish_to(ferry_port_, "worker", "2.1.0", 2) / 100, 2);
  EXPECT_EQ(publish_to(ferry_port_, "web", "1.2.0", 3) / 100, 2);
  // A late, lower tag moves nothing back.
  EXPECT_EQ(publish_to(ferry_port_, "web", "1.1.5", 4) / 100, 2);

  const auto pulls = open_pulls();
  ASSERT_EQ(pulls.size(), 1u);
  const auto& pr = pulls[0];
  EXPECT_EQ(std::string(pr.at("head").as_string()), k_branch);
  EXPECT_EQ(std::string(pr.at("title").as_string()),
            "ferry: bump 2 images of group train in staging");
  const std::string body(pr.at("body").as_string());
  const auto rows = ferry::promotion::parse_group_rows(body);
  ASSERT_EQ(rows.size(), 2u) << body;
  // In place: web's row stays first (it was first), now at 1.2.0 with its own digest.
  EXPECT_EQ(rows[0].rule, "flux-system:web");
  EXPECT_EQ(rows[0].tag, "1.2.0");
  EXPECT_NE(rows[0].text.find(digest_for(3)), std::string::npos) << rows[0].text;
  EXPECT_NE(rows[0].text.find("`1.0.0` -> `1.2.0`"), std::string::npos) << rows[0].text;
  EXPECT_EQ(rows[1].rule, "flux-system:worker");
  EXPECT_EQ(rows[1].tag, "2.1.0");
  EXPECT_NE(rows[1].text.find(digest_for(2)), std::string::npos) << rows[1].text;

  const std::string file = branch_file(k_branch);
  EXPECT_NE(file.find("newTag: \"1.2.0\" # {\"$imagepolicy\": \"flux-system:web:tag\"}"),
            std::string::npos)
      << file;
  EXPECT_NE(file.find("newTag: \"2.1.0\" # {\"$imagepolicy\": \"flux-system:worker:tag\"}"),
            std::string::npos)
      << file;

  // An ungrouped rule keeps its own branch and PR.
  EXPECT_EQ(publish_to(ferry_port_, "api", "1.5.0", 5) / 100, 2);
  const auto after = open_pulls();
  ASSERT_EQ(after.size(), 2u);
  bool api_pr = false;
  for (const auto& p : after) {
    api_pr = api_pr || p.at("head").as_string() == "ferry/staging/flux-system-api";
  }
  EXPECT_TRUE(api_pr);
}

TEST_F(group_e2e, two_replicas_writing_a_groups_images_at_once_end_on_one_pr_at_the_highest_tags) {
  start_second();
  constexpr int k_rounds = 8;
  for (int round = 0; round < k_rounds; ++round) {
    const std::string web = "1." + std::to_string(round + 1) + ".0";
    const std::string worker = "2." + std::to_string(round + 1) + ".0";
    // Each replica gets one image of the round; which one alternates.
    const unsigned short web_port = round % 2 == 0 ? ferry_port_ : second_port_;
    const unsigned short worker_port = round % 2 == 0 ? second_port_ : ferry_port_;
    auto a = std::async(std::launch::async,
                        [&]() { return publish_to(web_port, "web", web, 10 + round); });
    auto b = std::async(std::launch::async,
                        [&]() { return publish_to(worker_port, "worker", worker, 50 + round); });
    const int web_status = a.get();
    const int worker_status = b.get();
    // A delivery that lost every compare-and-swap answers 503, to be delivered again.
    if (web_status == 503) {
      EXPECT_EQ(publish_to(web_port, "web", web, 10 + round) / 100, 2) << "round " << round;
    } else {
      EXPECT_EQ(web_status / 100, 2) << "round " << round;
    }
    if (worker_status == 503) {
      EXPECT_EQ(publish_to(worker_port, "worker", worker, 50 + round) / 100, 2)
          << "round " << round;
    } else {
      EXPECT_EQ(worker_status / 100, 2) << "round " << round;
    }
  }
  const std::string web_last = "1." + std::to_string(k_rounds) + ".0";
  const std::string worker_last = "2." + std::to_string(k_rounds) + ".0";
  const auto pulls = open_pulls();
  ASSERT_EQ(pulls.size(), 1u);
  EXPECT_EQ(std::string(pulls[0].at("head").as_string()), k_branch);
  const std::string file = branch_file(k_branch);
  EXPECT_NE(file.find("\"" + web_last + "\""), std::string::npos) << file;
  EXPECT_NE(file.find("\"" + worker_last + "\""), std::string::npos) << file;
  const auto rows =
      ferry::promotion::parse_group_rows(std::string(pulls[0].at("body").as_string()));
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    EXPECT_EQ(r.tag, r.rule == "flux-system:web" ? web_last : worker_last) << r.text;
  }
  if (HasFailure()) {
    std::printf("first replica:\n%s\nsecond replica:\n%s\n", ferry_->log().c_str(),
                second_->log().c_str());
  }
}

}  // namespace
