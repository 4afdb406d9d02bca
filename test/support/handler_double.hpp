#pragma once
// ferry's handlers run in process against the GitHub double (and, when a test asks, the
// Kubernetes double): the doubles and the example infra repository come from serve_double_test
// (no `ferry serve` is started); the clients are the real ones (app_client over HTTP, libgit2
// mirrors over git smart HTTP, kube::client over TLS). A test hands a delivery to the
// dispatcher, the way the server does after the signature check, and reads the outcome from the
// doubles' control planes. Header-only, like serve_double.hpp.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "handlers/registry.hpp"
#include "service/dispatch.hpp"
#include "service/events/events.hpp"
#include "service/git/mirror.hpp"
#include "service/github/app_client.hpp"
#include "service/kube/client.hpp"
#include "service/log.hpp"
#include "test/support/kube_double.hpp"
#include "test/support/serve_double.hpp"

namespace ferry::test::e2e {

class handler_double_test : public serve_double_test {
 protected:
  bool runs_ferry_process() const override { return false; }

  void SetUp() override {
    serve_double_test::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    github::github_settings gh;
    gh.api_url = double_url_;
    gh.graphql_url = double_url_ + "/graphql";
    gh.app_id = app_id_;
    gh.private_key_pem = read_all(private_key_path_);
    auto client = github::app_client::create(ioc_.get_executor(), std::move(gh), {});
    ASSERT_TRUE(client.ok()) << client.error().message;
    github_ = std::move(*client);
    git::mirror_settings ms;
    ms.cache_dir = (dir_ / "cache").string();
    auto mirrors = git::mirror_registry::create(std::move(ms));
    ASSERT_TRUE(mirrors.ok()) << mirrors.error().message;
    mirrors_ = std::move(*mirrors);

    settings_.github = github_.get();
    settings_.mirrors = mirrors_.get();
    settings_.pool = &pool_;
    settings_.infra_repos = {{"dine-together", "infra"}};
  }

  void TearDown() override {
    if (kube_) {
      const auto v = kube_->control(http::verb::get, "/_double/violations");
      EXPECT_EQ(v.body, "[]") << v.body;
    }
    // Applies followed in the background end with the io_context; nothing outlives the test.
    ioc_.stop();
    kube_client_.reset();
    kube_.reset();
    serve_double_test::TearDown();
  }

  // A Kubernetes double serving `namespaces`, with ferry's client on it and the apply policy
  // serve would read from FERRY_APPLY_NAMESPACES / FERRY_APPLY_SERVICE_ACCOUNTS.
  void use_kube(std::vector<std::string> namespaces) {
    kube_.emplace(namespaces);
    kube::kube_settings ks;
    ks.api_url = kube_->url();
    ks.token_file = kube_->token_file().string();
    ks.ca_file = kube_->ca_file().string();
    auto made = kube::client::create(ioc_.get_executor(), std::move(ks));
    ASSERT_TRUE(made.ok()) << made.error().message;
    kube_client_ = std::move(*made);
    settings_.kube = kube_client_.get();
    settings_.job_policy.namespaces = {"flux-system"};
    settings_.job_policy.service_accounts = {"ferry-apply"};
  }

  // The example's Flux objects (test/support/kube_double.hpp).
  void seed_flux() { kube_->seed_example_flux(); }
  // The cluster the example rules apply to: a Kubernetes double serving flux-system (and
  // `more` namespaces), with the Flux objects staging's apply names.
  void use_example_cluster(std::vector<std::string> more = {}) {
    more.insert(more.begin(), "flux-system");
    use_kube(std::move(more));
    seed_flux();
  }

  // Runs `task` on the test's io_context until it finishes (at most `deadline`); nullopt when
  // it did not.
  template <typename T>
  std::optional<T> run(boost::asio::awaitable<T> task,
                       std::chrono::seconds deadline = std::chrono::seconds(60)) {
    std::optional<T> out;
    boost::asio::co_spawn(
        ioc_, [&]() -> boost::asio::awaitable<void> { out.emplace(co_await std::move(task)); },
        boost::asio::detached);
    ioc_.restart();
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!out && std::chrono::steady_clock::now() < until) {
      ioc_.run_one_for(std::chrono::milliseconds(100));
    }
    return out;
  }

  // Keeps the io_context turning (background applies, their statuses) until `probe` holds.
  bool run_until(const std::function<bool()>& probe,
                 std::chrono::seconds deadline = std::chrono::seconds(60)) {
    ioc_.restart();
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      if (probe()) {
        return true;
      }
      ioc_.run_for(std::chrono::milliseconds(50));
    }
    return probe();
  }

  // One delivery through the dispatcher, as the server hands it over after the signature check.
  service::handler_result dispatch(const std::string& event_name, const std::string& id,
                                   const std::string& payload) {
    if (!dispatch_) {
      // The same shared settings as start_apply's (one apply tracker, one rules cache).
      if (!shared_) {
        shared_ = handlers::share_settings(settings_);
      }
      dispatch_ = handlers::make_shared_dispatcher(shared_);
    }
    auto parsed = events::parse_event(event_name, payload);
    if (!parsed) {
      return parsed.error();
    }
    const events::event ev = std::move(*parsed);
    const log::logger log;
    const service::delivery d{id, event_name, ev, log};
    auto out = run(dispatch_(d));
    if (!out) {
      return make_error(error_kind::internal, "the handler did not finish");
    }
    return *out;
  }
  // A recorded webhook (serve_double_test::webhooks) through the dispatcher.
  service::handler_result dispatch_recorded(const json::value& webhook) {
    const auto& w = webhook.as_object();
    return dispatch(std::string(w.at("event").as_string()),
                    std::string(w.at("delivery_id").as_string()), json::serialize(w.at("payload")));
  }

  // The double's request log (GET /_double/requests), and how many of its entries wrote.
  json::array requests() {
    return json::parse(control(http::verb::get, "/_double/requests").body).as_array();
  }
  int github_writes() {
    int n = 0;
    for (const auto& r : requests()) {
      n += is_github_write(r.as_object()) ? 1 : 0;
    }
    return n;
  }

  // Moves the infra repository's `ref` with `files` changed, as a person's push would; returns
  // the new head.
  std::string push_files(const std::string& ref, const json::object& files,
                         const std::string& message = {}) {
    json::object body{{"ref", ref}, {"files", files}};
    if (!message.empty()) {
      body["message"] = message;
    }
    const auto moved = control(http::verb::post, "/_double/repos/dine-together/infra/move-ref",
                               json::serialize(body));
    EXPECT_EQ(moved.status / 100, 2) << moved.body;
    return moved.status / 100 == 2
               ? std::string(json::parse(moved.body).as_object().at("to").as_string())
               : std::string();
  }

  boost::asio::io_context ioc_{1};
  boost::asio::thread_pool pool_{1};
  std::unique_ptr<github::app_client> github_;
  std::unique_ptr<git::mirror_registry> mirrors_;
  std::optional<kube_double> kube_;
  std::unique_ptr<kube::client> kube_client_;
  handlers::handler_settings settings_;
  std::shared_ptr<const handlers::handler_settings> shared_;
  service::dispatch_fn dispatch_;
};

// The same with the example's cluster (use_example_cluster) from the start: for the handlers that
// apply.
class handler_cluster_test : public handler_double_test {
 protected:
  void SetUp() override {
    handler_double_test::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    use_example_cluster(extra_namespaces());
  }
  // Namespaces the cluster serves besides flux-system (a test's Canary's, say).
  virtual std::vector<std::string> extra_namespaces() { return {}; }
};

}  // namespace ferry::test::e2e
