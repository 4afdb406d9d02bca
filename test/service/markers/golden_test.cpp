// Golden edits: fixtures/edits/<case>/original/ is scanned with scan_tree, edited with
// apply_edits, and every changed file must equal expected/<same path> byte for byte (files
// absent from expected/ must stay unchanged). The unified diff of the edits is then applied
// with the real `git apply` to a fresh repository holding the originals, and must produce the
// expected files too.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "service/markers/markers.hpp"
#include "test/support/temp_dir.hpp"

namespace fs = std::filesystem;
namespace m = ferry::markers;

namespace {

const fs::path k_cases = fs::path(FERRY_FIXTURES_DIR) / "edits";

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_all(const fs::path& p, std::string_view data) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

struct case_request {
  m::edit_request request;
  std::vector<std::string> prefixes;
  std::vector<std::string> errors;  // files expected to be reported as malformed
};

case_request read_request(const fs::path& file) {
  case_request out;
  std::istringstream in(read_all(file));
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) {
      continue;
    }
    const std::string k = line.substr(0, eq);
    const std::string v = line.substr(eq + 1);
    if (k == "ns") {
      out.request.ns = v;
    } else if (k == "name") {
      out.request.name = v;
    } else if (k == "repository") {
      out.request.repository = v;
    } else if (k == "tag") {
      out.request.tag = v;
    } else if (k == "digest") {
      out.request.digest = v;
    } else if (k == "pin_digest") {
      out.request.pin_digest = v == "true";
    } else if (k == "prefix") {
      out.prefixes.push_back(v);
    } else if (k == "error") {
      out.errors.push_back(v);
    } else {
      ADD_FAILURE() << file << ": unknown key " << k;
    }
  }
  return out;
}

// Relative paths of the regular files under dir, sorted.
std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) {
    return out;
  }
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) {
      out.push_back(fs::relative(e.path(), dir).generic_string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

using ferry::test::temp_dir;

int run(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::vector<std::string> case_names() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(k_cases)) {
    if (e.is_directory()) {
      out.push_back(e.path().filename().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

class golden : public ::testing::TestWithParam<std::string> {};

TEST_P(golden, edits_match_expected_and_diff_applies_with_git) {
  const fs::path dir = k_cases / GetParam();
  const fs::path original = dir / "original";
  const fs::path expected = dir / "expected";
  const case_request req = read_request(dir / "request");

  auto scanned = m::scan_tree(original.string(), req.prefixes);
  ASSERT_TRUE(scanned.ok()) << scanned.error().message;

  std::vector<std::string> error_files;
  for (const auto& e : scanned->errors) {
    error_files.push_back(e.file);
    EXPECT_NE(e.message.find("malformed YAML"), std::string::npos) << m::to_string(e);
    EXPECT_GT(e.line, 0) << m::to_string(e);
  }
  EXPECT_EQ(error_files, req.errors);
  for (const auto& p : scanned->problems) {
    ADD_FAILURE() << "unexpected problem: " << m::to_string(p);
  }

  std::map<std::string, std::string> changed;
  std::vector<m::file_change> changes;
  for (const auto& f : scanned->files) {
    auto edited = m::apply_edits(f.content, f.markers, req.request);
    ASSERT_TRUE(edited.ok()) << f.path << ": " << edited.error().message;
    if (edited->records.empty()) {
      EXPECT_EQ(edited->content, f.content) << f.path;
      continue;
    }
    EXPECT_NE(edited->content, f.content) << f.path;
    for (const auto& r : edited->records) {
      EXPECT_EQ(r.file, f.path);
      EXPECT_NE(r.old_value, r.new_value);
      EXPECT_EQ(r.ns, req.request.ns);
      EXPECT_EQ(r.name, req.request.name);
    }
    changed[f.path] = edited->content;
    changes.push_back({f.path, f.content, edited->content});
  }

  // Exactly the expected files changed, to exactly the expected bytes.
  std::vector<std::string> changed_paths;
  for (const auto& [p, _] : changed) {
    changed_paths.push_back(p);
  }
  EXPECT_EQ(changed_paths, files_under(expected));
  for (const auto& [p, content] : changed) {
    EXPECT_EQ(content, read_all(expected / p)) << p;
  }

  // The diff, applied by git to the originals, gives the expected tree.
  const std::string patch = m::unified_diff(changes);
  if (changes.empty()) {
    EXPECT_TRUE(patch.empty());
    return;
  }
  temp_dir repo;
  ASSERT_EQ(run("git init -q " + shell_quote(repo.path().string())), 0);
  for (const auto& p : files_under(original)) {
    write_all(repo.path() / p, read_all(original / p));
  }
  write_all(repo.path() / ".." / (repo.path().filename().string() + ".patch"), patch);
  const fs::path patch_file =
      repo.path().parent_path() / (repo.path().filename().string() + ".patch");
  const std::string git = "git -C " + shell_quote(repo.path().string()) + " apply ";
  EXPECT_EQ(run(git + "--check " + shell_quote(patch_file.string())), 0) << patch;
  EXPECT_EQ(run(git + shell_quote(patch_file.string())), 0) << patch;
  fs::remove(patch_file);
  for (const auto& p : files_under(original)) {
    const std::string want =
        changed.count(p) != 0 ? read_all(expected / p) : read_all(original / p);
    EXPECT_EQ(read_all(repo.path() / p), want) << p << "\n" << patch;
  }
}

INSTANTIATE_TEST_SUITE_P(edits, golden, ::testing::ValuesIn(case_names()), [](const auto& info) {
  std::string n = info.param;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
});

}  // namespace
