// converge_promotion (handlers/bump_flow.hpp) in process against the GitHub double
// (test/support/handler_double.hpp): the path the promotion chain takes, with environments named
// explicitly and the apply's evidence in the body. The outcome is read from the double's
// /_double/state.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "handlers/bump_flow.hpp"
#include "handlers/handlers.hpp"
#include "handlers/registry.hpp"
#include "service/git/mirror.hpp"
#include "service/github/app_client.hpp"
#include "service/metrics.hpp"
#include "service/replay.hpp"
#include "service/server.hpp"
#include "test/support/handler_double.hpp"
#include "test/support/process.hpp"

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace http = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* k_digest =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";

class bump_flow : public ferry::test::e2e::handler_double_test {
 protected:
  void SetUp() override {
    handler_double_test::SetUp();
    settings_.rules = ferry::handlers::make_rules_cache();
  }

  ferry::service::handler_result converge(const ferry::handlers::promotion_source& source,
                                          std::vector<std::string> environments) {
    const ferry::log::logger log;
    auto out = run(ferry::handlers::converge_promotion("delivery-7", log, settings_,
                                                       settings_.infra_repos.front(), source,
                                                       std::move(environments)));
    if (!out) {
      return ferry::make_error(ferry::error_kind::internal, "did not finish");
    }
    return *out;
  }

  static ferry::handlers::promotion_source promoted(std::string tag, std::string evidence) {
    ferry::handlers::promotion_source s;
    s.candidate = {"ghcr.io/dine-together/app", std::move(tag), k_digest};
    s.evidence = std::move(evidence);
    return s;
  }

  // A GHCR `package` delivery for the example's `app` image (test/support/serve_double.hpp).
  static std::string package_payload(const std::string& tag) {
    return ferry::test::e2e::ghcr_package_payload("app", tag, k_digest);
  }
};

TEST_F(bump_flow, named_downstream_environment_gets_its_pr_with_the_evidence) {
  const std::string evidence = "Applied in **staging** at `abc123`: Ready ([run](https://x/1)).";
  const auto r = converge(promoted("sha-9f8e7d6", evidence), {"production"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, ferry::service::outcome::done);

  const auto state = infra_state();
  const auto& pulls = state.at("pulls").as_array();
  ASSERT_EQ(pulls.size(), 1u) << json::serialize(state);
  const auto& pr = pulls.front().as_object();
  EXPECT_EQ(pr.at("head").as_string(), "ferry/production/flux-system-app");
  EXPECT_EQ(pr.at("title").as_string(), "ferry: bump app to sha-9f8e7d6 in production");
  EXPECT_NE(std::string(pr.at("body").as_string()).find(evidence), std::string::npos)
      << pr.at("body").as_string();
  // production's reviewers (rules) were asked; staging was not touched.
  EXPECT_EQ(json::serialize(pr.at("reviewers")), R"(["octocat"])");
  EXPECT_EQ(state.at("refs").as_object().count("refs/heads/ferry/staging/flux-system-app"), 0u)
      << json::serialize(state.at("refs"));
}

TEST_F(bump_flow, named_suspended_environment_is_skipped) {
  // Suspend staging on the default branch: production is downstream of it.
  std::string rules = ferry::test::read_text(fs::path(FERRY_SOURCE_DIR) / "infra" /
                                             "example-infra" / ".github" / "ferry.yaml");
  const std::string anchor =
      "    apply: {flux: {kind: Kustomization, name: apps, namespace: flux-system}}\n";
  const auto at = rules.find(anchor);
  ASSERT_NE(at, std::string::npos);
  rules.insert(at + anchor.size(), "    suspend: true\n");
  const std::string move = json::serialize(
      json::value{{"ref", "heads/main"}, {"files", json::object{{".github/ferry.yaml", rules}}}});
  ASSERT_EQ(
      control(http::verb::post, "/_double/repos/dine-together/infra/move-ref", move).status / 100,
      2);

  const auto r = converge(promoted("sha-9f8e7d6", "evidence"), {"production", "staging"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, ferry::service::outcome::done);
  EXPECT_TRUE(infra_state().at("pulls").as_array().empty());
}

// Answers are read with simdjson into typed values: an answer of the wrong shape (here the
// default branch's ref as a JSON string) is a transient failure, never a guess, and nothing is
// written.
TEST_F(bump_flow, an_answer_of_the_wrong_shape_fails_transient_without_writing) {
  const std::string fault = json::serialize(json::value{
      {"method", "GET"}, {"path_regex", "/git/ref/heads/main$"}, {"status", 200}, {"body", "[1,"}});
  ASSERT_EQ(control(http::verb::post, "/_double/faults", fault).status / 100, 2);
  const auto r = converge(promoted("sha-9f8e7d6", ""), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ferry::error_kind::transient) << r.error().message;
  const auto state = infra_state();
  EXPECT_TRUE(state.at("pulls").as_array().empty());
  EXPECT_TRUE(state.at("created_commits").as_array().empty()) << json::serialize(state);
}

// SPEC pull_request: "Closed without merge -> that tag is skipped for that environment; a higher
// tag opens a new PR". The PR is closed through the REST API, as a person would.
TEST_F(bump_flow, a_tag_whose_pr_was_closed_unmerged_is_skipped_and_a_new_tag_opens_a_pr) {
  auto r = converge(promoted("sha-9f8e7d6", ""), {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto pulls = infra_state().at("pulls").as_array();
  ASSERT_EQ(pulls.size(), 1u);
  const auto number = pulls.front().as_object().at("number").as_int64();

  const auto closed =
      github(http::verb::patch, "/repos/dine-together/infra/pulls/" + std::to_string(number),
             R"({"state":"closed"})");
  ASSERT_EQ(closed.status, 200) << closed.body;

  // The same tag again (a redelivery, the registry_package twin): nothing reopens.
  r = converge(promoted("sha-9f8e7d6", ""), {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  pulls = infra_state().at("pulls").as_array();
  ASSERT_EQ(pulls.size(), 1u) << json::serialize(pulls);
  EXPECT_EQ(pulls.front().as_object().at("state").as_string(), "closed");

  // Another tag opens a new PR on the same branch.
  r = converge(promoted("sha-abcdef1", ""), {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  pulls = infra_state().at("pulls").as_array();
  ASSERT_EQ(pulls.size(), 2u) << json::serialize(pulls);
  const auto& newer = pulls.back().as_object();
  EXPECT_NE(newer.at("number").as_int64(), number);
  // staging has autoMerge and the double's PRs are clean: ferry merged the new one at once.
  EXPECT_TRUE(newer.at("merged").as_bool()) << json::serialize(newer);
  EXPECT_EQ(newer.at("title").as_string(), "ferry: bump app to sha-abcdef1 in staging");
}

// SPEC "Policies" (newest): for what runs now, a commit also comes from the Ferry-Source-Commit
// trailer ferry writes in its bump commits. The default branch runs a tag that names no commit,
// written by a bump commit whose trailer names the source repository's middle commit: an image
// of the older commit is refused (without the trailer the newer delivery would win), one of the
// newest is promoted with the compare link.
TEST_F(bump_flow, newest_reads_what_runs_now_from_the_bump_commit_trailer) {
  const auto created = control(
      http::verb::post, "/_double/repos",
      R"({"owner": "dine-together", "name": "app", "installation_id": 7, "files": {"a": "1\n"}})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string older(json::parse(created.body).as_object().at("head").as_string());
  const auto moved = control(http::verb::post, "/_double/repos/dine-together/app/move-ref",
                             R"({"ref": "heads/main", "files": {"a": "2\n"}})");
  ASSERT_EQ(moved.status / 100, 2) << moved.body;
  const std::string middle(json::parse(moved.body).as_object().at("to").as_string());
  const auto third = control(http::verb::post, "/_double/repos/dine-together/app/move-ref",
                             R"({"ref": "heads/main", "files": {"a": "3\n"}})");
  ASSERT_EQ(third.status / 100, 2) << third.body;
  const std::string newest(json::parse(third.body).as_object().at("to").as_string());

  // Build-numbered tags (no filterTags): the tag names no commit, the image's revision label
  // names the candidate's.
  std::string rules =
      ferry::test::read_text(fs::path(FERRY_SOURCE_DIR) / "infra/example-infra/.github/ferry.yaml");
  const auto filter = rules.find("    filterTags:");
  ASSERT_NE(filter, std::string::npos);
  rules.erase(filter, rules.find('\n', filter) + 1 - filter);
  std::string deployment = ferry::test::read_text(
      fs::path(FERRY_SOURCE_DIR) / "infra/example-infra/clusters/staging/app/deployment.yaml");
  const auto at = deployment.find("sha-1a2b3c4");
  ASSERT_NE(at, std::string::npos);
  deployment.replace(at, 11, "build-42");
  const std::string runs = json::serialize(json::value{
      {"ref", "heads/main"},
      {"files", json::object{{"clusters/staging/app/deployment.yaml", deployment},
                             {".github/ferry.yaml", rules}}},
      {"message",
       "ferry: bump app to build-42 in staging\n\nFerry-Source-Commit: " + middle + "\n"}});
  ASSERT_EQ(
      control(http::verb::post, "/_double/repos/dine-together/infra/move-ref", runs).status / 100,
      2);
  // Keep PRs open so the state shows what ferry opened.
  ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/settings",
                    R"({"auto_merge_clean": false})")
                .status,
            200);

  const auto from_source = [](std::string tag, std::string commit) {
    auto s = promoted(std::move(tag), "");
    s.source_commit = std::move(commit);
    s.source_repo = ferry::service::repo_name{"dine-together", "app"};
    s.source_repo_url = "https://github.com/dine-together/app";
    s.target_commitish = "main";
    return s;
  };
  auto r = converge(from_source("build-41", older), {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(infra_state().at("pulls").as_array().empty());

  r = converge(from_source("build-43", newest), {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto pulls = infra_state().at("pulls").as_array();
  ASSERT_EQ(pulls.size(), 1u);
  const std::string body(pulls.front().as_object().at("body").as_string());
  EXPECT_NE(body.find("/compare/" + middle + "..." + newest), std::string::npos) << body;
  EXPECT_EQ(body.find("newer delivery wins"), std::string::npos) << body;
}

// The App's absence from a source repository (404) and the infra repository's object are asked
// once, then answered from the per-process cache for a few minutes (limits.hpp).
TEST_F(bump_flow, not_installed_source_and_repository_object_are_asked_once) {
  ASSERT_EQ(control(http::verb::delete_, "/_double/requests").status / 100, 2);
  const auto from_elsewhere = [](std::string tag, std::string commit) {
    auto s = promoted(std::move(tag), "");
    s.source_repo = ferry::service::repo_name{"someone-else", "app"};
    s.source_commit = std::move(commit);
    return s;
  };
  auto r = converge(from_elsewhere("sha-9f8e7d6", std::string(40, 'a')), {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  r = converge(from_elsewhere("sha-abcdef1", std::string(40, 'b')), {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  // Both were promoted (the newer delivery wins where nothing can be compared).
  EXPECT_EQ(infra_state().at("pulls").as_array().size(), 2u);

  int installation_asks = 0;
  int repository_asks = 0;
  for (const auto& q : requests()) {
    const std::string path(q.as_object().at("path").as_string());
    installation_asks += path == "/repos/someone-else/app/installation" ? 1 : 0;
    repository_asks += path == "/repos/dine-together/infra" ? 1 : 0;
  }
  EXPECT_EQ(installation_asks, 1);
  EXPECT_EQ(repository_asks, 1);
}

// The server's dispatch races the handler with settings.delivery_deadline (lowered here): a
// delivery whose GitHub calls hang answers 503, and its redelivery, once GitHub answers again,
// converges to the one PR.
TEST_F(bump_flow, a_delivery_past_the_deadline_answers_503_and_its_redelivery_completes) {
  // Every pulls lookup hangs far beyond the lowered deadline and beyond the client's own
  // per-attempt deadline (8 s), so only the server's deadline ends the delivery early; the
  // deadline stays long enough for a healthy delivery on a loaded test machine.
  const std::string fault =
      json::serialize(json::value{{"path_regex", "/pulls"}, {"delay_ms", 20000}, {"count", 100}});
  ASSERT_EQ(control(http::verb::post, "/_double/faults", fault).status / 100, 2);

  ferry::service::metrics metrics;
  const fs::path log_path = dir_ / "server.log";
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> log_file(std::fopen(log_path.c_str(), "w"),
                                                                 &std::fclose);
  ASSERT_NE(log_file, nullptr);
  const ferry::log::logger server_log(std::make_shared<ferry::log::sink>(
      log_file.get(), ferry::log::level::info, ferry::log::format::json));
  ferry::service::server server(ioc_,
                                ferry::service::server_settings{.address = "127.0.0.1",
                                                                .port = 0,
                                                                .webhook_secret = "deadline-secret",
                                                                .delivery_deadline = 3s},
                                ferry::handlers::make_dispatcher(settings_), server_log, metrics);
  auto bound = server.start();
  ASSERT_TRUE(bound.ok()) << bound.error().message;
  auto work = asio::make_work_guard(ioc_);
  ioc_.restart();
  std::thread io([this] { ioc_.run(); });

  const ferry::service::replay_target target{
      "http://127.0.0.1:" + std::to_string(bound->port()) + "/webhook", "deadline-secret", 30s};
  const std::string payload = package_payload("sha-9f8e7d6");
  const auto sent = std::chrono::steady_clock::now();
  auto first = ferry::service::post_delivery(target, {"package", "d-deadline-1", payload});
  // Recorded for the reader (--gtest_output=xml), never asserted: timing is the machine's.
  RecordProperty("first_answer_ms",
                 static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now() - sent)
                                      .count()));
  const auto faults = control(http::verb::delete_, "/_double/faults");
  auto second = ferry::service::post_delivery(target, {"package", "d-deadline-1", payload});

  asio::post(ioc_, [&] { server.drain([&] { work.reset(); }); });
  io.join();
  std::fflush(log_file.get());
  const std::string log_text = ferry::test::read_text(log_path);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->status, 503);
  // The deadline, not the client's retries running out, ended it.
  EXPECT_NE(log_text.find("delivery deadline passed"), std::string::npos) << log_text;
  EXPECT_EQ(faults.status / 100, 2);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->status, 200);
  const auto pulls = infra_state().at("pulls").as_array();
  ASSERT_EQ(pulls.size(), 1u);
  EXPECT_EQ(pulls.front().as_object().at("head").as_string(), "ferry/staging/flux-system-app");
}

}  // namespace
