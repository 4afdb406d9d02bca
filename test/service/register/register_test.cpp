// The pure parts of `ferry register`: option checks and URL derivation, the manifest (the
// repository's file, compiled in), the form page, the state, the conversion answer, the
// credential files and the next steps. The flow itself is in test/e2e/register_e2e_test.cpp.
#include "service/register/register.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "test/support/temp_dir.hpp"

namespace {

using namespace ferry::registration;
namespace fs = std::filesystem;
namespace json = boost::json;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int mode_of(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

register_options opts() {
  register_options o;
  o.org = "acme";
  o.webhook_url = "https://ferry.example.com/webhook";
  return o;
}

app_credentials app() {
  app_credentials a;
  a.id = 123;
  a.name = "ferry";
  a.client_id = "Iv1.abc";
  a.webhook_secret = "s3cr3t-value";
  a.pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIkey\n-----END RSA PRIVATE KEY-----\n";
  a.html_url = "https://github.com/apps/ferry";
  a.owner = "acme";
  return a;
}

TEST(register_options_check, derives_the_api_from_the_web_host) {
  EXPECT_EQ(api_url_for("https://github.com"), "https://api.github.com");
  EXPECT_EQ(api_url_for("https://ghe.example.com"), "https://ghe.example.com/api/v3");
  auto o = validated(opts());
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->api_url, "https://api.github.com");
  auto ghes = opts();
  ghes.github_url = "https://ghe.example.com/";
  o = validated(ghes);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->github_url, "https://ghe.example.com");
  EXPECT_EQ(o->api_url, "https://ghe.example.com/api/v3");
  ghes.api_url = "https://api.ghe.example.com/";
  o = validated(ghes);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->api_url, "https://api.ghe.example.com");
  EXPECT_EQ(form_action(*o, "st"),
            "https://ghe.example.com/organizations/acme/settings/apps/new?state=st");
}

TEST(register_options_check, refuses_bad_input_naming_the_flag) {
  auto expect_refused = [](register_options o, std::string_view flag) {
    auto r = validated(std::move(o));
    ASSERT_FALSE(r) << flag;
    EXPECT_EQ(r.error().kind, ferry::error_kind::invalid_input);
    EXPECT_TRUE(r.error().message.starts_with(flag)) << r.error().message;
  };
  for (const char* org : {"", "-acme", "acme-", "ac--me", "ac/me", "a b"}) {
    auto o = opts();
    o.org = org;
    expect_refused(o, "--org");
  }
  auto o = opts();
  o.org = std::string(40, 'a');
  expect_refused(o, "--org");
  o = opts();
  o.name = std::string(35, 'n');
  expect_refused(o, "--name");
  o = opts();
  o.webhook_url = "ferry.example.com/webhook";
  expect_refused(o, "--webhook-url");
  o = opts();
  o.github_url = "ftp://github.com";
  expect_refused(o, "--github-url");
  o = opts();
  o.api_url = "https://user:pw@api.example.com";
  expect_refused(o, "--api-url");
  o = opts();
  o.org = "a-1";
  EXPECT_TRUE(validated(o));
}

TEST(register_manifest, is_the_repository_file_with_name_hook_and_redirect) {
  auto o = opts();
  o.name = "ferry-prod";
  const auto m = json::parse(manifest_json(o, "http://127.0.0.1:5555/callback")).as_object();
  const auto repo_file =
      json::parse(read(fs::path(FERRY_SOURCE_DIR) / "infra" / "github-app-manifest.json"))
          .as_object();
  EXPECT_EQ(m.at("name"), "ferry-prod");
  EXPECT_EQ(m.at("hook_attributes").at("url"), "https://ferry.example.com/webhook");
  EXPECT_EQ(m.at("hook_attributes").at("active"), true);
  EXPECT_EQ(m.at("redirect_url"), "http://127.0.0.1:5555/callback");
  EXPECT_EQ(m.at("default_permissions"), repo_file.at("default_permissions"));
  EXPECT_EQ(m.at("default_events"), repo_file.at("default_events"));
  EXPECT_EQ(m.at("public"), false);
  // SPEC's permissions (infra/: contents write, pull requests write, statuses write, packages
  // read, metadata read) and the events ferry handles.
  const json::object want{{"contents", "write"},
                          {"pull_requests", "write"},
                          {"statuses", "write"},
                          {"packages", "read"},
                          {"metadata", "read"}};
  EXPECT_EQ(m.at("default_permissions"), json::value(want));
  EXPECT_EQ(m.at("default_events"), json::parse(R"(["package", "push", "pull_request"])"));
}

TEST(register_page, escapes_the_action_and_the_manifest) {
  const std::string page = form_page("https://x/?a=1&b=\"2\"", R"({"name":"<ferry>'s"})");
  EXPECT_NE(page.find("action=\"https://x/?a=1&amp;b=&quot;2&quot;\""), std::string::npos) << page;
  EXPECT_NE(page.find("value=\"{&quot;name&quot;:&quot;&lt;ferry&gt;&#39;s&quot;}\""),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("<button type=\"submit\">"), std::string::npos);
  EXPECT_NE(page.find(".submit();"), std::string::npos);
}

TEST(register_state, is_random_hex_and_compared_exactly) {
  auto a = new_state();
  auto b = new_state();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), 64u);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_TRUE(state_matches(*a, *a));
  EXPECT_FALSE(state_matches(*a, *b));
  EXPECT_FALSE(state_matches(*a, a->substr(1)));
  EXPECT_FALSE(state_matches(*a, ""));
  EXPECT_FALSE(state_matches("", ""));
}

TEST(register_conversion, reads_the_fields_and_names_missing_ones) {
  const std::string body = R"({"id": 77, "slug": "ferry", "name": "ferry", "client_id": "Iv1.x",
    "client_secret": "cs", "webhook_secret": "ws", "pem": "-----BEGIN RSA PRIVATE KEY-----\nk\n",
    "html_url": "https://github.com/apps/ferry", "owner": {"login": "acme"}})";
  auto a = parse_conversion(body);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->id, 77);
  EXPECT_EQ(a->client_id, "Iv1.x");
  EXPECT_EQ(a->webhook_secret, "ws");
  EXPECT_EQ(a->owner, "acme");
  auto bad = parse_conversion(R"({"id": 77, "client_id": "Iv1.x", "html_url": "h"})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "GitHub's conversion answer lacks webhook_secret, pem");
  EXPECT_FALSE(parse_conversion("[]"));
  EXPECT_FALSE(parse_conversion("not json"));
}

TEST(register_files, writes_four_private_files_and_refuses_to_overwrite) {
  ferry::test::temp_dir tmp;
  const fs::path dir = tmp.path() / "a" / "ferry-app";
  ASSERT_TRUE(write_credentials(dir, app(), false));
  EXPECT_EQ(mode_of(dir), 0700);
  EXPECT_EQ(read(dir / "app-id"), "123\n");
  EXPECT_EQ(read(dir / "client-id"), "Iv1.abc\n");
  EXPECT_EQ(read(dir / "webhook-secret"), "s3cr3t-value");
  EXPECT_EQ(read(dir / "private-key.pem"), app().pem);
  for (auto name : k_files) {
    EXPECT_EQ(mode_of(dir / name), 0600) << name;
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 4);

  auto other = app();
  other.webhook_secret = "new";
  auto again = write_credentials(dir, other, false);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("already exists"), std::string::npos);
  EXPECT_EQ(read(dir / "webhook-secret"), "s3cr3t-value");
  ASSERT_TRUE(write_credentials(dir, other, true));
  EXPECT_EQ(read(dir / "webhook-secret"), "new");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 4);
}

TEST(register_files, a_failure_leaves_nothing_behind) {
  ferry::test::temp_dir tmp;
  // A file where the directory should be.
  std::ofstream(tmp.path() / "taken") << "x";
  auto r = write_credentials(tmp.path() / "taken", app(), false);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not a directory"), std::string::npos) << r.error().message;
  // One name taken by a directory: with --force the rename fails at that name; without it the
  // check refuses first. Either way no temporary file stays and a made directory is removed.
  const fs::path dir = tmp.path() / "d";
  fs::create_directories(dir / "private-key.pem");
  r = write_credentials(dir, app(), true);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("nothing was written"), std::string::npos) << r.error().message;
  // Only the directory that was there remains: app-id, client-id and webhook-secret, placed
  // before the failure, are removed again, and no temporary file stays.
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir)) {
    left.push_back(e.path().filename().string());
  }
  EXPECT_EQ(left, std::vector<std::string>{"private-key.pem"});
}

TEST(register_next_steps, prints_commands_settings_and_install_url_never_secrets) {
  auto o = *validated(opts());
  o.out_dir = "my creds";
  const std::string s = next_steps(o, app());
  EXPECT_NE(s.find("    kubectl create namespace ferry-system\n"), std::string::npos) << s;
  EXPECT_NE(s.find("      --from-file=webhook-secret='my creds/webhook-secret' \\\n"
                   "      --from-file=private-key.pem='my creds/private-key.pem'\n"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("    FERRY_APP_ID=Iv1.abc\n"), std::string::npos) << s;
  EXPECT_EQ(s.find("FERRY_GITHUB_API_URL"), std::string::npos) << "github.com needs no API URL";
  EXPECT_EQ(s.find("FERRY_REGISTRY_HOST"), std::string::npos);
  EXPECT_NE(s.find("    https://github.com/apps/ferry/installations/new\n"), std::string::npos);
  EXPECT_EQ(s.find("s3cr3t-value"), std::string::npos);
  EXPECT_EQ(s.find("MIIkey"), std::string::npos);

  auto ghes = opts();
  ghes.github_url = "https://ghe.example.com";
  const std::string g = next_steps(*validated(ghes), app());
  EXPECT_NE(g.find("    FERRY_GITHUB_API_URL=https://ghe.example.com/api/v3\n"), std::string::npos)
      << g;
  EXPECT_NE(g.find("    FERRY_REGISTRY_HOST=containers.ghe.example.com\n"), std::string::npos) << g;
}

}  // namespace
