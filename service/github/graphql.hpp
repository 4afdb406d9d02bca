#pragma once
// The GraphQL documents ferry sends and the readers of their answers, pure (repo_api sends them).
// Field and type names follow GitHub's published schema (npm @octokit/graphql-schema,
// schema.graphql); the GitHub double validates every document against that schema and runs it
// there, so a document GitHub would refuse fails the tests.
//
//   delivery_read   one query for what a delivery reads before it decides (issue 14): the
//                   default branch's head, each environment branch's pull requests (newest
//                   first: the open one and the last closed one), and the node ids of the
//                   labels, users and teams the PR may need, so that the finishing writes are
//                   one mutation.
//   pull_finish     one mutation document for labels (addLabelsToLabelable), reviewers
//                   (requestReviews, union) and auto-merge (enablePullRequestAutoMerge). GitHub
//                   runs each root mutation field in order and answers each on its own: the
//                   errors say which failed.

#include <boost/json/object.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/github/objects.hpp"
#include "service/result.hpp"

namespace ferry::github {

// One entry of a GraphQL answer's `errors` (GitHub adds `type`; path joined with '.').
struct graphql_error {
  std::string type;
  std::string path;
  std::string message;
};

// The answer's errors (empty: none); transient when the answer is not JSON.
result<std::vector<graphql_error>> graphql_errors(std::string_view json);
// GitHub's error types as error kinds: NOT_FOUND -> not_found; RATE_LIMITED, INTERNAL,
// SERVICE_UNAVAILABLE -> transient; STALE_DATA (an expectedHeadOid that no longer matches) ->
// conflict; the rest (FORBIDDEN, UNPROCESSABLE, ...) -> invalid_input.
error_kind graphql_error_kind(std::string_view type);
// The first error as an error value, naming its type, path and how many more there were.
error graphql_failure(const std::vector<graphql_error>& errors);

struct graphql_request {
  std::string query;
  boost::json::object variables;
};

// A branch's pull requests: the open one (at most one per head and base) and the most recent
// closed one (merged or not; ferry's marker in its body says which environment, image and tag
// it carried). Pull requests from forks (isCrossRepository) are never ferry's and are left out.
struct branch_pulls {
  std::optional<pull_request> open;
  std::optional<pull_request> last_closed;
};
// Newest first, as both REST (pulls/list) and delivery_read give them.
branch_pulls split_pulls(std::vector<pull_request> newest_first);

struct delivery_read_request {
  service::repo_name repo;
  std::vector<std::string> branches;  // the environment branches the delivery may write
  std::vector<std::string> labels;    // label names (absent labels read as absent)
  std::vector<std::string> users;     // reviewer logins
  std::vector<std::string> teams;     // team slugs in the repository owner's organisation
};

struct delivery_read {
  std::string default_head;                      // the default branch's head commit
  std::map<std::string, branch_pulls> pulls;     // by branch, for every branch asked
  std::map<std::string, std::string> label_ids;  // name -> node id; absent: no such label
  std::map<std::string, std::string> user_ids;   // login -> node id; absent: not resolved
  std::map<std::string, std::string> team_ids;   // slug -> node id; absent: not resolved
};

graphql_request delivery_read_query(const delivery_read_request& request);
// A user or team GitHub cannot resolve (a typo in the rules, a user-owned repository has no
// teams) is left out of the ids rather than failing the read: the caller asks for those by name
// over REST, whose error names them. Any other error fails the read.
result<delivery_read> parse_delivery_read(std::string_view json,
                                          const delivery_read_request& request);

struct pull_finish_request {
  std::string pull_node_id;
  std::vector<std::string> label_ids;  // empty: no labels to add
  std::vector<std::string> user_ids;   // with team_ids empty: no review request
  std::vector<std::string> team_ids;
  std::optional<std::string> merge_method;  // MERGE, SQUASH, REBASE; nullopt: no auto-merge
  std::string expected_head;                // auto-merge only if the head is still this commit
};
// nullopt when there is nothing to send.
std::optional<graphql_request> pull_finish_mutation(const pull_finish_request& request);

// Which parts of a pull_finish answer failed (root field names: addLabelsToLabelable,
// requestReviews, enablePullRequestAutoMerge), with their errors.
struct pull_finish_outcome {
  std::vector<graphql_error> failed;
  const graphql_error* of(std::string_view field) const;
};
result<pull_finish_outcome> parse_pull_finish(std::string_view json);

}  // namespace ferry::github
