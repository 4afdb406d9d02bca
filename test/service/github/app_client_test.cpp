// app_client against a fake GitHub served by the test (plain HTTP, and TLS for the GHES
// layout): token minting and caching, installation lookup, pagination, GraphQL errors.

#include "service/github/app_client.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>

#include <ctime>
#include <regex>
#include <set>

#include "test/service/github/test_server.hpp"

namespace ferry::github {
namespace {

using namespace std::chrono_literals;
using test::recorded_request;
using test::scripted_response;
using test::test_server;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using sys_clock = std::chrono::system_clock;

std::string github_time(sys_clock::time_point t) {
  std::time_t tt = sys_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Checks an RS256 JWT with OpenSSL's verify API and the public half of the App key.
bool jwt_signature_ok(const std::string& jwt, EVP_PKEY* key) {
  auto dot = jwt.rfind('.');
  if (dot == std::string::npos) {
    return false;
  }
  std::string sig;
  if (!base64url_decode(jwt.substr(dot + 1), sig)) {
    return false;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(jwt.data()), dot) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

// The state of a small GitHub: which tokens it issued, which it has revoked.
struct fake_github {
  test::pkey_ptr app_key{EVP_RSA_gen(2048)};
  std::string prefix;  // "/api/v3" for GHES
  sys_clock::time_point token_expires_at = sys_clock::now() + 1h;
  int minted = 0;
  std::set<std::string> valid_tokens;
  std::vector<std::string> bad_jwts;
  std::set<std::string> removed_installations;
  std::int64_t infra_installation = 77;
  std::function<scripted_response(const recorded_request&, const std::string& path)> extra;

  static scripted_response json(int status, std::string body) {
    scripted_response r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }

  scripted_response handle(const recorded_request& q) {
    std::string path = q.target;
    if (!prefix.empty()) {
      // GHES: REST under /api/v3, GraphQL at /api/graphql, nothing else.
      if (path.rfind(prefix + "/", 0) == 0) {
        path = path.substr(prefix.size());
      } else if (path != "/api/graphql") {
        return json(404, R"({"message":"Not Found: outside the API prefix"})");
      }
    }
    const std::string auth = q.header("authorization");
    static const std::regex k_mint(R"(/app/installations/(\d+)/access_tokens)");
    std::smatch m;
    if (q.method == "POST" && std::regex_match(path, m, k_mint)) {
      if (auth.rfind("Bearer ", 0) != 0 || !jwt_signature_ok(auth.substr(7), app_key.get())) {
        bad_jwts.push_back(auth);
        return json(401, R"({"message":"A JSON web token could not be decoded"})");
      }
      if (removed_installations.count(m[1].str()) != 0) {
        return json(404, R"({"message":"Not Found"})");
      }
      ++minted;
      // Installation tokens have no fixed length: make this one long and varied.
      std::string token = "ghs_" + std::string(100, 'A' + static_cast<char>(minted % 26)) + "_" +
                          m[1].str() + "_" + std::to_string(minted);
      valid_tokens.insert(token);
      return json(201, R"({"token":")" + token + R"(","expires_at":")" +
                           github_time(token_expires_at) +
                           R"(","permissions":{"contents":"write"}})");
    }
    if (q.method == "GET" && path == "/app") {
      if (auth.rfind("Bearer ", 0) != 0 || !jwt_signature_ok(auth.substr(7), app_key.get())) {
        return json(401, R"({"message":"Bad JWT"})");
      }
      return json(200, R"({"id":4242,"slug":"ferry-test","name":"ferry test"})");
    }
    static const std::regex k_inst(R"(/repos/([^/]+)/([^/]+)/installation)");
    if (q.method == "GET" && std::regex_match(path, m, k_inst)) {
      if (auth.rfind("Bearer ", 0) != 0 || !jwt_signature_ok(auth.substr(7), app_key.get())) {
        return json(401, R"({"message":"Bad JWT"})");
      }
      return m[1] == "dine-together"
                 ? json(200, R"({"id":)" + std::to_string(infra_installation) + "}")
                 : json(404, R"({"message":"Not Found"})");
    }
    // Everything else needs an installation token GitHub issued and has not revoked.
    if (auth.rfind("token ", 0) != 0 || valid_tokens.count(auth.substr(6)) == 0) {
      return json(401, R"({"message":"Bad credentials"})");
    }
    if (extra) {
      return extra(q, path);
    }
    return json(200, R"({"path":")" + path + R"("})");
  }
};

struct fixture {
  fake_github gh;
  asio::io_context ioc;
  test_server server;
  github_settings settings;

  explicit fixture(const test::identity* tls = nullptr, std::string api_prefix = "")
      : server(ioc, tls, [this](const recorded_request& q) { return gh.handle(q); }) {
    gh.prefix = api_prefix;
    settings.api_url = server.base() + api_prefix;
    settings.app_id = "Iv1.test";
    settings.private_key_pem = test::key_pem(gh.app_key.get());
    settings.http.attempt_timeout = 2s;
    settings.http.backoff_base = 1ms;
    settings.http.backoff_cap = 2ms;
    settings.http.rate_limit_wait_scale = 0.001;
  }

  std::unique_ptr<app_client> client() {
    auto c = app_client::create(ioc.get_executor(), settings);
    if (!c) {
      throw std::runtime_error(c.error().message);
    }
    return std::move(c).value();
  }

  template <typename F>
  void run(F body) {
    test::run(ioc, body());
    ioc.restart();
  }
};

TEST(app_client, twenty_concurrent_callers_cause_one_mint) {
  fixture f;
  auto client = f.client();
  std::vector<std::string> tokens;
  f.run([&]() -> asio::awaitable<void> {
    int done = 0;
    for (int i = 0; i < 20; ++i) {
      asio::co_spawn(
          f.ioc,
          [&]() -> asio::awaitable<void> {
            auto t = co_await client->installation_token(7);
            tokens.push_back(t ? *t : "error: " + t.error().message);
            ++done;
          },
          asio::detached);
    }
    // Poll for completion; the run() bound stops a broken test.
    asio::steady_timer tick(f.ioc);
    while (done < 20) {
      tick.expires_after(1ms);
      co_await tick.async_wait(asio::use_awaitable);
    }
  });
  EXPECT_EQ(f.server.count("POST", "/app/installations/7/access_tokens"), 1);
  ASSERT_EQ(tokens.size(), 20u);
  for (const auto& t : tokens) {
    EXPECT_EQ(t, tokens[0]);
  }
  EXPECT_GT(tokens[0].size(), 100u);  // never assume 40 characters
  EXPECT_TRUE(f.gh.bad_jwts.empty());
}

TEST(app_client, token_is_cached_until_shortly_before_expiry) {
  fixture f;
  sys_clock::time_point now = sys_clock::now();
  f.settings.clock = [&] { return now; };
  f.gh.token_expires_at = now + 1h;
  auto client = f.client();
  std::vector<std::string> tokens;
  f.run([&]() -> asio::awaitable<void> {
    tokens.push_back(*co_await client->installation_token(7));
    now += 30min;  // still well inside the hour: cached
    tokens.push_back(*co_await client->installation_token(7));
    now += 29min + 30s;  // 30 s before expires_at, inside the refresh margin: re-minted
    f.gh.token_expires_at = now + 1h;
    tokens.push_back(*co_await client->installation_token(7));
    tokens.push_back(*co_await client->installation_token(8));  // another installation
  });
  EXPECT_EQ(f.server.count("POST", "/app/installations/7/access_tokens"), 2);
  EXPECT_EQ(f.server.count("POST", "/app/installations/8/access_tokens"), 1);
  ASSERT_EQ(tokens.size(), 4u);
  EXPECT_EQ(tokens[0], tokens[1]);
  EXPECT_NE(tokens[1], tokens[2]);
  EXPECT_NE(tokens[2], tokens[3]);
}

// An installation token that expires or is revoked mid-delivery: the call that meets the 401
// mints a fresh token once and succeeds (issue 10); a 401 the fresh token meets too is real.
TEST(app_client, a_401_mints_a_fresh_token_once_and_retries) {
  fixture f;
  auto client = f.client();
  std::vector<result<http_response>> results;
  f.run([&]() -> asio::awaitable<void> {
    results.push_back(co_await client->rest(bhttp::verb::get, "/repos/o/r", std::nullopt, 7));
    f.gh.valid_tokens.clear();  // GitHub revokes (or expires) the token early
    results.push_back(co_await client->rest(bhttp::verb::get, "/repos/o/r", std::nullopt, 7));
    results.push_back(co_await client->rest(bhttp::verb::get, "/repos/o/r", std::nullopt, 7));
  });
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].ok());
  ASSERT_TRUE(results[1].ok()) << results[1].error().message;
  ASSERT_TRUE(results[2].ok()) << results[2].error().message;
  EXPECT_EQ(f.server.count("POST", "/app/installations/7/access_tokens"), 2);
  EXPECT_EQ(f.server.count("GET", "/repos/o/r"), 4);  // 1 + (401 + retry) + 1

  // Every token refused (the App lost access): one retry, then the 401 is the answer.
  f.gh.extra = [](const recorded_request&, const std::string&) {
    return fake_github::json(401, R"({"message":"Bad credentials"})");
  };
  std::optional<result<http_response>> refused;
  // Built outside the coroutine: GCC 12 cannot keep a braced list across a co_await.
  const boost::json::value status_body = {{"state", "success"}};
  f.run([&]() -> asio::awaitable<void> {
    refused = co_await client->rest(bhttp::verb::post, "/repos/o/r/statuses/abc", status_body, 7);
  });
  ASSERT_TRUE(refused && !refused->ok());
  EXPECT_EQ(refused->error().kind, error_kind::unauthorized);
  EXPECT_EQ(f.server.count("POST", "/repos/o/r/statuses/abc"), 2);
  EXPECT_EQ(f.server.count("POST", "/app/installations/7/access_tokens"), 3);
}

// The write budget (issue 12.3): every content-creating call takes a slot of its installation's
// budget first; without one it is not sent and fails transient at once (the slot frees far beyond
// what a call may wait). Reads and GraphQL queries take none; each installation has its own.
TEST(app_client, writes_beyond_the_budget_are_not_sent_and_fail_transient) {
  fixture f;
  sys_clock::time_point now = sys_clock::now();
  f.settings.clock = [&] { return now; };
  f.gh.token_expires_at = now + 1h;
  f.settings.writes = {.per_minute = 2, .per_hour = 100};
  std::vector<write_budget_observation> seen;
  f.settings.write_observer = [&](const write_budget_observation& o) { seen.push_back(o); };
  f.gh.extra = [](const recorded_request&, const std::string&) {
    return fake_github::json(201, R"({"data":{}})");
  };
  auto client = f.client();
  const boost::json::value body = {{"state", "success"}};
  const std::string query = "query { viewer { login } }";
  const std::string mutation = "mutation { enablePullRequestAutoMerge }";
  std::vector<result<http_response>> r;
  f.run([&]() -> asio::awaitable<void> {
    r.push_back(co_await client->rest(bhttp::verb::post, "/repos/o/r/statuses/a", body, 7));
    r.push_back(co_await client->graphql(mutation, {}, 7));
    r.push_back(co_await client->rest(bhttp::verb::patch, "/repos/o/r/pulls/1", body, 7));
    r.push_back(co_await client->graphql(mutation, {}, 7));
    r.push_back(co_await client->rest(bhttp::verb::get, "/repos/o/r", std::nullopt, 7));
    r.push_back(co_await client->graphql(query, {}, 7));
    r.push_back(co_await client->rest(bhttp::verb::delete_, "/repos/o/r/git/refs/x", body, 8));
    now += 61s;  // GitHub's minute and the budget's second of margin (write_budget.cpp)
    r.push_back(co_await client->rest(bhttp::verb::patch, "/repos/o/r/pulls/1", body, 7));
  });
  ASSERT_EQ(r.size(), 8u);
  EXPECT_TRUE(r[0].ok()) << r[0].error().message;
  EXPECT_TRUE(r[1].ok()) << r[1].error().message;
  for (const std::size_t i : {2u, 3u}) {
    ASSERT_FALSE(r[i].ok()) << i;
    EXPECT_EQ(r[i].error().kind, error_kind::transient);
    EXPECT_NE(r[i].error().message.find("the write budget of installation 7 (2 a minute, 100 an "
                                        "hour) frees a slot in 61 s"),
              std::string::npos)
        << r[i].error().message;
  }
  EXPECT_TRUE(r[4].ok()) << "reads take no slot";
  EXPECT_TRUE(r[5].ok()) << "GraphQL queries take no slot";
  EXPECT_TRUE(r[6].ok()) << "another installation has its own budget";
  EXPECT_TRUE(r[7].ok()) << "a minute later the window has room again";
  EXPECT_EQ(f.server.count("PATCH", "/repos/o/r/pulls/1"), 1);
  EXPECT_EQ(f.server.count("POST", "/graphql"), 2);  // one mutation and the query
  // What the metrics see: slots taken and left, writes deferred.
  using outcome = write_budget_observation::outcome;
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[0].what, outcome::taken);
  EXPECT_EQ(seen[0].remaining, 1);
  EXPECT_EQ(seen[1].remaining, 0);
  EXPECT_EQ(seen[2].what, outcome::deferred);
  EXPECT_EQ(seen[3].what, outcome::deferred);
  EXPECT_EQ(seen[4].installation_id, 8);
  EXPECT_EQ(seen[4].remaining, 1);
  EXPECT_EQ(seen[5].what, outcome::taken);
}

TEST(app_client, a_write_budget_of_nothing_is_refused) {
  fixture f;
  f.settings.writes.per_hour = 0;
  auto c = app_client::create(f.ioc.get_executor(), f.settings);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, error_kind::invalid_input);
  EXPECT_NE(c.error().message.find("GitHub writes per hour must be 1..1000000, got 0"),
            std::string::npos)
      << c.error().message;
}

// A secondary limit's retry-after holds back every write of that installation until it passes
// (issue 10), not only the call that met it: further writes fail transient without reaching
// GitHub, reads still go, other installations are not held.
TEST(app_client, a_rate_limit_holds_back_the_installations_writes_until_retry_after) {
  fixture f;
  sys_clock::time_point now = sys_clock::now();
  f.settings.clock = [&] { return now; };
  f.gh.token_expires_at = now + 1h;
  f.gh.extra = [](const recorded_request& q, const std::string& path) {
    if (q.method == "POST" && path == "/repos/o/r/git/trees") {
      scripted_response r = fake_github::json(
          403,
          R"({"message":"You have exceeded a secondary rate limit. Please wait a few minutes."})");
      r.headers.emplace_back("retry-after", "120");  // beyond the wait bound: not slept here
      return r;
    }
    return fake_github::json(201, R"({"ok":true})");
  };
  auto client = f.client();
  const boost::json::value body = {{"state", "success"}};
  const std::string graphql_mutation = "mutation { enablePullRequestAutoMerge }";
  std::vector<result<http_response>> r;
  f.run([&]() -> asio::awaitable<void> {
    r.push_back(co_await client->rest(bhttp::verb::post, "/repos/o/r/git/trees", body, 7));
    r.push_back(co_await client->rest(bhttp::verb::post, "/repos/o/r/statuses/abc", body, 7));
    r.push_back(co_await client->graphql(graphql_mutation, {}, 7));
    r.push_back(co_await client->rest(bhttp::verb::get, "/repos/o/r", std::nullopt, 7));
    r.push_back(co_await client->rest(bhttp::verb::post, "/repos/o/r/statuses/abc", body, 8));
    now += 121s;
    r.push_back(co_await client->rest(bhttp::verb::post, "/repos/o/r/statuses/abc", body, 7));
  });
  ASSERT_EQ(r.size(), 6u);
  ASSERT_FALSE(r[0].ok());
  EXPECT_EQ(r[0].error().kind, error_kind::transient);
  ASSERT_FALSE(r[1].ok());
  EXPECT_EQ(r[1].error().kind, error_kind::transient);
  EXPECT_NE(r[1].error().message.find("holds back writes of installation 7"), std::string::npos)
      << r[1].error().message;
  ASSERT_FALSE(r[2].ok());
  EXPECT_NE(r[2].error().message.find("holds back writes"), std::string::npos);
  EXPECT_TRUE(r[3].ok()) << "reads are not held";
  EXPECT_TRUE(r[4].ok()) << "another installation is not held";
  EXPECT_TRUE(r[5].ok()) << "after retry-after the writes go again";
  EXPECT_EQ(f.server.count("POST", "/repos/o/r/statuses/abc"), 2);  // installation 8, then 7
  EXPECT_EQ(f.server.count("POST", "/graphql"), 0);
}

TEST(app_client, requests_carry_github_headers_and_installation_token) {
  fixture f;
  auto client = f.client();
  std::optional<result<http_response>> r;
  f.run([&]() -> asio::awaitable<void> {
    boost::json::value body = {{"title", "bump"}, {"draft", false}};
    r = co_await client->rest(bhttp::verb::post, "/repos/o/r/pulls", body, 7,
                              {.max_attempts = 1, .deadline = 1s});
  });
  ASSERT_TRUE(r->ok()) << r->error().message;
  const auto& q = f.server.requests.back();
  EXPECT_EQ(q.method, "POST");
  EXPECT_EQ(q.target, "/repos/o/r/pulls");
  EXPECT_EQ(q.header("accept"), "application/vnd.github+json");
  EXPECT_EQ(q.header("x-github-api-version"), "2022-11-28");
  EXPECT_EQ(q.header("user-agent"), "ferry/" FERRY_VERSION);
  EXPECT_EQ(q.header("content-type"), "application/json");
  EXPECT_EQ(q.header("authorization").rfind("token ghs_", 0), 0u);
  EXPECT_EQ(boost::json::parse(q.body), boost::json::parse(R"({"title":"bump","draft":false})"));
  // The mint used the JWT.
  const auto& mint = f.server.requests.front();
  EXPECT_EQ(mint.header("authorization").rfind("Bearer ", 0), 0u);
}

TEST(app_client, errors_never_carry_the_token) {
  fixture f;
  f.gh.extra = [](const recorded_request&, const std::string&) {
    return fake_github::json(422, R"({"message":"Validation Failed"})");
  };
  auto client = f.client();
  std::optional<result<http_response>> r;
  std::string token;
  f.run([&]() -> asio::awaitable<void> {
    token = *co_await client->installation_token(7);
    r = co_await client->rest(bhttp::verb::patch, "/repos/o/r/pulls/1", boost::json::object{}, 7);
  });
  ASSERT_FALSE(r->ok());
  EXPECT_EQ(r->error().kind, error_kind::invalid_input);
  EXPECT_EQ(r->error().message, "PATCH /repos/o/r/pulls/1: 422 Validation Failed");
  EXPECT_EQ(r->error().message.find(token), std::string::npos);
}

TEST(app_client, installation_for_repo_uses_the_jwt_and_is_cached) {
  fixture f;
  auto client = f.client();
  std::vector<result<std::int64_t>> ids;
  f.run([&]() -> asio::awaitable<void> {
    ids.push_back(co_await client->installation_for_repo("dine-together", "infra"));
    ids.push_back(co_await client->installation_for_repo("Dine-Together", "INFRA"));
    ids.push_back(co_await client->installation_for_repo("someone-else", "infra"));
    ids.push_back(co_await client->installation_for_repo("../app", "x"));
  });
  ASSERT_EQ(ids.size(), 4u);
  ASSERT_TRUE(ids[0].ok()) << ids[0].error().message;
  EXPECT_EQ(*ids[0], 77);
  ASSERT_TRUE(ids[1].ok());
  EXPECT_EQ(*ids[1], 77);
  EXPECT_EQ(f.server.count("GET", "/repos/dine-together/infra/installation"), 1);
  ASSERT_FALSE(ids[2].ok());
  EXPECT_EQ(ids[2].error().kind, error_kind::not_found);
  ASSERT_FALSE(ids[3].ok());
  EXPECT_EQ(ids[3].error().kind, error_kind::invalid_input);
  EXPECT_EQ(f.server.requests.size(), 2u);  // the bad name never reached the server
}

TEST(app_client, an_uninstalled_app_is_looked_up_again) {
  fixture f;
  auto client = f.client();
  std::vector<std::string> seen;
  f.run([&]() -> asio::awaitable<void> {
    auto id = co_await client->installation_for_repo("dine-together", "infra");
    seen.push_back(std::to_string(*id));
    // Uninstalled and installed again: the old id is gone, a new one serves the repo.
    f.gh.removed_installations.insert("77");
    f.gh.infra_installation = 78;
    auto gone =
        co_await client->rest(bhttp::verb::get, "/repos/dine-together/infra", std::nullopt, *id);
    seen.push_back(gone ? "ok" : to_string(gone.error().kind));
    auto again = co_await client->installation_for_repo("dine-together", "infra");
    seen.push_back(std::to_string(*again));
    auto works =
        co_await client->rest(bhttp::verb::get, "/repos/dine-together/infra", std::nullopt, *again);
    seen.push_back(works ? "ok" : works.error().message);
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"77", "not_found", "78", "ok"}));
  EXPECT_EQ(f.server.count("GET", "/repos/dine-together/infra/installation"), 2);
}

TEST(app_client, app_info_is_fetched_with_the_jwt_and_cached) {
  fixture f;
  auto client = f.client();
  EXPECT_FALSE(client->app_info().has_value());
  f.run([&]() -> asio::awaitable<void> { co_await client->refresh_app_info_until_ok(1ms); });
  auto info = client->app_info();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->id, 4242);
  EXPECT_EQ(info->slug, "ferry-test");
  EXPECT_EQ(info->name, "ferry test");
}

TEST(app_client, pagination_follows_link_next_over_three_pages) {
  fixture f;
  f.gh.extra = [&](const recorded_request&, const std::string& path) {
    auto base = f.server.base() + "/repos/o/r/pulls";
    scripted_response r = fake_github::json(200, "");
    if (path == "/repos/o/r/pulls?state=open") {
      r.body = "[1,2]";
      r.headers = {{"Link", "<" + base + "?state=open&page=2>; rel=\"next\", <" + base +
                                "?state=open&page=3>; rel=\"last\""}};
    } else if (path == "/repos/o/r/pulls?state=open&page=2") {
      r.body = "[3,4]";
      r.headers = {{"Link", "<" + base + "?state=open&page=3>; rel=\"next\", <" + base +
                                "?state=open&page=1>; rel=\"first\""}};
    } else if (path == "/repos/o/r/pulls?state=open&page=3") {
      r.body = "[5]";
      r.headers = {{"Link", "<" + base + "?state=open&page=1>; rel=\"first\""}};
    } else {
      r.status = 404;
    }
    return r;
  };
  auto client = f.client();
  std::optional<result<std::vector<http_response>>> pages;
  std::optional<result<std::vector<http_response>>> capped;
  f.run([&]() -> asio::awaitable<void> {
    pages = co_await client->rest_pages("/repos/o/r/pulls?state=open", 7);
    capped = co_await client->rest_pages("/repos/o/r/pulls?state=open", 7, 2);
  });
  ASSERT_TRUE(pages->ok()) << pages->error().message;
  ASSERT_EQ((*pages)->size(), 3u);
  EXPECT_EQ((**pages)[0].body, "[1,2]");
  EXPECT_EQ((**pages)[1].body, "[3,4]");
  EXPECT_EQ((**pages)[2].body, "[5]");
  ASSERT_FALSE(capped->ok());
  EXPECT_NE(capped->error().message.find("more than 2 pages"), std::string::npos);
}

TEST(app_client, pagination_never_sends_the_token_to_another_origin) {
  fixture f;
  f.gh.extra = [](const recorded_request&, const std::string&) {
    scripted_response r = fake_github::json(200, "[]");
    r.headers = {{"Link", "<https://evil.example/steal?page=2>; rel=\"next\""}};
    return r;
  };
  auto client = f.client();
  std::optional<result<std::vector<http_response>>> pages;
  f.run([&]() -> asio::awaitable<void> {
    pages = co_await client->rest_pages("/repos/o/r/pulls", 7);
  });
  ASSERT_FALSE(pages->ok());
  EXPECT_NE(pages->error().message.find("outside the API base URL"), std::string::npos);
}

TEST(app_client, ghes_base_path_over_tls) {
  auto ca = test::make_ca("ferry GHES CA");
  auto cert = test::make_server_cert(ca, "127.0.0.1", "IP:127.0.0.1");
  test::temp_dir dir;
  fixture f(&cert, "/api/v3");
  f.settings.http.ca_file = dir.write("ca.pem", ca.cert_pem());
  auto client = f.client();
  EXPECT_EQ(client->graphql_url(), f.server.base() + "/api/graphql");
  std::optional<result<http_response>> rest;
  std::optional<result<http_response>> gql;
  f.gh.extra = [](const recorded_request&, const std::string& path) {
    return path == "/api/graphql" ? fake_github::json(200, R"({"data":{"viewer":null}})")
                                  : fake_github::json(200, "{}");
  };
  f.run([&]() -> asio::awaitable<void> {
    rest = co_await client->rest(bhttp::verb::get, "/repos/o/r", std::nullopt, 9);
    gql = co_await client->graphql("query { viewer { login } }", boost::json::object(), 9);
  });
  ASSERT_TRUE(rest->ok()) << rest->error().message;
  ASSERT_TRUE(gql->ok()) << gql->error().message;
  std::vector<std::string> targets;
  for (const auto& q : f.server.requests) {
    targets.push_back(q.method + " " + q.target);
  }
  EXPECT_EQ(targets, (std::vector<std::string>{"POST /api/v3/app/installations/9/access_tokens",
                                               "GET /api/v3/repos/o/r", "POST /api/graphql"}));
  EXPECT_EQ(f.server.accepts, 1);  // all three on one kept-alive TLS connection
}

TEST(app_client, graphql_errors_in_a_200_are_errors) {
  fixture f;
  std::string answer;
  f.gh.extra = [&](const recorded_request&, const std::string&) {
    return fake_github::json(200, answer);
  };
  auto client = f.client();
  struct row {
    std::string body;
    bool ok;
    error_kind kind;
    std::string message;
  };
  const std::vector<row> rows = {
      {R"({"data":{"repository":{"id":"R_1"}}})", true, error_kind::internal, ""},
      {R"({"data":{"repository":null},"errors":[{"type":"NOT_FOUND","path":["repository"],"message":"Could not resolve to a Repository with the name 'o/x'."}]})",
       false, error_kind::not_found,
       "POST graphql: NOT_FOUND at repository: Could not resolve to a Repository with the name "
       "'o/x'."},
      {R"({"errors":[{"type":"STALE_DATA","message":"Expected branch to point to \"abc\""}]})",
       false, error_kind::conflict,
       "POST graphql: STALE_DATA: Expected branch to point to \"abc\""},
      {R"({"errors":[{"type":"RATE_LIMITED","message":"API rate limit exceeded"},{"type":"X","message":"y"}]})",
       false, error_kind::transient,
       "POST graphql: RATE_LIMITED: API rate limit exceeded (and 1 more)"},
      {R"({"errors":[{"message":"Parse error on \"}\""}]})", false, error_kind::invalid_input,
       "POST graphql: error: Parse error on \"}\""},
      {R"({"data":{},"errors":[]})", true, error_kind::internal, ""},
  };
  for (const auto& r : rows) {
    answer = r.body;
    std::optional<result<http_response>> got;
    f.run([&]() -> asio::awaitable<void> {
      boost::json::object variables;
      variables["o"] = "o";
      got = co_await client->graphql("query($o:String!){ repository(owner:$o,name:\"x\"){id} }",
                                     std::move(variables), 7);
    });
    ASSERT_EQ(got->ok(), r.ok) << r.body;
    if (!r.ok) {
      EXPECT_EQ(got->error().kind, r.kind) << r.body;
      EXPECT_EQ(got->error().message, r.message);
    }
  }
  // The request body is {query, variables}.
  auto sent = boost::json::parse(f.server.requests.back().body).as_object();
  EXPECT_EQ(sent.at("variables"), boost::json::parse(R"({"o":"o"})"));
  EXPECT_TRUE(sent.at("query").is_string());
  EXPECT_EQ(f.server.requests.back().target, "/graphql");
}

TEST(app_client, settings_are_checked_at_creation) {
  asio::io_context ioc;
  github_settings s;
  s.app_id = "123";
  s.private_key_pem = "nonsense";
  auto bad_key = app_client::create(ioc.get_executor(), s);
  ASSERT_FALSE(bad_key.ok());
  EXPECT_EQ(bad_key.error().kind, error_kind::invalid_input);

  test::pkey_ptr key(EVP_RSA_gen(2048));
  s.private_key_pem = test::key_pem(key.get());
  s.api_url = "ftp://example.com";
  EXPECT_FALSE(app_client::create(ioc.get_executor(), s).ok());
  s.api_url = "https://api.github.com";
  s.app_id = "";
  EXPECT_FALSE(app_client::create(ioc.get_executor(), s).ok());
  s.app_id = "123";
  auto ok = app_client::create(ioc.get_executor(), s);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ((*ok)->graphql_url(), "https://api.github.com/graphql");
}

TEST(app_client, graphql_url_derivation) {
  EXPECT_EQ(derive_graphql_url("https://api.github.com"), "https://api.github.com/graphql");
  EXPECT_EQ(derive_graphql_url("https://api.github.com/"), "https://api.github.com/graphql");
  EXPECT_EQ(derive_graphql_url("https://ghe.example.com/api/v3"),
            "https://ghe.example.com/api/graphql");
  EXPECT_EQ(derive_graphql_url("https://ghe.example.com/api/v3/"),
            "https://ghe.example.com/api/graphql");
  EXPECT_EQ(derive_graphql_url("http://127.0.0.1:9000"), "http://127.0.0.1:9000/graphql");
}

TEST(app_client, github_timestamps) {
  auto t = parse_github_time("2016-07-11T22:14:10Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count(),
            1468275250);
  EXPECT_TRUE(parse_github_time("2016-07-11T22:14:10.123Z").has_value());
  EXPECT_FALSE(parse_github_time("2016-02-30T00:00:00Z").has_value());
  EXPECT_FALSE(parse_github_time("2016-07-11 22:14:10").has_value());
  EXPECT_FALSE(parse_github_time("").has_value());
}

}  // namespace
}  // namespace ferry::github
