// Onboarding pull requests (SPEC "Behaviour by event", push to an application repository): for
// each infra repository whose rules at the default branch's head list the pushed repository under
// `onboarding.sources`, and each such source whose compose file the push changed on the
// repository's default branch:
//
//   1. trust: the application repository's push must come from the infra repository's own
//      installation, so one organisation cannot make ferry read or write another's repositories;
//   2. read the compose file at the pushed commit (contents API);
//   3. plan: convert, merge with what ferry wrote last, splice the rules and kustomizations
//      (onboard::plan_update, pure over the infra tree at its default-branch head);
//   4. write through the bump write path (bump_writer): a commit GitHub signs on
//      `ferry/onboard/<app>`, the branch moved by compare-and-swap, the PR opened or updated with
//      label `ferry`. Nothing is applied until a person merges it.
//
// A compose file that does not convert is permanent: status `ferry/onboard` = failure on the
// pushed commit, and the delivery is done (2xx). GitHub errors keep their kind (5xx: redelivered).
#include "handlers/onboard_push.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "handlers/blocking.hpp"
#include "handlers/bump.hpp"
#include "handlers/bump_write.hpp"
#include "handlers/rules_cache.hpp"
#include "service/git/reads.hpp"
#include "service/limits.hpp"
#include "service/onboard/onboard.hpp"
#include "service/onboard/update.hpp"
#include "service/text.hpp"

namespace ferry::handlers {

namespace {

namespace asio = boost::asio;

// Bounded retries of a lost compare-and-swap on the onboarding branch.
constexpr int k_branch_attempts = 3;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

// "owner/name" split; nullopt when it is not that shape.
std::optional<service::repo_name> split_full_name(std::string_view full) {
  const auto slash = full.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == full.size() ||
      full.find('/', slash + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  return service::repo_name{std::string(full.substr(0, slash)),
                            std::string(full.substr(slash + 1))};
}

bool listed(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Whether the push changed `path`: yes, no, or nullopt when the payload cannot say (a new
// branch, a forced push, lists GitHub may have cut).
std::optional<bool> push_touches(const events::push_event& e, const std::string& path) {
  if (!e.files_complete || e.forced || e.created || e.before.empty() ||
      e.before == git::k_zero_oid || e.commit_count == 0) {
    return std::nullopt;
  }
  return listed(e.touched, path);
}

// A status description within GitHub's 140 characters.
std::string short_description(std::string text) {
  if (const auto nl = text.find('\n'); nl != std::string::npos) {
    text.resize(nl);
  }
  if (text.size() > limits::k_status_description_max) {
    text.resize(limits::k_status_description_max - 3);
    text += "...";
  }
  return text;
}

// One delivery's work on one infra repository.
class onboard_run {
 public:
  onboard_run(const service::delivery& d, const events::push_event& e, const handler_settings& s,
              const service::repo_name& infra)
      : d_(d),
        e_(e),
        s_(s),
        gh_(*s.github),
        infra_(infra),
        log_(d.log.with({{"repo", infra.full()}, {"source", e.repository.full_name}})) {}

  asio::awaitable<service::handler_result> run() {
    const github::call_options calls{.log = &log_};
    auto inst = co_await gh_.installation_for_repo(infra_.owner, infra_.name, calls);
    if (!inst) {
      co_return inst.error();
    }
    if (*inst != *e_.installation_id) {
      log_.warn("push from another installation than the infra repository's: not read",
                {{"installation", std::to_string(*e_.installation_id)}});
      co_return service::outcome::ignored;
    }
    api_.emplace(gh_, infra_, *inst, log_);
    if (auto opened = co_await open_infra(); !opened) {
      co_return opened.error();
    }
    auto rules_text = co_await read_at_head(s_.rules_path);
    if (!rules_text) {
      co_return rules_text.error();
    }
    remember_view(*rules_text);
    if (!*rules_text) {
      log_.debug("no rules file in this repository");
      co_return service::outcome::ignored;
    }
    const auto parsed = rules::parse_rules(**rules_text, s_.rules_path);
    if (!parsed.ok()) {
      // Fail closed; the rules' status on the infra repository's head says why.
      log_.warn("rules file is invalid: no onboarding", {{"errors", parsed.report()}});
      co_return service::outcome::ignored;
    }
    auto sources = onboard::sources_from_rules(**rules_text, s_.rules_path);
    if (!sources) {
      log_.warn("onboarding.sources is invalid: no onboarding",
                {{"error", sources.error().message}});
      co_return service::outcome::ignored;
    }
    bool any = false;
    for (const auto& src : *sources) {
      if (!text::iequals(src.repo, e_.repository.full_name)) {
        continue;
      }
      auto r = co_await source(src);
      if (!r) {
        co_return r.error();
      }
      any = any || *r;
    }
    co_return any ? service::outcome::done : service::outcome::ignored;
  }

 private:
  asio::awaitable<result<void>> open_infra() {
    const auto now = rules_cache::clock::now();
    if (auto it = s_.rules->repositories.find(infra_.full());
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
      s_.rules->repositories[infra_.full()] = {clone_url_, default_branch_,
                                               now + limits::k_repository_cache_ttl};
    }
    const github::call_options calls{.log = &log_};
    auto token = co_await gh_.installation_token(api_->installation(), calls);
    if (!token) {
      co_return token.error();
    }
    token_ = std::move(*token);
    auto opened = s_.mirrors->open(infra_.owner, infra_.name);
    if (!opened) {
      co_return opened.error();
    }
    mirror_ = *opened;
    auto head = co_await blocking(s_.pool, [this]() {
      return mirror_->fetch(clone_url_, default_branch_, git::credentials{token_});
    });
    if (!head) {
      co_return head.error();
    }
    head_ = std::move(*head);
    co_return ok_v;
  }

  // A file at the default branch's head; nullopt when there is none.
  asio::awaitable<result<std::optional<std::string>>> read_at_head(const std::string& path) {
    co_return co_await blocking(s_.pool, [this, &path]() { return read_sync(path); });
  }
  result<std::optional<std::string>> read_sync(const std::string& path) const {
    auto content = mirror_->read_file(head_, path);
    if (content) {
      return std::optional<std::string>(std::move(*content));
    }
    if (content.error().kind == error_kind::not_found) {
      return std::optional<std::string>();
    }
    return content.error();
  }

  // This replica's view of the infra repository's rules, renewed: the ingress answers the next
  // push from an unlisted repository without a GitHub call (rules_cache.hpp).
  void remember_view(const std::optional<std::string>& text) {
    rules_cache::rules_view view;
    view.head = head_;
    if (auto it = s_.rules->views.find(infra_.full()); it != s_.rules->views.end()) {
      if (it->second.head == head_) {
        view = it->second;
      }
    }
    if (text && !view.rules) {
      view.rules =
          std::make_shared<const rules::parse_outcome>(rules::parse_rules(*text, s_.rules_path));
    }
    if (text) {
      view.onboarding_repos = onboarding_repos_of(*text, s_.rules_path);
    } else {
      view.rules = nullptr;
    }
    view.read_at = rules_cache::clock::now();
    view.stale = false;
    s_.rules->views[infra_.full()] = std::move(view);
  }

  // One source: true when it was handled (a PR written or found current, or a status posted).
  asio::awaitable<result<bool>> source(const onboard::onboarding_source& src) {
    const auto log = log_.with({{"app", src.app}, {"compose", src.compose}});
    const auto touched = push_touches(e_, src.compose);
    if (touched && !*touched) {
      log.info(listed(e_.removed, src.compose) ? "compose file removed: no onboarding pull request"
                                               : "the push does not change the compose file");
      co_return false;
    }
    github::repo_api app(gh_, *split_full_name(e_.repository.full_name), api_->installation(), log);
    auto compose = co_await app.file(src.compose, e_.after);
    if (!compose) {
      if (compose.error().kind == error_kind::not_found) {
        log.info("no compose file at the pushed commit: no onboarding pull request");
        co_return false;
      }
      co_return compose.error();
    }
    onboard::update_request req;
    req.app = src.app;
    req.source_repo = e_.repository.full_name;
    req.source_commit = e_.after;
    req.compose_path = src.compose;
    req.compose_text = std::move(*compose);
    req.rules_path = s_.rules_path;
    auto plan = co_await blocking(s_.pool, [this, &req]() {
      return onboard::plan_update(req, [this](const std::string& path) { return read_sync(path); });
    });
    if (!plan) {
      const auto kind = plan.error().kind;
      if (kind != error_kind::invalid_input && kind != error_kind::conflict) {
        co_return plan.error();
      }
      // Permanent: say so on the application's commit, where the person who pushed looks.
      log.warn("compose file does not convert: no onboarding pull request",
               {{"error", plan.error().message}});
      const std::string description = short_description("not onboarded: " + plan.error().message);
      auto posted = co_await app.create_status(e_.after, "ferry/onboard", "failure", description);
      if (!posted) {
        co_return posted.error();
      }
      co_return true;
    }
    if (plan->changes.empty()) {
      log.info("onboarding would change nothing in the infra repository");
      co_return true;
    }
    const std::string branch = "ferry/onboard/" + src.app;
    onboard::update_request& facts = req;
    const std::string title = onboard::update_title(facts);
    pr_shape shape;
    shape.title = title;
    shape.body = onboard::update_body(facts, *plan, e_.repository.html_url, d_.id);
    shape.labels = {"ferry"};
    commit_text text;
    // The trailer lets a later delivery tell this head is ferry's before GET /app has answered
    // (is_ferry_head); it is not a source commit of any image.
    text.message = title + "\n\nConverted from `" + facts.compose_path + "`.\n\n" +
                   std::string(k_onboard_source_trailer) + ": " + facts.source_repo + "@" +
                   facts.source_commit + "\n";
    text.what = facts.source_repo + "@" + facts.source_commit.substr(0, 7);
    for (int attempt = 1;; ++attempt) {
      auto pulls = co_await pulls_of(*api_, branch);
      if (!pulls) {
        co_return pulls.error();
      }
      auto head = co_await api_->branch_head(branch);
      if (!head) {
        co_return head.error();
      }
      const branch_read seen{true, *head};
      bump_writer w{s_, *api_, *mirror_, clone_url_, token_, default_branch_, head_, log};
      auto written = co_await w.write_branch(branch, plan->changes, text, pulls->open, seen);
      if (!written && written.error().kind == error_kind::conflict && attempt < k_branch_attempts) {
        log.info("the onboarding branch moved meanwhile: reading it again",
                 {{"attempt", std::to_string(attempt)}});
        continue;
      }
      if (!written) {
        co_return written.error();
      }
      if (!*written) {
        co_return true;  // a head ferry did not write: left alone, with a comment
      }
      auto converged = co_await w.converge_pr(shape, branch, pulls->open, **written);
      if (!converged) {
        co_return converged.error();
      }
      co_return true;
    }
  }

  const service::delivery& d_;
  const events::push_event& e_;
  const handler_settings& s_;
  github::app_client& gh_;
  const service::repo_name& infra_;
  log::logger log_;
  std::optional<github::repo_api> api_;
  std::string clone_url_;
  std::string default_branch_;
  std::string token_;
  git::mirror* mirror_ = nullptr;
  std::string head_;
};

}  // namespace

std::shared_ptr<const std::vector<std::string>> onboarding_repos_of(std::string_view rules_text,
                                                                    std::string_view file_name) {
  auto out = std::make_shared<std::vector<std::string>>();
  if (auto sources = onboard::sources_from_rules(rules_text, file_name)) {
    for (const auto& src : *sources) {
      out->push_back(lower(src.repo));
    }
  }
  return out;
}

handler_task handle_app_push(const service::delivery& d, const events::push_event& e,
                             std::shared_ptr<const handler_settings> s) {
  // Decided from the payload alone, before any API call.
  if (e.deleted || e.ref != "refs/heads/" + e.repository.default_branch ||
      !text::is_commit_sha(e.after)) {
    d.log.debug("push ignored", {{"reason", "not a new head of an application's default branch"}});
    co_return service::outcome::ignored;
  }
  if (!e.installation_id) {
    d.log.debug("push ignored", {{"reason", "no installation"}});
    co_return service::outcome::ignored;
  }
  // This replica's fresh views of the rules, when they say no infra repository lists the
  // repository, answer without a GitHub call.
  if (s->rules) {
    bool unlisted = true;
    for (const auto& repo : s->infra_repos) {
      unlisted =
          unlisted && s->rules->fresh_view_lists_no_source(repo.full(), e.repository.full_name);
    }
    if (unlisted) {
      d.log.debug("push ignored", {{"reason", "no infra repository lists it for onboarding"}});
      co_return service::outcome::ignored;
    }
  }
  if (s->github == nullptr || s->mirrors == nullptr || !s->rules ||
      !split_full_name(e.repository.full_name)) {
    co_return make_error(error_kind::internal, "onboarding needs the GitHub client and mirrors");
  }
  // Each infra repository is its own cluster: each gets its own PR.
  bool handled = false;
  std::optional<error> first_error;
  for (const auto& infra : s->infra_repos) {
    onboard_run run(d, e, *s, infra);
    auto r = co_await run.run();
    if (!r) {
      d.log.warn("onboarding failed", {{"repo", infra.full()}, {"error", r.error().message}});
      if (!first_error) {
        first_error = r.error();
      }
      continue;
    }
    handled = handled || *r != service::outcome::ignored;
  }
  if (first_error) {
    co_return *first_error;
  }
  co_return handled ? service::outcome::done : service::outcome::ignored;
}

}  // namespace ferry::handlers
