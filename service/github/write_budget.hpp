#pragma once
// ferry's budget of content-creating GitHub calls per App installation (issue 12.3). GitHub
// allows "no more than 80 content-generating requests per minute and no more than 500
// content-generating requests per hour" (docs.github.com, "Rate limits for the REST API" ->
// "About secondary rate limits"), and answers the next one with a 403/429 and `retry-after`.
// app_client takes a slot here before every POST/PATCH/PUT/DELETE and every GraphQL mutation, so
// ferry stops itself before GitHub has to: a write that finds no slot waits only as long as its
// call may (limits::k_github_write_wait_max), else it fails transient and the delivery is
// redelivered after the window has moved on.
//
// Two sliding windows (a minute and an hour) of the moments slots were taken. Pure: the caller
// passes the time, so tests drive it with any clock. Not thread-safe (app_client's rule: one
// executor).

#include <chrono>
#include <cstdint>
#include <deque>
#include <unordered_map>

#include "service/limits.hpp"

namespace ferry::github {

struct write_budget_settings {
  int per_minute = limits::k_github_writes_per_minute;
  int per_hour = limits::k_github_writes_per_hour;
};

class write_budget {
 public:
  using time_point = std::chrono::system_clock::time_point;

  explicit write_budget(write_budget_settings settings) : settings_(settings) {}

  // Takes one slot of `installation` at `now` and answers 0; or, when both windows have no
  // room, takes nothing and answers how long until a slot frees (always > 0).
  std::chrono::milliseconds take(std::int64_t installation, time_point now);

  // Slots `installation` could take at `now` (the smaller of the two windows' room).
  int remaining(std::int64_t installation, time_point now) const;

  const write_budget_settings& settings() const noexcept { return settings_; }

 private:
  // Moments slots were taken, oldest first, within the last hour.
  using taken_list = std::deque<time_point>;
  void forget_old(taken_list& taken, time_point now) const;

  write_budget_settings settings_;
  std::unordered_map<std::int64_t, taken_list> taken_;
};

}  // namespace ferry::github
