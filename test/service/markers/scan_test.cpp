// scan_file and apply_edits on small inputs: what a marker records, which lines are problems,
// what the edits refuse.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "service/markers/markers.hpp"

namespace m = ferry::markers;

namespace {

m::file_scan scan_ok(std::string_view content) {
  auto r = m::scan_file("f.yaml", content);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : m::file_scan{};
}

m::edit_request app(std::string tag = "v2") {
  m::edit_request r;
  r.ns = "flux-system";
  r.name = "app";
  r.repository = "ghcr.io/org/app";
  r.tag = std::move(tag);
  return r;
}

// The markers fuzzer's find: yaml-cpp reads "!," then a value of invalid UTF-8 bytes as a tag and
// a scalar; written back as "v2", the value joins the tag and the marker is gone. apply_edits
// refuses that edit instead of writing a file YAML reads differently.
TEST(apply_edits, refuses_an_edit_that_would_change_how_yaml_reads_the_file) {
  std::ifstream in(
      std::string(FERRY_FIXTURES_DIR) + "/fuzz/markers_fuzz/regress-tag-against-invalid-utf8-value",
      std::ios::binary);
  std::stringstream raw;
  raw << in.rdbuf();
  const std::string content = raw.str();
  auto scanned = m::scan_file("fuzz.yaml", content);
  ASSERT_TRUE(scanned.ok()) << scanned.error().message;
  ASSERT_FALSE(scanned->markers.empty());
  m::edit_request r;
  r.ns = scanned->markers[0].ns;
  r.name = scanned->markers[0].name;
  r.repository = "ex.io/o/app";
  r.tag = "v2";
  auto edited = m::apply_edits(content, scanned->markers, r);
  ASSERT_FALSE(edited.ok());
  EXPECT_EQ(edited.error().kind, ferry::error_kind::invalid_input);
  EXPECT_NE(edited.error().message.find("would change how YAML reads the file"), std::string::npos)
      << edited.error().message;
}

TEST(scan_file, records_place_value_and_byte_range) {
  const std::string text =
      "a: 1\n"
      "image: ghcr.io/org/app:v1 # {\"$imagepolicy\": \"flux-system:app\"}\n"
      "tag: 'v1' # {\"$imagepolicy\": \"ns2:other:tag\"}\n"
      "d: \"sha256:00\" # {\"$imagepolicy\": \"flux-system:app:digest\"}\n"
      "n: ghcr.io/org/app # {\"$imagepolicy\": \"flux-system:app:name\"}\n";
  const auto s = scan_ok(text);
  ASSERT_EQ(s.markers.size(), 4u);
  EXPECT_TRUE(s.problems.empty());
  const auto& w = s.markers[0];
  EXPECT_EQ(w.file, "f.yaml");
  EXPECT_EQ(w.line, 2);
  EXPECT_EQ(w.column, 8);
  EXPECT_EQ(w.ns, "flux-system");
  EXPECT_EQ(w.name, "app");
  EXPECT_EQ(w.field, m::marker_field::whole);
  EXPECT_EQ(w.value, "ghcr.io/org/app:v1");
  EXPECT_EQ(text.substr(w.value_offset, w.value_length), "ghcr.io/org/app:v1");
  EXPECT_EQ(w.style, m::scalar_style::plain);

  const auto& t = s.markers[1];
  EXPECT_EQ(t.ns, "ns2");
  EXPECT_EQ(t.name, "other");
  EXPECT_EQ(t.field, m::marker_field::tag);
  EXPECT_EQ(t.value, "v1");
  EXPECT_EQ(text.substr(t.value_offset, t.value_length), "'v1'");
  EXPECT_EQ(t.style, m::scalar_style::single_quoted);

  EXPECT_EQ(s.markers[2].field, m::marker_field::digest);
  EXPECT_EQ(s.markers[2].value, "sha256:00");
  EXPECT_EQ(s.markers[2].style, m::scalar_style::double_quoted);
  EXPECT_EQ(s.markers[3].field, m::marker_field::name);
}

TEST(scan_file, files_without_the_needle_are_not_parsed) {
  // Not valid YAML, but without "$imagepolicy" it is never parsed: nothing to report.
  const auto r = m::scan_file("x.yaml", "a: [\n b: {\n");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->markers.empty());
  EXPECT_FALSE(m::may_contain_marker("a: $imagepolic"));
  EXPECT_TRUE(m::may_contain_marker("$$imagepolicy"));
}

TEST(scan_file, malformed_yaml_is_an_error_with_its_place) {
  const auto r = m::scan_file("apps/x.yaml", "a: b # {\"$imagepolicy\": \"ns:n\"}\nc: [unclosed\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ferry::error_kind::invalid_input);
  EXPECT_EQ(r.error().message.rfind("apps/x.yaml:", 0), 0u) << r.error().message;
  EXPECT_NE(r.error().message.find("malformed YAML"), std::string::npos);
}

TEST(scan_file, yaml_cpp_endless_documents_are_reported_not_looped) {
  // yaml-cpp 0.7 loops forever on a stray ',' (jbeder/yaml-cpp#1040); found by markers_fuzz.
  const auto r = m::scan_file(
      "x.yaml", "   spec:\n      containers:\n,      - a:v1 # {\"$imagepolicy\": \"ns:app\"}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "x.yaml:3:1: malformed YAML: unexpected character");
}

TEST(scan_file, markers_without_a_scalar_are_problems_not_dropped) {
  const std::string text =
      "# {\"$imagepolicy\": \"ns:full-line\"}\n"
      "key: # {\"$imagepolicy\": \"ns:no-value\"}\n"
      "script: | # {\"$imagepolicy\": \"ns:block-header\"}\n"
      "  echo hi # {\"$imagepolicy\": \"ns:inside-block\"}\n"
      "list:\n"
      "  - # {\"$imagepolicy\": \"ns:dash\"}\n"
      "t: v1 # {\"$imagepolicy\": \"ns:app:version\"}\n"
      "u: v1 # {\"$imagepolicy\": \"just-a-name\"}\n"
      "w: v1 # {\"$imagepolicy\" \"ns:app\"}\n"
      "ok: v1 # {\"$imagepolicy\": \"ns:app:tag\"}\n";
  const auto s = scan_ok(text);
  ASSERT_EQ(s.markers.size(), 1u);
  EXPECT_EQ(s.markers[0].line, 10);
  const int lines[] = {1, 2, 3, 4, 6, 7, 8, 9};
  ASSERT_EQ(s.problems.size(), std::size(lines));
  for (std::size_t i = 0; i < s.problems.size(); ++i) {
    EXPECT_EQ(s.problems[i].file, "f.yaml");
    EXPECT_EQ(s.problems[i].line, lines[i]) << s.problems[i].message;
    EXPECT_GT(s.problems[i].column, 0);
  }
  EXPECT_NE(s.problems[0].message.find("no scalar"), std::string::npos);
  EXPECT_NE(s.problems[2].message.find("block scalar"), std::string::npos);
  EXPECT_NE(s.problems[5].message.find("unknown field \"version\""), std::string::npos);
  EXPECT_EQ(m::to_string(s.problems[5]).rfind("f.yaml:7:7: ", 0), 0u)
      << m::to_string(s.problems[5]);
}

TEST(scan_file, needle_inside_scalars_and_prose_is_not_a_marker) {
  const auto s = scan_ok(
      "a: \"# {\\\"$imagepolicy\\\": \\\"ns:x\\\"}\"\n"
      "b: 'text # {\"$imagepolicy\": \"ns:x\"}'\n"
      "c: v1 # set with $imagepolicy markers\n"
      "d: plain#{\"$imagepolicy\": \"ns:x\"}\n");
  EXPECT_TRUE(s.markers.empty());
  EXPECT_TRUE(s.problems.empty());
}

TEST(scan_file, flow_collections_name_the_scalar_before_the_comment) {
  const std::string text =
      "- {name: app, newTag: v1} # {\"$imagepolicy\": \"ns:app:tag\"}\n"
      "- [a, b, 'c'] # {\"$imagepolicy\": \"ns:app:tag\"}\n"
      "- [\n"
      "    x, y, # {\"$imagepolicy\": \"ns:app:tag\"}\n"
      "  ]\n";
  const auto s = scan_ok(text);
  ASSERT_EQ(s.markers.size(), 3u) << (s.problems.empty() ? "" : s.problems[0].message);
  EXPECT_EQ(s.markers[0].value, "v1");
  EXPECT_TRUE(s.markers[0].in_flow);
  EXPECT_EQ(text.substr(s.markers[1].value_offset, s.markers[1].value_length), "'c'");
  EXPECT_EQ(s.markers[2].value, "y");
  EXPECT_EQ(text.substr(s.markers[2].value_offset, s.markers[2].value_length), "y");
}

TEST(scan_file, properties_and_document_markers) {
  const std::string text =
      "--- !!str ghcr.io/org/app:v1 # {\"$imagepolicy\": \"ns:app\"}\n"
      "---\n"
      "a: &anchor v1 # {\"$imagepolicy\": \"ns:app:tag\"}\n"
      "b: *anchor # {\"$imagepolicy\": \"ns:app:tag\"}\n";
  const auto s = scan_ok(text);
  ASSERT_EQ(s.markers.size(), 2u);
  EXPECT_EQ(s.markers[0].value, "ghcr.io/org/app:v1");
  EXPECT_EQ(s.markers[1].value, "v1");
  ASSERT_EQ(s.problems.size(), 1u);  // an alias is not a scalar that can be edited
  EXPECT_EQ(s.problems[0].line, 4);
}

TEST(scan_file, byte_order_mark_does_not_shift_columns) {
  const std::string text = "\xEF\xBB\xBFimage: app:v1 # {\"$imagepolicy\": \"ns:app\"}\n";
  const auto s = scan_ok(text);
  ASSERT_EQ(s.markers.size(), 1u);
  EXPECT_EQ(text.substr(s.markers[0].value_offset, s.markers[0].value_length), "app:v1");
}

TEST(apply_edits, records_each_change_and_keeps_other_policies) {
  const std::string text =
      "image: ghcr.io/org/app:v1 # {\"$imagepolicy\": \"flux-system:app\"}\n"
      "other: ghcr.io/org/other:v1 # {\"$imagepolicy\": \"flux-system:other\"}\n"
      "tag: v1 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n";
  const auto s = scan_ok(text);
  auto r = m::apply_edits(text, s.markers, app());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->content,
            "image: ghcr.io/org/app:v2 # {\"$imagepolicy\": \"flux-system:app\"}\n"
            "other: ghcr.io/org/other:v1 # {\"$imagepolicy\": \"flux-system:other\"}\n"
            "tag: v2 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n");
  ASSERT_EQ(r->records.size(), 2u);
  EXPECT_EQ(r->records[0].file, "f.yaml");
  EXPECT_EQ(r->records[0].line, 1);
  EXPECT_EQ(r->records[0].old_value, "ghcr.io/org/app:v1");
  EXPECT_EQ(r->records[0].new_value, "ghcr.io/org/app:v2");
  EXPECT_EQ(r->records[0].field, m::marker_field::whole);
  EXPECT_EQ(r->records[1].line, 3);
  EXPECT_EQ(r->records[1].field, m::marker_field::tag);
}

TEST(apply_edits, several_policies_in_one_pass) {
  const std::string text =
      "a: x/app:v1 # {\"$imagepolicy\": \"flux-system:app\"}\n"
      "b: x/other:v1 # {\"$imagepolicy\": \"flux-system:other\"}\n";
  const auto s = scan_ok(text);
  auto other = app("v3");
  other.name = "other";
  other.repository = "x/other";
  auto first = app("v2");
  first.repository = "x/app";
  const m::edit_request both[] = {first, other};
  auto r = m::apply_edits(text, s.markers, both);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->content,
            "a: x/app:v2 # {\"$imagepolicy\": \"flux-system:app\"}\n"
            "b: x/other:v3 # {\"$imagepolicy\": \"flux-system:other\"}\n");
  const m::edit_request twice[] = {first, first};
  EXPECT_FALSE(m::apply_edits(text, s.markers, twice).ok());
}

TEST(apply_edits, digest_markers_need_a_digest) {
  const std::string text = "d: sha256:00 # {\"$imagepolicy\": \"flux-system:app:digest\"}\n";
  const auto s = scan_ok(text);
  auto r = m::apply_edits(text, s.markers, app());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ferry::error_kind::invalid_input);
  EXPECT_NE(r.error().message.find("f.yaml:1"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("digest"), std::string::npos);

  auto req = app();
  req.digest = "sha256:" + std::string(64, 'b');
  auto ok = m::apply_edits(text, s.markers, req);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->content,
            "d: " + *req.digest + " # {\"$imagepolicy\": \"flux-system:app:digest\"}\n");
}

TEST(apply_edits, pin_digest_needs_a_digest_only_for_whole_references) {
  const std::string whole = "i: ghcr.io/org/app:v1 # {\"$imagepolicy\": \"flux-system:app\"}\n";
  const std::string tag = "t: v1 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n";
  auto req = app();
  req.pin_digest = true;
  EXPECT_FALSE(m::apply_edits(whole, scan_ok(whole).markers, req).ok());
  EXPECT_TRUE(m::apply_edits(tag, scan_ok(tag).markers, req).ok());
}

TEST(apply_edits, refuses_values_that_are_not_image_reference_parts) {
  const std::string text = "t: v1 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n";
  const auto s = scan_ok(text);
  for (const char* bad : {"", "v1 # x", "a'b", "-v1", "v1\n", "{v1}", "v1,v2"}) {
    EXPECT_FALSE(m::apply_edits(text, s.markers, app(bad)).ok()) << bad;
  }
  auto req = app();
  req.repository = "ghcr.io/org/app: x";
  EXPECT_FALSE(m::apply_edits(text, s.markers, req).ok());
  req = app();
  req.digest = "sha256";
  EXPECT_FALSE(m::apply_edits(text, s.markers, req).ok());
}

TEST(apply_edits, unchanged_values_produce_no_records) {
  const std::string text = "t: v2 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n";
  auto r = m::apply_edits(text, scan_ok(text).markers, app("v2"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->records.empty());
  EXPECT_EQ(r->content, text);
}

TEST(apply_edits, plain_values_that_would_not_load_as_strings_are_quoted) {
  const std::string text = "t: v1 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n";
  const auto s = scan_ok(text);
  for (const char* tag : {"1.10", "123", "1e3", "0x1F", "yes", "1_000"}) {
    auto r = m::apply_edits(text, s.markers, app(tag));
    ASSERT_TRUE(r.ok()) << tag;
    EXPECT_EQ(r->content,
              "t: \"" + std::string(tag) + "\" # {\"$imagepolicy\": \"flux-system:app:tag\"}\n");
  }
  for (const char* tag : {"1.2.3", "v1.10", "sha-123", "1.0.0-rc.1", "1e3x"}) {
    auto r = m::apply_edits(text, s.markers, app(tag));
    ASSERT_TRUE(r.ok()) << tag;
    EXPECT_EQ(r->content,
              "t: " + std::string(tag) + " # {\"$imagepolicy\": \"flux-system:app:tag\"}\n");
  }
}

TEST(apply_edits, markers_from_other_content_are_refused) {
  const std::string text = "t: 'v1' # {\"$imagepolicy\": \"flux-system:app:tag\"}\n";
  const auto s = scan_ok(text);
  EXPECT_FALSE(m::apply_edits("short", s.markers, app()).ok());
}

TEST(parse_image_ref, splits_repository_tag_and_digest) {
  const auto a = m::parse_image_ref("ghcr.io/org/app:v1@sha256:ab");
  EXPECT_EQ(a.repository, "ghcr.io/org/app");
  EXPECT_EQ(a.tag, "v1");
  EXPECT_EQ(a.digest, "sha256:ab");
  const auto b = m::parse_image_ref("localhost:5000/app");
  EXPECT_EQ(b.repository, "localhost:5000/app");
  EXPECT_EQ(b.tag, "");
  const auto c = m::parse_image_ref("app@sha256:cd");
  EXPECT_EQ(c.repository, "app");
  EXPECT_EQ(c.tag, "");
  EXPECT_EQ(c.digest, "sha256:cd");
  EXPECT_EQ(m::parse_image_ref("localhost:5000/app:v2").tag, "v2");
}

}  // namespace
