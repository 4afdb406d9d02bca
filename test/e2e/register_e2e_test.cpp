// `ferry register` end to end: the real binary against the GitHub double, driven the way a
// browser drives it. The test GETs ferry's local page, reads the form's action and manifest
// out of the HTML, POSTs the manifest to the double's App-from-manifest web form (which answers
// 302 to the manifest's redirect_url with a code and the state, as GitHub does after the
// person confirms), then follows that redirect to ferry's callback. ferry trades the code at
// the double's POST /app-manifests/{code}/conversions, held to GitHub's REST description.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "test/support/process.hpp"
#include "test/support/serve_double.hpp"

namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
namespace json = boost::json;

struct web_answer {
  int status = 0;
  std::string body;
  std::string location;
};

// One HTTP/1.1 request on loopback, as a browser would send it (Host with the port).
web_answer web(unsigned short port, http::verb method, const std::string& target,
               const std::string& body = {}, const std::string& content_type = {},
               const std::string& host = {}) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket(ioc);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, host.empty() ? "127.0.0.1:" + std::to_string(port) : host);
  req.set(http::field::user_agent, "ferry-register-e2e");
  if (!content_type.empty()) {
    req.set(http::field::content_type, content_type);
  }
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  return {static_cast<int>(res.result_int()), res.body(), std::string(res[http::field::location])};
}

std::string html_unescape(std::string s) {
  const std::pair<const char*, const char*> entities[] = {
      {"&quot;", "\""}, {"&#39;", "'"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}};
  for (const auto& [from, to] : entities) {
    for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + 1)) {
      s.replace(at, std::strlen(from), to);
    }
  }
  return s;
}

std::string form_encode(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

unsigned short port_of(const std::string& url) {
  return boost::urls::parse_absolute_uri(url)->port_number();
}

std::string target_of(const std::string& url) {
  auto u = boost::urls::parse_absolute_uri(url);
  return std::string(u->encoded_path()) + (u->has_query() ? "?" + std::string(u->query()) : "");
}

int mode_of(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

class register_e2e : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(fs::path(FERRY_NODE_MODULES_DIR) / "@octokit" / "openapi"))
        << "run `cd test && npm ci` first";
    double_.emplace(
        std::vector<std::string>{"/usr/bin/node",
                                 std::string(FERRY_SOURCE_DIR) + "/test/doubles/github/server.js",
                                 "--port", "0", "--state-dir", (dir_.path() / "double").string()},
        std::vector<std::string>{"PATH=/usr/bin:/bin", "HOME=" + dir_.path().string()},
        dir_.path() / "double.log");
    const auto hello = double_->wait_for_line("\"port\"");
    ASSERT_TRUE(hello) << double_->log();
    const auto info = json::parse(*hello).as_object();
    double_port_ = static_cast<unsigned short>(info.at("port").as_int64());
    double_url_ = std::string(info.at("url").as_string());
  }

  void TearDown() override {
    const auto v = web(double_port_, http::verb::get, "/_double/violations");
    EXPECT_EQ(v.body, "[]") << v.body;
  }

  // Starts `ferry register` with `args` and waits for the local URL it prints.
  void start(std::vector<std::string> args) {
    args.insert(args.begin(), {FERRY_BINARY, "register"});
    ferry_.emplace(args);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::smatch m;
    static const std::regex local("open http://127\\.0\\.0\\.1:([0-9]+)/ ");
    while (std::chrono::steady_clock::now() < until) {
      const std::string err = ferry_->err();
      if (std::regex_search(err, m, local)) {
        ferry_port_ = static_cast<unsigned short>(std::stoi(m[1]));
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling with a deadline
    }
    FAIL() << "ferry register printed no URL: " << ferry_->err();
  }

  // What the browser reads on ferry's page: the form's action and the manifest field.
  std::pair<std::string, std::string> read_form() {
    const auto page = web(ferry_port_, http::verb::get, "/");
    EXPECT_EQ(page.status, 200) << page.body;
    std::smatch action, manifest;
    EXPECT_TRUE(std::regex_search(page.body, action, std::regex("action=\"([^\"]*)\"")));
    EXPECT_TRUE(
        std::regex_search(page.body, manifest, std::regex("name=\"manifest\" value=\"([^\"]*)\"")));
    if (action.empty() || manifest.empty()) {
      return {};
    }
    return {html_unescape(action[1]), html_unescape(manifest[1])};
  }

  // The browser POSTs the form to GitHub (the double) and gets the 302 to ferry's callback.
  std::string submit(const std::string& action, const std::string& manifest) {
    const auto r = web(port_of(action), http::verb::post, target_of(action),
                       "manifest=" + form_encode(manifest), "application/x-www-form-urlencoded");
    EXPECT_EQ(r.status, 302) << r.body;
    return r.location;
  }

  ferry::test::process_result finish() {
    auto r = ferry_->wait_for(std::chrono::seconds(30));
    EXPECT_TRUE(r) << "ferry register did not exit";
    return r ? *r : ferry::test::process_result{};
  }

  std::vector<std::string> conversions() {
    std::vector<std::string> out;
    const auto all = json::parse(web(double_port_, http::verb::get, "/_double/requests").body);
    for (const auto& e : all.as_array()) {
      const auto& o = e.as_object();
      if (o.contains("path") &&
          std::string(o.at("path").as_string()).find("/conversions") != std::string::npos) {
        out.emplace_back((o.contains("prefix") ? std::string(o.at("prefix").as_string()) : "") +
                         std::string(o.at("path").as_string()));
      }
    }
    return out;
  }

  ferry::test::temp_dir dir_;
  std::optional<ferry::test::e2e::child> double_;
  std::optional<ferry::test::child> ferry_;
  unsigned short double_port_ = 0;
  unsigned short ferry_port_ = 0;
  std::string double_url_;
};

TEST_F(register_e2e, ghes_style_flow_writes_four_private_files_and_prints_the_next_steps) {
  const fs::path out = dir_.path() / "creds";
  // Only --github-url: the API is derived as <github-url>/api/v3, GitHub Enterprise Server's
  // layout, which the double serves.
  start({"--org", "acme", "--name", "ferry-e2e", "--webhook-url",
         "https://ferry.example.com/webhook", "--github-url", double_url_, "--out", out.string()});
  const auto [action, manifest] = read_form();
  ASSERT_FALSE(action.empty());
  EXPECT_TRUE(action.starts_with(double_url_ + "/organizations/acme/settings/apps/new?state="))
      << action;
  const std::string location = submit(action, manifest);
  ASSERT_TRUE(
      location.starts_with("http://127.0.0.1:" + std::to_string(ferry_port_) + "/callback?code="))
      << location;
  const auto done = web(ferry_port_, http::verb::get, target_of(location));
  EXPECT_EQ(done.status, 200) << done.body;
  const auto r = finish();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  // The manifest GitHub received: the repository's permissions and events, the given name,
  // webhook URL and the local callback.
  const auto posted = json::parse(web(double_port_, http::verb::get, "/_double/app-manifests").body)
                          .as_array()
                          .back()
                          .as_object();
  const auto& m = posted.at("manifest").as_object();
  const auto repo_manifest =
      json::parse(
          ferry::test::read_text(fs::path(FERRY_SOURCE_DIR) / "infra" / "github-app-manifest.json"))
          .as_object();
  EXPECT_EQ(m.at("name"), "ferry-e2e");
  EXPECT_EQ(m.at("hook_attributes").at("url"), "https://ferry.example.com/webhook");
  EXPECT_EQ(m.at("hook_attributes").at("active"), true);
  EXPECT_EQ(m.at("redirect_url"),
            json::value("http://127.0.0.1:" + std::to_string(ferry_port_) + "/callback"));
  EXPECT_EQ(m.at("default_permissions"), repo_manifest.at("default_permissions"));
  EXPECT_EQ(m.at("default_events"), repo_manifest.at("default_events"));
  EXPECT_EQ(posted.at("org"), "acme");
  EXPECT_EQ(conversions().size(), 1u);
  EXPECT_TRUE(conversions().at(0).starts_with("/api/v3/app-manifests/")) << conversions().at(0);

  EXPECT_EQ(mode_of(out), 0700);
  for (const char* name : {"app-id", "client-id", "webhook-secret", "private-key.pem"}) {
    EXPECT_EQ(mode_of(out / name), 0600) << name;
    EXPECT_FALSE(ferry::test::read_text(out / name).empty()) << name;
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(out), fs::directory_iterator()), 4)
      << "no temporary file left";
  const std::string secret = ferry::test::read_text(out / "webhook-secret");
  const std::string pem = ferry::test::read_text(out / "private-key.pem");
  const std::string client_id = ferry::test::read_text(out / "client-id");
  EXPECT_TRUE(pem.starts_with("-----BEGIN")) << pem;
  EXPECT_GE(std::stoll(ferry::test::read_text(out / "app-id")), 1);

  EXPECT_NE(r.out.find("    kubectl create namespace ferry-system\n"), std::string::npos) << r.out;
  EXPECT_NE(
      r.out.find("    kubectl -n ferry-system create secret generic ferry-secrets \\\n"
                 "      --from-file=webhook-secret=" +
                 (out / "webhook-secret").string() + " \\\n      --from-file=private-key.pem=" +
                 (out / "private-key.pem").string() + "\n"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("    FERRY_APP_ID=" + client_id), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    FERRY_GITHUB_API_URL=" + double_url_ + "/api/v3\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(double_url_ + "/apps/ferry-e2e/installations/new\n"), std::string::npos)
      << r.out;
  // Secrets never reach the terminal.
  EXPECT_EQ((r.out + r.err).find(secret), std::string::npos);
  EXPECT_EQ((r.out + r.err).find("PRIVATE KEY"), std::string::npos);
}

TEST_F(register_e2e, a_callback_with_another_state_is_refused_and_the_real_one_still_works) {
  const fs::path out = dir_.path() / "creds";
  start({"--org", "acme", "--webhook-url", "https://ferry.example.com/webhook", "--github-url",
         double_url_, "--api-url", double_url_, "--out", out.string()});
  const auto [action, manifest] = read_form();
  ASSERT_FALSE(action.empty());
  const std::string location = submit(action, manifest);
  auto u = boost::urls::parse_absolute_uri(location);
  ASSERT_TRUE(u);
  const std::string code((*u->params().find("code")).value);
  // A forged callback with GitHub's real code but another state: refused before any exchange.
  const auto forged = web(ferry_port_, http::verb::get,
                          "/callback?code=" + code + "&state=" + std::string(64, '0'));
  EXPECT_EQ(forged.status, 400) << forged.body;
  EXPECT_TRUE(conversions().empty());
  EXPECT_FALSE(fs::exists(out));
  // Another Host (a DNS-rebinding page) does not get the form.
  const auto rebound =
      web(ferry_port_, http::verb::get, "/", {}, {}, "evil.example:" + std::to_string(ferry_port_));
  EXPECT_EQ(rebound.status, 400);
  EXPECT_EQ(rebound.body.find("state="), std::string::npos);
  // The browser's real redirect still completes, at the API URL given (no /api/v3).
  const auto done = web(ferry_port_, http::verb::get, target_of(location));
  EXPECT_EQ(done.status, 200) << done.body;
  const auto r = finish();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("refused a callback whose state does not match"), std::string::npos)
      << r.err;
  ASSERT_EQ(conversions().size(), 1u);
  EXPECT_TRUE(conversions()[0].starts_with("/app-manifests/")) << conversions()[0];
  // Any API other than api.github.com is a setting ferry needs.
  EXPECT_NE(r.out.find("    FERRY_GITHUB_API_URL=" + double_url_ + "\n"), std::string::npos)
      << r.out;
  EXPECT_TRUE(fs::exists(out / "private-key.pem"));
}

TEST_F(register_e2e, an_expired_code_is_a_clear_error_and_writes_nothing) {
  const fs::path out = dir_.path() / "creds";
  start({"--org", "acme", "--webhook-url", "https://ferry.example.com/webhook", "--github-url",
         double_url_, "--out", out.string()});
  const auto [action, manifest] = read_form();
  ASSERT_FALSE(action.empty());
  const std::string state(action.substr(action.find("state=") + 6));
  // A code GitHub minted more than an hour ago.
  const auto minted =
      web(double_port_, http::verb::post, "/_double/app-manifests",
          R"({"manifest": )" + manifest + R"(, "age_seconds": 3601})", "application/json");
  ASSERT_EQ(minted.status, 201) << minted.body;
  const std::string code(json::parse(minted.body).at("code").as_string());
  const auto failed =
      web(ferry_port_, http::verb::get, "/callback?code=" + code + "&state=" + state);
  EXPECT_EQ(failed.status, 502) << failed.body;
  const auto r = finish();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("GitHub refused the code"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("a code is good once and for one hour. Nothing was written"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(register_e2e, existing_files_and_bad_flags_are_usage_errors_before_anything_is_served) {
  const fs::path out = dir_.path() / "creds";
  fs::create_directories(out);
  ferry::test::write_text(out / "webhook-secret", "keep me");
  auto r = ferry::test::run({FERRY_BINARY, "register", "--org", "acme", "--webhook-url",
                             "https://ferry.example.com/webhook", "--out", out.string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("webhook-secret already exists"), std::string::npos) << r.err;
  EXPECT_EQ(ferry::test::read_text(out / "webhook-secret"), "keep me");

  r = ferry::test::run({FERRY_BINARY, "register", "--org", "-acme", "--webhook-url",
                        "https://ferry.example.com/webhook", "--out", out.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--org: '-acme' is not a GitHub organisation login"), std::string::npos)
      << r.err;
  r = ferry::test::run({FERRY_BINARY, "register", "--org", "acme", "--webhook-url", "ferry/webhook",
                        "--out", out.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--webhook-url"), std::string::npos) << r.err;
  r = ferry::test::run({FERRY_BINARY, "register", "--webhook-url", "https://x.example/webhook"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--org is required"), std::string::npos) << r.err;
}

}  // namespace
