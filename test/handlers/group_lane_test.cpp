// handlers/group_lane.hpp: one writer per group branch in a process, the turn going to the
// delivery queued last; the writer takes the foldable edits queued and answers them; a delivery
// cancelled while it waits leaves the queue, one that ends holding edits answers them "not done".
#include "handlers/group_lane.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using ferry::handlers::group_edit;
using ferry::handlers::group_lanes;

std::shared_ptr<group_edit> edit(std::string tag, bool foldable = true) {
  auto e = std::make_shared<group_edit>();
  e->rule = "flux-system:app";
  e->tag = std::move(tag);
  e->foldable = foldable;
  return e;
}

// What one queued delivery saw: its turn, or its edit made by another.
struct seen {
  bool done = false;
  bool got_turn = false;
  std::optional<group_lanes::turn> turn;
};

void queue(asio::io_context& ioc, group_lanes& lanes, std::shared_ptr<group_edit> e, seen& out,
           asio::cancellation_slot slot = {}) {
  asio::co_spawn(
      ioc,
      [&lanes, e, &out]() -> asio::awaitable<void> {
        auto t = co_await lanes.enter("repo ferry/staging/group-train", e);
        out.done = true;
        out.got_turn = t.has_value();
        if (t) {
          out.turn = std::move(*t);
        }
      },
      asio::bind_cancellation_slot(slot, [](std::exception_ptr) {}));
}

void turn_until_idle(asio::io_context& ioc) {
  ioc.restart();
  ioc.poll();
}

TEST(group_lanes, the_first_writes_and_takes_the_foldable_edits_queued_behind_it) {
  asio::io_context ioc;
  group_lanes lanes;
  seen first, a, b, newest, c;
  queue(ioc, lanes, edit("1"), first);
  queue(ioc, lanes, edit("2"), a);
  queue(ioc, lanes, edit("3", /*foldable=*/false), newest);
  queue(ioc, lanes, edit("4"), b);
  turn_until_idle(ioc);
  ASSERT_TRUE(first.done);
  EXPECT_TRUE(first.got_turn);
  EXPECT_FALSE(first.turn->waited());  // found the lane idle: it gathers (bump_group.cpp)
  EXPECT_FALSE(a.done);
  EXPECT_EQ(lanes.waiting("repo ferry/staging/group-train"), 3u);

  auto taken = first.turn->take_batch(10);
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0]->tag, "2");
  EXPECT_EQ(taken[1]->tag, "4");
  EXPECT_EQ(lanes.waiting("repo ferry/staging/group-train"), 1u);
  // Arriving now: behind the `newest` one, not in this batch.
  queue(ioc, lanes, edit("5"), c);
  turn_until_idle(ioc);
  first.turn->answer(ferry::ok_v);
  turn_until_idle(ioc);
  EXPECT_TRUE(a.done);
  EXPECT_FALSE(a.got_turn);
  ASSERT_TRUE(taken[0]->outcome.has_value());
  EXPECT_TRUE(taken[0]->outcome->ok());
  EXPECT_TRUE(b.done);
  EXPECT_FALSE(b.got_turn);
  EXPECT_FALSE(newest.done);

  first.turn.reset();  // the turn passes to the delivery queued last: the most deadline left
  turn_until_idle(ioc);
  EXPECT_TRUE(c.done);
  EXPECT_TRUE(c.got_turn);
  EXPECT_TRUE(c.turn->waited());  // waited for it: writes at once
  EXPECT_FALSE(newest.done);
  c.turn.reset();
  turn_until_idle(ioc);
  EXPECT_TRUE(newest.done);
  EXPECT_TRUE(newest.got_turn);
  newest.turn.reset();
  EXPECT_EQ(lanes.waiting("repo ferry/staging/group-train"), 0u);
}

TEST(group_lanes, a_batch_is_bounded) {
  asio::io_context ioc;
  group_lanes lanes;
  std::vector<seen> all(5);
  for (std::size_t i = 0; i < all.size(); ++i) {
    queue(ioc, lanes, edit(std::to_string(i)), all[i]);
  }
  turn_until_idle(ioc);
  EXPECT_EQ(all[0].turn->take_batch(2).size(), 2u);
  EXPECT_EQ(lanes.waiting("repo ferry/staging/group-train"), 2u);
  all[0].turn->answer(ferry::ok_v);
  all[0].turn.reset();
  turn_until_idle(ioc);
  EXPECT_TRUE(all[4].got_turn);
  EXPECT_FALSE(all[3].done);
  all[4].turn.reset();
  turn_until_idle(ioc);
  EXPECT_TRUE(all[3].got_turn);
  all[3].turn.reset();
}

TEST(group_lanes, a_writer_that_ends_without_answering_answers_not_done) {
  asio::io_context ioc;
  group_lanes lanes;
  seen first, a;
  queue(ioc, lanes, edit("1"), first);
  queue(ioc, lanes, edit("2"), a);
  turn_until_idle(ioc);
  auto taken = first.turn->take_batch(10);
  ASSERT_EQ(taken.size(), 1u);
  first.turn.reset();  // e.g. its delivery was cancelled at the deadline
  turn_until_idle(ioc);
  EXPECT_TRUE(a.done);
  EXPECT_FALSE(a.got_turn);
  ASSERT_TRUE(taken[0]->outcome.has_value());
  ASSERT_FALSE(taken[0]->outcome->ok());
  EXPECT_EQ(taken[0]->outcome->error().kind, ferry::error_kind::transient);
  EXPECT_EQ(lanes.waiting("repo ferry/staging/group-train"), 0u);
}

TEST(group_lanes, a_delivery_cancelled_while_it_waits_leaves_the_queue) {
  asio::io_context ioc;
  group_lanes lanes;
  seen first, cancelled, last;
  asio::cancellation_signal signal;
  queue(ioc, lanes, edit("1"), first);
  queue(ioc, lanes, edit("2", false), cancelled, signal.slot());
  queue(ioc, lanes, edit("3", false), last);
  turn_until_idle(ioc);
  EXPECT_EQ(lanes.waiting("repo ferry/staging/group-train"), 2u);
  signal.emit(asio::cancellation_type::terminal);
  turn_until_idle(ioc);
  EXPECT_FALSE(cancelled.done);
  EXPECT_EQ(lanes.waiting("repo ferry/staging/group-train"), 1u);
  first.turn.reset();
  turn_until_idle(ioc);
  EXPECT_TRUE(last.got_turn);
  last.turn.reset();
}

}  // namespace
