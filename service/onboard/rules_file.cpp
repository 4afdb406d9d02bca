// What `ferry onboard` reads from and adds to the infra repository's rules file and
// kustomizations: the `onboarding:` section, the image rules (spliced, never re-emitted: STYLE
// "Text edits") and an overlay's entry in its environment's kustomization.

#include <algorithm>
#include <charconv>

#include <yaml-cpp/yaml.h>

#include "service/onboard/onboard.hpp"
#include "service/rules/rules.hpp"
#include "service/rules/yaml_documents.hpp"
#include "service/text.hpp"

namespace ferry::onboard {
namespace {

std::string at(std::string_view file, const YAML::Mark& m, std::string_view message) {
  return std::string(file) + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) +
         ": " + std::string(message);
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto nl = text.find('\n', start);
    const auto end = nl == std::string_view::npos ? text.size() : nl + 1;
    out.push_back(text.substr(start, end - start));
    start = end;
  }
  return out;
}

bool blank_or_comment(std::string_view line) {
  const auto p = line.find_first_not_of(" \t\r\n");
  return p == std::string_view::npos || line[p] == '#';
}

std::size_t indent_of(std::string_view line) {
  return line.find_first_not_of(' ');
}

// A compose file's path inside the application repository: relative, '/'-separated, no empty,
// "." or ".." component (nothing outside the repository), printable ASCII without spaces.
bool valid_repo_path(std::string_view p) {
  if (p.empty() || p.size() > 1024 || p.front() == '/') {
    return false;
  }
  std::size_t start = 0;
  while (true) {
    const auto slash = p.find('/', start);
    const auto part =
        p.substr(start, slash == std::string_view::npos ? p.size() - start : slash - start);
    if (part.empty() || part == "." || part == "..") {
      return false;
    }
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return std::all_of(p.begin(), p.end(), [](char c) { return c > ' ' && c < 0x7f && c != '\\'; });
}

result<std::vector<onboarding_source>> parse_sources(const YAML::Node& v,
                                                     std::string_view file_name) {
  const auto fail = [&](const YAML::Mark& m, const std::string& message) {
    return make_error(error_kind::invalid_input, at(file_name, m, message));
  };
  if (!v.IsSequence()) {
    return fail(
        v.Mark(),
        "onboarding.sources must be a list of {repo: owner/name, compose: FILE, app: NAME}");
  }
  std::vector<onboarding_source> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto item = v[i];
    const std::string where = "onboarding.sources[" + std::to_string(i) + "]";
    if (!item.IsMap()) {
      return fail(item.Mark(),
                  where + " must be a mapping {repo: owner/name, compose: FILE, app: NAME}");
    }
    onboarding_source src;
    bool has_app = false;
    for (const auto& kv : item) {
      const auto key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      if (key != "repo" && key != "compose" && key != "app") {
        return fail(kv.first.Mark(), "unknown key \"" + key + "\" in " + where +
                                         " (valid keys: repo, compose, app)");
      }
      if (!kv.second.IsScalar()) {
        return fail(kv.second.Mark(), where + "." + key + " must be a single value");
      }
      const auto& s = kv.second.Scalar();
      if (key == "repo") {
        const auto slash = s.find('/');
        if (slash == std::string::npos ||
            !text::is_github_owner(std::string_view(s).substr(0, slash)) ||
            !text::is_github_repo_name(std::string_view(s).substr(slash + 1))) {
          return fail(kv.second.Mark(),
                      where + ".repo \"" + s + "\" is not a GitHub repository owner/name");
        }
        src.repo = s;
      } else if (key == "compose") {
        if (!valid_repo_path(s)) {
          return fail(kv.second.Mark(),
                      where + ".compose \"" + s +
                          "\" must be a path inside the repository (relative, no '..')");
        }
        src.compose = s;
      } else {
        if (s.empty() || dns_label(s) != s || s.size() > 40) {
          return fail(kv.second.Mark(), where + ".app \"" + s +
                                            "\" must be a DNS label (a-z, 0-9, '-') of at most "
                                            "40 characters");
        }
        src.app = s;
        has_app = true;
      }
    }
    if (src.repo.empty()) {
      return fail(item.Mark(), where + " has no repo (owner/name)");
    }
    if (!has_app) {
      src.app = dns_label(src.repo.substr(src.repo.find('/') + 1));
      if (src.app.empty() || src.app.size() > 40) {
        return fail(item.Mark(), where + ": the repository's name makes no app name; set app");
      }
    }
    for (const auto& other : out) {
      if (text::iequals(other.repo, src.repo) && other.compose == src.compose) {
        return fail(item.Mark(), where + " repeats " + src.repo + " " + src.compose);
      }
      if (other.app == src.app) {
        return fail(item.Mark(),
                    where + ": app \"" + src.app + "\" is already onboarded from " + other.repo);
      }
    }
    out.push_back(std::move(src));
  }
  return out;
}

}  // namespace

result<std::vector<onboarding_source>> sources_from_rules(std::string_view rules_text,
                                                          std::string_view file_name) {
  auto docs = yaml::load_all(rules_text, 1);
  if (docs.failed) {
    return make_error(error_kind::invalid_input, at(file_name, docs.mark, docs.message));
  }
  if (docs.nodes.empty() || !docs.nodes[0].IsMap()) {
    return std::vector<onboarding_source>{};
  }
  try {
    const auto section = docs.nodes[0]["onboarding"];
    if (!section || !section.IsMap() || !section["sources"]) {
      return std::vector<onboarding_source>{};
    }
    return parse_sources(section["sources"], file_name);
  } catch (const YAML::Exception& e) {
    return make_error(error_kind::invalid_input, at(file_name, e.mark, e.msg));
  }
}

result<options> options_from_rules(std::string_view rules_text, std::string_view file_name,
                                   options base) {
  auto docs = yaml::load_all(rules_text, 1);
  if (docs.failed) {
    return make_error(error_kind::invalid_input, at(file_name, docs.mark, docs.message));
  }
  if (docs.nodes.empty() || !docs.nodes[0].IsMap()) {
    return base;
  }
  const auto& root = docs.nodes[0];
  try {
    if (const auto envs = root["environments"]; envs && envs.IsSequence()) {
      for (const auto& e : envs) {
        if (!e.IsMap() || !e["name"] || !e["name"].IsScalar() || !e["paths"] ||
            !e["paths"].IsSequence() || e["paths"].size() == 0 || !e["paths"][0].IsScalar()) {
          continue;  // parse_rules reports these
        }
        const auto name = e["name"].Scalar();
        if (std::find(base.envs.begin(), base.envs.end(), name) == base.envs.end()) {
          continue;
        }
        std::string path = e["paths"][0].Scalar();
        while (path.starts_with("./")) {
          path.erase(0, 2);
        }
        while (!path.empty() && path.back() == '/') {
          path.pop_back();
        }
        // "." covers everything; a path inside the app's own directory is one a previous
        // `ferry onboard` wrote into a new rules file: both keep the default layout.
        base.overlay_dirs[name] =
            (path.empty() || path == "." || path.starts_with("apps/" + base.app + "/"))
                ? "apps/" + base.app + "/overlays/" + name
                : path + "/" + base.app;
      }
    }
    const auto section = root["onboarding"];
    if (!section) {
      return base;
    }
    if (!section.IsMap()) {
      return make_error(error_kind::invalid_input,
                        at(file_name, section.Mark(), "onboarding must be a mapping"));
    }
    for (const auto& kv : section) {
      const auto key = kv.first.Scalar();
      const auto& v = kv.second;
      const auto where = v.Mark();
      auto text = [&]() -> result<std::string> {
        if (!v.IsScalar()) {
          return make_error(error_kind::invalid_input,
                            at(file_name, where, "onboarding." + key + " must be a single value"));
        }
        return v.Scalar();
      };
      if (key == "sources") {
        // Onboarding pull requests' (sources_from_rules), not this command's: checked, unused.
        if (auto sources = parse_sources(v, file_name); !sources) {
          return std::move(sources).error();
        }
        continue;
      }
      if (key == "ingressAnnotations") {
        if (!v.IsMap()) {
          return make_error(
              error_kind::invalid_input,
              at(file_name, where, "onboarding.ingressAnnotations must be a mapping"));
        }
        for (const auto& a : v) {
          if (!a.second.IsScalar()) {
            return make_error(
                error_kind::invalid_input,
                at(file_name, a.second.Mark(), "an annotation value must be a string"));
          }
          base.ingress_annotations[a.first.Scalar()] = a.second.Scalar();
        }
        continue;
      }
      auto value = text();
      if (!value) {
        return std::move(value).error();
      }
      const std::string& s = *value;
      if (key == "domain") {
        base.domain = s;
      } else if (key == "org") {
        base.org = s;
      } else if (key == "namespacePattern") {
        if (s.find("{env}") == std::string::npos) {
          return make_error(error_kind::invalid_input,
                            at(file_name, where,
                               "onboarding.namespacePattern must contain {env} (one namespace "
                               "per environment), e.g. {org}-{env}"));
        }
        base.namespace_pattern = s;
      } else if (key == "ingressClass") {
        base.ingress_class = s;
      } else if (key == "secretBackend") {
        if (s == "sops") {
          base.secrets = secret_backend::sops;
        } else if (s == "externalSecrets") {
          base.secrets = secret_backend::external_secrets;
        } else {
          return make_error(
              error_kind::invalid_input,
              at(file_name, where, "onboarding.secretBackend must be sops or externalSecrets"));
        }
      } else if (key == "secretStore") {
        base.secret_store = s;
      } else if (key == "imagePullSecret") {
        base.image_pull_secret = s;
      } else if (key == "productionReplicas") {
        int n = -1;
        const auto r = std::from_chars(s.data(), s.data() + s.size(), n);
        if (r.ec != std::errc() || r.ptr != s.data() + s.size() || n < 0 || n > 100) {
          return make_error(
              error_kind::invalid_input,
              at(file_name, where, "onboarding.productionReplicas must be a number from 0 to 100"));
        }
        base.production_replicas = n;
      } else {
        return make_error(
            error_kind::invalid_input,
            at(file_name, kv.first.Mark(),
               "unknown key \"" + key +
                   "\" in onboarding (valid keys: domain, org, namespacePattern, ingressClass, "
                   "ingressAnnotations, secretBackend, secretStore, imagePullSecret, "
                   "productionReplicas, sources)"));
      }
    }
  } catch (const YAML::Exception& e) {
    return make_error(error_kind::invalid_input, at(file_name, e.mark, e.msg));
  }
  return base;
}

result<std::string> add_image_rules(std::string_view current, const conversion& c,
                                    const options& opts, std::vector<std::string>& log) {
  if (current.empty()) {
    std::string out =
        "# Promotion rules (read by ferry from the default branch); written by "
        "ferry onboard.\nversion: 1\nimages:\n";
    for (const auto& r : c.rules) {
      out += r.yaml();
    }
    out += "environments:\n";
    for (const auto& env : opts.envs) {
      const auto it = opts.overlay_dirs.find(env);
      const auto dir =
          it != opts.overlay_dirs.end() ? it->second : "apps/" + opts.app + "/overlays/" + env;
      out += "  - name: " + yaml_scalar(env) + "\n    paths: [" + yaml_scalar(dir) + "]\n";
    }
    if (c.rules.empty()) {
      out.replace(out.find("images:\n"), 8, "images: []\n");
    }
    log.push_back(".github/ferry.yaml: created with " + std::to_string(c.rules.size()) +
                  " image rules and the environments " +
                  [&] {
                    std::string s;
                    for (const auto& e : opts.envs) {
                      s += (s.empty() ? "" : ", ") + e;
                    }
                    return s;
                  }() +
                  " (pull requests only: add apply and promoteFrom by hand)");
    return out;
  }
  auto parsed = rules::parse_rules(current, ".github/ferry.yaml");
  if (!parsed) {
    return make_error(error_kind::invalid_input, parsed.report());
  }
  std::string added;
  for (const auto& r : c.rules) {
    const auto* existing = rules::find_image_rule(parsed.value(), r.namespace_name, r.name);
    if (existing != nullptr) {
      if (existing->image != r.image) {
        return make_error(error_kind::conflict, ".github/ferry.yaml: image rule " + r.name +
                                                    " exists for " + existing->image + ", not " +
                                                    r.image + "; rename one");
      }
      log.push_back(".github/ferry.yaml: rule " + r.name + " is there already, kept as it is");
      continue;
    }
    added += r.yaml();
  }
  for (const auto& env : opts.envs) {
    if (rules::find_environment(parsed.value(), env) == nullptr) {
      log.push_back(".github/ferry.yaml: no environment " + env + ": add one with paths [apps/" +
                    opts.app + "/overlays/" + env + "] for ferry to bump that overlay");
    }
  }
  if (added.empty()) {
    return std::string(current);
  }
  // Splice after the last item of the top-level `images:` block list (or replace `[]`).
  const auto lines = lines_of(current);
  std::size_t offset = 0, key_line = lines.size();
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    starts.push_back(offset);
    offset += lines[i].size();
    if (key_line == lines.size() && lines[i].starts_with("images:")) {
      key_line = i;
    }
  }
  starts.push_back(offset);
  if (key_line == lines.size()) {
    return make_error(error_kind::invalid_input,
                      ".github/ferry.yaml: no top-level images: line to add the rules under");
  }
  std::string text(current);
  const auto rest = lines[key_line].substr(7);
  const auto rest_trim = rest.substr(0, rest.find_last_not_of(" \t\r\n") + 1);
  if (rest_trim.find_first_not_of(' ') != std::string_view::npos) {
    if (rest_trim.substr(rest_trim.find_first_not_of(' ')) != "[]") {
      return make_error(error_kind::invalid_input,
                        ".github/ferry.yaml: images is a flow list; add the rules by hand");
    }
    text.replace(starts[key_line], lines[key_line].size(), "images:\n" + added);
    return text;
  }
  std::size_t last = key_line;  // the last line of the block
  for (std::size_t i = key_line + 1; i < lines.size(); ++i) {
    if (blank_or_comment(lines[i])) {
      continue;
    }
    if (indent_of(lines[i]) == 0 && !lines[i].starts_with("-")) {
      break;
    }
    last = i;
  }
  // The new items take the existing items' indentation.
  std::string indent = "  ";
  for (std::size_t i = key_line + 1; i <= last; ++i) {
    const auto p = indent_of(lines[i]);
    if (p != std::string_view::npos && lines[i].substr(p).starts_with("- ")) {
      indent = std::string(p, ' ');
      break;
    }
  }
  if (indent != "  ") {
    std::string re;
    for (const auto line : lines_of(added)) {
      re += indent + std::string(line.substr(2));
    }
    added = re;
  }
  std::string insert = added;
  if (!lines[last].ends_with("\n")) {
    insert = "\n" + insert;
  }
  text.insert(starts[last + 1], insert);
  return text;
}

std::optional<std::string> add_kustomize_resource(std::string_view kustomization,
                                                  std::string_view entry) {
  const auto lines = lines_of(kustomization);
  std::size_t offset = 0, key = lines.size();
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    starts.push_back(offset);
    offset += lines[i].size();
    if (key == lines.size() && lines[i].starts_with("resources:") &&
        lines[i].find_first_not_of(" \t\r\n", 10) == std::string_view::npos) {
      key = i;
    }
  }
  starts.push_back(offset);
  if (key == lines.size()) {
    return std::nullopt;
  }
  std::size_t last = key;
  std::string indent = "  ";
  bool first_item = true;
  for (std::size_t i = key + 1; i < lines.size(); ++i) {
    if (blank_or_comment(lines[i])) {
      continue;
    }
    const auto p = indent_of(lines[i]);
    if (p == 0 && !lines[i].starts_with("-")) {
      break;
    }
    if (first_item && lines[i].substr(p).starts_with("- ")) {
      indent = std::string(p, ' ');
      first_item = false;
    }
    auto item = lines[i].substr(p);
    if (item.starts_with("- ")) {
      item.remove_prefix(2);
      item = item.substr(0, item.find_last_not_of(" \t\r\n") + 1);
      if (item == entry || item == std::string(entry) + "/" || item == "./" + std::string(entry)) {
        return std::nullopt;
      }
    }
    last = i;
  }
  std::string text(kustomization);
  std::string insert = indent + "- " + std::string(entry) + "\n";
  if (!lines[last].ends_with("\n")) {
    insert = "\n" + insert;
  }
  text.insert(starts[last + 1], insert);
  return text;
}

}  // namespace ferry::onboard
