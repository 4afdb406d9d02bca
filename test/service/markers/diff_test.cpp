// unified_diff: exact output for known cases, and a round trip through the real `git apply`
// for many generated edits (CRLF, missing final newlines, insertions, deletions, paths with
// spaces).

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "service/markers/markers.hpp"
#include "test/support/temp_dir.hpp"

namespace fs = std::filesystem;
namespace m = ferry::markers;

namespace {

TEST(unified_diff, one_changed_line_with_three_lines_of_context) {
  const std::string a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
  const std::string b = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
  const m::file_change c[] = {{"dir/f.yaml", a, b}};
  EXPECT_EQ(m::unified_diff(c),
            "diff --git a/dir/f.yaml b/dir/f.yaml\n"
            "--- a/dir/f.yaml\n"
            "+++ b/dir/f.yaml\n"
            "@@ -2,7 +2,7 @@\n"
            " 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
}

TEST(unified_diff, separate_hunks_when_changes_are_far_apart) {
  std::string a;
  for (int i = 1; i <= 20; ++i) {
    a += std::to_string(i) + "\n";
  }
  std::string b = a;
  b.replace(b.find("2\n"), 2, "B\n");
  b.replace(b.find("\n19\n") + 1, 3, "S\n");
  const m::file_change c[] = {{"f", a, b}};
  const std::string d = m::unified_diff(c);
  EXPECT_NE(d.find("@@ -1,5 +1,5 @@\n 1\n-2\n+B\n 3\n 4\n 5\n"), std::string::npos) << d;
  EXPECT_NE(d.find("@@ -16,5 +16,5 @@\n 16\n 17\n 18\n-19\n+S\n 20\n"), std::string::npos) << d;
}

TEST(unified_diff, missing_final_newline_is_marked) {
  const m::file_change c[] = {{"f", "a\nb", "a\nc"}};
  EXPECT_EQ(m::unified_diff(c),
            "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n"
            "\\ No newline at end of file\n+c\n\\ No newline at end of file\n");
}

TEST(unified_diff, equal_contents_give_nothing_and_odd_paths_are_quoted) {
  const m::file_change same[] = {{"f", "x\n", "x\n"}};
  EXPECT_EQ(m::unified_diff(same), "");
  const m::file_change odd[] = {{"a\"b\\c\xC3\xA9.yaml", "x\n", "y\n"}};
  EXPECT_EQ(
      m::unified_diff(odd).substr(0, 60),
      std::string("diff --git \"a/a\\\"b\\\\c\\303\\251.yaml\" \"b/a\\\"b\\\\c\\303\\251.yaml\"\n")
          .substr(0, 60));
}

using ferry::test::temp_dir;

void write_all(const fs::path& p, std::string_view data) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string random_file(std::mt19937& rng, bool crlf) {
  std::uniform_int_distribution<int> lines(0, 40);
  std::uniform_int_distribution<int> word(0, 5);
  std::string out;
  const int n = lines(rng);
  for (int i = 0; i < n; ++i) {
    out += "line" + std::to_string(word(rng)) + (crlf ? "\r\n" : "\n");
  }
  if (!out.empty() && word(rng) == 0) {
    out.pop_back();  // no final newline (or a final lone "\r" for CRLF files)
  }
  return out;
}

std::string mutate(std::mt19937& rng, std::string s) {
  std::uniform_int_distribution<int> kind(0, 3);
  std::uniform_int_distribution<int> count(0, 6);
  const int n = count(rng);
  for (int i = 0; i < n; ++i) {
    std::uniform_int_distribution<std::size_t> at(0, s.size());
    const std::size_t p = at(rng);
    switch (kind(rng)) {
      case 0:
        s.insert(p, "new" + std::to_string(i) + "\n");
        break;
      case 1:
        if (p < s.size()) {
          const std::size_t e = s.find('\n', p);
          s.erase(p, e == std::string::npos ? std::string::npos : e - p + 1);
        }
        break;
      case 2:
        s.insert(p, "x");
        break;
      default:
        if (!s.empty() && s.back() == '\n') {
          s.pop_back();
        } else {
          s += "\n";
        }
    }
  }
  return s;
}

TEST(unified_diff, git_apply_reproduces_generated_edits) {
  std::mt19937 rng(20261123);  // fixed seed: failures reproduce
  temp_dir dir;
  const fs::path repo = dir.path() / "repo";
  ASSERT_EQ(std::system(("git init -q '" + repo.string() + "'").c_str()), 0);
  for (int round = 0; round < 40; ++round) {
    std::vector<m::file_change> changes;
    for (int f = 0; f < 3; ++f) {
      const std::string path =
          "dir " + std::to_string(round) + "/file " + std::to_string(f) + ".yaml";
      const std::string a = random_file(rng, f == 1);
      changes.push_back({path, a, mutate(rng, a)});
      write_all(repo / path, a);
    }
    const std::string patch = m::unified_diff(changes);
    const fs::path patch_file = dir.path() / ("round" + std::to_string(round) + ".patch");
    write_all(patch_file, patch);
    const std::string cmd = "git -C '" + repo.string() + "' apply --whitespace=nowarn '" +
                            patch_file.string() + "' 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << patch;
    for (const auto& c : changes) {
      EXPECT_EQ(read_all(repo / c.path), c.new_content) << c.path << "\n" << patch;
    }
  }
}

}  // namespace
