#include "service/onboard/convert.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

#include "service/onboard/plan.hpp"

namespace ferry::onboard {
namespace {

// [v]MAJOR.MINOR.PATCH[-PRERELEASE] as semver.org 2.0.0 writes it (no leading zeros in numbers,
// pre-release identifiers non-empty [0-9A-Za-z-]); anything else gets the newest policy.
bool is_semver(std::string_view tag) {
  if (tag.starts_with('v')) {
    tag.remove_prefix(1);
  }
  const auto dash = tag.find('-');
  const auto core = tag.substr(0, dash);
  auto numeric = [](std::string_view n) {
    return !n.empty() &&
           std::all_of(n.begin(), n.end(), [](unsigned char c) { return std::isdigit(c); }) &&
           (n.size() == 1 || n[0] != '0') && n.size() <= 18;  // fits ferry's uint64 parts
  };
  auto split = [](std::string_view v) {
    std::vector<std::string_view> out;
    for (std::size_t start = 0;;) {
      const auto dot = v.find('.', start);
      out.push_back(v.substr(start, dot == std::string_view::npos ? v.npos : dot - start));
      if (dot == std::string_view::npos) {
        return out;
      }
      start = dot + 1;
    }
  };
  const auto parts = split(core);
  if (parts.size() != 3 || !std::all_of(parts.begin(), parts.end(), numeric)) {
    return false;
  }
  if (dash == std::string_view::npos) {
    return true;
  }
  for (const auto id : split(tag.substr(dash + 1))) {
    const bool ok = !id.empty() && std::all_of(id.begin(), id.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '-';
    });
    const bool all_digits =
        std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isdigit(c); });
    if (!ok || (all_digits && !numeric(id))) {
      return false;
    }
  }
  return true;
}

}  // namespace

// The OCI distribution spec's name grammar (distribution/reference: path components
// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*, an optional host[:port] first): what ferry's rules and
// markers accept, so a conversion never writes an image they would refuse.
bool valid_repository(std::string_view repo) {
  if (repo.empty() || repo.size() > 255) {
    return false;
  }
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const auto slash = repo.find('/', start);
    parts.push_back(
        repo.substr(start, slash == std::string_view::npos ? repo.npos : slash - start));
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  std::size_t first = 0;
  if (parts.size() > 1 &&
      (parts[0].find_first_of(".:") != std::string_view::npos || parts[0] == "localhost")) {
    const auto host = parts[0].substr(0, parts[0].find(':'));
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](unsigned char c) {
          return std::isalnum(c) || c == '.' || c == '-';
        })) {
      return false;
    }
    first = 1;
  }
  for (std::size_t i = first; i < parts.size(); ++i) {
    const auto c = parts[i];
    auto alnum = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
    if (c.empty() || !alnum(c.front()) || !alnum(c.back())) {
      return false;
    }
    for (std::size_t k = 0; k < c.size(); ++k) {
      if (alnum(c[k]) || c[k] == '-') {
        continue;
      }
      if ((c[k] == '.' || c[k] == '_') && alnum(c[k + 1])) {
        continue;
      }
      if (c[k] == '_' && c[k + 1] == '_' && k + 2 < c.size() && alnum(c[k + 2])) {
        ++k;
        continue;
      }
      return false;
    }
  }
  return true;
}

std::string yaml_scalar(std::string_view s) {
  static constexpr std::array<std::string_view, 22> k_special{
      "",    "~",   "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
      "yes", "Yes", "YES",  "no",   "No",   "NO",   "on",   "On",   "off",   "Off",   "y"};
  bool plain = std::find(k_special.begin(), k_special.end(), s) == k_special.end() && s != "n" &&
               s != "Y" && s != "N" && s != "ON" && s != "OFF";
  if (plain) {
    const unsigned char first = static_cast<unsigned char>(s[0]);
    plain = std::isalnum(first) || first == '/' || first == '_' || first == '.';
    // Numbers (and things YAML 1.1 would read as numbers or times) stay strings only quoted.
    bool numeric = true;
    for (unsigned char c : s) {
      if (!(std::isdigit(c) || c == '.' || c == '_' || c == ':' || c == '+' || c == '-' ||
            c == 'e' || c == 'E' || c == 'x' || c == 'o')) {
        numeric = false;
        break;
      }
    }
    if (numeric && std::isdigit(first)) {
      plain = false;
    }
    if (s == ".inf" || s == ".nan" || s == ".Inf" || s == ".NaN" || s == "<<") {
      plain = false;
    }
  }
  for (std::size_t i = 0; plain && i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f || c == '#' || c == '"' || c == '\'' || c == '{' || c == '}' ||
        c == '[' || c == ']' || c == ',' || c == '&' || c == '*' || c == '!' || c == '|' ||
        c == '>' || c == '%' || c == '@' || c == '`' || c == '\\') {
      plain = false;
    }
    if (c == ':' && (i + 1 == s.size() || s[i + 1] == ' ')) {
      plain = false;
    }
    if (c == ' ' && (i + 1 == s.size() || s[i + 1] == '#')) {
      plain = false;
    }
  }
  if (plain) {
    return std::string(s);
  }
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string dns_label(std::string_view s) {
  std::string out;
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) && c < 0x80) {
      out += static_cast<char>(std::tolower(c));
    } else if (c == '-' || c == '_' || c == '.') {
      out += '-';
    }
  }
  while (!out.empty() && out.front() == '-') {
    out.erase(out.begin());
  }
  while (!out.empty() && out.back() == '-') {
    out.pop_back();
  }
  return out;
}

image_ref split_image(std::string_view image) {
  image_ref r;
  std::string_view digest;
  if (const auto at = image.find('@'); at != std::string_view::npos) {
    digest = image.substr(at);
    image = image.substr(0, at);
  }
  const auto slash = image.rfind('/');
  const auto colon = image.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    r.repository = std::string(image.substr(0, colon));
    r.tag = std::string(image.substr(colon + 1));
  } else {
    r.repository = std::string(image);
    r.tag = digest.empty() ? "latest" : "";
  }
  r.tag += std::string(digest);
  return r;
}

std::string relative_path(std::string_view from, std::string_view to) {
  auto split = [](std::string_view p) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (start <= p.size()) {
      const auto slash = p.find('/', start);
      const auto part = p.substr(start, slash == std::string_view::npos ? p.npos : slash - start);
      if (!part.empty() && part != ".") {
        out.push_back(part);
      }
      if (slash == std::string_view::npos) {
        break;
      }
      start = slash + 1;
    }
    return out;
  };
  const auto a = split(from);
  const auto b = split(to);
  std::size_t common = 0;
  while (common < a.size() && common < b.size() && a[common] == b[common]) {
    ++common;
  }
  std::string out;
  for (std::size_t i = common; i < a.size(); ++i) {
    out += out.empty() ? ".." : "/..";
  }
  for (std::size_t i = common; i < b.size(); ++i) {
    out += (out.empty() ? "" : "/") + std::string(b[i]);
  }
  return out.empty() ? "." : out;
}

std::string image_rule_entry::yaml() const {
  return "  - name: " + yaml_scalar(name) + "\n" +
         (namespace_name == "flux-system"
              ? ""
              : "    namespace: " + yaml_scalar(namespace_name) + "\n") +
         "    image: " + yaml_scalar(image) + "\n    policy: " + policy + "\n";
}

result<conversion> convert(const compose_file& compose, const options& opts) {
  if (dns_label(opts.app) != opts.app || opts.app.empty() || opts.app.size() > 40) {
    return make_error(error_kind::invalid_input,
                      "--app \"" + opts.app +
                          "\": the app's name must be lower-case letters, digits and '-', at "
                          "most 40 characters (it names objects, directories and rules)");
  }
  if (opts.envs.empty()) {
    return make_error(error_kind::invalid_input, "--env: no environment given");
  }
  for (const auto& e : opts.envs) {
    if (dns_label(e) != e || e.empty()) {
      return make_error(error_kind::invalid_input,
                        "--env \"" + e + "\": an environment name must be a DNS label");
    }
  }
  conversion out;
  for (const auto& n : compose.ignored) {
    out.log.push_back((n.service.empty() ? "" : n.service + ": ") + n.key + ": ignored (" + n.text +
                      ")");
  }
  auto plan = detail::plan_app(compose, opts, out.log);
  if (!plan) {
    return std::move(plan).error();
  }
  out.files = detail::write_manifests(*plan, opts, out.log);
  for (const auto& s : plan->services) {
    if (!s.marked) {
      continue;
    }
    image_rule_entry r;
    r.name = opts.app + "-" + s.name;
    r.namespace_name = opts.rules_namespace;
    r.image = s.repository;
    const auto at = s.tag.find('@');
    const std::string tag = at == std::string::npos ? s.tag : s.tag.substr(0, at);
    if (is_semver(tag)) {
      r.policy = "{semver: {range: '>=" + (tag[0] == 'v' ? tag.substr(1) : tag) + "'}}";
      out.log.push_back(s.compose_name + ": rule " + r.name + ": semver >= " + tag +
                        " (the tag is a version)");
    } else {
      r.policy = "{newest: {}}";
      out.log.push_back(s.compose_name + ": rule " + r.name + ": newest (the tag \"" + tag +
                        "\" is not a version; needs the App on the source repository)");
    }
    out.rules.push_back(std::move(r));
  }
  return out;
}

result<conversion> convert_text(std::string_view compose_text, const options& opts) {
  auto compose = read_compose(compose_text);
  if (!compose) {
    return std::move(compose).error();
  }
  return convert(*compose, opts);
}

}  // namespace ferry::onboard
