#include "service/github/write_budget.hpp"

#include <algorithm>
#include <iterator>

namespace ferry::github {

namespace {

using std::chrono::milliseconds;

// Each window is counted a second longer than GitHub's: a slot is taken a moment before GitHub
// receives its request (a connection, a slower request ahead of it), and at saturation that skew
// let writes land 81 within GitHub's minute (test/bench/train.py solo, two replicas at 40 a minute
// each: 3 secondary-limit answers). ferry's own margin.
constexpr auto k_skew = std::chrono::seconds(1);
constexpr auto k_minute = limits::k_github_write_minute + k_skew;
constexpr auto k_hour = limits::k_github_write_hour + k_skew;

// Slots taken after `since` (the list is oldest first).
std::size_t taken_after(const std::deque<write_budget::time_point>& taken,
                        write_budget::time_point since) {
  return static_cast<std::size_t>(
      std::distance(std::upper_bound(taken.begin(), taken.end(), since), taken.end()));
}

// How long until a window of `length` holding `in_window` slots (the newest `in_window` of
// `taken`) has room under `limit`: the slot that must leave is the (in_window - limit + 1)th
// oldest of the window, which is the `limit`th newest of all.
milliseconds wait_for_room(const std::deque<write_budget::time_point>& taken, std::size_t in_window,
                           int limit, std::chrono::seconds length, write_budget::time_point now) {
  const auto cap = static_cast<std::size_t>(limit);
  if (in_window < cap) {
    return milliseconds(0);
  }
  const auto leaving = taken[taken.size() - cap];
  const auto wait = std::chrono::ceil<milliseconds>(leaving + length - now);
  return std::max(wait, milliseconds(1));
}

}  // namespace

void write_budget::forget_old(taken_list& taken, time_point now) const {
  const auto since = now - k_hour;
  while (!taken.empty() && taken.front() <= since) {
    taken.pop_front();
  }
}

milliseconds write_budget::take(std::int64_t installation, time_point now) {
  auto& taken = taken_[installation];
  forget_old(taken, now);
  const auto in_minute = taken_after(taken, now - k_minute);
  const auto wait = std::max(wait_for_room(taken, in_minute, settings_.per_minute, k_minute, now),
                             wait_for_room(taken, taken.size(), settings_.per_hour, k_hour, now));
  if (wait.count() > 0) {
    return wait;
  }
  // A clock that stepped back must not break the order the windows rely on.
  taken.push_back(taken.empty() ? now : std::max(now, taken.back()));
  return milliseconds(0);
}

int write_budget::remaining(std::int64_t installation, time_point now) const {
  const auto it = taken_.find(installation);
  if (it == taken_.end()) {
    return std::min(settings_.per_minute, settings_.per_hour);
  }
  const auto in_minute = static_cast<int>(taken_after(it->second, now - k_minute));
  const auto in_hour = static_cast<int>(taken_after(it->second, now - k_hour));
  return std::max(0, std::min(settings_.per_minute - in_minute, settings_.per_hour - in_hour));
}

}  // namespace ferry::github
