#pragma once
// Semantic versions and ranges with the semantics Flux's ImagePolicy uses: Masterminds/semver v3
// (version.go, constraints.go) as called by fluxcd/pkg/version.ParseVersion. Users migrating
// from Flux keep their ranges and see the same tags chosen.
//
// Parsing is one left-to-right pass over a bounded input (service/limits.hpp), no regex and no
// backtracking, so a hostile range or tag costs time linear in its (capped) length.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/result.hpp"

namespace ferry::rules {

struct semver_version {
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  std::uint64_t patch = 0;
  std::string pre;       // pre-release identifiers, without the leading '-'
  std::string metadata;  // build metadata, without the leading '+'
  std::string original;  // the text parsed, as given (keeps a leading 'v')
};

// Masterminds' NewVersion: an optional 'v', one to three numeric parts (missing ones are 0,
// leading zeros tolerated), an optional pre-release and build metadata. "1.2-beta" is 1.2.0-beta.
std::optional<semver_version> parse_version(std::string_view text);

// Flux's tag parser (fluxcd/pkg/version.ParseVersion): the text must have at least three
// dot-separated parts, then parse_version applies. So "v1.2.3" and "1.2.3-rc.1" parse, "1.2" and
// "latest" do not.
std::optional<semver_version> parse_tag_version(std::string_view tag);

// Semantic Versioning 2.0 precedence (metadata ignored): <0, 0 or >0.
int compare_versions(const semver_version& a, const semver_version& b);

// The text form without a 'v' and with all three numbers ("1.2.0-beta").
std::string to_string(const semver_version& v);

// A Masterminds constraint string: comparators = != > < >= <= (and => =<), ~ ~> ^, bare versions,
// x/X/* wildcards, hyphen ranges "1.2 - 2.3", AND by whitespace or ',', OR by '||'.
// Pre-release versions only satisfy an AND group that names a pre-release in one of its
// comparators (Masterminds: "the existence of prereleases is checked at the group level").
class semver_range {
 public:
  static result<semver_range> parse(std::string_view text);

  bool contains(const semver_version& v) const;
  const std::string& text() const noexcept { return text_; }
  // Number of OR groups and comparators in each, for tests and diagnostics.
  std::vector<std::size_t> shape() const;

  enum class op : std::uint8_t {
    tilde_or_equal,
    not_equal,
    greater,
    less,
    greater_equal,
    less_equal,
    tilde,
    caret
  };
  struct comparator {
    op kind = op::tilde_or_equal;
    semver_version con;
    bool dirty = false;        // a wildcard or missing part somewhere
    bool minor_dirty = false;  // "1", "1.x": minor and patch are wildcards
    bool patch_dirty = false;  // "1.2", "1.2.x": patch is a wildcard
  };
  struct group {
    std::vector<comparator> all;
    bool has_pre = false;
  };

 private:
  std::vector<group> any_;
  std::string text_;
};

}  // namespace ferry::rules
