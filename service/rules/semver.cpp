#include "service/rules/semver.hpp"

#include <array>

#include "service/limits.hpp"

namespace ferry::rules {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_ident_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

// Go's \s, the separator Masterminds' constraint scanner skips: space, \t, \n, \f, \r.
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

std::string_view skip_space(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && is_space(s[i])) {
    ++i;
  }
  return s.substr(i);
}

bool all_digits(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!is_digit(c)) {
      return false;
    }
  }
  return true;
}

// strconv.ParseUint(s, 10, 64): digits only, no overflow.
std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (!all_digits(s)) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  for (char c : s) {
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return std::nullopt;
    }
    v = v * 10 + d;
  }
  return v;
}

// Index just past the dot-separated identifiers ([0-9A-Za-z-]+) starting at i; i if none.
std::size_t scan_identifiers(std::string_view s, std::size_t i) {
  std::size_t end = i;
  for (;;) {
    const std::size_t start = end;
    while (end < s.size() && is_ident_char(s[end])) {
      ++end;
    }
    if (end == start) {
      return start;
    }
    if (end + 1 < s.size() && s[end] == '.' && is_ident_char(s[end + 1])) {
      ++end;
      continue;
    }
    return end;
  }
}

// Semantic Versioning 2.0 item 9: numeric pre-release identifiers have no leading zeros
// (Masterminds' validatePrerelease, ErrSegmentStartsZero).
bool valid_prerelease(std::string_view pre) {
  std::size_t start = 0;
  while (start <= pre.size()) {
    std::size_t dot = pre.find('.', start);
    if (dot == std::string_view::npos) {
      dot = pre.size();
    }
    const std::string_view part = pre.substr(start, dot - start);
    if (part.empty()) {
      return false;
    }
    if (all_digits(part) && part.size() > 1 && part[0] == '0') {
      return false;
    }
    start = dot + 1;
  }
  return true;
}

// Masterminds comparePrePart: numeric identifiers compare as numbers and rank below
// alphanumeric ones; a missing identifier ranks below any present one.
int compare_pre_part(std::string_view s, std::string_view o) {
  if (s == o) {
    return 0;
  }
  if (s.empty()) {
    return -1;
  }
  if (o.empty()) {
    return 1;
  }
  const auto si = parse_u64(s);
  const auto oi = parse_u64(o);
  if (!si && !oi) {
    return s > o ? 1 : -1;
  }
  if (!oi) {
    return -1;  // s is a number, o is not
  }
  if (!si) {
    return 1;
  }
  return *si > *oi ? 1 : (*si < *oi ? -1 : 0);
}

int compare_prerelease(std::string_view a, std::string_view b) {
  std::size_t ia = 0;
  std::size_t ib = 0;
  // Walk both identifier lists in step; one that ends first yields empty parts.
  while (ia <= a.size() || ib <= b.size()) {
    std::string_view pa;
    std::string_view pb;
    if (ia <= a.size()) {
      std::size_t d = a.find('.', ia);
      d = d == std::string_view::npos ? a.size() : d;
      pa = a.substr(ia, d - ia);
      ia = d + 1;
    }
    if (ib <= b.size()) {
      std::size_t d = b.find('.', ib);
      d = d == std::string_view::npos ? b.size() : d;
      pb = b.substr(ib, d - ib);
      ib = d + 1;
    }
    if (const int c = compare_pre_part(pa, pb); c != 0) {
      return c;
    }
  }
  return 0;
}

int cmp_u64(std::uint64_t a, std::uint64_t b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

bool less_than(const semver_version& a, const semver_version& b) {
  return compare_versions(a, b) < 0;
}

// --- constraint scanning (Masterminds constraints.go, scanConstraint and friends) -----------

bool is_seg_char(char c) {
  // Digits and wildcards; Masterminds also lets '|' through here and rejects it later when the
  // segment is checked for being numeric.
  return is_digit(c) || c == 'x' || c == 'X' || c == '*' || c == '|';
}

bool is_x(std::string_view s) {
  return s == "x" || s == "X" || s == "*";
}

struct scanned_version {
  std::array<std::string_view, 3> segs{};
  int n = 0;
  std::string_view pre;
  std::string_view metadata;
  std::string_view text;  // the whole version text scanned
  std::string_view rest;
};

std::optional<scanned_version> scan_constraint_version(std::string_view s) {
  scanned_version out;
  std::size_t i = 0;
  if (i < s.size() && s[i] == 'v') {
    ++i;
  }
  for (;;) {
    const std::size_t start = i;
    while (i < s.size() && is_seg_char(s[i])) {
      ++i;
    }
    if (i == start) {
      return std::nullopt;
    }
    out.segs[static_cast<std::size_t>(out.n)] = s.substr(start, i - start);
    ++out.n;
    if (out.n == 3 || i + 1 >= s.size() || s[i] != '.' || !is_seg_char(s[i + 1])) {
      break;
    }
    ++i;
  }
  if (i < s.size() && s[i] == '-') {
    if (const std::size_t end = scan_identifiers(s, i + 1); end > i + 1) {
      out.pre = s.substr(i + 1, end - i - 1);
      i = end;
    }
  }
  if (i < s.size() && s[i] == '+') {
    if (const std::size_t end = scan_identifiers(s, i + 1); end > i + 1) {
      out.metadata = s.substr(i + 1, end - i - 1);
      i = end;
    }
  }
  out.text = s.substr(0, i);
  out.rest = s.substr(i);
  return out;
}

std::pair<semver_range::op, std::string_view> scan_op(std::string_view s) {
  using op = semver_range::op;
  if (s.size() >= 2) {
    const std::string_view two = s.substr(0, 2);
    if (two == "!=") {
      return {op::not_equal, s.substr(2)};
    }
    if (two == ">=" || two == "=>") {
      return {op::greater_equal, s.substr(2)};
    }
    if (two == "<=" || two == "=<") {
      return {op::less_equal, s.substr(2)};
    }
    if (two == "~>") {
      return {op::tilde, s.substr(2)};
    }
  }
  if (!s.empty()) {
    switch (s[0]) {
      case '=':
        return {op::tilde_or_equal, s.substr(1)};
      case '>':
        return {op::greater, s.substr(1)};
      case '<':
        return {op::less, s.substr(1)};
      case '~':
        return {op::tilde, s.substr(1)};
      case '^':
        return {op::caret, s.substr(1)};
      default:
        break;
    }
  }
  return {op::tilde_or_equal, s};
}

std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

// Masterminds newConstraint: a wildcard (or missing) part makes the comparator dirty and drops
// the parts after it; numeric parts must be numbers; a pre-release must be valid.
result<semver_range::comparator> make_comparator(semver_range::op kind, const scanned_version& sv) {
  semver_range::comparator c;
  c.kind = kind;
  c.con.original = std::string(sv.text);
  c.con.pre = std::string(sv.pre);
  auto segment = [&](std::string_view seg, std::uint64_t& into) -> bool {
    auto v = parse_u64(seg);
    if (!v) {
      return false;
    }
    into = *v;
    return true;
  };
  const auto bad = [&] {
    return make_error(error_kind::invalid_input,
                      "version " + quoted(sv.text) + " has a part that is not a number or x");
  };
  if (is_x(sv.segs[0])) {
    c.dirty = true;
  } else if (sv.n < 2 || is_x(sv.segs[1])) {
    c.dirty = true;
    c.minor_dirty = true;
    if (!segment(sv.segs[0], c.con.major)) {
      return bad();
    }
  } else if (sv.n < 3 || is_x(sv.segs[2])) {
    c.dirty = true;
    c.patch_dirty = true;
    if (!segment(sv.segs[0], c.con.major) || !segment(sv.segs[1], c.con.minor)) {
      return bad();
    }
  } else {
    c.con.metadata = std::string(sv.metadata);
    if (!segment(sv.segs[0], c.con.major) || !segment(sv.segs[1], c.con.minor) ||
        !segment(sv.segs[2], c.con.patch)) {
      return bad();
    }
  }
  if (!c.con.pre.empty() && !valid_prerelease(c.con.pre)) {
    return make_error(
        error_kind::invalid_input,
        "pre-release " + quoted(sv.pre) + " has a numeric identifier with a leading zero");
  }
  return c;
}

// --- comparator checks (Masterminds constraints.go, constraint* functions) -----------------

bool check_tilde(const semver_version& v, const semver_range::comparator& c) {
  if (less_than(v, c.con)) {
    return false;
  }
  // ~0.0.0 (and ~*) accept everything at or above 0.0.0.
  if (c.con.major == 0 && c.con.minor == 0 && c.con.patch == 0 && !c.minor_dirty &&
      !c.patch_dirty) {
    return true;
  }
  if (v.major != c.con.major) {
    return false;
  }
  if (v.minor != c.con.minor && !c.minor_dirty) {
    return false;
  }
  return true;
}

bool check_caret(const semver_version& v, const semver_range::comparator& c) {
  if (less_than(v, c.con)) {
    return false;
  }
  if (c.con.major > 0 || c.minor_dirty) {
    return v.major == c.con.major;
  }
  if (v.major > 0) {
    return false;
  }
  if (c.con.minor > 0 || c.patch_dirty) {
    return v.minor == c.con.minor;
  }
  if (v.minor > 0) {
    return false;
  }
  return v.patch == c.con.patch;
}

bool check(const semver_version& v, const semver_range::comparator& c, bool include_pre) {
  using op = semver_range::op;
  if (!v.pre.empty() && !include_pre) {
    return false;
  }
  switch (c.kind) {
    case op::tilde_or_equal:
      if (c.dirty) {
        return check_tilde(v, c);
      }
      return compare_versions(v, c.con) == 0;
    case op::not_equal:
      if (c.dirty) {
        if (c.con.major != v.major) {
          return true;
        }
        if (c.minor_dirty) {
          return false;
        }
        if (c.con.minor != v.minor) {
          return true;
        }
        if (c.patch_dirty) {
          if (!v.pre.empty() || !c.con.pre.empty()) {
            return compare_prerelease(v.pre, c.con.pre) != 0;
          }
          return false;
        }
      }
      return compare_versions(v, c.con) != 0;
    case op::greater:
      if (!c.dirty) {
        return compare_versions(v, c.con) > 0;
      }
      if (v.major != c.con.major) {
        return v.major > c.con.major;
      }
      if (c.minor_dirty) {
        return false;  // >11 needs 12 or higher
      }
      if (c.patch_dirty) {
        return v.minor > c.con.minor;  // >11.1 needs 11.2 or higher
      }
      return compare_versions(v, c.con) > 0;
    case op::less:
      return compare_versions(v, c.con) < 0;
    case op::greater_equal:
      return compare_versions(v, c.con) >= 0;
    case op::less_equal:
      if (!c.dirty) {
        return compare_versions(v, c.con) <= 0;
      }
      if (v.major > c.con.major) {
        return false;
      }
      if (v.major == c.con.major && v.minor > c.con.minor && !c.minor_dirty) {
        return false;
      }
      return true;
    case op::tilde:
      return check_tilde(v, c);
    case op::caret:
      return check_caret(v, c);
  }
  return false;
}

}  // namespace

std::optional<semver_version> parse_version(std::string_view text) {
  if (text.empty() || text.size() > limits::k_semver_version_max) {
    return std::nullopt;
  }
  semver_version v;
  v.original = std::string(text);
  std::size_t i = 0;
  if (text[0] == 'v') {
    ++i;
  }
  std::array<std::uint64_t*, 3> parts{&v.major, &v.minor, &v.patch};
  for (std::size_t p = 0; p < 3; ++p) {
    if (p > 0) {
      // Further parts are optional and need a '.' followed by a digit.
      if (i + 1 >= text.size() || text[i] != '.' || !is_digit(text[i + 1])) {
        break;
      }
      ++i;
    }
    const std::size_t start = i;
    while (i < text.size() && is_digit(text[i])) {
      ++i;
    }
    if (i == start) {
      return std::nullopt;
    }
    auto n = parse_u64(text.substr(start, i - start));
    if (!n) {
      return std::nullopt;
    }
    *parts[p] = *n;
  }
  if (i < text.size() && text[i] == '-') {
    const std::size_t end = scan_identifiers(text, i + 1);
    if (end == i + 1) {
      return std::nullopt;
    }
    v.pre = std::string(text.substr(i + 1, end - i - 1));
    if (!valid_prerelease(v.pre)) {
      return std::nullopt;
    }
    i = end;
  }
  if (i < text.size() && text[i] == '+') {
    const std::size_t end = scan_identifiers(text, i + 1);
    if (end == i + 1) {
      return std::nullopt;
    }
    v.metadata = std::string(text.substr(i + 1, end - i - 1));
    i = end;
  }
  if (i != text.size()) {
    return std::nullopt;
  }
  return v;
}

std::optional<semver_version> parse_tag_version(std::string_view tag) {
  // strings.SplitN(v, ".", 3) has three parts exactly when there are at least two dots.
  const auto first = tag.find('.');
  if (first == std::string_view::npos || tag.find('.', first + 1) == std::string_view::npos) {
    return std::nullopt;
  }
  return parse_version(tag);
}

int compare_versions(const semver_version& a, const semver_version& b) {
  if (const int c = cmp_u64(a.major, b.major); c != 0) {
    return c;
  }
  if (const int c = cmp_u64(a.minor, b.minor); c != 0) {
    return c;
  }
  if (const int c = cmp_u64(a.patch, b.patch); c != 0) {
    return c;
  }
  if (a.pre.empty() && b.pre.empty()) {
    return 0;
  }
  if (a.pre.empty()) {
    return 1;
  }
  if (b.pre.empty()) {
    return -1;
  }
  return compare_prerelease(a.pre, b.pre);
}

std::string to_string(const semver_version& v) {
  std::string s =
      std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patch);
  if (!v.pre.empty()) {
    s += "-" + v.pre;
  }
  if (!v.metadata.empty()) {
    s += "+" + v.metadata;
  }
  return s;
}

result<semver_range> semver_range::parse(std::string_view text) {
  const auto fail = [&](std::string why) {
    return make_error(error_kind::invalid_input,
                      "invalid semver range " + quoted(text.substr(0, 80)) + ": " + why);
  };
  if (text.size() > limits::k_semver_range_max) {
    return fail("longer than " + std::to_string(limits::k_semver_range_max) + " characters");
  }
  if (skip_space(text).empty()) {
    return fail("empty (use \"*\" or \">=0.0.0\" to accept every release)");
  }
  semver_range out;
  out.text_ = std::string(text);
  std::size_t comparators = 0;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t bar = text.find("||", pos);
    const std::string_view group_text =
        text.substr(pos, bar == std::string_view::npos ? std::string_view::npos : bar - pos);
    if (out.any_.size() == limits::k_semver_range_groups_max) {
      return fail("more than " + std::to_string(limits::k_semver_range_groups_max) +
                  " alternatives joined by ||");
    }
    group g;
    std::string_view s = skip_space(group_text);
    if (s.empty()) {
      return fail("an alternative between || is empty");
    }
    for (;;) {
      auto [kind, after_op] = scan_op(s);
      const bool bare = after_op.size() == s.size();
      after_op = skip_space(after_op);
      auto sv = scan_constraint_version(after_op);
      if (!sv) {
        return fail("expected a version at " + quoted(s.substr(0, 40)));
      }
      std::string_view rest = sv->rest;
      // Hyphen range "A - B" (whitespace on both sides of '-'): >= A, <= B.
      std::optional<scanned_version> upper;
      if (bare) {
        const std::string_view t1 = skip_space(rest);
        if (t1.size() < rest.size() && !t1.empty() && t1[0] == '-') {
          const std::string_view t2 = skip_space(t1.substr(1));
          if (t2.size() < t1.size() - 1) {
            if (auto up = scan_constraint_version(t2)) {
              upper = up;
              rest = up->rest;
            }
          }
        }
      }
      if (upper) {
        auto lo = make_comparator(op::greater_equal, *sv);
        if (!lo) {
          return fail(lo.error().message);
        }
        auto hi = make_comparator(op::less_equal, *upper);
        if (!hi) {
          return fail(hi.error().message);
        }
        g.all.push_back(std::move(lo.value()));
        g.all.push_back(std::move(hi.value()));
        comparators += 2;
      } else {
        auto c = make_comparator(kind, *sv);
        if (!c) {
          return fail(c.error().message);
        }
        g.all.push_back(std::move(c.value()));
        ++comparators;
      }
      if (comparators > limits::k_semver_range_comparators_max) {
        return fail("more than " + std::to_string(limits::k_semver_range_comparators_max) +
                    " comparators");
      }
      std::string_view trimmed = skip_space(rest);
      if (trimmed.empty()) {
        break;
      }
      if (trimmed[0] == ',') {
        trimmed = skip_space(trimmed.substr(1));
      } else if (trimmed.size() == rest.size()) {
        return fail("unexpected " + quoted(trimmed.substr(0, 40)) +
                    " (separate comparators with a space or a comma)");
      }
      if (trimmed.empty()) {
        return fail("a comparator is missing after ','");
      }
      s = trimmed;
    }
    for (const auto& c : g.all) {
      if (!c.con.pre.empty()) {
        g.has_pre = true;
      }
    }
    out.any_.push_back(std::move(g));
    if (bar == std::string_view::npos) {
      break;
    }
    pos = bar + 2;
  }
  return out;
}

bool semver_range::contains(const semver_version& v) const {
  for (const auto& g : any_) {
    bool all = true;
    for (const auto& c : g.all) {
      if (!check(v, c, g.has_pre)) {
        all = false;
        break;
      }
    }
    if (all) {
      return true;
    }
  }
  return false;
}

std::vector<std::size_t> semver_range::shape() const {
  std::vector<std::size_t> out;
  out.reserve(any_.size());
  for (const auto& g : any_) {
    out.push_back(g.all.size());
  }
  return out;
}

}  // namespace ferry::rules
