// Tag policies with Flux ImagePolicy semantics. Selection tables transcribed as data from
// fluxcd/image-reflector-controller internal/policy (alphabetical_test.go, numerical_test.go,
// semver_test.go, filter_test.go at the commits the search index holds: 60e1fb88, 1e4b1a0e,
// cbcad122); Go's Regexp.Expand rules from the regexp package documentation.

#include "service/rules/policy.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ferry::rules {
namespace {

tag_policy make(policy_kind kind, std::string_view pattern = "", std::string_view extract = "") {
  tag_policy p;
  p.kind = std::move(kind);
  if (!pattern.empty()) {
    auto f = tag_filter::compile(pattern, extract);
    EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
    if (f.ok()) {
      p.filter = std::move(f.value());
    }
  }
  return p;
}

tag_policy semver(std::string_view range, std::string_view pattern = "",
                  std::string_view extract = "") {
  auto r = semver_range::parse(range);
  EXPECT_TRUE(r.ok());
  return make(semver_policy{std::move(r.value())}, pattern, extract);
}

struct latest_row {
  const char* label;
  sort_order order;
  std::vector<std::string> tags;
  std::optional<std::string> expected;
};

TEST(policy_highest, flux_alphabetical_table) {
  const std::vector<latest_row> rows = {
      {"Ubuntu CalVer", sort_order::asc, {"16.04", "16.04.1", "16.10", "20.04", "20.10"}, "20.10"},
      {"Ubuntu CalVer descending",
       sort_order::desc,
       {"16.04", "16.04.1", "16.10", "20.04", "20.10"},
       "16.04"},
      {"Ubuntu code names",
       sort_order::asc,
       {"xenial", "yakkety", "zesty", "artful", "bionic"},
       "zesty"},
      {"Ubuntu code names descending",
       sort_order::desc,
       {"xenial", "yakkety", "zesty", "artful", "bionic"},
       "artful"},
      {"Timestamps",
       sort_order::asc,
       {"1606234201", "1606364286", "1606334092", "1606334284", "1606334201"},
       "1606364286"},
      {"Timestamps desc",
       sort_order::desc,
       {"1606234201", "1606364286", "1606334092", "1606334284", "1606334201"},
       "1606234201"},
      {"Timestamps with prefix",
       sort_order::asc,
       {"rel-1606234201", "rel-1606364286", "rel-1606334092", "rel-1606334284", "rel-1606334201"},
       "rel-1606364286"},
      {"Empty version list", sort_order::asc, {}, std::nullopt},
      // ferry: byte order, so upper case sorts before lower case, as Go's string compare does.
      {"byte order", sort_order::asc, {"b", "B", "a"}, "b"},
  };
  for (const auto& row : rows) {
    const auto p = make(alphabetical_policy{row.order});
    EXPECT_EQ(highest(p, row.tags).value, row.expected) << row.label;
  }
}

TEST(policy_highest, flux_numerical_table) {
  const std::vector<latest_row> rows = {
      {"With unordered list of integers ascending",
       sort_order::asc,
       {"-62", "-88", "73", "72", "15", "16", "15", "29", "-33", "-91"},
       "73"},
      {"With unordered list of integers descending",
       sort_order::desc,
       {"5", "-8", "-78", "25", "70", "-4", "80", "92", "-20", "-24"},
       "-78"},
      {"With unordered list of floats ascending",
       sort_order::asc,
       {"47.40896403322944", "-27.8520927455902", "-27.930666514224427", "-31.352485948094568",
        "-50.41072694704882", "-21.962849842263736", "24.71884721436865", "-39.99177354004344",
        "53.47333823144817", "3.2008658570411086"},
       "53.47333823144817"},
      {"With unordered list of floats descending",
       sort_order::desc,
       {"-65.27202780220686", "57.82948329142309", "22.40184684363291", "-86.36934305697784",
        "-90.29082099756083", "-12.041712603564264", "77.70488240399305", "-38.98425003883552",
        "16.06867070412028", "53.735674335181216"},
       "-90.29082099756083"},
      {"With Unix Timestamps ascending",
       sort_order::asc,
       {"1606234201", "1606364286", "1606334092", "1606334284", "1606334201"},
       "1606364286"},
      {"With Unix Timestamps descending",
       sort_order::desc,
       {"1606234201", "1606364286", "1606334092", "1606334284", "1606334201"},
       "1606234201"},
      {"With single value ascending", sort_order::asc, {"1"}, "1"},
      {"With single value descending", sort_order::desc, {"1"}, "1"},
      // Flux ignores tags that do not parse as numbers (the brief; older Flux failed instead).
      {"With invalid numerical value", sort_order::asc, {"0", "1a", "b"}, "0"},
      {"Only invalid values", sort_order::asc, {"1a", "b"}, std::nullopt},
      {"Empty version list", sort_order::asc, {}, std::nullopt},
  };
  for (const auto& row : rows) {
    const auto p = make(numerical_policy{row.order});
    EXPECT_EQ(highest(p, row.tags).value, row.expected) << row.label;
  }
}

TEST(policy_highest, flux_semver_table) {
  struct row {
    const char* label;
    const char* range;
    std::vector<std::string> tags;
    std::optional<std::string> expected;
  };
  const std::vector<row> rows = {
      {"Regular", "1.0.x", {"1.0.0", "1.0.0.1", "1.0.0p", "1.0.1", "1.2.0", "0.1.0"}, "1.0.1"},
      {"Regular with prefix", "1.0.x", {"v1.2.3", "v1.0.0", "v0.1.0"}, "v1.0.0"},
      {"With invalid prefix", "1.0.x", {"b1.2.3", "b1.0.0", "b0.1.0"}, std::nullopt},
      {"With empty list", "1.0.x", {}, std::nullopt},
      {"With non-matching version list", "1.0.x", {"1.2.0"}, std::nullopt},
      // ferry: pre-releases only where the range asks for them.
      {"pre-release excluded", ">=1.0.0", {"1.0.0", "1.1.0-rc.1"}, "1.0.0"},
      {"pre-release included", ">=1.0.0-0", {"1.0.0", "1.1.0-rc.1"}, "1.1.0-rc.1"},
      {"two-part tags ignored", "*", {"1.9", "1.2.0"}, "1.2.0"},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(highest(semver(r.range), r.tags).value, r.expected) << r.label;
  }
}

TEST(tag_filter, flux_filter_table) {
  // filter_test.go: no pattern keeps tags; a pattern filters; extract rewrites.
  const std::vector<std::string> tags = {"ver1", "ver2", "ver3", "rel1"};
  auto plain = tag_filter::compile("^ver", "");
  ASSERT_TRUE(plain.ok());
  std::vector<std::string> kept;
  for (const auto& t : tags) {
    if (auto v = plain->apply(t)) {
      kept.push_back(*v);
    }
  }
  EXPECT_EQ(kept, (std::vector<std::string>{"ver1", "ver2", "ver3"}));

  auto group = tag_filter::compile(R"(ver(\d+))", "$1");
  ASSERT_TRUE(group.ok());
  kept.clear();
  for (const auto& t : tags) {
    if (auto v = group->apply(t)) {
      kept.push_back(*v);
    }
  }
  EXPECT_EQ(kept, (std::vector<std::string>{"1", "2", "3"}));
}

TEST(tag_filter, searches_unanchored_and_extracts_named_groups) {
  auto f = tag_filter::compile("^sha-(?P<sha>[a-f0-9]+)$", "$sha");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->apply("sha-0123abc"), "0123abc");
  EXPECT_EQ(f->apply("sha-XYZ"), std::nullopt);
  EXPECT_EQ(f->apply("main-sha-0123abc"), std::nullopt);

  auto ts = tag_filter::compile(R"(main-[a-f0-9]+-(?P<ts>[0-9]+))", "${ts}");
  ASSERT_TRUE(ts.ok());
  EXPECT_EQ(ts->apply("x-main-abc12-1700000000-y"), "1700000000");  // not anchored
}

TEST(tag_filter, rejects_bad_patterns_and_unknown_groups) {
  auto bad = tag_filter::compile("^sha-(", "");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("invalid regular expression"), std::string::npos);

  auto unknown = tag_filter::compile("^sha-(?P<sha>[a-f0-9]+)$", "$hash");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("\"hash\""), std::string::npos) << unknown.error().message;
  EXPECT_NE(unknown.error().message.find("sha"), std::string::npos);

  auto number = tag_filter::compile("^v(\\d+)$", "$2");
  ASSERT_FALSE(number.ok());
  EXPECT_NE(number.error().message.find("$2"), std::string::npos) << number.error().message;

  EXPECT_FALSE(tag_filter::compile(std::string(2000, 'a'), "").ok());
  // Backreferences are not RE2 (nor Go) syntax.
  EXPECT_FALSE(tag_filter::compile("(a)\\1", "").ok());
}

TEST(expand_template, go_regexp_expand_rules) {
  // Groups: 0 = whole "ab-12", 1 = "ab" (named "name"), 2 = did not match, 3 = "12" (named "n_1").
  const std::vector<std::optional<std::string_view>> groups = {"ab-12", "ab", std::nullopt, "12"};
  const std::vector<std::pair<std::string, int>> names = {{"name", 1}, {"n_1", 3}};
  struct row {
    const char* tmpl;
    const char* expected;
  };
  const row rows[] = {
      {"$name", "ab"},      {"${name}", "ab"},
      {"$1", "ab"},         {"${1}", "ab"},
      {"$0", "ab-12"},      {"$2", ""},   // group that did not take part
      {"$9", ""},                         // out of range
      {"$1x", ""},                        // Go: $1x is ${1x}, an unknown name
      {"${1}x", "abx"},     {"$$", "$"},  // literal dollar
      {"a$$b", "a$b"},      {"$", "$"},   // malformed: kept
      {"${name", "${name"},               // missing brace: '$' kept, the rest is text
      {"$-", "$-"},         {"$01", ""},  // leading zero: a name, not a number
      {"$n_1", "12"},       {"v$name.$n_1", "vab.12"},
      {"plain", "plain"},   {"", ""},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(expand_template(r.tmpl, groups, names), r.expected) << r.tmpl;
  }
}

TEST(parse_number, go_parse_float_syntax) {
  EXPECT_EQ(parse_number("42"), 42.0);
  EXPECT_EQ(parse_number("-42"), -42.0);
  EXPECT_EQ(parse_number("+1.5"), 1.5);
  EXPECT_EQ(parse_number(".5"), 0.5);
  EXPECT_EQ(parse_number("5."), 5.0);
  EXPECT_EQ(parse_number("1e3"), 1000.0);
  EXPECT_EQ(parse_number("1E-2"), 0.01);
  EXPECT_EQ(parse_number("007"), 7.0);
  EXPECT_EQ(parse_number("0x1p-2"), 0.25);
  EXPECT_TRUE(parse_number("Inf").has_value());
  EXPECT_TRUE(parse_number("-infinity").has_value());
  EXPECT_FALSE(parse_number("NaN"));
  EXPECT_FALSE(parse_number("0x10"));  // Go needs a p exponent on hex floats
  EXPECT_FALSE(parse_number("1_000"));
  EXPECT_FALSE(parse_number("1e"));
  EXPECT_FALSE(parse_number(" 1"));
  EXPECT_FALSE(parse_number("1 "));
  EXPECT_FALSE(parse_number("1a"));
  EXPECT_FALSE(parse_number(""));
  EXPECT_FALSE(parse_number("."));
  EXPECT_FALSE(parse_number("1e400"));  // out of range: Go's ErrRange
}

TEST(policy_compare, no_downgrades_with_reasons) {
  struct row {
    const char* label;
    tag_policy policy;
    const char* candidate;
    const char* current;
    verdict expected;
    const char* reason_part;
  };
  const std::vector<row> rows = {
      {"semver up", semver(">=1.0.0 <2"), "1.4.0", "1.2.3", verdict::promote, "above"},
      {"semver down", semver(">=1.0.0 <2"), "1.2.3", "1.4.0", verdict::reject,
       "\"1.2.3\" is not above \"1.4.0\" (semver)"},
      {"semver equal version", semver("*"), "v1.2.3", "1.2.3", verdict::reject, "ranks equal"},
      {"semver out of range", semver(">=1.0.0 <2"), "2.0.0", "1.4.0", verdict::reject,
       "does not satisfy range \">=1.0.0 <2\""},
      {"semver not a version", semver("*"), "latest", "1.0.0", verdict::reject,
       "not a semantic version"},
      {"current not ranked", semver(">=1.0.0 <2"), "1.1.0", "latest", verdict::promote,
       "current value \"latest\" is not ranked"},
      {"same tag", semver("*"), "1.0.0", "1.0.0", verdict::reject, "already the current value"},
      {"filtered", make(newest_policy{}, "^sha-[a-f0-9]+$"), "main", "sha-abc1234", verdict::reject,
       "filtered out by pattern \"^sha-[a-f0-9]+$\""},
      {"newest needs commits", make(newest_policy{}, "^sha-(?P<sha>[a-f0-9]+)$", "$sha"),
       "sha-bbbbbbb", "sha-aaaaaaa", verdict::compare_commits, "source commits"},
      {"numerical asc", make(numerical_policy{sort_order::asc}), "10", "9", verdict::promote,
       "(numerical, asc)"},
      {"numerical desc", make(numerical_policy{sort_order::desc}), "10", "9", verdict::reject,
       "\"10\" is not above \"9\" (numerical, desc)"},
      {"alphabetical asc", make(alphabetical_policy{}), "b", "a", verdict::promote,
       "(alphabetical, asc)"},
      {"alphabetical desc", make(alphabetical_policy{sort_order::desc}), "b", "a", verdict::reject,
       "(alphabetical, desc)"},
      {"extract then semver", semver("^1", "^v(?P<v>.*)-linux$", "$v"), "v1.3.0-linux",
       "v1.2.0-linux", verdict::promote, "\"1.3.0\" is above \"1.2.0\""},
      {"too long", semver("*"),
       "1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
       "1.0.0", verdict::reject, "longer than 128"},
  };
  for (const auto& r : rows) {
    const auto d = compare(r.policy, r.candidate, r.current);
    EXPECT_EQ(d.outcome, r.expected) << r.label << ": " << d.reason;
    EXPECT_NE(d.reason.find(r.reason_part), std::string::npos) << r.label << ": " << d.reason;
  }
}

TEST(policy_compare, offline_plan_accepts_any_newest_tag) {
  const auto p = make(newest_policy{}, "^sha-[a-f0-9]+$");
  EXPECT_EQ(compare(p, "sha-aaaaaaa", "sha-bbbbbbb", newest_mode::accept_any).outcome,
            verdict::promote);
  // The filter still applies offline.
  EXPECT_EQ(compare(p, "main", "sha-bbbbbbb", newest_mode::accept_any).outcome, verdict::reject);
}

TEST(policy_highest, newest_values_rank_only_when_equal) {
  const auto p = make(newest_policy{});
  const std::vector<std::string> same = {"sha-a", "sha-a"};
  EXPECT_EQ(highest(p, same).value, "sha-a");
  const std::vector<std::string> differ = {"sha-a", "sha-b"};
  const auto h = highest(p, differ);
  EXPECT_FALSE(h.value);
  EXPECT_TRUE(h.ambiguous);
  EXPECT_NE(h.reason.find("source commits"), std::string::npos);
}

TEST(policy_highest, markers_that_disagree) {
  const auto p = semver(">=1.0.0");
  const std::vector<std::string> values = {"1.2.0", "latest", "1.10.0", "1.9.9"};
  EXPECT_EQ(highest(p, values).value, "1.10.0");
}

TEST(newest, commit_from_value) {
  EXPECT_EQ(commit_from_value("0123abc"), "0123abc");
  EXPECT_EQ(commit_from_value("0123ABCDEF"), "0123abcdef");
  EXPECT_EQ(commit_from_value(std::string(40, 'a')), std::string(40, 'a'));
  EXPECT_EQ(commit_from_value(std::string(64, 'b')), std::string(64, 'b'));
  EXPECT_FALSE(commit_from_value("012345"));  // too short to name a commit
  EXPECT_FALSE(commit_from_value(std::string(41, 'a')));
  EXPECT_FALSE(commit_from_value("sha-0123abc"));
  EXPECT_FALSE(commit_from_value("0123abg"));
}

TEST(newest, commit_from_tag_applies_the_filter) {
  const auto p = make(newest_policy{}, "^sha-(?P<sha>[a-f0-9]+)$", "$sha");
  EXPECT_EQ(commit_from_tag(p, "sha-0123abc"), "0123abc");
  EXPECT_FALSE(commit_from_tag(p, "v1.2.3"));
  EXPECT_FALSE(commit_from_tag(p, "sha-0123"));  // too short
  EXPECT_EQ(commit_from_tag(make(newest_policy{}), "0123abcd"), "0123abcd");
  EXPECT_FALSE(commit_from_tag(make(newest_policy{}), "sha-0123abcd"));
}

TEST(newest, decision_table) {
  struct row {
    compare_status status;
    bool on_branch;
    bool promote;
  };
  const row rows[] = {
      {compare_status::ahead, false, true},      {compare_status::ahead, true, true},
      {compare_status::behind, false, false},    {compare_status::behind, true, false},
      {compare_status::identical, false, false}, {compare_status::identical, true, false},
      {compare_status::diverged, false, false},  {compare_status::diverged, true, true},
      {compare_status::unknown, false, true},    {compare_status::unknown, true, true},
  };
  for (const auto& r : rows) {
    const auto d = decide_newest(r.status, r.on_branch);
    EXPECT_EQ(d.promote, r.promote) << to_string(r.status) << " " << r.on_branch;
    EXPECT_FALSE(d.reason.empty());
  }
  EXPECT_NE(decide_newest(compare_status::unknown, false).reason.find("newer delivery wins"),
            std::string::npos);
  EXPECT_EQ(parse_compare_status("ahead"), compare_status::ahead);
  EXPECT_EQ(parse_compare_status("behind"), compare_status::behind);
  EXPECT_EQ(parse_compare_status("identical"), compare_status::identical);
  EXPECT_EQ(parse_compare_status("diverged"), compare_status::diverged);
  EXPECT_EQ(parse_compare_status("Ahead"), compare_status::unknown);
  EXPECT_EQ(parse_compare_status(""), compare_status::unknown);
}

}  // namespace
}  // namespace ferry::rules
