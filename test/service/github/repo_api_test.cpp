// github::repo_api against a scripted GitHub: what goes on the wire (paths with escaped
// segments, request bodies), how answers become typed values or errors, and that every call's
// log line, the token mint's included, carries the caller's delivery id.
#include "service/github/repo_api.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <boost/json/parse.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "test/service/github/test_server.hpp"

namespace ferry::github {
namespace {

using namespace std::chrono_literals;
using test::recorded_request;
using test::scripted_response;
namespace asio = boost::asio;

constexpr const char* k_sha = "aa218f56b14c9653891f9e74264a383fa43fefbd";

scripted_response answer(int status, std::string body) {
  scripted_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// A GitHub that mints tokens for anyone and answers the routes below; everything else is 404.
scripted_response github(const recorded_request& q) {
  const std::string& t = q.target;
  if (q.method == "POST" && t == "/app/installations/7/access_tokens") {
    return answer(201, R"({"token":"ghs_test","expires_at":"2099-01-01T00:00:00Z"})");
  }
  if (q.method == "GET" && t == "/repos/dine-together/infra/git/ref/heads/ferry/staging/x") {
    return answer(200, std::string(R"({"ref":"refs/heads/ferry/staging/x","object":{"sha":")") +
                           k_sha + R"("}})");
  }
  if (q.method == "GET" && t.starts_with("/repos/dine-together/infra/pulls?")) {
    return answer(200,
                  R"([{"number":5,"node_id":"PR_5","title":"t","body":null,)"
                  R"("head":{"ref":"ferry/staging/x","sha":"aa"},"labels":[{"name":"ferry"}]}])");
  }
  if (q.method == "PATCH" || q.method == "POST") {
    return answer(200, "{}");
  }
  return answer(404, R"({"message":"Not Found"})");
}

struct fixture {
  asio::io_context ioc;
  test::test_server server{ioc, nullptr, github};
  test::pkey_ptr key{EVP_RSA_gen(2048)};
  std::unique_ptr<app_client> client;

  fixture() {
    github_settings s;
    s.api_url = server.base();
    s.app_id = "Iv1.test";
    s.private_key_pem = test::key_pem(key.get());
    s.http.attempt_timeout = 2s;
    auto c = app_client::create(ioc.get_executor(), std::move(s));
    if (!c) {
      throw std::runtime_error(c.error().message);
    }
    client = std::move(c).value();
  }
};

TEST(repo_api, paths_bodies_and_answers) {
  fixture f;
  repo_api api(*f.client, {"dine-together", "infra"}, 7);
  std::optional<result<std::optional<std::string>>> head;
  std::optional<result<std::optional<std::string>>> missing;
  std::optional<result<std::vector<pull_request>>> pulls;
  std::optional<result<void>> moved;
  test::run(f.ioc, [&]() -> asio::awaitable<void> {
    head = co_await api.branch_head("ferry/staging/x");
    missing = co_await api.branch_head("ferry/production/x");
    pulls = co_await api.pulls("ferry/staging/x", pull_state::open, 10);
    moved = co_await api.move_branch("ferry/staging/x", k_sha, true);
  });
  ASSERT_TRUE(head->ok()) << head->error().message;
  EXPECT_EQ(**head, std::optional<std::string>(k_sha));
  // A branch that is not there is an answer, not an error.
  ASSERT_TRUE(missing->ok()) << missing->error().message;
  EXPECT_FALSE(missing->value().has_value());
  ASSERT_TRUE(pulls->ok()) << pulls->error().message;
  ASSERT_EQ(pulls->value().size(), 1u);
  EXPECT_EQ(pulls->value()[0].number, 5);
  EXPECT_EQ(pulls->value()[0].labels, std::vector<std::string>{"ferry"});
  ASSERT_TRUE(moved->ok()) << moved->error().message;

  // The branch keeps its '/' in a path; in the query's head=owner:branch it is escaped.
  EXPECT_EQ(f.server.count("GET",
                           "/repos/dine-together/infra/pulls?state=open&per_page=10&head="
                           "dine-together:ferry%2Fstaging%2Fx"),
            1);
  const auto& patch = f.server.requests.back();
  EXPECT_EQ(patch.target, "/repos/dine-together/infra/git/refs/heads/ferry/staging/x");
  EXPECT_EQ(boost::json::parse(patch.body),
            boost::json::parse(std::string(R"({"sha":")") + k_sha + R"(","force":true})"));
}

// SPEC "Service configuration": every line of a delivery carries its id, GitHub calls included.
TEST(repo_api, call_log_lines_carry_the_delivery_id) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  {
    fixture f;
    const log::logger delivery_log =
        log::logger(std::make_shared<log::sink>(out, log::level::debug, log::format::json))
            .with({{"delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"}});
    repo_api api(*f.client, {"dine-together", "infra"}, 7, delivery_log);
    test::run(f.ioc, [&]() -> asio::awaitable<void> {
      (void)co_await api.branch_head("ferry/staging/x");
      (void)co_await api.create_comment(5, "hello");
    });
  }
  std::rewind(out);
  std::string text;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, out)) {
    text.append(buf, n);
  }
  std::fclose(out);
  int calls = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    start = end == std::string::npos ? text.size() : end + 1;
    if (line.find("github call") == std::string::npos) {
      continue;
    }
    ++calls;
    EXPECT_NE(line.find(R"("delivery":"72d3162e-cc78-11e3-81ab-4c9367dc0958")"), std::string::npos)
        << line;
  }
  EXPECT_EQ(calls, 3) << text;  // the token mint, the ref, the comment
}

// Issue 10.5: bytes from a payload or a rules file that are not UTF-8 never reach GitHub raw; a
// createCommitOnBranch carries the message and the files' contents (base64) GitHub expects.
TEST(repo_api, text_is_sent_as_valid_utf8_and_commits_as_base64) {
  fixture f;
  repo_api api(*f.client, {"dine-together", "infra"}, 7);
  std::optional<result<void>> updated;
  std::optional<result<std::string>> committed;
  const std::vector<tree_file> files{{"clusters/a.yaml", "100644", "image: app:2\n"}};
  const std::vector<std::string> gone{"clusters/b.yaml"};
  test::run(f.ioc, [&]() -> asio::awaitable<void> {
    updated = co_await api.update_pull(5, "bump \xff", "body \xc3(");
    committed = co_await api.commit_on_branch("ferry/staging/x", k_sha, "ferry: bump", "trailer",
                                              files, gone);
  });
  ASSERT_TRUE(updated->ok()) << updated->error().message;
  const auto& patch = f.server.requests[f.server.requests.size() - 2];
  const auto sent = boost::json::parse(patch.body).as_object();
  EXPECT_EQ(std::string(sent.at("title").as_string()), "bump \xef\xbf\xbd");
  EXPECT_EQ(std::string(sent.at("body").as_string()), "body \xef\xbf\xbd(");
  // The scripted GitHub answers {} to the mutation: no commit oid is an error, not a success.
  EXPECT_FALSE(committed->ok());
  const auto& mutation = f.server.requests.back();
  EXPECT_EQ(mutation.target, "/graphql");
  const auto input =
      boost::json::parse(mutation.body).as_object().at("variables").as_object().at("input");
  EXPECT_EQ(input.at("expectedHeadOid").as_string(), k_sha);
  EXPECT_EQ(input.at("branch").at("branchName").as_string(), "ferry/staging/x");
  EXPECT_EQ(input.at("message").at("body").as_string(), "trailer");
  const auto& added = input.at("fileChanges").at("additions").as_array();
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0].at("contents").as_string(), "aW1hZ2U6IGFwcDoyCg==");  // base64 of the file
  EXPECT_EQ(input.at("fileChanges").at("deletions").as_array()[0].at("path").as_string(),
            "clusters/b.yaml");
}

}  // namespace
}  // namespace ferry::github
