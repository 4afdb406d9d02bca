// SPEC "Reliability: converge, don't remember" (issue 10.2): `ferry serve` is killed (SIGKILL)
// at each write step of opening a pull request, a fresh process takes the redelivery, and the
// end state equals an uninterrupted run: one branch whose one commit is verified and changes
// only the marked file, one PR with its title, labels, reviewers and auto-merge.
//
// Each step is held by a fault in the GitHub double (a delay on that request) while ferry is
// killed. Two cases per step: the write is lost (the double answers 502 after the delay, so
// GitHub never did it) or the write lands (the double carries it out after ferry died, so the
// answer never reached ferry).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "service/replay.hpp"
#include "test/support/serve_double.hpp"

namespace {

using namespace ferry::test::e2e;  // the shared fixture's helpers (test/support/serve_double.hpp)

constexpr const char* k_branch = "ferry/staging/flux-system-app";
const std::string k_digest = "sha256:" + std::string(64, 'c');

struct step {
  const char* name;
  const char* fault;  // the request to hold: path_regex or GraphQL operation
  bool lands;         // the write lands after ferry died (else it is lost)
};

std::string step_name(const testing::TestParamInfo<step>& info) {
  return std::string(info.param.name) + (info.param.lands ? "_lands" : "_lost");
}

class converge_e2e : public serve_double_test, public testing::WithParamInterface<step> {
 protected:
  void before_ferry() override { keep_prs_open_with_reviewers(); }

  std::int64_t fault_hits() {
    const auto listed = json::parse(control(http::verb::get, "/_double/faults").body);
    std::int64_t hits = 0;
    for (const auto& f : listed.as_array()) {
      hits += f.as_object().at("hits").as_int64();
    }
    return hits;
  }
};

TEST_P(converge_e2e, a_kill_at_this_write_step_converges_after_redelivery) {
  const step s = GetParam();
  const bool graphql = std::string(s.fault).find('/') == std::string::npos;
  json::object fault{{"method", "POST"}, {"delay_ms", 4000}};
  if (graphql) {
    fault["operation"] = s.fault;
  } else {
    fault["path_regex"] = s.fault;
  }
  if (!s.lands) {
    fault["status"] = 502;
  }
  ASSERT_EQ(control(http::verb::post, "/_double/faults", json::serialize(fault)).status, 201);

  const std::string id = "44444444-2222-4333-8444-555555555555";
  const std::string payload = ghcr_package_payload("app", "sha-9f8e7d6", k_digest);
  // The first delivery, in flight while ferry dies: its connection breaks, so GitHub records a
  // failed delivery (no answer).
  ferry::service::replay_target target{
      "http://127.0.0.1:" + std::to_string(ferry_port_) + "/webhook", k_secret,
      std::chrono::seconds(30)};
  auto first = std::async(std::launch::async, [&]() {
    return ferry::service::post_delivery(target, {"package", id, payload});
  });
  ASSERT_TRUE(eventually([&]() { return fault_hits() > 0; })) << ferry_->log();
  kill_and_restart_ferry();
  const auto killed = first.get();
  EXPECT_FALSE(killed.ok() && killed->status / 100 == 2);
  // Let the held request finish on GitHub's side (landed or lost), then redeliver.
  std::this_thread::sleep_for(std::chrono::milliseconds(4500));  // the fault's delay, known
  ASSERT_EQ(control(http::verb::delete_, "/_double/faults").status / 100, 2);
  ASSERT_EQ(deliver("package", id, payload), 200) << ferry_->log();

  auto state = infra_state();
  const auto& pulls = state.at("pulls").as_array();
  ASSERT_EQ(pulls.size(), 1u) << ferry_->log();
  const auto& pr = pulls[0].as_object();
  EXPECT_EQ(std::string(pr.at("title").as_string()), "ferry: bump app to sha-9f8e7d6 in staging");
  const std::string labels = json::serialize(pr.at("labels"));
  EXPECT_NE(labels.find("\"ferry\""), std::string::npos) << labels;
  EXPECT_NE(labels.find("\"env:staging\""), std::string::npos) << labels;
  EXPECT_NE(json::serialize(pr.at("reviewers")).find("octocat"), std::string::npos);
  EXPECT_NE(json::serialize(pr.at("team_reviewers")).find("platform"), std::string::npos);
  EXPECT_TRUE(pr.at("auto_merge").is_object()) << json::serialize(pr);
  EXPECT_NE(std::string(pr.at("body").as_string()).find("`sha-1a2b3c4` -> `sha-9f8e7d6`"),
            std::string::npos);

  const std::string head(
      state.at("refs").as_object().at(std::string("refs/heads/") + k_branch).as_string());
  EXPECT_EQ(state.at("created_commits").as_array().size(), 1u) << json::serialize(state);
  const auto verified = json::parse(control(http::verb::get, "/_double/state").body)
                            .as_object()
                            .at("verified_commits")
                            .as_object();
  EXPECT_TRUE(verified.contains(head));
  EXPECT_EQ(git("rev-parse " + head + "^"), git("rev-parse main"));
  EXPECT_EQ(git("diff --name-only main " + head), "clusters/staging/app/deployment.yaml\n");

  // And once converged, GitHub's next redelivery writes nothing.
  control(http::verb::delete_, "/_double/requests");
  ASSERT_EQ(deliver("package", id, payload), 200) << ferry_->log();
  const auto requests = json::parse(control(http::verb::get, "/_double/requests").body);
  for (const auto& r : requests.as_array()) {
    EXPECT_FALSE(is_github_write(r.as_object())) << json::serialize(r);
  }
}

INSTANTIATE_TEST_SUITE_P(
    steps, converge_e2e,
    testing::Values(step{"branch", "/git/refs$", false}, step{"branch", "/git/refs$", true},
                    step{"commit", "createCommitOnBranch", false},
                    step{"commit", "createCommitOnBranch", true}, step{"pull", "/pulls$", false},
                    step{"pull", "/pulls$", true}, step{"labels", "/labels$", false},
                    step{"labels", "/labels$", true}, step{"reviewers", "requestReviews", false},
                    step{"reviewers", "requestReviews", true},
                    step{"auto_merge", "enablePullRequestAutoMerge", false},
                    step{"auto_merge", "enablePullRequestAutoMerge", true}),
    step_name);

}  // namespace
