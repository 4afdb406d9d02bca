#pragma once
// A real Kubernetes API server for tests: Debian's etcd and a kube-apiserver v1.20 built by
// test/kube-real/build-apiserver.sh, both on 127.0.0.1, with a fresh state dir, a self-made CA
// and serving certificate, a static admin token (group system:masters), service-account signing
// keys (so the TokenRequest API mints tokens), --authorization-mode=RBAC, no anonymous access and
// an audit log. Both processes are stopped (SIGTERM, then SIGKILL) when the object goes.
//
// Only the API server runs: no controller-manager, scheduler or kubelet. Jobs get no Pods and no
// status by themselves; a test writes /status as the controller would.
//
// Both run under `setpriv --pdeathsig KILL` (util-linux): should the test process die without
// its destructors (a crash, a CI timeout's SIGKILL), the kernel kills them too, so no API server
// outlives its test.
//
// Neither etcd nor the API server can bind port 0 and report the port, so free ports are picked
// by binding port 0 and closing (what Kubernetes' own integration framework does,
// test/integration/framework/etcd.go); a start that loses the race to another process is retried.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "service/github/http_client.hpp"
#include "test/support/process.hpp"

namespace ferry::test {

// The binaries, from the build (test/CMakeLists.txt passes their paths in).
struct kube_binaries {
  std::filesystem::path apiserver;
  std::filesystem::path etcd;
};

class kube_apiserver {
 public:
  static constexpr std::string_view k_user_agent = "ferry-kube-real-test";

  struct reply {
    int status = 0;
    std::string body;
  };

  // Starts etcd and the API server in `dir` (created; left for the caller to remove) and waits
  // until /readyz answers 200 (RBAC's bootstrap roles included). Throws std::runtime_error with
  // the logs' tails when they do not come up.
  kube_apiserver(kube_binaries bin, std::filesystem::path dir)
      : bin_(std::move(bin)), dir_(std::move(dir)) {
    for (const auto& [what, p] :
         {std::pair{"kube-apiserver", bin_.apiserver}, {"etcd", bin_.etcd}}) {
      if (p.empty() || !std::filesystem::exists(p)) {
        throw std::runtime_error(std::string(what) + " not found at '" + p.string() +
                                 "': run infra/install-deps.sh --test (it builds or installs it)");
      }
    }
    std::filesystem::create_directories(dir_);
    make_pki();
    std::string last_error;
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (auto error = start(); !error) {
        return;
      } else {
        last_error = *error;
      }
      stop();
      if (last_error.find("address already in use") == std::string::npos) {
        break;  // only a lost port race is worth another try
      }
    }
    throw std::runtime_error(last_error);
  }
  ~kube_apiserver() { stop(); }
  kube_apiserver(const kube_apiserver&) = delete;
  kube_apiserver& operator=(const kube_apiserver&) = delete;

  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  unsigned short port() const { return port_; }
  std::filesystem::path ca_file() const { return dir_ / "ca.crt"; }
  std::filesystem::path admin_token_file() const { return dir_ / "admin.token"; }
  std::string admin_token() const { return read_text(admin_token_file()); }
  std::filesystem::path kubeconfig() const { return dir_ / "kubeconfig"; }
  std::filesystem::path audit_log() const { return dir_ / "audit.log"; }
  std::string apiserver_log() const { return apiserver_ ? apiserver_->err() : std::string(); }
  std::chrono::milliseconds startup_time() const { return startup_; }

  // One request with `token` (the admin's when empty). Throws when no answer came.
  reply request(boost::beast::http::verb method, const std::string& path, std::string body = {},
                std::string token = {},
                const std::string& content_type = "application/json") const {
    boost::asio::io_context ioc;
    github::http_settings s;
    s.ca_file = ca_file().string();
    // Not ferry's: the audit log tells the test's own requests from ferry's by this.
    s.user_agent = std::string(k_user_agent);
    s.attempt_timeout = std::chrono::seconds(30);
    s.max_attempts = 1;
    auto client = github::http_client::create(ioc.get_executor(), std::move(s));
    if (!client) {
      throw std::runtime_error(client.error().message);
    }
    github::http_request req;
    req.method = method;
    req.url = url() + path;
    req.body = std::move(body);
    req.max_attempts = 1;
    req.headers.push_back(
        {"authorization", "Bearer " + (token.empty() ? admin_token() : std::move(token))});
    req.headers.push_back({"accept", "application/json"});
    if (!req.body.empty()) {
      req.headers.push_back({"content-type", content_type});
    }
    std::optional<result<github::http_response>> out;
    boost::asio::co_spawn(
        ioc,
        [&]() -> boost::asio::awaitable<void> {
          out = co_await (*client)->request(std::move(req));
        },
        boost::asio::detached);
    ioc.run();
    (*client)->close_idle_connections();
    if (!out || !*out) {
      throw std::runtime_error("kube-apiserver " + path + ": " +
                               (out ? out->error().message : std::string("no answer")));
    }
    return reply{(*out)->status, std::move((*out)->body)};
  }

 private:
  static unsigned short free_port() {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(
        ioc, {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(0)});
    return a.local_endpoint().port();
  }

  void openssl(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run(argv, {}, std::chrono::seconds(60));
    if (r.exit_code != 0) {
      throw std::runtime_error("openssl " + args.front() + " failed: " + r.err);
    }
  }

  // A CA, a serving certificate for 127.0.0.1 signed by it, the service-account key pair and an
  // admin token: what kubeadm makes for a control plane, minus everything client-cert based.
  void make_pki() {
    const auto p = [&](const char* f) { return (dir_ / f).string(); };
    openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", p("ca.key"),
             "-out", p("ca.crt"), "-subj", "/CN=ferry-kube-real-ca"});
    openssl({"req", "-newkey", "rsa:2048", "-nodes", "-keyout", p("apiserver.key"), "-out",
             p("apiserver.csr"), "-subj", "/CN=kube-apiserver"});
    write_text(dir_ / "san.cnf",
               "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    openssl({"x509", "-req", "-in", p("apiserver.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
             "-CAcreateserial", "-days", "2", "-out", p("apiserver.crt"), "-extfile",
             p("san.cnf")});
    openssl({"genrsa", "-out", p("sa.key"), "2048"});
    openssl({"rsa", "-in", p("sa.key"), "-pubout", "-out", p("sa.pub")});
    const auto token = run({"openssl", "rand", "-hex", "24"});
    std::string t = token.out;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) {
      t.pop_back();
    }
    if (t.size() != 48) {
      throw std::runtime_error("openssl rand gave no token");
    }
    write_text(admin_token_file(), t);
    // --token-auth-file: token,user,uid,"group1,group2". system:masters is what RBAC's
    // bootstrap binds to cluster-admin.
    write_text(dir_ / "tokens.csv", t + ",ferry-test-admin,ferry-test-admin,system:masters\n");
    // Metadata for every request but the API server's own: who did what, and the answer code.
    write_text(dir_ / "audit-policy.yaml",
               "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\n"
               "rules:\n  - level: None\n    users: [\"system:apiserver\"]\n"
               "  - level: Metadata\n");
  }

  // Starts both; the error text (with the logs' tails) when they do not come up.
  std::optional<std::string> start() {
    const auto t0 = std::chrono::steady_clock::now();
    const unsigned short etcd_port = free_port();
    const unsigned short peer_port = free_port();
    port_ = free_port();
    const std::string etcd_url = "http://127.0.0.1:" + std::to_string(etcd_port);
    const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer_port);
    std::filesystem::remove_all(dir_ / "etcd");
    etcd_ = std::make_unique<child>(std::vector<std::string>{
        "setpriv", "--pdeathsig", "KILL", "--", bin_.etcd.string(), "--name=ferry-test",
        "--data-dir=" + (dir_ / "etcd").string(), "--listen-client-urls=" + etcd_url,
        "--advertise-client-urls=" + etcd_url, "--listen-peer-urls=" + peer_url,
        "--initial-advertise-peer-urls=" + peer_url, "--initial-cluster=ferry-test=" + peer_url,
        "--logger=zap", "--log-level=warn"});
    const auto d = [&](const char* f) { return (dir_ / f).string(); };
    apiserver_ = std::make_unique<child>(std::vector<std::string>{
        "setpriv",
        "--pdeathsig",
        "KILL",
        "--",
        bin_.apiserver.string(),
        "--etcd-servers=" + etcd_url,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        "--secure-port=" + std::to_string(port_),
        "--insecure-port=0",  // 1.20 still opens a plain-HTTP port unless told not to
        "--tls-cert-file=" + d("apiserver.crt"),
        "--tls-private-key-file=" + d("apiserver.key"),
        "--cert-dir=" + d("certs"),
        "--token-auth-file=" + d("tokens.csv"),
        "--anonymous-auth=false",
        "--authorization-mode=RBAC",
        // TokenRequest needs an issuer and a signing key; the public key verifies the tokens.
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file=" + d("sa.pub"),
        "--service-account-signing-key-file=" + d("sa.key"),
        "--service-cluster-ip-range=10.96.0.0/24",
        "--endpoint-reconciler-type=none",  // no endpoints for the `kubernetes` Service
        "--profiling=false",
        // Without it 1.20 silently drops spec.ttlSecondsAfterFinished from Jobs (beta, off).
        "--feature-gates=TTLAfterFinished=true",
        "--audit-policy-file=" + d("audit-policy.yaml"),
        "--audit-log-path=" + audit_log().string(),
        "--audit-log-maxsize=100",
    });
    // etcd first answers /health; the API server waits for it by itself, so only its /readyz
    // is polled (with a deadline).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (std::chrono::steady_clock::now() < deadline) {
      for (auto* c : {etcd_.get(), apiserver_.get()}) {
        if (auto ended = c->wait_for(std::chrono::milliseconds(0))) {
          return (c == etcd_.get() ? "etcd" : "kube-apiserver") +
                 std::string(" exited before it was ready:\n") + tail(ended->err);
        }
      }
      try {
        if (request(boost::beast::http::verb::get, "/readyz").status == 200) {
          startup_ = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - t0);
          write_kubeconfig();
          return std::nullopt;
        }
      } catch (const std::exception&) {
        // not listening yet
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling with a deadline
    }
    return "kube-apiserver not ready within 90 s:\n" + tail(apiserver_->err()) + "\netcd:\n" +
           tail(etcd_->err());
  }

  void write_kubeconfig() const {
    write_text(kubeconfig(),
               "apiVersion: v1\nkind: Config\nclusters:\n  - name: kube-real\n    cluster:\n"
               "      server: " +
                   url() + "\n      certificate-authority: " + ca_file().string() +
                   "\nusers:\n  - name: admin\n    user:\n      tokenFile: " +
                   admin_token_file().string() +
                   "\ncontexts:\n  - name: kube-real\n    context: {cluster: kube-real, user: "
                   "admin}\ncurrent-context: kube-real\n");
  }

  static std::string tail(const std::string& text, std::size_t n = 3000) {
    return text.size() <= n ? text : text.substr(text.size() - n);
  }

  void stop() {
    for (auto* c : {&apiserver_, &etcd_}) {
      if (*c && !(*c)->wait_for(std::chrono::milliseconds(0))) {  // never signal a reaped pid
        (*c)->signal(SIGTERM);
        if (!(*c)->wait_for(std::chrono::seconds(10))) {
          (*c)->signal(SIGKILL);
          (*c)->wait_for(std::chrono::seconds(10));
        }
      }
    }
    // Keep the objects (and their logs) until the next start or destruction.
  }

  kube_binaries bin_;
  std::filesystem::path dir_;
  unsigned short port_ = 0;
  std::unique_ptr<child> etcd_;
  std::unique_ptr<child> apiserver_;
  std::chrono::milliseconds startup_{0};
};

}  // namespace ferry::test
