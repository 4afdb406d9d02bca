#pragma once
// Flux setter markers: found, edited byte-for-byte, and shown as a `git diff`.
//
// A marker is Flux's line comment `# {"$imagepolicy": "NS:NAME"}` (whole image reference) or
// `NS:NAME:tag`, `NS:NAME:name`, `NS:NAME:digest`, written after a scalar on the same line
// (fluxcd/image-automation-controller, pkg/update: the setter comment is the line comment of
// the scalar node it follows). Everything here is a pure function over bytes except
// scan_tree, which reads a checkout.
//
// Which scalar a marker names: the last scalar before the comment on its line. In kyaml (which
// Flux's setters run on) a line comment belongs to the node it follows on that line, so in
// `- {name: app, newTag: v1} # {"$imagepolicy": "flux-system:app:tag"}` the marker names `v1`
// (closing brackets and commas between the scalar and the comment are looked through). A
// marker with no scalar before it, or on a block scalar header, is a problem, not a guess.
//
// Edits splice the new text into exactly the bytes of the marked scalar; every other byte
// (comments, quoting, indentation, CRLF, a missing final newline) stays as it was
// (STYLE.md, "Text edits"). yaml-cpp is used only to confirm that a file holding a marker is
// valid YAML and that the marked scalar really is a scalar node.

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "service/result.hpp"

namespace ferry::markers {

// Which part of the image a marker sets (the suffix after NS:NAME).
enum class marker_field { whole, tag, name, digest };
const char* to_string(marker_field f) noexcept;

// How the marked scalar is written; an edit keeps it.
enum class scalar_style { plain, single_quoted, double_quoted };

struct marker {
  std::string file;  // path in the repository, as given to scan_file
  int line = 0;      // 1-based line of the marker (the scalar and its comment share it)
  int column = 0;    // 1-based byte column where the scalar starts (its opening quote if quoted)
  std::string ns;
  std::string name;
  marker_field field = marker_field::whole;
  std::string value;  // the scalar's current text, unquoted and unescaped
  // Byte range of the scalar exactly as written, quotes included for quoted scalars: replacing
  // content[value_offset, value_offset + value_length) with a new scalar of the same style is
  // the whole edit.
  std::size_t value_offset = 0;
  std::size_t value_length = 0;
  scalar_style style = scalar_style::plain;
  bool in_flow = false;  // the scalar sits inside a flow collection ({...} or [...])
};

// A problem tied to a place in a file: malformed YAML, or a marker that cannot be used.
struct diagnostic {
  std::string file;
  int line = 0;    // 1-based; 0 when the problem concerns the whole file
  int column = 0;  // 1-based byte column; 0 when unknown
  std::string message;
};
// "file:line:col: message" (the SPEC's error format), or "file: message" without a place.
std::string to_string(const diagnostic& d);

struct file_scan {
  std::vector<marker> markers;       // in file order
  std::vector<diagnostic> problems;  // marker-shaped comments that name no usable scalar
};

// Finds the markers in one file. A file without the bytes `$imagepolicy` is not parsed at all
// (the fast path); a file with them must be valid YAML, else the error (kind invalid_input)
// carries "file:line:col: message". Problems are markers that cannot be edited: a marker
// comment with nothing before it, after a key with no value, inside a block scalar or a
// multi-line scalar, or with an unknown field such as `ns:app:version`.
result<file_scan> scan_file(std::string_view path_in_repo, std::string_view content);

// True when the content holds the bytes `$imagepolicy` (the fast path of scan_file).
bool may_contain_marker(std::string_view content) noexcept;

// A new image for the markers of one ImagePolicy (ns, name).
struct edit_request {
  std::string ns;
  std::string name;
  std::string repository;             // e.g. ghcr.io/org/app (the `:name` value)
  std::string tag;                    // e.g. v1.2.3 (the `:tag` value)
  std::optional<std::string> digest;  // sha256:<64 hex>, the event's digest
  bool pin_digest = false;            // whole references become repository:tag@digest
};

// One changed scalar, as Flux's update.Result records it; commit messages and PR bodies are
// built from these.
struct edit_record {
  std::string file;
  int line = 0;
  std::string old_value;  // unquoted
  std::string new_value;  // unquoted
  std::string ns;
  std::string name;
  marker_field field = marker_field::whole;
};

struct edit_outcome {
  std::string content;               // the new file content
  std::vector<edit_record> records;  // empty when nothing changed (content == input)
};

// Applies the requests to the markers of `content` (markers from scan_file of this very
// content; markers of other policies are left alone). Errors (invalid_input): a `:digest`
// marker, or a whole-reference marker with pin_digest, but no digest; a repository, tag or
// digest that is not a valid OCI reference part; markers that do not match the content.
// A marker whose value already equals the new one yields no record. The scalar keeps its
// style, with one exception taken from kyaml (IsYaml1_1NonString): a plain scalar whose new text
// would load as a number, bool or null in YAML 1.1 (a tag like 1.10 or 123) is written
// double-quoted so it stays a string.
result<edit_outcome> apply_edits(std::string_view content, std::span<const marker> markers,
                                 std::span<const edit_request> requests);
result<edit_outcome> apply_edits(std::string_view content, std::span<const marker> markers,
                                 const edit_request& request);

// An image reference split as the markers see it: a whole-reference value is
// repository[:tag][@digest]. The port of a registry host (host:5000/app) is not a tag.
struct image_ref {
  std::string repository;
  std::string tag;     // empty when absent
  std::string digest;  // empty when absent
};
image_ref parse_image_ref(std::string_view ref);

// OCI distribution spec: a tag is [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
bool is_valid_tag(std::string_view tag) noexcept;

// The markers of one file found by scan_tree, with the bytes they were found in (so `plan`
// edits exactly what was scanned).
struct scanned_file {
  std::string path;     // relative to the root, '/'-separated
  std::string content;  // the file's bytes
  std::vector<marker> markers;
};

struct tree_scan {
  std::vector<scanned_file> files;   // files with at least one marker, sorted by path
  std::vector<diagnostic> errors;    // unreadable or malformed files (skipped), sorted by path
  std::vector<diagnostic> problems;  // unusable markers in otherwise valid files
  std::size_t files_seen = 0;        // YAML files read (with or without markers)
};

// Walks root_dir for *.yaml, *.yml and kustomize's `Kustomization`, skipping `.git` and not
// following symbolic links. With path prefixes, only files equal to or under one of them
// (repository-relative, e.g. "clusters/staging") are read. Errors: root_dir unreadable, or a
// prefix that is absolute or climbs out with "..". A malformed file is reported in `errors`
// and skipped; the others are still scanned.
result<tree_scan> scan_tree(const std::string& root_dir,
                            const std::vector<std::string>& path_prefixes = {});

// One file's change for the diff.
struct file_change {
  std::string path;  // repository-relative
  std::string old_content;
  std::string new_content;
};

// A unified diff in `git diff` format (diff --git a/p b/p, --- a/p, +++ b/p, hunks with three
// lines of context, "\ No newline at end of file" where a side lacks its final newline, CRLF
// kept as content) accepted by `git apply`. No index line: git apply needs it only for
// --3way. Files whose contents are equal produce nothing.
std::string unified_diff(std::span<const file_change> changes);

}  // namespace ferry::markers
