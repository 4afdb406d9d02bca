#pragma once
// UTF-8 validity (RFC 3629 section 4: no overlong forms, no surrogates, nothing above U+10FFFF),
// and a valid copy of untrusted text for places that must carry UTF-8: JSON log lines, commit
// statuses and comments (GitHub refuses a JSON body that is not UTF-8), Kubernetes objects.
// Header-only: the log, the rules parser and the apply library all use it.

#include <cstddef>
#include <string>
#include <string_view>

namespace ferry::service {

// The length of the valid UTF-8 sequence starting at s[i] (1 to 4), or 0 when the bytes there
// are not one.
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (c < 0x80) {
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    lo = c == 0xE0 ? 0xA0 : 0x80;  // no overlong three-byte forms
    hi = c == 0xED ? 0x9F : 0xBF;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    lo = c == 0xF0 ? 0x90 : 0x80;  // no overlong four-byte forms
    hi = c == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) {
    return 0;
  }
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
      return 0;
    }
  }
  return len;
}

// The byte offset of the first invalid sequence, or npos.
inline std::size_t first_invalid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    const auto len = utf8_sequence_length(s, i);
    if (len == 0) {
      return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

// `s` with every byte that does not start a valid sequence replaced by U+FFFD, as a browser
// decoding it would show it.
inline std::string to_valid_utf8(std::string_view s) {
  if (first_invalid_utf8(s) == std::string_view::npos) {
    return std::string(s);
  }
  std::string out;
  out.reserve(s.size() + 8);
  for (std::size_t i = 0; i < s.size();) {
    const auto len = utf8_sequence_length(s, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

}  // namespace ferry::service
