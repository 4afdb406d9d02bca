// Applies (handlers/apply.hpp) called directly, in process, against the GitHub double and the
// Kubernetes double (test/support/handler_double.hpp): a Job apply triggers once however often
// it is asked, a template outside the allowed namespaces is refused with a failure status that
// says why, a failed Flux apply reports Flux's message, and a redelivered push after the result
// is on the commit applies nothing. The chain through `ferry serve` is
// test/e2e/loop_e2e_test.cpp.
#include <gtest/gtest.h>

#include "handlers/apply.hpp"
#include "handlers/infra_repo.hpp"
#include "test/support/handler_double.hpp"

namespace {

using ferry::test::e2e::handler_cluster_test;
namespace http = boost::beast::http;
namespace json = boost::json;

class apply_handler : public handler_cluster_test {
 protected:
  // The infra repository opened and its rules read at `sha`, as the push handler does.
  struct opened {
    ferry::handlers::infra_repo repo;
    ferry::rules::rules_file rules;
  };
  std::optional<opened> open_at(const std::string& sha) {
    const ferry::log::logger log;
    auto repo =
        run(ferry::handlers::infra_repo::open(settings_, {"dine-together", "infra"}, 7, log));
    if (!repo || !*repo) {
      ADD_FAILURE() << (repo ? repo->error().message : "open did not finish");
      return std::nullopt;
    }
    auto parsed = run((*repo)->rules_at(sha));
    if (!parsed || !*parsed || !(*parsed)->ok()) {
      ADD_FAILURE() << "no valid rules at " << sha;
      return std::nullopt;
    }
    return opened{std::move(**repo), (*parsed)->value()};
  }

  static const ferry::rules::environment& env(const ferry::rules::rules_file& rules,
                                              std::string_view name) {
    for (const auto& e : rules.environments) {
      if (e.name == name) {
        return e;
      }
    }
    throw std::runtime_error("no environment " + std::string(name));
  }

  ferry::result<bool> start(opened& o, std::string_view env_name, const std::string& sha) {
    const ferry::log::logger log;
    if (!shared_) {
      shared_ = ferry::handlers::share_settings(settings_);
    }
    auto out = run(
        ferry::handlers::start_apply(shared_, o.repo, o.rules, env(o.rules, env_name), sha, log));
    if (!out) {
      return ferry::make_error(ferry::error_kind::internal, "start_apply did not finish");
    }
    return *out;
  }

  std::vector<json::object> jobs() {
    std::vector<json::object> out;
    const auto objects = json::parse(kube_->control(http::verb::get, "/_double/objects").body);
    for (const auto& o : objects.as_array()) {
      if (o.as_object().at("kind").as_string() == "Job") {
        out.push_back(o.as_object());
      }
    }
    return out;
  }

  std::string status_description(const std::string& sha, std::string_view context) {
    const auto state = infra_state();
    std::string out;
    if (const auto* list = state.at("statuses").as_object().if_contains(sha)) {
      for (const auto& s : list->as_array()) {
        if (s.as_object().at("context").as_string() == context) {
          out = std::string(s.as_object().at("description").as_string());
        }
      }
    }
    return out;
  }

  std::string main_head() {
    return std::string(infra_state().at("refs").as_object().at("refs/heads/main").as_string());
  }
};

TEST_F(apply_handler, a_job_apply_is_triggered_once_and_reported) {
  const auto manual =
      kube_->control(http::verb::post, "/_double/jobs-mode", R"({"mode": "manual"})");
  ASSERT_EQ(manual.status, 200) << manual.body;
  const std::string head = main_head();
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const ferry::log::logger log;

  auto first = run(
      ferry::handlers::trigger_apply(settings_, o->repo, env(o->rules, "production"), head, log));
  ASSERT_TRUE(first && *first) << (first ? first->error().message : "did not finish");
  auto again = run(
      ferry::handlers::trigger_apply(settings_, o->repo, env(o->rules, "production"), head, log));
  ASSERT_TRUE(again && *again) << (again ? again->error().message : "did not finish");
  EXPECT_EQ((*first)->object_path, (*again)->object_path);
  const auto all = jobs();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all.front().at("metadata").as_object().at("name").as_string(),
            "ferry-apply-production-" + head.substr(0, 12));

  // Followed to its end: the Job succeeds, the status says so.
  const auto started = start(*o, "production", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_TRUE(*started);
  EXPECT_EQ(status_of(head, "ferry/apply/production"), "pending");
  const auto settle = kube_->control(
      http::verb::post,
      "/_double/jobs/flux-system/ferry-apply-production-" + head.substr(0, 12) + "/succeed", "{}");
  ASSERT_EQ(settle.status, 200) << settle.body;
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/production") == "success"; }))
      << json::serialize(infra_state().at("statuses"));

  // A redelivered push once the result is on the commit: nothing applies again.
  const auto redelivered = start(*o, "production", head);
  ASSERT_TRUE(redelivered.ok()) << redelivered.error().message;
  EXPECT_FALSE(*redelivered);
  EXPECT_EQ(status_of(head, "ferry/apply/production"), "success");
}

// SPEC "Apply Job template": created only in its configured namespace; a template naming another
// one fails with the reason, on the status, and nothing is created.
TEST_F(apply_handler, a_template_outside_the_configured_namespace_is_refused_on_the_status) {
  std::string job = ferry::test::e2e::read_all(std::string(FERRY_SOURCE_DIR) +
                                               "/infra/example-infra/infra/apply-job.yaml");
  const auto at = job.find("namespace: flux-system");
  ASSERT_NE(at, std::string::npos);
  job.replace(at, 22, "namespace: kube-system");
  const std::string head = push_files("heads/main", {{"infra/apply-job.yaml", job}});
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "production", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_FALSE(*started);
  EXPECT_EQ(status_of(head, "ferry/apply/production"), "failure");
  EXPECT_NE(status_description(head, "ferry/apply/production").find("kube-system"),
            std::string::npos)
      << status_description(head, "ferry/apply/production");
  EXPECT_TRUE(jobs().empty());
}

TEST_F(apply_handler, a_failed_flux_apply_reports_flux_message) {
  const auto fail = kube_->control(
      http::verb::post, "/_double/flux-mode",
      R"({"mode": "fail", "delay_ms": 50, "message": "kustomize build failed: missing resource"})");
  ASSERT_EQ(fail.status, 200) << fail.body;
  const std::string head = main_head();
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_TRUE(*started);
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "failure"; }))
      << json::serialize(infra_state().at("statuses"));
  EXPECT_NE(status_description(head, "ferry/apply/staging").find("kustomize build failed"),
            std::string::npos)
      << status_description(head, "ferry/apply/staging");
  EXPECT_EQ(ferry::handlers::apply_context("staging"), "ferry/apply/staging");
}

}  // namespace
