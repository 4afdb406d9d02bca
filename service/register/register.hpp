#pragma once
// `ferry register`: GitHub's App manifest flow (docs.github.com, "Registering a GitHub App from
// a manifest"). A one-page form on 127.0.0.1 POSTs ferry's manifest to
// <web>/organizations/ORG/settings/apps/new?state=STATE; GitHub creates the App after the
// person confirms and redirects the browser to the manifest's redirect_url
// (http://127.0.0.1:PORT/callback) with ?code=CODE&state=STATE; ferry checks the state, trades
// the code for the App's credentials with POST /app-manifests/{code}/conversions (no
// credentials: the one-hour, single-use code is the credential) and writes them to files.
//
// The pure parts (manifest, URLs, the page, the conversion answer, the files, the next steps)
// are functions the unit tests call; run_register wires them to a loopback server and the
// project's HTTP client.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

#include "service/github/http_client.hpp"
#include "service/limits.hpp"
#include "service/result.hpp"

namespace ferry::registration {

struct register_options {
  std::string org;
  std::string name = "ferry";
  std::string webhook_url;
  // Where the form is posted (github.com or a GHES host), and the REST API the code is traded
  // at; empty api_url: derived from github_url (api_url_for).
  std::string github_url = "https://github.com";
  std::string api_url;
  std::filesystem::path out_dir = "ferry-app";
  unsigned short port = 0;  // 0: an ephemeral port
  bool force = false;
  std::chrono::milliseconds wait = limits::k_register_wait;
  // PEM file of trusted CAs for the API (GHES with a private CA); empty: the system's.
  std::string ca_file;
};

// The App's credentials from the conversion answer (apps/create-from-manifest, 201).
struct app_credentials {
  long long id = 0;
  std::string slug;
  std::string name;
  std::string client_id;
  std::string webhook_secret;
  std::string pem;
  std::string html_url;
  std::string owner;
};

// The file names written in the output directory, in this order.
inline constexpr std::string_view k_files[] = {"app-id", "client-id", "webhook-secret",
                                               "private-key.pem"};

// Trailing slashes removed; an http(s) URL with a host and no query or fragment, else
// invalid_input naming `what`.
result<std::string> normalize_base_url(std::string_view url, std::string_view what);

// The REST base for a web host: https://github.com -> https://api.github.com; any other host
// (GitHub Enterprise Server) -> <web>/api/v3 (docs.github.com: "GHES REST API base URL").
std::string api_url_for(std::string_view github_url);

// Checks the options (org a GitHub login, name within GitHub's 34 characters, URLs) and fills
// the derived api_url. invalid_input with a message naming the flag.
result<register_options> validated(register_options o);

// ferry's manifest (infra/github-app-manifest.json, embedded at build time) with name,
// hook_attributes.url and redirect_url set. JSON text.
std::string manifest_json(const register_options& o, std::string_view redirect_url);

// <github_url>/organizations/<org>/settings/apps/new?state=<state>
std::string form_action(const register_options& o, std::string_view state);

// The page served on GET /: a form POSTing `manifest` to `action`, submitted by script at
// once and by a visible button otherwise. Both values are HTML-escaped.
std::string form_page(std::string_view action, std::string_view manifest);

// A random state: 32 bytes of OpenSSL's CSPRNG as hex; internal when it has no entropy.
result<std::string> new_state();

// Constant-time comparison of the state GitHub sent back with ours (CRYPTO_memcmp).
bool state_matches(std::string_view expected, std::string_view got);

// The conversion's 201 body -> credentials; invalid_input when a field ferry writes is missing.
result<app_credentials> parse_conversion(std::string_view body);

// POST <api_url>/app-manifests/<code>/conversions. A 404 (unknown, used or expired code) or
// 422 becomes an invalid_input error saying to run register again; no response: transient.
boost::asio::awaitable<result<app_credentials>> exchange_code(github::http_client& http,
                                                              std::string api_url,
                                                              std::string code);

// Refuses (invalid_input) when one of k_files already exists in `dir` and !force.
result<void> check_writable(const std::filesystem::path& dir, bool force);

// Creates `dir` (mode 0700) when missing and writes the four files with mode 0600: each to a
// temporary name first, then all linked (or with force renamed) into place; on any failure
// nothing new is left behind.
result<void> write_credentials(const std::filesystem::path& dir, const app_credentials& app,
                               bool force);

// What to do next: the kubectl commands creating ferry-secrets from the files, the settings for
// the overlay, the install URL. Never any secret's content.
std::string next_steps(const register_options& o, const app_credentials& app);

// The whole command: validates, serves the form on 127.0.0.1, waits for the callback (at most
// o.wait), exchanges the code, writes the files, prints the next steps on `out`. Progress and
// errors on `err`. Exit 0 done, 1 the registration failed (code refused, timeout, GitHub
// unreachable, files not written), 2 usage (bad flags, files already there without --force).
int run_register(const register_options& o, std::FILE* out, std::FILE* err);

}  // namespace ferry::registration
