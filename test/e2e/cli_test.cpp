// The real `ferry` binary, driven as a user would: `check`, `plan` (its diff applied with
// `git apply` in a real repository), `--help`, `version`, and SPEC's exit codes.

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "test/support/process.hpp"

namespace ferry {
namespace {

namespace fs = std::filesystem;
using test::process_result;
using test::read_text;
using test::run;
using test::temp_dir;
using test::write_text;

const fs::path k_example = fs::path(FERRY_SOURCE_DIR) / "infra" / "example-infra";
constexpr const char* k_digest =
    "sha256:abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdef0123";

process_result ferry(std::vector<std::string> args) {
  args.insert(args.begin(), FERRY_BINARY);
  return run(args);
}

std::string describe(const process_result& r) {
  return "exit " + std::to_string(r.exit_code) + " signal " + std::to_string(r.signal) +
         "\n--- stdout\n" + r.out + "\n--- stderr\n" + r.err;
}

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// A copy of the example infra repository as a real git repository with one commit.
class example_repo {
 public:
  example_repo() {
    fs::copy(k_example, dir_.path(), fs::copy_options::recursive);
    git({"init", "-q", "-b", "main"});
    git({"add", "-A"});
    git({"-c", "user.name=ferry test", "-c", "user.email=test@ferry.invalid", "commit", "-q", "-m",
         "example infra"});
  }
  const fs::path& path() const { return dir_.path(); }
  std::string dir() const { return dir_.path().string(); }
  process_result git(std::vector<std::string> args) const {
    args.insert(args.begin(), {"git", "-C", dir()});
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return r;
  }
  // Every file of the original example, read from the copy.
  std::string file(const std::string& rel) const { return read_text(dir_.path() / rel); }

 private:
  temp_dir dir_;
};

std::string original(const std::string& rel) {
  return read_text(k_example / rel);
}

// Applies a printed diff: `git apply --check`, then `git apply`, and returns the paths it
// changed (from `git diff --name-only`).
std::vector<std::string> apply_diff(const example_repo& repo, const std::string& diff) {
  temp_dir patch_dir;
  const auto patch = patch_dir.path() / "plan.diff";
  write_text(patch, diff);
  repo.git({"apply", "--check", patch.string()});
  repo.git({"apply", patch.string()});
  const auto names = repo.git({"diff", "--name-only"});
  std::vector<std::string> out;
  std::string line;
  for (char c : names.out) {
    if (c == '\n') {
      out.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  return out;
}

TEST(cli_check, example_repository_lists_every_marker_per_rule) {
  const auto r = ferry({"check", "--repo", k_example.string()});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  for (const char* needle : {
           ".github/ferry.yaml: valid (2 image rules, 2 environments)\n",
           "flux-system:app (ghcr.io/dine-together/app, newest): 2 markers\n",
           "  staging  clusters/staging/app/deployment.yaml:16  whole = "
           "ghcr.io/dine-together/app:sha-1a2b3c4\n",
           "  production  clusters/production/app/deployment.yaml:16  whole = "
           "ghcr.io/dine-together/app:sha-1a2b3c4\n",
           "flux-system:api (ghcr.io/dine-together/api, semver): 4 markers\n",
           "  staging  clusters/staging/app/kustomization.yaml:7  tag = 1.4.0\n",
           "  staging  clusters/staging/app/kustomization.yaml:8  digest = sha256:1111",
           "  production  clusters/production/app/kustomization.yaml:7  tag = 1.4.0\n",
           "  production  clusters/production/app/kustomization.yaml:8  digest = sha256:1111",
       }) {
    EXPECT_NE(r.out.find(needle), std::string::npos) << needle << "\n" << describe(r);
  }
}

TEST(cli_check, broken_rules_file_reports_every_error_with_its_place) {
  temp_dir dir;
  fs::copy(k_example, dir.path(), fs::copy_options::recursive);
  // Three independent mistakes, on lines 5, 6 and 8.
  write_text(dir.path() / ".github/ferry.yaml",
             "version: 1\n"
             "images:\n"
             "  - name: app\n"
             "    image: ghcr.io/o/app\n"
             "    policy: {semver: {range: \">=banana\"}}\n"
             "    colour: blue\n"
             "environments:\n"
             "  - name: Staging_Bad\n"
             "    paths: [clusters/staging]\n"
             "    apply: {flux: {name: apps}}\n");
  const auto r = ferry({"check", "--repo", dir.path().string()});
  ASSERT_EQ(r.exit_code, 1) << describe(r);
  const std::regex line_re(R"(^\.github/ferry\.yaml:(\d+):(\d+): .+$)");
  std::vector<int> lines;
  std::string line;
  for (char c : r.err) {
    if (c != '\n') {
      line += c;
      continue;
    }
    std::smatch m;
    EXPECT_TRUE(std::regex_match(line, m, line_re)) << "not file:line:col: message: " << line;
    if (!m.empty()) {
      lines.push_back(std::stoi(m[1].str()));
    }
    line.clear();
  }
  for (int expected : {5, 6, 8}) {
    EXPECT_NE(std::find(lines.begin(), lines.end(), expected), lines.end())
        << "no error on line " << expected << "\n"
        << describe(r);
  }
  EXPECT_TRUE(r.out.empty()) << describe(r);
}

TEST(cli_check, missing_repository_is_a_usage_error_naming_it) {
  temp_dir dir;
  const auto missing = (dir.path() / "nope").string();
  const auto r = ferry({"check", "--repo", missing});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_NE(r.err.find(missing), std::string::npos) << describe(r);
  // A directory without a rules file is unreadable input too.
  const auto empty = ferry({"check", "--repo", dir.path().string()});
  EXPECT_EQ(empty.exit_code, 2) << describe(empty);
  EXPECT_NE(empty.err.find(".github/ferry.yaml"), std::string::npos) << describe(empty);
}

TEST(cli_plan, newest_sha_tag_diff_applies_and_changes_only_the_marked_scalars) {
  example_repo repo;
  const auto r = ferry({"plan", "--repo", repo.dir(), "--image", "ghcr.io/dine-together/app",
                        "--tag", "sha-9f8e7d6"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto changed = apply_diff(repo, r.out);
  EXPECT_EQ(changed, (std::vector<std::string>{"clusters/staging/app/deployment.yaml"}));
  const std::string rel = "clusters/staging/app/deployment.yaml";
  EXPECT_EQ(repo.file(rel), replace_once(original(rel), "app:sha-1a2b3c4 #", "app:sha-9f8e7d6 #"));
  EXPECT_NE(r.err.find("staging flux-system:app: change"), std::string::npos) << describe(r);
}

TEST(cli_plan, semver_with_digest_edits_tag_and_digest_markers) {
  example_repo repo;
  const auto r = ferry({"plan", "--repo", repo.dir(), "--image", "ghcr.io/dine-together/api",
                        "--tag", "1.5.0", "--digest", k_digest});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const std::string rel = "clusters/staging/app/kustomization.yaml";
  EXPECT_EQ(apply_diff(repo, r.out), (std::vector<std::string>{rel}));
  std::string expected = replace_once(original(rel), "\"1.4.0\"", "\"1.5.0\"");
  expected = replace_once(expected,
                          "sha256:1111111111111111111111111111111111111111111111111111111111111111",
                          k_digest);
  EXPECT_EQ(repo.file(rel), expected);
}

TEST(cli_plan, env_names_the_downstream_environment) {
  example_repo repo;
  const auto r = ferry({"plan", "--repo", repo.dir(), "--image", "ghcr.io/dine-together/api",
                        "--tag", "1.5.0", "--digest", k_digest, "--env", "production"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(apply_diff(repo, r.out),
            (std::vector<std::string>{"clusters/production/app/kustomization.yaml"}));
}

// Two rules for one image and an environment whose paths overlap staging's: several
// (rule, environment) pairs edit one file, and the printed diff still names each file once
// with all edits composed, so `git apply` takes it.
TEST(cli_plan, edits_of_several_rules_and_environments_to_one_file_compose) {
  example_repo repo;
  const std::string rules_rel = ".github/ferry.yaml";
  std::string rules = repo.file(rules_rel);
  rules = replace_once(rules, "  - name: api\n",
                       "  - name: app-canary\n"
                       "    image: ghcr.io/dine-together/app\n"
                       "    policy: {newest: {}}\n"
                       "  - name: api\n");
  rules += "  - name: everywhere\n    paths: [clusters]\n    apply: {flux: {name: apps}}\n";
  write_text(repo.path() / rules_rel, rules);
  const std::string staging = "clusters/staging/app/deployment.yaml";
  const std::string production = "clusters/production/app/deployment.yaml";
  const std::string canary_line =
      "          env:\n            - name: CANARY_IMAGE\n"
      "              value: ghcr.io/dine-together/app:sha-1a2b3c4 # "
      "{\"$imagepolicy\": \"flux-system:app-canary\"}\n";
  write_text(repo.path() / staging, replace_once(original(staging), "          ports:\n",
                                                 canary_line + "          ports:\n"));
  repo.git({"add", "-A"});
  repo.git({"-c", "user.name=ferry test", "-c", "user.email=test@ferry.invalid", "commit", "-q",
            "-m", "a canary rule and an environment over everything"});
  const std::string staging_before = repo.file(staging);

  const auto r = ferry({"plan", "--repo", repo.dir(), "--image", "ghcr.io/dine-together/app",
                        "--tag", "sha-9f8e7d6"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out.find("diff --git a/" + staging), r.out.rfind("diff --git a/" + staging))
      << describe(r);
  EXPECT_EQ(apply_diff(repo, r.out), (std::vector<std::string>{production, staging}));
  std::string expected =
      replace_once(staging_before, "app:sha-1a2b3c4 # {\"$imagepolicy\": \"flux-system:app\"}",
                   "app:sha-9f8e7d6 # {\"$imagepolicy\": \"flux-system:app\"}");
  expected =
      replace_once(expected, "app:sha-1a2b3c4 # {\"$imagepolicy\": \"flux-system:app-canary\"}",
                   "app:sha-9f8e7d6 # {\"$imagepolicy\": \"flux-system:app-canary\"}");
  EXPECT_EQ(repo.file(staging), expected);
  EXPECT_EQ(repo.file(production),
            replace_once(original(production), "app:sha-1a2b3c4 #", "app:sha-9f8e7d6 #"));
}

struct exit_row {
  const char* name;
  std::vector<std::string> args;  // after `plan --repo DIR`
  int exit;
  const char* stderr_has;
};

TEST(cli_plan, exit_codes) {
  example_repo repo;
  const std::vector<exit_row> rows = {
      {"bad tag", {"--image", "ghcr.io/dine-together/app", "--tag", "-bad tag"}, 2, "--tag"},
      {"bad digest",
       {"--image", "ghcr.io/dine-together/api", "--tag", "1.5.0", "--digest", "sha256:xyz"},
       2,
       "--digest sha256:xyz"},
      {"image with a tag",
       {"--image", "ghcr.io/dine-together/app:v1", "--tag", "v2"},
       2,
       "--image"},
      {"missing digest for the :digest marker",
       {"--image", "ghcr.io/dine-together/api", "--tag", "1.5.0"},
       2,
       "--digest"},
      {"empty digest",
       {"--image", "ghcr.io/dine-together/api", "--tag", "1.5.0", "--digest", ""},
       2,
       "--digest"},
      {"empty environment",
       {"--image", "ghcr.io/dine-together/app", "--tag", "sha-9f8e7d6", "--env", ""},
       2,
       "--env"},
      {"unknown environment",
       {"--image", "ghcr.io/dine-together/app", "--tag", "sha-9f8e7d6", "--env", "qa"},
       2,
       "--env qa"},
      {"downgrade",
       {"--image", "ghcr.io/dine-together/api", "--tag", "1.3.0", "--digest", k_digest},
       3,
       "1.4.0"},
      {"downgrade without a digest is still a rejection",
       {"--image", "ghcr.io/dine-together/api", "--tag", "1.3.0"},
       3,
       "1.4.0"},
      {"outside the range",
       {"--image", "ghcr.io/dine-together/api", "--tag", "2.0.0", "--digest", k_digest},
       3,
       "2.0.0"},
      {"no rule", {"--image", "ghcr.io/dine-together/worker", "--tag", "1.0.0"}, 3, "no rule"},
      {"filtered out", {"--image", "ghcr.io/dine-together/app", "--tag", "latest"}, 3, "latest"},
      {"same tag again",
       {"--image", "ghcr.io/dine-together/app", "--tag", "sha-1a2b3c4"},
       4,
       "already runs"},
      {"same semver again",
       {"--image", "ghcr.io/dine-together/api", "--tag", "1.4.0", "--digest", k_digest},
       4,
       "already runs"},
  };
  for (const auto& row : rows) {
    std::vector<std::string> args = {"plan", "--repo", repo.dir()};
    args.insert(args.end(), row.args.begin(), row.args.end());
    const auto r = ferry(args);
    EXPECT_EQ(r.exit_code, row.exit) << row.name << "\n" << describe(r);
    EXPECT_NE(r.err.find(row.stderr_has), std::string::npos) << row.name << "\n" << describe(r);
    EXPECT_TRUE(r.out.empty()) << row.name << ": no diff expected\n" << describe(r);
  }
  // Nothing was written to the checkout.
  EXPECT_TRUE(repo.git({"status", "--porcelain"}).out.empty());
}

TEST(cli_plan, broken_rules_file_exits_1) {
  example_repo repo;
  write_text(repo.path() / ".github/ferry.yaml", "version: 2\n");
  const auto r = ferry({"plan", "--repo", repo.dir(), "--image", "ghcr.io/dine-together/app",
                        "--tag", "sha-9f8e7d6"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find(".github/ferry.yaml:1:"), std::string::npos) << describe(r);
}

// `ferry demo` runs the whole loop offline: staging's pull request (a branch) and its merge, the
// push's apply (Flux, dry run), the promotion of staging's values to production, production's
// pull request, merge and Job apply (dry run), in that order, the same on every run.
TEST(cli_demo, runs_the_whole_loop_offline_and_deterministically) {
  const auto r = ferry({"demo"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  std::size_t at = 0;
  for (const std::string line : {
           "== 2. ferry check",
           "package.published.ghcr-multiarch-index.json      package          -> 204",
           "package event: image ghcr.io/dine-together/app, tag sha-9f8e7d6",
           "pull request for staging: branch ferry/staging/flux-system-app",
           "title:  ferry: bump app to sha-9f8e7d6 in staging",
           "+++ b/clusters/staging/app/deployment.yaml",
           "-          image: ghcr.io/dine-together/app:sha-1a2b3c4",
           "+          image: ghcr.io/dine-together/app:sha-9f8e7d6",
           "merge of ferry/staging/flux-system-app into main",
           "(fast-forward)",
           "changed: clusters/staging/app/deployment.yaml\n  applies: staging\n",
           "apply staging at",
           "{\"metadata\":{\"annotations\":{\"reconcile.fluxcd.io/requestedAt\":\"",
           "verdict: succeeded",
           "status ferry/apply/staging on ",
           "promotion staging -> production",
           "production flux-system:api: no pull request",
           "pull request for production: branch ferry/production/flux-system-app",
           "+++ b/clusters/production/app/deployment.yaml",
           "+          image: ghcr.io/dine-together/app:sha-9f8e7d6",
           "merge of ferry/production/flux-system-app into main",
           "changed: clusters/production/app/deployment.yaml\n  applies: production\n",
           "POST /apis/batch/v1/namespaces/flux-system/jobs",
           "\"name\": \"ferry-apply-production-",
           "\"serviceAccountName\": \"ferry-apply\"",
           "\"activeDeadlineSeconds\": 600",
           "status ferry/apply/production on ",
           "demo finished: every step answered as expected",
       }) {
    const auto found = r.out.find(line, at);
    ASSERT_NE(found, std::string::npos) << "missing, or out of order: " << line << "\n" << r.out;
    at = found + line.size();
  }
  // One commit id runs through each step: the merge's new head is what the push applies, what
  // Flux is asked to reconcile and what the status is posted on.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      r.out, m,
      std::regex(
          R"(main: [0-9a-f]{12} -> ([0-9a-f]{12}) \(fast-forward\)\n[\s\S]*?push to main [0-9a-f]{12}\.\.([0-9a-f]{12}))")))
      << r.out;
  EXPECT_EQ(m[1], m[2]);
  const std::string staging_head = m[1];
  EXPECT_NE(r.out.find("requestedAt\":\"" + staging_head), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("status ferry/apply/staging on " + staging_head + ": success \"dry run"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("staging's values at " + staging_head), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(
      r.out,
      std::regex(
          R"(status ferry/apply/production on ([0-9a-f]{12}): success "dry run: Job ferry-apply-production-\1 would be created")")))
      << r.out;

  const auto again = ferry({"demo"});
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_EQ(again.out, r.out);
}

const fs::path k_migrate_cases = fs::path(FERRY_FIXTURES_DIR) / "migrate-flux";

TEST(cli_migrate_flux, exit_codes) {
  const struct {
    const char* repo;
    int exit_code;
    const char* stderr_part;
  } cases[] = {
      {"clusters-per-env", 0, ""},
      {"missing-repository", 1,
       "clusters/staging/podinfo-policy.yaml:1: ImagePolicy flux-system/podinfo: "
       "spec.imageRepositoryRef names ImageRepository flux-system/podinfo-registry"},
      {"unreadable", 2, "clusters/staging/policy.yaml:8: YAML syntax error"},
      {"no-objects", 4, "no Flux image automation objects"},
  };
  for (const auto& c : cases) {
    const auto r = ferry({"migrate-flux", "--repo", (k_migrate_cases / c.repo / "repo").string()});
    EXPECT_EQ(r.exit_code, c.exit_code) << c.repo << "\n" << describe(r);
    EXPECT_NE(r.err.find(c.stderr_part), std::string::npos) << c.repo << "\n" << describe(r);
    EXPECT_EQ(r.out.empty(), c.exit_code != 0) << c.repo << "\n" << describe(r);
  }
  const auto missing = ferry({"migrate-flux", "--repo", "/nonexistent/ferry-repo"});
  EXPECT_EQ(missing.exit_code, 2) << describe(missing);
  EXPECT_NE(missing.err.find("/nonexistent/ferry-repo: not a directory"), std::string::npos);
}

// The whole migration as a user does it: the printed rules saved as .github/ferry.yaml, then
// `check` accepts them and lists the markers, and `plan` bumps both clusters' markers.
TEST(cli_migrate_flux, printed_rules_drive_check_and_plan) {
  temp_dir dir;
  fs::copy(k_migrate_cases / "clusters-per-env" / "repo", dir.path(), fs::copy_options::recursive);
  const auto migrated = ferry({"migrate-flux", "--repo", dir.path().string()});
  ASSERT_EQ(migrated.exit_code, 0) << describe(migrated);
  write_text(dir.path() / ".github" / "ferry.yaml", migrated.out);

  const auto check = ferry({"check", "--repo", dir.path().string()});
  ASSERT_EQ(check.exit_code, 0) << describe(check);
  EXPECT_NE(check.out.find("clusters/staging/podinfo-deployment.yaml:17"), std::string::npos)
      << describe(check);
  EXPECT_NE(check.out.find("clusters/production/podinfo-deployment.yaml:17"), std::string::npos)
      << describe(check);

  // 5.0.x admits 5.0.3 and not 5.1.0, as the Flux policy did.
  const auto plan = ferry({"plan", "--repo", dir.path().string(), "--image",
                           "ghcr.io/stefanprodan/podinfo", "--tag", "5.0.3"});
  ASSERT_EQ(plan.exit_code, 0) << describe(plan);
  EXPECT_NE(plan.out.find("+          image: ghcr.io/stefanprodan/podinfo:5.0.3 # "
                          "{\"$imagepolicy\": \"flux-system:podinfo\"}"),
            std::string::npos)
      << describe(plan);
  EXPECT_NE(plan.out.find("b/clusters/staging/podinfo-deployment.yaml"), std::string::npos);
  EXPECT_NE(plan.out.find("b/clusters/production/podinfo-deployment.yaml"), std::string::npos);
  const auto rejected = ferry({"plan", "--repo", dir.path().string(), "--image",
                               "ghcr.io/stefanprodan/podinfo", "--tag", "5.1.0"});
  EXPECT_EQ(rejected.exit_code, 3) << describe(rejected);
}

TEST(cli, help_for_every_command_exits_0) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"serve", "--help"},
                                             {"check", "--help"},
                                             {"plan", "--help"},
                                             {"replay", "--help"},
                                             {"demo", "--help"},
                                             {"migrate-flux", "--help"},
                                             {"version", "--help"}}) {
    const auto r = ferry(args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << "\n" << describe(r);
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << args[0] << "\n" << describe(r);
  }
}

TEST(cli, usage_errors_exit_2) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"check", "--repo", k_example.string(), "--bogus"},
                                             {"--bogus"},
                                             {},
                                             {"frobnicate"},
                                             {"plan", "--repo", k_example.string()},
                                             {"migrate-flux"}}) {
    const auto r = ferry(args);
    EXPECT_EQ(r.exit_code, 2) << (args.empty() ? "(no args)" : args[0]) << "\n" << describe(r);
    EXPECT_FALSE(r.err.empty()) << describe(r);
  }
}

TEST(cli, version_prints_linked_library_versions) {
  const auto r = ferry({"version"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  for (const char* re : {R"(^ferry \S+\n)", R"(\n  boost 1\.\d+\.\d+\n)", R"(\n  OpenSSL 3\.)",
                         R"(\n  libgit2 \d+\.\d+\.\d+\n)", R"(\n  simdjson \d+\.\d+\.\d+\n)",
                         R"(\n  CLI11 \d+\.\d+)"}) {
    EXPECT_TRUE(std::regex_search(r.out, std::regex(re))) << re << "\n" << describe(r);
  }
}

// Every command `ferry --help` lists is in the README's command table and has its own --help;
// every `ferry NAME` the README and docs/ mention is a real command (issue 15: a command in the
// code but not in the docs fails here).
TEST(cli, docs_name_every_command_and_no_other) {
  const auto help = ferry({"--help"});
  ASSERT_EQ(help.exit_code, 0) << help.err;
  const auto sub = help.out.find("Subcommands:");
  ASSERT_NE(sub, std::string::npos) << help.out;
  std::set<std::string> commands;
  const std::regex line("\\n  ([a-z][a-z-]*) ");
  const std::string listing = help.out.substr(sub);
  for (std::sregex_iterator it(listing.begin(), listing.end(), line), end; it != end; ++it) {
    commands.insert((*it)[1]);
  }
  ASSERT_GE(commands.size(), 6u) << help.out;
  const auto readme = read_text(fs::path(FERRY_SOURCE_DIR) / "README.md");
  for (const auto& c : commands) {
    EXPECT_NE(readme.find("| `ferry " + c), std::string::npos)
        << "ferry " << c << " is missing from the README's command table";
    const auto own = ferry({c, "--help"});
    EXPECT_EQ(own.exit_code, 0) << c << ": " << own.err;
  }
  std::string docs = readme;
  for (const auto& entry : fs::directory_iterator(fs::path(FERRY_SOURCE_DIR) / "docs")) {
    if (entry.path().extension() == ".md") {
      docs += read_text(entry.path());
    }
  }
  // A command as written in the docs: `ferry NAME`, `ferry NAME --flag` or `ferry NAME ARG`; not a
  // log line such as `ferry pull request closed without merge`.
  const std::regex mention("`ferry ([a-z][a-z-]*)(`| -| [A-Z./])");
  for (std::sregex_iterator it(docs.begin(), docs.end(), mention), end; it != end; ++it) {
    EXPECT_TRUE(commands.contains((*it)[1]))
        << "the docs mention `ferry " << (*it)[1] << "`, which is not a command";
  }
}

}  // namespace
}  // namespace ferry
