#include "handlers/infra_repo.hpp"

#include <map>

#include "handlers/blocking.hpp"
#include "handlers/bump_write.hpp"
#include "service/apply/environments.hpp"
#include "service/git/mirror.hpp"
#include "service/limits.hpp"
#include "service/promotion/plan.hpp"
#include "service/utf8.hpp"

namespace ferry::handlers {

namespace asio = boost::asio;

asio::awaitable<result<infra_repo>> infra_repo::open(const handler_settings& s,
                                                     service::repo_name repo,
                                                     std::optional<std::int64_t> installation,
                                                     log::logger log, std::string clone_url,
                                                     std::string default_branch) {
  if (s.github == nullptr || s.mirrors == nullptr) {
    co_return make_error(error_kind::internal, "no GitHub client configured");
  }
  auto api =
      co_await github::repo_api::open(*s.github, std::move(repo), installation, std::move(log));
  if (!api) {
    co_return api.error();
  }
  infra_repo r(s, std::move(*api));
  if (clone_url.empty() || default_branch.empty()) {
    auto got = co_await r.api_.get();
    if (!got) {
      co_return got.error();
    }
    clone_url = std::move(got->clone_url);
    default_branch = std::move(got->default_branch);
  }
  r.clone_url_ = std::move(clone_url);
  r.default_branch_ = std::move(default_branch);
  auto m = s.mirrors->open(r.name().owner, r.name().name);
  if (!m) {
    co_return m.error();
  }
  r.mirror_ = *m;
  co_return r;
}

asio::awaitable<result<git::credentials>> infra_repo::credentials() {
  const github::call_options calls{.log = &api_.logger()};
  auto token = co_await s_->github->installation_token(installation(), calls);
  if (!token) {
    co_return token.error();
  }
  co_return git::credentials{std::move(*token)};
}

asio::awaitable<result<void>> infra_repo::fetch(std::string sha) {
  auto creds = co_await credentials();
  if (!creds) {
    co_return creds.error();
  }
  auto fetched = co_await blocking(s_->pool, [&]() -> result<void> {
    auto got = mirror_->fetch(clone_url_, sha, *creds);
    if (!got) {
      return got.error();
    }
    return ok_v;
  });
  co_return fetched;
}

asio::awaitable<result<std::string>> infra_repo::fetch_default_head() {
  auto creds = co_await credentials();
  if (!creds) {
    co_return creds.error();
  }
  co_return co_await blocking(
      s_->pool, [&]() { return mirror_->fetch(clone_url_, default_branch_, *creds); });
}

asio::awaitable<result<rules::parse_outcome>> infra_repo::rules_at(std::string sha) {
  auto fetched = co_await fetch(sha);
  if (!fetched) {
    co_return fetched.error();
  }
  auto text =
      co_await blocking(s_->pool, [&]() { return mirror_->read_file(sha, s_->rules_path); });
  if (!text) {
    co_return text.error();
  }
  co_return rules::parse_rules(*text, s_->rules_path);
}

asio::awaitable<result<std::vector<markers::scanned_file>>> infra_repo::marker_files(
    std::string sha, std::vector<std::string> prefixes) {
  co_return co_await blocking(s_->pool,
                              [&]() { return scan_marker_files(*mirror_, sha, prefixes); });
}

asio::awaitable<result<std::int64_t>> infra_repo::commit_time(std::string sha) {
  co_return co_await blocking(s_->pool, [&]() -> result<std::int64_t> {
    auto info = mirror_->commit_info(sha);
    if (!info) {
      return info.error();
    }
    return info->committer_time;
  });
}

asio::awaitable<result<std::vector<std::string>>> infra_repo::changed_paths(std::string before,
                                                                            std::string after) {
  co_return co_await blocking(s_->pool, [&]() { return mirror_->changed_paths(before, after); });
}

asio::awaitable<result<bool>> infra_repo::is_descendant(std::string commit, std::string ancestor) {
  auto present = mirror_->resolve(commit);
  if (!present) {
    // The revision Flux applied may be newer than anything ferry fetched.
    auto fetched = co_await fetch(commit);
    if (!fetched) {
      co_return fetched.error();
    }
  }
  co_return co_await blocking(s_->pool, [&]() { return mirror_->is_descendant(commit, ancestor); });
}

asio::awaitable<result<std::vector<git::file>>> infra_repo::changed_files(
    std::string sha, std::vector<std::string> prefixes) {
  co_return co_await blocking(s_->pool, [&]() -> result<std::vector<git::file>> {
    auto parent = mirror_->resolve(sha + "^1");
    const std::string before = parent ? *parent : std::string(git::k_zero_oid);
    if (!parent && parent.error().kind != error_kind::not_found) {
      return parent.error();
    }
    auto paths = mirror_->changed_paths(before, sha);
    if (!paths) {
      return paths.error();
    }
    std::vector<git::file> out;
    for (const auto& path : *paths) {
      if (!promotion::under_paths(path, prefixes)) {
        continue;
      }
      auto content = mirror_->read_file(sha, path);
      if (!content) {
        if (content.error().kind == error_kind::not_found) {
          continue;  // deleted by the commit
        }
        return content.error();
      }
      out.push_back(git::file{path, std::move(*content)});
    }
    return out;
  });
}

asio::awaitable<result<std::string>> infra_repo::read_file(std::string sha, std::string path) {
  co_return co_await blocking(s_->pool, [&]() { return mirror_->read_file(sha, path); });
}

asio::awaitable<result<void>> infra_repo::status(std::string_view sha, std::string_view context,
                                                 std::string_view state,
                                                 std::string_view description) {
  const std::string cut = apply::status_description(service::to_valid_utf8(description));
  co_return co_await api_.create_status(sha, context, state, cut);
}

asio::awaitable<result<void>> infra_repo::comment(std::int64_t number, std::string text) {
  // A comment quotes pod logs and Flux messages: any bytes; GitHub takes only UTF-8 JSON.
  const std::string valid = service::to_valid_utf8(text);
  co_return co_await api_.create_comment(number, valid);
}

asio::awaitable<result<std::optional<std::int64_t>>> infra_repo::merged_pr_for(
    std::string_view sha) {
  auto prs = co_await api_.pulls_of_commit(sha);
  if (!prs) {
    co_return prs.error();
  }
  for (const auto& pr : *prs) {
    if (pr.merged) {
      co_return std::optional<std::int64_t>(pr.number);
    }
  }
  co_return std::optional<std::int64_t>{};
}

asio::awaitable<result<std::vector<std::pair<std::string, std::string>>>>
infra_repo::apply_statuses(std::string_view sha) {
  auto statuses = co_await api_.statuses(sha, limits::k_status_pages);
  if (!statuses) {
    co_return statuses.error();
  }
  // Newest first (GitHub's order): the first state seen per context is the latest.
  std::map<std::string, std::string> latest;
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& st : *statuses) {
    if (!st.context.starts_with("ferry/apply/") || latest.count(st.context) != 0) {
      continue;
    }
    latest.emplace(st.context, st.state);
    out.emplace_back(std::move(st.context), std::move(st.state));
  }
  co_return out;
}

asio::awaitable<result<std::vector<github::commit_status>>> infra_repo::statuses(
    std::string_view sha) {
  co_return co_await api_.statuses(sha, limits::k_status_pages);
}

asio::awaitable<result<std::vector<github::check_run>>> infra_repo::check_runs(
    std::string_view sha) {
  co_return co_await api_.check_runs(sha, limits::k_status_pages);
}

asio::awaitable<result<std::vector<std::string>>> infra_repo::recent_commits(int n) {
  co_return co_await api_.commits(default_branch_, n);
}

}  // namespace ferry::handlers
