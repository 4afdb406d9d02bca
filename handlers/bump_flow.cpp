// The tag-bump flow (SPEC "Behaviour by event", package / registry_package; and the promotion
// chain): for one infra repository, read the rules at the default branch's head, then for each
// environment asked for and each rule naming the image:
//
//   1. gather the facts: the environment's open ferry PR and the values it carries, or the
//      closed PR that skipped this tag;
//   2. decide once: promotion::plan over the head's markers (and, under `newest`, the source
//      commits compared);
//   3. write: a commit GitHub signs, the environment's branch moved to it, and the pull request
//      opened or brought up to date.
//
// Every step converges on the desired state, so a redelivery after a failure completes the work
// and a redelivery after success writes nothing (SPEC "Reliability"). The decisions are pure
// functions in bump.hpp and promotion/plan.hpp; the GitHub calls are github::repo_api's.
#include "handlers/bump_flow.hpp"

#include "service/text.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "handlers/blocking.hpp"
#include "handlers/bump.hpp"
#include "handlers/bump_write.hpp"
#include "handlers/handlers.hpp"
#include "handlers/rules_cache.hpp"
#include "service/github/repo_api.hpp"
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
using github::pull_request;

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
  asio::awaitable<result<rules_cache::rules_view>> read_facts_and_rules();
  asio::awaitable<result<void>> read_facts(const rules::rules_file& rules);
  asio::awaitable<result<rules_cache::rules_view>> current_rules();
  asio::awaitable<result<rules_cache::rules_view>> renew_rules_view();
  asio::awaitable<result<rules_cache::rules_view>> rules_at(std::string head, std::string etag);
  std::vector<const rules::environment*> select_environments(const rules::rules_file& rules,
                                                             bool quiet = false) const;
  asio::awaitable<result<branch_pulls>> pulls_for(const std::string& branch);
  asio::awaitable<result<void>> environment(const rules::rules_file& rules,
                                            const rules::environment& env,
                                            const rules::image_rule& rule);
  // Facts
  bump_facts facts_for(const rules::environment& env, const rules::image_rule& rule) const;
  // What one decision over one view of the branch came to: the facts for the PR, and the branch
  // state written (nullopt: nothing to write, or a head left alone).
  struct decided {
    bump_facts facts;
    std::optional<branch_state> state;
  };
  asio::awaitable<result<decided>> decide_and_write(
      const rules::rules_file& rules, const rules::environment& env, const rules::image_rule& rule,
      const std::string& branch, const std::optional<pull_request>& pr, const branch_read& seen,
      const std::vector<std::string>& open_values);
  asio::awaitable<result<std::vector<std::string>>> branch_values(const std::string& branch_head,
                                                                  const rules::environment& env,
                                                                  const rules::image_rule& rule);
  // Decision (newest)
  asio::awaitable<result<std::int64_t>> source_installation(const service::repo_name& source_repo);
  void remember_not_installed(const std::string& source_key);
  asio::awaitable<std::optional<github::release>> release_notes(const rules::image_rule& rule);
  asio::awaitable<result<bool>> newest_allows(const rules::image_rule& rule,
                                              std::span<const std::string> head_values,
                                              std::span<const std::string> pr_values,
                                              const std::optional<std::string>& pr_head,
                                              bump_facts& facts);
  asio::awaitable<result<std::optional<std::string>>> trailer_commit(
      const std::string& value, const std::optional<std::string>& written_by,
      const bump_facts& facts);
  bump_writer writer() {
    return bump_writer{s_,
                       *api_,
                       *mirror_,
                       clone_url_,
                       token_,
                       default_branch_,
                       head_,
                       log_,
                       src_.evidence.empty() ? "publication_to_pr" : "applied_to_promotion_pr",
                       started_,
                       read_ ? &*read_ : nullptr};
  }

  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::string_view delivery_id_;
  const promotion_source& src_;
  const promotion& p_;
  const handler_settings& s_;
  github::app_client& gh_;
  const service::repo_name& repo_;
  log::logger log_;
  std::vector<std::string> wanted_;  // environment names; empty: the entry environments
  std::int64_t inst_ = 0;
  std::optional<github::repo_api> api_;  // the infra repository, as its installation
  git::mirror* mirror_ = nullptr;
  std::string clone_url_;
  std::string token_;
  std::string default_branch_;
  std::string head_;  // the default branch's head commit
  std::vector<markers::scanned_file> head_files_;
  std::optional<github::delivery_read> read_;  // the delivery's one GraphQL read, once made
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
  // Named, not braced in the co_await: GCC 12 mishandles braced temporaries across it.
  const github::call_options calls{.log = &log_};
  auto inst = co_await gh_.installation_for_repo(repo_.owner, repo_.name, calls);
  if (!inst) {
    co_return inst.error();
  }
  inst_ = *inst;
  api_.emplace(gh_, repo_, inst_, log_);
  const auto now = rules_cache::clock::now();
  if (auto it = s_.rules->repositories.find(repo_.full());
      it != s_.rules->repositories.end() && it->second.until > now) {
    clone_url_ = it->second.clone_url;
    default_branch_ = it->second.default_branch;
  } else {
    auto repo = co_await api_->get();
    if (!repo) {
      co_return repo.error();
    }
    clone_url_ = repo->clone_url;
    default_branch_ = repo->default_branch;
    if (s_.rules->repositories.size() >= limits::k_api_cache_entries) {
      s_.rules->repositories.clear();
    }
    s_.rules->repositories[repo_.full()] = {clone_url_, default_branch_,
                                            now + limits::k_repository_cache_ttl};
  }
  auto token = co_await gh_.installation_token(inst_, calls);
  if (!token) {
    co_return token.error();
  }
  token_ = std::move(*token);
  auto opened = s_.mirrors->open(repo_.owner, repo_.name);
  if (!opened) {
    co_return opened.error();
  }
  mirror_ = *opened;

  auto view = co_await read_facts_and_rules();
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
    auto posted = co_await api_->create_status(head_, "ferry/rules", "failure", description);
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
  auto files =
      co_await blocking(s_.pool, [&]() { return scan_marker_files(*mirror_, head_, prefixes); });
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

// What the delivery reads before it decides, in one GraphQL query when this replica's view of the
// rules names the image (issue 14): the default branch's head, the environment branches' pull
// requests and the node ids the finishing mutation needs. The rules are then those at that head
// (the view's when the head has not moved). Without such a view: the rules first (current_rules),
// then the query for the branches they name.
asio::awaitable<result<rules_cache::rules_view>> bump_run::read_facts_and_rules() {
  if (auto it = s_.rules->views.find(repo_.full());
      it != s_.rules->views.end() && it->second.rules && it->second.rules->ok()) {
    const auto rules = it->second.rules;
    auto read = co_await read_facts(rules->value());
    if (!read) {
      co_return read.error();
    }
    if (read_) {
      co_return co_await rules_at(read_->default_head, {});
    }
  }
  auto view = co_await current_rules();
  if (!view || !view->rules || !view->rules->ok()) {
    co_return view;
  }
  auto read = co_await read_facts(view->rules->value());
  if (!read) {
    co_return read.error();
  }
  if (read_ && read_->default_head != view->head) {
    // The head moved between the two reads: decide on the newer one.
    co_return co_await rules_at(read_->default_head, {});
  }
  co_return view;
}

// The GraphQL read for the branches `rules` gives this image; nothing when they name none.
asio::awaitable<result<void>> bump_run::read_facts(const rules::rules_file& rules) {
  github::delivery_read_request request;
  auto add = [](std::vector<std::string>& to, const std::string& v) {
    if (std::find(to.begin(), to.end(), v) == to.end()) {
      to.push_back(v);
    }
  };
  add(request.labels, "ferry");
  for (const auto* env : select_environments(rules, true)) {
    for (const auto* rule : rules::rules_for_image(rules, p_.image)) {
      add(request.branches, rules::branch_name(*env, *rule));
    }
    add(request.labels, "env:" + env->name);
    for (const auto& u : env->reviewers) {
      add(request.users, u);
    }
    for (const auto& t : env->team_reviewers) {
      add(request.teams, t);
    }
  }
  if (request.branches.empty()) {
    co_return ok_v;
  }
  auto read = co_await api_->read_delivery(std::move(request));
  if (!read) {
    co_return read.error();
  }
  read_ = std::move(*read);
  co_return ok_v;
}

// The branch's pull requests: from the delivery's read, else (a branch the rules at the new head
// name but the read did not cover) one REST call.
asio::awaitable<result<branch_pulls>> bump_run::pulls_for(const std::string& branch) {
  if (read_) {
    if (auto it = read_->pulls.find(branch); it != read_->pulls.end()) {
      co_return it->second;
    }
  }
  co_return co_await pulls_of(*api_, branch);
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
// rate limit and means the view still holds); then the rules at that head.
asio::awaitable<result<rules_cache::rules_view>> bump_run::renew_rules_view() {
  const std::string key = repo_.full();
  std::optional<rules_cache::rules_view> known;
  if (auto it = s_.rules->views.find(key); it != s_.rules->views.end()) {
    known = it->second;
  }
  const std::string etag = known ? known->etag : std::string();
  auto head_ref = co_await api_->branch_head_if_changed(default_branch_, etag);
  if (!head_ref) {
    co_return head_ref.error();
  }
  if (head_ref->unchanged) {
    if (!known) {
      co_return make_error(error_kind::transient, "GET ref heads/" + default_branch_ + ": 304");
    }
    co_return co_await rules_at(known->head, known->etag);
  }
  co_return co_await rules_at(std::move(head_ref->sha), std::move(head_ref->etag));
}

// The rules at `head`: this replica's view when it was read at that head, else from the mirror
// (which fetches only when it lacks the commit), parsed once per blob. The view is renewed.
asio::awaitable<result<rules_cache::rules_view>> bump_run::rules_at(std::string head,
                                                                    std::string etag) {
  const std::string key = repo_.full();
  rules_cache::rules_view view;
  if (auto it = s_.rules->views.find(key); it != s_.rules->views.end() && it->second.head == head) {
    view = it->second;
    if (!etag.empty()) {
      view.etag = std::move(etag);
    }
  } else {
    view.head = std::move(head);
    view.etag = std::move(etag);  // empty when the head was not read over REST: no 304 next time
    auto blob = co_await blocking(s_.pool, [this, &view]() -> result<std::string> {
      auto fetched = mirror_->fetch(clone_url_, view.head, git::credentials{token_});
      if (!fetched) {
        return fetched.error();
      }
      return mirror_->blob_id(*fetched, s_.rules_path);
    });
    if (!blob && blob.error().kind != error_kind::not_found) {
      co_return blob.error();
    }
    if (!blob) {
      view.rules = nullptr;
    } else if (auto found = s_.rules->by_blob.find(*blob); found != s_.rules->by_blob.end()) {
      view.rules = found->second;
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
  }
  view.read_at = rules_cache::clock::now();
  view.stale = false;
  s_.rules->views[key] = view;
  co_return view;
}

// The environments this call converges: the entry environments, or those named, less the ones
// that are unknown or suspended (themselves or upstream: SPEC "suspend: no PRs, no applies here
// or downstream").
std::vector<const rules::environment*> bump_run::select_environments(const rules::rules_file& rules,
                                                                     bool quiet) const {
  if (wanted_.empty()) {
    return rules::entry_environments(rules);
  }
  std::vector<const rules::environment*> out;
  for (const auto& name : wanted_) {
    const auto* env = rules::find_environment(rules, name);
    if (env == nullptr) {
      if (!quiet) {
        log_.warn("environment not in the rules: skipped", {{"environment", name}});
      }
      continue;
    }
    if (rules::is_suspended(rules, name)) {
      if (!quiet) {
        log_.info("environment suspended (or downstream of a suspended one): skipped",
                  {{"environment", name}});
      }
      continue;
    }
    if (std::find(out.begin(), out.end(), env) == out.end()) {
      out.push_back(env);
    }
  }
  return out;
}

asio::awaitable<result<void>> bump_run::environment(const rules::rules_file& rules,
                                                    const rules::environment& env,
                                                    const rules::image_rule& rule) {
  const auto env_log = log_.with({{"environment", env.name}});
  const std::string branch = rules::branch_name(env, rule);

  // 1. Facts: the open PR and the values it carries, or the closed PR that skipped this tag.
  auto pulls = co_await pulls_for(branch);
  if (!pulls) {
    co_return pulls.error();
  }
  std::optional<pull_request>& pr = pulls->open;
  if (!pr) {
    // SPEC pull_request: "Closed without merge -> that tag is skipped for that environment; a
    // higher tag opens a new PR".
    const auto& closed = pulls->last_closed;
    if (closed && !closed->merged &&
        pr_marker_matches(closed->body, env.name, rule.image, p_.tag)) {
      env_log.info("tag skipped: its pull request was closed without merge",
                   {{"tag", p_.tag}, {"branch", branch}});
      co_return ok_v;
    }
  }
  // The branch as far as this delivery knows it: the open PR's head, else assumed absent.
  branch_read seen;
  if (pr) {
    seen = {.known = true, .head = pr->head_sha};
  }
  for (int attempt = 1;; ++attempt) {
    // What the branch carries counts as running when a PR is open on it, or when a concurrent
    // writer just moved it (not a branch left behind by a closed PR).
    const bool leftover =
        !pr && pulls->last_closed && seen.head && pulls->last_closed->head_sha == *seen.head;
    std::vector<std::string> open_values;
    if (seen.known && seen.head && (pr || attempt > 1) && !leftover) {
      auto values = co_await branch_values(*seen.head, env, rule);
      if (!values) {
        co_return values.error();
      }
      open_values = std::move(*values);
    }
    auto written = co_await decide_and_write(rules, env, rule, branch, pr, seen, open_values);
    if (!written) {
      if (written.error().kind != error_kind::conflict ||
          attempt >= limits::k_ref_update_attempts) {
        co_return written.error();
      }
      // Lost a compare-and-swap: another writer moved the branch. Read it, decide again (a
      // higher tag there makes this one "nothing to promote").
      env_log.info("branch moved meanwhile: reading it and deciding again",
                   {{"branch", branch}, {"attempt", std::to_string(attempt)}});
      auto now = co_await api_->branch_head(branch);
      if (!now) {
        co_return now.error();
      }
      seen = {.known = true, .head = *now};
      continue;
    }
    if (!written->state) {
      co_return ok_v;
    }
    co_return co_await writer().converge_pr(env, branch, std::move(pr), written->facts,
                                            *written->state);
  }
}

// 2. Decide, once per view of the branch, and 3. write.
asio::awaitable<result<bump_run::decided>> bump_run::decide_and_write(
    const rules::rules_file& rules, const rules::environment& env, const rules::image_rule& rule,
    const std::string& branch, const std::optional<pull_request>& pr, const branch_read& seen,
    const std::vector<std::string>& open_values) {
  const auto env_log = log_.with({{"environment", env.name}});
  decided out;
  out.facts = facts_for(env, rule);

  // Under `newest` the plan accepts any other tag; the compare of source commits below then has
  // the last word.
  ferry::promotion::plan_options options;
  options.environment = env.name;
  options.newest = rules::newest_mode::accept_any;
  for (const auto& v : open_values) {
    options.open_pr_values.emplace_back(env.name, v);
  }
  // Empty for a promotion (what the upstream environment runs passed its own gate) and for an
  // event that names no branch: no gate then, as `newest`'s diverged case already treats it.
  if (!src_.target_commitish.empty()) {
    options.source_branch = src_.target_commitish;
  }
  const ferry::promotion::candidate c{
      p_.image, p_.tag, p_.digest.empty() ? std::nullopt : std::optional<std::string>(p_.digest)};
  auto planned = ferry::promotion::plan(rules, head_files_, c, options);
  if (!planned) {
    co_return planned.error();
  }
  const auto ep = std::find_if(planned->environments.begin(), planned->environments.end(),
                               [&](const auto& e) { return e.rule == &rule; });
  // The branch carries this very tag already: decided by the delivery that wrote it (a
  // redelivery, the registry_package twin), so no compare again.
  const bool decided_before =
      seen.head && std::find(open_values.begin(), open_values.end(), p_.tag) != open_values.end();
  if (ep == planned->environments.end() || ep->status != ferry::promotion::env_status::change) {
    if (decided_before) {
      // SPEC "Converge, don't remember": the PR is still made right (a delivery that stopped
      // after the commit, or after the PR but before its labels or auto-merge, is finished here).
      env_log.info("branch already carries the tag: converging its pull request",
                   {{"tag", p_.tag}, {"head", *seen.head}});
      out.state = branch_state{*seen.head, false};
      co_return out;
    }
    env_log.info(
        "nothing to promote",
        {{"tag", p_.tag}, {"reason", ep != planned->environments.end() ? ep->reason : "no plan"}});
    co_return out;
  }
  if (!decided_before && needs_commit_compare(rule.policy, ep->previous_values, open_values)) {
    const auto pr_head = seen.head && (pr || !open_values.empty()) ? seen.head : std::nullopt;
    auto allowed =
        co_await newest_allows(rule, ep->previous_values, open_values, pr_head, out.facts);
    if (!allowed) {
      co_return allowed.error();
    }
    if (!*allowed) {
      co_return out;
    }
  }

  out.facts.from_values = ep->previous_values;
  explain(out.facts, rule, ep->previous_values, open_values);
  out.facts.on_merge = merge_consequences(rules, env);
  if (auto notes = co_await release_notes(rule); notes) {
    out.facts.release_name = notes->name.empty() ? p_.tag : notes->name;
    out.facts.release_notes = std::move(notes->body);
    out.facts.release_url = std::move(notes->html_url);
  }
  bump_writer w = writer();
  auto written = co_await w.write_branch(branch, ep->changes, out.facts, pr, seen);
  if (!written) {
    co_return written.error();
  }
  out.state = std::move(*written);
  co_return out;
}

// What the PR body and the commit message say about this promotion in `env`.
bump_facts bump_run::facts_for(const rules::environment& env, const rules::image_rule& rule) const {
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
  return facts;
}

// The values the open PR's head carries for the rule (SPEC "What runs now": a candidate must
// rank above them too, so a late delivery never moves a PR backwards).
asio::awaitable<result<std::vector<std::string>>> bump_run::branch_values(
    const std::string& branch_head, const rules::environment& env, const rules::image_rule& rule) {
  auto files = co_await blocking(s_.pool, [&]() -> result<std::vector<markers::scanned_file>> {
    auto present = mirror_->fetch(clone_url_, branch_head, git::credentials{token_});
    if (!present) {
      return present.error();
    }
    return scan_marker_files(*mirror_, branch_head, env.paths);
  });
  if (!files) {
    co_return files.error();
  }
  co_return ferry::promotion::running_tags(*files, rule, env);
}

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

// The source repository's release of a semver tag, for the PR body: one GET, under the same
// installation rules as the compare. None (nullopt) when there is no release, no source
// repository, or GitHub fails: release notes never decide or fail a promotion.
asio::awaitable<std::optional<github::release>> bump_run::release_notes(
    const rules::image_rule& rule) {
  if (!std::holds_alternative<rules::semver_policy>(rule.policy.kind) || !src_.source_repo ||
      src_.source_repo->owner.empty()) {
    co_return std::nullopt;
  }
  auto inst = co_await source_installation(*src_.source_repo);
  if (!inst) {
    co_return std::nullopt;
  }
  github::repo_api source(gh_, *src_.source_repo, *inst, log_);
  auto found = co_await source.release_by_tag(p_.tag);
  if (!found) {
    log_.warn("release notes not read", {{"tag", p_.tag}, {"error", found.error().message}});
    co_return std::nullopt;
  }
  co_return std::move(*found);
}

void bump_run::remember_not_installed(const std::string& source_key) {
  if (s_.rules->not_installed.size() >= limits::k_api_cache_entries) {
    s_.rules->not_installed.clear();
  }
  s_.rules->not_installed[source_key] =
      rules_cache::clock::now() + limits::k_not_installed_cache_ttl;
}

// The installation through which the source repository is read. The infra repository's own when
// both belong to one account (an installation covers one account's repositories; a repository
// outside its selection answers the compare with 404, which counts as "not installed"): no call.
// Else GET .../installation, whose 404 (not installed: nothing to compare with, the newer
// delivery wins) is remembered for a few minutes, so a busy source repository does not ask on
// every delivery. A GitHub failure, though, must not decide a promotion: the caller answers 503
// and the redelivery compares.
asio::awaitable<result<std::int64_t>> bump_run::source_installation(
    const service::repo_name& source_repo) {
  const std::string source_key = source_repo.full();
  const auto now = rules_cache::clock::now();
  if (auto it = s_.rules->not_installed.find(source_key);
      it != s_.rules->not_installed.end() && it->second > now) {
    co_return make_error(error_kind::not_found, "the App is not installed on " + source_key);
  }
  if (text::iequals(source_repo.owner, repo_.owner)) {
    co_return inst_;
  }
  const github::call_options calls{.log = &log_};
  auto found = co_await gh_.installation_for_repo(source_repo.owner, source_repo.name, calls);
  if (!found && found.error().kind == error_kind::not_found) {
    remember_not_installed(source_key);
  } else if (found) {
    s_.rules->not_installed.erase(source_key);
  }
  co_return found;
}

// `newest` (SPEC "Policies"): the candidate must be ahead of the source commit of every value
// that runs now, compared in the event's repository. Where no commit can be found or compared,
// the newer delivery wins and the PR says so.
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
  if (!facts.source_commit || !src_.source_repo || src_.source_repo->owner.empty()) {
    facts.note = "No source commit could be compared: the newer delivery wins.";
    co_return true;
  }
  const service::repo_name& source_repo = *src_.source_repo;
  const bool on_branch = src_.target_commitish.empty() ||
                         std::find(rule.source_branches.begin(), rule.source_branches.end(),
                                   src_.target_commitish) != rule.source_branches.end();
  result<std::int64_t> src_inst =
      make_error(error_kind::not_found, "the App is not installed on " + source_repo.full());
  bool src_inst_read = false;
  for (const auto& [value, written_by] : values) {
    if (value == p_.tag) {
      continue;
    }
    if (!src_inst_read) {
      src_inst_read = true;
      src_inst = co_await source_installation(source_repo);
      if (!src_inst && src_inst.error().kind != error_kind::not_found) {
        co_return src_inst.error();
      }
    }
    auto current = rules::commit_from_tag(rule.policy, value);
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
    github::repo_api source(gh_, source_repo, *src_inst, log_);
    auto cmp = co_await source.compare(*current, *facts.source_commit);
    if (!cmp) {
      if (cmp.error().kind == error_kind::not_found ||
          cmp.error().kind == error_kind::invalid_input) {
        if (cmp.error().kind == error_kind::not_found) {
          // Outside the installation's selection (or gone): remembered like "not installed".
          remember_not_installed(source_repo.full());
        }
        facts.note = "The source commits could not be compared (" + cmp.error().message +
                     "): the newer delivery wins.";
        continue;
      }
      co_return cmp.error();
    }
    const auto decision = rules::decide_newest(rules::parse_compare_status(cmp->status), on_branch);
    if (!decision.promote) {
      log_.info("newest policy refuses the tag",
                {{"tag", p_.tag}, {"current", value}, {"reason", decision.reason}});
      co_return false;
    }
    facts.why.push_back("`" + table_cell(value) + "` -> `" + table_cell(p_.tag) +
                        "`: its source commit is " + std::to_string(cmp->ahead_by) +
                        " commit(s) ahead of `" + current->substr(0, 12) + "` (`newest` policy)");
    if (!written_by) {
      // What runs now .. the candidate: the commits this promotion brings.
      facts.source_commits.clear();
      for (const auto& c : cmp->commits) {
        facts.source_commits.push_back({c.sha, c.headline});
      }
      facts.source_commits_total = cmp->total_commits;
    }
  }
  co_return true;
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
