#include "service/rules/policy.hpp"

#include <re2/re2.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>

#include "service/limits.hpp"

namespace ferry::rules {
namespace {

std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

bool is_name_byte(unsigned char c) {
  // Go's Expand takes letters, digits and '_' (Unicode classes). Bytes of multi-byte UTF-8
  // sequences are taken as letters: RE2 group names are ASCII word characters, so a non-ASCII
  // name never names a group and expands to nothing either way.
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         c >= 0x80;
}

struct template_ref {
  std::string_view name;
  int num = -1;  // >= 0 for a numbered group
  std::size_t consumed = 0;
};

// Go regexp's extract(): a name after '$', optionally in braces. Numbers have no leading zeros
// and stay below 1e8, as in Go.
std::optional<template_ref> extract_ref(std::string_view s) {
  if (s.empty()) {
    return std::nullopt;
  }
  bool brace = false;
  std::size_t i = 0;
  if (s[0] == '{') {
    brace = true;
    i = 1;
  }
  const std::size_t start = i;
  while (i < s.size() && is_name_byte(static_cast<unsigned char>(s[i]))) {
    ++i;
  }
  if (i == start) {
    return std::nullopt;
  }
  template_ref ref;
  ref.name = s.substr(start, i - start);
  if (brace) {
    if (i >= s.size() || s[i] != '}') {
      return std::nullopt;
    }
    ++i;
  }
  ref.consumed = i;
  int num = 0;
  for (char c : ref.name) {
    if (c < '0' || c > '9' || num >= 100000000) {
      num = -1;
      break;
    }
    num = num * 10 + (c - '0');
  }
  if (ref.name.size() > 1 && ref.name[0] == '0') {
    num = -1;
  }
  ref.num = num;
  return ref;
}

bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') {
      x = static_cast<char>(x - 'A' + 'a');
    }
    if (y >= 'A' && y <= 'Z') {
      y = static_cast<char>(y - 'A' + 'a');
    }
    if (x != y) {
      return false;
    }
  }
  return true;
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

std::size_t scan_digits(std::string_view s, std::size_t i, bool hex) {
  while (i < s.size() && (hex ? is_hex(s[i]) : (s[i] >= '0' && s[i] <= '9'))) {
    ++i;
  }
  return i;
}

const char* order_name(sort_order o) {
  return o == sort_order::asc ? "asc" : "desc";
}

// What a value ranks by, once admitted.
using rank_key = std::variant<std::monostate, semver_version, double, std::string>;

struct admitted_value {
  admission adm;
  rank_key key;
};

admitted_value admit_with_key(const tag_policy& policy, std::string_view tag) {
  admitted_value out;
  if (tag.size() > limits::k_tag_max) {
    out.adm.reason = "tag is longer than " + std::to_string(limits::k_tag_max) +
                     " characters (OCI distribution spec limit)";
    return out;
  }
  std::string value(tag);
  if (policy.filter) {
    auto v = policy.filter->apply(tag);
    if (!v) {
      out.adm.reason =
          "tag " + quoted(tag) + " is filtered out by pattern " + quoted(policy.filter->pattern());
      return out;
    }
    value = std::move(*v);
  }
  const std::string shown =
      value == tag ? quoted(tag) : quoted(value) + " (from tag " + quoted(tag) + ")";
  if (const auto* sp = std::get_if<semver_policy>(&policy.kind)) {
    auto v = parse_tag_version(value);
    if (!v) {
      out.adm.reason = shown + " is not a semantic version (MAJOR.MINOR.PATCH, optional 'v')";
      return out;
    }
    if (!sp->range.contains(*v)) {
      out.adm.reason = shown + " does not satisfy range " + quoted(sp->range.text());
      return out;
    }
    out.key = std::move(*v);
  } else if (std::holds_alternative<numerical_policy>(policy.kind)) {
    auto n = parse_number(value);
    if (!n) {
      out.adm.reason = shown + " is not a number (numerical policy)";
      return out;
    }
    out.key = *n;
  } else if (std::holds_alternative<alphabetical_policy>(policy.kind)) {
    out.key = value;
  }
  out.adm.admitted = true;
  out.adm.value = std::move(value);
  return out;
}

// <0, 0, >0: how a ranks against b in the policy's order (higher = preferred).
int rank_cmp(const tag_policy& policy, const rank_key& a, const rank_key& b) {
  if (std::holds_alternative<semver_policy>(policy.kind)) {
    return compare_versions(std::get<semver_version>(a), std::get<semver_version>(b));
  }
  if (const auto* np = std::get_if<numerical_policy>(&policy.kind)) {
    const double x = std::get<double>(a);
    const double y = std::get<double>(b);
    const int c = x < y ? -1 : (x > y ? 1 : 0);
    return np->order == sort_order::asc ? c : -c;
  }
  if (const auto* ap = std::get_if<alphabetical_policy>(&policy.kind)) {
    // Go compares strings byte-wise, as std::string_view::compare does.
    const int raw = std::get<std::string>(a).compare(std::get<std::string>(b));
    const int c = raw < 0 ? -1 : (raw > 0 ? 1 : 0);
    return ap->order == sort_order::asc ? c : -c;
  }
  return 0;
}

std::string order_suffix(const tag_policy& policy) {
  if (const auto* np = std::get_if<numerical_policy>(&policy.kind)) {
    return std::string(" (numerical, ") + order_name(np->order) + ")";
  }
  if (const auto* ap = std::get_if<alphabetical_policy>(&policy.kind)) {
    return std::string(" (alphabetical, ") + order_name(ap->order) + ")";
  }
  return " (semver)";
}

}  // namespace

const char* policy_name(const policy_kind& kind) noexcept {
  switch (kind.index()) {
    case 0:
      return "newest";
    case 1:
      return "semver";
    case 2:
      return "alphabetical";
    default:
      return "numerical";
  }
}

result<tag_filter> tag_filter::compile(std::string_view pattern, std::string_view extract) {
  if (pattern.size() > limits::k_filter_pattern_max) {
    return make_error(
        error_kind::invalid_input,
        "pattern is longer than " + std::to_string(limits::k_filter_pattern_max) + " characters");
  }
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(limits::k_filter_re2_max_mem);
  auto re = std::make_shared<const RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok()) {
    return make_error(error_kind::invalid_input,
                      "invalid regular expression " + quoted(pattern) + ": " + re->error());
  }
  // A template naming a group the pattern lacks expands to nothing in Go, silently: almost
  // always a typo, so it is an error here.
  const auto& names = re->NamedCapturingGroups();
  for (std::size_t i = 0; i < extract.size(); ++i) {
    if (extract[i] != '$') {
      continue;
    }
    if (i + 1 < extract.size() && extract[i + 1] == '$') {
      ++i;
      continue;
    }
    auto ref = extract_ref(extract.substr(i + 1));
    if (!ref) {
      continue;
    }
    if (ref->num >= 0) {
      if (ref->num > re->NumberOfCapturingGroups()) {
        return make_error(error_kind::invalid_input,
                          "extract " + quoted(extract) + " refers to group $" +
                              std::to_string(ref->num) + " but the pattern has " +
                              std::to_string(re->NumberOfCapturingGroups()) + " group(s)");
      }
    } else if (names.find(std::string(ref->name)) == names.end()) {
      std::string known;
      for (const auto& [n, idx] : names) {
        known += (known.empty() ? "" : ", ") + n;
      }
      return make_error(error_kind::invalid_input,
                        "extract " + quoted(extract) + " refers to group " + quoted(ref->name) +
                            " which the pattern does not define" +
                            (known.empty() ? std::string(" (it has no named groups)")
                                           : " (named groups: " + known + ")"));
    }
    i += ref->consumed;
  }
  tag_filter f;
  f.pattern_ = std::string(pattern);
  f.extract_ = std::string(extract);
  f.re_ = std::move(re);
  return f;
}

std::optional<std::string> tag_filter::apply(std::string_view tag) const {
  const int ngroups = re_->NumberOfCapturingGroups();
  std::vector<re2::StringPiece> pieces(static_cast<std::size_t>(ngroups) + 1);
  const re2::StringPiece text(tag.data(), tag.size());
  // Flux: Regexp.FindStringSubmatchIndex, an unanchored leftmost-first search (RE2's default).
  if (!re_->Match(text, 0, text.size(), RE2::UNANCHORED, pieces.data(),
                  static_cast<int>(pieces.size()))) {
    return std::nullopt;
  }
  if (extract_.empty()) {
    return std::string(tag);
  }
  std::vector<std::optional<std::string_view>> groups;
  groups.reserve(pieces.size());
  for (const auto& p : pieces) {
    if (p.data() == nullptr) {
      groups.emplace_back(std::nullopt);
    } else {
      groups.emplace_back(std::string_view(p.data(), p.size()));
    }
  }
  std::vector<std::pair<std::string, int>> names(re_->NamedCapturingGroups().begin(),
                                                 re_->NamedCapturingGroups().end());
  return expand_template(extract_, groups, names);
}

std::string expand_template(std::string_view tmpl,
                            std::span<const std::optional<std::string_view>> groups,
                            std::span<const std::pair<std::string, int>> names) {
  std::string out;
  while (!tmpl.empty()) {
    const std::size_t dollar = tmpl.find('$');
    if (dollar == std::string_view::npos) {
      break;
    }
    out.append(tmpl.substr(0, dollar));
    tmpl = tmpl.substr(dollar + 1);
    if (!tmpl.empty() && tmpl[0] == '$') {
      out.push_back('$');
      tmpl = tmpl.substr(1);
      continue;
    }
    auto ref = extract_ref(tmpl);
    if (!ref) {
      out.push_back('$');  // malformed: Go keeps the '$' as text
      continue;
    }
    tmpl = tmpl.substr(ref->consumed);
    int index = ref->num;
    if (index < 0) {
      for (const auto& [name, idx] : names) {
        if (name == ref->name) {
          index = idx;
          break;
        }
      }
    }
    if (index >= 0 && static_cast<std::size_t>(index) < groups.size() &&
        groups[static_cast<std::size_t>(index)]) {
      out.append(*groups[static_cast<std::size_t>(index)]);
    }
  }
  out.append(tmpl);
  return out;
}

std::optional<double> parse_number(std::string_view s) {
  if (s.empty() || s.size() > 64) {
    return std::nullopt;
  }
  std::size_t i = 0;
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    i = 1;
  }
  const std::string_view body = s.substr(i);
  if (ascii_iequals(body, "inf") || ascii_iequals(body, "infinity")) {
    return negative ? -HUGE_VAL : HUGE_VAL;
  }
  if (ascii_iequals(body, "nan")) {
    return std::nullopt;  // see the header: NaN cannot be ranked
  }
  bool hex = false;
  if (body.size() >= 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
    hex = true;
    i += 2;
  }
  // Mantissa: digits, optional '.', digits; at least one digit in all.
  const std::size_t int_end = scan_digits(s, i, hex);
  std::size_t digits = int_end - i;
  i = int_end;
  if (i < s.size() && s[i] == '.') {
    const std::size_t frac_end = scan_digits(s, i + 1, hex);
    digits += frac_end - (i + 1);
    i = frac_end;
  }
  if (digits == 0) {
    return std::nullopt;
  }
  // Exponent: e for decimal (optional), p for hexadecimal (required, as in Go).
  const char exp_lower = hex ? 'p' : 'e';
  if (i < s.size() && (s[i] == exp_lower || s[i] == exp_lower - 'a' + 'A')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    const std::size_t exp_end = scan_digits(s, i, false);
    if (exp_end == i) {
      return std::nullopt;
    }
    i = exp_end;
  } else if (hex) {
    return std::nullopt;
  }
  if (i != s.size()) {
    return std::nullopt;
  }
  // The syntax is checked; strtod (C locale: ferry never calls setlocale) does the rounding.
  const std::string copy(s);
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) {
    return std::nullopt;
  }
  if (errno == ERANGE && std::isinf(v)) {
    return std::nullopt;  // Go: ErrRange for values beyond float64
  }
  return v;
}

std::optional<std::string> commit_from_value(std::string_view value) {
  if (!(value.size() >= 7 && value.size() <= 40) && value.size() != 64) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (!is_hex(c)) {
      return std::nullopt;
    }
    out.push_back(c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

std::optional<std::string> commit_from_tag(const tag_policy& policy, std::string_view tag) {
  if (!policy.filter) {
    return commit_from_value(tag);
  }
  auto value = policy.filter->apply(tag);
  if (!value) {
    return std::nullopt;
  }
  return commit_from_value(*value);
}

admission admit(const tag_policy& policy, std::string_view tag) {
  return admit_with_key(policy, tag).adm;
}

rank_decision compare(const tag_policy& policy, std::string_view candidate,
                      std::string_view current, newest_mode mode) {
  rank_decision d;
  auto cand = admit_with_key(policy, candidate);
  if (!cand.adm.admitted) {
    d.outcome = verdict::reject;
    d.reason = cand.adm.reason;
    return d;
  }
  if (candidate == current) {
    d.outcome = verdict::reject;
    d.reason = quoted(candidate) + " is already the current value";
    return d;
  }
  auto cur = admit_with_key(policy, current);
  if (std::holds_alternative<newest_policy>(policy.kind)) {
    if (mode == newest_mode::accept_any) {
      d.outcome = verdict::promote;
      d.reason = "newest: offline plan accepts any tag that passes the filter";
    } else {
      d.outcome = verdict::compare_commits;
      d.reason = "newest: rank " + quoted(candidate) + " against " + quoted(current) +
                 " by comparing their source commits";
    }
    return d;
  }
  if (!cur.adm.admitted) {
    d.outcome = verdict::promote;
    d.reason = "current value " + quoted(current) + " is not ranked by the policy (" +
               cur.adm.reason + "); " + quoted(candidate) + " replaces it";
    return d;
  }
  const int c = rank_cmp(policy, cand.key, cur.key);
  if (c > 0) {
    d.outcome = verdict::promote;
    d.reason = quoted(cand.adm.value) + " is above " + quoted(cur.adm.value) + order_suffix(policy);
  } else {
    d.outcome = verdict::reject;
    d.reason = quoted(cand.adm.value) + (c == 0 ? " ranks equal to " : " is not above ") +
               quoted(cur.adm.value) + order_suffix(policy);
  }
  return d;
}

highest_result highest(const tag_policy& policy, std::span<const std::string> values) {
  highest_result out;
  if (values.empty()) {
    out.reason = "no values";
    return out;
  }
  if (std::holds_alternative<newest_policy>(policy.kind)) {
    std::optional<std::string> only;
    for (const auto& v : values) {
      if (!admit(policy, v).admitted) {
        continue;
      }
      if (only && *only != v) {
        out.ambiguous = true;
        out.reason = "newest: values " + quoted(*only) + " and " + quoted(v) +
                     " differ and can only be ranked by their source commits";
        return out;
      }
      only = v;
    }
    if (!only) {
      out.reason = "no value passes the filter";
      return out;
    }
    out.value = only;
    return out;
  }
  std::optional<admitted_value> best;
  std::string best_tag;
  std::string first_reason;
  for (const auto& v : values) {
    auto a = admit_with_key(policy, v);
    if (!a.adm.admitted) {
      if (first_reason.empty()) {
        first_reason = a.adm.reason;
      }
      continue;
    }
    if (!best || rank_cmp(policy, a.key, best->key) > 0) {
      best = std::move(a);
      best_tag = v;
    }
  }
  if (!best) {
    out.reason = "no value is ranked by the policy: " + first_reason;
    return out;
  }
  out.value = best_tag;
  return out;
}

compare_status parse_compare_status(std::string_view s) noexcept {
  if (s == "ahead") {
    return compare_status::ahead;
  }
  if (s == "behind") {
    return compare_status::behind;
  }
  if (s == "identical") {
    return compare_status::identical;
  }
  if (s == "diverged") {
    return compare_status::diverged;
  }
  return compare_status::unknown;
}

const char* to_string(compare_status status) noexcept {
  switch (status) {
    case compare_status::ahead:
      return "ahead";
    case compare_status::behind:
      return "behind";
    case compare_status::identical:
      return "identical";
    case compare_status::diverged:
      return "diverged";
    case compare_status::unknown:
      return "unknown";
  }
  return "unknown";
}

newest_decision decide_newest(compare_status status, bool candidate_on_source_branch) {
  switch (status) {
    case compare_status::ahead:
      return {true, "the candidate's commit is ahead of the current one"};
    case compare_status::behind:
      return {false, "the candidate's commit is behind the current one (no downgrades)"};
    case compare_status::identical:
      return {false, "the candidate was built from the same commit as the current value"};
    case compare_status::diverged:
      if (candidate_on_source_branch) {
        return {true,
                "the commits diverged and the candidate was built from a sourceBranches branch"};
      }
      return {false,
              "the commits diverged and the candidate was not built from a sourceBranches branch"};
    case compare_status::unknown:
      break;
  }
  return {true,
          "the source commits could not be compared; the newer delivery wins (say so in the PR)"};
}

}  // namespace ferry::rules
