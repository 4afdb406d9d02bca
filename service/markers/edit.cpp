// Marker edits: the new text of each marked scalar, spliced into the original bytes.

#include <algorithm>
#include <map>
#include <utility>

#include "service/markers/markers.hpp"

namespace ferry::markers {

namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

// OCI image spec: digest = algorithm ":" encoded; algorithm = [a-z0-9]+([+._-][a-z0-9]+)*;
// encoded = [a-zA-Z0-9=_-]+.
bool valid_digest(std::string_view d) {
  const std::size_t colon = d.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == d.size()) {
    return false;
  }
  const std::string_view alg = d.substr(0, colon);
  const std::string_view enc = d.substr(colon + 1);
  bool prev_sep = true;
  for (char c : alg) {
    const bool sep = c == '+' || c == '.' || c == '_' || c == '-';
    if (!(is_lower_alnum(c) || sep) || (sep && prev_sep)) {
      return false;
    }
    prev_sep = sep;
  }
  if (prev_sep) {
    return false;
  }
  return std::all_of(enc.begin(), enc.end(),
                     [](char c) { return is_alnum(c) || c == '=' || c == '_' || c == '-'; });
}

// A repository as image references write it: [host[:port]/]path, path components of
// lower-case letters, digits and separators (OCI distribution spec), the host also upper-case.
// Conservative on purpose: what passes is safe in every scalar style.
bool valid_repository(std::string_view r) {
  if (r.empty() || r.size() > 255 || !is_alnum(r.front()) || !is_alnum(r.back())) {
    return false;
  }
  return std::all_of(r.begin(), r.end(), [](char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '-' || c == '/' || c == ':';
  });
}

bool all_digits(std::string_view s, bool allow_underscore = true) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (allow_underscore && c == '_');
  });
}

// Would a plain scalar with this text load as something other than a string (YAML 1.1 or 1.2
// core schema: null, bool, int, float, sexagesimal)? kyaml double-quotes such values when it
// sets a string (sigs.k8s.io/kustomize/kyaml: IsYaml1_1NonString, used by SetEntry and
// FormatNonStringStyle) so that a tag like 1.10 stays the string "1.10".
bool plain_is_non_string(std::string_view v) {
  static constexpr std::string_view k_words[] = {
      "~",   "null", "Null", "NULL", "y",    "Y",     "yes",   "Yes",   "YES",  "n",   "N",  "no",
      "No",  "NO",   "true", "True", "TRUE", "false", "False", "FALSE", "on",   "On",  "ON", "off",
      "Off", "OFF",  ".inf", ".Inf", ".INF", "+.inf", "-.inf", ".nan",  ".NaN", ".NAN"};
  if (v.empty()) {
    return true;
  }
  for (auto w : k_words) {
    if (v == w) {
      return true;
    }
  }
  std::string_view s = v;
  if (s[0] == '+' || s[0] == '-') {
    s.remove_prefix(1);
  }
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
    return true;  // 0x1f, 0o17, 0b101: conservative, any such tag gets quoted
  }
  // int / float: digits [. digits] [e[+-]digits], underscores allowed (YAML 1.1).
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t from = i;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_')) {
      ++i;
    }
    return i - from;
  };
  const std::size_t int_digits = digits();
  std::size_t frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    frac_digits = digits();
  }
  if (int_digits + frac_digits == 0) {
    return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    if (digits() == 0) {
      return false;
    }
  }
  if (i == s.size()) {
    return true;
  }
  // Sexagesimal (YAML 1.1): 1:20, 190:20:30.
  if (int_digits > 0 && frac_digits == 0 && s[i] == ':') {
    std::size_t from = i;
    while (from < s.size() && s[from] == ':') {
      std::size_t to = s.find(':', from + 1);
      if (to == std::string_view::npos) {
        to = s.size();
      }
      if (!all_digits(s.substr(from + 1, to - from - 1), false)) {
        return false;
      }
      from = to;
    }
    return true;
  }
  return false;
}

// The scalar text to write in the style the file uses. The inputs passed validation, so none
// holds a quote, a backslash, a blank or a flow indicator: quoting never needs escapes.
std::string render(std::string_view value, scalar_style style) {
  switch (style) {
    case scalar_style::single_quoted:
      return "'" + std::string(value) + "'";
    case scalar_style::double_quoted:
      return "\"" + std::string(value) + "\"";
    case scalar_style::plain:
      break;
  }
  if (plain_is_non_string(value)) {
    return "\"" + std::string(value) + "\"";
  }
  return std::string(value);
}

// The marker's range must hold a scalar of its style: markers come from scan_file of the same
// content, and a mismatch means the caller mixed contents up.
bool range_matches(std::string_view content, const marker& m) {
  if (m.value_length == 0 || m.value_offset > content.size() ||
      m.value_length > content.size() - m.value_offset) {
    return false;
  }
  const std::string_view raw = content.substr(m.value_offset, m.value_length);
  switch (m.style) {
    case scalar_style::plain:
      return raw.front() != '"' && raw.front() != '\'';
    case scalar_style::single_quoted:
      return raw.size() >= 2 && raw.front() == '\'' && raw.back() == '\'';
    case scalar_style::double_quoted:
      return raw.size() >= 2 && raw.front() == '"' && raw.back() == '"';
  }
  return false;
}

}  // namespace

// OCI distribution spec: a tag is [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
bool is_valid_tag(std::string_view t) noexcept {
  if (t.empty() || t.size() > 128 || !(is_alnum(t[0]) || t[0] == '_')) {
    return false;
  }
  return std::all_of(t.begin(), t.end(),
                     [](char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; });
}

image_ref parse_image_ref(std::string_view ref) {
  image_ref out;
  const std::size_t at = ref.find('@');
  if (at != std::string_view::npos) {
    out.digest = std::string(ref.substr(at + 1));
    ref = ref.substr(0, at);
  }
  // A tag follows the last ':' after the last '/'; a ':' before it is a registry port.
  const std::size_t slash = ref.rfind('/');
  const std::size_t colon = ref.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    out.tag = std::string(ref.substr(colon + 1));
    ref = ref.substr(0, colon);
  }
  out.repository = std::string(ref);
  return out;
}

result<edit_outcome> apply_edits(std::string_view content, std::span<const marker> markers,
                                 const edit_request& request) {
  return apply_edits(content, markers, std::span<const edit_request>(&request, 1));
}

result<edit_outcome> apply_edits(std::string_view content, std::span<const marker> markers,
                                 std::span<const edit_request> requests) {
  std::map<std::pair<std::string_view, std::string_view>, const edit_request*> by_policy;
  for (const auto& r : requests) {
    const std::string who = r.ns + ":" + r.name;
    if (!by_policy.emplace(std::pair<std::string_view, std::string_view>(r.ns, r.name), &r)
             .second) {
      return make_error(error_kind::invalid_input, "two edit requests for " + who);
    }
    if (!valid_repository(r.repository)) {
      return make_error(error_kind::invalid_input,
                        who + ": invalid image repository \"" + r.repository + "\"");
    }
    if (!is_valid_tag(r.tag)) {
      return make_error(error_kind::invalid_input, who + ": invalid tag \"" + r.tag + "\"");
    }
    if (r.digest && !valid_digest(*r.digest)) {
      return make_error(error_kind::invalid_input, who + ": invalid digest \"" + *r.digest + "\"");
    }
  }

  struct planned {
    const marker* m;
    std::string new_value;
  };
  std::vector<planned> edits;
  for (const auto& m : markers) {
    auto it = by_policy.find({std::string_view(m.ns), std::string_view(m.name)});
    if (it == by_policy.end()) {
      continue;
    }
    const edit_request& r = *it->second;
    const std::string where = m.file + ":" + std::to_string(m.line);
    if (!range_matches(content, m)) {
      return make_error(error_kind::internal,
                        where + ": marker does not match the content it is applied to");
    }
    std::string value;
    switch (m.field) {
      case marker_field::whole:
        value = r.repository + ":" + r.tag;
        if (r.pin_digest) {
          if (!r.digest) {
            return make_error(error_kind::invalid_input, where + ": pinDigest is set for " + r.ns +
                                                             ":" + r.name +
                                                             " but no digest was given");
          }
          value += "@" + *r.digest;
        }
        break;
      case marker_field::tag:
        value = r.tag;
        break;
      case marker_field::name:
        value = r.repository;
        break;
      case marker_field::digest:
        if (!r.digest) {
          return make_error(error_kind::invalid_input, where + ": a :digest marker for " + r.ns +
                                                           ":" + r.name +
                                                           " needs a digest and none was given");
        }
        value = *r.digest;
        break;
    }
    edits.push_back({&m, std::move(value)});
  }
  std::sort(edits.begin(), edits.end(), [](const planned& a, const planned& b) {
    return a.m->value_offset < b.m->value_offset;
  });
  for (std::size_t i = 1; i < edits.size(); ++i) {
    const marker& prev = *edits[i - 1].m;
    if (prev.value_offset + prev.value_length > edits[i].m->value_offset) {
      return make_error(
          error_kind::internal,
          edits[i].m->file + ":" + std::to_string(edits[i].m->line) + ": overlapping markers");
    }
  }

  edit_outcome out;
  out.content.reserve(content.size() + 64 * edits.size());
  std::size_t copied = 0;
  for (const auto& e : edits) {
    const marker& m = *e.m;
    if (m.value == e.new_value) {
      continue;  // already there: no edit, no record (nothing changed, nothing committed)
    }
    out.content.append(content.substr(copied, m.value_offset - copied));
    out.content.append(render(e.new_value, m.style));
    copied = m.value_offset + m.value_length;
    out.records.push_back({m.file, m.line, m.value, e.new_value, m.ns, m.name, m.field});
  }
  out.content.append(content.substr(copied));
  if (!out.records.empty()) {
    // The edited file must read as the original did, with the new values: same markers on the
    // same lines. yaml-cpp accepts some text where the new value would join what precedes it
    // (a tag written against a value of invalid UTF-8, "!,\xff..." becoming "!,v2"); such a
    // marker is refused rather than a file written that YAML reads differently (the fuzzer found
    // it).
    const auto& first = out.records.front();
    auto again = scan_file(first.file, out.content);
    // Every marker given (callers may pass a file's markers of some policies only) is still
    // there, on its line.
    bool same = again.ok();
    for (std::size_t i = 0; same && i < markers.size(); ++i) {
      const marker& a = markers[i];
      same = std::any_of(again->markers.begin(), again->markers.end(), [&](const marker& b) {
        return a.line == b.line && a.field == b.field && a.ns == b.ns && a.name == b.name;
      });
    }
    if (!same) {
      return make_error(error_kind::invalid_input,
                        first.file + ":" + std::to_string(first.line) +
                            ": editing this marker would change how YAML reads the file (a tag or "
                            "anchor written against the value?): edit it by hand");
    }
  }
  return out;
}

}  // namespace ferry::markers
