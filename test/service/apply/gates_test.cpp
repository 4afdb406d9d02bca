// Gates' judgements (service/apply/gates.hpp), one row a case: Flagger's phases and the merge
// time, and which commit status or check run counts for a gate's context.
#include "service/apply/gates.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ferry::apply {
namespace {

kube::canary_view canary(std::string phase, std::string at, std::string message = {}) {
  kube::canary_view c;
  c.meta.name = "web";
  c.meta.ns = "apps";
  c.phase = std::move(phase);
  c.last_transition_time = std::move(at);
  c.canary_weight = 20;
  c.conditions.push_back(kube::condition{"Promoted", "False", c.phase, std::move(message)});
  return c;
}

const auto k_merged = *kube::parse_micro_time("2026-12-05T10:00:00Z");

TEST(judge_canary, only_an_analysis_finished_after_the_merge_decides) {
  struct row {
    const char* phase;
    const char* at;
    gate_verdict verdict;
    const char* message;
  };
  const row rows[] = {
      {"Succeeded", "2026-12-05T10:00:05Z", gate_verdict::passed, "promotion finished"},
      // In the merge's own second: may be the previous revision's verdict.
      {"Succeeded", "2026-12-05T10:00:00Z", gate_verdict::waiting, "before this revision"},
      // Left from an older revision's analysis: never counts, either way.
      {"Succeeded", "2026-12-05T09:59:59Z", gate_verdict::waiting,
       "Succeeded at 2026-12-05T09:59:59Z, before this revision: waiting for its analysis"},
      {"Failed", "2026-12-04T10:00:00Z", gate_verdict::waiting, "before this revision"},
      {"Succeeded", "", gate_verdict::waiting, "Succeeded at an unknown time"},
      {"Failed", "2026-12-05T10:01:00Z", gate_verdict::failed, "promotion finished"},
      {"Progressing", "2026-12-05T10:01:00Z", gate_verdict::waiting,
       "Progressing (canary weight 20%)"},
      {"Promoting", "2026-12-05T10:01:00Z", gate_verdict::waiting, "Promoting"},
      {"", "", gate_verdict::waiting, "no analysis yet"},
      {"Terminated", "2026-12-05T10:01:00Z", gate_verdict::waiting, "Terminated: "},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(r.phase) + " at " + r.at);
    const auto g = judge_canary(canary(r.phase, r.at, "promotion finished"), k_merged);
    EXPECT_EQ(g.gate, "Canary apps/web");
    EXPECT_EQ(g.verdict, r.verdict);
    EXPECT_NE(g.message.find(r.message), std::string::npos) << g.message;
  }
}

TEST(judge_canary, failure_carries_flaggers_message_or_the_phase) {
  auto g = judge_canary(canary("Failed", "2026-12-05T10:01:00Z",
                               "Canary analysis failed, Deployment scaled to zero."),
                        k_merged);
  EXPECT_EQ(g.message, "Canary analysis failed, Deployment scaled to zero.");
  g = judge_canary(canary("Failed", "2026-12-05T10:01:00Z"), k_merged);
  EXPECT_EQ(g.message, "Failed");
}

TEST(judge_statuses, the_newest_status_then_the_check_run_of_that_name_counts) {
  const std::vector<status_report> statuses{
      // newest first, as GitHub lists them
      {"e2e", "success", "42 tests", "https://ci/1"},
      {"e2e", "failure", "flaky", "https://ci/0"},
      {"scan", "error", "scanner down", ""},
      {"lint", "pending", "", ""},
  };
  const std::vector<check_report> runs{
      {"e2e", "completed", "failure", "https://runs/1"},  // a status of that name wins
      {"smoke", "completed", "skipped", "https://runs/2"},
      {"build", "in_progress", "", ""},
      {"deploy-check", "completed", "cancelled", ""},
      {"neutral-check", "completed", "neutral", ""},
  };
  const auto got = judge_statuses(
      {"e2e", "scan", "lint", "smoke", "build", "deploy-check", "neutral-check", "absent"},
      statuses, runs);
  ASSERT_EQ(got.size(), 8u);
  const gate_verdict want[] = {gate_verdict::passed, gate_verdict::failed,  gate_verdict::waiting,
                               gate_verdict::passed, gate_verdict::waiting, gate_verdict::failed,
                               gate_verdict::passed, gate_verdict::waiting};
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].verdict, want[i]) << got[i].gate << ": " << got[i].message;
  }
  EXPECT_EQ(got[0].message, "success: 42 tests");
  EXPECT_EQ(got[0].url, "https://ci/1");
  EXPECT_EQ(got[4].message, "check run in_progress");
  EXPECT_EQ(got[7].message, "not reported yet");
}

TEST(gates_summary, says_what_failed_passed_or_is_awaited) {
  std::vector<gate_result> gates{
      {"Canary apps/web", gate_verdict::passed, "promotion finished", ""},
      {"e2e", gate_verdict::waiting, "not reported yet", ""},
  };
  EXPECT_EQ(combined(gates), gate_verdict::waiting);
  EXPECT_EQ(gates_summary(gates), "waiting for e2e (not reported yet)");
  gates[1] = {"e2e", gate_verdict::failed, "failure: 3 failed", "https://ci/1"};
  EXPECT_EQ(combined(gates), gate_verdict::failed);
  EXPECT_EQ(gates_summary(gates), "gate e2e failed: failure: 3 failed");
  gates[1].verdict = gate_verdict::passed;
  EXPECT_EQ(combined(gates), gate_verdict::passed);
  EXPECT_EQ(gates_summary(gates), "gates passed: Canary apps/web, e2e");
  EXPECT_EQ(gates_evidence(gates),
            "- Canary apps/web: passed (promotion finished)\n"
            "- e2e: passed (failure: 3 failed) [details](https://ci/1)\n");
  EXPECT_EQ(combined({}), gate_verdict::waiting);
}

// The Canary view reads what Flagger writes (status.go's CanaryStatus); a wrong type is an error.
TEST(parse_canary, reads_phase_time_weight_and_conditions) {
  const auto c = kube::parse_canary(R"({"apiVersion":"flagger.app/v1beta1","kind":"Canary",
    "metadata":{"name":"web","namespace":"apps","resourceVersion":"7"},
    "status":{"phase":"Progressing","lastTransitionTime":"2026-12-05T10:00:05Z","canaryWeight":30,
      "failedChecks":1,"conditions":[{"type":"Promoted","status":"Unknown","reason":"Progressing",
      "message":"New revision detected, progressing canary analysis.",
      "lastTransitionTime":"2026-12-05T10:00:05Z"}]}})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->meta.name, "web");
  EXPECT_EQ(c->phase, "Progressing");
  EXPECT_EQ(c->last_transition_time, "2026-12-05T10:00:05Z");
  EXPECT_EQ(c->canary_weight, 30);
  ASSERT_EQ(c->conditions.size(), 1u);
  EXPECT_EQ(c->conditions[0].message, "New revision detected, progressing canary analysis.");
  // No status yet (Flagger has not seen it): a view with nothing to judge.
  const auto fresh = kube::parse_canary(R"({"metadata":{"name":"web","namespace":"apps"}})");
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(judge_canary(*fresh, k_merged).verdict, gate_verdict::waiting);
  EXPECT_FALSE(kube::parse_canary(R"({"status":{"phase":3}})").ok());
  EXPECT_FALSE(kube::parse_canary(R"({"status":{"conditions":{}}})").ok());
  EXPECT_FALSE(kube::parse_canary("[]").ok());
  EXPECT_EQ(kube::flagger_canary_path("apps", "web"),
            "/apis/flagger.app/v1beta1/namespaces/apps/canaries/web");
}

}  // namespace
}  // namespace ferry::apply
