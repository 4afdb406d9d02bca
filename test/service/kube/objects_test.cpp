// objects.hpp on hand-written documents (shapes from the Kubernetes and Flux API references),
// malformed input (errors, never a crash), path builders and MicroTime.

#include <gtest/gtest.h>

#include "service/kube/client.hpp"
#include "service/kube/objects.hpp"

namespace ferry::kube {
namespace {

TEST(kube_objects, job_conditions_decide_the_state) {
  auto job = parse_job(R"({"metadata":{"name":"j","namespace":"ns","resourceVersion":"7",
    "uid":"u-1","generation":1,"labels":{"ferry.dev/env":"staging"}},
    "status":{"succeeded":1,"conditions":[
      {"type":"SuccessCriteriaMet","status":"True"},
      {"type":"Complete","status":"True","reason":"Done","message":"ok"}]}})");
  ASSERT_TRUE(job.ok()) << job.error().message;
  EXPECT_EQ(job->meta.name, "j");
  EXPECT_EQ(job->meta.ns, "ns");
  EXPECT_EQ(job->meta.resource_version, "7");
  EXPECT_EQ(job->meta.labels.at("ferry.dev/env"), "staging");
  EXPECT_EQ(job->succeeded, 1);
  EXPECT_EQ(state_of(*job), job_state::succeeded);
  ASSERT_NE(find_condition(job->conditions, "Complete"), nullptr);
  EXPECT_EQ(find_condition(job->conditions, "Complete")->reason, "Done");
  EXPECT_EQ(find_condition(job->conditions, "Ready"), nullptr);

  auto failed = parse_job(
      R"({"status":{"failed":2,"conditions":[{"type":"FailureTarget","status":"True"},
      {"type":"Failed","status":"True","reason":"BackoffLimitExceeded"}]}})");
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(state_of(*failed), job_state::failed);

  auto running = parse_job(R"({"status":{"active":1,"conditions":[
      {"type":"Complete","status":"False"}]}})");
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(state_of(*running), job_state::running);
  EXPECT_EQ(state_of(*parse_job("{}")), job_state::running);
}

TEST(kube_objects, kustomization_source_namespace_defaults_to_its_own) {
  auto k = parse_flux(R"({"metadata":{"name":"apps","namespace":"flux-system","generation":3,
    "annotations":{"reconcile.fluxcd.io/requestedAt":"abc"}},
    "spec":{"sourceRef":{"kind":"GitRepository","name":"infra"}},
    "status":{"observedGeneration":3,"lastAppliedRevision":"main@sha1:abc",
      "lastHandledReconcileAt":"abc",
      "conditions":[{"type":"Ready","status":"True","reason":"ReconciliationSucceeded",
        "message":"Applied revision: main@sha1:abc"}]}})");
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->source_kind, "GitRepository");
  EXPECT_EQ(k->source_name, "infra");
  EXPECT_EQ(k->source_namespace, "flux-system");
  EXPECT_EQ(k->last_applied_revision, "main@sha1:abc");
  EXPECT_EQ(k->last_handled_reconcile_at, "abc");
  EXPECT_EQ(k->observed_generation, 3);
  EXPECT_EQ(k->meta.generation, 3);
  EXPECT_EQ(k->meta.annotations.at("reconcile.fluxcd.io/requestedAt"), "abc");
  ASSERT_NE(find_condition(k->conditions, "Ready"), nullptr);

  auto other = parse_flux(R"({"metadata":{"namespace":"apps"},
    "spec":{"sourceRef":{"kind":"OCIRepository","name":"x","namespace":"flux-system"}}})");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->source_namespace, "flux-system");

  auto source = parse_flux(R"({"metadata":{"name":"infra"},"spec":{"url":"https://x"}})");
  ASSERT_TRUE(source.ok());
  EXPECT_TRUE(source->source_kind.empty());
}

TEST(kube_objects, source_artifact_and_kustomization_inventory) {
  auto oci = parse_flux(R"({"metadata":{"name":"apps","namespace":"flux-system"},
    "status":{"artifact":{"revision":"latest@sha256:abc","digest":"sha256:abc",
      "metadata":{"org.opencontainers.image.revision":"main@sha1:def",
                  "org.opencontainers.image.source":"https://github.com/o/infra"}}}})");
  ASSERT_TRUE(oci.ok()) << oci.error().message;
  EXPECT_EQ(oci->artifact_revision, "latest@sha256:abc");
  EXPECT_EQ(oci->artifact_source_revision, "main@sha1:def");

  auto k = parse_flux(R"({"metadata":{"name":"apps"},"status":{"inventory":{"entries":[
    {"id":"flux-system_app_helm.toolkit.fluxcd.io_HelmRelease","v":"v2"},
    {"id":"apps_web_apps_Deployment","v":"v1"}]}}})");
  ASSERT_TRUE(k.ok()) << k.error().message;
  ASSERT_EQ(k->inventory.size(), 2u);
  EXPECT_EQ(k->inventory[0].id, "flux-system_app_helm.toolkit.fluxcd.io_HelmRelease");
  EXPECT_EQ(k->inventory[1].version, "v1");

  EXPECT_FALSE(parse_flux(R"({"status":{"inventory":{"entries":{}}}})").ok());
  EXPECT_FALSE(parse_flux(R"({"status":{"inventory":{"entries":[{"id":1}]}}})").ok());
  EXPECT_FALSE(parse_flux(R"({"status":{"artifact":{"metadata":{"a":1}}}})").ok());
}

TEST(kube_objects, workloads) {
  auto d = parse_workload(R"({"metadata":{"name":"web","generation":4},"spec":{"replicas":3},
    "status":{"observedGeneration":4,"replicas":3,"updatedReplicas":2,"readyReplicas":1,
      "availableReplicas":1,"conditions":[{"type":"Available","status":"False"}]}})");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->spec_replicas, 3);
  EXPECT_EQ(d->observed_generation, 4);
  EXPECT_EQ(d->replicas, 3);
  EXPECT_EQ(d->updated_replicas, 2);
  EXPECT_EQ(d->ready_replicas, 1);
  EXPECT_EQ(d->available_replicas, 1);
  ASSERT_NE(find_condition(d->conditions, "Available"), nullptr);
  EXPECT_EQ(parse_workload(R"({"metadata":{"name":"x"}})")->spec_replicas, 1);
  EXPECT_FALSE(parse_workload(R"({"spec":{"replicas":"3"}})").ok());
  EXPECT_FALSE(parse_workload(R"({"status":{"updatedReplicas":1.5}})").ok());
  EXPECT_FALSE(parse_workload("[]").ok());

  EXPECT_EQ(*workload_path("helm.toolkit.fluxcd.io/v2", "HelmRelease", "flux-system", "app"),
            "/apis/helm.toolkit.fluxcd.io/v2/namespaces/flux-system/helmreleases/app");
  EXPECT_EQ(*workload_path("apps/v1", "Deployment", "apps", "web"),
            "/apis/apps/v1/namespaces/apps/deployments/web");
  EXPECT_FALSE(workload_path("apps/v1", "HelmRelease", "a", "b").ok());
  EXPECT_FALSE(workload_path("batch/v1", "CronJob", "a", "b").ok());
}

TEST(kube_objects, lease_fields) {
  auto l = parse_lease(R"({"metadata":{"name":"ferry","resourceVersion":"9"},
    "spec":{"holderIdentity":"pod-a","leaseDurationSeconds":15,
      "acquireTime":"2026-11-24T01:02:03.000000Z","renewTime":"2026-11-24T01:02:04.500000Z",
      "leaseTransitions":4}})");
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(l->holder, "pod-a");
  EXPECT_EQ(l->lease_duration_seconds, 15);
  EXPECT_EQ(l->transitions, 4);
  EXPECT_EQ(l->renew_time, "2026-11-24T01:02:04.500000Z");
}

TEST(kube_objects, malformed_documents_are_errors) {
  const char* bad[] = {
      "",
      "not json",
      "[1,2]",
      R"({"metadata":"x"})",
      R"({"metadata":{"name":5}})",
      R"({"metadata":{"labels":{"a":1}}})",
      R"({"metadata":{"generation":"1"}})",
      R"({"status":{"conditions":{"type":"Complete"}}})",
      R"({"status":{"conditions":[{"type":1}]}})",
      R"({"status":{"active":"1"}})",
      R"({"status":{"active":99999999999}})",
      R"({"status":"x"})",
      R"({"metadata":{"name":"a"})",
  };
  for (const char* text : bad) {
    auto j = parse_job(text);
    EXPECT_FALSE(j.ok()) << text;
    if (!j.ok()) {
      EXPECT_EQ(j.error().kind, error_kind::invalid_input) << text;
    }
  }
  EXPECT_FALSE(parse_flux(R"({"spec":{"sourceRef":"x"}})").ok());
  EXPECT_FALSE(parse_flux(R"({"status":{"lastAppliedRevision":1}})").ok());
  EXPECT_FALSE(parse_lease(R"({"spec":{"leaseDurationSeconds":"15"}})").ok());
  EXPECT_FALSE(parse_lease(R"({"spec":[]})").ok());
  EXPECT_FALSE(parse_lease("{").ok());
}

TEST(kube_objects, paths) {
  EXPECT_EQ(job_collection("flux-system"), "/apis/batch/v1/namespaces/flux-system/jobs");
  EXPECT_EQ(job_path("ns", "j"), "/apis/batch/v1/namespaces/ns/jobs/j");
  EXPECT_EQ(pods_for_job("ns", "j"), "/api/v1/namespaces/ns/pods?labelSelector=job-name%3Dj");
  EXPECT_EQ(pod_log_path("ns", "p", 50), "/api/v1/namespaces/ns/pods/p/log?tailLines=50");
  EXPECT_EQ(lease_path("ns", "ferry"), "/apis/coordination.k8s.io/v1/namespaces/ns/leases/ferry");
  EXPECT_EQ(*flux_path("Kustomization", "flux-system", "apps"),
            "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps");
  EXPECT_EQ(*flux_path("GitRepository", "ns", "r"),
            "/apis/source.toolkit.fluxcd.io/v1/namespaces/ns/gitrepositories/r");
  EXPECT_EQ(*flux_path("OCIRepository", "ns", "r"),
            "/apis/source.toolkit.fluxcd.io/v1/namespaces/ns/ocirepositories/r");
  EXPECT_EQ(*flux_path("Bucket", "ns", "r"),
            "/apis/source.toolkit.fluxcd.io/v1/namespaces/ns/buckets/r");
  EXPECT_EQ(*flux_path("HelmRepository", "ns", "r"),
            "/apis/source.toolkit.fluxcd.io/v1/namespaces/ns/helmrepositories/r");
  auto bad = flux_path("HelmRelease", "ns", "r");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, error_kind::invalid_input);
  EXPECT_NE(bad.error().message.find("HelmRelease"), std::string::npos);
}

TEST(kube_objects, micro_time_round_trips) {
  using namespace std::chrono;
  const auto t =
      sys_days(year(2026) / 11 / 24) + hours(1) + minutes(2) + seconds(3) + microseconds(450);
  EXPECT_EQ(format_micro_time(t), "2026-11-24T01:02:03.000450Z");
  EXPECT_EQ(format_micro_time(sys_days(year(2026) / 11 / 24) + hours(1) + minutes(2) + seconds(3)),
            "2026-11-24T01:02:03.000000Z");
  EXPECT_EQ(parse_micro_time("2026-11-24T01:02:03.000450Z"), t);
  EXPECT_EQ(parse_micro_time("2026-11-24T01:02:03Z"), t - microseconds(450));
  EXPECT_EQ(parse_micro_time("2026-11-24T01:02:03.5Z"), t - microseconds(450) + milliseconds(500));
  EXPECT_FALSE(parse_micro_time("2026-11-24 01:02:03Z"));
  EXPECT_FALSE(parse_micro_time("2026-11-24T01:02:03+01:00"));
  EXPECT_FALSE(parse_micro_time("2026-13-24T01:02:03Z"));
  EXPECT_FALSE(parse_micro_time("2026-11-24T01:02:03.Z"));
  EXPECT_FALSE(parse_micro_time(""));
}

}  // namespace
}  // namespace ferry::kube
