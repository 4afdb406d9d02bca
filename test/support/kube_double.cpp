#include "test/support/kube_double.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <optional>
#include <regex>
#include <stdexcept>
#include <thread>

namespace ferry::test {

namespace {

std::filesystem::path script() {
  return std::filesystem::path(FERRY_KUBE_DOUBLE);
}

}  // namespace

kube_double::kube_double(const std::vector<std::string>& namespaces) {
  const auto server = script();
  const auto make_pki = server.parent_path() / "make-pki.sh";
  if (!std::filesystem::exists(server) || !std::filesystem::exists(make_pki)) {
    throw std::runtime_error("kube double not found: " + server.string() + " and " +
                             make_pki.string());
  }
  auto pki = run({"bash", make_pki.string(), dir_.path().string()}, {}, std::chrono::seconds(60));
  if (pki.exit_code != 0) {
    throw std::runtime_error("make-pki.sh failed: " + pki.err);
  }
  std::vector<std::string> argv{"node",         server.string(),
                                "--cert",       (dir_.path() / "server.pem").string(),
                                "--key",        (dir_.path() / "server-key.pem").string(),
                                "--token-file", token_file().string(),
                                "--port",       "0"};
  if (!namespaces.empty()) {
    std::string list;
    for (const auto& ns : namespaces) {
      list += (list.empty() ? "" : ",") + ns;
    }
    argv.push_back("--namespaces");
    argv.push_back(list);
  }
  child_ = std::make_unique<child>(argv);
  // The double prints {"port":N,"url":"https://127.0.0.1:N"} once it listens.
  static const std::regex k_url(R"re("url"\s*:\s*"([^"]+)")re");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    std::smatch m;
    const std::string out = child_->out();
    if (std::regex_search(out, m, k_url)) {
      url_ = m[1];
      break;
    }
    if (auto ended = child_->wait_for(std::chrono::milliseconds(0))) {
      throw std::runtime_error("kube double exited: " + ended->err);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("kube double did not start: " + child_->err());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

kube_double::~kube_double() {
  if (child_) {
    child_->signal(SIGTERM);
    if (!child_->wait_for(std::chrono::seconds(5))) {
      child_->signal(SIGKILL);
      child_->wait_for(std::chrono::seconds(5));
    }
  }
}

void kube_double::rotate_token(const std::string& token) const {
  // Write a new file and rename it over the old one: the kubelet's atomic writer swaps a
  // symlink the same way, so a reader never sees half a token.
  const auto tmp = dir_.path() / "token.new";
  write_text(tmp, token);
  std::filesystem::rename(tmp, token_file());
}

github::http_request kube_double::control_request(boost::beast::http::verb method,
                                                  const std::string& path, std::string body) const {
  github::http_request req;
  req.method = method;
  req.url = url_ + path;
  req.body = std::move(body);
  req.max_attempts = 1;
  if (!req.body.empty()) {
    req.headers.push_back({"content-type", "application/json"});
  }
  return req;
}

result<std::unique_ptr<github::http_client>> kube_double::control_client(
    boost::asio::any_io_executor executor) const {
  github::http_settings s;
  s.ca_file = ca_file().string();
  s.attempt_timeout = std::chrono::seconds(10);
  s.max_attempts = 1;
  return github::http_client::create(std::move(executor), std::move(s));
}

kube_double::reply kube_double::control(boost::beast::http::verb method, const std::string& path,
                                        std::string body) const {
  boost::asio::io_context ioc;
  auto client = control_client(ioc.get_executor());
  if (!client) {
    throw std::runtime_error(client.error().message);
  }
  std::optional<result<github::http_response>> out;
  boost::asio::co_spawn(
      ioc,
      [&]() -> boost::asio::awaitable<void> {
        out = co_await (*client)->request(control_request(method, path, std::move(body)));
      },
      boost::asio::detached);
  ioc.run();
  if (!out || !*out) {
    throw std::runtime_error("kube double control " + path + ": " +
                             (out ? out->error().message : std::string("no answer")));
  }
  return reply{(*out)->status, std::move((*out)->body)};
}

void kube_double::seed_example_flux() const {
  const auto r = control(boost::beast::http::verb::post, "/_double/objects", R"([
    {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
     "metadata": {"name": "flux-system", "namespace": "flux-system"},
     "spec": {"url": "https://github.com/dine-together/infra", "interval": "1m",
              "ref": {"branch": "main"}}},
    {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
     "metadata": {"name": "apps", "namespace": "flux-system"},
     "spec": {"interval": "10m", "path": "./clusters/staging", "prune": true,
              "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}}])");
  if (r.status != 200) {
    throw std::runtime_error("seeding the Flux objects: " + std::to_string(r.status) + " " +
                             r.body);
  }
}

}  // namespace ferry::test
