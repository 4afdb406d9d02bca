// Argo CD mode (service/apply/argocd.hpp): the patch ferry sends, what it does to an Application
// that is busy or already synced, and the verdict over the Application Argo CD writes back.

#include "service/apply/argocd.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>

namespace ferry::apply {
namespace {

const std::string k_pushed = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";
const std::string k_child = "1111111111111111111111111111111111111111";
const std::string k_older = "2222222222222222222222222222222222222222";

bool at_or_after_pushed(std::string_view c) {
  return c == k_pushed || c == k_child;
}

kube::argocd_view app(const std::string& json) {
  auto a = kube::parse_argocd(json);
  EXPECT_TRUE(a.ok()) << (a ? "" : a.error().message);
  return a ? *a : kube::argocd_view{};
}

std::string application(const std::string& status, const std::string& operation = "") {
  return R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Application",
    "metadata":{"name":"apps","namespace":"argocd"},)" +
         (operation.empty() ? std::string() : R"("operation":)" + operation + ",") +
         R"("status":)" + status + "}";
}

std::string op_state(const std::string& phase, const std::string& revision,
                     const std::string& message = "") {
  return R"({"phase":")" + phase + R"(","message":")" + message +
         R"(","startedAt":"2026-01-01T00:00:00Z","operation":{"sync":{"revision":")" + revision +
         R"("}},"syncResult":{"revision":")" + revision + R"("}})";
}

TEST(argocd_patch, refresh_hard_and_an_operation_at_the_commit) {
  const auto refresh = boost::json::parse(argocd_patch(std::nullopt));
  EXPECT_EQ(boost::json::serialize(refresh),
            R"({"metadata":{"annotations":{"argocd.argoproj.io/refresh":"hard"}}})");
  const auto sync = boost::json::parse(argocd_patch(k_pushed)).as_object();
  EXPECT_EQ(sync.at("operation").at("sync").at("revision").as_string(), k_pushed);
  EXPECT_EQ(sync.at("operation").at("initiatedBy").at("username").as_string(), "ferry");
  EXPECT_EQ(sync.at("metadata").at("annotations").at("argocd.argoproj.io/refresh").as_string(),
            "hard");
}

TEST(argocd_next_action, never_a_second_sync_nor_over_another_operation) {
  EXPECT_EQ(argocd_next_action(app(application("{}")), k_pushed, false), argocd_action::refresh);
  EXPECT_EQ(argocd_next_action(app(application("{}")), k_pushed, true), argocd_action::sync);
  // Requested already (a resume): refresh only.
  const std::string ours = R"({"sync":{"revision":")" + k_pushed + R"("}})";
  EXPECT_EQ(argocd_next_action(app(application("{}", ours)), k_pushed, true),
            argocd_action::refresh);
  // Another revision's operation pending or running: busy.
  const std::string theirs = R"({"sync":{"revision":")" + k_older + R"("}})";
  EXPECT_EQ(argocd_next_action(app(application("{}", theirs)), k_pushed, true),
            argocd_action::busy);
  EXPECT_EQ(argocd_next_action(
                app(application(R"({"operationState":)" + op_state("Running", k_older) + "}")),
                k_pushed, true),
            argocd_action::busy);
  // Our sync ran to its end: refresh only. An older one finished: sync ours.
  EXPECT_EQ(argocd_next_action(
                app(application(R"({"operationState":)" + op_state("Succeeded", k_pushed) + "}")),
                k_pushed, true),
            argocd_action::refresh);
  EXPECT_EQ(argocd_next_action(
                app(application(R"({"operationState":)" + op_state("Failed", k_older) + "}")),
                k_pushed, true),
            argocd_action::sync);
}

std::string synced(const std::string& revision, const std::string& health,
                   const std::string& op = "") {
  return R"({"sync":{"status":"Synced","revision":")" + revision + R"("},"health":{"status":")" +
         health + R"("})" + (op.empty() ? std::string() : R"(,"operationState":)" + op) + "}";
}

TEST(judge_application, table) {
  struct row {
    const char* name;
    std::string json;
    bool sync;
    argocd_verdict want;
    const char* message;
  };
  const row rows[] = {
      {"synced and healthy at the pushed commit", application(synced(k_pushed, "Healthy")), false,
       argocd_verdict::succeeded, "Synced and Healthy at"},
      {"at a descendant", application(synced(k_child, "Healthy")), false, argocd_verdict::succeeded,
       "Synced and Healthy"},
      {"stale: synced and healthy at an older revision", application(synced(k_older, "Healthy")),
       false, argocd_verdict::waiting, "not yet the pushed commit"},
      {"out of sync at ours",
       application(R"({"sync":{"status":"OutOfSync","revision":")" + k_pushed +
                   R"("},"health":{"status":"Healthy"},"conditions":[{"type":"ComparisonError",
                   "message":"rpc error: manifest generation failed"}]})"),
       false, argocd_verdict::waiting, "ComparisonError: rpc error"},
      {"progressing", application(synced(k_pushed, "Progressing")), false, argocd_verdict::waiting,
       "health Progressing"},
      {"degraded at ours, message from the resources",
       application(R"({"sync":{"status":"Synced","revision":")" + k_pushed +
                   R"("},"health":{"status":"Degraded"},"resources":[{"kind":"Deployment",
                   "namespace":"apps","name":"web","health":{"status":"Degraded",
                   "message":"Deployment \"web\" exceeded its progress deadline"}}]})"),
       false, argocd_verdict::failed, "Degraded: Deployment apps/web: Deployment \"web\" exceeded"},
      {"a failed sync of ours",
       application(synced(k_older, "Healthy",
                          op_state("Failed", k_pushed, "one or more objects failed to apply"))),
       true, argocd_verdict::failed, "sync Failed: one or more objects failed to apply"},
      {"a failed sync of an older revision never counts",
       application(synced(k_pushed, "Healthy", op_state("Failed", k_older, "old"))), false,
       argocd_verdict::succeeded, "Synced and Healthy"},
      {"with sync: our operation still running",
       application(synced(k_pushed, "Healthy", op_state("Running", k_pushed))), true,
       argocd_verdict::waiting, "sync Running"},
      {"with sync: only an older operation so far",
       application(synced(k_pushed, "Healthy", op_state("Succeeded", k_older))), true,
       argocd_verdict::waiting, "waiting for Argo CD to run the sync"},
      {"with sync: done", application(synced(k_pushed, "Healthy", op_state("Succeeded", k_pushed))),
       true, argocd_verdict::succeeded, "Synced and Healthy"},
      {"with sync: requested, not taken up yet",
       application(synced(k_pushed, "Healthy", op_state("Succeeded", k_pushed)),
                   R"({"sync":{"revision":")" + k_pushed + R"("}})"),
       true, argocd_verdict::waiting, "waiting for Argo CD"},
  };
  for (const auto& r : rows) {
    const auto p = judge_application(app(r.json), r.sync, at_or_after_pushed);
    EXPECT_EQ(p.verdict, r.want) << r.name << ": " << p.message;
    EXPECT_NE(p.message.find(r.message), std::string::npos) << r.name << ": " << p.message;
  }
}

TEST(parse_argocd, multi_source_revisions_and_malformed_documents) {
  const auto a = app(R"({"status":{"sync":{"status":"Synced","revisions":[")" + k_pushed +
                     R"(","v1.2.3"]}}})");
  EXPECT_EQ(a.sync_revision, k_pushed);
  EXPECT_FALSE(kube::parse_argocd(R"({"operation":[]})").ok());
  EXPECT_FALSE(kube::parse_argocd(R"({"status":{"sync":{"revisions":"x"}}})").ok());
  EXPECT_FALSE(kube::parse_argocd(R"({"status":{"health":{"status":1}}})").ok());
  EXPECT_FALSE(kube::parse_argocd("null").ok());
}

}  // namespace
}  // namespace ferry::apply
