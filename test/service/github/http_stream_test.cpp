// http_client::request_stream: a body handed over piece by piece as it arrives. The server here
// is a raw socket that writes a chunked response in two parts and sends the second only after
// the client has handed the first to its caller: a client that buffered the body would never
// see the second part (the deadline would end the test as a failure), so passing proves
// streaming without measuring time.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <string>

#include "service/github/http_client.hpp"
#include "test/service/github/test_server.hpp"

namespace ferry::github {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

struct raw_server {
  explicit raw_server(asio::io_context& ioc)
      : acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0}) {}
  std::string base() const {
    return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
  }
  tcp::acceptor acceptor;
};

std::string chunk(std::string_view data) {
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return std::string(size) + std::string(data) + "\r\n";
}

http_client& client_for(asio::io_context& ioc, std::unique_ptr<http_client>& holder) {
  http_settings s;
  s.attempt_timeout = 10s;
  auto c = http_client::create(ioc.get_executor(), s);
  if (!c) {
    throw std::runtime_error(c.error().message);
  }
  holder = std::move(c).value();
  return *holder;
}

TEST(http_client_stream, pieces_arrive_before_the_body_ends) {
  asio::io_context ioc;
  raw_server server(ioc);
  asio::steady_timer first_delivered(ioc, asio::steady_timer::time_point::max());
  std::string request_head;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        auto socket = co_await server.acceptor.async_accept(asio::use_awaitable);
        asio::streambuf in;
        co_await asio::async_read_until(socket, in, "\r\n\r\n", asio::use_awaitable);
        request_head.assign(asio::buffers_begin(in.data()), asio::buffers_end(in.data()));
        std::string head =
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            "transfer-encoding: chunked\r\n\r\n" +
            chunk("{\"type\":\"ADDED\"}\n{\"ty");
        co_await asio::async_write(socket, asio::buffer(head), asio::use_awaitable);
        // Wait until the client has handed the first piece over (the timer is cancelled then).
        boost::system::error_code ec;
        co_await first_delivered.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        std::string rest = chunk("pe\":\"MODIFIED\"}\n") + "0\r\n\r\n";
        co_await asio::async_write(socket, asio::buffer(rest), asio::use_awaitable);
      },
      asio::detached);

  std::unique_ptr<http_client> holder;
  auto& client = client_for(ioc, holder);
  std::vector<std::string> pieces;
  std::optional<result<http_response>> out;
  test::run(ioc, [&]() -> asio::awaitable<void> {
    http_request req;
    req.url = server.base() + "/apis/batch/v1/namespaces/ns/jobs?watch=1";
    req.headers.push_back({"authorization", "Bearer t"});
    out = co_await client.request_stream(std::move(req), [&](std::string_view bytes) {
      pieces.emplace_back(bytes);
      first_delivered.cancel();
      return true;
    });
  }());
  ASSERT_TRUE(out && out->ok()) << (out ? out->error().message : "no result");
  EXPECT_EQ((*out)->status, 200);
  EXPECT_TRUE((*out)->body.empty());
  ASSERT_NE((*out)->header("content-type"), nullptr);
  std::string all;
  for (const auto& p : pieces) {
    all += p;
  }
  EXPECT_EQ(all, "{\"type\":\"ADDED\"}\n{\"type\":\"MODIFIED\"}\n");
  EXPECT_GE(pieces.size(), 2u);
  EXPECT_NE(request_head.find("GET /apis/batch/v1/namespaces/ns/jobs?watch=1 HTTP/1.1"),
            std::string::npos);
  EXPECT_NE(request_head.find("Bearer t"), std::string::npos);
}

TEST(http_client_stream, returning_false_stops_reading) {
  asio::io_context ioc;
  test::test_server server(ioc, nullptr, [](const test::recorded_request&) {
    test::scripted_response r;
    r.body = std::string(100000, 'x');
    return r;
  });
  std::unique_ptr<http_client> holder;
  auto& client = client_for(ioc, holder);
  std::size_t seen = 0;
  int calls = 0;
  std::optional<result<http_response>> out;
  test::run(ioc, [&]() -> asio::awaitable<void> {
    http_request req;
    req.url = server.base() + "/x";
    out = co_await client.request_stream(std::move(req), [&](std::string_view bytes) {
      seen += bytes.size();
      ++calls;
      return false;
    });
  }());
  ASSERT_TRUE(out && out->ok()) << (out ? out->error().message : "no result");
  EXPECT_EQ(calls, 1);
  EXPECT_LT(seen, 100000u);
}

TEST(http_client_stream, an_error_status_returns_its_body_and_streams_nothing) {
  asio::io_context ioc;
  test::test_server server(ioc, nullptr, [](const test::recorded_request&) {
    test::scripted_response r;
    r.status = 410;
    r.body = R"({"kind":"Status","code":410,"reason":"Expired"})";
    return r;
  });
  std::unique_ptr<http_client> holder;
  auto& client = client_for(ioc, holder);
  int calls = 0;
  std::optional<result<http_response>> out;
  test::run(ioc, [&]() -> asio::awaitable<void> {
    http_request req;
    req.url = server.base() + "/x";
    out = co_await client.request_stream(std::move(req), [&](std::string_view) {
      ++calls;
      return true;
    });
  }());
  ASSERT_TRUE(out && out->ok()) << (out ? out->error().message : "no result");
  EXPECT_EQ((*out)->status, 410);
  EXPECT_EQ((*out)->body, R"({"kind":"Status","code":410,"reason":"Expired"})");
  EXPECT_EQ(calls, 0);
}

TEST(http_client_stream, a_silent_server_hits_the_deadline) {
  asio::io_context ioc;
  test::test_server server(ioc, nullptr, [](const test::recorded_request&) {
    test::scripted_response r;
    r.hang = true;
    return r;
  });
  std::unique_ptr<http_client> holder;
  auto& client = client_for(ioc, holder);
  std::optional<result<http_response>> out;
  test::run(ioc, [&]() -> asio::awaitable<void> {
    http_request req;
    req.url = server.base() + "/x";
    req.deadline = 200ms;
    out = co_await client.request_stream(std::move(req), [](std::string_view) { return true; });
  }());
  ASSERT_TRUE(out && !out->ok());
  EXPECT_EQ(out->error().kind, error_kind::transient);
  EXPECT_NE(out->error().message.find("timed out"), std::string::npos) << out->error().message;
}

}  // namespace
}  // namespace ferry::github
