// The typed views of GitHub's REST answers (service/github/objects.hpp) against the examples of
// GitHub's own REST description (fixtures/github-api, from @octokit/openapi), and the shapes
// GitHub sends that the examples do not show (null bodies, a PR without merged_at, broken
// answers), plus path escaping.
#include "service/github/objects.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "service/github/app_client.hpp"

namespace ferry::github {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(FERRY_FIXTURES_DIR) + "/github-api/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(github_objects, repository) {
  auto r = parse_repository(fixture("repos-get.json"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->full_name, "octocat/Hello-World");
  EXPECT_EQ(r->clone_url, "https://github.com/octocat/Hello-World.git");
  EXPECT_EQ(r->default_branch, "master");
  // Without a clone URL ferry cannot fetch: a broken answer, worth a redelivery.
  auto bad = parse_repository(R"({"full_name":"o/r","default_branch":"main"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, error_kind::transient);
}

TEST(github_objects, ref) {
  auto sha = parse_ref_sha(fixture("git-get-ref.json"));
  ASSERT_TRUE(sha.ok()) << sha.error().message;
  EXPECT_EQ(*sha, "aa218f56b14c9653891f9e74264a383fa43fefbd");
  EXPECT_FALSE(parse_ref_sha(R"({"ref":"refs/heads/x","object":{"sha":"abc"}})").ok());
  EXPECT_FALSE(parse_ref_sha("not json").ok());
}

TEST(github_objects, git_commit) {
  auto c = parse_git_commit(fixture("git-get-commit.json"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->sha, "7638417db6d59f3c431d3e1f261cc637155684cd");
  EXPECT_EQ(c->tree_sha, "827efc6d56897b048c772eb4087f854f46256132");
  EXPECT_EQ(c->message, "my commit message");
  EXPECT_EQ(c->author_name, "Monalisa Octocat");
  EXPECT_FALSE(c->verified);  // "reason": "unsigned"
  auto signed_by_github = parse_git_commit(
      R"({"sha":"7638417db6d59f3c431d3e1f261cc637155684cd","message":"m",)"
      R"("tree":{"sha":"827efc6d56897b048c772eb4087f854f46256132"},)"
      R"("author":{"name":"ferry[bot]"},"verification":{"verified":true,"reason":"valid"}})");
  ASSERT_TRUE(signed_by_github.ok());
  EXPECT_TRUE(signed_by_github->verified);
  EXPECT_EQ(signed_by_github->author_name, "ferry[bot]");
}

TEST(github_objects, created_object_sha) {
  auto sha = parse_created_sha(fixture("git-create-tree.json"));
  ASSERT_TRUE(sha.ok()) << sha.error().message;
  EXPECT_EQ(*sha, "cd8274d15fa3ae2ab983129fb037999f264ba9a7");
  EXPECT_FALSE(parse_created_sha(R"({"message":"ok"})").ok());
}

TEST(github_objects, pull_request) {
  auto pr = parse_pull(fixture("pulls-create.json"));
  ASSERT_TRUE(pr.ok()) << pr.error().message;
  EXPECT_EQ(pr->number, 1347);
  EXPECT_EQ(pr->node_id, "MDExOlB1bGxSZXF1ZXN0MQ==");
  EXPECT_EQ(pr->state, "open");
  EXPECT_EQ(pr->title, "Amazing new feature");
  EXPECT_EQ(pr->body, "Please pull these awesome changes in!");
  EXPECT_EQ(pr->head_ref, "new-topic");
  EXPECT_EQ(pr->head_sha, "6dcb09b5b57875f334f61aebed695e2e4193db5e");
  EXPECT_EQ(pr->base_ref, "master");
  EXPECT_TRUE(pr->merged);  // the example carries a merged_at
  EXPECT_EQ(pr->labels, std::vector<std::string>{"bug"});
  EXPECT_EQ(pr->reviewers, std::vector<std::string>{"other_user"});
  EXPECT_EQ(pr->teams, std::vector<std::string>{"justice-league"});
  EXPECT_FALSE(pr->auto_merge);  // null

  // What GitHub sends for a fresh PR with an empty description and auto-merge on.
  auto fresh = parse_pull(
      R"({"number":3,"node_id":"PR_x","state":"open","title":"t","body":null,"merged_at":null,)"
      R"("head":{"ref":"ferry/staging/flux-system-app","sha":"aa"},"base":{"ref":"main"},)"
      R"("labels":[],"requested_reviewers":[],"requested_teams":[],)"
      R"("auto_merge":{"merge_method":"squash"}})");
  ASSERT_TRUE(fresh.ok()) << fresh.error().message;
  EXPECT_EQ(fresh->body, "");
  EXPECT_FALSE(fresh->merged);
  EXPECT_TRUE(fresh->auto_merge);
  EXPECT_EQ(fresh->head_ref, "ferry/staging/flux-system-app");
  EXPECT_FALSE(parse_pull(R"({"title":"no number"})").ok());
}

TEST(github_objects, pull_request_lists) {
  auto pulls = parse_pulls(fixture("pulls-list.json"));
  ASSERT_TRUE(pulls.ok()) << pulls.error().message;
  ASSERT_EQ(pulls->size(), 1u);
  EXPECT_EQ(pulls->front().number, 1347);
  auto none = parse_pulls("[]");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto not_a_list = parse_pulls(R"({"message":"Not Found"})");
  ASSERT_FALSE(not_a_list.ok());
  EXPECT_EQ(not_a_list.error().kind, error_kind::transient);
}

TEST(github_objects, statuses) {
  auto s = parse_statuses(fixture("repos-list-commit-statuses-for-ref.json"));
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ(s->front().context, "continuous-integration/jenkins");
  EXPECT_EQ(s->front().state, "success");
  EXPECT_EQ(s->front().description, "Build has completed successfully");
}

TEST(github_objects, comparison) {
  auto c = parse_comparison(fixture("repos-compare-commits.json"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->status, "behind");
  EXPECT_EQ(c->ahead_by, 1);
  EXPECT_EQ(c->behind_by, 2);
}

TEST(github_objects, pull_files) {
  auto f = parse_pull_files(fixture("pulls-list-files.json"));
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->size(), 1u);
  EXPECT_EQ(f->front().filename, "file1.txt");
  EXPECT_EQ(f->front().status, "added");
  EXPECT_EQ(f->front().previous_filename, "");
  auto renamed = parse_pull_files(
      R"([{"filename":".github/ferry.yml","status":"renamed","previous_filename":".github/ferry.yaml"}])");
  ASSERT_TRUE(renamed.ok());
  EXPECT_EQ(renamed->front().previous_filename, ".github/ferry.yaml");
}

TEST(github_objects, comments) {
  auto c = parse_comments(fixture("issues-list-comments.json"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ(c->front().id, 1);
  EXPECT_EQ(c->front().body, "Me too");
}

TEST(github_objects, commit_shas) {
  auto c = parse_commit_shas(fixture("repos-list-commits.json"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(*c, std::vector<std::string>{"6dcb09b5b57875f334f61aebed695e2e4193db5e"});
}

TEST(github_objects, file_content_is_decoded) {
  auto text = parse_file_content(fixture("repos-get-content.json"));
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(*text, fixture("repos-get-content.txt"));
  // A directory answers with an array.
  auto dir = parse_file_content(R"([{"type":"file","name":"a"}])");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error().kind, error_kind::invalid_input);
  // Files over 1 MB come without content ("encoding": "none").
  EXPECT_FALSE(parse_file_content(R"({"type":"file","encoding":"none","content":""})").ok());
}

TEST(github_objects, hook_deliveries) {
  auto d = parse_hook_deliveries(fixture("apps-list-webhook-deliveries.json"));
  ASSERT_TRUE(d.ok()) << d.error().message;
  ASSERT_EQ(d->size(), 2u);
  EXPECT_EQ(d->at(0).id, 12345678);
  EXPECT_EQ(d->at(0).guid, "0b989ba4-242f-11e5-81e1-c7b6966d2516");
  EXPECT_EQ(d->at(0).status_code, 200);
  EXPECT_EQ(d->at(0).delivered_at, parse_github_time("2019-06-03T00:57:16Z").value());
  // status_code null: GitHub got no answer at all; an entry without a time is left out.
  auto odd = parse_hook_deliveries(
      R"([{"id":1,"guid":"g","delivered_at":"2019-06-03T00:57:16Z","status_code":null},)"
      R"({"id":2,"guid":"h","delivered_at":"yesterday","status_code":502}])");
  ASSERT_TRUE(odd.ok());
  ASSERT_EQ(odd->size(), 1u);
  EXPECT_EQ(odd->front().status_code, 0);
}

TEST(github_objects, paths_are_escaped) {
  EXPECT_EQ(repo_path({"dine-together", "infra"}, "/pulls"), "/repos/dine-together/infra/pulls");
  // A branch keeps its slashes in a path ({ref} takes heads/feature/x) but not in a query.
  EXPECT_EQ(escape_path("ferry/staging/flux-system-app"), "ferry/staging/flux-system-app");
  EXPECT_EQ(escape_query("ferry/staging/flux-system-app"), "ferry%2Fstaging%2Fflux-system-app");
  EXPECT_EQ(escape_path("feat/a b#c?d%"), "feat/a%20b%23c%3Fd%25");
  EXPECT_EQ(escape_segment("a/b"), "a%2Fb");
  EXPECT_EQ(escape_query("v1.2.3_x~y-z"), "v1.2.3_x~y-z");
}

}  // namespace
}  // namespace ferry::github
