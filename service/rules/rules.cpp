#include "service/rules/rules.hpp"

#include "service/text.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <sstream>

#include "service/limits.hpp"
#include "service/rules/yaml_documents.hpp"
#include "service/utf8.hpp"

namespace ferry::rules {
namespace {

std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

using text::lower;

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1);
  std::vector<std::size_t> cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    prev[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The nearest candidate when it is close enough to be a plausible typo.
std::optional<std::string_view> nearest(std::string_view word,
                                        std::span<const std::string_view> candidates) {
  if (word.size() > 64) {
    return std::nullopt;
  }
  const std::string w = lower(word);
  std::optional<std::string_view> best;
  std::size_t best_d = 0;
  for (auto c : candidates) {
    const std::size_t d = edit_distance(w, lower(c));
    if (!best || d < best_d) {
      best = c;
      best_d = d;
    }
  }
  if (best && best_d <= std::max<std::size_t>(2, best->size() / 3)) {
    return best;
  }
  return std::nullopt;
}

std::string join(std::span<const std::string_view> items) {
  std::string out;
  for (auto s : items) {
    out += (out.empty() ? "" : ", ") + std::string(s);
  }
  return out;
}

bool is_dns_label(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) {
    return false;
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && !(c == '-' && i > 0 && i + 1 < s.size())) {
      return false;
    }
  }
  return true;
}

// RFC 1123 subdomain, as Kubernetes validates object names: at most 253 characters.
bool is_dns_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) {
    return false;
  }
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t dot = s.find('.', start);
    dot = dot == std::string_view::npos ? s.size() : dot;
    if (!is_dns_label(s.substr(start, dot - start), 63)) {
      return false;
    }
    start = dot + 1;
  }
  return true;
}

// One path component of an image repository (distribution/reference grammar):
// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool is_repo_component(std::string_view s) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (s.empty() || !alnum(s.front()) || !alnum(s.back())) {
    return false;
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (alnum(s[i])) {
      continue;
    }
    if (s[i] == '.') {
      if (!alnum(s[i + 1])) {
        return false;
      }
    } else if (s[i] == '_') {
      if (s[i + 1] == '_') {
        ++i;
      }
      if (!alnum(s[i + 1])) {
        return false;
      }
    } else if (s[i] == '-') {
      while (s[i + 1] == '-') {
        ++i;
      }
    } else {
      return false;
    }
  }
  return true;
}

// A registry host: DNS-ish labels (letters, digits, '-') joined by '.', optional :port.
bool is_registry_host(std::string_view s) {
  const auto colon = s.find(':');
  std::string_view host = s.substr(0, colon);
  if (colon != std::string_view::npos) {
    const std::string_view port = s.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
  }
  if (host.empty()) {
    return false;
  }
  std::size_t start = 0;
  while (start <= host.size()) {
    std::size_t dot = host.find('.', start);
    dot = dot == std::string_view::npos ? host.size() : dot;
    if (!is_dns_label(host.substr(start, dot - start), 63)) {
      return false;
    }
    start = dot + 1;
  }
  return true;
}

// "" when valid, else why not.
std::string check_image_reference(std::string_view ref) {
  if (ref.empty()) {
    return "image must not be empty";
  }
  if (ref.find('@') != std::string_view::npos) {
    return "image " + quoted(ref) +
           " must not carry a digest: name the repository only (the event supplies the digest)";
  }
  if (lower(ref) != ref) {
    return "image " + quoted(ref) + " must be lower-case (write " + quoted(lower(ref)) + ")";
  }
  const auto slash = ref.find('/');
  const auto last_slash = ref.rfind('/');
  const std::string_view last =
      ref.substr(last_slash == std::string_view::npos ? 0 : last_slash + 1);
  if (last.find(':') != std::string_view::npos) {
    return "image " + quoted(ref) +
           " must not carry a tag: name the repository only (the policy chooses tags)";
  }
  const std::string_view first = ref.substr(0, slash);
  const bool has_host = slash != std::string_view::npos &&
                        (first.find('.') != std::string_view::npos ||
                         first.find(':') != std::string_view::npos || first == "localhost");
  if (!has_host) {
    return "image " + quoted(ref) +
           " must start with its registry host, as package events name it (e.g. "
           "ghcr.io/owner/" +
           std::string(last) + ")";
  }
  if (!is_registry_host(first)) {
    return "image " + quoted(ref) + " has an invalid registry host " + quoted(first);
  }
  std::size_t start = slash + 1;
  while (start <= ref.size()) {
    std::size_t next = ref.find('/', start);
    next = next == std::string_view::npos ? ref.size() : next;
    const std::string_view comp = ref.substr(start, next - start);
    if (!is_repo_component(comp)) {
      return "image " + quoted(ref) + " has an invalid path component " + quoted(comp) +
             " (lower-case letters and digits, separated by '.', '_', '__' or '-')";
    }
    start = next + 1;
  }
  return "";
}

// A repository-relative path, normalised. Error text in `why` when it escapes the repository.
std::optional<std::string> normalise_repo_path(std::string_view p, std::string& why) {
  if (p.empty()) {
    why = "path must not be empty (use \".\" for the whole repository)";
    return std::nullopt;
  }
  if (p.front() == '/') {
    why = "path " + quoted(p) + " must be relative to the repository root, not absolute";
    return std::nullopt;
  }
  if (p.find('\0') != std::string_view::npos) {
    why = "path contains a NUL byte";
    return std::nullopt;
  }
  std::string out;
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t next = p.find('/', start);
    next = next == std::string_view::npos ? p.size() : next;
    const std::string_view comp = p.substr(start, next - start);
    if (comp == "..") {
      why = "path " + quoted(p) + " must stay inside the repository (no \"..\")";
      return std::nullopt;
    }
    if (!comp.empty() && comp != ".") {
      out += (out.empty() ? "" : "/") + std::string(comp);
    }
    start = next + 1;
  }
  return out.empty() ? std::string(".") : out;
}

// A Go-style duration made of h, m and s parts ("10m", "90s", "1h30m"). Whole units only.
std::optional<std::chrono::seconds> parse_duration(std::string_view s) {
  if (s.empty() || s.size() > 32) {
    return std::nullopt;
  }
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t start = i;
    std::int64_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      n = n * 10 + (s[i] - '0');
      if (n > 10'000'000) {
        return std::nullopt;
      }
      ++i;
    }
    if (i == start || i == s.size()) {
      return std::nullopt;
    }
    switch (s[i]) {
      case 'h':
        total += n * 3600;
        break;
      case 'm':
        total += n * 60;
        break;
      case 's':
        total += n;
        break;
      default:
        return std::nullopt;
    }
    ++i;
  }
  return std::chrono::seconds(total);
}

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "the scalar " + quoted(n.Scalar().substr(0, 40));
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

struct entry {
  YAML::Node key;
  YAML::Node value;
};

class validator {
 public:
  explicit validator(std::string_view file) : file_(file) {}

  std::vector<diagnostic> take() { return std::move(diags_); }
  bool failed() const { return !diags_.empty(); }

  void error(const YAML::Mark& m, std::string message) {
    if (diags_.size() > limits::k_rules_diagnostics_max) {
      return;
    }
    if (diags_.size() == limits::k_rules_diagnostics_max) {
      diags_.push_back(diagnostic{file_, m.is_null() ? 1 : m.line + 1,
                                  m.is_null() ? 1 : m.column + 1,
                                  "too many errors; stopping here (fix the ones above first)"});
      return;
    }
    // Messages quote the file's text, which may hold any bytes; they reach terminals, JSON logs
    // and commit statuses, so they are made valid UTF-8 here.
    diags_.push_back(diagnostic{file_, m.is_null() ? 1 : m.line + 1, m.is_null() ? 1 : m.column + 1,
                                service::to_valid_utf8(message)});
  }

  // Where to point for a value: the value itself, or its key when the value is empty.
  static YAML::Mark at(const entry& e) {
    if (e.value.IsNull() || !e.value.IsDefined()) {
      return e.key.Mark();
    }
    return e.value.Mark();
  }

  // The keys of a mapping, checked against the allowed ones: unknown keys (with the nearest
  // valid one), duplicates (yaml-cpp keeps both silently) and non-scalar keys are reported.
  std::map<std::string, entry> fields(const YAML::Node& map,
                                      std::span<const std::string_view> allowed,
                                      std::string_view context) {
    std::map<std::string, entry> out;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) {
        error(key.Mark(), "keys in " + std::string(context) + " must be plain names");
        continue;
      }
      const std::string& k = key.Scalar();
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        std::string msg = "unknown key " + quoted(k) + " in " + std::string(context);
        if (auto near = nearest(k, allowed)) {
          msg += "; did you mean " + quoted(*near) + "?";
        }
        msg += allowed.empty() ? " (it takes no keys)" : " (valid keys: " + join(allowed) + ")";
        error(key.Mark(), std::move(msg));
        continue;
      }
      if (auto found = out.find(k); found != out.end()) {
        const auto& first = found->second.key.Mark();
        error(key.Mark(), "duplicate key " + quoted(k) + " in " + std::string(context) +
                              " (first at " + std::to_string(first.line + 1) + ":" +
                              std::to_string(first.column + 1) + "); remove one");
        continue;
      }
      out.emplace(k, entry{key, it->second});
    }
    return out;
  }

  bool expect_map(const YAML::Node& n, const YAML::Mark& m, std::string_view what) {
    if (n.IsMap()) {
      return true;
    }
    error(m, std::string(what) + " must be a mapping, found " + describe(n));
    return false;
  }

  std::optional<std::string> string_value(const entry& e, std::string_view what) {
    if (!e.value.IsScalar()) {
      error(at(e), std::string(what) + " must be a string, found " + describe(e.value));
      return std::nullopt;
    }
    return e.value.Scalar();
  }

  std::optional<std::string> non_empty_string(const entry& e, std::string_view what) {
    auto s = string_value(e, what);
    if (s && s->empty()) {
      error(at(e), std::string(what) + " must not be empty");
      return std::nullopt;
    }
    return s;
  }

  // YAML 1.2 core booleans, unquoted: a quoted "true" is a string and most likely a mistake.
  std::optional<bool> bool_value(const entry& e, std::string_view what) {
    if (e.value.IsScalar() && e.value.Tag() == "?") {
      const std::string& s = e.value.Scalar();
      if (s == "true" || s == "True" || s == "TRUE") {
        return true;
      }
      if (s == "false" || s == "False" || s == "FALSE") {
        return false;
      }
    }
    error(at(e),
          std::string(what) + " must be true or false (unquoted), found " + describe(e.value));
    return std::nullopt;
  }

  std::optional<std::vector<std::string>> string_list(const entry& e, std::string_view what,
                                                      bool allow_empty_list) {
    if (!e.value.IsSequence()) {
      error(at(e), std::string(what) + " must be a list of strings, found " + describe(e.value));
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (const auto& item : e.value) {
      if (!item.IsScalar() || item.Scalar().empty()) {
        error(item.IsNull() ? e.key.Mark() : item.Mark(),
              std::string(what) + " entries must be non-empty strings, found " + describe(item));
        ok = false;
        continue;
      }
      out.push_back(item.Scalar());
    }
    if (ok && out.empty() && !allow_empty_list) {
      error(at(e), std::string(what) + " must not be an empty list");
      return std::nullopt;
    }
    if (!ok) {
      return std::nullopt;
    }
    return out;
  }

  void missing(const YAML::Node& map, std::string_view key, std::string_view context,
               std::string_view hint = "") {
    error(map.Mark(),
          std::string(context) + " is missing required key " + quoted(key) + std::string(hint));
  }

 private:
  std::string file_;
  std::vector<diagnostic> diags_;
};

// `onboarding:` (SPEC "Rules file") configures `ferry onboard`; its keys are checked by
// service/onboard (onboard.hpp, options_from_rules), not here: promotion never reads them.
constexpr std::string_view k_top_keys[] = {"version", "images", "environments", "onboarding"};
constexpr std::string_view k_image_keys[] = {"name",   "namespace",      "image",     "filterTags",
                                             "policy", "sourceBranches", "pinDigest", "group"};
constexpr std::string_view k_env_keys[] = {"name",      "paths",         "autoMerge",
                                           "apply",     "gates",         "promoteFrom",
                                           "reviewers", "teamReviewers", "suspend"};
constexpr std::string_view k_gates_keys[] = {"flagger", "statuses", "timeout"};
constexpr std::string_view k_flagger_keys[] = {"canary", "namespace"};
constexpr std::string_view k_apply_keys[] = {"flux", "job", "argocd", "fleet", "timeout"};
constexpr std::string_view k_argocd_keys[] = {"application", "namespace", "sync"};
constexpr std::string_view k_fleet_keys[] = {"gitRepo", "namespace"};
constexpr std::string_view k_flux_keys[] = {"kind", "name", "namespace", "healthChecks"};
constexpr std::string_view k_health_check_keys[] = {"apiVersion", "kind", "name", "namespace"};

// The kinds a health check may name, with the API versions ferry reads them at (the first is
// the default). HelmRelease: helm.toolkit.fluxcd.io/v2 is GA since Flux v2.3, v2beta2 still
// served; Deployment: apps/v1.
struct health_kind {
  std::string_view kind;
  std::array<std::string_view, 2> api_versions;
};
constexpr health_kind k_health_kinds[] = {
    {"HelmRelease", {"helm.toolkit.fluxcd.io/v2", "helm.toolkit.fluxcd.io/v2beta2"}},
    {"Deployment", {"apps/v1", ""}},
};
constexpr std::string_view k_job_keys[] = {"namespace", "template"};
constexpr std::string_view k_auto_merge_keys[] = {"method"};
constexpr std::string_view k_filter_keys[] = {"pattern", "extract"};
constexpr std::string_view k_policy_keys[] = {"newest", "semver", "alphabetical", "numerical"};
constexpr std::string_view k_semver_keys[] = {"range"};
constexpr std::string_view k_order_keys[] = {"order"};
constexpr std::string_view k_no_keys[] = {""};

struct parsed_image {
  image_rule rule;
  YAML::Mark name_mark;
  bool has_name = false;
};

struct parsed_env {
  environment env;
  YAML::Mark name_mark;
  YAML::Mark promote_mark;
  YAML::Mark gates_mark;
  bool has_name = false;
};

std::optional<sort_order> parse_order(validator& v, const entry& e, std::string_view context) {
  if (e.value.IsNull()) {
    return sort_order::asc;
  }
  if (!v.expect_map(e.value, validator::at(e), context)) {
    return std::nullopt;
  }
  auto f = v.fields(e.value, k_order_keys, context);
  auto it = f.find("order");
  if (it == f.end()) {
    return sort_order::asc;
  }
  auto s = v.string_value(it->second, "order");
  if (!s) {
    return std::nullopt;
  }
  if (*s == "asc") {
    return sort_order::asc;
  }
  if (*s == "desc") {
    return sort_order::desc;
  }
  v.error(validator::at(it->second), "order must be \"asc\" or \"desc\", found " + quoted(*s));
  return std::nullopt;
}

std::optional<policy_kind> parse_policy(validator& v, const entry& e) {
  if (!v.expect_map(e.value, validator::at(e), "policy")) {
    return std::nullopt;
  }
  auto f = v.fields(e.value, k_policy_keys, "policy");
  if (f.empty()) {
    v.error(validator::at(e),
            "policy needs exactly one of newest, semver, alphabetical, numerical, e.g. "
            "{newest: {}} or {semver: {range: \">=1.0.0 <2\"}}");
    return std::nullopt;
  }
  if (f.size() > 1) {
    // Point at the later key in the file.
    const entry* later = nullptr;
    std::string names;
    for (const auto& [k, en] : f) {
      names += (names.empty() ? "" : " and ") + k;
      if (!later || en.key.Mark().pos > later->key.Mark().pos) {
        later = &en;
      }
    }
    v.error(later->key.Mark(), "policy has " + names + "; choose exactly one");
    return std::nullopt;
  }
  const auto& [name, sub] = *f.begin();
  const std::string context = "policy." + name;
  if (name == "newest") {
    if (!sub.value.IsNull()) {
      if (v.expect_map(sub.value, validator::at(sub), context)) {
        v.fields(sub.value, std::span<const std::string_view>(k_no_keys, 0), context);
      }
    }
    return newest_policy{};
  }
  if (name == "semver") {
    if (!v.expect_map(sub.value, validator::at(sub), context)) {
      return std::nullopt;
    }
    auto sf = v.fields(sub.value, k_semver_keys, context);
    auto r = sf.find("range");
    if (r == sf.end()) {
      v.missing(sub.value, "range", context, " (e.g. range: \">=1.0.0 <2\")");
      return std::nullopt;
    }
    auto text = v.string_value(r->second, "range");
    if (!text) {
      return std::nullopt;
    }
    auto range = semver_range::parse(*text);
    if (!range) {
      v.error(validator::at(r->second), range.error().message);
      return std::nullopt;
    }
    return semver_policy{std::move(range.value())};
  }
  auto order = parse_order(v, sub, context);
  if (!order) {
    return std::nullopt;
  }
  if (name == "alphabetical") {
    return alphabetical_policy{*order};
  }
  return numerical_policy{*order};
}

std::optional<tag_filter> parse_filter(validator& v, const entry& e, bool& ok) {
  if (!v.expect_map(e.value, validator::at(e), "filterTags")) {
    ok = false;
    return std::nullopt;
  }
  auto f = v.fields(e.value, k_filter_keys, "filterTags");
  auto p = f.find("pattern");
  if (p == f.end()) {
    v.missing(e.value, "pattern", "filterTags");
    ok = false;
    return std::nullopt;
  }
  auto pattern = v.string_value(p->second, "filterTags.pattern");
  std::optional<std::string> extract = std::string();
  if (auto x = f.find("extract"); x != f.end()) {
    extract = v.string_value(x->second, "filterTags.extract");
  }
  if (!pattern || !extract) {
    ok = false;
    return std::nullopt;
  }
  auto compiled = tag_filter::compile(*pattern, *extract);
  if (!compiled) {
    v.error(validator::at(p->second), "filterTags: " + compiled.error().message);
    ok = false;
    return std::nullopt;
  }
  return std::move(compiled.value());
}

std::optional<parsed_image> parse_image(validator& v, const YAML::Node& node, std::size_t index) {
  const std::string ctx = "images[" + std::to_string(index) + "]";
  if (!v.expect_map(node, node.Mark(), ctx)) {
    return std::nullopt;
  }
  parsed_image out;
  out.rule.where = {node.Mark().line + 1, node.Mark().column + 1};
  bool ok = true;
  auto f = v.fields(node, k_image_keys, "image rule " + ctx);
  if (auto it = f.find("name"); it != f.end()) {
    auto s = v.non_empty_string(it->second, "name");
    if (s && (!is_dns_subdomain(*s) || s->ends_with(".lock"))) {
      v.error(validator::at(it->second),
              "image rule name " + quoted(*s) +
                  " must be a Kubernetes object name: lower-case letters, digits, '-' and '.', "
                  "at most 253 characters (and not ending in \".lock\", which git refuses in "
                  "branch names)");
      s.reset();
    }
    if (s) {
      out.rule.name = *s;
      out.has_name = true;
      out.name_mark = it->second.value.Mark();
    } else {
      ok = false;
    }
  } else {
    v.missing(node, "name", "image rule " + ctx, " (markers refer to <namespace>:<name>)");
    ok = false;
  }
  if (auto it = f.find("namespace"); it != f.end()) {
    auto s = v.non_empty_string(it->second, "namespace");
    if (s && !is_dns_label(*s, 63)) {
      v.error(validator::at(it->second),
              "namespace " + quoted(*s) +
                  " must be a Kubernetes namespace name (a DNS label: lower-case letters, digits "
                  "and '-', at most 63 characters)");
      s.reset();
    }
    if (s) {
      out.rule.namespace_name = *s;
    } else {
      ok = false;
    }
  }
  if (auto it = f.find("image"); it != f.end()) {
    auto s = v.string_value(it->second, "image");
    if (s) {
      if (auto why = check_image_reference(*s); !why.empty()) {
        v.error(validator::at(it->second), why);
        ok = false;
      } else {
        out.rule.image = *s;
      }
    } else {
      ok = false;
    }
  } else {
    v.missing(node, "image", "image rule " + ctx, " (e.g. image: ghcr.io/owner/app)");
    ok = false;
  }
  if (auto it = f.find("filterTags"); it != f.end()) {
    out.rule.policy.filter = parse_filter(v, it->second, ok);
  }
  if (auto it = f.find("policy"); it != f.end()) {
    auto p = parse_policy(v, it->second);
    if (p) {
      out.rule.policy.kind = std::move(*p);
    } else {
      ok = false;
    }
  } else {
    v.missing(node, "policy", "image rule " + ctx,
              " (one of {newest: {}}, {semver: {range: ...}}, {alphabetical: {}}, "
              "{numerical: {}})");
    ok = false;
  }
  if (auto it = f.find("sourceBranches"); it != f.end()) {
    auto l = v.string_list(it->second, "sourceBranches", false);
    if (l) {
      out.rule.source_branches = std::move(*l);
    } else {
      ok = false;
    }
  }
  if (auto it = f.find("pinDigest"); it != f.end()) {
    auto b = v.bool_value(it->second, "pinDigest");
    if (b) {
      out.rule.pin_digest = *b;
    } else {
      ok = false;
    }
  }
  if (auto it = f.find("group"); it != f.end()) {
    auto s = v.non_empty_string(it->second, "group");
    if (s && !is_dns_label(*s, limits::k_group_name_max)) {
      v.error(validator::at(it->second),
              "group " + quoted(*s) + " must be a DNS label of at most " +
                  std::to_string(limits::k_group_name_max) +
                  " characters (lower-case letters, digits and '-'): it names the branch "
                  "ferry/<env>/group-<group>");
      s.reset();
    }
    if (s) {
      out.rule.group = *s;
    } else {
      ok = false;
    }
  }
  if (!ok) {
    // Keep what identifies the rule for the cross checks; the errors are already recorded.
    return out.has_name ? std::optional<parsed_image>(std::move(out)) : std::nullopt;
  }
  return out;
}

// apply.flux.healthChecks: a list of {apiVersion?, kind, name, namespace?} (Flux's format).
std::optional<std::vector<health_check>> parse_health_checks(validator& v, const entry& e) {
  constexpr std::string_view what = "apply.flux.healthChecks";
  if (!e.value.IsSequence()) {
    v.error(validator::at(e), std::string(what) +
                                  " must be a list of {apiVersion, kind, name, namespace}, found " +
                                  describe(e.value));
    return std::nullopt;
  }
  std::vector<health_check> out;
  bool ok = true;
  std::size_t index = 0;
  for (const auto& item : e.value) {
    const std::string ctx = std::string(what) + "[" + std::to_string(index++) + "]";
    if (!v.expect_map(item, item.IsNull() ? e.key.Mark() : item.Mark(), ctx)) {
      ok = false;
      continue;
    }
    auto f = v.fields(item, k_health_check_keys, ctx);
    health_check hc;
    const health_kind* known = nullptr;
    if (auto it = f.find("kind"); it != f.end()) {
      auto s = v.non_empty_string(it->second, ctx + ".kind");
      if (s) {
        for (const auto& k : k_health_kinds) {
          if (k.kind == *s) {
            known = &k;
          }
        }
        if (known == nullptr) {
          v.error(validator::at(it->second),
                  ctx + ".kind " + quoted(*s) +
                      " is not one ferry can judge (supported: HelmRelease, Deployment)");
          ok = false;
        } else {
          hc.kind = *s;
        }
      } else {
        ok = false;
      }
    } else {
      v.missing(item, "kind", ctx, " (HelmRelease or Deployment)");
      ok = false;
    }
    if (auto it = f.find("apiVersion"); it != f.end()) {
      auto s = v.non_empty_string(it->second, ctx + ".apiVersion");
      if (s && known != nullptr) {
        if (*s != known->api_versions[0] &&
            (known->api_versions[1].empty() || *s != known->api_versions[1])) {
          std::string allowed = quoted(known->api_versions[0]);
          if (!known->api_versions[1].empty()) {
            allowed += " or " + quoted(known->api_versions[1]);
          }
          v.error(validator::at(it->second),
                  ctx + ".apiVersion " + quoted(*s) + " for a " + hc.kind + " must be " + allowed);
          ok = false;
        } else {
          hc.api_version = *s;
        }
      } else if (!s) {
        ok = false;
      }
    } else if (known != nullptr) {
      hc.api_version = std::string(known->api_versions[0]);
    }
    if (auto it = f.find("name"); it != f.end()) {
      auto s = v.non_empty_string(it->second, ctx + ".name");
      if (s && !is_dns_subdomain(*s)) {
        v.error(validator::at(it->second),
                ctx + ".name " + quoted(*s) + " must be a Kubernetes object name");
        s.reset();
      }
      if (s) {
        hc.name = *s;
      } else {
        ok = false;
      }
    } else {
      v.missing(item, "name", ctx);
      ok = false;
    }
    if (auto it = f.find("namespace"); it != f.end()) {
      auto s = v.non_empty_string(it->second, ctx + ".namespace");
      if (s && !is_dns_label(*s, 63)) {
        v.error(validator::at(it->second),
                ctx + ".namespace " + quoted(*s) + " must be a Kubernetes namespace name");
        s.reset();
      }
      if (s) {
        hc.namespace_name = *s;
      } else {
        ok = false;
      }
    }
    out.push_back(std::move(hc));
  }
  if (!ok) {
    return std::nullopt;
  }
  return out;
}

// apply.argocd: {application, namespace (default argocd), sync (default false)}.
std::optional<apply_argocd> parse_apply_argocd(validator& v, const entry& e) {
  if (!v.expect_map(e.value, validator::at(e), "apply.argocd")) {
    return std::nullopt;
  }
  auto f = v.fields(e.value, k_argocd_keys, "apply.argocd");
  apply_argocd out;
  bool ok = true;
  if (auto it = f.find("application"); it != f.end()) {
    auto s = v.non_empty_string(it->second, "apply.argocd.application");
    if (s && !is_dns_subdomain(*s)) {
      v.error(validator::at(it->second),
              "apply.argocd.application " + quoted(*s) + " must be a Kubernetes object name");
      s.reset();
    }
    if (s) {
      out.application = *s;
    } else {
      ok = false;
    }
  } else {
    v.missing(e.value, "application", "apply.argocd", " (the Argo CD Application to refresh)");
    ok = false;
  }
  if (auto it = f.find("namespace"); it != f.end()) {
    auto s = v.non_empty_string(it->second, "apply.argocd.namespace");
    if (s && !is_dns_label(*s, 63)) {
      v.error(validator::at(it->second),
              "apply.argocd.namespace " + quoted(*s) + " must be a Kubernetes namespace name");
      s.reset();
    }
    if (s) {
      out.namespace_name = *s;
    } else {
      ok = false;
    }
  }
  if (auto it = f.find("sync"); it != f.end()) {
    auto b = v.bool_value(it->second, "apply.argocd.sync");
    if (b) {
      out.sync = *b;
    } else {
      ok = false;
    }
  }
  if (!ok) {
    return std::nullopt;
  }
  return out;
}

// apply.fleet: {gitRepo, namespace (default fleet-default)}.
std::optional<apply_fleet> parse_apply_fleet(validator& v, const entry& e) {
  if (!v.expect_map(e.value, validator::at(e), "apply.fleet")) {
    return std::nullopt;
  }
  auto f = v.fields(e.value, k_fleet_keys, "apply.fleet");
  apply_fleet out;
  bool ok = true;
  if (auto it = f.find("gitRepo"); it != f.end()) {
    auto s = v.non_empty_string(it->second, "apply.fleet.gitRepo");
    if (s && !is_dns_subdomain(*s)) {
      v.error(validator::at(it->second),
              "apply.fleet.gitRepo " + quoted(*s) + " must be a Kubernetes object name");
      s.reset();
    }
    if (s) {
      out.git_repo = *s;
    } else {
      ok = false;
    }
  } else {
    v.missing(e.value, "gitRepo", "apply.fleet", " (the Fleet GitRepo to sync)");
    ok = false;
  }
  if (auto it = f.find("namespace"); it != f.end()) {
    auto s = v.non_empty_string(it->second, "apply.fleet.namespace");
    if (s && !is_dns_label(*s, 63)) {
      v.error(validator::at(it->second),
              "apply.fleet.namespace " + quoted(*s) + " must be a Kubernetes namespace name");
      s.reset();
    }
    if (s) {
      out.namespace_name = *s;
    } else {
      ok = false;
    }
  }
  if (!ok) {
    return std::nullopt;
  }
  return out;
}

std::optional<apply_config> parse_apply(validator& v, const entry& e) {
  if (!v.expect_map(e.value, validator::at(e), "apply")) {
    return std::nullopt;
  }
  auto f = v.fields(e.value, k_apply_keys, "apply");
  apply_config out;
  bool ok = true;
  const auto flux = f.find("flux");
  const auto job = f.find("job");
  const auto argocd = f.find("argocd");
  const auto fleet = f.find("fleet");
  // Exactly one mode; the second one in the file is the one reported.
  std::vector<std::pair<std::string, const entry*>> modes;
  for (const auto& it : {flux, job, argocd, fleet}) {
    if (it != f.end()) {
      modes.emplace_back(it->first, &it->second);
    }
  }
  std::sort(modes.begin(), modes.end(), [](const auto& a, const auto& b) {
    return a.second->key.Mark().pos < b.second->key.Mark().pos;
  });
  if (modes.size() > 1) {
    v.error(modes[1].second->key.Mark(),
            "apply has both " + modes[0].first + " and " + modes[1].first + "; choose exactly one");
    return std::nullopt;
  }
  if (modes.empty()) {
    v.error(validator::at(e),
            "apply needs one of {flux: {kind: Kustomization, name: ...}}, "
            "{job: {namespace: ..., template: ...}}, {argocd: {application: ...}} or "
            "{fleet: {gitRepo: ...}}");
    return std::nullopt;
  }
  if (argocd != f.end()) {
    auto parsed = parse_apply_argocd(v, argocd->second);
    if (parsed) {
      out.target = std::move(*parsed);
    } else {
      ok = false;
    }
  } else if (fleet != f.end()) {
    auto parsed = parse_apply_fleet(v, fleet->second);
    if (parsed) {
      out.target = std::move(*parsed);
    } else {
      ok = false;
    }
  } else if (flux != f.end()) {
    const auto& fe = flux->second;
    apply_flux af;
    if (v.expect_map(fe.value, validator::at(fe), "apply.flux")) {
      auto ff = v.fields(fe.value, k_flux_keys, "apply.flux");
      if (auto it = ff.find("kind"); it != ff.end()) {
        auto s = v.string_value(it->second, "apply.flux.kind");
        if (s && *s != "Kustomization") {
          v.error(validator::at(it->second),
                  "apply.flux.kind must be \"Kustomization\", found " + quoted(*s));
          ok = false;
        } else if (!s) {
          ok = false;
        }
      }
      if (auto it = ff.find("name"); it != ff.end()) {
        auto s = v.non_empty_string(it->second, "apply.flux.name");
        if (s && !is_dns_subdomain(*s)) {
          v.error(validator::at(it->second),
                  "apply.flux.name " + quoted(*s) + " must be a Kubernetes object name");
          s.reset();
        }
        if (s) {
          af.name = *s;
        } else {
          ok = false;
        }
      } else {
        v.missing(fe.value, "name", "apply.flux", " (the Kustomization to reconcile)");
        ok = false;
      }
      if (auto it = ff.find("namespace"); it != ff.end()) {
        auto s = v.non_empty_string(it->second, "apply.flux.namespace");
        if (s && !is_dns_label(*s, 63)) {
          v.error(validator::at(it->second),
                  "apply.flux.namespace " + quoted(*s) + " must be a Kubernetes namespace name");
          s.reset();
        }
        if (s) {
          af.namespace_name = *s;
        } else {
          ok = false;
        }
      }
      if (auto it = ff.find("healthChecks"); it != ff.end()) {
        auto checks = parse_health_checks(v, it->second);
        if (checks) {
          // Flux: a health check without a namespace names an object in the Kustomization's.
          for (auto& c : *checks) {
            if (c.namespace_name.empty()) {
              c.namespace_name = af.namespace_name;
            }
          }
          af.health_checks = std::move(*checks);
        } else {
          ok = false;
        }
      }
    } else {
      ok = false;
    }
    out.target = std::move(af);
  } else {
    const auto& je = job->second;
    apply_job aj;
    if (v.expect_map(je.value, validator::at(je), "apply.job")) {
      auto jf = v.fields(je.value, k_job_keys, "apply.job");
      if (auto it = jf.find("namespace"); it != jf.end()) {
        auto s = v.non_empty_string(it->second, "apply.job.namespace");
        if (s && !is_dns_label(*s, 63)) {
          v.error(validator::at(it->second),
                  "apply.job.namespace " + quoted(*s) + " must be a Kubernetes namespace name");
          s.reset();
        }
        if (s) {
          aj.namespace_name = *s;
        } else {
          ok = false;
        }
      } else {
        v.missing(je.value, "namespace", "apply.job", " (where the Job is created)");
        ok = false;
      }
      if (auto it = jf.find("template"); it != jf.end()) {
        auto s = v.non_empty_string(it->second, "apply.job.template");
        if (s) {
          std::string why;
          auto p = normalise_repo_path(*s, why);
          if (p && *p == ".") {
            why = "apply.job.template must name a file in the repository";
            p.reset();
          }
          if (p) {
            aj.template_path = *p;
          } else {
            v.error(validator::at(it->second), "apply.job.template: " + why);
            ok = false;
          }
        } else {
          ok = false;
        }
      } else {
        v.missing(je.value, "template", "apply.job", " (a Job manifest path in this repository)");
        ok = false;
      }
    } else {
      ok = false;
    }
    out.target = std::move(aj);
  }
  if (auto it = f.find("timeout"); it != f.end()) {
    auto s = v.string_value(it->second, "apply.timeout");
    if (s) {
      auto d = parse_duration(*s);
      if (!d || d->count() <= 0 || *d > limits::k_apply_timeout_max) {
        v.error(validator::at(it->second),
                "apply.timeout " + quoted(*s) +
                    " must be a duration such as 10m, 90s or 1h30m (above 0, at most 24h)");
        ok = false;
      } else {
        out.timeout = *d;
      }
    } else {
      ok = false;
    }
  }
  if (!ok) {
    return std::nullopt;
  }
  return out;
}

// gates: {flagger: {canary, namespace}, statuses: [context, ...], timeout (default 30m)}.
std::optional<gates_config> parse_gates(validator& v, const entry& e) {
  if (!v.expect_map(e.value, validator::at(e), "gates")) {
    return std::nullopt;
  }
  auto f = v.fields(e.value, k_gates_keys, "gates");
  gates_config out;
  bool ok = true;
  if (auto it = f.find("flagger"); it != f.end()) {
    const auto& fe = it->second;
    if (v.expect_map(fe.value, validator::at(fe), "gates.flagger")) {
      auto ff = v.fields(fe.value, k_flagger_keys, "gates.flagger");
      gate_flagger g;
      if (auto c = ff.find("canary"); c != ff.end()) {
        auto s = v.non_empty_string(c->second, "gates.flagger.canary");
        if (s && !is_dns_subdomain(*s)) {
          v.error(validator::at(c->second),
                  "gates.flagger.canary " + quoted(*s) + " must be a Kubernetes object name");
          s.reset();
        }
        ok = ok && s.has_value();
        g.canary = s.value_or("");
      } else {
        v.missing(fe.value, "canary", "gates.flagger", " (the Flagger Canary to wait for)");
        ok = false;
      }
      if (auto n = ff.find("namespace"); n != ff.end()) {
        auto s = v.non_empty_string(n->second, "gates.flagger.namespace");
        if (s && !is_dns_label(*s, 63)) {
          v.error(validator::at(n->second),
                  "gates.flagger.namespace " + quoted(*s) + " must be a Kubernetes namespace name");
          s.reset();
        }
        ok = ok && s.has_value();
        g.namespace_name = s.value_or("");
      } else {
        v.missing(fe.value, "namespace", "gates.flagger", " (the Canary's namespace)");
        ok = false;
      }
      out.flagger = std::move(g);
    } else {
      ok = false;
    }
  }
  if (auto it = f.find("statuses"); it != f.end()) {
    if (auto l = v.string_list(it->second, "gates.statuses", false)) {
      std::size_t i = 0;
      for (const auto& context : *l) {
        const auto mark = it->second.value[i++].Mark();
        if (context.starts_with("ferry/")) {
          v.error(mark, "gates.statuses: " + quoted(context) +
                            " is one of ferry's own statuses; gates wait for other checks "
                            "(CI, end-to-end suites)");
          ok = false;
        } else if (std::find(out.statuses.begin(), out.statuses.end(), context) !=
                   out.statuses.end()) {
          v.error(mark, "gates.statuses lists " + quoted(context) + " twice");
          ok = false;
        } else {
          out.statuses.push_back(context);
        }
      }
    } else {
      ok = false;
    }
  }
  if (auto it = f.find("timeout"); it != f.end()) {
    auto s = v.string_value(it->second, "gates.timeout");
    auto d = s ? parse_duration(*s) : std::nullopt;
    if (s && (!d || d->count() <= 0 || *d > limits::k_apply_timeout_max)) {
      v.error(validator::at(it->second),
              "gates.timeout " + quoted(*s) +
                  " must be a duration such as 30m, 90s or 2h (above 0, at most 24h)");
      d.reset();
    }
    if (d) {
      out.timeout = *d;
    } else {
      ok = false;
    }
  }
  if (ok && !out.flagger && out.statuses.empty()) {
    v.error(validator::at(e),
            "gates needs flagger: {canary: ..., namespace: ...} or statuses: [context, ...]");
    ok = false;
  }
  if (!ok) {
    return std::nullopt;
  }
  return out;
}

std::optional<auto_merge> parse_auto_merge(validator& v, const entry& e) {
  if (e.value.IsScalar()) {
    auto b = v.bool_value(e, "autoMerge");
    if (!b) {
      return std::nullopt;
    }
    return auto_merge{*b, merge_method::squash};
  }
  if (!e.value.IsMap()) {
    v.error(validator::at(e),
            "autoMerge must be true, false or {method: squash|merge|rebase}, found " +
                describe(e.value));
    return std::nullopt;
  }
  auto f = v.fields(e.value, k_auto_merge_keys, "autoMerge");
  auto_merge out{true, merge_method::squash};
  if (auto it = f.find("method"); it != f.end()) {
    auto s = v.string_value(it->second, "autoMerge.method");
    if (!s) {
      return std::nullopt;
    }
    if (*s == "squash") {
      out.method = merge_method::squash;
    } else if (*s == "merge") {
      out.method = merge_method::merge;
    } else if (*s == "rebase") {
      out.method = merge_method::rebase;
    } else {
      v.error(validator::at(it->second),
              "autoMerge.method must be squash, merge or rebase, found " + quoted(*s));
      return std::nullopt;
    }
  }
  return out;
}

std::optional<parsed_env> parse_environment(validator& v, const YAML::Node& node,
                                            std::size_t index) {
  const std::string ctx = "environments[" + std::to_string(index) + "]";
  if (!v.expect_map(node, node.Mark(), ctx)) {
    return std::nullopt;
  }
  parsed_env out;
  out.env.where = {node.Mark().line + 1, node.Mark().column + 1};
  bool ok = true;
  auto f = v.fields(node, k_env_keys, "environment " + ctx);
  if (auto it = f.find("name"); it != f.end()) {
    auto s = v.non_empty_string(it->second, "name");
    if (s && !is_dns_label(*s, limits::k_environment_name_max)) {
      v.error(validator::at(it->second),
              "environment name " + quoted(*s) + " must be a DNS label of at most " +
                  std::to_string(limits::k_environment_name_max) +
                  " characters: lower-case letters, digits and '-', starting and ending with a "
                  "letter or digit");
      s.reset();
    }
    if (s) {
      out.env.name = *s;
      out.has_name = true;
      out.name_mark = it->second.value.Mark();
    } else {
      ok = false;
    }
  } else {
    v.missing(node, "name", "environment " + ctx);
    ok = false;
  }
  if (auto it = f.find("paths"); it != f.end()) {
    if (auto l = v.string_list(it->second, "paths", false)) {
      std::size_t i = 0;
      for (const auto& p : *l) {
        std::string why;
        if (auto n = normalise_repo_path(p, why)) {
          out.env.paths.push_back(*n);
        } else {
          v.error(it->second.value[i].Mark(), why);
          ok = false;
        }
        ++i;
      }
    } else {
      ok = false;
    }
  } else {
    v.missing(node, "paths", "environment " + ctx,
              " (the directories whose markers this environment edits)");
    ok = false;
  }
  if (auto it = f.find("autoMerge"); it != f.end()) {
    if (auto m = parse_auto_merge(v, it->second)) {
      out.env.merge = *m;
    } else {
      ok = false;
    }
  }
  if (auto it = f.find("apply"); it != f.end()) {
    if (auto a = parse_apply(v, it->second)) {
      out.env.apply = std::move(*a);
    } else {
      ok = false;
    }
  }
  if (auto it = f.find("gates"); it != f.end()) {
    if (auto g = parse_gates(v, it->second)) {
      out.env.gates = std::move(*g);
      out.gates_mark = it->second.key.Mark();
    } else {
      ok = false;
    }
  }
  if (auto it = f.find("promoteFrom"); it != f.end()) {
    if (auto s = v.non_empty_string(it->second, "promoteFrom")) {
      out.env.promote_from = *s;
      out.promote_mark = it->second.value.Mark();
    } else {
      ok = false;
    }
  }
  if (auto it = f.find("reviewers"); it != f.end()) {
    if (auto l = v.string_list(it->second, "reviewers", true)) {
      out.env.reviewers = std::move(*l);
    } else {
      ok = false;
    }
  }
  if (auto it = f.find("teamReviewers"); it != f.end()) {
    if (auto l = v.string_list(it->second, "teamReviewers", true)) {
      out.env.team_reviewers = std::move(*l);
    } else {
      ok = false;
    }
  }
  if (auto it = f.find("suspend"); it != f.end()) {
    if (auto b = v.bool_value(it->second, "suspend")) {
      out.env.suspend = *b;
    } else {
      ok = false;
    }
  }
  if (out.env.gates && !out.env.apply) {
    // Gates are checked after this environment's apply succeeded; without one they never are.
    v.error(out.gates_mark,
            "gates need an apply on the same environment: they are checked after its apply "
            "succeeded, before the environments promoted from it get their pull requests");
    ok = false;
  }
  if (!ok && !out.has_name) {
    return std::nullopt;
  }
  return out;
}

std::string mark_text(const YAML::Mark& m) {
  return std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

void cross_check(validator& v, const std::vector<parsed_image>& images,
                 const std::vector<parsed_env>& envs) {
  // Duplicate image rules and branch-name collisions: the branch is ferry/<env>/<ns>-<name>,
  // so two different (namespace, name) pairs with the same "<ns>-<name>" share every branch. A
  // group's branch is ferry/<env>/group-<group>: a rule outside it whose "<ns>-<name>" is
  // "group-<group>" would share it too.
  std::map<std::pair<std::string, std::string>, const parsed_image*> by_ref;
  std::map<std::string, const parsed_image*> by_branch;
  for (const auto& img : images) {
    const auto ref = std::make_pair(img.rule.namespace_name, img.rule.name);
    if (auto it = by_ref.find(ref); it != by_ref.end()) {
      v.error(img.name_mark, "duplicate image rule " + quoted(img.rule.marker_ref()) +
                                 " (first defined at " + mark_text(it->second->name_mark) +
                                 "); names must be unique within a namespace");
      continue;
    }
    by_ref.emplace(ref, &img);
    const std::string suffix = img.rule.namespace_name + "-" + img.rule.name;
    if (auto it = by_branch.find(suffix); it != by_branch.end()) {
      v.error(img.name_mark,
              "image rules " + quoted(it->second->rule.marker_ref()) + " (at " +
                  mark_text(it->second->name_mark) + ") and " + quoted(img.rule.marker_ref()) +
                  " would share the branch ferry/<env>/" + suffix + "; rename one of them");
      continue;
    }
    by_branch.emplace(suffix, &img);
  }
  std::map<std::string, const parsed_image*> by_group;
  for (const auto& img : images) {
    if (!img.rule.group.empty()) {
      by_group.emplace(img.rule.group, &img);
    }
  }
  for (const auto& [group, first] : by_group) {
    if (auto it = by_branch.find("group-" + group); it != by_branch.end()) {
      v.error(it->second->name_mark, "image rule " + quoted(it->second->rule.marker_ref()) +
                                         " would share the branch ferry/<env>/group-" + group +
                                         " with group " + quoted(group) + " (first named at " +
                                         mark_text(first->name_mark) + "); rename one of them");
    }
  }

  std::map<std::string, const parsed_env*> by_name;
  std::vector<std::string_view> names;
  for (const auto& e : envs) {
    if (auto it = by_name.find(e.env.name); it != by_name.end()) {
      v.error(e.name_mark, "duplicate environment " + quoted(e.env.name) + " (first defined at " +
                               mark_text(it->second->name_mark) + ")");
      continue;
    }
    by_name.emplace(e.env.name, &e);
    names.push_back(e.env.name);
  }
  bool graph_ok = true;
  for (const auto& e : envs) {
    if (!e.env.promote_from) {
      continue;
    }
    if (by_name.find(*e.env.promote_from) == by_name.end()) {
      std::string msg = "promoteFrom names " + quoted(*e.env.promote_from) +
                        ", which is not an environment in this file";
      if (auto near = nearest(*e.env.promote_from, names)) {
        msg += "; did you mean " + quoted(*near) + "?";
      }
      v.error(e.promote_mark, msg);
      graph_ok = false;
      continue;
    }
    // SPEC "Rules file": an environment without apply gets pull requests only and cannot be
    // named by promoteFrom; promotion follows an apply result, and there would never be one.
    if (const auto* up = by_name.at(*e.env.promote_from); !up->env.apply) {
      v.error(e.promote_mark, "promoteFrom names " + quoted(*e.env.promote_from) +
                                  ", which has no apply: promotion follows an apply's result, "
                                  "so give " +
                                  quoted(*e.env.promote_from) +
                                  " an apply or remove this promoteFrom");
    }
  }
  if (!graph_ok) {
    return;
  }
  // Each environment has at most one upstream, so a cycle shows up as a walk that returns to
  // an environment already on it. Report each cycle once, at its first member in file order.
  std::set<std::string> reported;
  for (const auto& e : envs) {
    if (!e.env.promote_from || reported.count(e.env.name) != 0) {
      continue;
    }
    std::vector<std::string> chain{e.env.name};
    std::string cur = *e.env.promote_from;
    bool cycle = false;
    for (std::size_t steps = 0; steps <= envs.size(); ++steps) {
      if (cur == e.env.name) {
        cycle = true;
        break;
      }
      const auto* next = by_name.at(cur);
      if (!next->env.promote_from) {
        break;
      }
      chain.push_back(cur);
      cur = *next->env.promote_from;
    }
    if (cycle) {
      std::string text;
      // chain lists downstream to upstream; print the promotion direction.
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        text += *it + " -> ";
      }
      text += chain.back();
      for (const auto& n : chain) {
        reported.insert(n);
      }
      v.error(e.promote_mark, "promotion cycle: " + text +
                                  "; every chain needs an entry environment without promoteFrom");
    }
  }
}

}  // namespace

std::string diagnostic::to_string() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

const char* to_string(merge_method m) noexcept {
  switch (m) {
    case merge_method::squash:
      return "squash";
    case merge_method::merge:
      return "merge";
    case merge_method::rebase:
      return "rebase";
  }
  return "squash";
}

std::string parse_outcome::report() const {
  std::string out;
  for (const auto& d : diagnostics_) {
    out += d.to_string();
    out += '\n';
  }
  return out;
}

result<rules_file> parse_outcome::to_result() const& {
  if (rules_) {
    return *rules_;
  }
  return make_error(error_kind::invalid_input, report());
}

parse_outcome parse_rules(std::string_view text, std::string_view file_name) {
  validator v(file_name);
  if (text.size() > limits::k_rules_file_max) {
    v.error(YAML::Mark(), "the rules file is larger than " +
                              std::to_string(limits::k_rules_file_max / 1024) + " KiB");
    return parse_outcome(v.take());
  }
  const std::string owned(text);
  YAML::Node root;
  try {
    std::vector<YAML::Mark> starts;
    if (auto read = yaml::document_starts(owned, 2, starts); read.failed) {
      v.error(read.mark, read.message);
      return parse_outcome(v.take());
    }
    if (starts.size() > 1) {
      v.error(starts[1], "the rules file must hold one YAML document; a second one starts here");
      return parse_outcome(v.take());
    }
    root = YAML::Load(owned);
  } catch (const YAML::Exception& e) {
    v.error(e.mark, "YAML syntax error: " + e.msg);
    return parse_outcome(v.take());
  }
  if (root.IsNull() || !root.IsDefined()) {
    v.error(YAML::Mark(), "the rules file is empty; it needs version: 1, images and environments");
    return parse_outcome(v.take());
  }
  if (!v.expect_map(root, root.Mark(), "the rules file")) {
    return parse_outcome(v.take());
  }
  rules_file out;
  std::vector<parsed_image> images;
  std::vector<parsed_env> envs;
  try {
    auto f = v.fields(root, k_top_keys, "the rules file");
    if (auto it = f.find("version"); it != f.end()) {
      const auto& e = it->second;
      if (!(e.value.IsScalar() && e.value.Tag() == "?" && e.value.Scalar() == "1")) {
        v.error(validator::at(e),
                "version must be 1 (the only rules format this ferry knows), "
                "found " +
                    describe(e.value));
      }
    } else {
      v.missing(root, "version", "the rules file", " (add version: 1)");
    }
    if (auto it = f.find("images"); it != f.end()) {
      const auto& e = it->second;
      if (!e.value.IsSequence()) {
        v.error(validator::at(e),
                "images must be a list of image rules, found " + describe(e.value));
      } else if (e.value.size() > limits::k_rules_images_max) {
        v.error(validator::at(e),
                "more than " + std::to_string(limits::k_rules_images_max) + " image rules");
      } else {
        std::size_t i = 0;
        for (const auto& item : e.value) {
          if (auto img = parse_image(v, item, i)) {
            images.push_back(std::move(*img));
          }
          ++i;
        }
      }
    } else {
      v.missing(root, "images", "the rules file");
    }
    if (auto it = f.find("environments"); it != f.end()) {
      const auto& e = it->second;
      if (!e.value.IsSequence() || e.value.size() == 0) {
        v.error(validator::at(e),
                "environments must be a non-empty list, found " + describe(e.value));
      } else if (e.value.size() > limits::k_rules_environments_max) {
        v.error(validator::at(e),
                "more than " + std::to_string(limits::k_rules_environments_max) + " environments");
      } else {
        std::size_t i = 0;
        for (const auto& item : e.value) {
          if (auto env = parse_environment(v, item, i)) {
            envs.push_back(std::move(*env));
          }
          ++i;
        }
      }
    } else {
      v.missing(root, "environments", "the rules file");
    }
    cross_check(v, images, envs);
  } catch (const YAML::Exception& e) {
    // yaml-cpp accessors should not throw on the checked paths; if one does, report it with its
    // position instead of letting it escape the module.
    v.error(e.mark, "unreadable rules file: " + e.msg);
  }
  if (v.failed()) {
    return parse_outcome(v.take());
  }
  for (auto& img : images) {
    out.images.push_back(std::move(img.rule));
  }
  for (auto& env : envs) {
    out.environments.push_back(std::move(env.env));
  }
  return parse_outcome(std::move(out));
}

const environment* find_environment(const rules_file& rules, std::string_view name) {
  for (const auto& e : rules.environments) {
    if (e.name == name) {
      return &e;
    }
  }
  return nullptr;
}

const image_rule* find_image_rule(const rules_file& rules, std::string_view namespace_name,
                                  std::string_view name) {
  for (const auto& r : rules.images) {
    if (r.namespace_name == namespace_name && r.name == name) {
      return &r;
    }
  }
  return nullptr;
}

std::vector<const image_rule*> rules_for_image(const rules_file& rules,
                                               std::string_view image_ref) {
  std::vector<const image_rule*> out;
  const std::string wanted = lower(image_ref);
  for (const auto& r : rules.images) {
    if (r.image == wanted) {
      out.push_back(&r);
    }
  }
  return out;
}

std::vector<const environment*> entry_environments(const rules_file& rules) {
  std::vector<const environment*> out;
  for (const auto& e : rules.environments) {
    if (!e.promote_from && !e.suspend) {
      out.push_back(&e);
    }
  }
  return out;
}

bool is_suspended(const rules_file& rules, std::string_view environment_name) {
  const environment* e = find_environment(rules, environment_name);
  // Valid rules have no cycles; the step bound keeps this total even on hand-built structs.
  for (std::size_t steps = 0; e != nullptr && steps <= rules.environments.size(); ++steps) {
    if (e->suspend) {
      return true;
    }
    if (!e->promote_from) {
      return false;
    }
    e = find_environment(rules, *e->promote_from);
  }
  return true;
}

std::vector<const environment*> direct_downstream(const rules_file& rules,
                                                  std::string_view environment_name) {
  std::vector<const environment*> out;
  for (const auto& e : rules.environments) {
    if (e.promote_from && *e.promote_from == environment_name) {
      out.push_back(&e);
    }
  }
  return out;
}

std::vector<const environment*> all_downstream(const rules_file& rules,
                                               std::string_view environment_name) {
  std::vector<const environment*> out;
  std::set<std::string_view> seen{environment_name};
  std::vector<std::string_view> frontier{environment_name};
  while (!frontier.empty()) {
    std::vector<std::string_view> next;
    for (auto name : frontier) {
      for (const auto* e : direct_downstream(rules, name)) {
        if (seen.insert(e->name).second) {
          out.push_back(e);
          next.push_back(e->name);
        }
      }
    }
    frontier = std::move(next);
  }
  return out;
}

std::string branch_name(const environment& env, const image_rule& rule) {
  if (!rule.group.empty()) {
    return "ferry/" + env.name + "/group-" + rule.group;
  }
  return "ferry/" + env.name + "/" + rule.namespace_name + "-" + rule.name;
}

std::vector<const image_rule*> group_rules(const rules_file& rules, std::string_view group) {
  std::vector<const image_rule*> out;
  if (group.empty()) {
    return out;
  }
  for (const auto& r : rules.images) {
    if (r.group == group) {
      out.push_back(&r);
    }
  }
  return out;
}

}  // namespace ferry::rules
