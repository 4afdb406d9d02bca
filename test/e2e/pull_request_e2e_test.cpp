// The pull_request flow end to end: the real `ferry serve` binary against the GitHub double,
// driven by the webhooks the double recorded for the changes the test made (a merge, a push,
// an opened PR), signed and sent as GitHub would. That also proves the double's payloads are
// ones ferry accepts. Observed through /_double/state only.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>
#include <vector>

#include "test/support/serve_double.hpp"

namespace {

using namespace ferry::test::e2e;  // the shared fixture's helpers (test/support/serve_double.hpp)

constexpr const char* k_branch = "ferry/staging/flux-system-app";
constexpr const char* k_rules = ".github/ferry.yaml";
const std::string k_digest = "sha256:" + std::string(64, 'c');

std::string str(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

class pull_request_e2e : public serve_double_test {
 protected:
  // A GHCR `package` delivery for the example's `app` image (test/support/serve_double.hpp).
  std::string package_payload(const std::string& tag) {
    return ferry::test::e2e::ghcr_package_payload("app", tag, k_digest);
  }

  // The first recorded webhook after `since` with this event and action, or null.
  json::value find_webhook(std::int64_t since, std::string_view event, std::string_view action) {
    for (const auto& w : webhooks(since)) {
      const auto& o = w.as_object();
      if (o.at("event").as_string() == event &&
          (action.empty() || str(o.at("payload").as_object().at("action")) == action)) {
        return w;
      }
    }
    return nullptr;
  }

  json::object pull(std::int64_t number) {
    // Held in a local: a range-for over a member of a temporary would dangle.
    const json::object state = infra_state();
    for (const auto& p : state.at("pulls").as_array()) {
      if (p.as_object().at("number").as_int64() == number) {
        return p.as_object();
      }
    }
    ADD_FAILURE() << "no pull request " << number;
    return {};
  }

  std::vector<std::string> comments(std::int64_t number) {
    std::vector<std::string> out;
    const auto state = infra_state();
    const auto& all = state.at("comments").as_object();
    if (const auto* list = all.if_contains(std::to_string(number)); list != nullptr) {
      for (const auto& c : list->as_array()) {
        out.push_back(str(c.as_object().at("body")));
      }
    }
    return out;
  }

  // The latest `ferry/rules` status on `sha`, or null.
  json::value rules_status(const std::string& sha) {
    const auto state = infra_state();
    const auto* list = state.at("statuses").as_object().if_contains(sha);
    json::value found = nullptr;
    if (list != nullptr) {
      for (const auto& s : list->as_array()) {
        if (s.as_object().at("context").as_string() == "ferry/rules") {
          found = s;
        }
      }
    }
    return found;
  }

  bool has_branch(const std::string& branch) {
    return infra_state().at("refs").as_object().contains("refs/heads/" + branch);
  }

  // Opens a PR from a new branch `branch` made of main plus `files` (null deletes), as a
  // person would; returns its number.
  std::int64_t open_pr(const std::string& branch, const json::object& files) {
    const auto moved =
        control(http::verb::post, "/_double/repos/dine-together/infra/move-ref",
                json::serialize(json::value{
                    {"ref", "heads/" + branch},
                    {"sha", str(infra_state().at("refs").as_object().at("refs/heads/main"))}}));
    EXPECT_EQ(moved.status, 200) << moved.body;
    const auto edited =
        control(http::verb::post, "/_double/repos/dine-together/infra/move-ref",
                json::serialize(json::value{{"ref", "heads/" + branch}, {"files", files}}));
    EXPECT_EQ(edited.status, 200) << edited.body;
    const auto made =
        github(http::verb::post, "/repos/dine-together/infra/pulls",
               json::serialize(
                   json::value{{"title", "change " + branch}, {"head", branch}, {"base", "main"}}));
    EXPECT_EQ(made.status, 201) << made.body;
    return json::parse(made.body).as_object().at("number").as_int64();
  }
};

TEST_F(pull_request_e2e,
       merged_ferry_pr_deletes_its_branch_and_every_recorded_webhook_is_accepted) {
  // Auto-merge on a clean PR merges at once through REST: the double records the branch's
  // creation, the PR, the push to main and pull_request closed+merged.
  ASSERT_EQ(
      deliver("package", ferry::service::random_delivery_id(), package_payload("sha-9f8e7d6")), 200)
      << ferry_->log();
  ASSERT_TRUE(has_branch(k_branch));
  const json::value closed = find_webhook(0, "pull_request", "closed");
  ASSERT_TRUE(closed.is_object()) << json::serialize(webhooks());
  const auto& pr = closed.as_object().at("payload").as_object().at("pull_request").as_object();
  EXPECT_EQ(str(pr.at("merged")), "true");
  EXPECT_EQ(str(pr.at("head").as_object().at("ref")), k_branch);
  const json::value push = find_webhook(0, "push", "");
  ASSERT_TRUE(push.is_object());

  // Every recorded delivery goes to ferry in order, as GitHub would send them.
  const std::int64_t before_delivery = last_webhook_seq();
  for (const auto& w : webhooks()) {
    const int status = deliver_recorded(w);
    EXPECT_TRUE(status == 200 || status == 204)
        << status << " for " << json::serialize(w.as_object().at("event")) << "\n"
        << ferry_->log();
  }
  EXPECT_FALSE(has_branch(k_branch)) << ferry_->log();
  // Ferry's delete is itself a change GitHub reports: push deleted=true for the branch.
  const json::value deleted = find_webhook(before_delivery, "push", "");
  ASSERT_TRUE(deleted.is_object());
  const auto& dp = deleted.as_object().at("payload").as_object();
  EXPECT_EQ(str(dp.at("ref")), std::string("refs/heads/") + k_branch);
  EXPECT_EQ(str(dp.at("deleted")), "true");
  EXPECT_EQ(str(dp.at("after")), std::string(40, '0'));

  // A redelivery of the merge finds the branch gone: still 200, nothing else written.
  ASSERT_EQ(control(http::verb::delete_, "/_double/requests").status / 100, 2);
  EXPECT_EQ(deliver_recorded(closed), 200) << ferry_->log();
  const auto requests = json::parse(control(http::verb::get, "/_double/requests").body);
  for (const auto& r : requests.as_array()) {
    EXPECT_FALSE(is_github_write(r.as_object())) << json::serialize(r);
  }
}

TEST_F(pull_request_e2e, merged_ferry_pr_whose_head_a_person_moved_keeps_its_branch_and_says_why) {
  ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/settings",
                    R"({"auto_merge_clean": false})")
                .status,
            200);
  ASSERT_EQ(
      deliver("package", ferry::service::random_delivery_id(), package_payload("sha-9f8e7d6")), 200)
      << ferry_->log();
  const auto pulls = infra_state().at("pulls").as_array();
  ASSERT_EQ(pulls.size(), 1u) << ferry_->log();
  const std::int64_t number = pulls[0].as_object().at("number").as_int64();
  // A person pushes onto ferry's branch, then merges the PR by hand.
  const auto moved =
      control(http::verb::post, "/_double/repos/dine-together/infra/move-ref",
              json::serialize(
                  json::value{{"ref", std::string("heads/") + k_branch},
                              {"files", json::object{{"clusters/staging/note.txt", "hand\n"}}}}));
  ASSERT_EQ(moved.status, 200) << moved.body;
  const std::string person_head = str(json::parse(moved.body).as_object().at("to"));
  const std::int64_t seq = last_webhook_seq();
  ASSERT_EQ(control(http::verb::post,
                    "/_double/repos/dine-together/infra/pulls/" + std::to_string(number),
                    R"({"merge": "merge"})")
                .status,
            200);
  const json::value closed = find_webhook(seq, "pull_request", "closed");
  ASSERT_TRUE(closed.is_object());
  EXPECT_EQ(deliver_recorded(closed), 200) << ferry_->log();
  EXPECT_TRUE(has_branch(k_branch));
  const auto said = comments(number);
  ASSERT_EQ(said.size(), 1u) << ferry_->log();
  EXPECT_NE(said[0].find("did not delete `" + std::string(k_branch) + "`"), std::string::npos)
      << said[0];
  EXPECT_NE(said[0].find(person_head), std::string::npos) << said[0];
  // The redelivery converges: no second comment.
  EXPECT_EQ(deliver_recorded(closed), 200);
  EXPECT_EQ(comments(number).size(), 1u);
}

TEST_F(pull_request_e2e, rules_changes_get_ferry_rules_and_every_error_in_a_comment) {
  const std::string valid =
      read_all(fs::path(FERRY_SOURCE_DIR) / "infra/example-infra/.github/ferry.yaml") +
      "# reviewed\n";
  std::int64_t seq = last_webhook_seq();
  const std::int64_t number = open_pr("rules-edit", json::object{{k_rules, valid}});
  const json::value opened = find_webhook(seq, "pull_request", "opened");
  ASSERT_TRUE(opened.is_object());
  EXPECT_EQ(deliver_recorded(opened), 200) << ferry_->log();
  const std::string head1 = str(pull(number).at("head_sha"));
  const json::value ok_status = rules_status(head1);
  ASSERT_TRUE(ok_status.is_object()) << ferry_->log();
  EXPECT_EQ(str(ok_status.as_object().at("state")), "success");
  EXPECT_EQ(str(ok_status.as_object().at("description")), "rules valid: 2 images, 2 environments");
  EXPECT_TRUE(comments(number).empty());

  // A second push breaks the file three ways: synchronize -> failure and one comment listing
  // every error.
  const std::string invalid = R"(version: 1
images:
  - name: app
    image: ghcr.io/dine-together/app
    policy: {semver: {range: ">=1.0.0"}}
    surprise: true
environments:
  - name: Staging_Is_Not_A_DNS_Label
    paths: [clusters/staging]
  - name: production
    paths: [clusters/production]
    promoteFrom: nowhere
)";
  seq = last_webhook_seq();
  ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/move-ref",
                    json::serialize(json::value{{"ref", "heads/rules-edit"},
                                                {"files", json::object{{k_rules, invalid}}}}))
                .status,
            200);
  const json::value sync = find_webhook(seq, "pull_request", "synchronize");
  ASSERT_TRUE(sync.is_object()) << json::serialize(webhooks(seq));
  EXPECT_EQ(deliver_recorded(sync), 200) << ferry_->log();
  const std::string head2 = str(pull(number).at("head_sha"));
  const json::value bad = rules_status(head2);
  ASSERT_TRUE(bad.is_object()) << ferry_->log();
  EXPECT_EQ(str(bad.as_object().at("state")), "failure");
  const std::string description = str(bad.as_object().at("description"));
  EXPECT_LE(description.size(), 140u);
  EXPECT_EQ(description.rfind("invalid .github/ferry.yaml: ", 0), 0u) << description;
  // The same file through `ferry check` gives the errors the comment must list, every one.
  const fs::path checkout = dir_ / "check";
  fs::create_directories(checkout / ".github");
  { std::ofstream(checkout / ".github" / "ferry.yaml") << invalid; }
  const std::string check =
      run(std::string(FERRY_BINARY) + " check --repo " + checkout.string() + " 2>&1");
  const auto said = comments(number);
  ASSERT_EQ(said.size(), 1u) << ferry_->log();
  std::istringstream lines(check);
  int errors = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto at = line.find(".github/ferry.yaml:");
    if (at == std::string::npos) {
      continue;
    }
    ++errors;
    EXPECT_NE(said[0].find(line.substr(at)), std::string::npos)
        << "missing: " << line << "\ncomment:\n"
        << said[0];
  }
  EXPECT_GE(errors, 3) << check;
  EXPECT_NE(said[0].find("```"), std::string::npos);
  EXPECT_NE(said[0].find(head2), std::string::npos);
  // A redelivery posts the status again (harmless) but no second comment.
  EXPECT_EQ(deliver_recorded(sync), 200);
  EXPECT_EQ(comments(number).size(), 1u);

  // A PR deleting the rules file fails with "rules file removed".
  seq = last_webhook_seq();
  const std::int64_t removal = open_pr("rules-gone", json::object{{k_rules, nullptr}});
  const json::value opened2 = find_webhook(seq, "pull_request", "opened");
  ASSERT_TRUE(opened2.is_object());
  EXPECT_EQ(deliver_recorded(opened2), 200) << ferry_->log();
  const json::value gone = rules_status(str(pull(removal).at("head_sha")));
  ASSERT_TRUE(gone.is_object()) << ferry_->log();
  EXPECT_EQ(str(gone.as_object().at("state")), "failure");
  EXPECT_EQ(str(gone.as_object().at("description")), "rules file removed");
}

TEST_F(pull_request_e2e, a_pr_not_touching_the_rules_gets_no_status) {
  const std::int64_t seq = last_webhook_seq();
  const std::int64_t number = open_pr("docs", json::object{{"docs/readme.md", "hello\n"}});
  const json::value opened = find_webhook(seq, "pull_request", "opened");
  ASSERT_TRUE(opened.is_object());
  EXPECT_EQ(deliver_recorded(opened), 200) << ferry_->log();
  EXPECT_FALSE(rules_status(str(pull(number).at("head_sha"))).is_object());
  EXPECT_TRUE(comments(number).empty());
}

}  // namespace
