// Every golden Job render held to Kubernetes' contract by an independent implementation:
// test/doubles/validate-k8s.js checks the JSON against kubernetes-models' schema (generated
// from Kubernetes' OpenAPI document) and apimachinery's name and label rules. A Job the API
// server would refuse fails here.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "service/apply/job.hpp"
#include "test/service/apply/job_support.hpp"
#include "test/support/process.hpp"
#include "test/support/temp_dir.hpp"

namespace ferry::apply {
namespace {

namespace fs = std::filesystem;

std::optional<fs::path> find_node() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const auto candidate = fs::path(dir) / "node";
    std::error_code ec;
    if (!dir.empty() && fs::is_regular_file(candidate, ec)) {
      return candidate;
    }
  }
  return std::nullopt;
}

const fs::path k_validator = fs::path(FERRY_SOURCE_DIR) / "test/doubles/validate-k8s.js";

ferry::test::process_result validate(const fs::path& node, const std::string& json) {
  ferry::test::temp_dir dir;
  const auto file = dir.path() / "object.json";
  ferry::test::write_text(file, json);
  return ferry::test::run({node.string(), k_validator.string(), file.string(), "Job"});
}

class k8s_contract : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = find_node();
    if (!node_) {
      GTEST_SKIP() << "node is not installed";
    }
    if (!fs::exists(fs::path(FERRY_NODE_MODULES_DIR) / "kubernetes-models")) {
      GTEST_SKIP() << "test/node_modules is missing (cd test && npm ci)";
    }
  }
  std::optional<fs::path> node_;
};

TEST_F(k8s_contract, every_golden_render_is_a_valid_job) {
  for (const char* name : testing::k_golden_templates) {
    auto r = render_job(testing::fixture(name), name, testing::apply_config(), testing::vars(),
                        testing::policy());
    ASSERT_TRUE(r.ok()) << name << ": " << r.error().message;
    const auto v = validate(*node_, r->json);
    EXPECT_EQ(v.exit_code, 0) << name << "\n" << v.err << v.out;
  }
  const auto example = ferry::test::read_text(fs::path(FERRY_SOURCE_DIR) /
                                              "infra/example-infra/infra/apply-job.yaml");
  auto r = render_job(example, "apply-job.yaml", testing::apply_config(), testing::vars(),
                      testing::policy());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto v = validate(*node_, r->json);
  EXPECT_EQ(v.exit_code, 0) << v.err << v.out;
}

// The validator itself can fail: a Job Kubernetes refuses (a string where an integer belongs,
// no restartPolicy) is reported, so the test above is not vacuous.
TEST_F(k8s_contract, the_validator_refuses_what_kubernetes_refuses) {
  const auto v =
      validate(*node_, R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"Bad_Name"},
    "spec":{"backoffLimit":"1","template":{"spec":{"containers":[{"name":"a","image":"b"}]}}}})");
  EXPECT_EQ(v.exit_code, 1) << v.err;
  EXPECT_NE(v.err.find("/spec/backoffLimit"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("/metadata/name"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("restartPolicy"), std::string::npos) << v.err;
}

}  // namespace
}  // namespace ferry::apply
