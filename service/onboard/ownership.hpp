#pragma once
// Who owns what after an onboarding pull request was merged (docs/onboarding.md "Updates"): ferry
// records, per generated file, every field it wrote (`.github/ferry-onboard/<app>.json`, the
// ownership record). An update is then a field-level three-way merge between that record (what
// ferry wrote last), the file in the infra repository now (what a person may have changed since)
// and the new conversion: a field a person left alone takes the new value; a field a person
// changed, added or removed is left as the person has it, and named in the PR body. The file is
// edited by splicing bytes, never re-emitted: comments and every other byte stay. Pure: no I/O.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/result.hpp"

namespace ferry::onboard {

// One line of a block-style YAML document, as ferry onboard writes them (one key or list item a
// line, two spaces of indentation) and as people keep them. `path` names the node: keys joined by
// '.', list items by `[key=value]` (their first key) or `[value]` (scalar items), so an item keeps
// its name when items are inserted before it; a second node with the same path gets `#2`.
struct yaml_entry {
  std::string path;
  std::string value;  // the scalar's text as written (quotes kept); empty for a parent key
  // The node this line sits in (a key's path, a list item's path, "" at the top), and the node
  // this line starts: its own path, or for an item's first key the item's path.
  std::string parent;
  std::string unit;
  std::size_t line_begin = 0;
  std::size_t line_end = 0;  // after the newline (or the end of the text)
  std::size_t value_begin = 0;
  std::size_t value_end = 0;
};

// The entries of `text` in order. Blank lines, comments and document markers are not entries; a
// block scalar (`|`, `>`) is one entry whose value is its lines.
std::vector<yaml_entry> yaml_entries(std::string_view text);

// What ferry wrote into one file: the bytes' SHA-256 (hex) and each entry's value by path.
struct recorded_file {
  std::string sha256;
  std::map<std::string, std::string> fields;
};
recorded_file record_of(std::string_view content);

struct ownership_record {
  std::string app;
  std::string source;   // owner/name of the application repository
  std::string compose;  // the compose file's path there
  std::string commit;   // the application commit converted last
  std::map<std::string, recorded_file> files;
  // Lines ferry added to files a person owns ("<path>: <entry>"): the rules file's image rules
  // and kustomization resources. A person who removes one keeps it removed.
  std::vector<std::string> spliced;
};

// The record as JSON, one field a line with sorted keys, so its diff reads well in a PR.
std::string write_record(const ownership_record& r);
// Reads a record; errors (invalid_input) name the file and what is wrong: not JSON, an unknown
// key, a value of the wrong type, a version other than 1, over limits::k_rules_file_max bytes.
result<ownership_record> read_record(std::string_view json, std::string_view file_name);

// The three-way merge of one generated file. `base`: what ferry wrote last (nullopt: no record
// of the file); `current`: the file in the infra repository now (nullopt: absent); `generated`:
// the new conversion's bytes.
struct merge_outcome {
  // What the file must hold; nullopt: absent (a file a person deleted stays deleted).
  std::optional<std::string> content;
  // What was left as the person has it, one line each: "spec.replicas (you set 3; ferry would
  // write 1)", or the whole file's reason.
  std::vector<std::string> left_alone;
};
merge_outcome merge_generated(const std::optional<recorded_file>& base,
                              const std::optional<std::string>& current,
                              std::string_view generated);

}  // namespace ferry::onboard
