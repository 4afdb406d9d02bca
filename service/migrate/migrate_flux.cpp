#include "service/migrate/migrate_flux.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "service/limits.hpp"
#include "service/rules/rules.hpp"
#include "service/rules/yaml_documents.hpp"

namespace ferry::migrate {
namespace {

constexpr std::string_view k_image_group = "image.toolkit.fluxcd.io/";
constexpr std::string_view k_kustomize_group = "kustomize.toolkit.fluxcd.io/";
// SPEC exit codes.
constexpr int k_exit_ok = 0;
constexpr int k_exit_invalid = 1;
constexpr int k_exit_unreadable = 2;
constexpr int k_exit_nothing = 4;

int line_of(const YAML::Node& n) {
  return n.Mark().line >= 0 ? n.Mark().line + 1 : 0;
}

// A child of a mapping, or an undefined node for anything else (never throws, never inserts).
YAML::Node child(const YAML::Node& n, const char* key) {
  if (!n.IsMap()) {
    return YAML::Node(YAML::NodeType::Undefined);
  }
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) {
      return it->second;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

bool present(const YAML::Node& n) {
  return n.IsDefined() && !n.IsNull();
}

// A scalar field, or nullopt (absent, null or not a scalar).
std::optional<std::string> scalar(const YAML::Node& n) {
  if (!n.IsDefined() || !n.IsScalar()) {
    return std::nullopt;
  }
  return n.Scalar();
}

// Repository-relative path as Flux takes update.path / spec.path ("./clusters/x/" ->
// "clusters/x", "./" or "" -> "."); nullopt when it climbs out with "..".
std::optional<std::string> normalise_path(std::string_view p) {
  std::string out;
  std::size_t i = 0;
  while (i <= p.size()) {
    std::size_t j = p.find('/', i);
    j = j == std::string_view::npos ? p.size() : j;
    const auto part = p.substr(i, j - i);
    if (part == "..") {
      return std::nullopt;
    }
    if (!part.empty() && part != ".") {
      out += (out.empty() ? "" : "/") + std::string(part);
    }
    i = j + 1;
  }
  return out.empty() ? std::string(".") : out;
}

// YAML scalar text for the rules file: plain when it cannot be misread, else single-quoted
// (regular expressions keep their backslashes as written), else double-quoted with escapes for
// control characters.
std::string yaml_scalar(std::string_view s) {
  const bool plain_safe =
      !s.empty() && s.front() != '-' &&
      std::all_of(s.begin(), s.end(),
                  [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '.' || c == '/' || c == '-' || c == '_';
                  }) &&
      s != "true" && s != "false" && s != "null" && s != "yes" && s != "no" && s != "on" &&
      s != "off" && s != "~" && s.find_first_not_of("0123456789.") != std::string_view::npos;
  if (plain_safe) {
    return std::string(s);
  }
  const bool printable = std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7f;
  });
  if (printable) {
    std::string out = "'";
    for (char c : s) {
      out += c == '\'' ? std::string("''") : std::string(1, c);
    }
    return out + "'";
  }
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += k_hex[u >> 4];
      out += k_hex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string ref_of(const flux_object& o) {
  return o.ns + "/" + o.name;
}

std::string where_of(const flux_object& o) {
  return o.file + ":" + std::to_string(o.line);
}

std::string describe(const flux_object& o) {
  return std::string(to_string(o.kind)) + " " + ref_of(o);
}

// Reads the kind-specific fields; problems go to `invalid` with the object's place.
void read_image_repository(const YAML::Node& spec, flux_object& o, std::vector<problem>& invalid) {
  auto image = scalar(child(spec, "image"));
  if (!image || image->empty()) {
    invalid.push_back({o.file, o.line, describe(o) + ": spec.image is missing"});
    return;
  }
  o.image = *image;
  // Registry access and scanning belong to the image-reflector-controller; ferry hears of
  // GHCR publications from GitHub instead (SPEC "Behaviour by event").
  for (const char* k : {"secretRef", "serviceAccountName", "certSecretRef", "proxySecretRef",
                        "provider", "exclusionList", "accessFrom", "insecure"}) {
    // provider: generic is the default (imagerepository_types.go), so it says nothing.
    if (present(child(spec, k)) &&
        !(std::string_view(k) == "provider" && scalar(child(spec, k)) == "generic")) {
      o.ignored.push_back(std::string("spec.") + k);
    }
  }
}

void read_image_policy(const YAML::Node& spec, flux_object& o, std::vector<problem>& invalid) {
  const auto ref = child(spec, "imageRepositoryRef");
  auto ref_name = scalar(child(ref, "name"));
  if (!ref_name || ref_name->empty()) {
    invalid.push_back({o.file, o.line, describe(o) + ": spec.imageRepositoryRef.name is missing"});
    return;
  }
  o.repository_name = *ref_name;
  auto ref_ns = scalar(child(ref, "namespace"));
  o.repository_ns = ref_ns && !ref_ns->empty() ? *ref_ns : o.ns;

  const auto policy = child(spec, "policy");
  if (!policy.IsMap()) {
    invalid.push_back(
        {o.file, o.line,
         describe(o) + ": spec.policy is missing (semver, alphabetical or numerical)"});
    return;
  }
  std::vector<std::string> kinds;
  for (auto it = policy.begin(); it != policy.end(); ++it) {
    kinds.push_back(it->first.IsScalar() ? it->first.Scalar() : std::string("?"));
  }
  if (kinds.size() != 1) {
    invalid.push_back({o.file, o.line,
                       describe(o) + ": spec.policy must hold exactly one of semver, "
                                     "alphabetical or numerical"});
    return;
  }
  const auto body = policy.begin()->second;
  if (kinds[0] == "semver") {
    auto range = scalar(child(body, "range"));
    if (!range || range->empty()) {
      invalid.push_back({o.file, o.line, describe(o) + ": spec.policy.semver.range is missing"});
      return;
    }
    o.policy = "{semver: {range: " + yaml_scalar(*range) + "}}";
  } else if (kinds[0] == "alphabetical" || kinds[0] == "numerical") {
    // Flux's default order is asc for both (imagepolicy_types.go, +kubebuilder:default:="asc").
    std::string order = "asc";
    if (present(child(body, "order"))) {
      auto s = scalar(child(body, "order"));
      if (!s || (*s != "asc" && *s != "desc")) {
        invalid.push_back(
            {o.file, o.line,
             describe(o) + ": spec.policy." + kinds[0] + ".order must be asc or desc"});
        return;
      }
      order = *s;
    }
    o.policy = "{" + kinds[0] + ": {order: " + order + "}}";
  } else {
    invalid.push_back({o.file, o.line,
                       describe(o) + ": unknown policy \"" + kinds[0] +
                           "\" (Flux knows semver, alphabetical and numerical)"});
    return;
  }

  const auto filter = child(spec, "filterTags");
  if (present(filter)) {
    auto pattern = scalar(child(filter, "pattern"));
    auto extract = scalar(child(filter, "extract"));
    if (pattern || extract) {
      // Flux compiles an absent pattern as "", which admits every tag (pkg/policy RegexFilter).
      o.filter_pattern = pattern.value_or("");
      if (extract && !extract->empty()) {
        o.filter_extract = *extract;
      }
    }
  }
  // With a reflected digest, Flux's setters write name:tag@digest into whole-reference markers
  // (image-automation-controller, pkg/update); ferry's pinDigest does the same.
  if (auto d = scalar(child(spec, "digestReflectionPolicy"))) {
    o.pin_digest = *d == "Always" || *d == "IfNotPresent";
  }
}

void read_automation(const YAML::Node& spec, flux_object& o, std::vector<problem>& invalid) {
  const auto update = child(spec, "update");
  if (auto strategy = scalar(child(update, "strategy")); strategy && *strategy != "Setters") {
    invalid.push_back({o.file, o.line,
                       describe(o) + ": update strategy \"" + *strategy +
                           "\" is not Setters, the only one ferry (and Flux) implements"});
    return;
  }
  const auto raw = scalar(child(update, "path")).value_or(".");
  auto path = normalise_path(raw);
  if (!path) {
    invalid.push_back({o.file, o.line,
                       describe(o) + ": spec.update.path \"" + raw + "\" climbs out with \"..\""});
    return;
  }
  o.path = *path;
  const auto git = child(spec, "git");
  o.checkout_branch = scalar(child(child(child(git, "checkout"), "ref"), "branch")).value_or("");
  o.push_branch = scalar(child(child(git, "push"), "branch")).value_or("");
  o.policy_selector = present(child(spec, "policySelector"));
  o.suspended = scalar(child(spec, "suspend")).value_or("") == "true";
}

void read_kustomization(const YAML::Node& spec, flux_object& o) {
  // spec.path defaults to the source's root (kustomization_types.go).
  o.path = normalise_path(scalar(child(spec, "path")).value_or(".")).value_or("");
}

std::string lower_label(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (ok) {
      out += c;
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  if (out.size() > limits::k_environment_name_max) {
    out.resize(limits::k_environment_name_max);
  }
  while (!out.empty() && out.back() == '-') {
    out.pop_back();
  }
  return out;
}

std::vector<std::string> split_path(std::string_view p) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < p.size()) {
    std::size_t j = p.find('/', i);
    j = j == std::string_view::npos ? p.size() : j;
    out.emplace_back(p.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// The environment name an automation's path suggests: the directory after clusters/,
// environments/, envs/ or overlays/ (Flux's documented layouts), else the last directory, else
// (the repository root) the automation's own name.
std::string environment_name_for(std::string_view path, std::string_view automation_name) {
  if (path != ".") {
    const auto parts = split_path(path);
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      if (parts[i] == "clusters" || parts[i] == "environments" || parts[i] == "envs" ||
          parts[i] == "overlays") {
        if (auto n = lower_label(parts[i + 1]); !n.empty()) {
          return n;
        }
      }
    }
    if (auto n = lower_label(parts.back()); !n.empty()) {
      return n;
    }
  }
  auto n = lower_label(automation_name);
  return n.empty() ? std::string("default") : n;
}

bool under(std::string_view file, std::string_view dir) {
  return dir == "." || file == dir ||
         (file.size() > dir.size() && file.substr(0, dir.size()) == dir && file[dir.size()] == '/');
}

std::string marker_text(const markers::marker& m) {
  std::string out = m.ns + ":" + m.name;
  if (m.field != markers::marker_field::whole) {
    out += std::string(":") + markers::to_string(m.field);
  }
  return out;
}

std::string directory_of(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string(".") : std::string(path.substr(0, slash));
}

bool is_kustomization_file(std::string_view path) {
  const auto slash = path.rfind('/');
  const auto base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  return base == "kustomization.yaml" || base == "kustomization.yml" || base == "Kustomization";
}

using key = std::tuple<flux_kind, std::string, std::string>;  // kind, namespace, name

}  // namespace

std::string problem::to_string() const {
  return line > 0 ? file + ":" + std::to_string(line) + ": " + message : file + ": " + message;
}

const char* to_string(flux_kind k) noexcept {
  switch (k) {
    case flux_kind::image_repository:
      return "ImageRepository";
    case flux_kind::image_policy:
      return "ImagePolicy";
    case flux_kind::image_update_automation:
      return "ImageUpdateAutomation";
    case flux_kind::kustomization:
      return "Kustomization";
  }
  return "?";
}

std::string kustomization_namespace(std::string_view content) {
  try {
    const auto root = YAML::Load(std::string(content));
    return scalar(child(root, "namespace")).value_or("");
  } catch (const YAML::Exception&) {
    return {};  // a broken kustomization sets nothing; kustomize itself will complain
  }
}

read_outcome read_flux_objects(std::string_view path, std::string_view content,
                               std::string_view kustomization_ns) {
  read_outcome out;
  if (content.find("image.toolkit.fluxcd.io") == std::string_view::npos &&
      content.find("kustomize.toolkit.fluxcd.io") == std::string_view::npos) {
    return out;
  }
  auto read = yaml::load_all(content, limits::k_migrate_documents_max);
  if (read.failed) {
    out.unreadable.push_back(
        {std::string(path), read.mark.line >= 0 ? read.mark.line + 1 : 0, read.message});
    return out;
  }
  const auto& docs = read.nodes;
  for (const auto& doc : docs) {
    try {
      auto api = scalar(child(doc, "apiVersion"));
      auto kind = scalar(child(doc, "kind"));
      if (!api || !kind) {
        continue;
      }
      flux_object o;
      o.api_version = *api;
      o.file = std::string(path);
      o.line = line_of(doc);
      const bool image_group = api->starts_with(k_image_group);
      if (image_group && *kind == "ImageRepository") {
        o.kind = flux_kind::image_repository;
      } else if (image_group && *kind == "ImagePolicy") {
        o.kind = flux_kind::image_policy;
      } else if (image_group && *kind == "ImageUpdateAutomation") {
        o.kind = flux_kind::image_update_automation;
      } else if (api->starts_with(k_kustomize_group) && *kind == "Kustomization") {
        o.kind = flux_kind::kustomization;
      } else if (image_group) {
        out.invalid.push_back({o.file, o.line,
                               "unknown kind \"" + *kind + "\" in " + *api +
                                   " (ferry reads ImageRepository, ImagePolicy and "
                                   "ImageUpdateAutomation)"});
        continue;
      } else {
        continue;  // not a Flux object ferry reads
      }
      const auto meta = child(doc, "metadata");
      o.name = scalar(child(meta, "name")).value_or("");
      if (o.name.empty()) {
        out.invalid.push_back(
            {o.file, o.line, std::string(to_string(o.kind)) + ": metadata.name is missing"});
        continue;
      }
      o.ns = scalar(child(meta, "namespace")).value_or("");
      if (o.ns.empty()) {
        o.ns = std::string(kustomization_ns);
      }
      if (o.ns.empty()) {
        // Flux's install (and `flux create image ...`) puts these objects in flux-system.
        o.ns = std::string(rules::k_default_namespace);
        o.ns_assumed = true;
      }
      const auto spec = child(doc, "spec");
      if (!spec.IsMap()) {
        out.invalid.push_back({o.file, o.line, describe(o) + ": spec is missing"});
        continue;
      }
      const auto before = out.invalid.size();
      switch (o.kind) {
        case flux_kind::image_repository:
          read_image_repository(spec, o, out.invalid);
          break;
        case flux_kind::image_policy:
          read_image_policy(spec, o, out.invalid);
          break;
        case flux_kind::image_update_automation:
          read_automation(spec, o, out.invalid);
          break;
        case flux_kind::kustomization:
          read_kustomization(spec, o);
          break;
      }
      if (out.invalid.size() == before) {
        out.objects.push_back(std::move(o));
      }
    } catch (const YAML::Exception& e) {
      out.invalid.push_back({std::string(path), line_of(doc), "unreadable object: " + e.msg});
    }
  }
  return out;
}

migration migrate_flux(std::span<const source_file> files_in, const markers::tree_scan& scan,
                       const migrate_options& options) {
  migration m;
  std::vector<const source_file*> files;
  for (const auto& f : files_in) {
    files.push_back(&f);
  }
  std::sort(files.begin(), files.end(),
            [](const source_file* a, const source_file* b) { return a->path < b->path; });

  // Namespaces set by kustomization files, per directory (objects beside them inherit it).
  std::map<std::string, std::string> dir_ns;
  for (const auto* f : files) {
    if (is_kustomization_file(f->path)) {
      if (auto ns = kustomization_namespace(f->content); !ns.empty()) {
        dir_ns.emplace(directory_of(f->path), ns);
      }
    }
  }

  std::vector<flux_object> objects;
  std::vector<problem> unreadable;
  std::vector<problem> invalid;
  for (const auto* f : files) {
    const auto it = dir_ns.find(directory_of(f->path));
    auto r = read_flux_objects(f->path, f->content,
                               it == dir_ns.end() ? std::string_view() : it->second);
    for (auto& o : r.objects) {
      objects.push_back(std::move(o));
    }
    unreadable.insert(unreadable.end(), r.unreadable.begin(), r.unreadable.end());
    invalid.insert(invalid.end(), r.invalid.begin(), r.invalid.end());
  }

  // A repository serving several clusters (clusters/<env>/...) repeats the same objects under
  // the same names, one copy per cluster. Markers name a policy by NS:NAME alone, so copies
  // with the same settings are one rule; copies that differ cannot be (ferry has one rule per
  // NS:NAME across environments). Automations and Flux Kustomizations are per cluster: each
  // copy counts, told apart by its path.
  const auto settings_of = [](const flux_object& o) {
    return o.kind == flux_kind::image_repository
               ? o.image
               : o.repository_ns + "/" + o.repository_name + " " + o.policy + " " +
                     o.filter_pattern.value_or("<none>") + " " + o.filter_extract.value_or("") +
                     (o.pin_digest ? " pin" : "");
  };
  std::map<key, const flux_object*> by_key;
  std::vector<const flux_object*> copies;  // later copies of a policy or repository
  std::vector<const flux_object*> automations;
  std::vector<const flux_object*> kustomizations;
  for (const auto& o : objects) {
    if (o.kind == flux_kind::image_update_automation) {
      automations.push_back(&o);
      continue;
    }
    if (o.kind == flux_kind::kustomization) {
      kustomizations.push_back(&o);
      continue;
    }
    auto [it, inserted] = by_key.emplace(key{o.kind, o.ns, o.name}, &o);
    if (inserted) {
      continue;
    }
    if (settings_of(o) == settings_of(*it->second)) {
      copies.push_back(&o);
      continue;
    }
    invalid.push_back({o.file, o.line,
                       describe(o) + " differs from the one at " + where_of(*it->second) +
                           "; markers name it " + o.ns + ":" + o.name +
                           " everywhere, and ferry has one rule per name: rename one of them "
                           "(and its markers)"});
  }
  std::vector<const flux_object*> policies;
  for (const auto& [k, o] : by_key) {
    if (o->kind == flux_kind::image_policy) {
      policies.push_back(o);
    }
  }

  std::vector<std::string> notes;
  const auto note = [&notes](const flux_object& o, const std::string& text) {
    notes.push_back(where_of(o) + ": " + text);
  };

  // --- images: one rule per ImagePolicy ---------------------------------------------------
  std::string images_text;
  std::set<std::string> claimed;  // NS:NAME of the migrated policies
  std::set<const flux_object*> used_repositories;
  for (const auto* p : policies) {
    const auto it =
        by_key.find(key{flux_kind::image_repository, p->repository_ns, p->repository_name});
    if (it == by_key.end()) {
      invalid.push_back({p->file, p->line,
                         describe(*p) + ": spec.imageRepositoryRef names ImageRepository " +
                             p->repository_ns + "/" + p->repository_name +
                             ", which is not in the repository"});
      continue;
    }
    const flux_object& repo = *it->second;
    used_repositories.insert(&repo);
    std::string entry = "  - name: " + yaml_scalar(p->name) + "\n";
    entry += "    namespace: " + yaml_scalar(p->ns) + "\n";
    entry += "    image: " + yaml_scalar(repo.image) + "\n";
    if (p->filter_pattern) {
      entry += "    filterTags: {pattern: " + yaml_scalar(*p->filter_pattern);
      if (p->filter_extract) {
        entry += ", extract: " + yaml_scalar(*p->filter_extract);
      }
      entry += "}\n";
    }
    entry += "    policy: " + p->policy + "\n";
    if (p->pin_digest) {
      entry += "    pinDigest: true\n";
    }
    // What ferry accepts is decided by ferry's own parser: a rule it would refuse (a range,
    // pattern or image it reads differently) is reported at the Flux object, not printed.
    const std::string probe =
        "version: 1\nimages:\n" + entry + "environments:\n  - name: probe\n    paths: [\".\"]\n";
    const auto parsed = rules::parse_rules(probe, "migrated rule");
    if (!parsed.ok()) {
      for (const auto& d : parsed.diagnostics()) {
        invalid.push_back(
            {p->file, p->line,
             describe(*p) + " (image " + repo.image + ") cannot be a ferry rule: " + d.message});
      }
      continue;
    }
    images_text += "  # " + describe(*p) + " (" + where_of(*p) + "), ImageRepository " +
                   ref_of(repo) + " (" + where_of(repo) + ")\n" + entry;
    claimed.insert(p->ns + ":" + p->name);
    if (p->ns_assumed) {
      note(*p, describe(*p) +
                   " has no metadata.namespace: flux-system assumed (markers name it "
                   "as NS:NAME, so check they agree)");
    }
    const auto host = repo.image.substr(0, repo.image.find('/'));
    if (host != "ghcr.io") {
      note(repo, "ImageRepository " + ref_of(repo) + ": " + repo.image +
                     " is not on ghcr.io; ferry hears of publications from GitHub's package "
                     "events (FERRY_REGISTRY_HOST), so this rule serves `ferry plan` and "
                     "promotions only");
    }
  }
  for (const auto& [k, o] : by_key) {
    if (o->kind == flux_kind::image_repository && !o->ignored.empty()) {
      std::string list;
      for (const auto& f : o->ignored) {
        list += (list.empty() ? "" : ", ") + f;
      }
      note(*o, "ImageRepository " + ref_of(*o) + ": " + list +
                   " not carried over (registry scanning is replaced by GitHub's package events)");
    }
    if (o->kind == flux_kind::image_repository && used_repositories.count(o) == 0) {
      note(*o, "ImageRepository " + ref_of(*o) + " is named by no ImagePolicy: nothing migrated");
    }
  }

  // --- environments: one per distinct update.path -----------------------------------------
  struct env_out {
    std::string name;
    std::string path;
    std::vector<const flux_object*> automations;
  };
  std::map<std::string, env_out> by_path;
  for (const auto* a : automations) {
    by_path[a->path].path = a->path;
    by_path[a->path].automations.push_back(a);
  }
  std::vector<env_out> envs;
  std::set<std::string> taken;
  for (auto& [path, e] : by_path) {
    std::string base = environment_name_for(path, e.automations.front()->name);
    std::string name = base;
    for (int n = 2; taken.count(name) != 0; ++n) {
      const std::string suffix = "-" + std::to_string(n);
      name = base.substr(0, limits::k_environment_name_max - suffix.size());
      while (!name.empty() && name.back() == '-') {
        name.pop_back();
      }
      name += suffix;
    }
    taken.insert(name);
    e.name = name;
    envs.push_back(e);
  }

  std::string envs_text;
  for (const auto& e : envs) {
    for (const auto* a : e.automations) {
      envs_text += "  # " + describe(*a) + " (" + where_of(*a) + ")\n";
    }
    envs_text += "  - name: " + e.name + "\n";
    envs_text += "    paths: [" + yaml_scalar(e.path) + "]\n";
    if (options.apply_flux) {
      // The Flux Kustomization that applies this path: the one whose spec.path is the
      // environment's path, else the nearest parent of it.
      const flux_object* best = nullptr;
      for (const auto* k : kustomizations) {
        if (under(e.path, k->path) &&
            (best == nullptr || k->path.size() > best->path.size() ||
             (k->path.size() == best->path.size() &&
              std::tie(k->ns, k->name) < std::tie(best->ns, best->name)))) {
          best = k;
        }
      }
      if (best == nullptr) {
        invalid.push_back({e.automations.front()->file, e.automations.front()->line,
                           "--apply-flux: no Flux Kustomization in the repository applies " +
                               e.path + " (none has it, or a parent of it, as spec.path)"});
      } else {
        envs_text += "    apply: {flux: {kind: Kustomization, name: " + yaml_scalar(best->name) +
                     ", namespace: " + yaml_scalar(best->ns) + "}}  # " + where_of(*best) + "\n";
      }
    }
    for (const auto* a : e.automations) {
      if (!a->push_branch.empty() && a->push_branch != a->checkout_branch) {
        note(*a, describe(*a) + " pushes to branch " + a->push_branch + " (checkout " +
                     (a->checkout_branch.empty() ? std::string("the source's branch")
                                                 : a->checkout_branch) +
                     "); ferry opens pull requests against the default branch instead");
      }
      if (a->policy_selector) {
        note(*a, describe(*a) +
                     " selects policies by label (spec.policySelector); ferry edits the markers "
                     "of every image rule under the environment's paths");
      }
      if (a->suspended) {
        note(*a, describe(*a) + " is suspended (spec.suspend: true) on the cluster's last apply");
      }
    }
    if (e.automations.size() > 1) {
      note(*e.automations[1], "ImageUpdateAutomations sharing update.path " + e.path +
                                  " became one environment, " + e.name);
    }
  }

  for (const auto& pr : unreadable) {
    m.errors.push_back(pr.to_string());
  }
  for (const auto& pr : invalid) {
    m.errors.push_back(pr.to_string());
  }
  if (!unreadable.empty()) {
    m.exit_code = k_exit_unreadable;
    return m;
  }
  if (!invalid.empty()) {
    m.exit_code = k_exit_invalid;
    return m;
  }
  if (policies.empty() && automations.empty()) {
    m.errors.push_back(
        "no Flux image automation objects (image.toolkit.fluxcd.io ImagePolicy or "
        "ImageUpdateAutomation) found: nothing to migrate");
    m.exit_code = k_exit_nothing;
    return m;
  }

  // --- the text ---------------------------------------------------------------------------
  std::string& t = m.text;
  t +=
      "# ferry rules equivalent to this repository's Flux image automation (ferry migrate-flux).\n";
  t += "# Review, then save as .github/ferry.yaml; `ferry check` validates it.\n";
  t += "version: 1\n";
  t += images_text.empty() ? "images: []\n" : "images:\n" + images_text;
  if (envs.empty()) {
    t += "# environments: no ImageUpdateAutomation was found; add one per directory ferry\n";
    t += "# should edit (a rules file needs at least one):\n";
    t += "#   - name: staging\n#     paths: [clusters/staging]\n";
  } else {
    t += "environments:\n" + envs_text;
  }
  if (!options.apply_flux && !envs.empty()) {
    t += "# No environment has `apply`: Flux keeps applying merged changes on its own schedule "
         "and\n";
    t += "# ferry opens pull requests only (`--apply-flux` names each path's Kustomization).\n";
  }

  t += "\n# Markers these rules claim (file:line  NS:NAME[:field]):\n";
  std::vector<std::string> unclaimed;
  bool any = false;
  for (const auto& f : scan.files) {
    for (const auto& mk : f.markers) {
      const std::string where = mk.file + ":" + std::to_string(mk.line) + "  " + marker_text(mk);
      if (claimed.count(mk.ns + ":" + mk.name) == 0) {
        unclaimed.push_back(where);
        continue;
      }
      any = true;
      const bool in_env = std::any_of(envs.begin(), envs.end(),
                                      [&](const env_out& e) { return under(mk.file, e.path); });
      t += "#   " + where + (in_env ? "" : "  (under no environment's paths: never edited)") + "\n";
    }
  }
  if (!any) {
    t += "#   (none)\n";
  }
  if (!unclaimed.empty()) {
    t += "# Markers naming no ImagePolicy in the repository (left alone):\n";
    for (const auto& u : unclaimed) {
      t += "#   " + u + "\n";
    }
  }
  for (const auto& d : scan.errors) {
    notes.push_back(markers::to_string(d) + " (not scanned for markers)");
  }
  for (const auto& d : scan.problems) {
    notes.push_back(markers::to_string(d));
  }
  if (!notes.empty()) {
    std::sort(notes.begin(), notes.end());
    notes.erase(std::unique(notes.begin(), notes.end()), notes.end());
    t += "\n# Notes:\n";
    for (const auto& n : notes) {
      t += "#   " + n + "\n";
    }
  }

  // Objects a cluster directory defines are on that cluster: say which, where there are several.
  const bool per_cluster = envs.size() > 1;
  const auto on = [per_cluster](const flux_object& o) {
    return per_cluster ? "  (" + o.file + ")" : std::string();
  };
  if (!automations.empty()) {
    t += "\n# Then, on the cluster, stop Flux's own image updates (or set spec.suspend: true in "
         "the\n";
    t += "# manifest, which survives the next reconcile):\n";
    for (const auto* a : automations) {
      t += "#   flux suspend image update " + a->name + " -n " + a->ns + on(*a) + "\n";
    }
  }
  t += "# Once ferry's first pull request has merged, the image objects are no longer needed\n";
  t += "# (keep any that something else reads, such as a notification Alert or Receiver):\n";
  std::set<std::string> manifest_files;
  for (const auto* a : automations) {
    t += "#   flux delete image update " + a->name + " -n " + a->ns + " --silent" + on(*a) + "\n";
    manifest_files.insert(a->file);
  }
  // Every copy of a migrated policy or repository (one per cluster directory), by name.
  std::vector<const flux_object*> gone(policies.begin(), policies.end());
  gone.insert(gone.end(), used_repositories.begin(), used_repositories.end());
  for (const auto* c : copies) {
    const auto first = by_key.at(key{c->kind, c->ns, c->name});
    if (first->kind == flux_kind::image_policy || used_repositories.count(first) != 0) {
      gone.push_back(c);
    }
  }
  std::sort(gone.begin(), gone.end(), [](const flux_object* a, const flux_object* b) {
    return std::make_tuple(a->kind, a->ns, a->name, a->file, a->line) <
           std::make_tuple(b->kind, b->ns, b->name, b->file, b->line);
  });
  std::string last;
  for (const auto* g : gone) {
    const std::string line = std::string("#   flux delete image ") +
                             (g->kind == flux_kind::image_policy ? "policy " : "repository ") +
                             g->name + " -n " + g->ns + " --silent" + on(*g) + "\n";
    if (line != last) {
      t += line;
    }
    last = line;
    manifest_files.insert(g->file);
  }
  t += "# and remove their manifests from the repository (with their kustomization entries):\n";
  for (const auto& f : manifest_files) {
    t += "#   " + f + "\n";
  }

  if (!envs.empty()) {
    const auto parsed = rules::parse_rules(t, ".github/ferry.yaml");
    if (!parsed.ok()) {
      // Each rule passed ferry's parser on its own; what is left is between rules (two
      // branch names that collide), which the person has to resolve by renaming.
      m.errors.push_back("the rules migrated from Flux are not valid together:");
      for (const auto& d : parsed.diagnostics()) {
        m.errors.push_back(d.to_string());
      }
      m.text.clear();
      m.exit_code = k_exit_invalid;
      return m;
    }
  }
  m.exit_code = k_exit_ok;
  return m;
}

int run_migrate_flux(const migrate_cli& o, std::FILE* out, std::FILE* err) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(o.repo_dir, ec)) {
    std::fprintf(err, "%s: not a directory\n", o.repo_dir.c_str());
    return k_exit_unreadable;
  }
  std::vector<source_file> files;
  const fs::path root(o.repo_dir);
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  if (ec) {
    std::fprintf(err, "%s: cannot be read: %s\n", o.repo_dir.c_str(), ec.message().c_str());
    return k_exit_unreadable;
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      std::fprintf(err, "%s: cannot be read: %s\n", o.repo_dir.c_str(), ec.message().c_str());
      return k_exit_unreadable;
    }
    const auto name = it->path().filename().string();
    const auto status = it->symlink_status(ec);
    if (ec) {
      continue;
    }
    if (fs::is_directory(status)) {
      if (name == ".git") {
        it.disable_recursion_pending();
      }
      continue;
    }
    // Regular files only: a symbolic link may point out of the checkout.
    if (!fs::is_regular_file(status) ||
        !(name.ends_with(".yaml") || name.ends_with(".yml") || name == "Kustomization")) {
      continue;
    }
    const auto rel = fs::relative(it->path(), root, ec).generic_string();
    if (fs::file_size(it->path(), ec) > limits::k_marker_file_max) {
      std::fprintf(err, "%s: larger than %zu MiB, not read\n", rel.c_str(),
                   limits::k_marker_file_max >> 20);
      continue;
    }
    std::ifstream in(it->path(), std::ios::binary);
    if (!in) {
      std::fprintf(err, "%s: cannot be read\n", rel.c_str());
      return k_exit_unreadable;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    files.push_back({rel, ss.str()});
  }
  auto scan = markers::scan_tree(o.repo_dir);
  if (!scan) {
    std::fprintf(err, "%s\n", scan.error().message.c_str());
    return k_exit_unreadable;
  }
  const auto m = migrate_flux(files, *scan, o.options);
  for (const auto& e : m.errors) {
    std::fprintf(err, "%s\n", e.c_str());
  }
  std::fputs(m.text.c_str(), out);
  return m.exit_code;
}

}  // namespace ferry::migrate
