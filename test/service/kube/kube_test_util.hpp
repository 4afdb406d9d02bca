#pragma once
// Shared by the kube tests: one Kubernetes API double per test suite (starting Node costs
// about a second), a client for it, and a way to run coroutines to completion.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "service/kube/client.hpp"
#include "test/support/kube_double.hpp"

namespace ferry::kube::test {

using ferry::test::kube_double;

// Awaits `a` and keeps its value (result<T> has no default constructor, which co_spawn's
// completion handlers would need).
template <typename T>
boost::asio::awaitable<void> store(boost::asio::awaitable<T> a, std::optional<T>& out) {
  out.emplace(co_await std::move(a));
}

// Runs the awaitable on ioc until it finishes; rethrows what escaped it.
template <typename T>
T run(boost::asio::io_context& ioc, boost::asio::awaitable<T> a) {
  std::optional<T> out;
  std::exception_ptr failure;
  boost::asio::co_spawn(ioc, store(std::move(a), out), [&](std::exception_ptr e) { failure = e; });
  ioc.restart();
  ioc.run();
  if (failure) {
    std::rethrow_exception(failure);
  }
  return std::move(*out);
}

// Runs both awaitables concurrently on ioc (one thread, interleaved at each co_await) until
// both finish.
template <typename A, typename B>
std::pair<A, B> run_both(boost::asio::io_context& ioc, boost::asio::awaitable<A> a,
                         boost::asio::awaitable<B> b) {
  std::optional<A> out_a;
  std::optional<B> out_b;
  std::exception_ptr failure;
  auto on_done = [&](std::exception_ptr e) { failure = e ? e : failure; };
  boost::asio::co_spawn(ioc, store(std::move(a), out_a), on_done);
  boost::asio::co_spawn(ioc, store(std::move(b), out_b), on_done);
  ioc.restart();
  ioc.run();
  if (failure) {
    std::rethrow_exception(failure);
  }
  return {std::move(*out_a), std::move(*out_b)};
}

inline kube_settings settings_for(const kube_double& d) {
  kube_settings s;
  s.api_url = d.url();
  s.token_file = d.token_file().string();
  s.ca_file = d.ca_file().string();
  s.attempt_timeout = std::chrono::seconds(10);
  return s;
}

inline std::unique_ptr<client> make_client(boost::asio::io_context& ioc, kube_settings s) {
  auto c = client::create(ioc.get_executor(), std::move(s));
  if (!c) {
    throw std::runtime_error(c.error().message);
  }
  return std::move(c).value();
}

inline boost::asio::awaitable<void> sleep_ms(int ms) {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor,
                              std::chrono::milliseconds(ms));
  co_await t.async_wait(boost::asio::use_awaitable);
}

inline std::string job_json(const std::string& ns, const std::string& name) {
  return R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":")" + name +
         R"(","namespace":")" + ns +
         R"(","labels":{"ferry.dev/env":"staging"}},"spec":{"backoffLimit":0,"template":{"spec":{)"
         R"("restartPolicy":"Never","containers":[{"name":"apply","image":"busybox:1.36",)"
         R"("command":["true"]}]}}}})";
}

}  // namespace ferry::kube::test
