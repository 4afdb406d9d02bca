#include "service/promotion/values.hpp"

#include <algorithm>
#include <vector>

#include "service/promotion/plan.hpp"
#include "service/rules/policy.hpp"

namespace ferry::promotion {

namespace {

// A marker's tag: a `:tag` marker's value, or the tag of a whole reference; empty otherwise.
std::string tag_of(const markers::marker& m) {
  if (m.field == markers::marker_field::tag) {
    return m.value;
  }
  if (m.field == markers::marker_field::whole) {
    return markers::parse_image_ref(m.value).tag;
  }
  return {};
}

template <typename F>
void for_each_marker(std::span<const markers::scanned_file> files, const rules::image_rule& rule,
                     const rules::environment& env, F f) {
  for (const auto& file : files) {
    if (!under_paths(file.path, env.paths)) {
      continue;
    }
    for (const auto& m : file.markers) {
      if (m.ns == rule.namespace_name && m.name == rule.name) {
        f(m);
      }
    }
  }
}

}  // namespace

std::vector<std::string> running_tags(std::span<const markers::scanned_file> files,
                                      const rules::image_rule& rule,
                                      const rules::environment& env) {
  std::vector<std::string> tags;
  for_each_marker(files, rule, env, [&](const markers::marker& m) {
    std::string tag = tag_of(m);
    if (!tag.empty() && std::find(tags.begin(), tags.end(), tag) == tags.end()) {
      tags.push_back(std::move(tag));
    }
  });
  return tags;
}

std::optional<running_value> running_value_of(std::span<const markers::scanned_file> files,
                                              const rules::image_rule& rule,
                                              const rules::environment& env) {
  const std::vector<std::string> tags = running_tags(files, rule, env);
  // Digests by the tag they were found with; a `:digest` marker names no tag (empty key).
  std::vector<std::pair<std::string, std::string>> digests;
  for_each_marker(files, rule, env, [&](const markers::marker& m) {
    if (m.field == markers::marker_field::whole) {
      const auto ref = markers::parse_image_ref(m.value);
      if (!ref.digest.empty()) {
        digests.emplace_back(ref.tag, ref.digest);
      }
    } else if (m.field == markers::marker_field::digest && !m.value.empty()) {
      digests.emplace_back(std::string(), m.value);
    }
  });
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
