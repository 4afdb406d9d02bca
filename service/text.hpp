#pragma once
// Small ASCII text helpers shared by every part of ferry (header-only: no library to link).
// ASCII only on purpose: header names, Kubernetes kinds, GitHub logins and image names are
// ASCII, and locale-dependent std::tolower must not decide a comparison.

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

#include "service/limits.hpp"

namespace ferry::text {

constexpr char lower_char(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = lower_char(c);
  }
  return out;
}

inline std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return out;
}

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower_char(a[i]) != lower_char(b[i])) {
      return false;
    }
  }
  return true;
}

constexpr bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// A GitHub account (user or organisation): 1-39 letters, digits, hyphens and underscores (the
// `_shortcode` of Enterprise Managed Users), not starting with a hyphen. Refused before any name
// reaches a URL path or a directory (`../etc`, `-x`).
constexpr bool is_github_owner(std::string_view s) noexcept {
  return !s.empty() && s.size() <= limits::k_github_owner_max && s.front() != '-' &&
         std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alnum(c) || c == '-' || c == '_'; });
}

// A GitHub repository name: 1-100 letters, digits, '-', '_' and '.', never "." or "..".
constexpr bool is_github_repo_name(std::string_view s) noexcept {
  return !s.empty() && s.size() <= limits::k_github_repo_name_max && s != "." && s != ".." &&
         std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

constexpr bool is_hex_char(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

constexpr bool is_hex(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), is_hex_char);
}

// A full SHA-1 commit id: 40 hex digits (either case; git and GitHub write lower case).
constexpr std::size_t k_commit_sha_length = 40;
constexpr bool is_commit_sha(std::string_view s) noexcept {
  return s.size() == k_commit_sha_length && is_hex(s);
}

// How ferry abbreviates a commit id in names, messages and statuses: 12 digits, as Kubernetes
// names and GitHub's own long form do, so abbreviations stay unique in large repositories.
constexpr std::size_t k_short_sha_length = 12;
inline std::string short_sha(std::string_view sha) {
  return std::string(sha.substr(0, k_short_sha_length));
}

}  // namespace ferry::text
