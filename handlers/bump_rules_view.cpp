// What a delivery reads before it decides (SPEC "Rules file": each replica's view of the rules;
// issue 14: one GraphQL read per delivery): the default branch's head, the environment branches'
// pull requests and the node ids the finishing mutation needs, and the rules at that head, parsed
// once per blob and shared by the deliveries that ask meanwhile.
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
#include "handlers/onboard_push.hpp"
#include "service/limits.hpp"
#include "service/promotion/plan.hpp"
#include "service/promotion/values.hpp"
#include "service/rules/policy.hpp"
#include "service/text.hpp"

namespace ferry::handlers::bump_detail {

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
      if (auto src = s_.rules->sources_by_blob.find(*blob);
          src != s_.rules->sources_by_blob.end()) {
        view.onboarding_repos = src->second;
      }
    } else {
      auto text = co_await blocking(
          s_.pool, [this, &view]() { return mirror_->read_file(view.head, s_.rules_path); });
      if (!text) {
        co_return text.error();
      }
      view.rules =
          std::make_shared<const rules::parse_outcome>(rules::parse_rules(*text, s_.rules_path));
      view.onboarding_repos = onboarding_repos_of(*text, s_.rules_path);
      if (s_.rules->by_blob.size() >= limits::k_rules_cache_entries) {
        s_.rules->by_blob.clear();
        s_.rules->sources_by_blob.clear();
      }
      s_.rules->by_blob.emplace(*blob, view.rules);
      s_.rules->sources_by_blob.emplace(*blob, view.onboarding_repos);
    }
  }
  view.read_at = rules_cache::clock::now();
  view.stale = false;
  s_.rules->views[key] = view;
  co_return view;
}

}  // namespace ferry::handlers::bump_detail
