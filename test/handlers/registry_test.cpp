// The registry routes each event kind to its handler; outcomes map to the statuses SPEC lists
// (ping 200, installation* 200 logged, package promotion 200 with image/tag/digest logged,
// anything ferry does not act on 204).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "handlers/registry.hpp"
#include "handlers/rules_cache.hpp"
#include "service/dispatch.hpp"
#include "service/events/events.hpp"
#include "service/log.hpp"
#include "service/rules/rules.hpp"

namespace ferry::handlers {
namespace {

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in) << p;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string fixture(const char* name) {
  return read(std::filesystem::path(FERRY_FIXTURES_DIR) / "github" / name);
}

// A first example of an event from @octokit/webhooks-examples.
std::string example(std::string_view name) {
  static const boost::json::value index =
      boost::json::parse(read(std::filesystem::path(FERRY_NODE_MODULES_DIR) /
                              "@octokit/webhooks-examples/api.github.com/index.json"));
  for (const auto& entry : index.as_array()) {
    if (entry.at("name").as_string() == name) {
      return boost::json::serialize(entry.at("examples").as_array().at(0));
    }
  }
  ADD_FAILURE() << "no example of " << name;
  return "{}";
}

struct run_result {
  int status = 0;
  std::vector<boost::json::object> lines;  // what the handler logged
};

run_result run(const service::dispatch_fn& dispatch, std::string_view event_name,
               std::string_view body) {
  auto parsed = events::parse_event(event_name, body);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
  if (!parsed.ok()) {
    return {};
  }
  std::FILE* out = std::tmpfile();
  auto sink = std::make_shared<log::sink>(out, log::level::debug, log::format::json);
  const log::logger logger = log::logger(sink).with({{"delivery", "d-1"}});
  const service::delivery d{"d-1", event_name, *parsed, logger};

  boost::asio::io_context io;
  std::optional<service::handler_result> result;
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { result.emplace(co_await dispatch(d)); },
      boost::asio::detached);
  io.run();

  run_result r;
  EXPECT_TRUE(result.has_value());
  if (result) {
    r.status = service::http_status_for(*result);
  }
  std::rewind(out);
  std::string line;
  for (int c = std::fgetc(out); c != EOF; c = std::fgetc(out)) {
    if (c != '\n') {
      line.push_back(static_cast<char>(c));
      continue;
    }
    r.lines.push_back(boost::json::parse(line).as_object());
    line.clear();
  }
  std::fclose(out);
  return r;
}

const boost::json::object* find_line(const run_result& r, std::string_view msg) {
  for (const auto& l : r.lines) {
    if (l.at("msg").as_string() == msg) {
      return &l;
    }
  }
  return nullptr;
}

TEST(registry, package_promotion_is_logged_with_image_tag_and_digest) {
  const auto dispatch = make_dispatcher({});
  const auto r = run(dispatch, "package", fixture("package.published.ghcr-multiarch-index.json"));
  // No infrastructure repository to promote into: nothing done, no GitHub call.
  EXPECT_EQ(r.status, 204);
  const auto* line = find_line(r, "promotion");
  ASSERT_NE(line, nullptr);
  EXPECT_EQ(line->at("image").as_string(), "ghcr.io/theryangeary/www");
  EXPECT_EQ(line->at("tag").as_string(), "0e2a89b");
  EXPECT_EQ(line->at("digest").as_string(),
            "sha256:89160c587d0c36bf54090497a465445c14980ba48efbcf3b0d03c49b76f3feb8");
  EXPECT_EQ(line->at("delivery").as_string(), "d-1");
}

TEST(registry, registry_host_comes_from_the_settings) {
  const auto dispatch = make_dispatcher({.registry_host = "containers.ghe.example.com"});
  const auto r = run(dispatch, "package", fixture("package.published.ghcr-multiarch-index.json"));
  const auto* line = find_line(r, "promotion");
  ASSERT_NE(line, nullptr);
  EXPECT_EQ(line->at("image").as_string(), "containers.ghe.example.com/theryangeary/www");
}

TEST(registry, untagged_and_non_container_packages_are_ignored) {
  const auto dispatch = make_dispatcher({});
  // npm, untagged (the synthetic example)
  const auto r =
      run(dispatch, "registry_package", fixture("registry_package.published.docker-example.json"));
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(find_line(r, "promotion"), nullptr);
}

TEST(registry, ping_answers_done) {
  const auto r = run(make_dispatcher({}), "ping", example("ping"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(find_line(r, "ping"), nullptr);
}

TEST(registry, installation_is_logged_with_account_and_action) {
  const auto dispatch = make_dispatcher({});
  const std::string body = example("installation");
  const auto r = run(dispatch, "installation", body);
  EXPECT_EQ(r.status, 200);
  const auto* line = find_line(r, "installation");
  ASSERT_NE(line, nullptr);
  const auto parsed = boost::json::parse(body);
  EXPECT_EQ(line->at("account").as_string(),
            parsed.at("installation").at("account").at("login").as_string());
  EXPECT_EQ(line->at("action").as_string(), parsed.at("action").as_string());
  EXPECT_EQ(run(dispatch, "installation_repositories", example("installation_repositories")).status,
            200);
  // No installation_target example in the collection; the shape is from its schema.
  EXPECT_EQ(run(dispatch, "installation_target",
                R"({"action":"renamed","account":{"id":1,"login":"octo-org"},)"
                R"("changes":{"login":{"from":"octo"}},"target_type":"Organization"})")
                .status,
            200);
}

TEST(registry, push_pull_request_and_other_events_are_ignored) {
  const auto dispatch = make_dispatcher({});
  EXPECT_EQ(run(dispatch, "push", example("push")).status, 204);
  EXPECT_EQ(run(dispatch, "pull_request", example("pull_request")).status, 204);
  EXPECT_EQ(run(dispatch, "issues", example("issues")).status, 204);
  EXPECT_EQ(run(dispatch, "star", example("star")).status, 204);
}

// The decider (server::set_decider) answers from the payload and memory alone; whatever it
// cannot decide (nullopt) goes to the dispatcher.
std::optional<int> decide(const service::decide_fn& decider, std::string_view event_name,
                          std::string_view body) {
  auto parsed = events::parse_event(event_name, body);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
  if (!parsed.ok()) {
    return std::nullopt;
  }
  const log::logger logger;
  const service::delivery d{"d-1", event_name, *parsed, logger};
  const auto decided = decider(d);
  if (!decided) {
    return std::nullopt;
  }
  return service::http_status_for(*decided);
}

TEST(decider, packages_naming_no_promotion_and_unhandled_events_are_answered_at_once) {
  const auto decider = make_shared_decider(share_settings({}));
  EXPECT_EQ(decide(decider, "registry_package",
                   fixture("registry_package.published.docker-example.json")),
            204);
  EXPECT_EQ(decide(decider, "star", example("star")), 204);
  // Work that needs I/O, and what ferry logs, is the dispatcher's.
  EXPECT_EQ(decide(decider, "ping", example("ping")), std::nullopt);
  EXPECT_EQ(decide(decider, "installation", example("installation")), std::nullopt);
  EXPECT_EQ(decide(decider, "pull_request", example("pull_request")), std::nullopt);
  // A push to a repository that is not an infra repository: with none configured, nothing can
  // list it for onboarding; with one whose rules this replica has not read, only GitHub can tell.
  EXPECT_EQ(decide(decider, "push", example("push")), 204);
  handler_settings with_infra;
  with_infra.infra_repos = {{"dine-together", "infra"}};
  EXPECT_EQ(decide(make_shared_decider(share_settings(with_infra)), "push", example("push")),
            std::nullopt);
}

// SPEC "Rules file": an image no cached rule names is answered 204 without a GitHub call while
// the view is at most 10 s old; the decider answers it without even starting the handler. A
// view that is missing, stale (a push was seen) or names the image leaves it to the handler.
TEST(decider, an_image_no_fresh_view_names_is_answered_at_once) {
  handler_settings s;
  s.infra_repos = {{"theryangeary", "infra"}};
  const auto shared = share_settings(s);
  const auto decider = make_shared_decider(shared);
  const std::string body = fixture("package.published.ghcr-multiarch-index.json");
  EXPECT_EQ(decide(decider, "package", body), std::nullopt);  // no view yet

  const auto view_naming = [&](const std::string& image) {
    const std::string text = "version: 1\nimages:\n  - name: x\n    image: " + image +
                             "\n    policy: {semver: {range: '>=1.0.0'}}\nenvironments:\n"
                             "  - name: staging\n    paths: [clusters/staging]\n";
    auto parsed = rules::parse_rules(text, ".github/ferry.yaml");
    EXPECT_TRUE(parsed.ok()) << parsed.report();
    rules_cache::rules_view v;
    v.head = std::string(40, 'a');
    v.rules = std::make_shared<const rules::parse_outcome>(std::move(parsed));
    v.read_at = rules_cache::clock::now();
    shared->rules->views["theryangeary/infra"] = v;
  };
  view_naming("ghcr.io/theryangeary/other");
  EXPECT_EQ(decide(decider, "package", body), 204);
  shared->rules->push_seen("theryangeary/infra");
  EXPECT_EQ(decide(decider, "package", body), std::nullopt);
  view_naming("ghcr.io/theryangeary/www");
  EXPECT_EQ(decide(decider, "package", body), std::nullopt);
  view_naming("ghcr.io/theryangeary/other");
  shared->rules->views["theryangeary/infra"].read_at -= limits::k_rules_view_max_age * 2;
  EXPECT_EQ(decide(decider, "package", body), std::nullopt);
}

}  // namespace
}  // namespace ferry::handlers
