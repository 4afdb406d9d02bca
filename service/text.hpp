#pragma once
// Small ASCII text helpers shared by every part of ferry (header-only: no library to link).
// ASCII only on purpose: header names, Kubernetes kinds, GitHub logins and image names are
// ASCII, and locale-dependent std::tolower must not decide a comparison.

#include <string>
#include <string_view>

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

}  // namespace ferry::text
