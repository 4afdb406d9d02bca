#include "service/promotion/group_body.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "service/limits.hpp"

namespace ferry::promotion {
namespace {

group_row_facts facts(std::string rule, std::string image, std::string from, std::string to) {
  group_row_facts f;
  f.environment = "staging";
  f.rule = std::move(rule);
  f.image = std::move(image);
  f.from_values = {std::move(from)};
  f.to_tag = std::move(to);
  f.digest = "sha256:" + std::string(64, 'a');
  f.package_url = "https://github.com/orgs/o/packages/container/package/api";
  f.source_repo_url = "https://github.com/o/api";
  f.source_commit = std::string(40, 'b');
  f.delivery_id = "d-1";
  return f;
}

group_member member(std::string rule, std::string image, std::vector<std::string> from,
                    std::vector<std::string> branch) {
  return group_member{std::move(rule), std::move(image), std::move(from), std::move(branch)};
}

TEST(group_body, a_row_reads_back_as_written) {
  const auto row = make_group_row(facts("flux-system:api", "ghcr.io/o/api", "1.0.0", "1.1.0"));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->text.find('\n'), std::string::npos);
  EXPECT_NE(row->text.find("`1.0.0` -> `1.1.0`"), std::string::npos);
  EXPECT_NE(row->text.find("[package](https://github.com/orgs/o/packages/container/package/api)"),
            std::string::npos);
  EXPECT_NE(row->text.find("(https://github.com/o/api/commit/" + std::string(40, 'b') + ")"),
            std::string::npos);
  const std::vector<group_row> rows{*row};
  const std::string body = group_pr_body("staging", "train", rows, "", {});
  const auto back = parse_group_rows(body);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].environment, "staging");
  EXPECT_EQ(back[0].rule, "flux-system:api");
  EXPECT_EQ(back[0].image, "ghcr.io/o/api");
  EXPECT_EQ(back[0].tag, "1.1.0");
  EXPECT_EQ(back[0].text, row->text);
  EXPECT_TRUE(group_body_lists(body, "staging", "ghcr.io/o/api", "1.1.0"));
  EXPECT_FALSE(group_body_lists(body, "staging", "ghcr.io/o/api", "1.0.0"));
  EXPECT_FALSE(group_body_lists(body, "production", "ghcr.io/o/api", "1.1.0"));
}

TEST(group_body, values_that_would_break_the_row_make_none) {
  EXPECT_FALSE(make_group_row(facts("flux-system:api", "ghcr.io/o/api", "1", "a b")));
  EXPECT_FALSE(make_group_row(facts("flux-system:api", "ghcr.io/o/api", "1", "a>b")));
  EXPECT_FALSE(make_group_row(facts("", "ghcr.io/o/api", "1", "2")));
  auto f = facts("flux-system:api", "ghcr.io/o/api", "1", "2");
  f.package_url = "https://x/(y)";  // not a safe link target: left out, the row stays
  const auto row = make_group_row(f);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->text.find("[package]"), std::string::npos);
}

TEST(group_body, a_new_publication_replaces_its_row_in_place_and_keeps_the_others) {
  const auto a = *make_group_row(facts("ns:a", "ghcr.io/o/a", "1", "2"));
  const auto b = *make_group_row(facts("ns:b", "ghcr.io/o/b", "1", "5"));
  const auto c = *make_group_row(facts("ns:c", "ghcr.io/o/c", "1", "3"));
  const std::vector<group_row> old_rows{a, b, c};
  const auto b_new = *make_group_row(facts("ns:b", "ghcr.io/o/b", "1", "6"));
  const std::vector<group_member> members{
      member("ns:a", "ghcr.io/o/a", {"1"}, {"2"}),
      member("ns:b", "ghcr.io/o/b", {"1"}, {"6"}),
      member("ns:c", "ghcr.io/o/c", {"1"}, {"3"}),
  };
  const std::vector<group_row> written{b_new};
  const auto rows = merge_group_rows(old_rows, members, written, "staging");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].text, a.text);
  EXPECT_EQ(rows[1].text, b_new.text);
  EXPECT_EQ(rows[2].text, c.text);
}

TEST(group_body, rows_follow_the_branch) {
  const auto a = *make_group_row(facts("ns:a", "ghcr.io/o/a", "1", "2"));
  const auto stale = *make_group_row(facts("ns:b", "ghcr.io/o/b", "1", "4"));
  const std::vector<group_row> old_rows{stale, a};
  const auto own = *make_group_row(facts("ns:d", "ghcr.io/o/d", "1", "9"));
  const std::vector<group_member> members{
      // a: the default branch caught up (merged elsewhere): no change, no row.
      member("ns:a", "ghcr.io/o/a", {"2"}, {"2"}),
      // b: a concurrent writer moved it to 5, its row update was lost: rebuilt from the branch.
      member("ns:b", "ghcr.io/o/b", {"1"}, {"5"}),
      // c: on the branch with no row at all.
      member("ns:c", "ghcr.io/o/c", {"1"}, {"3"}),
      member("ns:d", "ghcr.io/o/d", {"1"}, {"9"}),
      // e: untouched.
      member("ns:e", "ghcr.io/o/e", {"1"}, {"1"}),
  };
  const std::vector<group_row> written{own};
  const auto rows = merge_group_rows(old_rows, members, written, "staging");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].rule, "ns:b");
  EXPECT_EQ(rows[0].tag, "5");
  EXPECT_NE(rows[0].text.find("(read from the branch)"), std::string::npos);
  EXPECT_EQ(rows[1].rule, "ns:c");
  EXPECT_EQ(rows[1].tag, "3");
  EXPECT_EQ(rows[2].text, own.text);
}

TEST(group_body, a_persons_edits_are_not_rows) {
  const auto a = *make_group_row(facts("ns:a", "ghcr.io/o/a", "1", "2"));
  std::string body = "intro\n" + a.text + "\n";
  body += "| x | <!-- ferry-row: env=staging rule=ns:b image=i --> |\n";        // no tag
  body += "| x | <!-- ferry-row: env=staging rule=ns:b image=i tag=1 -->\n";    // no closing cell
  body += "| x | <!-- ferry-row: env=staging image=i rule=ns:b tag=1 --> |\n";  // order
  body += "| x | <!-- ferry-row: env=staging rule=ns:b image=i tag=1 x=2 --> |\n";
  body += a.text + "\n";  // the same key twice counts once
  body += "| y | <!-- ferry-row: env=staging rule=ns:c image=i tag=7 --> |\r\n";
  const auto rows = parse_group_rows(body);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].rule, "ns:a");
  EXPECT_EQ(rows[1].rule, "ns:c");
  EXPECT_EQ(rows[1].tag, "7");
}

TEST(group_body, title_counts_the_images) {
  EXPECT_EQ(group_pr_title("staging", "train", 1), "ferry: bump 1 image of group train in staging");
  EXPECT_EQ(group_pr_title("staging", "train", 50),
            "ferry: bump 50 images of group train in staging");
}

TEST(group_body, bounded_with_a_note_on_rows_left_out) {
  std::vector<group_row> rows;
  for (int i = 0; i < 400; ++i) {
    auto f = facts("ns:i" + std::to_string(i), "ghcr.io/o/image-" + std::to_string(i), "1", "2");
    rows.push_back(*make_group_row(f));
  }
  const std::vector<std::string> on_merge{"`staging` is applied at once"};
  const std::string body = group_pr_body("staging", "train", rows, "evidence", on_merge);
  EXPECT_LE(body.size(), limits::k_pr_body_max);
  EXPECT_NE(body.find("more images are on the branch"), std::string::npos);
  EXPECT_NE(body.find("**On merge**"), std::string::npos);
  EXPECT_NE(body.find("<!-- ferry: env=staging group=train -->"), std::string::npos);
  const auto back = parse_group_rows(body);
  EXPECT_GT(back.size(), 50u);
  EXPECT_LT(back.size(), rows.size());
}

}  // namespace
}  // namespace ferry::promotion
