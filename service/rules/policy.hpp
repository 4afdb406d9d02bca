#pragma once
// Tag policies: which tags an image rule accepts and how they rank, with Flux ImagePolicy
// semantics (fluxcd/image-reflector-controller internal/policy: filter.go, semver.go,
// alphabetical.go, numerical.go) so users migrate without surprises, plus ferry's own `newest`.
//
// Everything here is pure: no I/O, no clock. `newest` needs a commit comparison that the caller
// makes (GitHub compare API); this file gives the pure parts around it.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "service/result.hpp"
#include "service/rules/semver.hpp"

namespace re2 {
class RE2;
}

namespace ferry::rules {

enum class sort_order { asc, desc };

struct newest_policy {};
struct semver_policy {
  semver_range range;
};
struct alphabetical_policy {
  sort_order order = sort_order::asc;
};
struct numerical_policy {
  sort_order order = sort_order::asc;
};
using policy_kind =
    std::variant<newest_policy, semver_policy, alphabetical_policy, numerical_policy>;

const char* policy_name(const policy_kind& kind) noexcept;

// filterTags: an RE2 pattern in Go regexp syntax, searched (not anchored) in the tag, and an
// optional `extract` template expanded as Go's Regexp.Expand does ($name, ${name}, $1, $$).
// The compiled pattern is immutable and shared between copies of the rules.
class tag_filter {
 public:
  static result<tag_filter> compile(std::string_view pattern, std::string_view extract);

  // The value the policy ranks: the expanded template, or the tag itself without one;
  // std::nullopt when the pattern does not match.
  std::optional<std::string> apply(std::string_view tag) const;

  const std::string& pattern() const noexcept { return pattern_; }
  const std::string& extract() const noexcept { return extract_; }

 private:
  std::string pattern_;
  std::string extract_;
  std::shared_ptr<const re2::RE2> re_;
};

struct tag_policy {
  std::optional<tag_filter> filter;
  policy_kind kind = newest_policy{};
};

// Go's Regexp.Expand over a match: `groups` are the submatches (index 0 the whole match,
// std::nullopt for a group that did not take part), `names` maps named groups to indices.
// Exposed for tests; tag_filter::apply uses it.
std::string expand_template(std::string_view tmpl,
                            std::span<const std::optional<std::string_view>> groups,
                            std::span<const std::pair<std::string, int>> names);

// Go's strconv.ParseFloat(s, 64) acceptance: decimal and hexadecimal (with p exponent) floats,
// an optional sign, "Inf"/"Infinity"/"NaN" in any case; overflow is an error. NaN is reported as
// not a number here: it has no order, so Flux's choice among NaN tags depends on list order.
std::optional<double> parse_number(std::string_view s);

// Extracted commit from a value under `newest`: 7 to 40 (SHA-1) or 64 (SHA-256) hex digits,
// returned lower-cased; std::nullopt otherwise.
std::optional<std::string> commit_from_value(std::string_view value);
// The same for a raw tag: the filter is applied first (SPEC: "a commit comes from the tag's
// extracted value when it is hex"); std::nullopt when filtered out or not hex.
std::optional<std::string> commit_from_tag(const tag_policy& policy, std::string_view tag);

// Whether a tag is a candidate at all: it passes the filter and, for semver, parses and satisfies
// the range; for numerical, parses as a number.
struct admission {
  bool admitted = false;
  std::string value;   // the extracted value (the tag itself without `extract`)
  std::string reason;  // why not, when not admitted
};
admission admit(const tag_policy& policy, std::string_view tag);

// How `newest` is ranked. The service compares source commits (compare_commits); `ferry plan`,
// offline, accepts any tag that passes the filter (accept_any, SPEC "Policies").
enum class newest_mode { compare_commits, accept_any };

enum class verdict { promote, reject, compare_commits };
struct rank_decision {
  verdict outcome = verdict::reject;
  std::string reason;  // always set: why it promotes, why not, or what the caller must compare
};

// No downgrades: does `candidate` rank strictly above `current` (both raw tags, filter applied
// here)? A current value the policy cannot rank (filtered out, not a version, outside the range)
// never blocks a candidate that it admits. Under `newest` with compare_commits the answer is
// verdict::compare_commits: the caller compares the commits (commit_from_value on both values,
// then decide_newest).
rank_decision compare(const tag_policy& policy, std::string_view candidate,
                      std::string_view current, newest_mode mode = newest_mode::compare_commits);

// Where an environment's markers disagree, the highest-ranked value is current. Values the policy
// does not admit are skipped (Flux ignores tags it cannot rank). Under `newest`, values can only
// be ranked by commits: if they are not all equal the answer is empty with ambiguous = true.
struct highest_result {
  std::optional<std::string> value;
  bool ambiguous = false;
  std::string reason;  // why there is no value, when there is none
};
highest_result highest(const tag_policy& policy, std::span<const std::string> values);

// The pure part of `newest` (SPEC "Policies"): GitHub's compare API status of the candidate's
// commit (head) against the current one (base): GET /repos/{o}/{r}/compare/{current}...{candidate}.
enum class compare_status { ahead, behind, identical, diverged, unknown };
compare_status parse_compare_status(std::string_view github_status) noexcept;
const char* to_string(compare_status status) noexcept;

struct newest_decision {
  bool promote = false;
  std::string reason;
};
// ahead promotes; behind and identical reject; diverged promotes only if the candidate was built
// from a sourceBranches branch; unknown (no commit found or compare failed) promotes: the newer
// delivery wins and the PR must say so (the reason says it).
newest_decision decide_newest(compare_status status, bool candidate_on_source_branch);

}  // namespace ferry::rules
