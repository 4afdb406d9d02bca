// libFuzzer target: semver range and version parsers. Input: "<range>\n<version a>\n<version b>".
// Checks the invariants a ranking relies on: compare is reflexive and antisymmetric, the text
// form of a version parses back to an equal version.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "service/limits.hpp"
#include "service/rules/semver.hpp"

namespace {

std::string_view next_line(std::string_view& rest) {
  const auto nl = rest.find('\n');
  const std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const std::string_view range_text = next_line(rest);
  const std::string_view a_text = next_line(rest);
  const std::string_view b_text = rest;

  using namespace ferry::rules;
  const auto range = semver_range::parse(range_text);
  const auto a = parse_version(a_text);
  const auto b = parse_version(b_text);
  (void)parse_tag_version(a_text);
  if (a) {
    if (compare_versions(*a, *a) != 0) {
      __builtin_trap();
    }
    // The text form may be longer than the input ("1.2-x" -> "1.2.0-x"): past the parser's
    // length cap it is refused, which is not a round-trip failure.
    const auto text = to_string(*a);
    const auto again = parse_version(text);
    if (text.size() <= ferry::limits::k_semver_version_max &&
        (!again || compare_versions(*again, *a) != 0)) {
      __builtin_trap();
    }
    if (range.ok()) {
      (void)range->contains(*a);
    }
  }
  if (a && b && compare_versions(*a, *b) != -compare_versions(*b, *a)) {
    __builtin_trap();
  }
  if (!range.ok() && range.error().message.empty()) {
    __builtin_trap();
  }
  return 0;
}
