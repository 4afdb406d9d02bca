// scan_tree on a tree built in a temporary directory: which files are read, in what order,
// and what is reported.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "service/markers/markers.hpp"

namespace fs = std::filesystem;
namespace m = ferry::markers;

namespace {

class tree : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ferry-tree-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel, std::ios::binary) << text;
  }
  static std::string marked(const std::string& policy) {
    return "image: ghcr.io/o/app:v1 # {\"$imagepolicy\": \"flux-system:" + policy + "\"}\n";
  }
  std::vector<std::string> paths(const m::tree_scan& t) {
    std::vector<std::string> out;
    for (const auto& f : t.files) {
      out.push_back(f.path);
    }
    return out;
  }
  fs::path root_;
};

TEST_F(tree, reads_yaml_and_kustomization_files_sorted_skipping_git_and_symlinks) {
  write("z.yaml", marked("z"));
  write("a/b.yml", marked("b"));
  write("a/Kustomization", marked("k"));
  write("a/kustomization.yaml", marked("k2"));
  write("a/readme.md", marked("md"));
  write("a/b.yaml.bak", marked("bak"));
  write(".git/config.yaml", marked("git"));
  write("sub/.git/x.yaml", marked("git2"));
  write("plain.yaml", "a: 1\n");
  fs::create_symlink(root_ / "z.yaml", root_ / "link.yaml");
  fs::create_directory_symlink(root_ / "a", root_ / "linkdir");
  auto r = m::scan_tree(root_.string());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(paths(*r), (std::vector<std::string>{"a/Kustomization", "a/b.yml",
                                                 "a/kustomization.yaml", "z.yaml"}));
  EXPECT_EQ(r->files_seen, 5u);
  EXPECT_TRUE(r->errors.empty());
  EXPECT_EQ(r->files[3].content, marked("z"));
  ASSERT_EQ(r->files[3].markers.size(), 1u);
  EXPECT_EQ(r->files[3].markers[0].file, "z.yaml");
}

TEST_F(tree, prefixes_select_directories_and_files_and_overlaps_read_once) {
  write("clusters/staging/app.yaml", marked("s"));
  write("clusters/staging-eu/app.yaml", marked("eu"));
  write("clusters/production/app.yaml", marked("p"));
  write("base/app.yaml", marked("b"));
  auto r = m::scan_tree(
      root_.string(), {"clusters/staging", "clusters//staging/", "./base/app.yaml", "missing/dir"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(paths(*r), (std::vector<std::string>{"base/app.yaml", "clusters/staging/app.yaml"}));
  auto all = m::scan_tree(root_.string(), {"clusters", "clusters/staging", "."});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->files.size(), 4u);
}

TEST_F(tree, refuses_prefixes_outside_the_repository_and_missing_roots) {
  EXPECT_FALSE(m::scan_tree(root_.string(), {"../etc"}).ok());
  EXPECT_FALSE(m::scan_tree(root_.string(), {"a/../../b"}).ok());
  EXPECT_FALSE(m::scan_tree(root_.string(), {"/etc"}).ok());
  auto r = m::scan_tree((root_ / "nope").string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ferry::error_kind::invalid_input);
}

TEST_F(tree, malformed_files_and_marker_problems_are_reported_with_places) {
  write("a/bad.yaml", "x: v1 # {\"$imagepolicy\": \"ns:app\"}\ny: [\n");
  write("a/good.yaml", marked("g"));
  write("b/problem.yaml", "# {\"$imagepolicy\": \"ns:app\"}\na: 1\n");
  write("c/unmarked-bad.yaml", "y: [\n");  // never parsed: no marker bytes
  auto r = m::scan_tree(root_.string());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(paths(*r), (std::vector<std::string>{"a/good.yaml"}));
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_EQ(r->errors[0].file, "a/bad.yaml");
  EXPECT_GT(r->errors[0].line, 0);
  ASSERT_EQ(r->problems.size(), 1u);
  EXPECT_EQ(m::to_string(r->problems[0]).rfind("b/problem.yaml:1:1: ", 0), 0u)
      << m::to_string(r->problems[0]);
}

}  // namespace
