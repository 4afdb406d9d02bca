// The whole loop through the real `ferry serve` binary (issue: "Apply on merge, report back,
// promote to the next environment"): a signed GHCR publication -> the staging PR (auto-merged by
// the GitHub double) -> the push and pull_request webhooks GitHub would send for that merge ->
// the Flux apply in the Kubernetes double -> `ferry/apply/staging` -> the production PR -> its
// merge -> the Job apply -> `ferry/apply/production`. Both doubles are held to their contracts
// (GitHub's REST and webhook descriptions; Kubernetes' and Flux's schemas) and must record no
// violation. Everything is observed through the doubles, never ferry's internals.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test/support/flagger.hpp"
#include "test/support/kube_double.hpp"
#include "test/support/serve_double.hpp"

namespace {

using namespace ferry::test::e2e;
using namespace std::chrono_literals;

constexpr const char* k_staging_branch = "ferry/staging/flux-system-app";
constexpr const char* k_production_branch = "ferry/production/flux-system-app";
const std::string k_digest = "sha256:" + std::string(64, 'c');

std::string str(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : std::string();
}

class loop_e2e : public serve_double_test {
 protected:
  void SetUp() override {
    // The cluster first: ferry reads FERRY_KUBE_* at start.
    kube_.emplace(std::vector<std::string>{"flux-system", "ferry-system", "apps"});
    seed_flux();
    serve_double_test::SetUp();
  }

  void TearDown() override {
    if (kube_) {
      const auto v = kube_->control(http::verb::get, "/_double/violations");
      EXPECT_EQ(v.body, "[]") << v.body;
    }
    serve_double_test::TearDown();
    kube_.reset();
  }

  std::vector<std::string> extra_ferry_env() override {
    return {"FERRY_KUBE_API_URL=" + kube_->url(),
            "FERRY_KUBE_TOKEN_FILE=" + kube_->token_file().string(),
            "FERRY_KUBE_CA_FILE=" + kube_->ca_file().string(),
            "FERRY_APPLY_NAMESPACES=flux-system",
            "FERRY_APPLY_SERVICE_ACCOUNTS=ferry-apply",
            "POD_NAMESPACE=ferry-system"};
  }

  // The example's Flux objects (test/support/kube_double.hpp).
  void seed_flux() { kube_->seed_example_flux(); }

  void flux_mode(const std::string& mode, const std::string& message = {}) {
    const auto r = kube_->control(
        http::verb::post, "/_double/flux-mode",
        json::serialize(json::value{{"mode", mode}, {"delay_ms", 200}, {"message", message}}));
    ASSERT_EQ(r.status, 200) << r.body;
  }

  void jobs_mode(const std::string& mode,
                 const std::string& logs = "applying\nkustomize build ok\n") {
    const auto r = kube_->control(
        http::verb::post, "/_double/jobs-mode",
        json::serialize(json::value{{"mode", mode}, {"delay_ms", 200}, {"logs", logs}}));
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Steps 1-3 of the loop for `tag`: publication, staging merge, apply, production's PR.
  std::optional<json::object> up_to_production_pr(const std::string& tag, const std::string& id) {
    const auto seq = last_webhook_seq();
    EXPECT_EQ(deliver("package", id, ghcr_package_payload("app", tag, k_digest)), 200);
    const std::string merge = head_of("main");
    EXPECT_EQ(deliver_all_since(seq), 202);
    std::optional<json::object> pr;
    EXPECT_TRUE(eventually([&] {
      pr = pull_for(k_production_branch, "open");
      return pr.has_value();
    })) << ferry_->log();
    // The promotion comes first, the final status right after (a crash in between leaves it
    // pending, and the resume redoes both).
    EXPECT_TRUE(eventually([&] { return status_of(merge, "ferry/apply/staging") == "success"; }));
    return pr;
  }

  json::array kube_objects() {
    return json::parse(kube_->control(http::verb::get, "/_double/objects").body).as_array();
  }

  std::optional<json::object> kube_object(std::string_view kind, std::string_view name) {
    for (const auto& o : kube_objects()) {
      const auto& obj = o.as_object();
      if (str(obj.at("kind")) == kind && str(obj.at("metadata").as_object().at("name")) == name) {
        return obj;
      }
    }
    return std::nullopt;
  }

  std::optional<json::object> pull_for(std::string_view branch, std::string_view state = "") {
    const auto st = infra_state();
    std::optional<json::object> found;
    for (const auto& p : st.at("pulls").as_array()) {
      const auto& o = p.as_object();
      if (str(o.at("head")) == branch && (state.empty() || str(o.at("state")) == state)) {
        found = o;  // the newest one wins
      }
    }
    return found;
  }

  std::string head_of(const std::string& branch) {
    std::string out = git("rev-parse refs/heads/" + branch);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
      out.pop_back();
    }
    return out;
  }

  bool branch_exists(const std::string& branch) {
    return git("show-ref --verify refs/heads/" + branch).find("fatal") == std::string::npos;
  }

  // Sends every webhook the double recorded after `since`, in order, as GitHub would; returns
  // the status ferry answered the push to main with (0 when there was none).
  int deliver_all_since(std::int64_t since) {
    int push_to_main = 0;
    for (const auto& w : webhooks(since)) {
      const int status = deliver_recorded(w);
      const auto& o = w.as_object();
      const auto& payload = o.at("payload").as_object();
      EXPECT_TRUE(status >= 200 && status < 300)
          << str(o.at("event")) << " answered " << status << "\n"
          << ferry_->log();
      if (str(o.at("event")) == "push" && str(payload.at("ref")) == "refs/heads/main") {
        push_to_main = status;
      }
    }
    return push_to_main;
  }

  std::optional<ferry::test::kube_double> kube_;
};

TEST_F(loop_e2e, publish_merge_apply_report_promote_apply) {
  flux_mode("ready");
  jobs_mode("succeed");
  const std::string tag = "sha-9f8e7d6";
  const auto seq0 = last_webhook_seq();

  // 1. The publication opens the staging PR; the example asks for auto-merge and the double
  //    answers "clean status", so ferry merges it through REST at once.
  ASSERT_EQ(deliver("package", "loop-1", ghcr_package_payload("app", tag, k_digest)), 200)
      << ferry_->log();
  const auto staging_pr = pull_for(k_staging_branch);
  ASSERT_TRUE(staging_pr) << ferry_->log();
  ASSERT_TRUE(staging_pr->at("merged").as_bool());
  const std::string staging_merge = head_of("main");

  // 2. GitHub's webhooks for that merge reach ferry: the push to main is accepted (202) and
  //    followed; Flux (the double) reconciles the commit and ferry reports it.
  EXPECT_EQ(deliver_all_since(seq0), 202);
  ASSERT_TRUE(eventually([&] {
    return status_of(staging_merge, "ferry/apply/staging") == "success";
  })) << "status: "
      << status_of(staging_merge, "ferry/apply/staging") << "\n"
      << ferry_->log();
  const auto kustomization = kube_object("Kustomization", "apps");
  ASSERT_TRUE(kustomization);
  EXPECT_EQ(str(kustomization->at("metadata")
                    .as_object()
                    .at("annotations")
                    .as_object()
                    .at("reconcile.fluxcd.io/requestedAt")),
            staging_merge);
  const auto source = kube_object("GitRepository", "flux-system");
  ASSERT_TRUE(source);
  EXPECT_EQ(str(source->at("metadata")
                    .as_object()
                    .at("annotations")
                    .as_object()
                    .at("reconcile.fluxcd.io/requestedAt")),
            staging_merge);
  EXPECT_EQ(status_of(staging_merge, "ferry/rules"), "success");
  // The merged ferry branch is gone (pull_request closed+merged).
  EXPECT_TRUE(eventually([&] { return !branch_exists(k_staging_branch); }, 10s));

  // 3. The staging success opened production's PR with staging's value and the evidence.
  std::optional<json::object> production_pr;
  ASSERT_TRUE(eventually([&] {
    production_pr = pull_for(k_production_branch, "open");
    return production_pr.has_value();
  })) << ferry_->log();
  const std::string body = str(production_pr->at("body"));
  EXPECT_NE(body.find(tag), std::string::npos) << body;
  EXPECT_NE(body.find(staging_merge), std::string::npos) << body;  // the evidence
  EXPECT_NE(str(production_pr->at("title")).find(tag), std::string::npos);
  const std::string production_file = git("show refs/heads/" + std::string(k_production_branch) +
                                          ":clusters/production/app/deployment.yaml");
  EXPECT_NE(production_file.find(tag), std::string::npos) << production_file;

  // 4. A person merges production's PR; its push creates the apply Job, which succeeds.
  const auto seq1 = last_webhook_seq();
  const auto merged = control(http::verb::post,
                              "/_double/repos/dine-together/infra/pulls/" +
                                  std::to_string(production_pr->at("number").as_int64()),
                              R"({"merge": "merge"})");
  ASSERT_EQ(merged.status, 200) << merged.body;
  const std::string production_merge = head_of("main");
  EXPECT_EQ(deliver_all_since(seq1), 202);
  ASSERT_TRUE(eventually([&] {
    return status_of(production_merge, "ferry/apply/production") == "success";
  })) << "status: "
      << status_of(production_merge, "ferry/apply/production") << "\n"
      << ferry_->log();
  const auto job = kube_object("Job", "ferry-apply-production-" + production_merge.substr(0, 12));
  ASSERT_TRUE(job) << json::serialize(kube_objects());
  const auto& meta = job->at("metadata").as_object();
  EXPECT_EQ(str(meta.at("labels").as_object().at("ferry.dev/env")), "production");
  EXPECT_EQ(str(meta.at("labels").as_object().at("ferry.dev/commit")), production_merge);
  EXPECT_EQ(str(meta.at("annotations").as_object().at("ferry.dev/repo")), k_infra);
  EXPECT_TRUE(eventually(
      [&] {
        const auto j =
            kube_object("Job", "ferry-apply-production-" + production_merge.substr(0, 12));
        const auto* a = j ? j->at("metadata").as_object().if_contains("annotations") : nullptr;
        return a != nullptr && a->as_object().contains("ferry.dev/reported");
      },
      10s));
  // Production has nothing downstream: no third PR.
  EXPECT_FALSE(pull_for("ferry/staging/flux-system-app", "open"));

  // Issue 15.6: each step of the chain left its lead time, labelled with the rules' names.
  const std::string metrics = call(ferry_port_, http::verb::get, "/metrics").body;
  for (const char* series :
       {R"(ferry_lead_time_seconds_count{stage="publication_to_pr",env="staging"} 1)",
        R"(ferry_lead_time_seconds_count{stage="merge_to_applied",env="staging"} 1)",
        R"(ferry_lead_time_seconds_count{stage="applied_to_promotion_pr",env="production"} 1)",
        R"(ferry_lead_time_seconds_count{stage="merge_to_applied",env="production"} 1)",
        R"(ferry_promotions_total{env="staging",image="app"} 1)",
        R"(ferry_promotions_total{env="production",image="app"} 1)"}) {
    EXPECT_NE(metrics.find(series), std::string::npos) << series << "\n" << metrics;
  }
}

TEST_F(loop_e2e, a_failed_apply_blocks_the_promotion_and_says_why) {
  flux_mode("fail", "kustomize build failed: accumulating resources");
  const auto seq0 = last_webhook_seq();
  ASSERT_EQ(deliver("package", "loop-2", ghcr_package_payload("app", "sha-5d6e7f8", k_digest)), 200)
      << ferry_->log();
  const auto staging_pr = pull_for(k_staging_branch);
  ASSERT_TRUE(staging_pr && staging_pr->at("merged").as_bool()) << ferry_->log();
  const std::string merge = head_of("main");
  EXPECT_EQ(deliver_all_since(seq0), 202);
  ASSERT_TRUE(eventually([&] { return status_of(merge, "ferry/apply/staging") == "failure"; }))
      << ferry_->log();
  // The reason is on the merged PR, and production got no PR.
  const auto number = std::to_string(staging_pr->at("number").as_int64());
  std::string comments;
  ASSERT_TRUE(eventually(
      [&] {
        const auto st = infra_state();
        const auto* list = st.at("comments").as_object().if_contains(number);
        comments = list != nullptr ? json::serialize(*list) : std::string();
        return comments.find("accumulating resources") != std::string::npos;
      },
      10s))
      << comments;
  EXPECT_NE(comments.find("production"), std::string::npos) << comments;
  EXPECT_FALSE(pull_for(k_production_branch));
  // A redelivery of the push does not apply again: the result is on the commit.
  const auto requests_before = kube_->control(http::verb::get, "/_double/requests").body;
  for (const auto& w : webhooks(seq0)) {
    if (str(w.as_object().at("event")) == "push" &&
        str(w.as_object().at("payload").as_object().at("ref")) == "refs/heads/main") {
      EXPECT_EQ(deliver_recorded(w), 200);
    }
  }
  EXPECT_EQ(status_of(merge, "ferry/apply/staging"), "failure");
}

// SPEC "Rules file": an environment without apply gets pull requests only. Its PR opens and
// (auto-)merges as before; the push of the merge applies nothing (no Kubernetes write, no
// ferry/apply/<env> status) and is answered done, not accepted.
TEST_F(loop_e2e, an_environment_without_apply_gets_pull_requests_only) {
  const std::string rules = R"(version: 1
images:
  - name: app
    namespace: flux-system
    image: ghcr.io/dine-together/app
    filterTags: {pattern: '^sha-(?P<sha>[a-f0-9]+)$', extract: '$sha'}
    policy: {newest: {}}
environments:
  - name: staging
    paths: [clusters/staging]
    autoMerge: true
)";
  ASSERT_EQ(
      control(http::verb::post, "/_double/repos/dine-together/infra/move-ref",
              json::serialize(json::value{{"ref", "heads/main"},
                                          {"files", json::object{{".github/ferry.yaml", rules}}}}))
          .status,
      200);
  const auto seq0 = last_webhook_seq();
  ASSERT_EQ(
      deliver("package", "loop-pr-only", ghcr_package_payload("app", "sha-9e8d7c6", k_digest)), 200)
      << ferry_->log();
  const auto staging_pr = pull_for(k_staging_branch);
  ASSERT_TRUE(staging_pr && staging_pr->at("merged").as_bool()) << ferry_->log();
  const std::string merge = head_of("main");
  // What the cluster was asked, Lease renewals aside (the Lease holder renews every few seconds
  // whatever the deliveries do).
  const auto apply_requests = [this] {
    const auto all = json::parse(kube_->control(http::verb::get, "/_double/requests").body);
    json::array out;
    for (const auto& r : all.as_array()) {
      if (std::string(r.at("path").as_string()).find("/leases") == std::string::npos) {
        out.push_back(r);
      }
    }
    return json::serialize(out);
  };
  const auto requests_before = apply_requests();
  EXPECT_EQ(deliver_all_since(seq0), 200) << ferry_->log();
  EXPECT_EQ(status_of(merge, "ferry/rules"), "success");
  EXPECT_EQ(status_of(merge, "ferry/apply/staging"), "");
  EXPECT_EQ(apply_requests(), requests_before);
  EXPECT_NE(ferry_->log().find("no apply (pull requests only)"), std::string::npos)
      << ferry_->log();
}

// Issue 11 item 2 through the binary: staging's gates (its Flagger Canary and an end-to-end
// suite's commit status) hold production's PR until both passed for the merged revision; a
// Canary Succeeded from an older analysis does not count, and the suite's report arrives as the
// `status` webhook GitHub sends a subscribed App.
TEST_F(loop_e2e, gates_hold_the_promotion_until_the_canary_and_the_suite_passed) {
  ASSERT_EQ(control(http::verb::post, "/_double/app/events",
                    R"({"events": ["package", "push", "pull_request", "status", "check_run"],
                        "permissions": {"checks": "read"}})")
                .status,
            204);
  std::string rules =
      read_all(std::string(FERRY_SOURCE_DIR) + "/infra/example-infra/.github/ferry.yaml");
  const std::string apply =
      "    apply: {flux: {kind: Kustomization, name: apps, namespace: flux-system}}\n";
  const auto at = rules.find(apply);
  ASSERT_NE(at, std::string::npos);
  rules.insert(at + apply.size(),
               "    gates: {flagger: {canary: app, namespace: apps}, statuses: [e2e/staging]}\n");
  ASSERT_EQ(
      control(http::verb::post, "/_double/repos/dine-together/infra/move-ref",
              json::serialize(json::value{{"ref", "heads/main"},
                                          {"files", json::object{{".github/ferry.yaml", rules}}}}))
          .status,
      200);
  const auto canary = [&](const std::string& phase, const std::string& when,
                          const std::string& message) {
    const auto r =
        kube_->control(http::verb::post, "/_double/objects",
                       json::serialize(ferry::test::canary_object(phase, when, message)));
    ASSERT_EQ(r.status, 200) << r.body;
  };
  canary("Succeeded", "2020-01-01T00:00:00Z", "Canary analysis completed successfully");
  flux_mode("ready");
  const auto seq0 = last_webhook_seq();
  ASSERT_EQ(deliver("package", "loop-gates", ghcr_package_payload("app", "sha-6a7b8c9", k_digest)),
            200)
      << ferry_->log();
  const std::string merge = head_of("main");
  EXPECT_EQ(deliver_all_since(seq0), 202);
  ASSERT_TRUE(eventually([&] { return status_of(merge, "ferry/gates/staging") == "pending"; }))
      << ferry_->log();
  // The gates open first, the apply's success right after (handlers/gates.hpp).
  EXPECT_TRUE(eventually([&] { return status_of(merge, "ferry/apply/staging") == "success"; }));

  // The suite reports on the merged commit: GitHub's `status` delivery reaches ferry; the Canary
  // still shows the old analysis, so nothing is promoted yet.
  const auto seq1 = last_webhook_seq();
  ASSERT_EQ(control(http::verb::post, "/_double/ci",
                    json::serialize(json::value{{"repo", k_infra},
                                                {"sha", merge},
                                                {"context", "e2e/staging"},
                                                {"state", "success"},
                                                {"description", "118 tests passed"}}))
                .status,
            201);
  EXPECT_EQ(deliver_all_since(seq1), 0);
  EXPECT_EQ(status_of(merge, "ferry/gates/staging"), "pending");
  EXPECT_FALSE(pull_for(k_production_branch));

  // Flagger finishes its analysis of this revision: production's PR opens with the evidence.
  canary("Succeeded", ferry::test::rfc3339(std::chrono::system_clock::now() + 1s),
         "Canary analysis completed successfully, promotion finished.");
  std::optional<json::object> pr;
  ASSERT_TRUE(eventually([&] {
    pr = pull_for(k_production_branch, "open");
    return pr.has_value();
  })) << ferry_->log();
  EXPECT_TRUE(eventually([&] { return status_of(merge, "ferry/gates/staging") == "success"; }));
  const std::string body = str(pr->at("body"));
  EXPECT_NE(body.find("- Canary apps/app: passed"), std::string::npos) << body;
  EXPECT_NE(body.find("- e2e/staging: passed (success: 118 tests passed)"), std::string::npos)
      << body;
  const std::string metrics = call(ferry_port_, http::verb::get, "/metrics").body;
  EXPECT_NE(metrics.find(R"(ferry_gates_total{outcome="success"} 1)"), std::string::npos)
      << metrics;
}

// Statelessness (SPEC "Crash-safe"): ferry stops while the staging apply is still pending; Flux
// finishes meanwhile; the next process takes the Lease, finds the pending status on GitHub and
// completes the chain from what GitHub and the cluster hold.
TEST_F(loop_e2e, a_restarted_replica_resumes_a_pending_apply_and_promotes) {
  flux_mode("manual");
  const auto seq0 = last_webhook_seq();
  ASSERT_EQ(deliver("package", "loop-3", ghcr_package_payload("app", "sha-0badc0de", k_digest)),
            200)
      << ferry_->log();
  const std::string merge = head_of("main");
  EXPECT_EQ(deliver_all_since(seq0), 202);
  ASSERT_EQ(status_of(merge, "ferry/apply/staging"), "pending");
  restart_ferry();

  // Flux reconciles while no ferry follows (what kustomize-controller writes).
  auto k = kube_object("Kustomization", "apps");
  ASSERT_TRUE(k);
  ASSERT_EQ(str(k->at("metadata")
                    .as_object()
                    .at("annotations")
                    .as_object()
                    .at("reconcile.fluxcd.io/requestedAt")),
            merge);
  (*k)["status"] = json::object{
      {"observedGeneration", 1},
      {"lastHandledReconcileAt", merge},
      {"lastAppliedRevision", "main@sha1:" + merge},
      {"lastAttemptedRevision", "main@sha1:" + merge},
      {"conditions", json::array{json::object{{"type", "Ready"},
                                              {"status", "True"},
                                              {"reason", "ReconciliationSucceeded"},
                                              {"message", "Applied revision: main@sha1:" + merge},
                                              {"lastTransitionTime", "2026-11-24T00:00:00Z"}}}}};
  const auto seeded = kube_->control(http::verb::post, "/_double/objects", json::serialize(*k));
  ASSERT_EQ(seeded.status, 200) << seeded.body;

  // The new process holds the Lease once the old holder's lapses (15 s), resumes, reports.
  ASSERT_TRUE(eventually([&] { return status_of(merge, "ferry/apply/staging") == "success"; }, 90s))
      << ferry_->log();
  EXPECT_TRUE(eventually([&] { return pull_for(k_production_branch, "open").has_value(); }, 10s))
      << ferry_->log();
}

// The Lease holder asks GitHub to redeliver what failed in the last three days, once per
// delivery, and leaves alone what succeeded later, what is older, and 4xx answers.
class sweep_e2e : public loop_e2e {
 protected:
  void before_ferry() override { seed_failed_deliveries(); }
};

TEST_F(sweep_e2e, the_lease_holder_redelivers_recent_failures_once) {
  const auto guids = redeliveries_once_asked_for("failed-once");
  EXPECT_EQ(guids, std::vector<std::string>{"failed-once"}) << ferry_->log();
}

TEST_F(loop_e2e, a_failed_job_puts_its_last_log_lines_on_the_merged_pr) {
  flux_mode("ready");
  jobs_mode("fail", "error: unable to recognize \"clusters/production\": no matches for kind\n");
  const auto pr = up_to_production_pr("sha-7e57ab1", "loop-4");
  ASSERT_TRUE(pr);
  const auto seq = last_webhook_seq();
  const auto number = std::to_string(pr->at("number").as_int64());
  ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/pulls/" + number,
                    R"({"merge": "squash"})")
                .status,
            200);
  const std::string merge = head_of("main");
  EXPECT_EQ(deliver_all_since(seq), 202);
  ASSERT_TRUE(eventually([&] { return status_of(merge, "ferry/apply/production") == "failure"; }))
      << ferry_->log();
  std::string comments;
  ASSERT_TRUE(eventually(
      [&] {
        const auto st = infra_state();
        const auto* list = st.at("comments").as_object().if_contains(number);
        comments = list != nullptr ? json::serialize(*list) : std::string();
        return comments.find("no matches for kind") != std::string::npos;
      },
      10s))
      << comments << ferry_->log();
  EXPECT_NE(comments.find("ferry-apply-production-" + merge.substr(0, 12)), std::string::npos)
      << comments;
}

}  // namespace
