#include "service/apply/flux.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <set>

namespace ferry::apply {
namespace {

const std::string k_pushed = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";
const std::string k_child = "1111111111111111111111111111111111111111";
const std::string k_older = "2222222222222222222222222222222222222222";

TEST(requested_at_patch, is_a_merge_patch_of_one_annotation) {
  const auto v = boost::json::parse(requested_at_patch(k_pushed));
  EXPECT_EQ(
      v, boost::json::parse(R"({"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":")" +
                            k_pushed + "\"}}}"));
  // a value needing escapes stays valid JSON
  const auto q = boost::json::parse(requested_at_patch("a\"b\\c"));
  EXPECT_EQ(q.at_pointer("/metadata/annotations/reconcile.fluxcd.io~1requestedAt"), "a\"b\\c");
}

TEST(revision_commit, table) {
  const std::string upper = "9F8E7D6C5B4A39281706F5E4D3C2B1A098765432";
  struct row {
    std::string revision;
    std::optional<std::string> commit;
  };
  const row rows[] = {
      {"main@sha1:" + k_pushed, k_pushed},
      {"refs/heads/main@sha1:" + k_pushed, k_pushed},
      {"feature/x@sha1:" + upper, k_pushed},
      {"sha1:" + k_pushed, k_pushed},
      {"main/" + k_pushed, k_pushed},
      {"feature/deep/" + k_pushed, k_pushed},
      {k_pushed, k_pushed},
      {upper, k_pushed},
      {"v1.2.3@sha256:" + std::string(64, 'a'), std::nullopt},  // OCIRepository
      {"sha256:" + std::string(64, 'a'), std::nullopt},
      {"main@sha256:" + std::string(64, 'b'), std::nullopt},  // SHA-256 git
      {"main@sha1:" + k_pushed.substr(1), std::nullopt},      // 39 hex
      {"main@sha1:" + k_pushed + "0", std::nullopt},          // 41 hex
      {"main/" + k_pushed.substr(0, 39) + "g", std::nullopt},
      {"", std::nullopt},
      {"main", std::nullopt},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(revision_commit(r.revision), r.commit) << r.revision;
  }
}

TEST(judge_kustomization, table) {
  const std::set<std::string> descendants{k_pushed, k_child};
  const auto is_descendant = [&](std::string_view c) {
    return descendants.count(std::string(c)) != 0;
  };
  struct row {
    const char* what;
    std::string ready;
    std::string message;
    std::string revision;
    std::string handled;
    flux_verdict verdict;
    std::string says;
  };
  const std::string req = k_pushed;
  const row rows[] = {
      {"request not handled yet: an old Ready never counts", "True", "", "main@sha1:" + k_pushed,
       "earlier", flux_verdict::waiting, "handle the reconcile request"},
      {"nothing handled at all", "", "", "", "", flux_verdict::waiting, "handle"},
      {"handled, Ready at an older revision", "True", "Applied", "main@sha1:" + k_older, req,
       flux_verdict::waiting, "not yet the pushed commit"},
      {"handled, Ready at the pushed commit", "True", "Applied", "main@sha1:" + k_pushed, req,
       flux_verdict::succeeded, "applied main@sha1:" + k_pushed},
      {"handled, Ready at a descendant", "True", "", "main@sha1:" + k_child, req,
       flux_verdict::succeeded, "applied"},
      {"handled, legacy revision format", "True", "", "main/" + k_pushed, req,
       flux_verdict::succeeded, "applied"},
      {"handled, Ready=False", "False", "kustomize build failed: missing resource", "", req,
       flux_verdict::failed, "kustomize build failed: missing resource"},
      {"handled, Ready=False without a message", "False", "", "", req, flux_verdict::failed,
       "Ready=False"},
      {"Ready=False before our request was handled waits", "False", "old failure", "", "earlier",
       flux_verdict::waiting, "handle"},
      {"handled, still reconciling", "Unknown", "Reconciliation in progress", "", req,
       flux_verdict::waiting, "reconciling"},
      {"handled, Ready on an OCI source", "True", "", "v1@sha256:" + std::string(64, 'a'), req,
       flux_verdict::waiting, "names no git commit"},
  };
  for (const auto& r : rows) {
    const auto p =
        judge_kustomization(req, r.ready, r.message, r.revision, r.handled, is_descendant);
    EXPECT_EQ(p.verdict, r.verdict) << r.what << ": " << p.message;
    EXPECT_NE(p.message.find(r.says), std::string::npos) << r.what << ": " << p.message;
  }
}

TEST(judge_kustomization, an_empty_request_never_matches) {
  const auto p = judge_kustomization("", "True", "", "main@sha1:" + k_pushed, "",
                                     [](std::string_view) { return true; });
  EXPECT_EQ(p.verdict, flux_verdict::waiting);
}

// An OCIRepository's revision is a digest: the commit is the artifact's
// org.opencontainers.image.revision, while the source still serves the applied artifact.
TEST(judge_kustomization, an_oci_source_names_its_commit_in_the_artifact_metadata) {
  const std::string applied = "latest@sha256:" + std::string(64, 'a');
  const source_facts oci{"OCIRepository", applied, "main@sha1:" + k_pushed, k_pushed};
  EXPECT_EQ(applied_commit(applied, oci), k_pushed);
  const auto is_pushed = [](std::string_view c) { return c == k_pushed; };
  auto p = judge_kustomization(k_pushed, "True", "", applied, k_pushed, oci, is_pushed);
  EXPECT_EQ(p.verdict, flux_verdict::succeeded) << p.message;

  // The artifact was built from an older commit: Ready at it never counts.
  const source_facts stale{"OCIRepository", applied, "main@sha1:" + k_older, k_pushed};
  p = judge_kustomization(k_pushed, "True", "", applied, k_pushed, stale, is_pushed);
  EXPECT_EQ(p.verdict, flux_verdict::waiting) << p.message;

  // The source moved on to another artifact since: the applied one is no longer described.
  const source_facts moved{"OCIRepository", "latest@sha256:" + std::string(64, 'b'),
                           "main@sha1:" + k_pushed, k_pushed};
  EXPECT_FALSE(applied_commit(applied, moved));
  p = judge_kustomization(k_pushed, "True", "", applied, k_pushed, moved, is_pushed);
  EXPECT_EQ(p.verdict, flux_verdict::waiting) << p.message;
}

// A Bucket (or an OCI artifact pushed without --revision) names no commit: the source and the
// Kustomization must both have handled our request, and the Kustomization applied the source's
// artifact.
TEST(judge_kustomization, a_source_without_commit_counts_once_both_handled_the_request) {
  const std::string applied = "sha256:" + std::string(64, 'c');
  const auto never = [](std::string_view) { return false; };
  const source_facts bucket{"Bucket", applied, "", k_pushed};
  auto p = judge_kustomization(k_pushed, "True", "", applied, k_pushed, bucket, never);
  EXPECT_EQ(p.verdict, flux_verdict::succeeded) << p.message;
  EXPECT_NE(p.message.find("names no commit"), std::string::npos) << p.message;

  const source_facts not_fetched{"Bucket", applied, "", k_older};
  p = judge_kustomization(k_pushed, "True", "", applied, k_pushed, not_fetched, never);
  EXPECT_EQ(p.verdict, flux_verdict::waiting) << p.message;

  const source_facts other_artifact{"Bucket", "sha256:" + std::string(64, 'd'), "", k_pushed};
  p = judge_kustomization(k_pushed, "True", "", applied, k_pushed, other_artifact, never);
  EXPECT_EQ(p.verdict, flux_verdict::waiting) << p.message;

  const source_facts oci_without_revision{"OCIRepository", applied, "", k_pushed};
  p = judge_kustomization(k_pushed, "True", "", applied, k_pushed, oci_without_revision, never);
  EXPECT_EQ(p.verdict, flux_verdict::succeeded) << p.message;

  // A Kustomization that has not handled the request yet: its Ready says nothing.
  p = judge_kustomization(k_pushed, "True", "", applied, k_older, bucket, never);
  EXPECT_EQ(p.verdict, flux_verdict::waiting) << p.message;
}

}  // namespace
}  // namespace ferry::apply
