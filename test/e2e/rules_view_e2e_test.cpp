// Each replica's view of the rules (SPEC "Rules file"; issue 14): a delivery for an image no
// rule names is answered 204 with no GitHub call while the view is at most 10 s old; past that,
// one conditional request renews it for every delivery that arrives meanwhile (a 304, which
// costs no rate limit); a push to the default branch handled by this replica renews it at once.
// The real `ferry serve` against the GitHub double; GitHub calls are counted in the double's
// request log.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "service/limits.hpp"
#include "test/support/serve_double.hpp"

namespace {

using namespace ferry::test::e2e;  // the shared fixture's helpers (test/support/serve_double.hpp)

const std::string k_digest = "sha256:" + std::string(64, 'c');

class rules_view_e2e : public serve_double_test {
 protected:
  // The API calls the double recorded since the last clear ("METHOD path status"), without the
  // control plane and git traffic.
  std::vector<std::string> api_calls() {
    const auto got = control(http::verb::get, "/_double/requests");
    EXPECT_EQ(got.status, 200) << got.body;
    std::vector<std::string> out;
    const json::value all = json::parse(got.body);
    for (const auto& r : all.as_array()) {
      const auto& o = r.as_object();
      if (!o.contains("status") || !o.contains("method")) {
        continue;
      }
      out.push_back(std::string(o.at("method").as_string()) + " " +
                    std::string(o.at("path").as_string()) + " " +
                    std::to_string(o.at("status").to_number<int>()));
    }
    return out;
  }
  void clear_api_calls() {
    ASSERT_EQ(control(http::verb::delete_, "/_double/requests").status, 204);
  }
  int publish(const std::string& image, const std::string& tag) {
    return deliver("package", ferry::service::random_delivery_id(),
                   ghcr_package_payload(image, tag, k_digest));
  }
};

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    out += s + "\n";
  }
  return out;
}

TEST_F(rules_view_e2e, unnamed_images_cost_no_call_while_fresh_and_one_304_after) {
  // The first delivery reads the rules (there is no view yet).
  ASSERT_EQ(publish("web", "1.0.0"), 204) << ferry_->log();
  EXPECT_FALSE(api_calls().empty());

  clear_api_calls();
  ASSERT_EQ(publish("worker", "2.0.0"), 204) << ferry_->log();
  ASSERT_EQ(publish("web", "1.0.1"), 204) << ferry_->log();
  EXPECT_EQ(joined(api_calls()), "") << "an image no rule names costs no GitHub call";

  // Past the view's age, a burst of deliveries shares one conditional request, answered 304.
  std::this_thread::sleep_for(ferry::limits::k_rules_view_max_age + std::chrono::milliseconds(500));
  clear_api_calls();
  std::vector<int> answers(6, 0);
  std::vector<std::thread> burst;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    burst.emplace_back([&, i] { answers[i] = publish("worker", "2.0." + std::to_string(i + 1)); });
  }
  for (auto& t : burst) {
    t.join();
  }
  for (const int a : answers) {
    EXPECT_EQ(a, 204) << ferry_->log();
  }
  EXPECT_EQ(joined(api_calls()), "GET /repos/dine-together/infra/git/ref/heads/main 304\n")
      << ferry_->log();
}

TEST_F(rules_view_e2e, a_rules_change_takes_effect_at_once_on_the_replica_that_handles_the_push) {
  ASSERT_EQ(publish("web", "1.0.0"), 204) << ferry_->log();
  // A rule for `web` is added (the api rule now names ghcr.io/dine-together/web).
  const std::string rules =
      read_all(fs::path(FERRY_SOURCE_DIR) / "infra/example-infra/.github/ferry.yaml");
  std::string changed = rules;
  const auto at = changed.find("image: ghcr.io/dine-together/api");
  ASSERT_NE(at, std::string::npos);
  changed.replace(at, std::string("image: ghcr.io/dine-together/api").size(),
                  "image: ghcr.io/dine-together/web");
  json::object files;
  files[".github/ferry.yaml"] = changed;
  json::object move;
  move["ref"] = "heads/main";
  move["files"] = std::move(files);
  move["message"] = "promote web with the api markers";
  const auto since = last_webhook_seq();
  const auto m = control(http::verb::post, "/_double/repos/dine-together/infra/move-ref",
                         json::serialize(move));
  ASSERT_EQ(m.status / 100, 2) << m.body;

  // Within the view's age and before the push reaches this replica: still no rule, no call.
  clear_api_calls();
  ASSERT_EQ(publish("web", "1.5.0"), 204) << ferry_->log();
  EXPECT_EQ(joined(api_calls()), "");

  // The push arrives: the next delivery reads the new head (200, not 304) and promotes.
  bool pushed = false;
  const json::array hooks = webhooks(since);
  for (const auto& w : hooks) {
    if (w.as_object().at("event").as_string() == "push") {
      EXPECT_EQ(deliver_recorded(w) / 100, 2) << ferry_->log();
      pushed = true;
    }
  }
  ASSERT_TRUE(pushed) << "the double records a push for move-ref";
  clear_api_calls();
  ASSERT_EQ(publish("web", "1.5.0"), 200) << ferry_->log();
  const auto calls = api_calls();
  ASSERT_FALSE(calls.empty());
  EXPECT_NE(joined(calls).find("GET /repos/dine-together/infra/git/ref/heads/main 200\n"),
            std::string::npos)
      << joined(calls);
  bool opened = false;
  const json::object state = infra_state();
  for (const auto& pr : state.at("pulls").as_array()) {
    opened =
        opened || pr.as_object().at("title").as_string() == "ferry: bump api to 1.5.0 in staging";
  }
  EXPECT_TRUE(opened) << json::serialize(state.at("pulls")) << ferry_->log();
}

}  // namespace
