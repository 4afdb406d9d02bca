// client against the Kubernetes API double (test/doubles/kube): real TLS with a CA made by
// make-pki.sh, a bearer token file the double re-reads on every request, real watch streams.

#include "service/kube/client.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdio>

#include "service/kube/objects.hpp"
#include "test/service/kube/kube_test_util.hpp"

namespace ferry::kube {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using bverb = boost::beast::http::verb;
using namespace std::chrono_literals;
using test::job_json;
using test::kube_double;
using test::run;

class kube_client : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { double_ = new kube_double({"flux-system", "apps"}); }
  static void TearDownTestSuite() {
    delete double_;
    double_ = nullptr;
  }
  void SetUp() override {
    double_->control(bverb::delete_, "/_double/faults");
    client_ = test::make_client(ioc_, test::settings_for(*double_));
  }

  // A unique object name per test: the double lives for the whole suite.
  std::string name(const std::string& base) {
    return base + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  std::string dns(std::string s) {
    for (auto& c : s) {
      c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s.substr(0, 63);
  }

  json::array requests() {
    auto r = double_->control(bverb::get, "/_double/requests");
    return json::parse(r.body).as_array();
  }

  void fault(const std::string& body) {
    auto r = double_->control(bverb::post, "/_double/faults", body);
    ASSERT_EQ(r.status, 201) << r.body;
  }

  // Polls the double (with a deadline) until at least `watches` watch requests for `job` were
  // made and one is open now.
  asio::awaitable<void> wait_for_watches(github::http_client& http, const std::string& job,
                                         int watches) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (;;) {
      auto st = co_await http.request(double_->control_request(bverb::get, "/_double/state"));
      auto log = co_await http.request(double_->control_request(bverb::get, "/_double/requests"));
      int seen = 0;
      if (log) {
        const auto list = json::parse(log->body);
        for (const auto& q : list.as_array()) {
          const auto& query = q.at("query").as_object();
          if (query.contains("watch") && query.contains("fieldSelector") &&
              query.at("fieldSelector").as_string() == "metadata.name=" + job) {
            ++seen;
          }
        }
      }
      if (st && seen >= watches) {
        const auto state = json::parse(st->body);
        if (state.at("watchers").to_number<int>() >= 1) {
          co_return;
        }
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "fewer than " << watches << " watches were opened for " << job;
        co_return;
      }
      co_await test::sleep_ms(10);
    }
  }

  // Once a watch is open (the `watches`-th for this Job), settles the Job: what a Job
  // controller does while ferry follows it.
  asio::awaitable<bool> settle_when_watched(const std::string& ns, const std::string& job,
                                            bool succeed, int watches = 1) {
    auto ctl = double_->control_client(co_await asio::this_coro::executor);
    auto& http = **ctl;
    co_await wait_for_watches(http, job, watches);
    const std::string target = "/_double/jobs/" + ns + "/" + job + (succeed ? "/succeed" : "/fail");
    auto settle = double_->control_request(
        bverb::post, target, R"({"message":"applied","logs":"line one\nline two\n"})");
    auto r = co_await http.request(std::move(settle));
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : r.error().message);
    settled_at_ = std::chrono::steady_clock::now();
    co_return true;
  }

  // Once a watch is open, deletes the Job through the API (as a person with kubectl would).
  asio::awaitable<bool> delete_when_watched(const std::string& ns, const std::string& job) {
    auto ctl = double_->control_client(co_await asio::this_coro::executor);
    auto& http = **ctl;
    co_await wait_for_watches(http, job, 1);
    auto del = double_->control_request(bverb::delete_, job_path(ns, job));
    del.headers.push_back({"authorization", "Bearer " + double_->token()});
    auto r = co_await http.request(std::move(del));
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : r.error().message);
    co_return true;
  }

  static bool settled(std::string_view object) {
    auto job = parse_job(object);
    return job && state_of(*job) != job_state::running;
  }

  // Follows the Job and notes when follow() returned.
  asio::awaitable<result<std::string>> timed_follow(std::string path) {
    auto r = co_await client_->follow(path, settled, 30s);
    returned_at_ = std::chrono::steady_clock::now();
    co_return r;
  }

  static kube_double* double_;
  std::chrono::steady_clock::time_point settled_at_{};
  std::chrono::steady_clock::time_point returned_at_{};
  asio::io_context ioc_;
  std::unique_ptr<client> client_;
};

kube_double* kube_client::double_ = nullptr;

TEST_F(kube_client, create_then_create_again_reads_the_existing_object) {
  const auto job = dns(name("create"));
  auto first = run(
      ioc_, client_->create_object(job_collection("flux-system"), job_json("flux-system", job)));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_FALSE(first->already_existed);
  auto made = parse_job(first->object);
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_EQ(made->meta.name, job);
  EXPECT_FALSE(made->meta.uid.empty());
  EXPECT_EQ(state_of(*made), job_state::running);

  auto again = run(
      ioc_, client_->create_object(job_collection("flux-system"), job_json("flux-system", job)));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->already_existed);
  auto existing = parse_job(again->object);
  ASSERT_TRUE(existing.ok());
  EXPECT_EQ(existing->meta.uid, made->meta.uid);

  auto read = run(ioc_, client_->get(job_path("flux-system", job)));
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(parse_job(*read)->meta.uid, made->meta.uid);
}

TEST_F(kube_client, invalid_object_names_each_field) {
  const auto job = dns(name("invalid"));
  const std::string body = R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":")" + job +
                           R"(","namespace":"flux-system"},"spec":{"template":{"spec":{)"
                           R"("restartPolicy":"Never","containers":[]}}}})";
  auto r = run(ioc_, client_->create_object(job_collection("flux-system"), body));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, error_kind::invalid_input);
  EXPECT_NE(r.error().message.find("Invalid"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("spec.template.spec.containers"), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("POST /apis/batch/v1/namespaces/flux-system/jobs"),
            std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("422"), std::string::npos) << r.error().message;
}

TEST_F(kube_client, status_codes_map_to_error_kinds) {
  auto forbidden = run(ioc_, client_->get(job_path("kube-system", "x")));
  ASSERT_FALSE(forbidden.ok());
  EXPECT_EQ(forbidden.error().kind, error_kind::invalid_input);
  EXPECT_TRUE(forbidden.error().message.starts_with("Forbidden: ")) << forbidden.error().message;

  auto missing = run(ioc_, client_->get(job_path("flux-system", "no-such-job")));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, error_kind::not_found);
  EXPECT_NE(missing.error().message.find("NotFound"), std::string::npos);
  EXPECT_NE(missing.error().message.find("/jobs/no-such-job"), std::string::npos);
}

TEST_F(kube_client, stale_resource_version_on_replace_is_a_conflict) {
  // A Lease: no controller in the double writes to it, so only this test moves its version.
  const auto lease = dns(name("stale"));
  const std::string body =
      R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":")" + lease +
      R"(","namespace":"flux-system"},"spec":{"holderIdentity":"a","leaseDurationSeconds":15}})";
  auto made = run(ioc_, client_->create_object(
                            "/apis/coordination.k8s.io/v1/namespaces/flux-system/leases", body));
  ASSERT_TRUE(made.ok()) << made.error().message;
  auto doc = json::parse(made->object).as_object();
  doc["spec"].as_object()["holderIdentity"] = "b";
  const auto path = lease_path("flux-system", lease);
  auto first = run(ioc_, client_->replace(path, json::serialize(doc)));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(parse_lease(*first)->holder, "b");
  // The same resourceVersion again: someone (we) wrote in between.
  auto second = run(ioc_, client_->replace(path, json::serialize(doc)));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().kind, error_kind::conflict) << second.error().message;
  EXPECT_NE(second.error().message.find("PUT " + path), std::string::npos);
}

TEST_F(kube_client, a_refused_token_is_unauthorized_and_never_quoted) {
  ferry::test::temp_dir dir;
  const auto token_file = dir.path() / "token";
  ferry::test::write_text(token_file, "not-the-token-4f7d2c\n");
  auto s = test::settings_for(*double_);
  s.token_file = token_file.string();
  auto c = test::make_client(ioc_, s);
  auto r = run(ioc_, c->get(job_path("flux-system", "x")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, error_kind::unauthorized) << r.error().message;
  EXPECT_EQ(r.error().message.find("4f7d2c"), std::string::npos);
  // Tried twice: the token file is re-read after the first 401.
  int attempts = 0;
  for (const auto& q : requests()) {
    const auto& o = q.as_object();
    if (o.at("path").as_string() == job_path("flux-system", "x") &&
        o.at("status").to_number<int>() == 401) {
      ++attempts;
    }
  }
  EXPECT_EQ(attempts, 2);
}

TEST_F(kube_client, a_rotated_token_is_picked_up) {
  auto before = run(ioc_, client_->get(job_path("flux-system", "absent")));
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.error().kind, error_kind::not_found) << before.error().message;
  const std::string old_token = double_->token();
  double_->rotate_token("rotated-" + std::to_string(::getpid()) + "-token-value");
  auto after = run(ioc_, client_->get(job_path("flux-system", "absent")));
  double_->rotate_token(old_token);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().kind, error_kind::not_found) << after.error().message;
}

TEST_F(kube_client, a_wrong_ca_fails_verification_without_retries) {
  ferry::test::temp_dir other;
  const auto make_pki = std::filesystem::path(FERRY_KUBE_DOUBLE).parent_path() / "make-pki.sh";
  auto pki = ferry::test::run({"bash", make_pki.string(), other.path().string()});
  ASSERT_EQ(pki.exit_code, 0) << pki.err;
  auto s = test::settings_for(*double_);
  s.ca_file = (other.path() / "ca.pem").string();
  auto c = test::make_client(ioc_, s);
  auto r = run(ioc_, c->get(job_path("flux-system", "x")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, error_kind::internal);
  EXPECT_NE(r.error().message.find("certificate verification failed"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(r.error().message.find("attempts"), std::string::npos) << r.error().message;
}

TEST_F(kube_client, transient_answers_are_retried) {
  fault(R"({"method":"GET","path_regex":"/jobs/retried$","status":503,"count":1})");
  fault(R"({"method":"GET","path_regex":"/jobs/retried$","status":429,"count":1,"retry_after":0})");
  auto r = run(ioc_, client_->get(job_path("flux-system", "retried")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, error_kind::not_found) << r.error().message;

  fault(R"({"method":"GET","path_regex":"/jobs/down$","status":503,"count":-1})");
  auto down = run(ioc_, client_->get(job_path("flux-system", "down")));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().kind, error_kind::transient) << down.error().message;
  EXPECT_NE(down.error().message.find("503"), std::string::npos);
}

TEST_F(kube_client, merge_patch_on_a_kustomization) {
  auto seeded = double_->control(bverb::post, "/_double/objects",
                                 R"({"apiVersion":"kustomize.toolkit.fluxcd.io/v1",
      "kind":"Kustomization","metadata":{"name":"apps","namespace":"flux-system"},
      "spec":{"interval":"10m","path":"./clusters/staging","prune":true,
        "sourceRef":{"kind":"GitRepository","name":"flux-system"}}})");
  ASSERT_EQ(seeded.status, 200) << seeded.body;
  const auto path = *flux_path("Kustomization", "flux-system", "apps");
  auto r = run(
      ioc_,
      client_->merge_patch(
          path, R"({"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"0123abc"}}})"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto k = parse_flux(*r);
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->meta.annotations.at("reconcile.fluxcd.io/requestedAt"), "0123abc");
  EXPECT_EQ(k->source_kind, "GitRepository");
  EXPECT_EQ(k->source_namespace, "flux-system");
  bool seen = false;
  for (const auto& q : requests()) {
    const auto& o = q.as_object();
    if (o.at("method").as_string() == "PATCH" && o.at("path").as_string() == path) {
      EXPECT_EQ(o.at("content_type").as_string(), "application/merge-patch+json");
      seen = true;
    }
  }
  EXPECT_TRUE(seen);
  // The double found nothing wrong with the PATCH itself.
  const auto violations = json::parse(double_->control(bverb::get, "/_double/violations").body);
  for (const auto& v : violations.as_array()) {
    EXPECT_NE(v.at("path").as_string(), path) << json::serialize(v);
  }
}

TEST_F(kube_client, follow_returns_when_the_job_settles_during_the_watch) {
  const auto job = dns(name("follow"));
  ASSERT_TRUE(
      run(ioc_, client_->create_object(job_collection("apps"), job_json("apps", job))).ok());
  auto both = test::run_both(ioc_, timed_follow(job_path("apps", job)),
                             settle_when_watched("apps", job, false))
                  .first;
  ASSERT_TRUE(both.ok()) << both.error().message;
  // Reported, not asserted (no timing assertions in tests): from the double's answer to the
  // settle request to follow() returning, the event's trip through the open watch.
  const auto latency =
      std::chrono::duration_cast<std::chrono::microseconds>(returned_at_ - settled_at_).count();
  RecordProperty("settle_to_follow_return_us", static_cast<int>(latency));
  std::printf("settle -> follow() returned: %lld us\n", static_cast<long long>(latency));
  auto view = parse_job(*both);
  ASSERT_TRUE(view.ok()) << view.error().message;
  EXPECT_EQ(state_of(*view), job_state::failed);
  const auto* failed = find_condition(view->conditions, "Failed");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->status, "True");

  // The failed Job's pod and its last log lines, as the push handler reads them.
  auto pods = run(ioc_, client_->get(pods_for_job("apps", job)));
  ASSERT_TRUE(pods.ok()) << pods.error().message;
  auto items = json::parse(*pods).as_object().at("items").as_array();
  ASSERT_EQ(items.size(), 1u);
  const std::string pod(items[0].at("metadata").at("name").as_string());
  auto log = run(ioc_, client_->get_text(pod_log_path("apps", pod, 1)));
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(*log, "line two\n");

  // The settle happened after a watch was open: the answer came from the stream.
  bool watched = false;
  for (const auto& q : requests()) {
    const auto& o = q.as_object();
    const auto& query = o.at("query").as_object();
    if (o.at("path").as_string() == job_collection("apps") && query.contains("watch")) {
      EXPECT_EQ(query.at("fieldSelector").as_string(), "metadata.name=" + job);
      watched = true;
    }
  }
  EXPECT_TRUE(watched);
}

TEST_F(kube_client, follow_recovers_from_a_compacted_resource_version) {
  const auto job = dns(name("expired"));
  ASSERT_TRUE(
      run(ioc_, client_->create_object(job_collection("apps"), job_json("apps", job))).ok());
  // Another write moves the store on; compaction then makes the Job's own resourceVersion too
  // old to watch from: the first watch answers an ERROR event with 410 Expired.
  ASSERT_TRUE(
      run(ioc_, client_->create_object(job_collection("apps"), job_json("apps", job + "-other")))
          .ok());
  ASSERT_EQ(double_->control(bverb::post, "/_double/compact").status, 200);
  auto r = test::run_both(ioc_, client_->follow(job_path("apps", job), settled, 30s),
                          settle_when_watched("apps", job, true))
               .first;
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(state_of(*parse_job(*r)), job_state::succeeded);
  // It listed the one name after the 410.
  bool listed = false;
  for (const auto& q : requests()) {
    const auto& o = q.as_object();
    const auto& query = o.at("query").as_object();
    if (o.at("path").as_string() == job_collection("apps") && !query.contains("watch") &&
        query.contains("fieldSelector")) {
      listed = true;
    }
  }
  EXPECT_TRUE(listed);
}

TEST_F(kube_client, follow_recovers_from_a_410_answer) {
  const auto job = dns(name("gone"));
  ASSERT_TRUE(
      run(ioc_, client_->create_object(job_collection("apps"), job_json("apps", job))).ok());
  fault(R"({"method":"GET","path_regex":"/namespaces/apps/jobs$","status":410,"count":1})");
  auto r = test::run_both(ioc_, client_->follow(job_path("apps", job), settled, 30s),
                          settle_when_watched("apps", job, true))
               .first;
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(state_of(*parse_job(*r)), job_state::succeeded);
}

TEST_F(kube_client, follow_returns_at_once_when_already_done) {
  const auto job = dns(name("done"));
  ASSERT_TRUE(
      run(ioc_, client_->create_object(job_collection("apps"), job_json("apps", job))).ok());
  ASSERT_EQ(double_->control(bverb::post, "/_double/jobs/apps/" + job + "/succeed", "{}").status,
            200);
  auto r = run(ioc_, client_->follow(job_path("apps", job), settled, 30s));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(state_of(*parse_job(*r)), job_state::succeeded);
}

TEST_F(kube_client, follow_reopens_a_watch_the_server_ended) {
  auto s = test::settings_for(*double_);
  s.watch_timeout = 1s;  // the double ends each watch after a second
  client_ = test::make_client(ioc_, s);
  const auto job = dns(name("reopen"));
  ASSERT_TRUE(
      run(ioc_, client_->create_object(job_collection("apps"), job_json("apps", job))).ok());
  // Settled only while the third watch is open: two were ended by the server and reopened.
  auto r = test::run_both(ioc_, client_->follow(job_path("apps", job), settled, 30s),
                          settle_when_watched("apps", job, true, 3))
               .first;
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(state_of(*parse_job(*r)), job_state::succeeded);
  // Each reopen starts from a resourceVersion, never from "now" (which could miss events).
  const auto list = requests();
  for (const auto& q : list) {
    const auto& query = q.at("query").as_object();
    if (query.contains("watch") &&
        query.at("fieldSelector").as_string() == "metadata.name=" + job) {
      EXPECT_FALSE(query.at("resourceVersion").as_string().empty());
      EXPECT_EQ(query.at("timeoutSeconds").as_string(), "1");
    }
  }
}

TEST_F(kube_client, follow_of_an_object_deleted_meanwhile_is_not_found) {
  const auto job = dns(name("deleted"));
  ASSERT_TRUE(
      run(ioc_, client_->create_object(job_collection("apps"), job_json("apps", job))).ok());
  auto r = test::run_both(ioc_, client_->follow(job_path("apps", job), settled, 30s),
                          delete_when_watched("apps", job))
               .first;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, error_kind::not_found) << r.error().message;
  EXPECT_NE(r.error().message.find("deleted"), std::string::npos) << r.error().message;
}

TEST_F(kube_client, follow_times_out_as_a_transient_error) {
  const auto job = dns(name("slow"));
  ASSERT_TRUE(
      run(ioc_, client_->create_object(job_collection("apps"), job_json("apps", job))).ok());
  auto r = run(ioc_, client_->follow(job_path("apps", job), settled, 1500ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, error_kind::transient);
  EXPECT_NE(r.error().message.find("timed out after 1500 ms"), std::string::npos)
      << r.error().message;
}

TEST_F(kube_client, follow_of_an_absent_object_is_not_found) {
  auto r = run(ioc_, client_->follow(job_path("apps", "never-made"), settled, 5s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, error_kind::not_found) << r.error().message;
  auto bad = run(ioc_, client_->follow("jobs", settled, 5s));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, error_kind::invalid_input);
}

TEST(kube_client_create, bad_settings_are_named) {
  asio::io_context ioc;
  kube_settings s;
  s.api_url = "https://127.0.0.1:1";
  s.ca_file = "/nonexistent/ca.pem";
  s.token_file = "/nonexistent/token";
  auto c = client::create(ioc.get_executor(), s);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, error_kind::invalid_input);
  EXPECT_NE(c.error().message.find("/nonexistent/ca.pem"), std::string::npos) << c.error().message;
}

}  // namespace
}  // namespace ferry::kube
