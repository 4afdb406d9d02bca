// `ferry migrate-flux`: golden cases over realistic Flux repository layouts
// (fixtures/migrate-flux/<case>/repo, expected output in expected*.txt), every printed rules file
// run through ferry's real rules parser, and the reader's handling of each object field.

#include "service/migrate/migrate_flux.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "service/limits.hpp"
#include "service/rules/rules.hpp"

namespace ferry::migrate {
namespace {

namespace fs = std::filesystem;

const fs::path k_cases = fs::path(FERRY_FIXTURES_DIR) / "migrate-flux";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_back(std::FILE* f) {
  std::rewind(f);
  std::string out;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    out.append(buf, n);
  }
  return out;
}

struct run_result {
  int exit_code = 0;
  std::string out;
  std::string err;
  // The golden file's format: the exit code, then stdout and stderr under their own headings.
  std::string golden() const {
    return "exit " + std::to_string(exit_code) + "\n--- stdout\n" + out + "--- stderr\n" + err;
  }
};

run_result run(const fs::path& repo, migrate_options options) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  run_result r;
  r.exit_code = run_migrate_flux(migrate_cli{repo.string(), options}, out, err);
  r.out = read_back(out);
  r.err = read_back(err);
  std::fclose(out);
  std::fclose(err);
  return r;
}

// expected.txt: no flags; expected.apply-flux.txt: --apply-flux.
TEST(migrate_flux, golden_cases) {
  int cases = 0;
  std::vector<fs::path> dirs;
  for (const auto& d : fs::directory_iterator(k_cases)) {
    dirs.push_back(d.path());
  }
  std::sort(dirs.begin(), dirs.end());
  for (const auto& dir : dirs) {
    for (const auto& [file, apply_flux] :
         {std::pair{"expected.txt", false}, std::pair{"expected.apply-flux.txt", true}}) {
      const auto expected_path = dir / file;
      if (!fs::exists(expected_path)) {
        continue;
      }
      SCOPED_TRACE(expected_path.string());
      ++cases;
      const auto got = run(dir / "repo", migrate_options{apply_flux});
      if (std::getenv("FERRY_UPDATE_GOLDEN") != nullptr) {
        std::ofstream(expected_path, std::ios::binary) << got.golden();
      }
      EXPECT_EQ(got.golden(), slurp(expected_path));
      if (got.exit_code == 0 && got.out.find("\nenvironments:\n") != std::string::npos) {
        // What is printed is a rules file ferry itself accepts, as is.
        const auto parsed = rules::parse_rules(got.out, ".github/ferry.yaml");
        EXPECT_TRUE(parsed.ok()) << parsed.report();
        if (parsed.ok()) {
          for (const auto& env : parsed.value().environments) {
            EXPECT_EQ(env.apply.has_value(), apply_flux) << env.name;
          }
        }
      }
    }
  }
  EXPECT_GE(cases, 7);
}

TEST(migrate_flux, output_does_not_depend_on_file_order) {
  std::vector<source_file> files;
  const auto root = k_cases / "policies" / "repo";
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) {
      files.push_back({fs::relative(e.path(), root).generic_string(), slurp(e.path())});
    }
  }
  auto scan = markers::scan_tree(root.string());
  ASSERT_TRUE(scan.ok());
  std::sort(files.begin(), files.end(),
            [](const source_file& a, const source_file& b) { return a.path < b.path; });
  const auto a = migrate_flux(files, *scan);
  std::reverse(files.begin(), files.end());
  const auto b = migrate_flux(files, *scan);
  EXPECT_EQ(a.exit_code, 0);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.errors, b.errors);
}

markers::tree_scan no_markers() {
  return {};
}

migration migrate_text(const std::string& yaml) {
  const std::vector<source_file> files{{"flux/objects.yaml", yaml}};
  return migrate_flux(files, no_markers());
}

constexpr const char* k_repository = R"(apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: app, namespace: flux-system}
spec: {image: ghcr.io/o/app}
---
)";

// A pattern with a quote, backslashes and a colon survives the trip into the rules file: the
// rule ferry reads back holds the very pattern Flux had.
TEST(migrate_flux, filter_patterns_are_carried_over_byte_for_byte) {
  const std::string pattern = R"(^v(?P<n>\d+)'s:[a-z]+\.x$)";
  const auto m = migrate_text(std::string(k_repository) + R"(apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: app, namespace: flux-system}
spec:
  imageRepositoryRef: {name: app}
  filterTags: {pattern: ")" + R"(^v(?P<n>\\d+)'s:[a-z]+\\.x$)" +
                              R"(", extract: "$n"}
  policy: {numerical: {order: desc}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: all, namespace: flux-system}
spec: {sourceRef: {kind: GitRepository, name: flux-system}, interval: 1m}
)");
  ASSERT_EQ(m.exit_code, 0) << (m.errors.empty() ? "" : m.errors.front());
  const auto parsed = rules::parse_rules(m.text, "f");
  ASSERT_TRUE(parsed.ok()) << parsed.report() << m.text;
  const auto& rule = parsed.value().images.at(0);
  ASSERT_TRUE(rule.policy.filter.has_value());
  EXPECT_EQ(rule.policy.filter->pattern(), pattern);
  EXPECT_EQ(rule.policy.filter->extract(), "$n");
  EXPECT_TRUE(std::holds_alternative<rules::numerical_policy>(rule.policy.kind));
  // No update.path: the repository root, and the environment is named after the automation.
  EXPECT_EQ(parsed.value().environments.at(0).name, "all");
  EXPECT_EQ(parsed.value().environments.at(0).paths, std::vector<std::string>{"."});
}

TEST(migrate_flux, environment_names_are_unique_dns_labels) {
  std::string yaml = k_repository;
  for (const char* path :
       {"./clusters/Staging_EU/apps", "./apps/staging-eu", "./deploy", "./clusters/staging-eu"}) {
    yaml += std::string(R"(apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: a-)") +
            std::to_string(yaml.size()) + R"(, namespace: flux-system}
spec: {update: {path: )" +
            path + R"(}, sourceRef: {kind: GitRepository, name: x}}
---
)";
  }
  const auto m = migrate_text(yaml);
  ASSERT_EQ(m.exit_code, 0) << (m.errors.empty() ? "" : m.errors.front());
  const auto parsed = rules::parse_rules(m.text, "f");
  ASSERT_TRUE(parsed.ok()) << parsed.report();
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& e : parsed.value().environments) {
    got.emplace_back(e.paths.at(0), e.name);
  }
  // Sorted by path; a taken name gets -2, -3.
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{
                     {"apps/staging-eu", "staging-eu"},
                     {"clusters/Staging_EU/apps", "staging-eu-2"},
                     {"clusters/staging-eu", "staging-eu-3"},
                     {"deploy", "deploy"}}));
}

struct rejection {
  const char* label;
  const char* yaml;  // appended to k_repository
  const char* error;
};

const rejection k_rejections[] = {
    {"policy without a policy",
     "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: p}\n"
     "spec: {imageRepositoryRef: {name: app}}\n",
     "flux/objects.yaml:6: ImagePolicy flux-system/p: spec.policy is missing (semver, "
     "alphabetical or numerical)"},
    {"two policies",
     "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: p}\n"
     "spec: {imageRepositoryRef: {name: app}, policy: {semver: {range: '1.x'}, numerical: {}}}\n",
     "flux/objects.yaml:6: ImagePolicy flux-system/p: spec.policy must hold exactly one of "
     "semver, alphabetical or numerical"},
    {"unknown order",
     "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: p}\n"
     "spec: {imageRepositoryRef: {name: app}, policy: {alphabetical: {order: up}}}\n",
     "flux/objects.yaml:6: ImagePolicy flux-system/p: spec.policy.alphabetical.order must be "
     "asc or desc"},
    {"a range ferry cannot read",
     "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: p}\n"
     "spec: {imageRepositoryRef: {name: app}, policy: {semver: {range: 'one'}}}\n",
     "flux/objects.yaml:6: ImagePolicy flux-system/p (image ghcr.io/o/app) cannot be a ferry "
     "rule: "},
    {"a pattern RE2 refuses",
     "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: p}\n"
     "spec: {imageRepositoryRef: {name: app}, filterTags: {pattern: '(a'}, "
     "policy: {semver: {range: '1.x'}}}\n",
     "flux/objects.yaml:6: ImagePolicy flux-system/p (image ghcr.io/o/app) cannot be a ferry "
     "rule: filterTags: invalid regular expression"},
    {"unknown kind",
     "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageThing\nmetadata: {name: p}\nspec: {}\n",
     "flux/objects.yaml:6: unknown kind \"ImageThing\" in image.toolkit.fluxcd.io/v1"},
    {"no name",
     "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {}\nspec: {}\n",
     "flux/objects.yaml:6: ImagePolicy: metadata.name is missing"},
    {"repository without image",
     "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: r}\n"
     "spec: {interval: 1m}\n",
     "flux/objects.yaml:6: ImageRepository flux-system/r: spec.image is missing"},
    {"strategy other than Setters",
     "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\nmetadata: {name: u}\n"
     "spec: {update: {strategy: Other}}\n",
     "flux/objects.yaml:6: ImageUpdateAutomation flux-system/u: update strategy \"Other\" is "
     "not Setters"},
    {"path climbing out",
     "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\nmetadata: {name: u}\n"
     "spec: {update: {path: ../other}}\n",
     "flux/objects.yaml:6: ImageUpdateAutomation flux-system/u: spec.update.path \"../other\" "
     "climbs out with \"..\""},
    {"two different policies of one name",
     "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: p}\n"
     "spec: {imageRepositoryRef: {name: app}, policy: {semver: {range: '1.x'}}}\n---\n"
     "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: p}\n"
     "spec: {imageRepositoryRef: {name: app}, policy: {semver: {range: '2.x'}}}\n",
     "flux/objects.yaml:11: ImagePolicy flux-system/p differs from the one at "
     "flux/objects.yaml:6"},
};

TEST(migrate_flux, each_rejection_names_the_object_and_exits_1) {
  for (const auto& r : k_rejections) {
    SCOPED_TRACE(r.label);
    const auto m = migrate_text(std::string(k_repository) + r.yaml);
    EXPECT_EQ(m.exit_code, 1);
    EXPECT_TRUE(m.text.empty());
    ASSERT_FALSE(m.errors.empty());
    EXPECT_EQ(m.errors.front().rfind(r.error, 0), 0u) << m.errors.front();
  }
}

TEST(migrate_flux, malformed_yaml_is_unreadable_input) {
  const auto m = migrate_text("apiVersion: image.toolkit.fluxcd.io/v1\nkind: [\n");
  EXPECT_EQ(m.exit_code, 2);
  ASSERT_EQ(m.errors.size(), 1u);
  EXPECT_EQ(m.errors[0].rfind("flux/objects.yaml:", 0), 0u) << m.errors[0];
  EXPECT_NE(m.errors[0].find("YAML syntax error"), std::string::npos);
}

TEST(migrate_flux, files_without_flux_groups_are_not_parsed) {
  // A Helm template is not YAML; it must not stop the migration.
  const auto r = read_flux_objects("charts/app/templates/deployment.yaml",
                                   "image: {{ .Values.image }}:{{ .Values.tag }\n{{- end }}\n");
  EXPECT_TRUE(r.objects.empty());
  EXPECT_TRUE(r.unreadable.empty());
  EXPECT_TRUE(r.invalid.empty());
}

TEST(migrate_flux, namespace_comes_from_metadata_then_kustomization_then_flux_system) {
  const std::string doc =
      "apiVersion: image.toolkit.fluxcd.io/v1beta1\nkind: ImageRepository\n"
      "metadata: {name: r}\nspec: {image: ghcr.io/o/r}\n";
  auto r = read_flux_objects("a.yaml", doc, "apps");
  ASSERT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(r.objects[0].ns, "apps");
  EXPECT_FALSE(r.objects[0].ns_assumed);
  r = read_flux_objects("a.yaml", doc);
  ASSERT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(r.objects[0].ns, "flux-system");
  EXPECT_TRUE(r.objects[0].ns_assumed);
  r = read_flux_objects("a.yaml",
                        "apiVersion: image.toolkit.fluxcd.io/v1beta1\nkind: ImageRepository\n"
                        "metadata: {name: r, namespace: team}\nspec: {image: ghcr.io/o/r}\n",
                        "apps");
  ASSERT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(r.objects[0].ns, "team");
  EXPECT_EQ(kustomization_namespace("resources: [a.yaml]\nnamespace: apps\n"), "apps");
  EXPECT_EQ(kustomization_namespace("resources: [a.yaml\n"), "");
}

TEST(migrate_flux, digest_reflection_becomes_pin_digest) {
  for (const auto& [policy, pin] :
       {std::pair{"Always", true}, std::pair{"IfNotPresent", true}, std::pair{"Never", false}}) {
    const auto r = read_flux_objects(
        "p.yaml", std::string("apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n"
                              "metadata: {name: p}\nspec: {imageRepositoryRef: {name: r}, "
                              "policy: {semver: {range: '1.x'}}, digestReflectionPolicy: ") +
                      policy + "}\n");
    ASSERT_EQ(r.objects.size(), 1u);
    EXPECT_EQ(r.objects[0].pin_digest, pin) << policy;
  }
}

TEST(migrate_flux, a_file_yaml_cpp_would_loop_on_is_unreadable_not_a_hang) {
  // yaml-cpp 0.7's LoadAll loops forever on this (jbeder/yaml-cpp#1319; found by
  // migrate_flux_fuzz, which hung CI's smoke run). The file is named as unreadable instead.
  const std::string text = "# kustomize.toolkit.fluxcd.io/v1 objects\n,\n";
  const auto r = read_flux_objects("clusters/x.yaml", text);
  EXPECT_TRUE(r.objects.empty());
  ASSERT_EQ(r.unreadable.size(), 1u);
  EXPECT_EQ(r.unreadable[0].file, "clusters/x.yaml");
  EXPECT_NE(r.unreadable[0].message.find("YAML syntax error"), std::string::npos)
      << r.unreadable[0].message;
}

TEST(migrate_flux, a_file_of_too_many_documents_is_unreadable_with_the_bound_named) {
  std::string text = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n";
  for (std::size_t i = 0; i < limits::k_migrate_documents_max; ++i) {
    text += "---\na: 1\n";
  }
  const auto r = read_flux_objects("big.yaml", text);
  ASSERT_EQ(r.unreadable.size(), 1u);
  EXPECT_NE(r.unreadable[0].message.find(std::to_string(limits::k_migrate_documents_max)),
            std::string::npos)
      << r.unreadable[0].message;
}

}  // namespace
}  // namespace ferry::migrate
