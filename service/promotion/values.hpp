#pragma once
// What an environment runs, read from its markers: the promotion chain's source of truth. When
// environment E's apply at commit C succeeds, the next environment is offered exactly what E's
// markers carry at C (SPEC "Apply, and the promotion chain"), not what some webhook said.

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "service/markers/markers.hpp"
#include "service/rules/rules.hpp"

namespace ferry::promotion {

struct running_value {
  std::string tag;
  std::optional<std::string> digest;  // sha256:<hex>, when a marker carries it
};

// Every distinct tag the `:tag` and whole-reference markers of `rule` under env's paths carry,
// in file order: what runs now, for "a candidate must rank above" (SPEC "What runs now").
std::vector<std::string> running_tags(std::span<const markers::scanned_file> files,
                                      const rules::image_rule& rule, const rules::environment& env);

// The value `env` runs for `rule` according to the markers in `files` under env's paths:
// - the tag: the highest-ranked one the `:tag` and whole-reference markers carry (SPEC "What
//   runs now": where markers disagree, the highest-ranked value is current); under `newest`,
//   which cannot rank without commits, only when every marker agrees;
// - the digest: from a `:digest` marker, or the whole reference that carries that tag with
//   "@sha256:..."; nullopt when no marker holds one.
// nullopt when no marker of the rule lies under env's paths, or the tags cannot be ranked.
std::optional<running_value> running_value_of(std::span<const markers::scanned_file> files,
                                              const rules::image_rule& rule,
                                              const rules::environment& env);

}  // namespace ferry::promotion
