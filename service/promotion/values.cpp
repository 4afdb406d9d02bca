#include "service/promotion/values.hpp"

#include <algorithm>
#include <vector>

#include "service/promotion/plan.hpp"
#include "service/rules/policy.hpp"

namespace ferry::promotion {

std::optional<running_value> running_value_of(std::span<const markers::scanned_file> files,
                                              const rules::image_rule& rule,
                                              const rules::environment& env) {
  std::vector<std::string> tags;
  // Digests by the tag they were found with; a `:digest` marker names no tag (empty key).
  std::vector<std::pair<std::string, std::string>> digests;
  for (const auto& f : files) {
    if (!under_paths(f.path, env.paths)) {
      continue;
    }
    for (const auto& m : f.markers) {
      if (m.ns != rule.namespace_name || m.name != rule.name) {
        continue;
      }
      std::string tag;
      if (m.field == markers::marker_field::tag) {
        tag = m.value;
      } else if (m.field == markers::marker_field::whole) {
        const auto ref = markers::parse_image_ref(m.value);
        tag = ref.tag;
        if (!ref.digest.empty()) {
          digests.emplace_back(ref.tag, ref.digest);
        }
      } else if (m.field == markers::marker_field::digest && !m.value.empty()) {
        digests.emplace_back(std::string(), m.value);
      }
      if (!tag.empty() && std::find(tags.begin(), tags.end(), tag) == tags.end()) {
        tags.push_back(std::move(tag));
      }
    }
  }
  if (tags.empty()) {
    return std::nullopt;
  }
  std::optional<std::string> top;
  if (tags.size() == 1) {
    top = tags.front();
  } else {
    const auto h = rules::highest(rule.policy, tags);
    if (!h.value) {
      return std::nullopt;
    }
    top = h.value;
  }
  running_value out{*top, std::nullopt};
  // A whole reference with the winning tag says exactly which digest goes with it; a `:digest`
  // marker is next best.
  for (const auto& [tag, digest] : digests) {
    if (tag == out.tag) {
      out.digest = digest;
      return out;
    }
  }
  for (const auto& [tag, digest] : digests) {
    if (tag.empty()) {
      out.digest = digest;
      return out;
    }
  }
  return out;
}

}  // namespace ferry::promotion
