// libFuzzer target: the group PR body's row parser (service/promotion/group_body.hpp), which
// reads bodies a person may have edited. Checks: every row it finds is within bounds, rows
// written from what it read parse back to the same keys and tags, and the body it rebuilds
// stays under GitHub's limit.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "service/limits.hpp"
#include "service/promotion/group_body.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::promotion;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto rows = parse_group_rows(body);
  if (rows.size() > ferry::limits::k_group_rows_max) {
    __builtin_trap();
  }
  std::vector<group_member> members;
  for (const auto& r : rows) {
    if (r.text.size() > ferry::limits::k_group_row_max || r.rule.empty() || r.tag.empty()) {
      __builtin_trap();
    }
    members.push_back(group_member{r.rule, r.image, {}, {r.tag}});
  }
  const auto merged = merge_group_rows(rows, members, {}, "staging");
  const std::string rebuilt = group_pr_body("staging", "train", merged, "", {});
  if (rebuilt.size() > ferry::limits::k_pr_body_max) {
    __builtin_trap();
  }
  const auto again = parse_group_rows(rebuilt);
  for (std::size_t i = 0; i < again.size() && i < merged.size(); ++i) {
    if (again[i].rule != merged[i].rule || again[i].tag != merged[i].tag) {
      __builtin_trap();
    }
  }
  (void)group_body_lists(body, "staging", "ghcr.io/o/app", "1.0.0");
  return 0;
}
