#pragma once
// Runs a blocking call (libgit2) on the pool and resumes on the caller's executor; inline when
// there is no pool (unit tests). The io_context's thread never waits for git.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>

namespace ferry::handlers {

template <typename F>
auto blocking(boost::asio::thread_pool* pool, F f) -> boost::asio::awaitable<decltype(f())> {
  using value = decltype(f());
  if (pool == nullptr) {
    co_return f();
  }
  std::optional<value> out = co_await boost::asio::co_spawn(
      pool->get_executor(),
      [&f]() -> boost::asio::awaitable<std::optional<value>> {
        co_return std::optional<value>(f());
      },
      boost::asio::use_awaitable);
  co_return std::move(*out);
}

}  // namespace ferry::handlers
