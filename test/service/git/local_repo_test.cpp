// The demo's local repository: commits on branches with compare-and-swap, fast-forward and
// merge-commit merges, reproducible ids, and the same reads as a mirror.

#include "service/git/local_repo.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace ferry::git {
namespace {

namespace fs = std::filesystem;

// 2026-01-01T00:00:00Z: any fixed time works, the point is that it is fixed.
constexpr std::chrono::sys_seconds k_when{std::chrono::seconds(1767225600)};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string sh(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) {
    out.append(buf, n);
  }
  ::pclose(p);
  while (!out.empty() && out.back() == '\n') {
    out.pop_back();
  }
  return out;
}

class local_repo_test : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-local-repo-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  fs::path root_;
  const std::vector<file> files_ = {
      {".github/ferry.yaml", "version: 1\n"},
      {"clusters/staging/app.yaml", "image: app:1\n"},
      {"clusters/production/app.yaml", "image: app:1\n"},
  };
};

TEST_F(local_repo_test, commit_on_a_branch_then_merge_it) {
  auto repo = local_repo::create(root_ / "infra", files_, k_when);
  ASSERT_TRUE(repo.ok()) << repo.error().message;
  const std::string main0 = *repo->head("main");
  EXPECT_EQ(*repo->read_file(main0, "clusters/staging/app.yaml"), "image: app:1\n");
  EXPECT_EQ(slurp(root_ / "infra/clusters/staging/app.yaml"), "image: app:1\n");

  const std::string branch = "ferry/staging/flux-system-app";
  const std::vector<file> bump = {{"clusters/staging/app.yaml", "image: app:2\n"}};
  auto c1 = repo->commit_on_branch(branch, main0, bump, "Bump app to 2", std::nullopt);
  ASSERT_TRUE(c1.ok()) << c1.error().message;
  EXPECT_EQ(*repo->head(branch), *c1);
  EXPECT_EQ(*repo->changed_paths(main0, *c1),
            std::vector<std::string>{"clusters/staging/app.yaml"});
  // The working directory shows main, which has not moved.
  EXPECT_EQ(slurp(root_ / "infra/clusters/staging/app.yaml"), "image: app:1\n");

  // Compare-and-swap: creating again, or moving from a stale head, is a conflict.
  const std::vector<file> bump3 = {{"clusters/staging/app.yaml", "image: app:3\n"}};
  auto again = repo->commit_on_branch(branch, main0, bump3, "Bump app to 3", std::nullopt);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, error_kind::conflict);
  auto stale = repo->commit_on_branch(branch, main0, bump3, "Bump app to 3", main0);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().kind, error_kind::conflict);
  EXPECT_EQ(*repo->head(branch), *c1);
  // No empty commits.
  auto same = repo->commit_on_branch(branch, *c1, bump, "again", *c1);
  ASSERT_FALSE(same.ok());
  EXPECT_EQ(same.error().kind, error_kind::invalid_input);

  // main has not moved: fast-forward.
  auto merged = repo->merge_branch(branch, "main", "Merge");
  ASSERT_TRUE(merged.ok()) << merged.error().message;
  EXPECT_EQ(*merged, *c1);
  EXPECT_EQ(*repo->head("main"), *c1);
  EXPECT_EQ(slurp(root_ / "infra/clusters/staging/app.yaml"), "image: app:2\n");
  // Merging again changes nothing.
  EXPECT_EQ(*repo->merge_branch(branch, "main", "Merge"), *c1);

  // Diverged: production bumped on a branch while main moved on: a merge commit.
  const std::string prod = "ferry/production/flux-system-app";
  const std::vector<file> prod_bump = {{"clusters/production/app.yaml", "image: app:2\n"}};
  auto p1 = repo->commit_on_branch(prod, *c1, prod_bump, "Bump production", std::nullopt);
  ASSERT_TRUE(p1.ok()) << p1.error().message;
  const std::vector<file> other = {{"README.md", "hello\n"}};
  auto m1 = repo->commit_on_branch("main", *c1, other, "Add README", *c1);
  ASSERT_TRUE(m1.ok()) << m1.error().message;
  EXPECT_EQ(slurp(root_ / "infra/README.md"), "hello\n");
  auto merge = repo->merge_branch(prod, "main", "Merge production bump");
  ASSERT_TRUE(merge.ok()) << merge.error().message;
  EXPECT_NE(*merge, *p1);
  EXPECT_NE(*merge, *m1);
  EXPECT_TRUE(*repo->is_descendant(*merge, *p1));
  EXPECT_TRUE(*repo->is_descendant(*merge, *m1));
  EXPECT_EQ(*repo->read_file(*merge, "clusters/production/app.yaml"), "image: app:2\n");
  EXPECT_EQ(*repo->read_file(*merge, "README.md"), "hello\n");
  EXPECT_EQ(slurp(root_ / "infra/clusters/production/app.yaml"), "image: app:2\n");
  // git itself agrees: two parents, the demo identity, a clean repository.
  const std::string dir = (root_ / "infra").string();
  EXPECT_EQ(sh("git -C " + dir + " rev-list --parents -n 1 " + *merge),
            *merge + " " + *m1 + " " + *p1);
  EXPECT_EQ(sh("git -C " + dir + " log -1 --format='%an <%ae> %at' " + *merge),
            "ferry demo <demo@ferry.invalid> 1767225600");
  EXPECT_EQ(sh("git -C " + dir + " status --porcelain"), "");
  EXPECT_EQ(sh("git -C " + dir + " fsck --strict >/dev/null; echo $?"), "0");
}

// The root tree id is git's own (the tag-bump flow sends it as base_tree, with no API read).
TEST_F(local_repo_test, tree_id_is_the_commits_root_tree_as_git_names_it) {
  auto repo = local_repo::create(root_ / "infra", files_, k_when);
  ASSERT_TRUE(repo.ok()) << repo.error().message;
  const std::string main0 = *repo->head("main");
  auto tree = repo->tree_id(main0);
  ASSERT_TRUE(tree.ok()) << tree.error().message;
  EXPECT_EQ(*tree, sh("git -C " + (root_ / "infra").string() + " rev-parse " + main0 + "^{tree}"));
  auto missing = repo->tree_id(std::string(40, 'e'));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, error_kind::not_found);
}

TEST_F(local_repo_test, conflicting_merge_is_a_conflict) {
  auto repo = local_repo::create(root_ / "infra", files_, k_when);
  ASSERT_TRUE(repo.ok());
  const std::string base = *repo->head("main");
  const std::vector<file> a = {{"clusters/staging/app.yaml", "image: app:2\n"}};
  const std::vector<file> b = {{"clusters/staging/app.yaml", "image: app:3\n"}};
  ASSERT_TRUE(repo->commit_on_branch("x", base, a, "a", std::nullopt).ok());
  ASSERT_TRUE(repo->commit_on_branch("main", base, b, "b", base).ok());
  auto merge = repo->merge_branch("x", "main", "m");
  ASSERT_FALSE(merge.ok());
  EXPECT_EQ(merge.error().kind, error_kind::conflict);
}

TEST_F(local_repo_test, same_input_same_commit_ids) {
  auto a = local_repo::create(root_ / "a", files_, k_when);
  auto b = local_repo::create(root_ / "b", files_, k_when);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a->head("main"), *b->head("main"));
  const std::vector<file> bump = {{"clusters/staging/app.yaml", "image: app:2\n"}};
  EXPECT_EQ(*a->commit_on_branch("p", *a->head("main"), bump, "m", std::nullopt),
            *b->commit_on_branch("p", *b->head("main"), bump, "m", std::nullopt));
}

TEST_F(local_repo_test, refuses_a_non_empty_directory_and_bad_names) {
  fs::create_directories(root_ / "busy");
  std::ofstream(root_ / "busy/x") << "x";
  auto busy = local_repo::create(root_ / "busy", files_, k_when);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().kind, error_kind::invalid_input);
  auto repo = local_repo::create(root_ / "infra", files_, k_when);
  ASSERT_TRUE(repo.ok());
  EXPECT_EQ(repo->head("no..dots").error().kind, error_kind::invalid_input);
  EXPECT_EQ(repo->head("missing").error().kind, error_kind::not_found);
  const std::vector<file> escape = {{"../outside.yaml", "x\n"}};
  auto bad = repo->commit_on_branch("p", *repo->head("main"), escape, "m", std::nullopt);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, error_kind::invalid_input);
}

}  // namespace
}  // namespace ferry::git
