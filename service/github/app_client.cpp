#include "service/github/app_client.hpp"

#include "service/github/graphql.hpp"
#include "service/text.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <map>
#include <unordered_map>

namespace ferry::github {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using sys_clock = std::chrono::system_clock;

namespace {

// docs.github.com "Getting started with the REST API": media type and API version headers.
constexpr std::string_view k_accept = "application/vnd.github+json";
constexpr std::string_view k_api_version = "2022-11-28";

std::string trim_trailing_slashes(std::string_view s) {
  while (!s.empty() && s.back() == '/') {
    s.remove_suffix(1);
  }
  return std::string(s);
}

using text::lower;

bool parse_uint(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

std::string verb_name(bhttp::verb v) {
  auto s = bhttp::to_string(v);
  return std::string(s.data(), s.size());
}

}  // namespace

std::optional<sys_clock::time_point> parse_github_time(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SSZ, optionally with fractional seconds before the Z.
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') ||
      t[13] != ':' || t[16] != ':' || (t.back() != 'Z' && t.back() != 'z')) {
    return std::nullopt;
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!parse_uint(t.substr(0, 4), y) || !parse_uint(t.substr(5, 2), mo) ||
      !parse_uint(t.substr(8, 2), d) || !parse_uint(t.substr(11, 2), h) ||
      !parse_uint(t.substr(14, 2), mi) || !parse_uint(t.substr(17, 2), s)) {
    return std::nullopt;
  }
  std::chrono::year_month_day ymd{std::chrono::year(y),
                                  std::chrono::month(static_cast<unsigned>(mo)),
                                  std::chrono::day(static_cast<unsigned>(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) {
    return std::nullopt;
  }
  return sys_clock::time_point(std::chrono::sys_days(ymd).time_since_epoch() +
                               std::chrono::hours(h) + std::chrono::minutes(mi) +
                               std::chrono::seconds(s));
}

std::string derive_graphql_url(std::string_view api_url) {
  std::string base = trim_trailing_slashes(api_url);
  constexpr std::string_view k_ghes_suffix = "/api/v3";
  if (base.size() >= k_ghes_suffix.size() &&
      lower(base.substr(base.size() - k_ghes_suffix.size())) == k_ghes_suffix) {
    return base.substr(0, base.size() - k_ghes_suffix.size()) + "/api/graphql";
  }
  return base + "/graphql";
}

struct app_client::impl {
  asio::any_io_executor executor;
  github_settings settings;
  log::logger logger;
  std::unique_ptr<http_client> http;
  app_key key;
  std::string api_url;
  std::string graphql_url;

  std::string jwt;
  sys_clock::time_point jwt_expires{};

  struct cached_token {
    std::string token;
    sys_clock::time_point expires_at{};
  };
  // One in-flight mint per installation; latecomers wait on `done` (cancelled when the mint
  // ends) and read `outcome`. shared_ptr: waiters keep it alive after it leaves the map.
  struct mint_flight {
    explicit mint_flight(const asio::any_io_executor& ex)
        : done(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer done;
    std::optional<result<std::string>> outcome;
  };
  std::unordered_map<std::int64_t, cached_token> tokens;
  std::unordered_map<std::int64_t, std::shared_ptr<mint_flight>> flights;
  std::unordered_map<std::string, std::int64_t> repo_installations;
  std::optional<app_identity> identity;

  sys_clock::time_point now() const { return settings.clock ? settings.clock() : sys_clock::now(); }

  // Writes held back per installation after GitHub answered a rate limit (issue 10: a secondary
  // limit's retry-after holds back every write of that installation until it passes, not only
  // the call that met it; docs.github.com "Best practices for using the REST API": "wait ... before
  // retrying", and further content-creating requests while limited "may result in the
  // banning of your integration").
  std::map<std::int64_t, sys_clock::time_point> writes_held_until;
  // Content-creating calls per installation (issue 12.3): a slot before each write.
  std::optional<write_budget> budget;

  std::optional<error> held_back(std::int64_t installation_id, std::string_view what) {
    const auto it = writes_held_until.find(installation_id);
    if (it == writes_held_until.end()) {
      return std::nullopt;
    }
    const auto t = now();
    if (it->second <= t) {
      writes_held_until.erase(it);
      return std::nullopt;
    }
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(it->second - t).count() + 1;
    return error{error_kind::transient, std::string(what) +
                                            ": not sent: GitHub's rate limit holds back writes of "
                                            "installation " +
                                            std::to_string(installation_id) + " for " +
                                            std::to_string(left) + " s more"};
  }

  // Takes a slot of the installation's write budget for `what`, waiting for one to free at
  // most write_wait_max and the call's deadline; nullopt when taken, else the transient error
  // the call ends with (nothing was sent). The wait is real time (a timer); the windows are read
  // with the settings' clock.
  asio::awaitable<std::optional<error>> take_write_slot(std::int64_t installation_id,
                                                        std::string what, const call_options& o) {
    const auto call_deadline = o.deadline.count() > 0 ? o.deadline : settings.http.attempt_timeout;
    auto may_wait = std::min(settings.write_wait_max, call_deadline);
    for (;;) {
      const auto t = now();
      const auto wait = budget->take(installation_id, t);
      if (wait.count() == 0) {
        observe_write(write_budget_observation::outcome::taken, installation_id, t);
        co_return std::nullopt;
      }
      if (wait > may_wait) {
        observe_write(write_budget_observation::outcome::deferred, installation_id, t);
        const auto secs = std::chrono::ceil<std::chrono::seconds>(wait).count();
        co_return error{error_kind::transient,
                        what + ": not sent: the write budget of installation " +
                            std::to_string(installation_id) + " (" +
                            std::to_string(settings.writes.per_minute) + " a minute, " +
                            std::to_string(settings.writes.per_hour) +
                            " an hour) frees a slot in " + std::to_string(secs) +
                            " s, later than this call may wait"};
      }
      asio::steady_timer timer(executor, wait);
      co_await timer.async_wait(asio::use_awaitable);
      may_wait -= wait;
    }
  }

  void observe_write(write_budget_observation::outcome what, std::int64_t installation_id,
                     sys_clock::time_point t) const {
    if (!settings.write_observer) {
      return;
    }
    write_budget_observation o;
    o.what = what;
    o.installation_id = installation_id;
    o.remaining = budget->remaining(installation_id, t);
    settings.write_observer(o);
  }

  // Held back by GitHub's rate limit, or no slot of the budget: the error; else a slot is taken.
  asio::awaitable<std::optional<error>> admit_write(std::int64_t installation_id, std::string what,
                                                    const call_options& o) {
    if (auto held = held_back(installation_id, what)) {
      co_return held;
    }
    co_return co_await take_write_slot(installation_id, std::move(what), o);
  }

  void note_rate_limit(std::int64_t installation_id, const http_response& r) {
    if (installation_id == 0 || !is_rate_limited(r)) {
      return;
    }
    const auto t = now();
    const auto until = t + rate_limit_wait(r, t);
    auto& held = writes_held_until[installation_id];
    held = std::max(held, until);
  }

  result<std::string> current_jwt() {
    auto t = now();
    if (!jwt.empty() && t + settings.token_refresh_margin < jwt_expires) {
      return jwt;
    }
    auto fresh = make_app_jwt(settings.app_id, key, t);
    if (!fresh) {
      return fresh;
    }
    jwt = *fresh;
    // exp = (t - backdate) + lifetime, as make_app_jwt writes it.
    jwt_expires = t - limits::k_jwt_backdate + limits::k_jwt_lifetime;
    return jwt;
  }

  http_request make_request(bhttp::verb method, std::string url, std::string authorization,
                            const std::optional<json::value>& body, const call_options& o) {
    http_request req;
    req.method = method;
    req.url = std::move(url);
    req.headers.push_back({"Accept", std::string(k_accept)});
    req.headers.push_back({"X-GitHub-Api-Version", std::string(k_api_version)});
    req.headers.push_back({"Authorization", std::move(authorization)});
    if (body) {
      req.headers.push_back({"Content-Type", "application/json"});
      req.body = json::serialize(*body);
    }
    if (!o.if_none_match.empty()) {
      req.headers.push_back({"If-None-Match", std::string(o.if_none_match)});
    }
    req.max_attempts = o.max_attempts;
    req.deadline = o.deadline;
    return req;
  }

  // Sends and maps: 2xx -> response, else error_from_response.
  asio::awaitable<result<http_response>> send(http_request req, std::string_view method,
                                              std::string_view path, const call_options& o,
                                              std::int64_t installation_id = 0) {
    const bool conditional =
        std::any_of(req.headers.begin(), req.headers.end(),
                    [](const http_header& h) { return h.name == "If-None-Match"; });
    const auto started = std::chrono::steady_clock::now();
    auto r = co_await http->request(std::move(req));
    const log::logger& log = o.log != nullptr ? *o.log : logger;
    if (log.enabled(log::level::debug)) {
      // Where a delivery's time goes, call by call (test/bench/bump_latency.py sums these).
      // The path names the repository and ref, never a token.
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
      log.debug("github call", {{"method", std::string(method)},
                                {"path", std::string(path.substr(0, path.find('?')))},
                                {"status", r ? std::to_string(r->status) : "error"},
                                {"us", std::to_string(us)}});
    }
    if (!r) {
      co_return std::move(r).error();
    }
    if ((r->status < 200 || r->status > 299) && !(conditional && r->status == 304)) {
      note_rate_limit(installation_id, *r);
      co_return error_from_response(method, path, *r);
    }
    co_return std::move(r).value();
  }

  asio::awaitable<result<http_response>> as_app(bhttp::verb method, std::string_view path,
                                                const std::optional<json::value>& body,
                                                const call_options& o) {
    auto token = current_jwt();
    if (!token) {
      co_return std::move(token).error();
    }
    auto r = co_await send(
        make_request(method, api_url + std::string(path), "Bearer " + *token, body, o),
        verb_name(method), path, o);
    if (!r && r.error().kind == error_kind::unauthorized) {
      jwt.clear();  // refused (a rotated key, a clock GitHub disagrees with): sign anew
    }
    co_return r;
  }

  asio::awaitable<result<std::string>> mint(std::int64_t installation_id, call_options o) {
    const std::string path =
        "/app/installations/" + std::to_string(installation_id) + "/access_tokens";
    // The mint's own retry policy: the caller's deadline and attempts are for its call.
    o.max_attempts = 0;
    o.deadline = std::chrono::milliseconds(0);
    o.if_none_match = {};
    auto r = co_await as_app(bhttp::verb::post, path, std::nullopt, o);
    if (!r) {
      if (r.error().kind == error_kind::not_found) {
        // The App was uninstalled (or reinstalled under a new id): forget which repositories
        // pointed here, so installation_for_repo asks GitHub again.
        std::erase_if(repo_installations,
                      [&](const auto& entry) { return entry.second == installation_id; });
      }
      co_return std::move(r).error();
    }
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view token;
    std::string_view expires;
    if (parser.parse(r->body).get(doc) != simdjson::SUCCESS ||
        doc["token"].get(token) != simdjson::SUCCESS || token.empty()) {
      co_return make_error(error_kind::transient, "POST " + path + ": answer without a token");
    }
    cached_token entry;
    entry.token = std::string(token);
    std::optional<sys_clock::time_point> at;
    if (doc["expires_at"].get(expires) == simdjson::SUCCESS) {
      at = parse_github_time(expires);
    }
    if (!at) {
      // Installation tokens last an hour (docs.github.com: "Authenticating as a GitHub App
      // installation"); without a readable expires_at, assume the least of that we can.
      (o.log != nullptr ? *o.log : logger)
          .warn("installation token without a readable expires_at; assuming one hour",
                {{"installation_id", std::to_string(installation_id)}});
      at = now() + std::chrono::hours(1);
    }
    entry.expires_at = *at;
    tokens[installation_id] = entry;
    co_return std::move(entry.token);
  }
};

app_client::app_client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
app_client::~app_client() = default;

result<std::unique_ptr<app_client>> app_client::create(asio::any_io_executor executor,
                                                       github_settings settings,
                                                       log::logger logger) {
  auto p = std::make_unique<impl>();
  p->executor = executor;
  p->logger = std::move(logger);
  if (settings.app_id.empty()) {
    return make_error(error_kind::invalid_input, "GitHub App id (FERRY_APP_ID) is empty");
  }
  auto key = load_app_key(settings.private_key_pem);
  if (!key) {
    return std::move(key).error();
  }
  p->key = std::move(key).value();
  // The PEM is not kept beyond this point: the parsed key is all signing needs.
  settings.private_key_pem.clear();
  p->api_url = trim_trailing_slashes(settings.api_url);
  p->graphql_url = settings.graphql_url.empty() ? derive_graphql_url(p->api_url)
                                                : trim_trailing_slashes(settings.graphql_url);
  for (const std::string* u : {&p->api_url, &p->graphql_url}) {
    auto l = lower(*u);
    if (l.rfind("https://", 0) != 0 && l.rfind("http://", 0) != 0) {
      return make_error(error_kind::invalid_input,
                        "GitHub URL must start with https:// or http://: " + *u);
    }
  }
  auto http = http_client::create(executor, settings.http);
  if (!http) {
    return std::move(http).error();
  }
  p->http = std::move(http).value();
  const auto writes_setting_bad = [](const char* name, int value) -> std::optional<error> {
    if (value >= 1 && value <= limits::k_github_writes_setting_max) {
      return std::nullopt;
    }
    return error{error_kind::invalid_input,
                 std::string("GitHub writes ") + name + " must be 1.." +
                     std::to_string(limits::k_github_writes_setting_max) + ", got " +
                     std::to_string(value)};
  };
  if (auto bad = writes_setting_bad("per minute", settings.writes.per_minute)) {
    return std::move(*bad);
  }
  if (auto bad = writes_setting_bad("per hour", settings.writes.per_hour)) {
    return std::move(*bad);
  }
  p->budget.emplace(settings.writes);
  p->settings = std::move(settings);
  return std::unique_ptr<app_client>(new app_client(std::move(p)));
}

const std::string& app_client::api_url() const noexcept {
  return impl_->api_url;
}
const std::string& app_client::graphql_url() const noexcept {
  return impl_->graphql_url;
}
http_client& app_client::http() noexcept {
  return *impl_->http;
}
result<std::string> app_client::app_jwt() {
  return impl_->current_jwt();
}

void app_client::forget_installation_token(std::int64_t installation_id) {
  impl_->tokens.erase(installation_id);
}

asio::awaitable<result<std::string>> app_client::installation_token(std::int64_t installation_id,
                                                                    call_options options) {
  auto& p = *impl_;
  if (auto it = p.tokens.find(installation_id);
      it != p.tokens.end() && p.now() + p.settings.token_refresh_margin < it->second.expires_at) {
    co_return it->second.token;
  }
  if (auto it = p.flights.find(installation_id); it != p.flights.end()) {
    auto flight = it->second;
    boost::system::error_code ec;
    co_await flight->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (flight->outcome) {
      co_return *flight->outcome;
    }
    co_return make_error(error_kind::transient, "installation token request abandoned");
  }
  auto flight = std::make_shared<impl::mint_flight>(p.executor);
  p.flights.emplace(installation_id, flight);
  // Whatever happens to this coroutine (an answer, an error, destruction on shutdown), the
  // flight leaves the map and its waiters are woken.
  struct finish {
    impl& p;
    std::int64_t id;
    std::shared_ptr<impl::mint_flight> f;
    ~finish() {
      if (auto it = p.flights.find(id); it != p.flights.end() && it->second == f) {
        p.flights.erase(it);
      }
      f->done.cancel();
    }
  } guard{p, installation_id, flight};
  auto r = co_await p.mint(installation_id, options);
  flight->outcome = r;
  co_return r;
}

asio::awaitable<result<std::int64_t>> app_client::installation_for_repo(std::string_view owner,
                                                                        std::string_view repo,
                                                                        call_options options) {
  if (!text::is_github_owner(owner) || !text::is_github_repo_name(repo)) {
    co_return make_error(error_kind::invalid_input,
                         "not a repository name: " + std::string(owner) + "/" + std::string(repo));
  }
  auto& p = *impl_;
  const std::string key = lower(owner) + "/" + lower(repo);
  if (auto it = p.repo_installations.find(key); it != p.repo_installations.end()) {
    co_return it->second;
  }
  const std::string path =
      "/repos/" + std::string(owner) + "/" + std::string(repo) + "/installation";
  auto r = co_await p.as_app(bhttp::verb::get, path, std::nullopt, options);
  if (!r) {
    co_return std::move(r).error();
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::int64_t id = 0;
  if (parser.parse(r->body).get(doc) != simdjson::SUCCESS ||
      doc["id"].get(id) != simdjson::SUCCESS || id <= 0) {
    co_return make_error(error_kind::transient, "GET " + path + ": answer without an id");
  }
  p.repo_installations[key] = id;
  co_return id;
}

asio::awaitable<result<app_identity>> app_client::fetch_app_info() {
  auto& p = *impl_;
  auto r = co_await p.as_app(bhttp::verb::get, "/app", std::nullopt, {});
  if (!r) {
    co_return std::move(r).error();
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  app_identity out;
  std::string_view slug;
  std::string_view name;
  if (parser.parse(r->body).get(doc) != simdjson::SUCCESS ||
      doc["id"].get(out.id) != simdjson::SUCCESS || doc["slug"].get(slug) != simdjson::SUCCESS) {
    co_return make_error(error_kind::transient, "GET /app: answer without id and slug");
  }
  out.slug = std::string(slug);
  if (doc["name"].get(name) == simdjson::SUCCESS) {
    out.name = std::string(name);
  }
  p.identity = out;
  co_return out;
}

std::optional<app_identity> app_client::app_info() const {
  return impl_->identity;
}

asio::awaitable<void> app_client::refresh_app_info_until_ok(std::chrono::milliseconds first_retry,
                                                            std::chrono::milliseconds max_retry) {
  auto wait = first_retry;
  for (;;) {
    auto r = co_await fetch_app_info();
    if (r) {
      impl_->logger.info("GitHub App identified",
                         {{"app_id", std::to_string(r->id)}, {"app_slug", r->slug}});
      co_return;
    }
    impl_->logger.warn("GET /app failed; retrying",
                       {{"error", r.error().message}, {"kind", to_string(r.error().kind)}});
    asio::steady_timer t(impl_->executor, wait);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      co_return;  // cancelled: shutting down
    }
    wait = std::min(wait * 2, max_retry);
  }
}

asio::awaitable<result<http_response>> app_client::app_rest(bhttp::verb method,
                                                            std::string_view path,
                                                            std::optional<json::value> body,
                                                            call_options options) {
  if (path.empty() || path.front() != '/') {
    co_return make_error(error_kind::invalid_input,
                         "API path must start with '/': " + std::string(path));
  }
  co_return co_await impl_->as_app(method, path, body, options);
}

asio::awaitable<result<http_response>> app_client::rest(bhttp::verb method, std::string_view path,
                                                        std::optional<json::value> body,
                                                        std::int64_t installation_id,
                                                        call_options options) {
  if (path.empty() || path.front() != '/') {
    co_return make_error(error_kind::invalid_input,
                         "API path must start with '/': " + std::string(path));
  }
  auto& p = *impl_;
  if (method != bhttp::verb::get && method != bhttp::verb::head) {
    auto refused = co_await p.admit_write(
        installation_id, verb_name(method) + " " + std::string(path.substr(0, path.find('?'))),
        options);
    if (refused) {
      co_return std::move(*refused);
    }
  }
  // An installation token can expire or be revoked in the middle of a delivery (tokens last an
  // hour; a token cached near its end, a clock skew, an App permission change). A 401 means
  // GitHub did nothing, so a fresh token and one more attempt are safe, for writes too.
  for (int attempt = 1;; ++attempt) {
    auto token = co_await installation_token(installation_id, options);
    if (!token) {
      co_return std::move(token).error();
    }
    auto r = co_await p.send(
        p.make_request(method, p.api_url + std::string(path), "token " + *token, body, options),
        verb_name(method), path, options, installation_id);
    if (!r && r.error().kind == error_kind::unauthorized) {
      forget_installation_token(installation_id);
      if (attempt < limits::k_token_401_attempts) {
        continue;
      }
    }
    co_return r;
  }
}

asio::awaitable<result<std::vector<http_response>>> app_client::rest_pages(
    std::string_view path, std::int64_t installation_id, int max_pages, call_options options) {
  std::vector<http_response> pages;
  auto first = co_await rest(bhttp::verb::get, path, std::nullopt, installation_id, options);
  if (!first) {
    co_return std::move(first).error();
  }
  auto& p = *impl_;
  auto next = next_page_url(*first);
  pages.push_back(std::move(first).value());
  const std::string origin = p.api_url + "/";
  while (next) {
    if (static_cast<int>(pages.size()) >= max_pages) {
      co_return make_error(error_kind::invalid_input, "GET " + std::string(path) + ": more than " +
                                                          std::to_string(max_pages) + " pages");
    }
    if (next->rfind(origin, 0) != 0) {
      co_return make_error(
          error_kind::internal,
          "GET " + std::string(path) + ": next page outside the API base URL refused: " + *next);
    }
    std::string next_path = next->substr(p.api_url.size());
    auto token = co_await installation_token(installation_id, options);
    if (!token) {
      co_return std::move(token).error();
    }
    auto r = co_await p.send(
        p.make_request(bhttp::verb::get, *next, "token " + *token, std::nullopt, options), "GET",
        next_path, options);
    if (!r) {
      if (r.error().kind == error_kind::unauthorized) {
        forget_installation_token(installation_id);
      }
      co_return std::move(r).error();
    }
    next = next_page_url(*r);
    pages.push_back(std::move(r).value());
  }
  co_return pages;
}

asio::awaitable<result<http_response>> app_client::graphql_raw(std::string_view query,
                                                               json::object variables,
                                                               std::int64_t installation_id,
                                                               call_options options) {
  auto& p = *impl_;
  json::object body_object;
  body_object["query"] = query;
  body_object["variables"] = std::move(variables);
  const json::value body(std::move(body_object));
  const auto text_start = query.find_first_not_of(" \t\r\n");
  if (text_start != std::string_view::npos && query.substr(text_start).starts_with("mutation")) {
    auto refused = co_await p.admit_write(installation_id, "POST graphql (mutation)", options);
    if (refused) {
      co_return std::move(*refused);
    }
  }
  result<http_response> r = make_error(error_kind::internal, "POST graphql: not sent");
  // As in rest(): a 401 gets one fresh installation token and one more attempt.
  for (int attempt = 1;; ++attempt) {
    auto token = co_await installation_token(installation_id, options);
    if (!token) {
      co_return std::move(token).error();
    }
    r = co_await p.send(
        p.make_request(bhttp::verb::post, p.graphql_url, "token " + *token, body, options), "POST",
        "graphql", options, installation_id);
    if (!r && r.error().kind == error_kind::unauthorized) {
      forget_installation_token(installation_id);
      if (attempt < limits::k_token_401_attempts) {
        continue;
      }
    }
    break;
  }
  co_return r;
}

asio::awaitable<result<http_response>> app_client::graphql(std::string_view query,
                                                           json::object variables,
                                                           std::int64_t installation_id,
                                                           call_options options) {
  auto r = co_await graphql_raw(query, std::move(variables), installation_id, options);
  if (!r) {
    co_return r;
  }
  auto errors = graphql_errors(r->body);
  if (!errors) {
    co_return errors.error();
  }
  if (errors->empty()) {
    co_return r;
  }
  co_return graphql_failure(*errors);
}

}  // namespace ferry::github
