#pragma once
// One writer per group branch per replica (docs/rules.md, "Groups"). The deliveries of a
// release train name the same branch, ferry/<env>/group-<name>, by the dozen: were they to write
// at once, all but one would lose each compare-and-swap, read the branch again and retry,
// spending GitHub writes and the delivery deadline on nothing. Within a replica they queue
// instead, and the delivery whose turn it is folds the edits queued with it into its own commit
// and PR update (take_batch): a train of fifty publications costs a few commits, not fifty.
// The turn passes to the delivery that queued last: of those waiting it has the most of its
// 9 s deadline left (limits::k_delivery_deadline) for the batch's write, and the older ones,
// folded in, are answered by it. Handing it to the oldest instead made a busy replica's writer
// the delivery nearest its deadline: it was cancelled mid-write and took its whole batch down
// with it (measured with test/bench/train.py on a loaded machine: 39 of 50 answered 503). An
// edit `newest` keeps out of batches gets its turn once no later delivery waits. Between replicas
// the compare-and-swap on the branch head still decides (handlers/bump_flow.cpp).
//
// Everything here runs on the io_context's one thread: no locks. A delivery cancelled while it
// waits (its deadline passed) leaves the queue; one cancelled holding its turn hands it on, and
// the edits it had taken are answered "not done" (their deliveries answer 503 and are delivered
// again).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "service/result.hpp"

namespace ferry::handlers {

// One delivery's edit of a group branch, as plain values another delivery can make for it.
struct group_edit {
  std::string rule;  // "<namespace>:<name>" of the image rule
  std::string image;
  std::string tag;
  std::string digest;
  std::optional<std::string> source_commit;
  std::string package_url;
  std::string source_repo_url;
  std::string delivery_id;
  std::string target_commitish;  // sourceBranches gate; empty: none
  std::string evidence;          // a promotion's apply result; empty for publications
  // Whether another delivery may make this edit: false under `newest`, whose decision needs the
  // delivery's own compare in the source repository.
  bool foldable = true;
  // Set by whoever made the edit (ok, also for "nothing to change"), or an error: what the
  // delivery answers.
  std::optional<result<void>> outcome;
};

class group_lanes {
  struct waiter {
    explicit waiter(boost::asio::any_io_executor ex) : wake(std::move(ex)) {}
    boost::asio::steady_timer wake;
    std::shared_ptr<group_edit> edit;
    bool granted = false;
    bool taken = false;  // folded into another delivery's batch
  };
  struct lane {
    bool busy = false;
    std::deque<std::shared_ptr<waiter>> waiting;
  };

 public:
  // A turn on one lane: released when destroyed (the next waiter is woken); edits taken into
  // the batch and not answered by then are answered with a transient error.
  class turn {
   public:
    turn() = default;
    turn(group_lanes* owner, std::string key, bool waited)
        : owner_(owner), key_(std::move(key)), waited_(waited) {}
    turn(turn&& o) noexcept
        : owner_(o.owner_),
          key_(std::move(o.key_)),
          taken_(std::move(o.taken_)),
          waited_(o.waited_) {
      o.owner_ = nullptr;
    }
    turn& operator=(turn&& o) noexcept {
      if (this != &o) {
        release();
        owner_ = o.owner_;
        key_ = std::move(o.key_);
        taken_ = std::move(o.taken_);
        waited_ = o.waited_;
        o.owner_ = nullptr;
      }
      return *this;
    }
    turn(const turn&) = delete;
    turn& operator=(const turn&) = delete;
    ~turn() { release(); }

    // Takes up to `max` foldable edits queued on this lane (oldest first), to be made
    // in this delivery's commit; answer them with answer().
    std::vector<std::shared_ptr<group_edit>> take_batch(std::size_t max) {
      std::vector<std::shared_ptr<group_edit>> out;
      if (owner_ == nullptr) {
        return out;
      }
      auto it = owner_->lanes_.find(key_);
      if (it == owner_->lanes_.end()) {
        return out;
      }
      auto& q = it->second.waiting;
      for (auto w = q.begin(); w != q.end() && out.size() < max;) {
        if ((*w)->edit && (*w)->edit->foldable) {
          (*w)->taken = true;
          out.push_back((*w)->edit);
          taken_.push_back(*w);
          w = q.erase(w);
        } else {
          ++w;
        }
      }
      return out;
    }
    // Answers every edit taken so far with `outcome` and wakes their deliveries.
    void answer(const result<void>& outcome) {
      for (auto& w : taken_) {
        if (!w->edit->outcome) {
          w->edit->outcome = outcome;
        }
        w->wake.cancel();
      }
      taken_.clear();
    }
    bool holds() const noexcept { return owner_ != nullptr; }
    // Whether this turn was waited for (another delivery held the lane when it entered).
    bool waited() const noexcept { return waited_; }

   private:
    void release() {
      if (!taken_.empty()) {
        answer(make_error(error_kind::transient,
                          "the delivery writing this group's batch ended before it was written"));
      }
      if (owner_ != nullptr) {
        owner_->pass_on(key_);
        owner_ = nullptr;
      }
    }
    group_lanes* owner_ = nullptr;
    std::string key_;
    std::vector<std::shared_ptr<waiter>> taken_;
    bool waited_ = false;
  };

  // Waits for the turn on `key` (the last queued is granted it first) with `edit`: a turn when this
  // delivery is to write, or nullopt when another delivery's batch made the edit
  // (edit->outcome says how it went). Cancelled while waiting (the delivery's deadline): leaves
  // the queue, and the exception goes on.
  boost::asio::awaitable<std::optional<turn>> enter(std::string key,
                                                    std::shared_ptr<group_edit> edit) {
    lane& l = lanes_[key];
    if (!l.busy) {
      l.busy = true;
      co_return turn(this, key, false);
    }
    auto w = std::make_shared<waiter>(co_await boost::asio::this_coro::executor);
    w->edit = std::move(edit);
    w->wake.expires_at(boost::asio::steady_timer::time_point::max());
    l.waiting.push_back(w);
    // Leaves the queue, or hands on a turn granted but never taken, when the wait ends by an
    // exception (cancellation destroys this frame).
    struct leave {
      group_lanes* self;
      std::string key;
      std::shared_ptr<waiter> w;
      bool done = false;
      ~leave() {
        if (done || w->taken) {
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
    while (!w->granted && !(w->taken && w->edit->outcome)) {
      boost::system::error_code ec;
      co_await w->wake.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      // Woken by pass_on or answer (the timer cancelled). Anything else waits again; a
      // cancellation of the delivery throws at this co_await instead.
    }
    guard.done = true;
    if (w->taken) {
      co_return std::nullopt;
    }
    co_return turn(this, key, true);
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
    auto next = l.waiting.back();
    l.waiting.pop_back();
    next->granted = true;
    next->wake.cancel();
  }

  std::map<std::string, lane> lanes_;
};

}  // namespace ferry::handlers
