// The three GHCR payloads in fixtures/github/ parse to exactly the values they carry.
#include <gtest/gtest.h>

#include <variant>

#include "service/events/events.hpp"
#include "test/service/events/test_support.hpp"

namespace ferry::events {
namespace {

using test::fixture;
using test::read_file;

const package_event& as_package(const ferry::result<event>& r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  static const package_event empty;
  if (!r.ok() || !std::holds_alternative<package_event>(*r)) {
    ADD_FAILURE() << "not a package_event";
    return empty;
  }
  return std::get<package_event>(*r);
}

// The real capture (fixtures README): a user-owned multi-arch image index, tag 0e2a89b, sent
// by a repository webhook (so no installation).
TEST(events_fixtures, real_ghcr_capture) {
  const auto r =
      parse_event("package", read_file(fixture("package.published.ghcr-multiarch-index.json")));
  const package_event& e = as_package(r);
  EXPECT_EQ(e.source, package_event::source_kind::package);
  EXPECT_EQ(e.action, "published");
  EXPECT_EQ(e.package_type, "CONTAINER");
  EXPECT_EQ(e.owner, "theryangeary");
  EXPECT_EQ(e.name, "www");
  EXPECT_EQ(e.html_url, "https://github.com/theryangeary/packages/9056324");
  EXPECT_TRUE(e.has_version);
  EXPECT_EQ(e.version_id, 564296960);
  EXPECT_EQ(e.digest, "sha256:89160c587d0c36bf54090497a465445c14980ba48efbcf3b0d03c49b76f3feb8");
  EXPECT_EQ(e.tag, "0e2a89b");
  EXPECT_EQ(e.target_commitish, "main");
  EXPECT_EQ(e.target_oid, "0e2a89b191332bb87b4f2fefef2f597eba2197b3");
  EXPECT_EQ(e.label_revision, "");  // GHCR sent empty labels and no OCI keys in all_labels
  EXPECT_EQ(e.label_source, "");
  ASSERT_TRUE(e.repository.has_value());
  EXPECT_EQ(e.repository->full_name, "theryangeary/www");
  EXPECT_EQ(e.repository->owner, "theryangeary");
  EXPECT_EQ(e.repository->name, "www");
  EXPECT_EQ(e.repository->clone_url, "https://github.com/theryangeary/www.git");
  EXPECT_EQ(e.repository->default_branch, "main");
  EXPECT_EQ(e.repository->html_url, "https://github.com/theryangeary/www");
  EXPECT_FALSE(e.installation_id.has_value());
  EXPECT_EQ(e.sender, "theryangeary");
  EXPECT_EQ(image_reference("ghcr.io", e), "ghcr.io/theryangeary/www");
}

TEST(events_fixtures, registry_package_docker_example) {
  const auto r = parse_event("registry_package",
                             read_file(fixture("registry_package.published.docker-example.json")));
  const package_event& e = as_package(r);
  EXPECT_EQ(e.source, package_event::source_kind::registry_package);
  EXPECT_EQ(e.action, "published");
  EXPECT_EQ(e.package_type, "npm");  // synthetic example (fixtures README)
  EXPECT_EQ(e.owner, "Codertocat");
  EXPECT_EQ(e.name, "hello-world-npm");
  EXPECT_EQ(e.html_url, "https://github.com/Codertocat/hello-world/packages/10696");
  EXPECT_EQ(e.version_id, 57755791);
  EXPECT_EQ(e.digest, "sha256:3da1996a8115d7616457760d9920b815241d0a03b34cf5f04e9a0e9d8de37498");
  EXPECT_EQ(e.tag, "");
  EXPECT_EQ(e.target_commitish, "master");
  EXPECT_EQ(e.target_oid, "3da1996a8115d7616457760d9920b815241d0a03b34cf5f04e9a0e9d8de37498");
  // labels.revision is "", so the OCI key in all_labels is used; labels.source is set.
  EXPECT_EQ(e.label_revision, "6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b");
  EXPECT_EQ(e.label_source, "https://github.com/Codertocat/hello-world");
  ASSERT_TRUE(e.repository.has_value());
  EXPECT_EQ(e.repository->full_name, "Codertocat/hello-world-npm");
  EXPECT_EQ(e.repository->clone_url, "https://github.com/Codertocat/hello-world-npm.git");
  EXPECT_EQ(e.repository->default_branch, "master");
  EXPECT_EQ(e.sender, "github-actions[bot]");
  EXPECT_EQ(image_reference("ghcr.io", e), "ghcr.io/codertocat/hello-world-npm");
}

TEST(events_fixtures, package_docker_example) {
  const auto r =
      parse_event("package", read_file(fixture("package.published.docker-example.json")));
  const package_event& e = as_package(r);
  EXPECT_EQ(e.source, package_event::source_kind::package);
  EXPECT_EQ(e.owner, "Codertocat");
  EXPECT_EQ(e.name, "hello-world-npm");
  EXPECT_EQ(e.version_id, 57755790);
  EXPECT_EQ(e.digest, "sha256:3da1996a8115d7616457760d9920b815241d0a03b34cf5f04e9a0e9d8de37498");
  EXPECT_EQ(e.tag, "");
  EXPECT_EQ(e.target_oid, "6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b");
  EXPECT_EQ(e.label_revision, "6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b");
  EXPECT_EQ(e.sender, "Codertocat");
}

// The benchmark body (test/bench/events_bench.cpp, and the wrk load test) stays what its name
// says: a CONTAINER registry_package with a tag, for an image no rule names.
TEST(events_fixtures, benchmark_body) {
  const std::string body = read_file(fixture("registry_package.published.14k.json"));
  const auto r = parse_event("registry_package", body);
  const package_event& e = as_package(r);
  EXPECT_EQ(e.package_type, "CONTAINER");
  EXPECT_FALSE(e.tag.empty());
  EXPECT_FALSE(is_attestation_tag(e.tag));
  EXPECT_EQ(image_reference("ghcr.io", e), "ghcr.io/codertocat/ferry-bench-no-rule-matches");
}

TEST(events_helpers, attestation_tags) {
  EXPECT_TRUE(is_attestation_tag(
      "sha256-89160c587d0c36bf54090497a465445c14980ba48efbcf3b0d03c49b76f3feb8"));
  // 63 hex digits, 65 hex digits, upper case, a non-hex digit, another algorithm, a plain tag.
  EXPECT_FALSE(
      is_attestation_tag("sha256-89160c587d0c36bf54090497a465445c14980ba48efbcf3b0d03c49b76f3feb"));
  EXPECT_FALSE(is_attestation_tag(
      "sha256-89160c587d0c36bf54090497a465445c14980ba48efbcf3b0d03c49b76f3feb80"));
  EXPECT_FALSE(is_attestation_tag(
      "sha256-89160C587D0C36BF54090497A465445C14980BA48EFBCF3B0D03C49B76F3FEB8"));
  EXPECT_FALSE(is_attestation_tag(
      "sha256-89160c587d0c36bf54090497a465445c14980ba48efbcf3b0d03c49b76f3feg8"));
  EXPECT_FALSE(is_attestation_tag(
      "sha512-89160c587d0c36bf54090497a465445c14980ba48efbcf3b0d03c49b76f3feb8"));
  EXPECT_FALSE(is_attestation_tag("0e2a89b"));
  EXPECT_FALSE(is_attestation_tag(""));
}

TEST(events_helpers, image_reference_lower_cases_and_keeps_slashes) {
  package_event e;
  e.owner = "Dine-Together";
  e.name = "Services/API";
  EXPECT_EQ(image_reference("ghcr.io", e), "ghcr.io/dine-together/services/api");
  EXPECT_EQ(image_reference("containers.GHE.example.com", e),
            "containers.ghe.example.com/dine-together/services/api");
}

}  // namespace
}  // namespace ferry::events
