#pragma once
// Shared by scan.cpp and tree.cpp only: scan_file with its error kept as a diagnostic, so the
// tree walk reports malformed files with their place instead of re-parsing a message.

#include <optional>
#include <string_view>

#include "service/markers/markers.hpp"

namespace ferry::markers::detail {

// Fills `out`; returns the file's error (malformed YAML) if there is one.
std::optional<diagnostic> scan_into(std::string_view path_in_repo, std::string_view content,
                                    file_scan& out);

}  // namespace ferry::markers::detail
