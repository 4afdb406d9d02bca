// Golden tests of `ferry onboard`'s conversion: fixtures/onboard/<case>/docker-compose.yml (and
// an optional ferry.yaml, the infra repo's rules file) converted with app <case>, org acme and
// domain acme.dev, compared byte for byte with expected/ (every file, .github/ferry.yaml
// included) and expected.log. FERRY_UPDATE_GOLDEN=1 rewrites the expectations instead.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "service/markers/markers.hpp"
#include "service/onboard/onboard.hpp"
#include "service/rules/rules.hpp"

namespace fs = std::filesystem;
using namespace ferry::onboard;

namespace {

const fs::path k_cases = fs::path(FERRY_FIXTURES_DIR) / "onboard";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
}

struct outcome {
  std::map<std::string, std::string> files;
  std::string log;
};

outcome run_case(const fs::path& dir) {
  options o;
  o.app = dir.filename().string();
  o.org = "acme";
  o.domain = "acme.dev";
  std::string rules;
  if (fs::exists(dir / "ferry.yaml")) {
    rules = slurp(dir / "ferry.yaml");
    auto with = options_from_rules(rules, "ferry.yaml", o);
    EXPECT_TRUE(with.ok()) << (with.ok() ? "" : with.error().message);
    if (with.ok()) {
      o = *with;
    }
  }
  auto c = convert_text(slurp(dir / "docker-compose.yml"), o);
  outcome out;
  if (!c.ok()) {
    out.log = "error: " + c.error().message + "\n";
    return out;
  }
  auto new_rules = add_image_rules(rules, *c, o, c->log);
  EXPECT_TRUE(new_rules.ok()) << (new_rules.ok() ? "" : new_rules.error().message);
  for (const auto& f : c->files) {
    out.files[f.path] = f.content;
  }
  if (new_rules.ok()) {
    out.files[".github/ferry.yaml"] = *new_rules;
  }
  for (const auto& l : c->log) {
    out.log += l + "\n";
  }
  return out;
}

std::vector<fs::path> cases() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(k_cases)) {
    if (e.is_directory()) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(OnboardGolden, AtLeastFifteenCases) {
  EXPECT_GE(cases().size(), 15u);
}

TEST(OnboardGolden, EveryCaseByteForByte) {
  const bool update = std::getenv("FERRY_UPDATE_GOLDEN") != nullptr &&
                      std::string(std::getenv("FERRY_UPDATE_GOLDEN")) == "1";
  for (const auto& dir : cases()) {
    SCOPED_TRACE(dir.filename().string());
    const auto got = run_case(dir);
    const auto expected_dir = dir / "expected";
    if (update) {
      fs::remove_all(expected_dir);
      for (const auto& [path, content] : got.files) {
        spit(expected_dir / path, content);
      }
      spit(dir / "expected.log", got.log);
      continue;
    }
    EXPECT_EQ(slurp(dir / "expected.log"), got.log);
    std::map<std::string, std::string> want;
    if (fs::exists(expected_dir)) {
      for (const auto& e : fs::recursive_directory_iterator(expected_dir)) {
        if (e.is_regular_file()) {
          want[fs::relative(e.path(), expected_dir).generic_string()] = slurp(e.path());
        }
      }
    }
    EXPECT_EQ(want.size(), got.files.size());
    for (const auto& [path, content] : got.files) {
      const auto it = want.find(path);
      if (it == want.end()) {
        ADD_FAILURE() << "unexpected file " << path;
        continue;
      }
      EXPECT_EQ(it->second, content) << path;
    }
    for (const auto& [path, content] : want) {
      EXPECT_TRUE(got.files.contains(path)) << "missing file " << path;
    }
  }
}

// The same conversion twice gives the same bytes (no map or pointer order leaks out).
TEST(OnboardGolden, Deterministic) {
  for (const auto& dir : cases()) {
    const auto a = run_case(dir);
    const auto b = run_case(dir);
    EXPECT_EQ(a.files, b.files) << dir;
    EXPECT_EQ(a.log, b.log) << dir;
  }
}

// What onboarding is for: ferry bumps what it generated. Every generated file's markers are
// usable, the rules file is valid, and each rule claims a `:tag` marker under the paths of
// every environment it names (so each environment gets its own pull request).
TEST(OnboardGolden, EveryRuleClaimsAMarkerInEveryEnvironment) {
  for (const auto& dir : cases()) {
    SCOPED_TRACE(dir.filename().string());
    const auto got = run_case(dir);
    if (got.files.empty()) {
      continue;  // a refused case
    }
    const auto parsed = ferry::rules::parse_rules(got.files.at(".github/ferry.yaml"), "ferry.yaml");
    ASSERT_TRUE(parsed.ok()) << parsed.report();
    std::vector<ferry::markers::marker> found;
    for (const auto& [path, content] : got.files) {
      const auto scan = ferry::markers::scan_file(path, content);
      ASSERT_TRUE(scan.ok()) << path << ": " << scan.error().message;
      EXPECT_TRUE(scan->problems.empty()) << path;
      found.insert(found.end(), scan->markers.begin(), scan->markers.end());
    }
    const std::string prefix = dir.filename().string() + "-";
    for (const auto& rule : parsed.value().images) {
      if (!rule.name.starts_with(prefix)) {
        continue;  // the rules file's own rules
      }
      for (const auto& env : parsed.value().environments) {
        const bool claimed = std::any_of(found.begin(), found.end(), [&](const auto& m) {
          const bool under = std::any_of(env.paths.begin(), env.paths.end(), [&](const auto& p) {
            return m.file.starts_with(p + "/");
          });
          return under && m.ns == rule.namespace_name && m.name == rule.name &&
                 m.field == ferry::markers::marker_field::tag;
        });
        EXPECT_TRUE(claimed) << rule.name << " has no marker under " << env.name << "'s paths";
      }
    }
  }
}
