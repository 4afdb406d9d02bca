#pragma once
// One writer per group branch per replica (docs/rules.md, "Groups"). The deliveries of a
// release train name the same branch, ferry/<env>/group-<name>, by the dozen: were they to write
// at once, all but one would lose each compare-and-swap, read the branch again and retry,
// spending GitHub writes and the delivery deadline on nothing. Within a replica they take turns
// instead, first come first served; between replicas the compare-and-swap on the branch head
// still decides (handlers/bump_flow.cpp).
//
// Everything here runs on the io_context's one thread: no locks. A delivery cancelled while it
// waits (its deadline passed) leaves the queue; one cancelled holding its turn hands it on.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <string>

namespace ferry::handlers {

class group_lanes {
  struct waiter {
    explicit waiter(boost::asio::any_io_executor ex) : wake(std::move(ex)) {}
    boost::asio::steady_timer wake;
    bool granted = false;
  };
  struct lane {
    bool busy = false;
    std::deque<std::shared_ptr<waiter>> waiting;
  };

 public:
  // A turn on one lane: released when destroyed (the next waiter is woken).
  class turn {
   public:
    turn() = default;
    turn(group_lanes* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    turn(turn&& o) noexcept : owner_(o.owner_), key_(std::move(o.key_)) { o.owner_ = nullptr; }
    turn& operator=(turn&& o) noexcept {
      if (this != &o) {
        release();
        owner_ = o.owner_;
        key_ = std::move(o.key_);
        o.owner_ = nullptr;
      }
      return *this;
    }
    turn(const turn&) = delete;
    turn& operator=(const turn&) = delete;
    ~turn() { release(); }

   private:
    void release() {
      if (owner_ != nullptr) {
        owner_->pass_on(key_);
        owner_ = nullptr;
      }
    }
    group_lanes* owner_ = nullptr;
    std::string key_;
  };

  // Waits for the turn on `key` (first come, first served). Cancelled while waiting (the
  // delivery's deadline): leaves the queue, and the exception goes on.
  boost::asio::awaitable<turn> enter(std::string key) {
    lane& l = lanes_[key];
    if (!l.busy) {
      l.busy = true;
      co_return turn(this, key);
    }
    auto w = std::make_shared<waiter>(co_await boost::asio::this_coro::executor);
    w->wake.expires_at(boost::asio::steady_timer::time_point::max());
    l.waiting.push_back(w);
    // Leaves the queue, or hands on a turn granted but never taken, when the wait ends by an
    // exception (cancellation destroys this frame).
    struct leave {
      group_lanes* self;
      std::string key;
      std::shared_ptr<waiter> w;
      bool taken = false;
      ~leave() {
        if (taken) {
          return;
        }
        if (w->granted) {
          self->pass_on(key);
          return;
        }
        if (auto it = self->lanes_.find(key); it != self->lanes_.end()) {
          auto& q = it->second.waiting;
          q.erase(std::remove(q.begin(), q.end(), w), q.end());
        }
      }
    } guard{this, key, w};
    while (!w->granted) {
      boost::system::error_code ec;
      co_await w->wake.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      // Woken by pass_on (the timer cancelled): granted is set. Anything else waits again; a
      // cancellation of the delivery throws at this co_await instead.
    }
    guard.taken = true;
    co_return turn(this, key);
  }

  // How many deliveries wait on `key` (for tests and logs).
  std::size_t waiting(const std::string& key) const {
    auto it = lanes_.find(key);
    return it == lanes_.end() ? 0 : it->second.waiting.size();
  }

 private:
  void pass_on(const std::string& key) {
    auto it = lanes_.find(key);
    if (it == lanes_.end()) {
      return;
    }
    lane& l = it->second;
    if (l.waiting.empty()) {
      lanes_.erase(it);
      return;
    }
    auto next = l.waiting.front();
    l.waiting.pop_front();
    next->granted = true;
    next->wake.cancel();
  }

  std::map<std::string, lane> lanes_;
};

}  // namespace ferry::handlers
