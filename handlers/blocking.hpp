#pragma once
// Runs a blocking call (libgit2) on the pool and resumes on the caller's executor; inline when
// there is no pool (unit tests). The io_context's thread never waits for git.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
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
  // Not cancellable: a blocking call cannot stop midway, and a cancellation the spawned coroutine
  // saw would throw operation_aborted from its last step on a pool thread, where nothing catches
  // it (std::terminate; seen when deliveries hit their deadline during a fetch). The caller's
  // cancellation takes effect at its next co_await instead, after `f` is done with its captures.
  std::optional<value> out = co_await boost::asio::co_spawn(
      pool->get_executor(),
      [&f]() -> boost::asio::awaitable<std::optional<value>> {
        co_return std::optional<value>(f());
      },
      boost::asio::bind_cancellation_slot(boost::asio::cancellation_slot(),
                                          boost::asio::use_awaitable));
  co_return std::move(*out);
}

}  // namespace ferry::handlers
