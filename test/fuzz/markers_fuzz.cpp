// libFuzzer target for the marker scanner and editor. For any bytes: scan_file does not
// crash; markers lie inside the content, on their line, in order and apart; apply_edits with
// valid values succeeds; the edited file scans to the same markers with the new values; and
// every byte outside the edited scalars is unchanged. The diff is built too (no crash).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "service/markers/markers.hpp"

namespace m = ferry::markers;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) {
    fail(what);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view content(reinterpret_cast<const char*>(data), size);
  auto scanned = m::scan_file("fuzz.yaml", content);
  if (!scanned) {
    return 0;
  }
  const auto& markers = scanned->markers;
  std::size_t prev_end = 0;
  for (const auto& mk : markers) {
    check(mk.value_length > 0, "empty range");
    check(mk.value_offset >= prev_end, "markers out of order or overlapping");
    check(mk.value_offset + mk.value_length <= size, "range past the end");
    const std::string_view raw = content.substr(mk.value_offset, mk.value_length);
    check(raw.find('\n') == std::string_view::npos, "range spans lines");
    prev_end = mk.value_offset + mk.value_length;
  }

  std::set<std::pair<std::string, std::string>> policies;
  for (const auto& mk : markers) {
    policies.insert({mk.ns, mk.name});
  }
  std::vector<m::edit_request> requests;
  for (const auto& [ns, name] : policies) {
    m::edit_request r;
    r.ns = ns;
    r.name = name;
    r.repository = "ex.io/o/app";
    r.tag = "v2";
    r.digest = "sha256:" + std::string(64, 'c');
    r.pin_digest = size > 0 && (data[0] & 1) != 0;
    requests.push_back(std::move(r));
  }
  auto edited = m::apply_edits(content, markers, requests);
  if (!edited.ok()) {
    // The one refusal of valid values: an edit that would make YAML read the file differently.
    check(edited.error().message.find("would change how YAML reads the file") != std::string::npos,
          "apply_edits refused valid values");
    return 0;
  }
  const std::string& out = edited->content;
  if (edited->records.empty()) {
    check(out == content, "no records but content changed");
    return 0;
  }

  // The edited file holds the same markers, now with the new values...
  auto rescanned = m::scan_file("fuzz.yaml", out);
  check(rescanned.ok(), "edited file no longer parses");
  check(rescanned->markers.size() == markers.size(), "marker count changed");
  // ...and outside the scalars' ranges the bytes are the original ones.
  std::size_t in_pos = 0;
  std::size_t out_pos = 0;
  for (std::size_t i = 0; i < markers.size(); ++i) {
    const auto& before = markers[i];
    const auto& after = rescanned->markers[i];
    check(before.line == after.line, "marker moved to another line");
    check(before.field == after.field && before.ns == after.ns && before.name == after.name,
          "marker identity changed");
    const std::size_t gap = before.value_offset - in_pos;
    check(after.value_offset - out_pos == gap, "bytes before a scalar changed length");
    check(content.substr(in_pos, gap) == std::string_view(out).substr(out_pos, gap),
          "bytes outside the edited scalar changed");
    const std::string want =
        before.field == m::marker_field::whole
            ? "ex.io/o/app:v2" +
                  std::string(requests[0].pin_digest ? "@sha256:" + std::string(64, 'c') : "")
        : before.field == m::marker_field::tag  ? "v2"
        : before.field == m::marker_field::name ? "ex.io/o/app"
                                                : "sha256:" + std::string(64, 'c');
    check(after.value == want, "edited scalar does not hold the new value");
    in_pos = before.value_offset + before.value_length;
    out_pos = after.value_offset + after.value_length;
  }
  check(content.substr(in_pos) == std::string_view(out).substr(out_pos), "tail changed");

  if (size < 64 * 1024) {
    const m::file_change change[] = {{"fuzz.yaml", std::string(content), out}};
    check(!m::unified_diff(change).empty(), "a change without a diff");
  }
  return 0;
}
