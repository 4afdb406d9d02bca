// Two replicas, one branch (issue 10.1; SPEC "Concurrent writers lose nothing"): two `ferry
// serve` processes (not threads) share the GitHub double, and each round delivers two rising
// tags of one image at the same moment, one to each process. Every branch move is a
// compare-and-swap, so whichever order GitHub sees the writes in, the PR ends on the higher tag
// and both deliveries answer 2xx. Before, the branch was force-moved after a check and the
// lower tag won in 3 of 10 rounds.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <future>
#include <optional>
#include <string>

#include "test/support/serve_double.hpp"

namespace {

using namespace ferry::test::e2e;  // the shared fixture's helpers (test/support/serve_double.hpp)

constexpr int k_rounds = 50;

class race_e2e : public serve_double_test {
 protected:
  void before_ferry() override {
    // Auto-merge recorded, not merged at once: the PR stays open and each round supersedes it.
    ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/settings",
                      R"({"auto_merge_clean": false})")
                  .status,
              200);
    // 50 rounds of two racing deliveries write about 200 times within seconds, faster than
    // GitHub allows one installation (80 a minute): this test is about the compare-and-swap,
    // so it lifts the double's secondary limits and the replicas' write budgets
    // (FERRY_GITHUB_WRITES_PER_*, below). The limits themselves are tested in limits.test.js,
    // write_budget_test and app_client_test.
    ASSERT_EQ(control(http::verb::post, "/_double/limits",
                      R"({"writes_per_minute": 1000000, "writes_per_hour": 1000000})")
                  .status,
              200);
  }
  std::vector<std::string> extra_ferry_env() override {
    return {"FERRY_GITHUB_WRITES_PER_MINUTE=1000000", "FERRY_GITHUB_WRITES_PER_HOUR=1000000"};
  }

  // A second replica: the same settings, its own process and port.
  void start_second() {
    // Each replica has its own cache (the Deployment's emptyDir).
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

  int deliver_to(unsigned short port, const std::string& id, const std::string& payload) {
    ferry::service::replay_target target{"http://127.0.0.1:" + std::to_string(port) + "/webhook",
                                         k_secret, std::chrono::seconds(30)};
    auto r = ferry::service::post_delivery(target, {"package", id, payload});
    return r.ok() ? r->status : 0;
  }

  std::optional<child> second_;
  unsigned short second_port_ = 0;
};

std::string digest_for(int n) {
  std::string hex = std::to_string(n);
  return "sha256:" + std::string(64 - hex.size(), 'a') + hex;
}

TEST_F(race_e2e, two_processes_writing_rising_tags_at_once_never_lose_the_higher_one) {
  start_second();
  int lost = 0;
  for (int round = 0; round < k_rounds; ++round) {
    const int low_minor = 100 + 2 * round;
    const std::string low = "1." + std::to_string(low_minor) + ".0";
    const std::string high = "1." + std::to_string(low_minor + 1) + ".0";
    // Alternate which process gets the higher tag.
    const unsigned short low_port = round % 2 == 0 ? ferry_port_ : second_port_;
    const unsigned short high_port = round % 2 == 0 ? second_port_ : ferry_port_;
    const std::string low_payload = ghcr_package_payload("api", low, digest_for(low_minor));
    const std::string high_payload = ghcr_package_payload("api", high, digest_for(low_minor + 1));
    auto a = std::async(std::launch::async, [&]() {
      return deliver_to(low_port, ferry::service::random_delivery_id(), low_payload);
    });
    auto b = std::async(std::launch::async, [&]() {
      return deliver_to(high_port, ferry::service::random_delivery_id(), high_payload);
    });
    const int low_status = a.get();
    const int high_status = b.get();
    EXPECT_EQ(low_status / 100, 2) << "round " << round << " (low)";
    EXPECT_EQ(high_status / 100, 2) << "round " << round << " (high)";

    auto state = infra_state();
    const auto& pulls = state.at("pulls").as_array();
    ASSERT_EQ(pulls.size(), 1u) << "round " << round;
    const auto& pr = pulls[0].as_object();
    const std::string title(pr.at("title").as_string());
    const std::string branch(pr.at("head").as_string());
    const std::string head(state.at("refs").as_object().at("refs/heads/" + branch).as_string());
    const std::string file = git("show " + head + ":clusters/staging/app/kustomization.yaml");
    const bool on_high = title == "ferry: bump api to " + high + " in staging" &&
                         file.find("\"" + high + "\"") != std::string::npos;
    if (!on_high) {
      ++lost;
      ADD_FAILURE() << "round " << round << ": the PR ended on " << title << "\n" << file;
    }
  }
  EXPECT_EQ(lost, 0);
  if (HasFailure()) {
    std::printf("first replica:\n%s\nsecond replica:\n%s\n", ferry_->log().c_str(),
                second_->log().c_str());
  }
  // How often a compare-and-swap was lost and the writer decided again: the race was real.
  const auto count = [](const std::string& log) {
    int n = 0;
    for (auto at = log.find("branch moved meanwhile"); at != std::string::npos;
         at = log.find("branch moved meanwhile", at + 1)) {
      ++n;
    }
    return n;
  };
  const int retried = count(ferry_->log()) + count(second_->log());
  std::printf("race: %d rounds, %d lost updates, %d compare-and-swaps lost and retried\n", k_rounds,
              lost, retried);
  EXPECT_GT(retried, 0) << "the deliveries never raced: the test proves nothing";
}

}  // namespace
