// http_client against a real Beast server on 127.0.0.1 (port 0), with real TLS: a throwaway CA
// and server certificate made in the test. Waits are shortened through the settings
// (backoff, rate_limit_wait_scale); nothing here asserts timing.

#include "service/github/http_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>

#include "test/service/github/test_server.hpp"

namespace ferry::github {
namespace {

using namespace std::chrono_literals;
using test::recorded_request;
using test::scripted_response;
using test::test_server;

struct pki {
  test::identity ca = test::make_ca("ferry test CA");
  test::identity server = test::make_server_cert(ca, "127.0.0.1", "DNS:localhost,IP:127.0.0.1");
  test::temp_dir dir;
  std::string ca_file = dir.write("ca.pem", ca.cert_pem());
};

http_settings fast_settings(const std::string& ca_file = {}) {
  http_settings s;
  s.ca_file = ca_file;
  s.attempt_timeout = 2s;
  s.max_attempts = 3;
  s.backoff_base = 1ms;
  s.backoff_cap = 5ms;
  s.rate_limit_wait_scale = 0.001;  // retry-after: 1 sleeps 1 ms
  return s;
}

std::unique_ptr<http_client> make_client(boost::asio::io_context& ioc, http_settings s) {
  auto c = http_client::create(ioc.get_executor(), std::move(s));
  if (!c) {
    throw std::runtime_error(c.error().message);
  }
  return std::move(c).value();
}

http_request get(const std::string& url) {
  http_request r;
  r.url = url;
  return r;
}

scripted_response ok_json(std::string body = R"({"ok":true})") {
  scripted_response r;
  r.body = std::move(body);
  return r;
}

std::string epoch_in(std::chrono::seconds d) {
  auto t = std::chrono::system_clock::now() + d;
  return std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

// Runs one request and returns its result.
result<http_response> one(boost::asio::io_context& ioc, http_client& client, http_request req) {
  std::optional<result<http_response>> out;
  test::run(ioc, [&]() -> boost::asio::awaitable<void> {
    out = co_await client.request(std::move(req));
  }());
  return std::move(*out);
}

TEST(http_client, tls_verifies_with_test_ca) {
  pki p;
  boost::asio::io_context ioc;
  test_server server(ioc, &p.server, [](const recorded_request&) { return ok_json("hello"); });
  auto client = make_client(ioc, fast_settings(p.ca_file));
  auto r = one(ioc, *client, get(server.base() + "/x?y=1"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  ASSERT_EQ(server.requests.size(), 1u);
  EXPECT_EQ(server.requests[0].target, "/x?y=1");
  EXPECT_EQ(server.requests[0].header("user-agent"), "ferry/" FERRY_VERSION);
  EXPECT_EQ(server.requests[0].header("host"), "127.0.0.1:" + std::to_string(server.port()));
  ASSERT_NE(r->header("content-type"), nullptr);  // names lower-cased
  EXPECT_EQ(*r->header("content-type"), "application/json");
  // No SNI for an IP literal (RFC 6066 §3).
  ASSERT_EQ(server.server_names.size(), 1u);
  EXPECT_EQ(server.server_names[0], "");
}

TEST(http_client, tls_host_name_sends_sni_and_verifies) {
  pki p;
  boost::asio::io_context ioc;
  test_server server(ioc, &p.server, [](const recorded_request&) { return ok_json(); });
  auto client = make_client(ioc, fast_settings(p.ca_file));
  auto r = one(ioc, *client, get(server.base("localhost") + "/"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(server.server_names.size(), 1u);
  EXPECT_EQ(server.server_names[0], "localhost");
}

TEST(http_client, tls_fails_with_the_wrong_ca) {
  pki p;
  auto other_ca = test::make_ca("some other CA");
  auto other_file = p.dir.write("other.pem", other_ca.cert_pem());
  boost::asio::io_context ioc;
  test_server server(ioc, &p.server, [](const recorded_request&) { return ok_json(); });
  auto client = make_client(ioc, fast_settings(other_file));
  auto r = one(ioc, *client, get(server.base() + "/"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, error_kind::internal);
  EXPECT_NE(r.error().message.find("certificate verification failed"), std::string::npos)
      << r.error().message;
  EXPECT_TRUE(server.requests.empty());
  EXPECT_EQ(server.accepts, 1);  // not retried: a retry cannot fix the trust store
}

TEST(http_client, tls_fails_with_a_wrong_host_name) {
  pki p;
  auto elsewhere = test::make_server_cert(p.ca, "ferry.invalid", "DNS:ferry.invalid");
  boost::asio::io_context ioc;
  test_server server(ioc, &elsewhere, [](const recorded_request&) { return ok_json(); });
  auto client = make_client(ioc, fast_settings(p.ca_file));
  auto by_ip = one(ioc, *client, get(server.base() + "/"));
  ASSERT_FALSE(by_ip.ok());
  EXPECT_NE(by_ip.error().message.find("verification failed"), std::string::npos)
      << by_ip.error().message;
  ioc.restart();
  auto by_name = one(ioc, *client, get(server.base("localhost") + "/"));
  ASSERT_FALSE(by_name.ok());
  EXPECT_NE(by_name.error().message.find("verification failed"), std::string::npos)
      << by_name.error().message;
  EXPECT_TRUE(server.requests.empty());
}

TEST(http_client, bad_ca_file_is_a_settings_error) {
  boost::asio::io_context ioc;
  auto c = http_client::create(ioc.get_executor(), fast_settings("/nonexistent/ca.pem"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, error_kind::invalid_input);
  EXPECT_NE(c.error().message.find("/nonexistent/ca.pem"), std::string::npos);
}

TEST(http_client, keep_alive_reuses_one_connection) {
  pki p;
  boost::asio::io_context ioc;
  test_server server(ioc, &p.server, [](const recorded_request&) { return ok_json(); });
  auto client = make_client(ioc, fast_settings(p.ca_file));
  std::vector<int> statuses;
  test::run(ioc, [&]() -> boost::asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      auto r = co_await client->request(get(server.base() + "/n" + std::to_string(i)));
      statuses.push_back(r ? r->status : -1);
    }
  }());
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 200}));
  EXPECT_EQ(server.requests.size(), 3u);
  EXPECT_EQ(server.accepts, 1);
}

// Over TLS the server's close comes without close_notify, so the reused connection reports
// stream_truncated before any byte of a response: also a stale connection, not an error.
class idle_close : public ::testing::TestWithParam<bool> {};

TEST_P(idle_close, a_connection_closed_while_idle_is_replaced) {
  pki p;
  boost::asio::io_context ioc;
  test_server server(ioc, GetParam() ? &p.server : nullptr, [](const recorded_request&) {
    auto r = ok_json();
    r.close_after = true;  // says keep-alive, then closes: the pooled connection goes stale
    return r;
  });
  std::vector<int> observed;
  auto s = fast_settings(p.ca_file);
  s.max_attempts = 1;  // the replacement is not a retry: it happens even with one attempt
  s.observer = [&](const http_observation& o) { observed.push_back(o.status); };
  auto client = make_client(ioc, s);
  std::vector<int> statuses;
  test::run(ioc, [&]() -> boost::asio::awaitable<void> {
    for (int i = 0; i < 2; ++i) {
      auto r = co_await client->request(get(server.base() + "/"));
      statuses.push_back(r ? r->status : -1);
    }
  }());
  EXPECT_EQ(statuses, (std::vector<int>{200, 200}));
  EXPECT_EQ(observed, (std::vector<int>{200, 200}));  // no failed attempt was counted
  EXPECT_EQ(server.accepts, 2);
  EXPECT_EQ(server.requests.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(http_client, idle_close, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "tls" : "plain"; });

TEST(http_client, retries_500_then_succeeds) {
  boost::asio::io_context ioc;
  int n = 0;
  test_server server(ioc, nullptr, [&](const recorded_request&) {
    scripted_response r = ok_json();
    if (n++ == 0) {
      r.status = 500;
    }
    return r;
  });
  std::vector<int> observed;
  auto s = fast_settings();
  s.observer = [&](const http_observation& o) { observed.push_back(o.status); };
  auto client = make_client(ioc, s);
  auto r = one(ioc, *client, get(server.base() + "/"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server.requests.size(), 2u);
  EXPECT_EQ(observed, (std::vector<int>{500, 200}));
}

TEST(http_client, bad_gateway_until_attempts_run_out_is_transient) {
  boost::asio::io_context ioc;
  test_server server(ioc, nullptr, [](const recorded_request&) {
    scripted_response r;
    r.status = 502;
    r.body = R"({"message":"Server Error"})";
    return r;
  });
  auto client = make_client(ioc, fast_settings());
  auto req = get(server.base() + "/repos/o/r");
  req.max_attempts = 4;
  auto r = one(ioc, *client, req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(server.requests.size(), 4u);
  auto e = error_from_response("GET", "/repos/o/r", *r);
  EXPECT_EQ(e.kind, error_kind::transient);
  EXPECT_EQ(e.message, "GET /repos/o/r: 502 Server Error");
}

TEST(http_client, client_errors_are_not_retried) {
  boost::asio::io_context ioc;
  test_server server(ioc, nullptr, [](const recorded_request&) {
    scripted_response r;
    r.status = 403;
    r.body = R"({"message":"Resource not accessible by integration"})";
    return r;
  });
  auto client = make_client(ioc, fast_settings());
  auto r = one(ioc, *client, get(server.base() + "/"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(server.requests.size(), 1u);
  EXPECT_EQ(error_from_response("GET", "/", *r).kind, error_kind::invalid_input);
}

// A handler answering `first` once, then 200.
test::handler_fn once_then_ok(scripted_response first, int* calls) {
  return [first, calls](const recorded_request&) { return (*calls)++ == 0 ? first : ok_json(); };
}

// A limit answered with retry-after is waited for and retried once, within the wait bound; beyond
// it, the answer is a transient failure at once.
TEST(http_client, rate_limits_with_retry_after_wait_and_retry_within_the_bound) {
  struct row {
    unsigned status;
    const char* retry_after;
    const char* body;
    unsigned answered;
    std::size_t requests;
  };
  const row rows[] = {
      {403, "1", R"({"message":"You have exceeded a secondary rate limit."})", 200, 2},
      {429, "2", "", 200, 2},
      {429, "120", "", 429, 1},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(std::to_string(r.status) + " retry-after " + r.retry_after);
    boost::asio::io_context ioc;
    int calls = 0;
    scripted_response limited;
    limited.status = r.status;
    limited.headers = {{"retry-after", r.retry_after}};
    limited.body = r.body;
    test_server server(ioc, nullptr, once_then_ok(limited, &calls));
    auto client = make_client(ioc, fast_settings());
    auto got = one(ioc, *client, get(server.base() + "/"));
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->status, r.answered);
    EXPECT_EQ(server.requests.size(), r.requests);
    if (r.answered != 200) {
      EXPECT_EQ(error_from_response("GET", "/", *got).kind, error_kind::transient);
    }
  }
}

TEST(http_client, secondary_limit_without_retry_after_is_not_waited_for) {
  // GitHub: without retry-after or a reset, wait at least a minute: beyond the bound.
  boost::asio::io_context ioc;
  int calls = 0;
  scripted_response limited;
  limited.status = 403;
  limited.body = R"({"message":"You have exceeded a secondary rate limit. Please wait."})";
  test_server server(ioc, nullptr, once_then_ok(limited, &calls));
  auto client = make_client(ioc, fast_settings());
  auto r = one(ioc, *client, get(server.base() + "/"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(server.requests.size(), 1u);
  auto e = error_from_response("GET", "/", *r);
  EXPECT_EQ(e.kind, error_kind::transient);
  EXPECT_NE(e.message.find("rate limited"), std::string::npos);
}

scripted_response primary_limit(const std::string& reset) {
  scripted_response r;
  r.status = 403;
  r.headers = {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", reset}};
  r.body = R"({"message":"API rate limit exceeded for installation ID 1."})";
  return r;
}

TEST(http_client, primary_limit_with_reset_in_the_past_retries_now) {
  boost::asio::io_context ioc;
  int calls = 0;
  test_server server(ioc, nullptr, once_then_ok(primary_limit(epoch_in(-100s)), &calls));
  std::vector<std::optional<long long>> remaining;
  auto s = fast_settings();
  s.observer = [&](const http_observation& o) { remaining.push_back(o.rate_limit_remaining); };
  auto client = make_client(ioc, s);
  auto r = one(ioc, *client, get(server.base() + "/"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server.requests.size(), 2u);
  ASSERT_EQ(remaining.size(), 2u);
  EXPECT_EQ(remaining[0], 0);
  EXPECT_EQ(remaining[1], std::nullopt);
}

TEST(http_client, primary_limit_with_reset_soon_waits_for_it) {
  boost::asio::io_context ioc;
  int calls = 0;
  test_server server(ioc, nullptr, once_then_ok(primary_limit(epoch_in(3s)), &calls));
  auto client = make_client(ioc, fast_settings());
  auto r = one(ioc, *client, get(server.base() + "/"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server.requests.size(), 2u);
}

TEST(http_client, primary_limit_with_reset_far_ahead_fails_transient) {
  boost::asio::io_context ioc;
  int calls = 0;
  test_server server(ioc, nullptr, once_then_ok(primary_limit(epoch_in(3600s)), &calls));
  auto client = make_client(ioc, fast_settings());
  auto r = one(ioc, *client, get(server.base() + "/"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(server.requests.size(), 1u);
  auto e = error_from_response("GET", "/", *r);
  EXPECT_EQ(e.kind, error_kind::transient);
  EXPECT_NE(e.message.find("API rate limit exceeded"), std::string::npos);
}

TEST(http_client, a_server_that_never_answers_times_out_transient) {
  pki p;
  boost::asio::io_context ioc;
  test_server server(ioc, &p.server, [](const recorded_request&) {
    scripted_response r;
    r.hang = true;
    return r;
  });
  auto client = make_client(ioc, fast_settings(p.ca_file));
  auto req = get(server.base() + "/slow");
  req.deadline = 150ms;
  req.max_attempts = 2;
  auto r = one(ioc, *client, req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, error_kind::transient);
  EXPECT_NE(r.error().message.find("timed out during read"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(server.requests.size(), 2u);
}

TEST(http_client, connection_refused_is_transient) {
  boost::asio::io_context ioc;
  // Bind a port, then close it, so nothing listens there.
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  auto port = a.local_endpoint().port();
  a.close();
  auto client = make_client(ioc, fast_settings());
  auto r = one(ioc, *client, get("http://127.0.0.1:" + std::to_string(port) + "/"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, error_kind::transient);
  EXPECT_NE(r.error().message.find("connect failed"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("3 attempts"), std::string::npos) << r.error().message;
}

TEST(http_client, plain_http_works_and_sends_bodies) {
  boost::asio::io_context ioc;
  test_server server(ioc, nullptr, [](const recorded_request& q) {
    scripted_response r;
    r.status = 201;
    r.body = q.body;
    return r;
  });
  auto client = make_client(ioc, fast_settings());
  http_request req;
  req.method = boost::beast::http::verb::post;
  req.url = server.base() + "/echo";
  req.headers = {{"Content-Type", "application/json"}, {"X-Extra", "1"}};
  req.body = R"({"a":1})";
  auto r = one(ioc, *client, req);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, R"({"a":1})");
  ASSERT_EQ(server.requests.size(), 1u);
  EXPECT_EQ(server.requests[0].method, "POST");
  EXPECT_EQ(server.requests[0].header("x-extra"), "1");
  EXPECT_EQ(server.requests[0].header("content-length"), "7");
}

TEST(http_client, malformed_urls_are_invalid_input) {
  boost::asio::io_context ioc;
  auto client = make_client(ioc, fast_settings());
  for (std::string url : {"not a url", "ftp://example.com/", "/relative/path"}) {
    auto r = one(ioc, *client, get(url));
    ioc.restart();
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.error().kind, error_kind::invalid_input) << url;
  }
}

TEST(http_client, oversized_bodies_are_refused) {
  boost::asio::io_context ioc;
  test_server server(ioc, nullptr,
                     [](const recorded_request&) { return ok_json(std::string(4096, 'x')); });
  auto s = fast_settings();
  s.response_body_max = 1024;
  auto client = make_client(ioc, s);
  auto r = one(ioc, *client, get(server.base() + "/"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, error_kind::invalid_input);
  EXPECT_EQ(server.requests.size(), 1u);
}

http_response with_link(std::string value) {
  http_response r;
  r.status = 200;
  r.headers.push_back({"link", std::move(value)});
  return r;
}

TEST(http_client, next_page_from_link_header) {
  // The shape GitHub sends (docs.github.com "Using pagination in the REST API").
  EXPECT_EQ(next_page_url(with_link(
                "<https://api.github.com/repositories/1300192/issues?page=2>; rel=\"prev\", "
                "<https://api.github.com/repositories/1300192/issues?page=4>; rel=\"next\", "
                "<https://api.github.com/repositories/1300192/issues?page=515>; rel=\"last\", "
                "<https://api.github.com/repositories/1300192/issues?page=1>; rel=\"first\"")),
            "https://api.github.com/repositories/1300192/issues?page=4");
  EXPECT_EQ(next_page_url(with_link("<https://x/a?page=2,3>; rel=next")), "https://x/a?page=2,3");
  EXPECT_EQ(next_page_url(with_link("<https://x/b>; REL=\"last next\"")), "https://x/b");
  EXPECT_EQ(next_page_url(with_link("<https://x/p>; rel=\"prev\", <https://x/l>; rel=\"last\"")),
            std::nullopt);
  EXPECT_EQ(next_page_url(with_link("<https://x/n>; rel=\"nextish\"")), std::nullopt);
  EXPECT_EQ(next_page_url(with_link("garbage")), std::nullopt);
  EXPECT_EQ(next_page_url(http_response{}), std::nullopt);
}

http_response answer(int status, std::string body = {}) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

TEST(http_client, status_to_error_kind_table) {
  struct row {
    int status;
    std::string body;
    error_kind kind;
  };
  const std::vector<row> rows = {
      {401, R"({"message":"Bad credentials"})", error_kind::unauthorized},
      {404, R"({"message":"Not Found"})", error_kind::not_found},
      {410, "", error_kind::not_found},
      {409, R"({"message":"Merge conflict"})", error_kind::conflict},
      {422, R"({"message":"Reference already exists"})", error_kind::conflict},
      {422, R"({"message":"Update is not a fast forward"})", error_kind::conflict},
      {422,
       R"({"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for o:ferry/staging/x."}]})",
       error_kind::conflict},
      {422, R"({"message":"Validation Failed","errors":[{"code":"missing_field"}]})",
       error_kind::invalid_input},
      {400, R"({"message":"Problems parsing JSON"})", error_kind::invalid_input},
      {405, R"({"message":"Pull Request is not mergeable"})", error_kind::invalid_input},
      {500, "", error_kind::transient},
      {503, "<html>", error_kind::transient},
  };
  for (const auto& r : rows) {
    auto e = error_from_response("PUT", "/repos/o/r/x", answer(r.status, r.body));
    EXPECT_EQ(e.kind, r.kind) << r.status << " " << r.body << " -> " << e.message;
    EXPECT_EQ(e.message.rfind("PUT /repos/o/r/x: " + std::to_string(r.status), 0), 0u) << e.message;
  }
  EXPECT_EQ(error_from_response("GET", "/p", answer(404, R"({"message":"Not Found"})")).message,
            "GET /p: 404 Not Found");
}

}  // namespace
}  // namespace ferry::github
