// write_budget (service/github/write_budget.hpp): the minute and hour windows of content-creating
// calls per installation, driven by a clock the test moves.
#include <gtest/gtest.h>

#include <chrono>

#include "service/github/write_budget.hpp"

namespace {

using ferry::github::write_budget;
using ferry::github::write_budget_settings;
using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

const write_budget::time_point k_t0 = write_budget::time_point(1'800'000'000s);

TEST(write_budget, defaults_are_githubs_secondary_limits) {
  const write_budget_settings s;
  EXPECT_EQ(s.per_minute, 80);
  EXPECT_EQ(s.per_hour, 500);
  const write_budget b(s);
  EXPECT_EQ(b.remaining(1, k_t0), 80);
}

TEST(write_budget, the_minute_window_refuses_the_81st_and_says_when_a_slot_frees) {
  write_budget b(write_budget_settings{});
  for (int i = 0; i < 80; ++i) {
    ASSERT_EQ(b.take(7, k_t0 + i * 100ms), ms(0)) << i;
  }
  EXPECT_EQ(b.remaining(7, k_t0 + 8s), 0);
  // The first slot (taken at t0) leaves the window at t0 + 61 s: GitHub's minute and ferry's
  // second of margin for the request's way there (write_budget.cpp).
  EXPECT_EQ(b.take(7, k_t0 + 10s), ms(51'000));
  EXPECT_EQ(b.take(7, k_t0 + 60'999ms), ms(1));
  // A refusal takes nothing: the wait does not grow.
  EXPECT_EQ(b.remaining(7, k_t0 + 10s), 0);
  EXPECT_EQ(b.take(7, k_t0 + 61s), ms(0));
  EXPECT_EQ(b.remaining(7, k_t0 + 61s), 0);
  EXPECT_EQ(b.remaining(7, k_t0 + 61'100ms), 1);
}

TEST(write_budget, installations_have_budgets_of_their_own) {
  write_budget b(write_budget_settings{.per_minute = 1, .per_hour = 10});
  EXPECT_EQ(b.take(1, k_t0), ms(0));
  EXPECT_GT(b.take(1, k_t0), ms(0));
  EXPECT_EQ(b.take(2, k_t0), ms(0));
  EXPECT_EQ(b.remaining(3, k_t0), 1);
}

TEST(write_budget, the_hour_window_holds_after_the_minute_frees) {
  write_budget b(write_budget_settings{.per_minute = 2, .per_hour = 3});
  EXPECT_EQ(b.take(1, k_t0), ms(0));
  EXPECT_EQ(b.take(1, k_t0 + 1s), ms(0));
  EXPECT_EQ(b.take(1, k_t0 + 2s), ms(59'000));  // the minute: t0 leaves at t0 + 61 s
  EXPECT_EQ(b.take(1, k_t0 + 62s), ms(0));
  EXPECT_EQ(b.remaining(1, k_t0 + 63s), 0);
  // The minute has room again at t0 + 123 s, the hour not before t0 + 3601 s.
  EXPECT_EQ(b.take(1, k_t0 + 200s), ms(3'401'000));
  EXPECT_EQ(b.take(1, k_t0 + 3601s), ms(0));
  EXPECT_EQ(b.remaining(1, k_t0 + 3601s), 0);
  EXPECT_EQ(b.remaining(1, k_t0 + 3602s), 1);
}

TEST(write_budget, a_clock_stepping_back_never_frees_a_slot_early) {
  write_budget b(write_budget_settings{.per_minute = 1, .per_hour = 10});
  EXPECT_EQ(b.take(1, k_t0), ms(0));
  EXPECT_EQ(b.take(1, k_t0 - 30s), ms(91'000));
  EXPECT_EQ(b.take(1, k_t0 + 61s), ms(0));
}

}  // namespace
