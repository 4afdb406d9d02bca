// The tag-bump flow (SPEC "Behaviour by event", package / registry_package; and the promotion
// chain): for one infra repository, read the rules at the default branch's head, plan the edits
// for each environment asked for, write them as a commit GitHub signs, move the environment's
// branch and open or update its pull request. Every step converges on the desired state, so a
// redelivery after a failure completes the work and a redelivery after success writes nothing
// (SPEC "Reliability"). The decisions are pure functions in bump.hpp and promotion/plan.hpp;
// this file sequences the calls.
#include "handlers/bump_flow.hpp"

#include <simdjson.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "handlers/blocking.hpp"
#include "handlers/bump.hpp"
#include "handlers/handlers.hpp"
#include "handlers/rules_cache.hpp"
#include "service/limits.hpp"
#include "service/promotion/plan.hpp"
#include "service/promotion/values.hpp"
#include "service/rules/policy.hpp"

namespace ferry::handlers {

std::shared_ptr<rules_cache> make_rules_cache() {
  return std::make_shared<rules_cache>();
}

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using boost::beast::http::verb;

// One API answer parsed with simdjson (SPEC "Dependencies": simdjson parses webhooks and API
// responses; Boost.JSON only builds request bodies). The document lives in the parser, so the
// parser sits behind a pointer that stays put when the answer moves; every value the flow keeps
// is copied into a std::string before the answer goes.
class response_json {
 public:
  simdjson::dom::element root() const noexcept { return root_; }

  static result<response_json> parse(const std::string& body, std::string_view what) {
    response_json out;
    out.parser_ = std::make_unique<simdjson::dom::parser>();
    // parse() copies the body into a padded buffer when its capacity leaves no room for
    // SIMDJSON_PADDING (simdjson 3.0 dom::parser::parse(const std::string&)).
    if (out.parser_->parse(body).get(out.root_) != simdjson::SUCCESS) {
      return make_error(error_kind::transient, std::string(what) + ": the answer is not JSON");
    }
    return out;
  }

 private:
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::dom::element root_;
};

result<response_json> parse_body(const github::http_response& r, std::string_view what) {
  return response_json::parse(r.body, what);
}

std::optional<simdjson::dom::element> at(simdjson::dom::element v,
                                         std::initializer_list<std::string_view> path) {
  for (const auto key : path) {
    simdjson::dom::object o;
    if (v.get(o) != simdjson::SUCCESS || o.at_key(key).get(v) != simdjson::SUCCESS) {
      return std::nullopt;
    }
  }
  return v;
}

std::string str(simdjson::dom::element v, std::initializer_list<std::string_view> path) {
  std::string_view s;
  if (auto x = at(v, path); x && x->get(s) == simdjson::SUCCESS) {
    return std::string(s);
  }
  return {};
}

std::string str(const response_json& v, std::initializer_list<std::string_view> path) {
  return str(v.root(), path);
}

std::int64_t integer(simdjson::dom::element v, std::initializer_list<std::string_view> path) {
  std::int64_t n = 0;
  if (auto x = at(v, path); x && x->get(n) == simdjson::SUCCESS) {
    return n;
  }
  return 0;
}

bool boolean(simdjson::dom::element v, std::initializer_list<std::string_view> path) {
  bool b = false;
  if (auto x = at(v, path); x && x->get(b) == simdjson::SUCCESS) {
    return b;
  }
  return false;
}

json::array string_array(const std::vector<std::string>& values) {
  json::array a;
  for (const auto& v : values) {
    a.emplace_back(v);
  }
  return a;
}

// What the environment's open ferry pull request looks like, when there is one.
struct open_pr {
  std::int64_t number = 0;
  std::string node_id;
  std::string head_sha;
  std::string title;
  std::string body;
  std::set<std::string> labels;
  std::set<std::string> reviewers;
  std::set<std::string> teams;
  bool auto_merge = false;
};

open_pr read_pr(simdjson::dom::element v) {
  open_pr pr;
  pr.number = integer(v, {"number"});
  pr.node_id = str(v, {"node_id"});
  pr.head_sha = str(v, {"head", "sha"});
  pr.title = str(v, {"title"});
  pr.body = str(v, {"body"});
  const auto collect = [&v](std::string_view list, std::string_view key,
                            std::set<std::string>& to) {
    simdjson::dom::array a;
    if (auto x = at(v, {list}); x && x->get(a) == simdjson::SUCCESS) {
      for (const auto item : a) {
        std::string s = str(item, {key});
        if (!s.empty()) {
          to.insert(std::move(s));
        }
      }
    }
  };
  collect("labels", "name", pr.labels);
  collect("requested_reviewers", "login", pr.reviewers);
  collect("requested_teams", "slug", pr.teams);
  const auto am = at(v, {"auto_merge"});
  pr.auto_merge = am && am->is_object();
  return pr;
}

result<std::vector<markers::scanned_file>> scan_files(const git::mirror& m, std::string_view commit,
                                                      std::span<const std::string> prefixes) {
  std::vector<markers::scanned_file> out;
  std::optional<error> failure;
  auto walked =
      m.for_each_file(commit, prefixes, [&](std::string_view path, std::string_view content) {
        if (!markers::may_contain_marker(content)) {
          return true;
        }
        auto scanned = markers::scan_file(path, content);
        if (!scanned) {
          // A file the scanner refuses (not YAML) holds no marker ferry could edit.
          return true;
        }
        out.push_back({std::string(path), std::string(content), std::move(scanned->markers)});
        return true;
      });
  if (!walked) {
    return walked.error();
  }
  return out;
}

// The most recent closed pull request of a branch.
struct closed_pr {
  bool merged = false;
  std::string body;
};

struct branch_pulls {
  std::optional<open_pr> open;
  std::optional<closed_pr> last_closed;
};

// The branch head after write_branch: the commit, and whether this delivery wrote it.
struct branch_state {
  std::string head;
  bool wrote = false;
};

// One delivery's work on one infra repository.
class bump_run {
 public:
  bump_run(std::string_view delivery_id, const log::logger& log, const promotion_source& src,
           const handler_settings& s, const service::repo_name& repo,
           std::vector<std::string> environments)
      : delivery_id_(delivery_id),
        src_(src),
        p_(src.candidate),
        s_(s),
        gh_(*s.github),
        repo_(repo),
        log_(log.with({{"repo", repo.full()}, {"image", src.candidate.image}})),
        wanted_(std::move(environments)) {}

  // ignored: no rule here; done: converged (including nothing to change).
  asio::awaitable<service::handler_result> run();

 private:
  std::string repo_path(std::string_view rest) const {
    return "/repos/" + repo_.owner + "/" + repo_.name + std::string(rest);
  }
  void count_pr(std::string_view action) const {
    if (s_.metrics != nullptr) {
      s_.metrics->pull_requests.with({action}).inc();
    }
  }
  std::vector<const rules::environment*> select_environments(const rules::rules_file& rules) const;
  asio::awaitable<result<bool>> newest_allows(const rules::image_rule& rule,
                                              std::span<const std::string> head_values,
                                              std::span<const std::string> pr_values,
                                              const std::optional<std::string>& pr_head,
                                              bump_facts& facts);
  asio::awaitable<result<std::optional<std::string>>> trailer_commit(
      const std::string& value, const std::optional<std::string>& written_by,
      const bump_facts& facts);
  asio::awaitable<result<void>> environment(const rules::rules_file& rules,
                                            const rules::environment& env,
                                            const rules::image_rule& rule);
  asio::awaitable<result<branch_pulls>> pulls_of(const std::string& branch);
  asio::awaitable<result<std::optional<open_pr>>> find_pr(const std::string& branch);
  asio::awaitable<result<std::optional<branch_state>>> write_branch(
      const std::string& branch, const std::vector<markers::file_change>& changes,
      const bump_facts& facts, const std::optional<open_pr>& pr);
  asio::awaitable<result<void>> converge_pr(const rules::environment& env,
                                            const std::string& branch, std::optional<open_pr> pr,
                                            const bump_facts& facts, const branch_state& head);
  asio::awaitable<result<void>> comment(std::int64_t number, std::string text);
  asio::awaitable<result<rules_cache::rules_view>> current_rules();
  asio::awaitable<result<rules_cache::rules_view>> renew_rules_view();

  std::string_view delivery_id_;
  const promotion_source& src_;
  const promotion& p_;
  const handler_settings& s_;
  github::app_client& gh_;
  const service::repo_name& repo_;
  log::logger log_;
  std::vector<std::string> wanted_;  // environment names; empty: the entry environments
  std::int64_t inst_ = 0;
  git::mirror* mirror_ = nullptr;
  std::string clone_url_;
  std::string token_;
  std::string default_branch_;
  std::string head_;  // the default branch's head commit
  std::vector<markers::scanned_file> head_files_;
};

asio::awaitable<service::handler_result> bump_run::run() {
  // SPEC: "no rule" is answered before any API call. This replica's view of the rules, while
  // fresh, says so without asking GitHub anything (rules_cache.hpp).
  if (auto it = s_.rules->views.find(repo_.full());
      it != s_.rules->views.end() && !it->second.stale &&
      rules_cache::clock::now() - it->second.read_at <= limits::k_rules_view_max_age) {
    const auto& rules = it->second.rules;
    if (!rules || (rules->ok() && rules::rules_for_image(rules->value(), p_.image).empty())) {
      log_.debug(
          rules ? "no rule for the image in this repository" : "no rules file in this repository",
          {{"rules_head", it->second.head}, {"from", "this replica's view of the rules"}});
      co_return service::outcome::ignored;
    }
  }
  auto inst = co_await gh_.installation_for_repo(repo_.owner, repo_.name);
  if (!inst) {
    co_return inst.error();
  }
  inst_ = *inst;
  const auto now = rules_cache::clock::now();
  if (auto it = s_.rules->repositories.find(repo_.full());
      it != s_.rules->repositories.end() && it->second.until > now) {
    clone_url_ = it->second.clone_url;
    default_branch_ = it->second.default_branch;
  } else {
    auto repo = co_await gh_.rest(verb::get, repo_path(""), std::nullopt, inst_);
    if (!repo) {
      co_return repo.error();
    }
    auto repo_json = parse_body(*repo, "GET repository");
    if (!repo_json) {
      co_return repo_json.error();
    }
    clone_url_ = str(*repo_json, {"clone_url"});
    default_branch_ = str(*repo_json, {"default_branch"});
    if (clone_url_.empty() || default_branch_.empty()) {
      co_return make_error(error_kind::transient,
                           "GET repository " + repo_.full() + ": no clone_url or default_branch");
    }
    if (s_.rules->repositories.size() >= limits::k_api_cache_entries) {
      s_.rules->repositories.clear();
    }
    s_.rules->repositories[repo_.full()] = {clone_url_, default_branch_,
                                            now + limits::k_repository_cache_ttl};
  }
  auto token = co_await gh_.installation_token(inst_);
  if (!token) {
    co_return token.error();
  }
  token_ = std::move(*token);
  auto opened = s_.mirrors->open(repo_.owner, repo_.name);
  if (!opened) {
    co_return opened.error();
  }
  mirror_ = *opened;

  auto view = co_await current_rules();
  if (!view) {
    co_return view.error();
  }
  head_ = view->head;
  if (!view->rules) {
    log_.debug("no rules file in this repository");
    co_return service::outcome::ignored;
  }
  const std::shared_ptr<const rules::parse_outcome> parsed = view->rules;
  if (s_.metrics != nullptr) {
    s_.metrics->rules_valid.with({repo_.full()}).set(parsed->ok() ? 1.0 : 0.0);
  }
  if (!parsed->ok()) {
    // Fail closed (SPEC "Rules file"): no PR; the failure shows on the head's status.
    std::string description =
        "invalid " + s_.rules_path + ": " + parsed->diagnostics().front().message;
    if (description.size() > limits::k_status_description_max) {
      description.resize(limits::k_status_description_max - 3);
      description += "...";
    }
    // Built outside the co_await: GCC 12 cannot keep a braced list across it.
    json::value request_body_1 =
        json::value{{"state", "failure"}, {"context", "ferry/rules"}, {"description", description}};
    auto posted = co_await gh_.rest(verb::post, repo_path("/statuses/" + head_),
                                    std::move(request_body_1), inst_);
    if (!posted) {
      co_return posted.error();
    }
    log_.warn("rules file is invalid: no promotion", {{"errors", parsed->report()}});
    // 503, not 200 (issue 10, "no silent drop"): GitHub records the delivery as failed, and
    // the sweep redelivers it once the rules are fixed.
    co_return make_error(error_kind::transient,
                         "invalid rules in " + repo_.full() + ": refused until they are fixed");
  }
  const rules::rules_file& rules = parsed->value();
  const auto image_rules = rules::rules_for_image(rules, p_.image);
  if (image_rules.empty()) {
    log_.debug("no rule for the image in this repository");
    co_return service::outcome::ignored;
  }
  const auto entries = select_environments(rules);
  std::vector<std::string> prefixes;
  for (const auto* env : entries) {
    prefixes.insert(prefixes.end(), env->paths.begin(), env->paths.end());
  }
  auto files = co_await blocking(s_.pool, [&]() { return scan_files(*mirror_, head_, prefixes); });
  if (!files) {
    co_return files.error();
  }
  head_files_ = std::move(*files);
  for (const auto* env : entries) {
    for (const auto* rule : image_rules) {
      auto r = co_await environment(rules, *env, *rule);
      if (!r) {
        co_return r.error();
      }
    }
  }
  co_return service::outcome::done;
}

// The rules at the default branch's head, renewed now: one renewal per repository at a time,
// whose outcome every delivery that asks meanwhile shares (a burst of deliveries costs one
// call). An abandoned renewal (its delivery cancelled at the deadline) wakes the waiters with
// an error rather than leaving them waiting.
asio::awaitable<result<rules_cache::rules_view>> bump_run::current_rules() {
  const std::string key = repo_.full();
  if (auto it = s_.rules->renewing.find(key); it != s_.rules->renewing.end()) {
    const auto renewal = it->second;
    boost::system::error_code ec;
    co_await renewal->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (renewal->outcome) {
      co_return *renewal->outcome;
    }
    co_return make_error(error_kind::transient,
                         "the read of the rules this delivery waited for was abandoned");
  }
  auto renewal = std::make_shared<rules_cache::view_renewal>(co_await asio::this_coro::executor);
  s_.rules->renewing[key] = renewal;
  struct finish {
    rules_cache& cache;
    std::string key;
    std::shared_ptr<rules_cache::view_renewal> renewal;
    ~finish() {
      if (auto it = cache.renewing.find(key); it != cache.renewing.end() && it->second == renewal) {
        cache.renewing.erase(it);
      }
      renewal->done.cancel();
    }
  } wake{*s_.rules, key, renewal};
  auto out = co_await renew_rules_view();
  renewal->outcome = out;
  co_return out;
}

// The default branch's head, asked of the API with the ETag of the last answer (a 304 costs no
// rate limit and means the view still holds), so that the mirror answers from its cache when it
// already holds that commit; then the rules' blob at that head, parsed once per blob.
asio::awaitable<result<rules_cache::rules_view>> bump_run::renew_rules_view() {
  const std::string key = repo_.full();
  github::call_options conditional;
  std::optional<rules_cache::rules_view> known;
  if (auto it = s_.rules->views.find(key); it != s_.rules->views.end()) {
    known = it->second;
  }
  if (known) {
    conditional.if_none_match = known->etag;  // `known` outlives the call
  }
  auto head_ref = co_await gh_.rest(verb::get, repo_path("/git/ref/heads/" + default_branch_),
                                    std::nullopt, inst_, conditional);
  if (!head_ref) {
    co_return head_ref.error();
  }
  rules_cache::rules_view view;
  if (head_ref->status == 304 && known) {
    view = std::move(*known);
  } else {
    auto head_ref_body = parse_body(*head_ref, "get ref");
    if (!head_ref_body) {
      co_return head_ref_body.error();
    }
    view.head = str(*head_ref_body, {"object", "sha"});
    if (view.head.size() != 40) {
      co_return make_error(error_kind::transient, "GET ref heads/" + default_branch_ + ": no sha");
    }
    if (const auto* etag = head_ref->header("etag")) {
      view.etag = *etag;
    }
  }
  // The mirror holds the head already when the view was made here (no git round trip then).
  auto blob = co_await blocking(s_.pool, [this, &view]() -> result<std::string> {
    auto head = mirror_->fetch(clone_url_, view.head, git::credentials{token_});
    if (!head) {
      return head.error();
    }
    return mirror_->blob_id(*head, s_.rules_path);
  });
  if (!blob && blob.error().kind != error_kind::not_found) {
    co_return blob.error();
  }
  if (!blob) {
    view.rules = nullptr;
  } else if (auto it = s_.rules->by_blob.find(*blob); it != s_.rules->by_blob.end()) {
    view.rules = it->second;
  } else {
    auto text = co_await blocking(
        s_.pool, [this, &view]() { return mirror_->read_file(view.head, s_.rules_path); });
    if (!text) {
      co_return text.error();
    }
    view.rules =
        std::make_shared<const rules::parse_outcome>(rules::parse_rules(*text, s_.rules_path));
    if (s_.rules->by_blob.size() >= limits::k_rules_cache_entries) {
      s_.rules->by_blob.clear();
    }
    s_.rules->by_blob.emplace(*blob, view.rules);
  }
  view.read_at = rules_cache::clock::now();
  view.stale = false;
  s_.rules->views[key] = view;
  co_return view;
}

// The environments this call converges: the entry environments, or those named, less the ones
// that are unknown or suspended (themselves or upstream: SPEC "suspend: no PRs, no applies here
// or downstream").
std::vector<const rules::environment*> bump_run::select_environments(
    const rules::rules_file& rules) const {
  if (wanted_.empty()) {
    return rules::entry_environments(rules);
  }
  std::vector<const rules::environment*> out;
  for (const auto& name : wanted_) {
    const auto* env = rules::find_environment(rules, name);
    if (env == nullptr) {
      log_.warn("environment not in the rules: skipped", {{"environment", name}});
      continue;
    }
    if (rules::is_suspended(rules, name)) {
      log_.info("environment suspended (or downstream of a suspended one): skipped",
                {{"environment", name}});
      continue;
    }
    if (std::find(out.begin(), out.end(), env) == out.end()) {
      out.push_back(env);
    }
  }
  return out;
}

// `newest` (SPEC "Policies"): the candidate must be ahead of the source commit of every value
// that runs now, compared in the event's repository. Where no commit can be found or compared,
// the newer delivery wins and the PR says so.
// What runs now's source commit when its tag gives none (SPEC "Policies": "for what runs now,
// also from a Ferry-Source-Commit: trailer that ferry writes in its bump commits"): the trailer
// of `written_by` (the open PR's head), else of the newest commit on the default branch's
// history that is ferry's bump of this rule to `value` in this environment.
asio::awaitable<result<std::optional<std::string>>> bump_run::trailer_commit(
    const std::string& value, const std::optional<std::string>& written_by,
    const bump_facts& facts) {
  bump_facts wrote = facts;
  wrote.to_tag = value;
  const std::string title = pr_title(wrote);
  auto found = co_await blocking(s_.pool, [&]() {
    if (written_by) {
      return mirror_->find_commit(*written_by, 1, [](std::string_view) { return true; });
    }
    return mirror_->find_commit(head_, limits::k_trailer_search_commits,
                                [&title](std::string_view message) {
                                  return message.find(title) != std::string_view::npos &&
                                         source_commit_from_message(message).has_value();
                                });
  });
  if (!found) {
    co_return found.error();
  }
  if (!*found || ((*found)->message.find(title) == std::string::npos)) {
    co_return std::optional<std::string>{};
  }
  co_return source_commit_from_message((*found)->message);
}

asio::awaitable<result<bool>> bump_run::newest_allows(const rules::image_rule& rule,
                                                      std::span<const std::string> head_values,
                                                      std::span<const std::string> pr_values,
                                                      const std::optional<std::string>& pr_head,
                                                      bump_facts& facts) {
  struct current_value {
    std::string value;
    std::optional<std::string> written_by;  // the open PR's head, for its values
  };
  std::vector<current_value> values;
  for (const auto& v : head_values) {
    values.push_back({v, std::nullopt});
  }
  for (const auto& v : pr_values) {
    values.push_back({v, pr_head});
  }
  const auto& policy = rule.policy;
  if (!facts.source_commit || !src_.source_repo || src_.source_repo->owner.empty()) {
    facts.note = "No source commit could be compared: the newer delivery wins.";
    co_return true;
  }
  const service::repo_name& source_repo = *src_.source_repo;
  const bool on_branch = src_.target_commitish.empty() ||
                         std::find(rule.source_branches.begin(), rule.source_branches.end(),
                                   src_.target_commitish) != rule.source_branches.end();
  // Not installed there (404): nothing to compare with, the newer delivery wins. The 404 is
  // remembered for a few minutes, so a busy source repository does not ask on every delivery.
  // A GitHub failure, though, must not decide a promotion: answer 503 and let the redelivery
  // compare.
  const std::string source_key = source_repo.full();
  const auto now = rules_cache::clock::now();
  result<std::int64_t> src_inst =
      make_error(error_kind::not_found, "the App is not installed on " + source_key);
  if (auto it = s_.rules->not_installed.find(source_key);
      it == s_.rules->not_installed.end() || it->second <= now) {
    src_inst = co_await gh_.installation_for_repo(source_repo.owner, source_repo.name);
    if (!src_inst && src_inst.error().kind != error_kind::not_found) {
      co_return src_inst.error();
    }
    if (!src_inst) {
      if (s_.rules->not_installed.size() >= limits::k_api_cache_entries) {
        s_.rules->not_installed.clear();
      }
      s_.rules->not_installed[source_key] = now + limits::k_not_installed_cache_ttl;
    } else {
      s_.rules->not_installed.erase(source_key);
    }
  }
  for (const auto& [value, written_by] : values) {
    if (value == p_.tag) {
      continue;
    }
    auto current = rules::commit_from_tag(policy, value);
    if (!current && src_inst) {
      auto from_trailer = co_await trailer_commit(value, written_by, facts);
      if (!from_trailer) {
        co_return from_trailer.error();
      }
      current = std::move(*from_trailer);
    }
    if (!current || !src_inst) {
      facts.note = "The source commit of `" + table_cell(value) +
                   "` could not be compared: the newer delivery wins.";
      continue;
    }
    facts.current_commit = *current;
    auto cmp = co_await gh_.rest(verb::get,
                                 "/repos/" + source_repo.owner + "/" + source_repo.name +
                                     "/compare/" + *current + "..." + *facts.source_commit,
                                 std::nullopt, *src_inst);
    if (!cmp) {
      if (cmp.error().kind == error_kind::not_found ||
          cmp.error().kind == error_kind::invalid_input) {
        facts.note = "The source commits could not be compared (" + cmp.error().message +
                     "): the newer delivery wins.";
        continue;
      }
      co_return cmp.error();
    }
    auto body = parse_body(*cmp, "compare");
    if (!body) {
      co_return body.error();
    }
    const auto status = rules::parse_compare_status(str(*body, {"status"}));
    const auto decision = rules::decide_newest(status, on_branch);
    if (!decision.promote) {
      log_.info("newest policy refuses the tag",
                {{"tag", p_.tag}, {"current", value}, {"reason", decision.reason}});
      co_return false;
    }
  }
  co_return true;
}

// The branch's pull requests in one call: the open one (at most one per head and base), and the
// most recent closed one with whether it was merged and its body (ferry's marker says which
// environment, image and tag it carried). pulls/list's head filter needs "owner:branch" (the
// double flags a bare branch) and sorts by creation, newest first (REST "List pull requests").
asio::awaitable<result<branch_pulls>> bump_run::pulls_of(const std::string& branch) {
  auto listed = co_await gh_.rest(
      verb::get,
      repo_path("/pulls?state=all&per_page=" + std::to_string(limits::k_branch_pulls_page) +
                "&head=" + repo_.owner + ":" + branch),
      std::nullopt, inst_);
  if (!listed) {
    co_return listed.error();
  }
  auto body = parse_body(*listed, "list pulls");
  if (!body) {
    co_return body.error();
  }
  branch_pulls out;
  simdjson::dom::array pulls;
  if (body->root().get(pulls) != simdjson::SUCCESS) {
    co_return out;
  }
  for (const auto item : pulls) {
    const std::string state = str(item, {"state"});
    if (state == "open" && !out.open) {
      out.open = read_pr(item);
    } else if (state == "closed" && !out.last_closed) {
      const auto merged_at = at(item, {"merged_at"});
      out.last_closed = closed_pr{merged_at && !merged_at->is_null(), str(item, {"body"})};
    }
  }
  co_return out;
}

asio::awaitable<result<std::optional<open_pr>>> bump_run::find_pr(const std::string& branch) {
  auto pulls = co_await pulls_of(branch);
  if (!pulls) {
    co_return pulls.error();
  }
  co_return std::move(pulls->open);
}

asio::awaitable<result<void>> bump_run::comment(std::int64_t number, std::string text) {
  // Built outside the co_await: GCC 12 cannot keep a braced list across it.
  json::value request_body_2 = json::value{{"body", std::move(text)}};
  auto r =
      co_await gh_.rest(verb::post, repo_path("/issues/" + std::to_string(number) + "/comments"),
                        std::move(request_body_2), inst_);
  if (!r) {
    co_return r.error();
  }
  co_return ok_v;
}

// Puts `changes` on `branch` as one commit whose parent is the default branch's head, unless
// the branch already carries exactly them. Returns the branch head ferry wrote (or found), or
// nullopt when the branch's head is someone else's (left alone, with a comment).
asio::awaitable<result<std::optional<branch_state>>> bump_run::write_branch(
    const std::string& branch, const std::vector<markers::file_change>& changes,
    const bump_facts& facts, const std::optional<open_pr>& pr) {
  std::optional<std::string> commit;  // created at most once per delivery
  for (int attempt = 0; attempt < limits::k_ref_update_attempts; ++attempt) {
    auto ref =
        co_await gh_.rest(verb::get, repo_path("/git/ref/heads/" + branch), std::nullopt, inst_);
    std::optional<std::string> branch_head;
    if (ref) {
      auto body = parse_body(*ref, "get ref");
      if (!body) {
        co_return body.error();
      }
      branch_head = str(*body, {"object", "sha"});
    } else if (ref.error().kind != error_kind::not_found) {
      co_return ref.error();
    }
    if (branch_head) {
      // Already there? Compared in the mirror: no write for a redelivery.
      auto same = co_await blocking(s_.pool, [&]() -> result<bool> {
        auto present = mirror_->fetch(clone_url_, *branch_head, git::credentials{token_});
        if (!present) {
          return present.error();
        }
        auto differing = mirror_->changed_paths(head_, *branch_head);
        if (!differing) {
          return differing.error();
        }
        return branch_carries(std::span<const std::string>(*differing), changes,
                              [&](const std::string& path) -> std::optional<std::string> {
                                auto c = mirror_->read_file(*branch_head, path);
                                return c ? std::optional<std::string>(std::move(*c)) : std::nullopt;
                              });
      });
      if (!same) {
        co_return same.error();
      }
      if (*same) {
        log_.info("branch already carries the change",
                  {{"branch", branch}, {"head", *branch_head}});
        co_return branch_state{*branch_head, false};
      }
      auto head_commit = co_await gh_.rest(verb::get, repo_path("/git/commits/" + *branch_head),
                                           std::nullopt, inst_);
      if (!head_commit) {
        co_return head_commit.error();
      }
      auto hc = parse_body(*head_commit, "get commit");
      if (!hc) {
        co_return hc.error();
      }
      head_commit_facts facts_of_head;
      facts_of_head.author_name = str(*hc, {"author", "name"});
      facts_of_head.message = str(*hc, {"message"});
      facts_of_head.verified = boolean(hc->root(), {"verification", "verified"});
      const auto app = gh_.app_info();
      const std::optional<std::string_view> slug =
          app ? std::optional<std::string_view>(app->slug) : std::nullopt;
      if (!is_ferry_head(facts_of_head, slug)) {
        log_.warn("branch head was not written by ferry: left alone",
                  {{"branch", branch}, {"head", *branch_head}});
        if (pr) {
          auto c = co_await comment(pr->number, "ferry did not move `" + branch + "` to `" +
                                                    p_.tag + "`: its head " + *branch_head +
                                                    " is not a commit ferry wrote.");
          if (!c) {
            co_return c.error();
          }
        }
        co_return std::optional<branch_state>{};
      }
    }
    if (!commit) {
      // The base tree from the mirror, which holds head_ (no GET git/commits round trip).
      auto base_tree = co_await blocking(s_.pool, [&]() { return mirror_->tree_id(head_); });
      if (!base_tree) {
        co_return base_tree.error();
      }
      auto modes = co_await blocking(s_.pool, [&]() {
        std::vector<std::string> out;
        for (const auto& c : changes) {
          auto entries = mirror_->list_tree(head_, c.path);
          const bool exec = entries && !entries->empty() && entries->front().mode == 0100755;
          out.push_back(exec ? "100755" : "100644");
        }
        return out;
      });
      json::array entries;
      for (std::size_t i = 0; i < changes.size(); ++i) {
        entries.push_back(json::object{{"path", changes[i].path},
                                       {"mode", modes[i]},
                                       {"type", "blob"},
                                       {"content", changes[i].new_content}});
      }
      // Built outside the co_await: GCC 12 cannot keep a braced list across it.
      json::value request_body_3 =
          json::value{{"base_tree", *base_tree}, {"tree", std::move(entries)}};
      auto tree =
          co_await gh_.rest(verb::post, repo_path("/git/trees"), std::move(request_body_3), inst_);
      if (!tree) {
        co_return tree.error();
      }
      auto tree_body = parse_body(*tree, "create tree");
      if (!tree_body) {
        co_return tree_body.error();
      }
      // Built outside the co_await: GCC 12 cannot keep a braced list across it.
      json::value request_body_4 = json::value{{"message", commit_message(facts)},
                                               {"tree", str(*tree_body, {"sha"})},
                                               {"parents", json::array{json::value(head_)}}};
      // No author or committer: GitHub signs the commit as the App and marks it verified.
      auto created = co_await gh_.rest(verb::post, repo_path("/git/commits"),
                                       std::move(request_body_4), inst_);
      if (!created) {
        co_return created.error();
      }
      auto created_body = parse_body(*created, "create commit");
      if (!created_body) {
        co_return created_body.error();
      }
      commit = str(*created_body, {"sha"});
    }
    // Built outside the co_await: GCC 12 cannot keep a braced list across it.
    json::value move_body = branch_head
                                ? json::value{{"sha", *commit}, {"force", true}}
                                : json::value{{"ref", "refs/heads/" + branch}, {"sha", *commit}};
    const std::string move_path =
        branch_head ? repo_path("/git/refs/heads/" + branch) : repo_path("/git/refs");
    auto moved = co_await gh_.rest(branch_head ? verb::patch : verb::post, move_path,
                                   std::move(move_body), inst_);
    if (moved) {
      log_.info("branch written", {{"branch", branch}, {"commit", *commit}});
      co_return branch_state{*commit, true};
    }
    if (moved.error().kind != error_kind::conflict) {
      co_return moved.error();
    }
    // Another writer got there first: re-read the branch and converge.
    log_.info("branch changed under us, re-reading", {{"branch", branch}});
  }
  co_return make_error(error_kind::conflict, "branch " + branch + " kept changing: gave up after " +
                                                 std::to_string(limits::k_ref_update_attempts) +
                                                 " attempts");
}

asio::awaitable<result<void>> bump_run::converge_pr(const rules::environment& env,
                                                    const std::string& branch,
                                                    std::optional<open_pr> pr,
                                                    const bump_facts& facts,
                                                    const branch_state& head) {
  const std::string& head_written = head.head;
  const std::string title = pr_title(facts);
  const std::string body = pr_body(facts);
  if (!pr) {
    // Built outside the co_await: GCC 12 cannot keep a braced list across it.
    json::value request_body_7 =
        json::value{{"title", title}, {"head", branch}, {"base", default_branch_}, {"body", body}};
    auto created =
        co_await gh_.rest(verb::post, repo_path("/pulls"), std::move(request_body_7), inst_);
    if (created) {
      auto v = parse_body(*created, "create pull");
      if (!v) {
        co_return v.error();
      }
      pr = read_pr(v->root());
      count_pr("opened");
      log_.info("pull request opened", {{"number", std::to_string(pr->number)}});
    } else if (created.error().kind == error_kind::conflict) {
      // Opened by a concurrent delivery: update that one.
      auto found = co_await find_pr(branch);
      if (!found) {
        co_return found.error();
      }
      if (!*found) {
        co_return created.error();
      }
      pr = std::move(*found);
    } else {
      co_return created.error();
    }
  }
  // A delivery that wrote nothing (a redelivery, the registry_package twin) leaves the body
  // naming the delivery that did the work; a new head or another tag rewrites it.
  if (pr->title != title || (head.wrote && pr->body != body)) {
    // Built outside the co_await: GCC 12 cannot keep a braced list across it.
    json::value request_body_8 = json::value{{"title", title}, {"body", body}};
    auto updated = co_await gh_.rest(verb::patch, repo_path("/pulls/" + std::to_string(pr->number)),
                                     std::move(request_body_8), inst_);
    if (!updated) {
      co_return updated.error();
    }
    count_pr("updated");
  }
  const std::vector<std::string> want_labels{"ferry", "env:" + env.name};
  if (std::any_of(want_labels.begin(), want_labels.end(),
                  [&](const std::string& l) { return pr->labels.count(l) == 0; })) {
    // Built outside the co_await: GCC 12 cannot keep a braced list across it.
    json::value request_body_9 = json::value{{"labels", string_array(want_labels)}};
    auto labelled = co_await gh_.rest(
        verb::post, repo_path("/issues/" + std::to_string(pr->number) + "/labels"),
        std::move(request_body_9), inst_);
    if (!labelled) {
      co_return labelled.error();
    }
  }
  std::vector<std::string> reviewers;
  std::vector<std::string> teams;
  for (const auto& r : env.reviewers) {
    if (pr->reviewers.count(r) == 0) {
      reviewers.push_back(r);
    }
  }
  for (const auto& t : env.team_reviewers) {
    if (pr->teams.count(t) == 0) {
      teams.push_back(t);
    }
  }
  if (!reviewers.empty() || !teams.empty()) {
    // Built outside the co_await: GCC 12 cannot keep a braced list across it.
    json::value request_body_10 = json::value{{"reviewers", string_array(reviewers)},
                                              {"team_reviewers", string_array(teams)}};
    auto requested = co_await gh_.rest(
        verb::post, repo_path("/pulls/" + std::to_string(pr->number) + "/requested_reviewers"),
        std::move(request_body_10), inst_);
    if (!requested) {
      co_return requested.error();
    }
  }
  if (env.merge.enabled && !pr->auto_merge) {
    std::string method = rules::to_string(env.merge.method);
    std::string upper = method;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](char c) { return static_cast<char>(c - 'a' + 'A'); });
    // Built outside the co_await: GCC 12 cannot keep a braced list across it.
    json::object request_body_11 =
        json::object{{"input", json::object{{"pullRequestId", pr->node_id},
                                            {"mergeMethod", upper},
                                            {"expectedHeadOid", head_written}}}};
    auto enabled = co_await gh_.graphql(
        "mutation($input: EnablePullRequestAutoMergeInput!) { enablePullRequestAutoMerge(input: "
        "$input) { pullRequest { id } } }",
        std::move(request_body_11), inst_);
    if (!enabled) {
      if (!is_clean_status_error(enabled.error().message)) {
        co_return enabled.error();
      }
      // Built outside the co_await: GCC 12 cannot keep a braced list across it.
      json::value request_body_12 = json::value{{"merge_method", method}, {"sha", head_written}};
      // Already mergeable: merge through REST with the head ferry wrote (SPEC).
      auto merged =
          co_await gh_.rest(verb::put, repo_path("/pulls/" + std::to_string(pr->number) + "/merge"),
                            std::move(request_body_12), inst_);
      if (merged) {
        count_pr("merged");
        log_.info("pull request merged", {{"number", std::to_string(pr->number)}});
      } else if (merged.error().kind == error_kind::invalid_input) {
        auto c = co_await comment(
            pr->number, "ferry could not merge this pull request: " + merged.error().message);
        if (!c) {
          co_return c.error();
        }
      } else {
        co_return merged.error();
      }
    }
  }
  co_return ok_v;
}

asio::awaitable<result<void>> bump_run::environment(const rules::rules_file& rules,
                                                    const rules::environment& env,
                                                    const rules::image_rule& rule) {
  const std::string branch = rules::branch_name(env, rule);
  auto pulls = co_await pulls_of(branch);
  if (!pulls) {
    co_return pulls.error();
  }
  result<std::optional<open_pr>> pr = std::move(pulls->open);
  if (!*pr) {
    // SPEC pull_request: "Closed without merge -> that tag is skipped for that environment; a
    // higher tag opens a new PR".
    const auto& closed = pulls->last_closed;
    if (closed && !closed->merged &&
        pr_marker_matches(closed->body, env.name, rule.image, p_.tag)) {
      log_.with({{"environment", env.name}})
          .info("tag skipped: its pull request was closed without merge",
                {{"tag", p_.tag}, {"branch", branch}});
      co_return ok_v;
    }
  }
  ferry::promotion::plan_options options;
  options.environment = env.name;
  options.newest = rules::newest_mode::compare_commits;
  if (*pr) {
    const std::string pr_head = (*pr)->head_sha;
    auto pr_files = co_await blocking(s_.pool, [&]() -> result<std::vector<markers::scanned_file>> {
      auto present = mirror_->fetch(clone_url_, pr_head, git::credentials{token_});
      if (!present) {
        return present.error();
      }
      return scan_files(*mirror_, pr_head, env.paths);
    });
    if (!pr_files) {
      co_return pr_files.error();
    }
    for (auto& tag : ferry::promotion::running_tags(*pr_files, rule, env)) {
      options.open_pr_values.emplace_back(env.name, std::move(tag));
    }
  }
  const ferry::promotion::candidate c{
      p_.image, p_.tag, p_.digest.empty() ? std::nullopt : std::optional<std::string>(p_.digest)};
  // Empty for a promotion (what the upstream environment runs passed its own gate) and for an
  // event that names no branch: no gate then, as `newest`'s diverged case already treats it.
  if (!src_.target_commitish.empty()) {
    options.source_branch = src_.target_commitish;
  }
  bump_facts facts;
  facts.image = rule.image;
  facts.rule_name = rule.name;
  facts.environment = env.name;
  facts.to_tag = p_.tag;
  facts.digest = p_.digest;
  facts.package_url = src_.package_url;
  facts.delivery_id = std::string(delivery_id_);
  facts.source_repo_url = src_.source_repo_url;
  facts.evidence = src_.evidence;
  facts.source_commit = rules::commit_from_tag(rule.policy, p_.tag);
  if (!facts.source_commit && src_.source_commit && !src_.source_commit->empty()) {
    facts.source_commit = src_.source_commit;
  }

  const auto pick =
      [&](const ferry::promotion::plan_result& r) -> const ferry::promotion::environment_plan* {
    for (const auto& ep : r.environments) {
      if (ep.rule == &rule) {
        return &ep;
      }
    }
    return nullptr;
  };
  auto planned = ferry::promotion::plan(rules, head_files_, c, options);
  if (!planned) {
    co_return planned.error();
  }
  const auto* ep = pick(*planned);
  if (ep != nullptr && ep->status == ferry::promotion::env_status::compare_commits) {
    std::vector<std::string> pr_values;
    for (const auto& [name, v] : options.open_pr_values) {
      pr_values.push_back(v);
    }
    const std::optional<std::string> pr_head =
        *pr ? std::optional<std::string>((*pr)->head_sha) : std::nullopt;
    auto allowed = co_await newest_allows(rule, ep->previous_values, pr_values, pr_head, facts);
    if (!allowed) {
      co_return allowed.error();
    }
    if (!*allowed) {
      co_return ok_v;
    }
    options.newest = rules::newest_mode::accept_any;
    planned = ferry::promotion::plan(rules, head_files_, c, options);
    if (!planned) {
      co_return planned.error();
    }
    ep = pick(*planned);
  }
  auto env_log = log_.with({{"environment", env.name}});
  if (ep == nullptr || ep->status != ferry::promotion::env_status::change) {
    env_log.info("nothing to promote",
                 {{"tag", p_.tag}, {"reason", ep != nullptr ? ep->reason : "no plan"}});
    co_return ok_v;
  }
  facts.from_values = ep->previous_values;
  auto written = co_await write_branch(branch, ep->changes, facts, *pr);
  if (!written) {
    co_return written.error();
  }
  if (!*written) {
    co_return ok_v;
  }
  co_return co_await converge_pr(env, branch, *pr, facts, **written);
}

}  // namespace

asio::awaitable<service::handler_result> converge_promotion(std::string_view delivery_id,
                                                            const log::logger& log,
                                                            const handler_settings& settings,
                                                            const service::repo_name& repo,
                                                            const promotion_source& source,
                                                            std::vector<std::string> environments) {
  if (settings.github == nullptr || settings.mirrors == nullptr || settings.rules == nullptr) {
    co_return make_error(
        error_kind::internal,
        "converge_promotion needs the GitHub client, the mirrors and a rules cache");
  }
  bump_run run(delivery_id, log, source, settings, repo, std::move(environments));
  co_return co_await run.run();
}

}  // namespace ferry::handlers
