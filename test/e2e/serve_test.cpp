// The real `ferry serve`, configured through its environment as a Deployment would be, fed
// with `ferry replay` (the real binary too): readiness, signed deliveries, a wrong secret,
// /metrics, JSON logs, SIGTERM drain, and configuration errors (SPEC "Command line", "Service
// configuration", "HTTP endpoints").

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "service/limits.hpp"
#include "test/support/process.hpp"

namespace ferry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::child;
using test::env_overrides;
using test::process_result;
using test::run;
using test::temp_dir;

constexpr const char* k_secret = "e2e-webhook-secret-7f3a9c";

std::string describe(const process_result& r) {
  return "exit " + std::to_string(r.exit_code) + " signal " + std::to_string(r.signal) +
         "\n--- stdout\n" + r.out + "\n--- stderr\n" + r.err;
}

// A port the kernel considered free a moment ago (bind port 0, read it, close). Another process
// may take it before ferry binds; the caller retries on "address in use".
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct http_answer {
  int status = 0;
  std::string body;
};

// GET over a fresh connection, HTTP/1.1 with Connection: close; std::nullopt when nothing
// listens (yet).
std::optional<http_answer> http_get(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return std::nullopt;
  }
  std::string raw;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      break;
    }
    raw.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  std::smatch m;
  if (!std::regex_search(raw, m, std::regex(R"(^HTTP/1\.1 (\d{3}) )"))) {
    return std::nullopt;
  }
  http_answer out;
  out.status = std::stoi(m[1].str());
  const auto body_at = raw.find("\r\n\r\n");
  out.body = body_at == std::string::npos ? "" : raw.substr(body_at + 4);
  return out;
}

// The environment of a valid configuration: a real RSA key written by the openssl CLI.
class service_config {
 public:
  service_config() {
    key_ = dir_.path() / "app.pem";
    const auto r = run({"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", key_.string()});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
  }
  env_overrides env(int port) const {
    return {{"FERRY_LISTEN", "127.0.0.1:" + std::to_string(port)},
            {"FERRY_WEBHOOK_SECRET", k_secret},
            {"FERRY_APP_ID", "123"},
            {"FERRY_PRIVATE_KEY_FILE", key_.string()},
            {"FERRY_INFRA_REPOS", "o/r"},
            // Nothing listens on port 1: a delivery that needs GitHub fails fast, offline.
            {"FERRY_GITHUB_API_URL", "http://127.0.0.1:1"},
            {"FERRY_CACHE_DIR", (dir_.path() / "cache").string()},
            {"FERRY_LOG_FORMAT", "json"},
            {"FERRY_LOG_LEVEL", "debug"}};
  }

 private:
  temp_dir dir_;
  fs::path key_;
};

// A started `ferry serve` that answered /readyz 200.
struct running_service {
  std::unique_ptr<child> proc;
  int port = 0;
};

std::optional<running_service> start_service(const service_config& config) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    const int port = free_port();
    if (port <= 0) {
      continue;
    }
    auto proc =
        std::make_unique<child>(std::vector<std::string>{FERRY_BINARY, "serve"}, config.env(port));
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    bool exited = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto done = proc->wait_for(0ms)) {
        // Someone took the port between our probe and ferry's bind: try another one.
        const bool in_use = done->err.find("in use") != std::string::npos ||
                            done->out.find("in use") != std::string::npos;
        EXPECT_TRUE(in_use) << "ferry serve exited early\n" << describe(*done);
        exited = true;
        if (!in_use) {
          return std::nullopt;
        }
        break;
      }
      if (auto a = http_get(port, "/readyz"); a && a->status == 200) {
        return running_service{std::move(proc), port};
      }
      std::this_thread::sleep_for(10ms);
    }
    if (!exited) {
      ADD_FAILURE() << "ferry serve did not answer /readyz 200 within 30 s\n" << proc->err();
      return std::nullopt;
    }
  }
  ADD_FAILURE() << "no free port after 5 attempts";
  return std::nullopt;
}

process_result replay(int port, const std::string& secret, const std::string& event,
                      const std::vector<std::string>& files) {
  std::vector<std::string> argv = {
      FERRY_BINARY, "replay", "--url",   "http://127.0.0.1:" + std::to_string(port) + "/webhook",
      "--secret",   secret,   "--event", event};
  argv.insert(argv.end(), files.begin(), files.end());
  return run(argv);
}

// `name{labels} value` lines of the exposition text, by name{labels}.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  const std::regex line(R"(^([a-z_]+(\{[^}]*\})?) ([0-9.eE+-]+)$)");
  std::size_t at = 0;
  while (at < text.size()) {
    auto end = text.find('\n', at);
    if (end == std::string::npos) {
      end = text.size();
    }
    const std::string l = text.substr(at, end - at);
    std::smatch m;
    if (std::regex_match(l, m, line)) {
      out[m[1].str()] = std::stod(m[3].str());
    }
    at = end + 1;
  }
  return out;
}

std::string fixture(const char* name) {
  return (fs::path(FERRY_FIXTURES_DIR) / "github" / name).string();
}

TEST(serve, replays_deliveries_reports_metrics_logs_json_and_drains) {
  service_config config;
  auto svc = start_service(config);
  ASSERT_TRUE(svc);
  const int port = svc->port;

  EXPECT_EQ(http_get(port, "/healthz").value_or(http_answer{}).status, 200);

  // GitHub's example package events say package_type npm/docker, not CONTAINER: ignored (204)
  // before any API call, so this needs no GitHub.
  const auto ok =
      replay(port, k_secret, "package", {fixture("package.published.docker-example.json")});
  EXPECT_EQ(ok.exit_code, 0) << describe(ok);
  EXPECT_NE(ok.out.find("event=package"), std::string::npos) << describe(ok);
  EXPECT_TRUE(std::regex_search(ok.out, std::regex(R"(-> 20[04]\n)"))) << describe(ok);

  const auto ok2 = replay(port, k_secret, "registry_package",
                          {fixture("registry_package.published.docker-example.json")});
  EXPECT_EQ(ok2.exit_code, 0) << describe(ok2);

  // A real container publication needs the infra repo's rules from GitHub; with GitHub
  // unreachable the delivery fails loudly (503, so GitHub records it and the sweep redelivers)
  // and replay exits 1.
  const auto unreachable =
      replay(port, k_secret, "registry_package", {fixture("registry_package.published.14k.json")});
  EXPECT_EQ(unreachable.exit_code, 1) << describe(unreachable);
  EXPECT_NE(unreachable.out.find("-> 503"), std::string::npos) << describe(unreachable);

  // A ping is answered 200 (SPEC "Behaviour by event").
  temp_dir dir;
  const auto ping = (dir.path() / "ping.json").string();
  test::write_text(ping, R"({"event": "ping", "payload": {"zen": "Keep it logically awesome.",
    "hook_id": 1}})");
  const auto pinged =
      run({FERRY_BINARY, "replay", "--url", "http://127.0.0.1:" + std::to_string(port) + "/webhook",
           "--secret", k_secret, ping});
  EXPECT_EQ(pinged.exit_code, 0) << describe(pinged);
  EXPECT_NE(pinged.out.find("-> 200"), std::string::npos) << describe(pinged);

  // A wrong secret: 401, and replay exits 1.
  const auto bad =
      replay(port, "not-the-secret", "package", {fixture("package.published.docker-example.json")});
  EXPECT_EQ(bad.exit_code, 1) << describe(bad);
  EXPECT_NE(bad.out.find("-> 401"), std::string::npos) << describe(bad);

  const auto metrics = http_get(port, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  const auto s = samples(metrics->body);
  double package_total = 0, registry_total = 0, ping_total = 0;
  for (const auto& [key, value] : s) {
    if (key.starts_with("ferry_deliveries_total{")) {
      if (key.find("event=\"package\"") != std::string::npos) {
        package_total += value;
      } else if (key.find("event=\"registry_package\"") != std::string::npos) {
        registry_total += value;
      } else if (key.find("event=\"ping\"") != std::string::npos) {
        ping_total += value;
      }
    }
  }
  // The 401 never reached dispatch: it counts as a rejection, not a delivery.
  EXPECT_EQ(package_total, 1) << metrics->body;
  EXPECT_EQ(registry_total, 2) << metrics->body;
  EXPECT_EQ(ping_total, 1) << metrics->body;
  EXPECT_EQ(s.count("ferry_deliveries_total{event=\"ping\",outcome=\"done\"}"), 1u)
      << metrics->body;
  double rejected = 0;
  for (const auto& [key, value] : s) {
    if (key.starts_with("ferry_webhook_rejections_total{")) {
      rejected += value;
    }
  }
  EXPECT_EQ(rejected, 1) << metrics->body;

  // SIGTERM: drain and exit 0 (within the drain timeout, with slack for a loaded machine).
  svc->proc->signal(SIGTERM);
  const auto done = svc->proc->wait_for(limits::k_drain_timeout + 30s);
  ASSERT_TRUE(done) << "still running after SIGTERM";
  EXPECT_EQ(done->exit_code, 0) << describe(*done);

  // Logs: every stdout line is one JSON object; delivery lines carry the delivery id; the
  // secret appears nowhere.
  EXPECT_EQ(done->out.find(k_secret), std::string::npos);
  EXPECT_EQ(done->err.find(k_secret), std::string::npos);
  std::size_t at = 0, lines = 0, delivery_lines = 0;
  std::vector<std::string> deliveries;
  while (at < done->out.size()) {
    const auto end = done->out.find('\n', at);
    ASSERT_NE(end, std::string::npos) << "unterminated log line";
    const std::string line = done->out.substr(at, end - at);
    at = end + 1;
    ++lines;
    boost::system::error_code ec;
    const auto v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << "not JSON: " << line;
    ASSERT_TRUE(v.is_object()) << line;
    const auto& o = v.as_object();
    const auto* msg = o.if_contains("msg") ? o.if_contains("msg") : o.if_contains("message");
    if (msg != nullptr && msg->is_string() &&
        std::string_view(msg->as_string()).starts_with("delivery ")) {
      ++delivery_lines;
      const auto* d = o.if_contains("delivery");
      ASSERT_TRUE(d != nullptr && d->is_string() && !d->as_string().empty()) << line;
      deliveries.emplace_back(d->as_string());
    }
  }
  EXPECT_GE(lines, 3u) << done->out;           // listening, deliveries, draining
  EXPECT_EQ(delivery_lines, 4u) << done->out;  // one per dispatched delivery
  for (const auto& id : deliveries) {
    const bool sent =
        ok.out.find(id) != std::string::npos || ok2.out.find(id) != std::string::npos ||
        unreachable.out.find(id) != std::string::npos || pinged.out.find(id) != std::string::npos;
    EXPECT_TRUE(sent) << id << " was not a delivery replay sent";
  }
}

struct config_error_row {
  const char* name;
  env_overrides change;
  const char* names;  // the variable the message must name
};

TEST(serve, configuration_errors_exit_2_naming_the_variable) {
  service_config config;
  const std::vector<config_error_row> rows = {
      {"missing app id", {{"FERRY_APP_ID", std::nullopt}}, "FERRY_APP_ID"},
      {"unknown variable", {{"FERRY_FOO", "1"}}, "FERRY_FOO"},
      {"missing secret", {{"FERRY_WEBHOOK_SECRET", std::nullopt}}, "FERRY_WEBHOOK_SECRET"},
      {"bad listen address", {{"FERRY_LISTEN", "nowhere"}}, "FERRY_LISTEN"},
  };
  for (const auto& row : rows) {
    auto env = config.env(1);  // never bound: configuration is checked first
    for (const auto& [k, v] : row.change) {
      env[k] = v;
    }
    const auto r = run({FERRY_BINARY, "serve"}, env, 30s);
    EXPECT_EQ(r.exit_code, 2) << row.name << "\n" << describe(r);
    EXPECT_NE(r.err.find(row.names), std::string::npos) << row.name << "\n" << describe(r);
    EXPECT_EQ(r.err.find(k_secret), std::string::npos) << row.name;
    EXPECT_EQ(r.out.find(k_secret), std::string::npos) << row.name;
  }
}

}  // namespace
}  // namespace ferry
