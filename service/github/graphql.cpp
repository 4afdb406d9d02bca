#include "service/github/graphql.hpp"

#include <boost/json/array.hpp>

#include <utility>

#include "service/github/json_read.hpp"
#include "service/limits.hpp"

namespace ferry::github {

namespace {

using namespace json_read;
using simdjson::dom::element;
namespace json = boost::json;

std::string alias(char kind, std::size_t i) {
  return std::string(1, kind) + std::to_string(i);
}

// The fields of a pull request ferry decides on, as pulls/list gives them over REST.
constexpr std::string_view k_pull_fragment =
    "fragment ferryPull on PullRequest { id number state merged title body headRefName "
    "headRefOid baseRefName isCrossRepository labels(first: 50) { nodes { name } } "
    "reviewRequests(first: 50) { nodes { requestedReviewer { __typename ... on User { login } "
    "... on Team { slug } } } } autoMergeRequest { enabledAt } }";

pull_request read_graphql_pull(element v) {
  pull_request pr;
  pr.number = integer(v, {"number"});
  pr.node_id = text(v, {"id"});
  pr.state = text(v, {"state"}) == "OPEN" ? "open" : "closed";
  pr.merged = boolean(v, {"merged"});
  pr.title = text(v, {"title"});
  pr.body = text(v, {"body"});
  pr.head_ref = text(v, {"headRefName"});
  pr.head_sha = text(v, {"headRefOid"});
  pr.base_ref = text(v, {"baseRefName"});
  if (auto labels = at(v, {"labels"})) {
    pr.labels = names(*labels, "nodes", "name");
  }
  simdjson::dom::array requests;
  if (auto x = at(v, {"reviewRequests", "nodes"}); x && x->get(requests) == simdjson::SUCCESS) {
    for (const element r : requests) {
      if (std::string login = text(r, {"requestedReviewer", "login"}); !login.empty()) {
        pr.reviewers.push_back(std::move(login));
      } else if (std::string slug = text(r, {"requestedReviewer", "slug"}); !slug.empty()) {
        pr.teams.push_back(std::move(slug));
      }
    }
  }
  const auto am = at(v, {"autoMergeRequest"});
  pr.auto_merge = am && am->is_object();
  return pr;
}

}  // namespace

result<std::vector<graphql_error>> graphql_errors(std::string_view json) {
  return parse_with(json, "POST graphql", [](element root) -> result<std::vector<graphql_error>> {
    std::vector<graphql_error> out;
    simdjson::dom::array errors;
    if (auto x = at(root, {"errors"}); !x || x->get(errors) != simdjson::SUCCESS) {
      return out;
    }
    for (const element e : errors) {
      graphql_error g;
      g.type = text(e, {"type"});
      g.message = text(e, {"message"});
      simdjson::dom::array path;
      if (auto p = at(e, {"path"}); p && p->get(path) == simdjson::SUCCESS) {
        for (const element step : path) {
          std::string_view s;
          std::int64_t n = 0;
          if (!g.path.empty()) {
            g.path += '.';
          }
          if (step.get(s) == simdjson::SUCCESS) {
            g.path += s;
          } else if (step.get(n) == simdjson::SUCCESS) {
            g.path += std::to_string(n);
          }
        }
      }
      out.push_back(std::move(g));
    }
    return out;
  });
}

error_kind graphql_error_kind(std::string_view type) {
  if (type == "NOT_FOUND") {
    return error_kind::not_found;
  }
  if (type == "RATE_LIMITED" || type == "INTERNAL" || type == "SERVICE_UNAVAILABLE") {
    return error_kind::transient;
  }
  if (type == "STALE_DATA") {
    return error_kind::conflict;
  }
  return error_kind::invalid_input;
}

error graphql_failure(const std::vector<graphql_error>& errors) {
  if (errors.empty()) {
    return make_error(error_kind::internal, "POST graphql: no error to report");
  }
  const auto& first = errors.front();
  std::string msg = "POST graphql: ";
  msg += first.type.empty() ? std::string("error") : first.type;
  if (!first.path.empty()) {
    msg += " at " + first.path;
  }
  msg += ": ";
  msg += first.message.substr(0, limits::k_api_error_message_max);
  if (errors.size() > 1) {
    msg += " (and " + std::to_string(errors.size() - 1) + " more)";
  }
  return make_error(graphql_error_kind(first.type), std::move(msg));
}

branch_pulls split_pulls(std::vector<pull_request> newest_first) {
  branch_pulls out;
  for (auto& pr : newest_first) {
    if (pr.state == "open" && !out.open) {
      out.open = std::move(pr);
    } else if (pr.state == "closed" && !out.last_closed) {
      out.last_closed = std::move(pr);
    }
  }
  return out;
}

graphql_request delivery_read_query(const delivery_read_request& request) {
  graphql_request out;
  std::string decl = "$owner: String!, $name: String!";
  std::string in_repo = "defaultBranchRef { target { oid } }";
  std::string top;
  out.variables["owner"] = request.repo.owner;
  out.variables["name"] = request.repo.name;
  for (std::size_t i = 0; i < request.branches.size(); ++i) {
    const auto a = alias('b', i);
    decl += ", $" + a + ": String!";
    in_repo += " " + a + ": pullRequests(headRefName: $" + a +
               ", first: " + std::to_string(limits::k_branch_pulls_page) +
               ", orderBy: {field: CREATED_AT, direction: DESC}) { nodes { ...ferryPull } }";
    out.variables[a] = request.branches[i];
  }
  // One String! variable per value, aliased <kind><i>; `field` is the selection, $ALIAS its
  // variable. Values only ever travel as variables.
  auto each = [&](char kind, const std::vector<std::string>& values, std::string& into,
                  std::string_view field) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      const auto a = alias(kind, i);
      decl += ", $" + a + ": String!";
      std::string selection(field);
      selection.replace(selection.find("ALIAS"), 5, a);
      into += " " + a + ": " + selection;
      out.variables[a] = values[i];
    }
  };
  each('l', request.labels, in_repo, "label(name: $ALIAS) { id }");
  each('u', request.users, top, "user(login: $ALIAS) { id }");
  each('t', request.teams, top, "organization(login: $owner) { team(slug: $ALIAS) { id } }");
  out.query = "query(" + decl + ") { repository(owner: $owner, name: $name) { " + in_repo + " }" +
              top + " }";
  if (!request.branches.empty()) {
    out.query += " ";
    out.query += k_pull_fragment;
  }
  return out;
}

result<delivery_read> parse_delivery_read(std::string_view json,
                                          const delivery_read_request& request) {
  auto errors = graphql_errors(json);
  if (!errors) {
    return errors.error();
  }
  std::vector<graphql_error> fatal;
  for (auto& e : *errors) {
    // user(login:) and organization/team lookups may fail on their own (see the header).
    const bool lookup = !e.path.empty() && (e.path[0] == 'u' || e.path[0] == 't');
    if (!lookup) {
      fatal.push_back(std::move(e));
    }
  }
  if (!fatal.empty()) {
    return graphql_failure(fatal);
  }
  return parse_with(
      json, "POST graphql (delivery read)", [&](element root) -> result<delivery_read> {
        const auto data = at(root, {"data"});
        const auto repo = data ? at(*data, {"repository"}) : std::nullopt;
        if (!repo || !repo->is_object()) {
          return broken("POST graphql (delivery read)", "no repository in the answer");
        }
        delivery_read out;
        out.default_head = text(*repo, {"defaultBranchRef", "target", "oid"});
        if (!is_sha(out.default_head)) {
          return broken("POST graphql (delivery read)", "the default branch has no head commit");
        }
        for (std::size_t i = 0; i < request.branches.size(); ++i) {
          std::vector<pull_request> pulls;
          simdjson::dom::array nodes;
          if (auto x = at(*repo, {alias('b', i), "nodes"});
              x && x->get(nodes) == simdjson::SUCCESS) {
            for (const element n : nodes) {
              if (boolean(n, {"isCrossRepository"})) {
                continue;
              }
              pull_request pr = read_graphql_pull(n);
              if (pr.number <= 0 || !is_sha(pr.head_sha)) {
                return broken("POST graphql (delivery read)",
                              "a pull request without number or head");
              }
              pulls.push_back(std::move(pr));
            }
          }
          out.pulls[request.branches[i]] = split_pulls(std::move(pulls));
        }
        for (std::size_t i = 0; i < request.labels.size(); ++i) {
          if (auto id = text(*repo, {alias('l', i), "id"}); !id.empty()) {
            out.label_ids[request.labels[i]] = std::move(id);
          }
        }
        for (std::size_t i = 0; i < request.users.size(); ++i) {
          if (auto id = text(*data, {alias('u', i), "id"}); !id.empty()) {
            out.user_ids[request.users[i]] = std::move(id);
          }
        }
        for (std::size_t i = 0; i < request.teams.size(); ++i) {
          if (auto id = text(*data, {alias('t', i), "team", "id"}); !id.empty()) {
            out.team_ids[request.teams[i]] = std::move(id);
          }
        }
        return out;
      });
}

std::optional<graphql_request> pull_finish_mutation(const pull_finish_request& request) {
  graphql_request out;
  std::string decl;
  std::string fields;
  auto add = [&](std::string_view var, std::string_view type, std::string_view field,
                 json::object input) {
    if (!decl.empty()) {
      decl += ", ";
    }
    decl += "$" + std::string(var) + ": " + std::string(type) + "!";
    fields += " " + std::string(field) + "(input: $" + std::string(var) + ") { clientMutationId }";
    out.variables[var] = std::move(input);
  };
  auto ids = [](const std::vector<std::string>& v) {
    json::array a;
    for (const auto& s : v) {
      a.emplace_back(s);
    }
    return a;
  };
  if (!request.label_ids.empty()) {
    json::object input;
    input["labelableId"] = request.pull_node_id;
    input["labelIds"] = ids(request.label_ids);
    add("labels", "AddLabelsToLabelableInput", "addLabelsToLabelable", std::move(input));
  }
  if (!request.user_ids.empty() || !request.team_ids.empty()) {
    json::object input;
    input["pullRequestId"] = request.pull_node_id;
    if (!request.user_ids.empty()) {
      input["userIds"] = ids(request.user_ids);
    }
    if (!request.team_ids.empty()) {
      input["teamIds"] = ids(request.team_ids);
    }
    input["union"] = true;  // add to the requested reviewers, never replace a person's choice
    add("reviews", "RequestReviewsInput", "requestReviews", std::move(input));
  }
  if (request.merge_method) {
    json::object input;
    input["pullRequestId"] = request.pull_node_id;
    input["mergeMethod"] = *request.merge_method;
    input["expectedHeadOid"] = request.expected_head;
    add("merge", "EnablePullRequestAutoMergeInput", "enablePullRequestAutoMerge", std::move(input));
  }
  if (fields.empty()) {
    return std::nullopt;
  }
  out.query = "mutation(" + decl + ") {" + fields + " }";
  return out;
}

const graphql_error* pull_finish_outcome::of(std::string_view field) const {
  for (const auto& e : failed) {
    if (e.path == field || e.path.starts_with(std::string(field) + ".")) {
      return &e;
    }
  }
  return nullptr;
}

result<pull_finish_outcome> parse_pull_finish(std::string_view json) {
  auto errors = graphql_errors(json);
  if (!errors) {
    return errors.error();
  }
  pull_finish_outcome out;
  out.failed = std::move(*errors);
  return out;
}

}  // namespace ferry::github
