#pragma once
// The real `ferry serve` binary against the GitHub double (test/doubles/github), for end-to-end
// tests: a fixture that starts both on loopback ports (port 0), creates the example infra
// repository in the double, signs and sends deliveries, reads the double's control plane, and
// asserts at the end of each test that the double recorded no contract violation. Header-only
// so any e2e test file can use it without a CMake edit.

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "service/replay.hpp"

namespace ferry::test::e2e {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
namespace json = boost::json;

inline constexpr const char* k_secret = "e2e-webhook-secret";
inline constexpr const char* k_infra = "dine-together/infra";

inline std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A child process whose stdout and stderr go to a file (no pipe to keep drained).
class child {
 public:
  child(std::vector<std::string> argv, std::vector<std::string> env, fs::path log)
      : log_(std::move(log)) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (auto& a : argv) {
      args.push_back(a.data());
    }
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& e : env) {
      envp.push_back(e.data());
    }
    envp.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), envp.data()) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~child() { stop(); }
  // SIGTERM, then the exit status (-1 when it did not exit normally, e.g. killed by a signal
  // such as SIGABRT from a heap check).
  int stop() {
    if (pid_ <= 0) {
      return exit_code_;
    }
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return exit_code_;
  }
  // SIGKILL: the process dies where it stands (no drain), as on a node failure or an OOM kill.
  void kill_hard() {
    if (pid_ <= 0) {
      return;
    }
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_code_ = -1;
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  // The first line of the log containing `needle`, polled until the deadline.
  std::optional<std::string> wait_for_line(
      std::string_view needle, std::chrono::seconds deadline = std::chrono::seconds(60)) const {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      std::istringstream lines(read_all(log_));
      for (std::string line; std::getline(lines, line);) {
        if (line.find(needle) != std::string::npos) {
          return line;
        }
      }
      std::this_thread::sleep_for(
          std::chrono::milliseconds(20));  // polling a file with a deadline, not waiting blind
    }
    return std::nullopt;
  }
  std::string log() const { return read_all(log_); }
  bool started() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  fs::path log_;
};

struct answer {
  int status = 0;
  std::string body;
};

// One HTTP/1.1 request to 127.0.0.1:port; `authorization` is sent when not empty (a REST call
// to the double as an installation: "token ghs_...").
inline answer call(unsigned short port, http::verb method, const std::string& target,
                   const std::string& body = {}, const std::string& authorization = {}) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket(ioc);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::user_agent, "ferry-e2e-test");
  if (!authorization.empty()) {
    req.set(http::field::authorization, authorization);
  }
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  http::write(socket, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  return {static_cast<int>(res.result_int()), res.body()};
}

inline std::string run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) {
    return out;
  }
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) {
    out.append(buf, n);
  }
  pclose(p);
  return out;
}

// A GHCR `package` delivery (the real multi-arch capture, renamed to the example's image).
inline std::string ghcr_package_payload(const std::string& name, const std::string& tag,
                                        const std::string& digest) {
  auto v = json::parse(read_all(fs::path(FERRY_FIXTURES_DIR) / "github" /
                                "package.published.ghcr-multiarch-index.json"));
  auto& p = v.as_object();
  auto& pkg = p["package"].as_object();
  pkg["name"] = name;
  pkg["namespace"] = "dine-together";
  pkg["owner"].as_object()["login"] = "dine-together";
  pkg["html_url"] = "https://github.com/orgs/dine-together/packages/container/package/" + name;
  auto& version = pkg["package_version"].as_object();
  version["name"] = digest;
  version["version"] = digest;
  version["target_commitish"] = "main";
  auto& t = version["container_metadata"].as_object()["tag"].as_object();
  t["name"] = tag;
  t["digest"] = digest;
  auto& r = p["repository"].as_object();
  r["name"] = name;
  r["full_name"] = "dine-together/" + name;
  r["owner"].as_object()["login"] = "dine-together";
  r["html_url"] = "https://github.com/dine-together/" + name;
  p["installation"] = json::object{{"id", 7}};
  return json::serialize(v);
}

// Polls `probe` until it answers true or the deadline passes (no blind sleeps).
inline bool eventually(const std::function<bool()>& probe,
                       std::chrono::seconds deadline = std::chrono::seconds(60)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (probe()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return probe();
}

// What `ferry doctor --output json` reported: its exit code and each check by name.
struct doctor_report {
  int exit_code = -1;
  std::map<std::string, json::object> checks;
  std::string raw;  // stdout and "exit=N", for failure messages
  std::string level(const std::string& name) const {
    const auto it = checks.find(name);
    return it == checks.end() ? "missing" : std::string(it->second.at("level").as_string());
  }
  std::string text(const std::string& name) const {
    const auto it = checks.find(name);
    return it == checks.end() ? std::string() : json::serialize(it->second);
  }
};

class serve_double_test : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(fs::path(FERRY_NODE_MODULES_DIR) / "@octokit" / "openapi"))
        << "run `cd test && npm ci` first";
    char tmpl[] = "/tmp/ferry-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ / "double");
    fs::create_directories(dir_ / "cache");
    double_.emplace(
        std::vector<std::string>{"/usr/bin/node",
                                 std::string(FERRY_SOURCE_DIR) + "/test/doubles/github/server.js",
                                 "--port", "0", "--state-dir", (dir_ / "double").string()},
        std::vector<std::string>{"PATH=/usr/bin:/bin", "HOME=" + dir_.string()},
        dir_ / "double.log");
    const auto hello = double_->wait_for_line("\"port\"");
    ASSERT_TRUE(hello) << double_->log();
    const auto info = json::parse(*hello).as_object();
    double_port_ = static_cast<unsigned short>(info.at("port").as_int64());
    const std::string url = std::string(info.at("url").as_string());
    double_url_ = url;
    app_id_ = std::to_string(info.at("app_id").as_int64());
    private_key_path_ = std::string(info.at("private_key_path").as_string());

    const std::string repo = json::serialize(
        json::value{{"owner", "dine-together"},
                    {"name", "infra"},
                    {"installation_id", 7},
                    {"default_branch", "main"},
                    {"dir", std::string(FERRY_SOURCE_DIR) + "/infra/example-infra"}});
    ASSERT_EQ(control(http::verb::post, "/_double/repos", repo).status, 201);

    ferry_env_ = {"PATH=/usr/bin:/bin",
                  "FERRY_LISTEN=127.0.0.1:0",
                  std::string("FERRY_WEBHOOK_SECRET=") + k_secret,
                  "FERRY_APP_ID=" + std::to_string(info.at("app_id").as_int64()),
                  "FERRY_PRIVATE_KEY_FILE=" + std::string(info.at("private_key_path").as_string()),
                  "FERRY_GITHUB_API_URL=" + url,
                  "FERRY_GITHUB_GRAPHQL_URL=" + url + "/graphql",
                  std::string("FERRY_INFRA_REPOS=") + k_infra,
                  "FERRY_CACHE_DIR=" + (dir_ / "cache").string(),
                  "FERRY_LOG_LEVEL=debug"};
    for (auto& extra : extra_ferry_env()) {
      ferry_env_.push_back(std::move(extra));
    }
    before_ferry();
    if (runs_ferry_process()) {
      start_ferry();
    }
  }

  void TearDown() override {
    if (double_) {
      const auto v = control(http::verb::get, "/_double/violations");
      EXPECT_EQ(v.body, "[]") << v.body;
    }
    if (ferry_) {
      EXPECT_EQ(ferry_->stop(), 0) << "ferry serve must exit 0 after a drain\n" << ferry_->log();
    }
    ferry_.reset();
    double_.reset();
    if (!HasFailure()) {
      fs::remove_all(dir_);
    } else {
      std::fprintf(stderr, "kept %s (ferry-N.log, double.log)\n", dir_.c_str());
    }
  }

  // More environment for `ferry serve` (a fixture that also starts a Kubernetes double adds
  // FERRY_KUBE_*); called in SetUp once the GitHub double runs, before ferry starts.
  virtual std::vector<std::string> extra_ferry_env() { return {}; }
  // Called once the doubles run, just before ferry starts (seed what ferry reads at start).
  virtual void before_ferry() {}
  // False for fixtures that run ferry's handlers in process against the same double
  // (test/support/handler_double.hpp): no `ferry serve` is started.
  virtual bool runs_ferry_process() const { return true; }

  // Starts `ferry serve` (again) with the same environment; the log of each run is kept apart.
  void start_ferry() {
    ++ferry_runs_;
    ferry_.emplace(std::vector<std::string>{FERRY_BINARY, "serve"}, ferry_env_,
                   dir_ / ("ferry-" + std::to_string(ferry_runs_) + ".log"));
    const auto listening = ferry_->wait_for_line("\"listening\"");
    ASSERT_TRUE(listening) << ferry_->log();
    ferry_port_ = static_cast<unsigned short>(
        std::stoi(std::string(json::parse(*listening).as_object().at("port").as_string())));
  }
  // SIGKILL, then a fresh process: a crash in the middle of a delivery.
  void kill_and_restart_ferry() {
    ferry_->kill_hard();
    ferry_.reset();
    start_ferry();
  }
  // SIGTERM (ferry drains and exits), then a fresh process: what a rolling restart does.
  void restart_ferry() {
    EXPECT_EQ(ferry_->stop(), 0) << "ferry serve must exit 0 after a drain\n" << ferry_->log();
    ferry_.reset();
    start_ferry();
  }

  answer control(http::verb method, const std::string& target, const std::string& body = {}) {
    return call(double_port_, method, target, body);
  }

  // The guids GitHub was asked to redeliver, once `guid` is among them (empty if it never is).
  std::vector<std::string> redeliveries_once_asked_for(const std::string& guid) {
    std::string body;
    if (!eventually([&] {
          body = control(http::verb::get, "/_double/redeliveries").body;
          return body.find(guid) != std::string::npos;
        })) {
      return {};
    }
    std::vector<std::string> out;
    const json::value parsed = json::parse(body);
    for (const auto& r : parsed.as_array()) {
      out.emplace_back(r.as_object().at("guid").as_string());
    }
    return out;
  }

  // Whether one entry of the double's request log changed something on GitHub: not a read (GET,
  // a GraphQL query), not a token mint, not a git fetch.
  static bool is_github_write(const json::object& request) {
    const std::string method(request.at("method").as_string());
    const std::string path(request.at("path").as_string());
    const auto* kind = request.if_contains("graphql");
    const bool query = kind != nullptr && kind->is_string() && kind->as_string() == "query";
    return method != "GET" && !query && path.find("/access_tokens") == std::string::npos &&
           path.find("git-upload-pack") == std::string::npos;
  }

  // The infra repository's PRs stay open (auto-merge recorded, not merged at once), and the
  // staging environment asks for reviewers: every write step of opening a PR happens.
  void keep_prs_open_with_reviewers() {
    ASSERT_EQ(control(http::verb::post, "/_double/repos/dine-together/infra/settings",
                      R"({"auto_merge_clean": false})")
                  .status,
              200);
    std::string rules =
        read_all(fs::path(FERRY_SOURCE_DIR) / "infra/example-infra/.github/ferry.yaml");
    const std::string staging = "    paths: [clusters/staging]\n";
    const auto at = rules.find(staging);
    ASSERT_NE(at, std::string::npos);
    rules.insert(at + staging.size(), "    reviewers: [octocat]\n    teamReviewers: [platform]\n");
    const std::string moved = json::serialize(
        json::value{{"ref", "heads/main"}, {"files", json::object{{".github/ferry.yaml", rules}}}});
    ASSERT_EQ(
        control(http::verb::post, "/_double/repos/dine-together/infra/move-ref", moved).status /
            100,
        2);
  }

  // A REST call to the double as the infra repository's installation (id 7), for test steps
  // a person or another tool would take through the API (opening a pull request).
  answer github(http::verb method, const std::string& target, const std::string& body = {}) {
    if (token_.empty()) {
      const auto t = control(http::verb::post, "/_double/tokens", R"({"installation_id": 7})");
      EXPECT_EQ(t.status, 201) << t.body;
      token_ = std::string(json::parse(t.body).as_object().at("token").as_string());
    }
    return call(double_port_, method, target, body, "token " + token_);
  }

  json::object infra_state() {
    const auto s = control(http::verb::get, "/_double/state");
    return json::parse(s.body).as_object().at("repos").as_object().at(k_infra).as_object();
  }

  // The latest status of `context` on `sha` as the double recorded it (an empty object if none).
  json::object latest_status(const std::string& sha, std::string_view context) {
    const auto state = infra_state();
    const auto* by_sha = state.at("statuses").as_object().if_contains(sha);
    json::object latest;
    if (by_sha != nullptr) {
      for (const auto& s : by_sha->as_array()) {
        if (s.as_object().at("context").as_string() == context) {
          latest = s.as_object();  // recorded oldest first
        }
      }
    }
    return latest;
  }
  // Its state and description ("" if none).
  std::string status_of(const std::string& sha, std::string_view context) {
    const auto s = latest_status(sha, context);
    const auto* v = s.if_contains("state");
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  }
  std::string status_description(const std::string& sha, std::string_view context) {
    const auto s = latest_status(sha, context);
    const auto* v = s.if_contains("description");
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  }

  // The deliveries the double recorded after `since` (GET /_double/webhooks?since=N): what
  // GitHub would have sent for the changes made so far, in emission order.
  json::array webhooks(std::int64_t since = 0) {
    const auto got = control(http::verb::get, "/_double/webhooks?since=" + std::to_string(since));
    EXPECT_EQ(got.status, 200) << got.body;
    return json::parse(got.body).as_array();
  }

  // The sequence number of the last recorded webhook (0 when none).
  std::int64_t last_webhook_seq() {
    const auto all = webhooks();
    return all.empty() ? 0 : all.back().as_object().at("seq").as_int64();
  }

  // Signs and sends one recorded webhook to ferry as GitHub would (event, delivery id, payload).
  int deliver_recorded(const json::value& webhook) {
    const auto& w = webhook.as_object();
    return deliver(std::string(w.at("event").as_string()),
                   std::string(w.at("delivery_id").as_string()), json::serialize(w.at("payload")));
  }

  int deliver(const std::string& event, const std::string& id, const std::string& payload) {
    ferry::service::replay_target target{
        "http://127.0.0.1:" + std::to_string(ferry_port_) + "/webhook", k_secret,
        std::chrono::seconds(30)};
    auto r = ferry::service::post_delivery(target, {event, id, payload});
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r->status : 0;
  }

  // `ferry doctor --output json` with serve's environment (logs on stderr dropped).
  doctor_report run_doctor() {
    std::string command = "env -i";
    for (const auto& e : ferry_env_) {
      command += " '" + e + "'";
    }
    command +=
        std::string(" ") + FERRY_BINARY + " doctor --output json 2>/dev/null; echo \"exit=$?\"";
    doctor_report r;
    r.raw = run(command);
    const auto at = r.raw.rfind("exit=");
    EXPECT_NE(at, std::string::npos) << r.raw;
    if (at == std::string::npos) {
      return r;
    }
    r.exit_code = std::stoi(r.raw.substr(at + 5));
    boost::system::error_code ec;
    const auto v = json::parse(r.raw.substr(0, at), ec);
    EXPECT_FALSE(ec) << r.raw;
    if (!ec && v.is_array()) {
      for (const auto& c : v.as_array()) {
        const auto& o = c.as_object();
        r.checks[std::string(o.at("name").as_string())] = o;
      }
    }
    return r;
  }

  // The App's recent deliveries as GET /app/hook/deliveries lists them: one failed once
  // ("failed-once", to be redelivered), one failed then succeeded, one too old, one refused for
  // its signature (a 401 redelivered fails the same way).
  void seed_failed_deliveries() {
    const auto now = std::chrono::system_clock::now();
    const auto iso = [](std::chrono::system_clock::time_point t) {
      const std::time_t tt = std::chrono::system_clock::to_time_t(t);
      std::tm tm{};
      gmtime_r(&tt, &tm);
      char buf[32];
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
      return std::string(buf);
    };
    const auto one = [&](int id, const char* guid, int status, std::chrono::hours ago) {
      json::object o;
      o["id"] = id;
      o["guid"] = guid;
      o["status_code"] = status;
      o["delivered_at"] = iso(now - ago);
      return o;
    };
    json::array list;
    list.push_back(one(101, "failed-once", 503, std::chrono::hours(2)));
    list.push_back(one(102, "failed-then-ok", 502, std::chrono::hours(3)));
    list.push_back(one(103, "failed-then-ok", 200, std::chrono::hours(1)));
    list.push_back(one(104, "too-old", 503, std::chrono::hours(80)));
    list.push_back(one(105, "bad-signature", 401, std::chrono::hours(1)));
    json::object body;
    body["deliveries"] = std::move(list);
    const auto seeded =
        control(http::verb::post, "/_double/hook-deliveries", json::serialize(body));
    ASSERT_EQ(seeded.status, 201) << seeded.body;
  }

  std::string git(const std::string& args) {
    return run(
        "git --git-dir=" + (dir_ / "double" / "repos" / "dine-together" / "infra.git").string() +
        " " + args + " 2>&1");
  }

  fs::path dir_;
  std::optional<child> double_;
  std::optional<child> ferry_;
  unsigned short double_port_ = 0;
  unsigned short ferry_port_ = 0;
  std::vector<std::string> ferry_env_;
  std::string double_url_;        // the double's REST base, "http://127.0.0.1:N"
  std::string app_id_;            // the App the double plays
  std::string private_key_path_;  // its private key (PEM)
  int ferry_runs_ = 0;
  std::string token_;
};

}  // namespace ferry::test::e2e
