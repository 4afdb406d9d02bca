#pragma once
// `ferry migrate-flux`: the Flux image automation objects of an infra repository
// (image.toolkit.fluxcd.io ImageRepository, ImagePolicy, ImageUpdateAutomation; v1beta1, v1beta2
// and v1) turned into the equivalent rules file entries, the markers those rules then claim,
// and what to suspend on the cluster. Everything but run_migrate_flux is a pure function over
// file contents; docs/migrate-from-flux.md describes the mapping.
//
// Field names follow the published CRD schemas (fluxcd/image-reflector-controller
// api/v1/imagerepository_types.go and imagepolicy_types.go; fluxcd/image-automation-controller
// api/v1/imageupdateautomation_types.go), as the @kubernetes-models/flux-cd package carries them.

#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "service/markers/markers.hpp"

namespace ferry::migrate {

// One file of the repository, path relative to its root ('/'-separated).
struct source_file {
  std::string path;
  std::string content;
};

// "file:line: message" (line 0: "file: message").
struct problem {
  std::string file;
  int line = 0;
  std::string message;
  std::string to_string() const;
};

enum class flux_kind { image_repository, image_policy, image_update_automation, kustomization };
const char* to_string(flux_kind k) noexcept;

// The fields of one object that the migration reads; the rest is noted, not carried.
struct flux_object {
  flux_kind kind = flux_kind::image_policy;
  std::string api_version;
  std::string name;
  std::string ns;           // metadata.namespace, else the directory's kustomization namespace
  bool ns_assumed = false;  // neither was given: flux-system assumed
  std::string file;
  int line = 0;  // 1-based line where the document's mapping starts

  // ImageRepository
  std::string image;
  std::vector<std::string> ignored;  // fields with no ferry equivalent, as "spec.secretRef"

  // ImagePolicy
  std::string repository_name;
  std::string repository_ns;
  std::string policy;  // the rules file's flow mapping, e.g. {semver: {range: '>=1.0.0'}}
  std::optional<std::string> filter_pattern;
  std::optional<std::string> filter_extract;
  bool pin_digest = false;  // digestReflectionPolicy Always or IfNotPresent

  // ImageUpdateAutomation (and a Flux Kustomization's spec.path, for --apply-flux)
  std::string path;  // normalised: no "./", no trailing '/', "." for the root
  std::string checkout_branch;
  std::string push_branch;
  bool policy_selector = false;
  bool suspended = false;
};

struct read_outcome {
  std::vector<flux_object> objects;  // in file order
  std::vector<problem> unreadable;   // malformed YAML (SPEC exit code 2)
  std::vector<problem> invalid;      // Flux objects that cannot be read or migrated (exit code 1)
};

// The Flux objects in one file's YAML documents. Files without the bytes
// "image.toolkit.fluxcd.io" or "kustomize.toolkit.fluxcd.io" are not parsed at all (Helm
// templates and other non-YAML *.yaml files stay out of the way). `kustomization_ns` is the
// namespace the directory's kustomization.yaml sets, if any (it applies to objects without
// metadata.namespace).
read_outcome read_flux_objects(std::string_view path, std::string_view content,
                               std::string_view kustomization_ns = {});

// The `namespace:` a kustomization file sets, or empty.
std::string kustomization_namespace(std::string_view content);

struct migrate_options {
  // Give each environment apply: {flux: {kind: Kustomization, ...}} naming the Flux
  // Kustomization whose spec.path is the environment's path or its nearest parent.
  bool apply_flux = false;
};

struct migration {
  int exit_code = 0;                // SPEC: 0 ok, 1 invalid objects, 2 unreadable, 4 nothing found
  std::string text;                 // stdout: the rules, then the markers and advice as comments
  std::vector<std::string> errors;  // stderr lines
};

// The whole migration over the repository's files (every *.yaml, *.yml and Kustomization) and
// the markers found in it (markers::scan_tree of the same checkout). Deterministic: the output
// depends only on the contents and paths, never on the order of `files`.
migration migrate_flux(std::span<const source_file> files, const markers::tree_scan& markers,
                       const migrate_options& options = {});

struct migrate_cli {
  std::string repo_dir;
  migrate_options options;
};

// Reads the checkout and prints migrate_flux's output; returns its exit code (2 when the
// directory cannot be read).
int run_migrate_flux(const migrate_cli& o, std::FILE* out, std::FILE* err);

}  // namespace ferry::migrate
