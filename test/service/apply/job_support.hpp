#pragma once
// Shared by the apply tests: the fixture templates, the variables and policy they render with.

#include <boost/json.hpp>

#include <filesystem>
#include <string>

#include "service/apply/job.hpp"
#include "test/support/process.hpp"

namespace ferry::apply::testing {

inline const std::filesystem::path k_apply_fixtures =
    std::filesystem::path(FERRY_FIXTURES_DIR) / "apply";
inline constexpr const char* k_sha = "9F8E7D6C5B4A39281706F5E4D3C2B1A098765432";
inline constexpr const char* k_sha_lower = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";

inline job_vars vars() {
  return job_vars{.env = "production", .sha = k_sha, .repo = "dine-together/infra"};
}
inline job_policy policy() {
  job_policy p;
  p.namespaces = {"flux-system", "apply"};
  p.service_accounts = {"ferry-apply"};
  return p;
}
inline rules::apply_job apply_config(std::string ns = "flux-system") {
  return rules::apply_job{.namespace_name = std::move(ns), .template_path = "infra/apply-job.yaml"};
}

inline std::string fixture(const std::string& name) {
  return ferry::test::read_text(k_apply_fixtures / name);
}

// Every template the golden tests render (and the contract test holds to Kubernetes' schema).
inline const char* const k_golden_templates[] = {"job-minimal.yaml", "job-full.yaml"};

}  // namespace ferry::apply::testing
