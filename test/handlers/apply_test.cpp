// Applies (handlers/apply.hpp) called directly, in process, against the GitHub double and the
// Kubernetes double (test/support/handler_double.hpp): a Job apply triggers once however often
// it is asked, a template outside the allowed namespaces is refused with a failure status that
// says why, a failed Flux apply reports Flux's message, and a redelivered push after the result
// is on the commit applies nothing. The chain through `ferry serve` is
// test/e2e/loop_e2e_test.cpp.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>

#include "handlers/apply.hpp"
#include "handlers/gates.hpp"
#include "handlers/infra_repo.hpp"
#include "handlers/maintenance.hpp"
#include "test/support/flagger.hpp"
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

  std::string main_head() {
    return std::string(infra_state().at("refs").as_object().at("refs/heads/main").as_string());
  }

  // Upserts objects in the Kubernetes double, status included (as a controller would write it).
  void seed(const std::string& objects) {
    const auto r = kube_->control(http::verb::post, "/_double/objects", objects);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  json::object kube_object(std::string_view kind, std::string_view name) {
    const auto objects = json::parse(kube_->control(http::verb::get, "/_double/objects").body);
    for (const auto& o : objects.as_array()) {
      const auto& obj = o.as_object();
      if (obj.at("kind").as_string() == kind &&
          obj.at("metadata").as_object().at("name").as_string() == name) {
        return obj;
      }
    }
    return {};
  }

  // Whether ferry sent `method` `path` (with `query_has` in the query, when given).
  bool kube_requested(std::string_view method, std::string_view path,
                      std::string_view query_has = {}) {
    const auto log = json::parse(kube_->control(http::verb::get, "/_double/requests").body);
    for (const auto& r : log.as_array()) {
      const auto& o = r.as_object();
      const auto* q = o.if_contains("query");
      const std::string query = q != nullptr && q->is_string() ? std::string(q->as_string())
                                : q != nullptr                 ? json::serialize(*q)
                                                               : std::string();
      if (o.at("method").as_string() == method && o.at("path").as_string() == path &&
          (query_has.empty() || query.find(query_has) != std::string::npos)) {
        return true;
      }
    }
    return false;
  }

  // The example's rules with staging's apply line replaced, pushed with `files`; the new head.
  std::string push_staging_apply(const std::string& apply_yaml, json::object files = {}) {
    std::string rules = ferry::test::e2e::read_all(std::string(FERRY_SOURCE_DIR) +
                                                   "/infra/example-infra/.github/ferry.yaml");
    const std::string line =
        "    apply: {flux: {kind: Kustomization, name: apps, namespace: flux-system}}\n";
    const auto at = rules.find(line);
    EXPECT_NE(at, std::string::npos);
    if (at != std::string::npos) {
      rules.replace(at, line.size(), apply_yaml);
    }
    files[".github/ferry.yaml"] = rules;
    return push_files("heads/main", files);
  }

  void flux_mode(std::string_view body) {
    const auto r = kube_->control(http::verb::post, "/_double/flux-mode", std::string(body));
    ASSERT_EQ(r.status, 200) << r.body;
  }
};

// A HelmRelease as helm-controller leaves it: `tag` in its values, status as given.
std::string helmrelease(const std::string& name, const std::string& tag,
                        const std::string& status) {
  return R"({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
    "metadata": {"name": ")" +
         name + R"(", "namespace": "flux-system"},
    "spec": {"interval": "5m", "chart": {"spec": {"chart": ")" +
         name + R"(", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
             "values": {"image": {"tag": ")" +
         tag + R"("}}},
    "status": )" +
         status + "}";
}

std::string ready_at(int generation, const std::string& message = "Helm upgrade succeeded") {
  return R"({"observedGeneration": )" + std::to_string(generation) +
         R"(, "conditions": [{"type": "Ready", "status": "True", "reason": "UpgradeSucceeded",
      "message": ")" +
         message + R"(", "lastTransitionTime": "2026-01-01T00:00:00Z"}]})";
}

// The release file a person's (or ferry's) PR changes under staging's paths.
std::string release_file(const std::string& tag) {
  return "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app\n"
         "  namespace: flux-system\nspec:\n  values:\n    image:\n      tag: " +
         tag + " # {\"$imagepolicy\": \"flux-system:app:tag\"}\n";
}

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
  // Until the follow has ended too: it marks the Job reported after posting the status, and a
  // push meanwhile is answered "already followed here" (true), which is not what is tested.
  EXPECT_TRUE(run_until([&] {
    return status_of(head, "ferry/apply/production") == "success" &&
           shared_->applies->following.empty();
  })) << json::serialize(infra_state().at("statuses"));

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

// SPEC "Flux mode" + issue 11: the Kustomization Ready at the pushed commit is not enough when
// it applied a HelmRelease: the release the push touched must be Ready at its new generation. A
// Ready left from the previous generation never counts; an untouched broken release does not
// block.
class flux_health : public apply_handler {
 protected:
  // Kustomization apps with both releases in its inventory; `app` Ready at generation 1 and
  // `other` failing, both untouched so far. Then a push changes app's release file, and the
  // Kustomization's apply bumps app to generation 2 (its status still the old Ready).
  std::string given_a_push_touching_app() {
    seed(R"({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
      "metadata": {"name": "apps", "namespace": "flux-system"},
      "spec": {"interval": "10m", "path": "./clusters/staging", "prune": true,
               "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
      "status": {"inventory": {"entries": [
        {"id": "flux-system_app_helm.toolkit.fluxcd.io_HelmRelease", "v": "v2"},
        {"id": "flux-system_other_helm.toolkit.fluxcd.io_HelmRelease", "v": "v2"}]}}})");
    seed(helmrelease("app", "1.2.3", ready_at(1)));
    seed(helmrelease("other", "0.1.0", R"({"observedGeneration": 1, "conditions": [
      {"type": "Ready", "status": "False", "reason": "InstallFailed", "message": "broken",
       "lastTransitionTime": "2026-01-01T00:00:00Z"}]})"));
    const std::string head =
        push_files("heads/main", {{"clusters/staging/app/release.yaml", release_file("1.2.4")}});
    seed(helmrelease("app", "1.2.4", ready_at(1)));
    EXPECT_EQ(kube_object("HelmRelease", "app").at("metadata").as_object().at("generation"), 2);
    flux_mode(R"({"mode": "ready", "delay_ms": 20})");
    return head;
  }

  // Runs until ferry, with the Kustomization Ready at `head`, judged app's release once and
  // went on to watch it: past this point a wrong verdict would already be on the status.
  bool until_app_release_watched(const std::string& head) {
    const std::string path = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/flux-system/helmreleases";
    return run_until([&] {
             return kube_requested("GET", path + "/app") && kube_requested("GET", path, "watch");
           }) &&
           kube_object("Kustomization", "apps")
                   .at("status")
                   .as_object()
                   .at("lastHandledReconcileAt")
                   .as_string() == head;
  }
};

TEST_F(flux_health, the_touched_helmrelease_counts_only_once_ready_at_its_new_generation) {
  const std::string head = given_a_push_touching_app();
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  ASSERT_TRUE(*started);
  ASSERT_TRUE(until_app_release_watched(head));
  // Ready=True, but for generation 1: still pending.
  EXPECT_EQ(status_of(head, "ferry/apply/staging"), "pending");

  seed(helmrelease("app", "1.2.4", ready_at(2, "Helm upgrade succeeded for release app.v2")));
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "success"; }))
      << json::serialize(infra_state().at("statuses"));
  const auto description = status_description(head, "ferry/apply/staging");
  EXPECT_NE(description.find("HelmRelease flux-system/app"), std::string::npos) << description;
  EXPECT_EQ(description.find("other"), std::string::npos) << description;
}

TEST_F(flux_health, a_failed_helm_upgrade_fails_the_apply_with_helms_message) {
  const std::string head = given_a_push_touching_app();
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  ASSERT_TRUE(until_app_release_watched(head));
  seed(helmrelease("app", "1.2.4", R"({"observedGeneration": 2, "conditions": [
    {"type": "Ready", "status": "False", "reason": "UpgradeFailed",
     "message": "Helm upgrade failed", "lastTransitionTime": "2026-01-01T00:00:00Z"},
    {"type": "Released", "status": "False", "reason": "UpgradeFailed",
     "message": "Helm upgrade failed for release flux-system/app with chart app@1.2.4: image pull backoff",
     "lastTransitionTime": "2026-01-01T00:00:00Z"}]})"));
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "failure"; }))
      << json::serialize(infra_state().at("statuses"));
  const auto description = status_description(head, "ferry/apply/staging");
  EXPECT_NE(description.find("HelmRelease flux-system/app failed: UpgradeFailed: Helm upgrade "
                             "failed for release flux-system/app"),
            std::string::npos)
      << description;
}

// The double plays helm-controller (flux-mode's helm): the release the Kustomization applied
// handles its new generation after the Kustomization is Ready; ferry waits for that.
TEST_F(flux_health, the_release_upgraded_by_helm_controller_makes_the_apply_succeed) {
  const std::string head = given_a_push_touching_app();
  flux_mode(R"({"mode": "ready", "delay_ms": 20, "helm": {"mode": "ready"}})");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "success"; }))
      << json::serialize(infra_state().at("statuses"));
  EXPECT_EQ(kube_object("HelmRelease", "app").at("status").as_object().at("observedGeneration"), 2);
}

TEST_F(flux_health, a_release_helm_controller_fails_to_upgrade_fails_the_apply_naming_it) {
  const std::string head = given_a_push_touching_app();
  flux_mode(R"({"mode": "ready", "delay_ms": 20,
                "helm": {"mode": "fail", "message": "container app: ImagePullBackOff"}})");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "failure"; }))
      << json::serialize(infra_state().at("statuses"));
  const auto description = status_description(head, "ferry/apply/staging");
  EXPECT_NE(description.find("HelmRelease flux-system/app failed: UpgradeFailed: Helm upgrade "
                             "failed for release flux-system/app with chart app: container app"),
            std::string::npos)
      << description;
}

// healthChecks in the rules replace the default; a Deployment that never reaches its new
// generation ends in an error that names it and says where it stood.
TEST_F(flux_health, a_listed_deployment_that_never_settles_times_out_naming_it) {
  seed(R"({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "flux-system"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
    "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2,
               "readyReplicas": 2, "availableReplicas": 2}})");
  const std::string head = push_staging_apply(
      "    apply:\n      flux:\n        name: apps\n        healthChecks:\n"
      "          - {apiVersion: apps/v1, kind: Deployment, name: web}\n"
      "      timeout: 2s\n");
  // The Kustomization's apply changes the pod template: generation 2, not yet observed.
  seed(R"({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "flux-system"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}},
    "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2,
               "readyReplicas": 2, "availableReplicas": 2}})");
  flux_mode(R"({"mode": "ready", "delay_ms": 20})");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "error"; }))
      << json::serialize(infra_state().at("statuses"));
  const auto description = status_description(head, "ferry/apply/staging");
  EXPECT_NE(description.find("Deployment flux-system/web: not Ready within 2s: Deployment "
                             "generation is 2, but latest observed generation is 1"),
            std::string::npos)
      << description;
}

// Issue 11: a Kustomization whose source is an OCIRepository succeeds once it applied the
// artifact built from the pushed commit (org.opencontainers.image.revision); an artifact of an
// older commit never counts.
TEST_F(flux_health, an_oci_source_counts_at_the_artifact_built_from_the_pushed_commit) {
  const std::string before = main_head();
  const std::string head =
      push_files("heads/main", {{"clusters/staging/app/note.yaml", "note: oci\n"}});
  const auto oci = [](const std::string& digest, const std::string& commit) {
    return R"({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
      "metadata": {"name": "apps", "namespace": "flux-system"},
      "spec": {"url": "oci://ghcr.io/dine-together/infra", "interval": "5m",
               "ref": {"tag": "latest"}},
      "status": {"artifact": {"revision": "latest@sha256:)" +
           digest + R"(", "digest": "sha256:)" + digest + R"(",
        "lastUpdateTime": "2026-01-01T00:00:00Z", "path": "ocirepository/x.tar.gz",
        "url": "http://source-controller/x.tar.gz",
        "metadata": {"org.opencontainers.image.revision": "main@sha1:)" +
           commit + R"("}}}})";
  };
  const std::string old_digest(64, 'a');
  const std::string new_digest(64, 'b');
  seed(oci(old_digest, before));
  seed(R"({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
    "metadata": {"name": "apps", "namespace": "flux-system"},
    "spec": {"interval": "10m", "path": "./clusters/staging", "prune": true,
             "sourceRef": {"kind": "OCIRepository", "name": "apps"}}})");
  flux_mode(R"({"mode": "ready", "delay_ms": 20})");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  // Flux handled the request and is Ready at the artifact it had: the previous commit's.
  ASSERT_TRUE(run_until([&] {
    const auto k = kube_object("Kustomization", "apps");
    const auto* st = k.if_contains("status");
    return st != nullptr && st->as_object().contains("lastAppliedRevision") &&
           kube_requested("GET",
                          "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/"
                          "ocirepositories/apps");
  }));
  EXPECT_EQ(status_of(head, "ferry/apply/staging"), "pending");

  // CI pushed the artifact of the new commit; Flux fetched and applied it.
  seed(oci(new_digest, head));
  auto k = kube_object("Kustomization", "apps");
  auto& status = k["status"].as_object();
  status["lastAppliedRevision"] = "latest@sha256:" + new_digest;
  status["lastAttemptedRevision"] = "latest@sha256:" + new_digest;
  seed(json::serialize(k));
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "success"; }))
      << json::serialize(infra_state().at("statuses"));
  EXPECT_NE(status_description(head, "ferry/apply/staging").find("latest@sha256:bbbb"),
            std::string::npos);
}

TEST_F(flux_health, a_bucket_source_counts_once_it_and_the_kustomization_handled_the_request) {
  const std::string head =
      push_files("heads/main", {{"clusters/staging/app/note.yaml", "note: bucket\n"}});
  const std::string digest(64, 'c');
  seed(R"({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "Bucket",
    "metadata": {"name": "apps", "namespace": "flux-system"},
    "spec": {"bucketName": "infra", "endpoint": "minio.example.com", "interval": "5m"},
    "status": {"artifact": {"revision": "sha256:)" +
       digest + R"(", "digest": "sha256:)" + digest + R"(",
      "lastUpdateTime": "2026-01-01T00:00:00Z", "path": "bucket/x.tar.gz",
      "url": "http://source-controller/x.tar.gz"}}})");
  seed(R"({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
    "metadata": {"name": "apps", "namespace": "flux-system"},
    "spec": {"interval": "10m", "path": "./", "prune": true,
             "sourceRef": {"kind": "Bucket", "name": "apps"}}})");
  flux_mode(R"({"mode": "ready", "delay_ms": 20})");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "success"; }))
      << json::serialize(infra_state().at("statuses"));
  EXPECT_EQ(kube_object("Bucket", "apps")
                .at("status")
                .as_object()
                .at("lastHandledReconcileAt")
                .as_string(),
            head);
}

// Fleet mode (issue 11): ferry bumps spec.forceSyncGeneration once per commit and follows the
// GitRepo to Ready at the pushed commit with every bundle deployment ready. A Ready left from an
// older commit never counts; ErrApplied fails with Fleet's message; silence ends in an error.
class fleet_apply : public apply_handler {
 protected:
  void SetUp() override {
    apply_handler::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    // Ready at the previous commit, as Fleet left it.
    seed(R"({"apiVersion": "fleet.cattle.io/v1alpha1", "kind": "GitRepo",
      "metadata": {"name": "apps", "namespace": "flux-system"},
      "spec": {"repo": "https://github.com/dine-together/infra", "branch": "main",
               "paths": ["clusters/staging"], "forceSyncGeneration": 7},
      "status": {"observedGeneration": 1, "commit": ")" +
         main_head() + R"(", "readyClusters": 1, "desiredReadyClusters": 1,
        "summary": {"ready": 1, "desiredReady": 1},
        "conditions": [{"type": "Ready", "status": "True"}]}})");
  }

  // The example's rules with staging applied through Fleet; the pushed head.
  std::string push_with_fleet(const std::string& timeout = "10m") {
    return push_staging_apply(
        "    apply: {fleet: {gitRepo: apps, namespace: flux-system}, timeout: " + timeout + "}\n",
        {{"clusters/staging/app/note.yaml", "note: fleet\n"}});
  }

  void fleet_mode(const std::string& body) {
    const auto r = kube_->control(http::verb::post, "/_double/fleet-mode", body);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  std::int64_t force_sync_generation() {
    return kube_object("GitRepo", "apps")
        .at("spec")
        .as_object()
        .at("forceSyncGeneration")
        .as_int64();
  }
};

TEST_F(fleet_apply, a_forced_sync_ready_at_the_pushed_commit_succeeds_once) {
  const std::string head = push_with_fleet();
  fleet_mode(R"({"mode": "ready", "delay_ms": 20, "commit": ")" + head + R"("})");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_TRUE(*started);
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "success"; }))
      << json::serialize(infra_state().at("statuses"));
  EXPECT_EQ(force_sync_generation(), 8);
  const auto description = status_description(head, "ferry/apply/staging");
  EXPECT_NE(description.find("GitRepo flux-system/apps is Ready at " + head.substr(0, 12) +
                             ", 1/1 bundle deployments ready"),
            std::string::npos)
      << description;
  // Triggered again for the same commit (a resume): no second forced sync.
  const ferry::log::logger log;
  auto again =
      run(ferry::handlers::trigger_apply(settings_, o->repo, env(o->rules, "staging"), head, log));
  ASSERT_TRUE(again && *again) << (again ? again->error().message : "did not finish");
  EXPECT_EQ(force_sync_generation(), 8);
}

TEST_F(fleet_apply, a_stale_ready_never_counts_and_silence_is_an_error) {
  const std::string before = main_head();
  const std::string head = push_with_fleet("2s");
  // Fleet handles the forced sync but its clone still finds the previous commit: Ready, at the
  // wrong commit.
  fleet_mode(R"({"mode": "ready", "delay_ms": 20, "commit": ")" + before + R"("})");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "error"; }))
      << json::serialize(infra_state().at("statuses"));
  const auto description = status_description(head, "ferry/apply/staging");
  EXPECT_NE(description.find("GitRepo flux-system/apps: not Ready at " + head.substr(0, 12) +
                             " within 2s: at commit " + before.substr(0, 12) +
                             ", not yet the pushed commit"),
            std::string::npos)
      << description;
}

TEST_F(fleet_apply, err_applied_bundles_fail_the_apply_with_fleets_message) {
  const std::string head = push_with_fleet();
  fleet_mode(
      R"({"mode": "errapplied", "delay_ms": 20, "commit": ")" + head +
      R"(", "message": "helm install failed: image ghcr.io/dine-together/app:bad not found"})");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "failure"; }))
      << json::serialize(infra_state().at("statuses"));
  const auto description = status_description(head, "ferry/apply/staging");
  EXPECT_NE(description.find("GitRepo flux-system/apps failed: ErrApplied (1 bundle "
                             "deployments): apps-bundle ErrApplied: helm install failed"),
            std::string::npos)
      << description;
}

TEST_F(fleet_apply, a_missing_gitrepo_is_refused_on_the_status) {
  const std::string head =
      push_staging_apply("    apply: {fleet: {gitRepo: nowhere, namespace: flux-system}}\n");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_FALSE(*started);
  EXPECT_EQ(status_of(head, "ferry/apply/staging"), "failure");
  EXPECT_NE(status_description(head, "ferry/apply/staging")
                .find("GitRepo flux-system/nowhere does not exist"),
            std::string::npos);
}

// Argo CD mode (issue 11): a hard refresh, and with sync: true a sync at the pushed commit
// through the Application's operation; success is Synced and Healthy at the pushed commit with
// the operation (if any) Succeeded. Argo CD's Application has no status subresource.
class argocd_apply : public apply_handler {
 protected:
  void SetUp() override {
    apply_handler::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    seed_application(R"({"sync": {"status": "Synced", "revision": ")" + main_head() +
                     R"("}, "health": {"status": "Healthy"}})");
  }

  void seed_application(const std::string& status, const std::string& operation = "") {
    seed(R"({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
      "metadata": {"name": "apps", "namespace": "flux-system"},
      "spec": {"project": "default",
               "source": {"repoURL": "https://github.com/dine-together/infra",
                          "path": "clusters/staging", "targetRevision": "main"},
               "destination": {"server": "https://kubernetes.default.svc", "namespace": "apps"}},)" +
         (operation.empty() ? std::string() : R"("operation": )" + operation + ",") +
         R"("status": )" + status + "}");
  }

  std::string push_with_argocd(bool sync, const std::string& timeout = "10m") {
    return push_staging_apply(
        std::string("    apply: {argocd: {application: apps, namespace: flux-system, sync: ") +
            (sync ? "true" : "false") + "}, timeout: " + timeout + "}\n",
        {{"clusters/staging/app/note.yaml", "note: argocd\n"}});
  }

  void argocd_mode(const std::string& body) {
    const auto r = kube_->control(http::verb::post, "/_double/argocd-mode", body);
    ASSERT_EQ(r.status, 200) << r.body;
  }
};

TEST_F(argocd_apply, a_sync_at_the_pushed_commit_succeeds_synced_and_healthy) {
  const std::string head = push_with_argocd(true);
  argocd_mode(R"({"mode": "synced", "delay_ms": 20})");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_TRUE(*started);
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "success"; }))
      << json::serialize(infra_state().at("statuses"));
  const auto app = kube_object("Application", "apps");
  const auto& op = app.at("status").as_object().at("operationState").as_object();
  EXPECT_EQ(op.at("operation").at("sync").at("revision").as_string(), head);
  EXPECT_EQ(op.at("operation").at("initiatedBy").at("username").as_string(), "ferry");
  EXPECT_NE(status_description(head, "ferry/apply/staging")
                .find("Application flux-system/apps is Synced and Healthy at " + head),
            std::string::npos);
}

TEST_F(argocd_apply, a_failed_sync_fails_with_argo_cds_message) {
  const std::string head = push_with_argocd(true);
  argocd_mode(R"({"mode": "failed", "delay_ms": 20,
                  "message": "one or more objects failed to apply, reason: Deployment.apps \"web\" is invalid"})");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "failure"; }))
      << json::serialize(infra_state().at("statuses"));
  EXPECT_NE(status_description(head, "ferry/apply/staging")
                .find("Application flux-system/apps failed: sync Failed: one or more objects "
                      "failed to apply"),
            std::string::npos)
      << status_description(head, "ferry/apply/staging");
}

TEST_F(argocd_apply, degraded_after_the_sync_fails_the_apply) {
  const std::string head = push_with_argocd(true);
  argocd_mode(
      R"({"mode": "degraded", "delay_ms": 20, "message": "Deployment web: ImagePullBackOff"})");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "failure"; }))
      << json::serialize(infra_state().at("statuses"));
  EXPECT_NE(status_description(head, "ferry/apply/staging")
                .find("failed: Degraded: Deployment web: ImagePullBackOff"),
            std::string::npos)
      << status_description(head, "ferry/apply/staging");
}

// Without sync, Argo CD's automated sync applies the refreshed revision. Synced and Healthy at
// the previous commit (the state before the push) never counts; silence is an error that says
// where it stood.
TEST_F(argocd_apply, refresh_only_a_stale_synced_never_counts_and_silence_is_an_error) {
  const std::string before = main_head();
  const std::string head = push_with_argocd(false, "2s");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  const auto app = kube_object("Application", "apps");
  EXPECT_EQ(app.at("metadata").at("annotations").at("argocd.argoproj.io/refresh").as_string(),
            "hard");
  EXPECT_EQ(app.if_contains("operation"), nullptr) << "no sync asked";
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "error"; }))
      << json::serialize(infra_state().at("statuses"));
  EXPECT_NE(status_description(head, "ferry/apply/staging")
                .find("not Synced and Healthy at " + head.substr(0, 12) +
                      " within 2s: compared at " + before),
            std::string::npos)
      << status_description(head, "ferry/apply/staging");
}

TEST_F(argocd_apply, refresh_only_succeeds_once_the_automated_sync_reached_the_commit) {
  const std::string head = push_with_argocd(false);
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_TRUE(started.ok()) << started.error().message;
  ASSERT_TRUE(run_until([&] {
    return kube_requested("GET", "/apis/argoproj.io/v1alpha1/namespaces/flux-system/applications",
                          "watch");
  }));
  EXPECT_EQ(status_of(head, "ferry/apply/staging"), "pending");
  // Argo CD's automated sync, as its controller writes it.
  seed_application(R"({"sync": {"status": "Synced", "revision": ")" + head +
                   R"("}, "health": {"status": "Healthy"},
      "operationState": {"phase": "Succeeded", "message": "successfully synced, all tasks run",
        "startedAt": "2026-01-01T00:00:00Z", "operation": {"sync": {"revision": ")" +
                   head + R"("}, "initiatedBy": {"automated": true}},
        "syncResult": {"revision": ")" +
                   head + R"("}}})");
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "success"; }))
      << json::serialize(infra_state().at("statuses"));
}

// Argo CD runs one operation at a time: ferry never overwrites another revision's, and the
// status stays pending for the retry.
TEST_F(argocd_apply, an_operation_of_another_revision_is_not_overwritten) {
  const std::string before = main_head();
  seed_application(
      R"({"sync": {"status": "OutOfSync", "revision": ")" + before +
          R"("}, "health": {"status": "Healthy"}})",
      R"({"sync": {"revision": ")" + before + R"("}, "initiatedBy": {"username": "alice"}})");
  const std::string head = push_with_argocd(true);
  auto o = open_at(head);
  ASSERT_TRUE(o);
  const auto started = start(*o, "staging", head);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().kind, ferry::error_kind::conflict) << started.error().message;
  EXPECT_EQ(status_of(head, "ferry/apply/staging"), "pending");
  EXPECT_EQ(
      kube_object("Application", "apps").at("operation").at("sync").at("revision").as_string(),
      before);
}

// Issue 11 item 2: gates before promotion. Staging (a Flux apply the double makes Ready) gets
// `gates:`; production, promoted from it, gets its PR only once they passed. Each gate: success,
// failure, timeout, and a report left over from an older revision that must not count.
class gates_handler : public apply_handler {
 protected:
  std::vector<std::string> extra_namespaces() override { return {"apps"}; }  // the Canary's
  void SetUp() override {
    apply_handler::SetUp();
    // GitHub delivers status and check_run only to Apps subscribed to them (docs/rules.md).
    const auto r = control(http::verb::post, "/_double/app/events",
                           R"({"events": ["package", "push", "pull_request", "status",
                                          "check_run"], "permissions": {"checks": "read"}})");
    ASSERT_EQ(r.status, 204) << r.body;
  }

  // Staging with `gates_yaml` (a `gates:` line), a marker change under staging's paths so that
  // production has something to be promoted, pushed to main; the new head.
  std::string push_gated(const std::string& gates_yaml) {
    const std::string apply =
        "    apply: {flux: {kind: Kustomization, name: apps, namespace: flux-system}}\n";
    std::string k =
        ferry::test::e2e::read_all(std::string(FERRY_SOURCE_DIR) +
                                   "/infra/example-infra/clusters/staging/app/kustomization.yaml");
    const std::string old_tag = "newTag: \"1.4.0\"";
    const auto at = k.find(old_tag);
    EXPECT_NE(at, std::string::npos);
    if (at != std::string::npos) {
      k.replace(at, old_tag.size(), "newTag: \"1.5.0\"");  // production runs 1.4.0
    }
    json::object files;
    files["clusters/staging/app/kustomization.yaml"] = k;
    return push_staging_apply(apply + gates_yaml, std::move(files));
  }

  // Applies staging at `head` (Flux answers Ready) and waits for the gates to open.
  void apply_staging(opened& o, const std::string& head) {
    flux_mode(R"({"mode": "ready", "delay_ms": 20})");
    const auto started = start(o, "staging", head);
    ASSERT_TRUE(started.ok()) << started.error().message;
    ASSERT_TRUE(*started);
    ASSERT_TRUE(run_until([&] { return status_of(head, "ferry/apply/staging") == "success"; }))
        << json::serialize(infra_state().at("statuses"));
    ASSERT_EQ(status_of(head, "ferry/gates/staging"), "pending");
  }

  // Another App reporting on `sha` (CI, an end-to-end suite): the webhook GitHub sends for it.
  json::value report(const std::string& body) {
    const auto before = last_webhook_seq();
    const auto r = control(http::verb::post, "/_double/ci", body);
    EXPECT_EQ(r.status, 201) << r.body;
    const auto hooks = webhooks(before);
    EXPECT_EQ(hooks.size(), 1u) << json::serialize(hooks);
    return hooks.empty() ? json::value() : hooks.back();
  }
  json::value commit_status(const std::string& sha, const std::string& context,
                            const std::string& state) {
    return report(R"({"repo": "dine-together/infra", "sha": ")" + sha + R"(", "context": ")" +
                  context + R"(", "state": ")" + state + R"(", "description": "42 tests",
                  "target_url": "https://ci.example.com/runs/7"})");
  }
  json::value check_run(const std::string& sha, const std::string& name,
                        const std::string& conclusion) {
    return report(R"({"repo": "dine-together/infra", "sha": ")" + sha + R"(", "name": ")" + name +
                  R"(", "status": "completed", "conclusion": ")" + conclusion + R"("})");
  }

  std::vector<json::object> production_pulls() {
    std::vector<json::object> out;
    const auto state = infra_state();
    for (const auto& p : state.at("pulls").as_array()) {
      if (p.as_object().at("head").as_string().starts_with("ferry/production/")) {
        out.push_back(p.as_object());
      }
    }
    return out;
  }

  // A Canary as Flagger leaves it: `phase` since `at` (RFC 3339), with Flagger's message.
  void canary(const std::string& phase, const std::string& at, const std::string& message) {
    seed(json::serialize(ferry::test::canary_object(phase, at, message, 10)));
  }

  static std::string rfc3339(std::chrono::system_clock::time_point t) {
    return ferry::test::rfc3339(t);
  }
};

TEST_F(gates_handler, statuses_gate_passes_on_the_merged_commits_reports_only) {
  const std::string before = main_head();
  const std::string head = push_gated("    gates: {statuses: [e2e/staging, smoke], timeout: 5m}\n");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  apply_staging(*o, head);
  EXPECT_TRUE(production_pulls().empty());

  // Stale: a success on the previous commit decides nothing for this one.
  const auto stale = dispatch_recorded(commit_status(before, "e2e/staging", "success"));
  ASSERT_TRUE(stale.ok()) << stale.error().message;
  // Half: one of two reported, or a pending one, leaves the gates open.
  ASSERT_TRUE(dispatch_recorded(check_run(head, "smoke", "success")).ok());
  const auto pending = dispatch_recorded(commit_status(head, "e2e/staging", "pending"));
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(*pending, ferry::service::outcome::ignored);
  EXPECT_EQ(status_of(head, "ferry/gates/staging"), "pending");
  EXPECT_TRUE(production_pulls().empty());

  const auto done = dispatch_recorded(commit_status(head, "e2e/staging", "success"));
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(status_of(head, "ferry/gates/staging"), "success");
  EXPECT_NE(
      status_description(head, "ferry/gates/staging").find("gates passed: e2e/staging, smoke"),
      std::string::npos)
      << status_description(head, "ferry/gates/staging");
  const auto prs = production_pulls();
  ASSERT_FALSE(prs.empty()) << json::serialize(infra_state().at("pulls")) << "\n"
                            << json::serialize(requests());
  const std::string body(prs.front().at("body").as_string());
  EXPECT_NE(body.find("**Gates** (status `ferry/gates/staging` = success)"), std::string::npos)
      << body;
  EXPECT_NE(body.find("- e2e/staging: passed (success: 42 tests) "
                      "[details](https://ci.example.com/runs/7)"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("- smoke: passed (check run success)"), std::string::npos) << body;
}

TEST_F(gates_handler, statuses_gate_fails_on_a_failed_check_and_blocks_the_promotion) {
  const std::string head = push_gated("    gates: {statuses: [e2e/staging]}\n");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  apply_staging(*o, head);
  ASSERT_TRUE(dispatch_recorded(check_run(head, "e2e/staging", "timed_out")).ok());
  EXPECT_EQ(status_of(head, "ferry/gates/staging"), "failure");
  EXPECT_EQ(status_description(head, "ferry/gates/staging"),
            "gate e2e/staging failed: check run timed_out");
  EXPECT_TRUE(production_pulls().empty());
  // A later success on the same commit changes nothing: the gates are settled.
  ASSERT_TRUE(dispatch_recorded(commit_status(head, "e2e/staging", "success")).ok());
  EXPECT_EQ(status_of(head, "ferry/gates/staging"), "failure");
  EXPECT_TRUE(production_pulls().empty());
}

TEST_F(gates_handler, statuses_gate_that_never_reports_times_out_naming_the_gate) {
  const std::string head = push_gated("    gates: {statuses: [e2e/staging], timeout: 2s}\n");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  apply_staging(*o, head);
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/gates/staging") == "error"; },
                        std::chrono::seconds(20)));
  EXPECT_EQ(status_description(head, "ferry/gates/staging"),
            "not passed within 2s: waiting for e2e/staging (not reported yet)");
  EXPECT_TRUE(production_pulls().empty());
}

TEST_F(gates_handler, flagger_gate_waits_for_the_analysis_of_this_revision) {
  // Left from the previous revision's analysis: Succeeded long before this merge.
  canary("Succeeded", "2020-01-01T00:00:00Z", "Canary analysis completed successfully");
  const std::string head = push_gated("    gates: {flagger: {canary: app, namespace: apps}}\n");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  apply_staging(*o, head);
  ASSERT_TRUE(run_until([&] {
    return kube_requested("GET", "/apis/flagger.app/v1beta1/namespaces/apps/canaries", "watch");
  }));
  EXPECT_EQ(status_of(head, "ferry/gates/staging"), "pending");
  const auto now = std::chrono::system_clock::now() + std::chrono::seconds(1);
  canary("Progressing", rfc3339(now), "New revision detected, progressing canary analysis.");
  canary("Succeeded", rfc3339(now), "Canary analysis completed successfully, promotion finished.");
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/gates/staging") == "success"; }))
      << json::serialize(infra_state().at("statuses"));
  const auto prs = production_pulls();
  ASSERT_FALSE(prs.empty());
  const std::string body(prs.front().at("body").as_string());
  EXPECT_NE(body.find("- Canary apps/app: passed (Canary analysis completed successfully, "
                      "promotion finished.)"),
            std::string::npos)
      << body;
}

TEST_F(gates_handler, flagger_gate_fails_with_flaggers_message) {
  const std::string head = push_gated("    gates: {flagger: {canary: app, namespace: apps}}\n");
  canary("Progressing", rfc3339(std::chrono::system_clock::now() + std::chrono::seconds(1)),
         "New revision detected");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  apply_staging(*o, head);
  canary("Failed", rfc3339(std::chrono::system_clock::now() + std::chrono::seconds(1)),
         "Canary analysis failed, Deployment scaled to zero.");
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/gates/staging") == "failure"; }))
      << json::serialize(infra_state().at("statuses"));
  EXPECT_EQ(status_description(head, "ferry/gates/staging"),
            "gate Canary apps/app failed: Canary analysis failed, Deployment scaled to zero.");
  EXPECT_TRUE(production_pulls().empty());
}

TEST_F(gates_handler, flagger_gate_that_never_settles_times_out_saying_where_it_stood) {
  const std::string head =
      push_gated("    gates: {flagger: {canary: app, namespace: apps}, timeout: 2s}\n");
  canary("Progressing", rfc3339(std::chrono::system_clock::now() + std::chrono::seconds(1)),
         "New revision detected");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  apply_staging(*o, head);
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/gates/staging") == "error"; },
                        std::chrono::seconds(20)));
  EXPECT_EQ(status_description(head, "ferry/gates/staging"),
            "not passed within 2s: waiting for Canary apps/app (Progressing (canary weight 10%))");
  EXPECT_TRUE(production_pulls().empty());
}

// Crash-safe: gates left pending by a replica that stopped are resumed by the Lease holder's
// sweep, from the statuses alone, and decided at once when their reports are in.
TEST_F(gates_handler, pending_gates_are_resumed_by_the_sweep) {
  const std::string head = push_gated("    gates: {statuses: [e2e/staging]}\n");
  auto o = open_at(head);
  ASSERT_TRUE(o);
  ASSERT_TRUE(run(o->repo.status(head, "ferry/apply/staging", "success", "Kustomization ok")));
  ASSERT_TRUE(run(o->repo.status(head, "ferry/gates/staging", "pending", "waiting")));
  commit_status(head, "e2e/staging", "success");  // delivered to a replica that is gone
  if (!shared_) {
    shared_ = ferry::handlers::share_settings(settings_);
  }
  const auto resumed = run(ferry::handlers::resume_pending_applies(shared_, {}));
  ASSERT_TRUE(resumed && *resumed) << (resumed ? resumed->error().message : "did not finish");
  EXPECT_EQ(**resumed, 1);
  EXPECT_TRUE(run_until([&] { return status_of(head, "ferry/gates/staging") == "success"; }))
      << json::serialize(infra_state().at("statuses"));
  EXPECT_FALSE(production_pulls().empty());
}

}  // namespace
