// Semver versions and ranges against the conformance tables of Masterminds/semver v3, the library
// Flux's ImagePolicy uses, plus ferry's own edge cases.
//
// Transcribed as data from github.com/Masterminds/semver, constraints_test.go and version_test.go
// (commit e683c4bc93bf35ff810cb0eab188e8e8e9f72fda): TestConstraintCheck, TestConstraintsCheck,
// TestConstraintsValidate (the check column), TestNewConstraint, TestParseConstraint,
// TestNewVersion, TestCompare, TestLessThan, TestGreaterThan, TestEqual. Rows of
// TestConstraintCheck with an empty constraint are left out: they test Masterminds' internal
// single-comparator parser, while NewConstraint("") (what Flux calls) is an error, as here.

#include "service/rules/semver.hpp"

#include <gtest/gtest.h>

#include <span>
#include <string>

#include "service/limits.hpp"

namespace ferry::rules {
namespace {

struct check_row {
  const char* range;
  const char* version;
  bool expected;
};

// TestConstraintCheck (single comparators; checked through the full parser).
constexpr check_row k_constraint_check[] = {
    {"=2.0.0", "1.2.3", false},
    {"=2.0.0", "2.0.0", true},
    {"=2.0", "1.2.3", false},
    {"=2.0", "2.0.0", true},
    {"=2.0", "2.0.1", true},
    {"4.1", "4.1.0", true},
    {"!=4.1.0", "4.1.0", false},
    {"!=4.1.0", "4.1.1", true},
    {"!=4.1", "4.1.0", false},
    {"!=4.1", "4.1.1", false},
    {"!=4.1", "5.1.0-alpha.1", false},
    {"!=4.1-alpha", "4.1.0", true},
    {"!=4.1", "5.1.0", true},
    {"<11", "0.1.0", true},
    {"<11", "11.1.0", false},
    {"<1.1", "0.1.0", true},
    {"<1.1", "1.1.0", false},
    {"<1.1", "1.1.1", false},
    {"<=11", "1.2.3", true},
    {"<=11", "12.2.3", false},
    {"<=11", "11.2.3", true},
    {"<=1.1", "1.2.3", false},
    {"<=1.1", "0.1.0", true},
    {"<=1.1", "1.1.0", true},
    {"<=1.1", "1.1.1", true},
    {">1.1", "4.1.0", true},
    {">1.1", "1.1.0", false},
    {">0", "0", false},
    {">0", "1", true},
    {">0", "0.0.1-alpha", false},
    {">0.0", "0.0.1-alpha", false},
    {">0-0", "0.0.1-alpha", false},
    {">0.0-0", "0.0.1-alpha", false},
    {">0", "0.0.0-alpha", false},
    {">0-0", "0.0.0-alpha", false},
    {">0.0.0-0", "0.0.0-alpha", true},
    {">1.2.3-alpha.1", "1.2.3-alpha.2", true},
    {">1.2.3-alpha.1", "1.3.3-alpha.2", true},
    {">11", "11.1.0", false},
    {">11.1", "11.1.0", false},
    {">11.1", "11.1.1", false},
    {">11.1", "11.2.1", true},
    {">=11", "11.1.2", true},
    {">=11.1", "11.1.2", true},
    {">=11.1", "11.0.2", false},
    {">=1.1", "4.1.0", true},
    {">=1.1", "1.1.0", true},
    {">=1.1", "0.0.9", false},
    {">=0", "0.0.1-alpha", false},
    {">=0.0", "0.0.1-alpha", false},
    {">=0-0", "0.0.1-alpha", true},
    {">=0.0-0", "0.0.1-alpha", true},
    {">=0", "0.0.0-alpha", false},
    {">=0-0", "0.0.0-alpha", true},
    {">=0.0.0-0", "0.0.0-alpha", true},
    {">=0.0.0-0", "1.2.3", true},
    {">=0.0.0-0", "3.4.5-beta.1", true},
    {"<0", "0.0.0-alpha", false},
    {"<0-z", "0.0.0-alpha", true},
    {">=0", "0", true},
    {"=0", "1", false},
    {"*", "1", true},
    {"*", "4.5.6", true},
    {"*", "1.2.3-alpha.1", false},
    {"*-0", "1.2.3-alpha.1", true},
    {"2.*", "1", false},
    {"2.*", "3.4.5", false},
    {"2.*", "2.1.1", true},
    {"2.1.*", "2.1.1", true},
    {"2.1.*", "2.2.1", false},
    {"2", "1", false},
    {"2", "3.4.5", false},
    {"2", "2.1.1", true},
    {"2.1", "2.1.1", true},
    {"2.1", "2.2.1", false},
    {"~1.2.3", "1.2.4", true},
    {"~1.2.3", "1.3.4", false},
    {"~1.2", "1.2.4", true},
    {"~1.2", "1.3.4", false},
    {"~1", "1.2.4", true},
    {"~1", "2.3.4", false},
    {"~0.2.3", "0.2.5", true},
    {"~0.2.3", "0.3.5", false},
    {"~1.2.3-beta.2", "1.2.3-beta.4", true},
    {"~1.2.3-beta.2", "1.2.4-beta.2", true},
    {"~1.2.3-beta.2", "1.3.4-beta.2", false},
    {"^1.2.3", "1.8.9", true},
    {"^1.2.3", "2.8.9", false},
    {"^1.2.3", "1.2.1", false},
    {"^1.1.0", "2.1.0", false},
    {"^1.2.0", "2.2.1", false},
    {"^1.2.0", "1.2.1-alpha.1", false},
    {"^1.2.0-alpha.0", "1.2.1-alpha.1", true},
    {"^1.2.0-alpha.0", "1.2.1-alpha.0", true},
    {"^1.2.0-alpha.2", "1.2.0-alpha.1", false},
    {"^1.2", "1.8.9", true},
    {"^1.2", "2.8.9", false},
    {"^1", "1.8.9", true},
    {"^1", "2.8.9", false},
    {"^0.2.3", "0.2.5", true},
    {"^0.2.3", "0.5.6", false},
    {"^0.2", "0.2.5", true},
    {"^0.2", "0.5.6", false},
    {"^0.0.3", "0.0.3", true},
    {"^0.0.3", "0.0.4", false},
    {"^0.0", "0.0.3", true},
    {"^0.0", "0.1.4", false},
    {"^0.0", "1.0.4", false},
    {"^0", "0.2.3", true},
    {"^0", "1.1.4", false},
    {"^0.2.3-beta.2", "0.2.3-beta.4", true},
    {"^0.2.3-beta.2", "0.2.4-beta.2", true},
    {"^0.2.3-beta.2", "0.3.4-beta.2", false},
    {"^0.2.3-beta.2", "0.2.3-beta.2", true},
};

// TestConstraintsCheck.
constexpr check_row k_constraints_check[] = {
    {"*", "1.2.3", true},
    {"~0.0.0", "1.2.3", true},
    {"0.x.x", "1.2.3", false},
    {"0.0.x", "1.2.3", false},
    {"0.0.0", "1.2.3", false},
    {"^0.0.0", "1.2.3", false},
    {"= 2.0", "1.2.3", false},
    {"= 2.0", "2.0.0", true},
    {"4.1", "4.1.0", true},
    {"4.1.x", "4.1.3", true},
    {"1.x", "1.4", true},
    {"!=4.1", "4.1.0", false},
    {"!=4.1-alpha", "4.1.0-alpha", false},
    {"!=4.1-alpha", "4.1.1-alpha", false},
    {"!=4.1-alpha", "4.1.0", true},
    {"!=4.1", "5.1.0", true},
    {"!=4.x", "5.1.0", true},
    {"!=4.x", "4.1.0", false},
    {"!=4.1.x", "4.2.0", true},
    {"!=4.2.x", "4.2.3", false},
    {">1.1", "4.1.0", true},
    {">1.1", "1.1.0", false},
    {"<1.1", "0.1.0", true},
    {"<1.1", "1.1.0", false},
    {"<1.1", "1.1.1", false},
    {"<1.x", "1.1.1", false},
    {"<1.x", "0.1.1", true},
    {"<1.x", "2.0.0", false},
    {"<1.1.x", "1.2.1", false},
    {"<1.1.x", "1.1.500", false},
    {"<1.1.x", "1.0.500", true},
    {"<1.2.x", "1.1.1", true},
    {">=1.1", "4.1.0", true},
    {">=1.1", "4.1.0-beta", false},
    {">=1.1", "1.1.0", true},
    {">=1.1", "0.0.9", false},
    {"<=1.1", "0.1.0", true},
    {"<=1.1", "0.1.0-alpha", false},
    {"<=1.1-a", "0.1.0-alpha", true},
    {"<=1.1", "1.1.0", true},
    {"<=1.x", "1.1.0", true},
    {"<=2.x", "3.0.0", false},
    {"<=1.1", "1.1.1", true},
    {"<=1.1.x", "1.2.500", false},
    {"<=4.5", "3.4.0", true},
    {"<=4.5", "3.7.0", true},
    {"<=4.5", "4.6.3", false},
    {">1.1, <2", "1.1.1", false},
    {">1.1, <2", "1.2.1", true},
    {">1.1, <3", "4.3.2", false},
    {">=1.1, <2, !=1.2.3", "1.2.3", false},
    {">1.1 <2", "1.1.1", false},
    {">1.1 <2", "1.2.1", true},
    {">1.1    <3", "4.3.2", false},
    {">=1.1    <2    !=1.2.3", "1.2.3", false},
    {">=1.1, <2, !=1.2.3 || > 3", "4.1.2", true},
    {">=1.1, <2, !=1.2.3 || > 3", "3.1.2", false},
    {">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", true},
    {">=1.1, <2, !=1.2.3 || > 3", "3.0.0", false},
    {">=1.1, <2, !=1.2.3 || > 3", "1.2.3", false},
    {">=1.1 <2 !=1.2.3", "1.2.3", false},
    {">=1.1 <2 !=1.2.3 || > 3", "4.1.2", true},
    {">=1.1 <2 !=1.2.3 || > 3", "3.1.2", false},
    {">=1.1 <2 !=1.2.3 || >= 3", "3.0.0", true},
    {">=1.1 <2 !=1.2.3 || > 3", "3.0.0", false},
    {">=1.1 <2 !=1.2.3 || > 3", "1.2.3", false},
    {"> 1.1, <     2", "1.1.1", false},
    {">   1.1, <2", "1.2.1", true},
    {">1.1, <  3", "4.3.2", false},
    {">= 1.1, <     2, !=1.2.3", "1.2.3", false},
    {"> 1.1 < 2", "1.1.1", false},
    {">1.1 < 2", "1.2.1", true},
    {"> 1.1    <3", "4.3.2", false},
    {">=1.1    < 2    != 1.2.3", "1.2.3", false},
    {">= 1.1, <2, !=1.2.3 || > 3", "4.1.2", true},
    {">= 1.1, <2, != 1.2.3 || > 3", "3.1.2", false},
    {">= 1.1, <2, != 1.2.3 || >= 3", "3.0.0", true},
    {">= 1.1, <2, !=1.2.3 || > 3", "3.0.0", false},
    {">= 1.1, <2, !=1.2.3 || > 3", "1.2.3", false},
    {">= 1.1 <2 != 1.2.3", "1.2.3", false},
    {">= 1.1 <2 != 1.2.3 || > 3", "4.1.2", true},
    {">= 1.1 <2 != 1.2.3 || > 3", "3.1.2", false},
    {">= 1.1 <2 != 1.2.3 || >= 3", "3.0.0", true},
    {">= 1.1 < 2 !=1.2.3 || > 3", "3.0.0", false},
    {">=1.1 < 2 !=1.2.3 || > 3", "1.2.3", false},
    {"1.1 - 2", "1.1.1", true},
    {"1.5.0 - 4.5", "3.7.0", true},
    {"1.1-3", "4.3.2", false},
    {"^1.1", "1.1.1", true},
    {"^1.1", "4.3.2", false},
    {"^1.x", "1.1.1", true},
    {"^2.x", "1.1.1", false},
    {"^1.x", "2.1.1", false},
    {"^1.x", "1.1.1-beta1", false},
    {"^1.1.2-alpha", "1.2.1-beta1", true},
    {"^1.2.x-alpha", "1.1.1-beta1", false},
    {"^0.0.1", "0.0.1", true},
    {"^0.0.1", "0.3.1", false},
    {"~*", "2.1.1", true},
    {"~1", "2.1.1", false},
    {"~1", "1.3.5", true},
    {"~1", "1.4", true},
    {"~1.x", "2.1.1", false},
    {"~1.x", "1.3.5", true},
    {"~1.x", "1.4", true},
    {"~1.1", "1.1.1", true},
    {"~1.1", "1.1.1-alpha", false},
    {"~1.1-alpha", "1.1.1-beta", true},
    {"~1.1.1-beta", "1.1.1-alpha", false},
    {"~1.1.1-beta", "1.1.1", true},
    {"~1.2.3", "1.2.5", true},
    {"~1.2.3", "1.2.2", false},
    {"~1.2.3", "1.3.2", false},
    {"~1.1", "1.2.3", false},
    {"~1.3", "2.4.5", false},
    {"1.0.0 - 2.0.0 <=2.0.0", "1.5.0", true},
    {"1.0.0 - 2.0.0, <=2.0.0", "1.5.0", true},
};

// TestConstraintsValidate, the check column (rows not already in TestConstraintsCheck).
constexpr check_row k_constraints_validate[] = {
    {"<2.x", "1.1.1", true},
    {"<1.x", "2.1.1", false},
    {"<=2.x", "3.1.0", false},
    {"^1.1", "1.1.1-alpha", false},
    {"^1.1.1-alpha", "1.1.1-beta", true},
    {"^1.1.1-beta", "1.1.1-alpha", false},
    {"^0.0.1", "0.1.3", false},
    {"~1", "1.3.5-beta", false},
    {"~1.x", "1.3.5-beta", false},
    {"~1.3.6-alpha", "1.3.5-beta", false},
    {"~1.3.5-alpha", "1.3.5-beta", true},
    {"~1.3.5-beta", "1.3.5-alpha", false},
};

void run_checks(std::span<const check_row> rows) {
  for (const auto& row : rows) {
    auto range = semver_range::parse(row.range);
    ASSERT_TRUE(range.ok()) << row.range << ": " << range.error().message;
    auto v = parse_version(row.version);
    ASSERT_TRUE(v.has_value()) << row.version;
    EXPECT_EQ(range->contains(*v), row.expected)
        << "range " << row.range << " version " << row.version;
  }
}

TEST(semver_range, masterminds_constraint_check_table) {
  run_checks(k_constraint_check);
}
TEST(semver_range, masterminds_constraints_check_table) {
  run_checks(k_constraints_check);
}
TEST(semver_range, masterminds_constraints_validate_table) {
  run_checks(k_constraints_validate);
}

struct shape_row {
  const char* range;
  std::size_t ors;    // 0 = parse error
  std::size_t first;  // comparators in the first OR group
};

// TestNewConstraint and TestParseConstraint (ok/error), plus Flux's TestNewSemVer ranges
// (fluxcd/image-reflector-controller internal/policy/semver_test.go).
constexpr shape_row k_shapes[] = {
    {">= 1.1", 1, 1},
    {">40.50.60, < 50.70", 1, 2},
    {"2.0", 1, 1},
    {"v2.3.5-20161202202307-sha.e8fc5e5", 1, 1},
    {">= bar", 0, 0},
    {"BAR >= 1.2.3", 0, 0},
    {">= 1.2.3 < 2.0", 1, 2},
    {">= 1.2.3 < 2.0 || => 3.0 < 4", 2, 2},
    {">= 1.2.3, < 2.0", 1, 2},
    {">= 1.2.3, < 2.0 || => 3.0, < 4", 2, 2},
    {"3 - 4 || => 3.0, < 4", 2, 2},
    {"12.3.4.1234", 0, 0},
    {"12.23.4.1234", 0, 0},
    {"12.3.34.1234", 0, 0},
    {"12.3.34 ~1.2.3", 1, 2},
    {"12.3.34~ 1.2.3", 0, 0},
    {"1.0.0 - 2.0.0, <=2.0.0", 1, 3},
    // TestParseConstraint
    {">= 1.2", 1, 1},
    {"1.0", 1, 1},
    {"foo", 0, 0},
    {"<= 1.2", 1, 1},
    {"=< 1.2", 1, 1},
    {"=> 1.2", 1, 1},
    {"v1.2", 1, 1},
    {"=1.5", 1, 1},
    {"> 1.3", 1, 1},
    {"< 1.4.1", 1, 1},
    {"< 40.50.10", 1, 1},
    // Flux TestNewSemVer: valid, then invalid
    {"1.0.x", 1, 1},
    {"^1.0", 1, 1},
    {"=1.0.0", 1, 1},
    {"~1.0", 1, 1},
    {">=1.0", 1, 1},
    {">0,<2.0", 1, 2},
    {"1.0.0p", 0, 0},
    {"1x", 0, 0},
    {"x1", 0, 0},
    {"-1", 0, 0},
    {"a", 0, 0},
    {"", 0, 0},
    // ferry's own
    {"   ", 0, 0},
    {"||", 0, 0},
    {">=1 ||", 0, 0},
    {">=1,", 0, 0},
    {">=1,,<2", 0, 0},
    {"1 -2", 0, 0},
    {"1 - ", 0, 0},
    {">=1 - 2", 0, 0},
    {"1.2.3-01", 0, 0},
    {"99999999999999999999.0.0", 0, 0},
    {"1|2", 0, 0},
    {"~>1.2", 1, 1},
    {"1.x - 2.x", 1, 2},
    {">=1.0.0\t<2", 1, 2},
};

TEST(semver_range, parse_shapes) {
  for (const auto& row : k_shapes) {
    auto r = semver_range::parse(row.range);
    if (row.ors == 0) {
      EXPECT_FALSE(r.ok()) << "expected an error for " << row.range;
      continue;
    }
    ASSERT_TRUE(r.ok()) << row.range << ": " << r.error().message;
    const auto shape = r->shape();
    EXPECT_EQ(shape.size(), row.ors) << row.range;
    EXPECT_EQ(shape.front(), row.first) << row.range;
  }
}

TEST(semver_range, errors_say_what_is_wrong) {
  auto r = semver_range::parse(">=1.0.0 <2 foo");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, error_kind::invalid_input);
  EXPECT_NE(r.error().message.find("foo"), std::string::npos) << r.error().message;
  auto e = semver_range::parse("");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("empty"), std::string::npos) << e.error().message;
}

TEST(semver_range, bounded_inputs) {
  // Exactly at the length bound parses; one byte more is refused.
  std::string ok_text = ">=1.0.0";
  ok_text.resize(limits::k_semver_range_max, ' ');
  EXPECT_TRUE(semver_range::parse(ok_text).ok());
  std::string long_text = ok_text + " ";
  EXPECT_FALSE(semver_range::parse(long_text).ok());

  // 32 OR groups are fine (Masterminds' MaxConstraintGroups), 33 are not.
  std::string groups = "1";
  for (std::size_t i = 1; i < limits::k_semver_range_groups_max; ++i) {
    groups += "||1";
  }
  EXPECT_TRUE(semver_range::parse(groups).ok());
  EXPECT_FALSE(semver_range::parse(groups + "||1").ok());

  // Comparator cap.
  std::string many;
  for (std::size_t i = 0; i <= limits::k_semver_range_comparators_max; ++i) {
    many += "1 ";
  }
  auto r = semver_range::parse(many);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("comparators"), std::string::npos) << r.error().message;

  // Inputs that make backtracking parsers slow are plain errors here.
  EXPECT_FALSE(semver_range::parse(std::string(500, '1') + "a").ok());
  EXPECT_FALSE(semver_range::parse(std::string(500, '-')).ok());
  std::string dots;
  for (int i = 0; i < 120; ++i) {
    dots += "1-a.";
  }
  EXPECT_FALSE(semver_range::parse(dots).ok());
}

struct version_row {
  const char* text;
  bool ok;
};

// TestNewVersion.
constexpr version_row k_new_version[] = {
    {"1.2.3", true},
    {"1.2.3-alpha.01", false},
    {"1.2.3+test.01", true},
    {"1.2.3-alpha.-1", true},
    {"v1.2.3", true},
    {"1.0", true},
    {"v1.0", true},
    {"1", true},
    {"v1", true},
    {"1.2.beta", false},
    {"v1.2.beta", false},
    {"foo", false},
    {"1.2-5", true},
    {"v1.2-5", true},
    {"1.2-beta.5", true},
    {"v1.2-beta.5", true},
    {"\n1.2", false},
    {"\nv1.2", false},
    {"1.2.0-x.Y.0+metadata", true},
    {"v1.2.0-x.Y.0+metadata", true},
    {"1.2.0-x.Y.0+metadata-width-hypen", true},
    {"v1.2.0-x.Y.0+metadata-width-hypen", true},
    {"1.2.3-rc1-with-hypen", true},
    {"v1.2.3-rc1-with-hypen", true},
    {"1.2.3.4", false},
    {"v1.2.3.4", false},
    {"1.2.2147483648", true},
    {"1.2147483648.3", true},
    {"2147483648.3.0", true},
    {"12.3.4.1234", false},
    {"12.23.4.1234", false},
    {"12.3.34.1234", false},
    {"20221209-update-renovatejson-v4", true},
};

TEST(semver_version, masterminds_new_version_table) {
  for (const auto& row : k_new_version) {
    EXPECT_EQ(parse_version(row.text).has_value(), row.ok) << row.text;
  }
}

TEST(semver_version, parts_and_string_form) {
  auto v = parse_version("1.2.3-beta.1+build.123");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, 1u);
  EXPECT_EQ(v->minor, 2u);
  EXPECT_EQ(v->patch, 3u);
  EXPECT_EQ(v->pre, "beta.1");
  EXPECT_EQ(v->metadata, "build.123");
  // TestCoerceString rows.
  EXPECT_EQ(to_string(*parse_version("v1.2-beta.5")), "1.2.0-beta.5");
  EXPECT_EQ(to_string(*parse_version("1")), "1.0.0");
  EXPECT_EQ(parse_version("v1.0")->original, "v1.0");
  EXPECT_FALSE(parse_version("18446744073709551616.0.0"));  // uint64 overflow
  EXPECT_FALSE(parse_version("V1.2.3"));                    // only a lower-case v
  EXPECT_FALSE(parse_version("1.2.3-"));
  EXPECT_FALSE(parse_version("1.2.3+"));
  EXPECT_FALSE(parse_version("1.2.3-a..b"));
  EXPECT_FALSE(parse_version(std::string(limits::k_semver_version_max + 1, '1')));
}

TEST(semver_version, flux_tag_parser_needs_three_parts) {
  // fluxcd/pkg/version.ParseVersion: SplitN(v, ".", 3) must give three parts.
  EXPECT_TRUE(parse_tag_version("1.2.3"));
  EXPECT_TRUE(parse_tag_version("v1.2.3"));
  EXPECT_TRUE(parse_tag_version("v2025.02.03-rc.1"));  // leading zeros tolerated
  EXPECT_TRUE(parse_tag_version("1.2-rc.1"));          // two dots anywhere count
  EXPECT_FALSE(parse_tag_version("1.2"));
  EXPECT_FALSE(parse_tag_version("1"));
  EXPECT_FALSE(parse_tag_version("latest"));
  EXPECT_FALSE(parse_tag_version("1.0.0.1"));
  EXPECT_FALSE(parse_tag_version("1.0.0p"));
  EXPECT_FALSE(parse_tag_version("b1.2.3"));
}

struct compare_row {
  const char* a;
  const char* b;
  int expected;
};

// TestCompare, then TestLessThan / TestGreaterThan / TestEqual expressed as comparisons.
constexpr compare_row k_compare[] = {
    {"1.2.3", "1.5.1", -1},
    {"2.2.3", "1.5.1", 1},
    {"2.2.3", "2.2.2", 1},
    {"3.2-beta", "3.2-beta", 0},
    {"1.3", "1.1.4", 1},
    {"4.2", "4.2-beta", 1},
    {"4.2-beta", "4.2", -1},
    {"4.2-alpha", "4.2-beta", -1},
    {"4.2-alpha", "4.2-alpha", 0},
    {"4.2-beta.2", "4.2-beta.1", 1},
    {"4.2-beta2", "4.2-beta1", 1},
    {"4.2-beta", "4.2-beta.2", -1},
    {"4.2-beta", "4.2-beta.foo", -1},
    {"4.2-beta.2", "4.2-beta", 1},
    {"4.2-beta.foo", "4.2-beta", 1},
    {"1.2+bar", "1.2+baz", 0},
    {"1.0.0-beta.4", "1.0.0-beta.-2", -1},
    {"1.0.0-beta.-2", "1.0.0-beta.-3", -1},
    {"1.0.0-beta.-3", "1.0.0-beta.5", 1},
    // TestGreaterThan
    {"3.2.0-beta.1", "3.2.0-beta.5", -1},
    {"3.2-beta.4", "3.2-beta.2", 1},
    {"7.43.0-SNAPSHOT.99", "7.43.0-SNAPSHOT.103", -1},
    {"7.43.0-SNAPSHOT.FOO", "7.43.0-SNAPSHOT.103", 1},
    {"7.43.0-SNAPSHOT.99", "7.43.0-SNAPSHOT.BAR", -1},
    // TestEqual
    {"3.2-beta+foo", "3.2-beta+bar", 0},
    // Semantic Versioning 2.0 item 11 example chain, and large numbers compared as numbers.
    {"1.0.0-alpha", "1.0.0-alpha.1", -1},
    {"1.0.0-alpha.1", "1.0.0-alpha.beta", -1},
    {"1.0.0-alpha.beta", "1.0.0-beta", -1},
    {"1.0.0-beta", "1.0.0-beta.2", -1},
    {"1.0.0-beta.2", "1.0.0-beta.11", -1},
    {"1.0.0-beta.11", "1.0.0-rc.1", -1},
    {"1.0.0-rc.1", "1.0.0", -1},
    {"10.0.0", "9.0.0", 1},
    {"1.10.0", "1.9.0", 1},
};

TEST(semver_version, masterminds_compare_table) {
  for (const auto& row : k_compare) {
    auto a = parse_version(row.a);
    auto b = parse_version(row.b);
    ASSERT_TRUE(a && b) << row.a << " " << row.b;
    EXPECT_EQ(compare_versions(*a, *b), row.expected) << row.a << " vs " << row.b;
    EXPECT_EQ(compare_versions(*b, *a), -row.expected) << row.b << " vs " << row.a;
  }
}

}  // namespace
}  // namespace ferry::rules
