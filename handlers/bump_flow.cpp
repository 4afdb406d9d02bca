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
//
// This file is the recipe (run, then per environment: facts, decision, writes); the reads of the
// facts and the rules are in bump_rules_view.cpp, the `newest` policy's questions to the source
// repository in bump_newest.cpp, the writes in bump_write.cpp, and an image group's branch and
// PR in bump_group.cpp.
#include "handlers/bump_flow.hpp"

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
#include "handlers/bump_run.hpp"
#include "handlers/handlers.hpp"
#include "service/limits.hpp"
#include "service/promotion/plan.hpp"
#include "service/promotion/values.hpp"
#include "service/rules/policy.hpp"
#include "service/text.hpp"

namespace ferry::handlers {

namespace asio = boost::asio;

std::shared_ptr<rules_cache> make_rules_cache() {
  return std::make_shared<rules_cache>();
}

namespace bump_detail {

asio::awaitable<service::handler_result> bump_run::run() {
  // SPEC: "no rule" is answered before any API call. This replica's view of the rules, while
  // fresh, says so without asking GitHub anything (rules_cache.hpp).
  if (const auto no_rule = s_.rules->fresh_view_names_no_rule(repo_.full(), p_.image)) {
    log_.debug(*no_rule, {{"from", "this replica's view of the rules"}});
    co_return service::outcome::ignored;
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
  if (!rule.group.empty()) {
    // One branch and PR for the group (handlers/bump_group.cpp).
    co_return co_await group_environment(rules, env, rule);
  }
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

}  // namespace bump_detail

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
  bump_detail::bump_run run(delivery_id, log, source, settings, repo, std::move(environments));
  co_return co_await run.run();
}

}  // namespace ferry::handlers
