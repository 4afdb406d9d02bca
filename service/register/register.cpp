#include "service/register/register.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <vector>

#include "service/register/manifest.hpp"

namespace ferry::registration {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_accept = "application/vnd.github+json";
// docs.github.com "API Versions": the version the rest of ferry's client sends.
constexpr std::string_view k_api_version = "2022-11-28";

error invalid(std::string message) {
  return make_error(error_kind::invalid_input, std::move(message));
}

// GitHub logins: 1-39 alphanumerics or single hyphens, not at either end (GitHub's sign-up
// form rules; organisations share the user namespace).
bool is_github_login(std::string_view s) {
  if (s.empty() || s.size() > 39 || s.front() == '-' || s.back() == '-') {
    return false;
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '-') {
      if (s[i + 1] == '-') {
        return false;
      }
    } else if (!std::isalnum(c)) {
      return false;
    }
  }
  return true;
}

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 0x0f];
  }
  return out;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A path as a POSIX shell word: as is when it holds only safe characters, else single-quoted.
std::string shell_word(const std::string& s) {
  bool safe = !s.empty();
  for (unsigned char c : s) {
    if (!std::isalnum(c) && std::strchr("_./-+:@%", c) == nullptr) {
      safe = false;
    }
  }
  if (safe) {
    return s;
  }
  std::string out = "'";
  for (char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

std::string host_of(std::string_view url) {
  auto u = boost::urls::parse_absolute_uri(url);
  return u ? std::string(u->host()) : std::string();
}

std::string string_field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string errno_text(int e) {
  return std::strerror(e);
}

}  // namespace

result<std::string> normalize_base_url(std::string_view url, std::string_view what) {
  std::string s(url);
  while (!s.empty() && s.back() == '/') {
    s.pop_back();
  }
  auto u = boost::urls::parse_absolute_uri(s);
  if (!u || (u->scheme() != "https" && u->scheme() != "http") || u->host().empty() ||
      u->has_query() || u->has_fragment() || u->has_userinfo()) {
    return invalid(std::string(what) + ": '" + std::string(url) +
                   "' is not an http(s) URL with a host and no query, fragment or credentials");
  }
  return s;
}

std::string api_url_for(std::string_view github_url) {
  const std::string host = host_of(github_url);
  if (host == "github.com" || host == "www.github.com") {
    return "https://api.github.com";
  }
  return std::string(github_url) + "/api/v3";
}

result<register_options> validated(register_options o) {
  if (!is_github_login(o.org)) {
    return invalid("--org: '" + o.org +
                   "' is not a GitHub organisation login (1-39 letters, digits or single "
                   "hyphens, not at either end)");
  }
  // GitHub refuses App names over 34 characters (the App settings form's limit).
  if (o.name.empty() || o.name.size() > 34) {
    return invalid("--name: an App name has 1 to 34 characters");
  }
  for (unsigned char c : o.name) {
    if (c < 0x20 || c == 0x7f) {
      return invalid("--name: control characters are not allowed");
    }
  }
  auto web = normalize_base_url(o.github_url, "--github-url");
  if (!web) {
    return web.error();
  }
  o.github_url = *web;
  if (o.api_url.empty()) {
    o.api_url = api_url_for(o.github_url);
  }
  auto api = normalize_base_url(o.api_url, "--api-url");
  if (!api) {
    return api.error();
  }
  o.api_url = *api;
  auto hook = boost::urls::parse_absolute_uri(o.webhook_url);
  if (!hook || (hook->scheme() != "https" && hook->scheme() != "http") || hook->host().empty() ||
      hook->has_fragment() || hook->has_userinfo()) {
    return invalid("--webhook-url: '" + o.webhook_url +
                   "' is not an http(s) URL with a host (ferry's public URL ending in /webhook)");
  }
  if (o.out_dir.empty()) {
    return invalid("--out: an empty directory name");
  }
  return o;
}

std::string manifest_json(const register_options& o, std::string_view redirect_url) {
  // The embedded manifest is the repository's own file; a build with a broken one fails the
  // unit test that parses it, so parsing here cannot meet bad JSON in a released binary.
  json::value v = json::parse(embedded_manifest());
  auto& m = v.as_object();
  m["name"] = o.name;
  auto& hook = m["hook_attributes"];
  if (!hook.is_object()) {
    hook = json::object();
  }
  hook.as_object()["url"] = o.webhook_url;
  hook.as_object()["active"] = true;
  m["redirect_url"] = redirect_url;
  return json::serialize(v);
}

std::string form_action(const register_options& o, std::string_view state) {
  return o.github_url + "/organizations/" + o.org +
         "/settings/apps/new?state=" + std::string(state);
}

std::string form_page(std::string_view action, std::string_view manifest) {
  std::string page =
      "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>ferry register</title>"
      "</head>\n<body>\n<p>Sending ferry's App manifest to GitHub. If nothing happens, press the "
      "button.</p>\n<form id=\"manifest-form\" method=\"post\" action=\"";
  page += html_escape(action);
  page += "\">\n<input type=\"hidden\" name=\"manifest\" value=\"";
  page += html_escape(manifest);
  page +=
      "\">\n<button type=\"submit\">Create the GitHub App</button>\n</form>\n"
      "<script>document.getElementById(\"manifest-form\").submit();</script>\n</body></html>\n";
  return page;
}

result<std::string> new_state() {
  unsigned char b[32];
  if (RAND_bytes(b, sizeof b) != 1) {
    return make_error(error_kind::internal, "no randomness for the state (RAND_bytes failed)");
  }
  return hex(b, sizeof b);
}

bool state_matches(std::string_view expected, std::string_view got) {
  return !expected.empty() && expected.size() == got.size() &&
         CRYPTO_memcmp(expected.data(), got.data(), expected.size()) == 0;
}

result<app_credentials> parse_conversion(std::string_view body) {
  json::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return invalid("GitHub's conversion answer is not a JSON object");
  }
  const auto& o = v.as_object();
  app_credentials app;
  if (const auto* id = o.if_contains("id"); id && id->is_int64()) {
    app.id = id->as_int64();
  }
  app.slug = string_field(o, "slug");
  app.name = string_field(o, "name");
  app.client_id = string_field(o, "client_id");
  app.webhook_secret = string_field(o, "webhook_secret");
  app.pem = string_field(o, "pem");
  app.html_url = string_field(o, "html_url");
  if (const auto* owner = o.if_contains("owner"); owner && owner->is_object()) {
    app.owner = string_field(owner->as_object(), "login");
  }
  std::vector<std::string> missing;
  if (app.id <= 0) {
    missing.emplace_back("id");
  }
  if (app.client_id.empty()) {
    missing.emplace_back("client_id");
  }
  if (app.webhook_secret.empty()) {
    missing.emplace_back("webhook_secret");
  }
  if (app.pem.find("-----BEGIN") == std::string::npos) {
    missing.emplace_back("pem");
  }
  if (app.html_url.empty()) {
    missing.emplace_back("html_url");
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) {
      list += (list.empty() ? "" : ", ") + m;
    }
    return invalid("GitHub's conversion answer lacks " + list);
  }
  return app;
}

boost::asio::awaitable<result<app_credentials>> exchange_code(github::http_client& http,
                                                              std::string api_url,
                                                              std::string code) {
  // The code is a token in the URL path: anything but URL-safe characters is not one GitHub
  // minted, and must not be able to change the path.
  if (code.empty() || code.size() > 256 ||
      code.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
          std::string::npos) {
    co_return invalid("the callback's code is not one GitHub mints (letters, digits, - and _)");
  }
  github::http_request req;
  req.method = boost::beast::http::verb::post;
  req.url = api_url + "/app-manifests/" + code + "/conversions";
  req.headers.push_back({"Accept", std::string(k_accept)});
  req.headers.push_back({"X-GitHub-Api-Version", std::string(k_api_version)});
  // One attempt: the code is good once, so a retry after an answer lost on the way would be
  // refused and hide what happened.
  req.max_attempts = 1;
  auto res = co_await http.request(std::move(req));
  if (!res) {
    co_return make_error(res.error().kind,
                         "POST /app-manifests/{code}/conversions: " + res.error().message);
  }
  if (res->status == 404 || res->status == 422) {
    const auto e = github::error_from_response("POST", "/app-manifests/{code}/conversions", *res);
    co_return invalid("GitHub refused the code (" + e.message +
                      "): a code is good once and for one hour. Nothing was written; run "
                      "`ferry register` again");
  }
  if (res->status != 201) {
    co_return github::error_from_response("POST", "/app-manifests/{code}/conversions", *res);
  }
  co_return parse_conversion(res->body);
}

result<void> check_writable(const fs::path& dir, bool force) {
  if (force) {
    return ok_v;
  }
  for (auto name : k_files) {
    std::error_code ec;
    if (fs::exists(dir / name, ec) || fs::is_symlink(dir / name, ec)) {
      return invalid((dir / name).string() +
                     " already exists: choose another --out directory, or --force to replace "
                     "the files");
    }
  }
  return ok_v;
}

result<void> write_credentials(const fs::path& dir, const app_credentials& app, bool force) {
  if (auto w = check_writable(dir, force); !w) {
    return w;
  }
  bool made_dir = false;
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (dir.has_parent_path() && !dir.parent_path().empty()) {
      fs::create_directories(dir.parent_path(), ec);
    }
    if (::mkdir(dir.c_str(), 0700) != 0) {
      return invalid("cannot create " + dir.string() + ": " + errno_text(errno));
    }
    made_dir = true;
  } else if (!fs::is_directory(dir, ec)) {
    return invalid(dir.string() + " exists and is not a directory");
  }
  // Identifiers end with a newline (for cat); the secret and the key are written exactly as
  // GitHub gave them (kubectl --from-file copies the bytes).
  const std::string contents[] = {std::to_string(app.id) + "\n", app.client_id + "\n",
                                  app.webhook_secret, app.pem};
  unsigned char rnd[6];
  if (RAND_bytes(rnd, sizeof rnd) != 1) {
    return make_error(error_kind::internal, "no randomness for temporary names");
  }
  const std::string suffix = ".tmp-" + hex(rnd, sizeof rnd);
  std::vector<fs::path> temps;
  std::vector<fs::path> placed;
  auto undo = [&](std::string why) -> result<void> {
    for (const auto& p : temps) {
      ::unlink(p.c_str());
    }
    for (const auto& p : placed) {
      ::unlink(p.c_str());
    }
    if (made_dir) {
      ::rmdir(dir.c_str());
    }
    return invalid(std::move(why) + "; nothing was written");
  };
  for (std::size_t i = 0; i < std::size(k_files); ++i) {
    const fs::path tmp = dir / ("." + std::string(k_files[i]) + suffix);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      return undo("cannot create " + tmp.string() + ": " + errno_text(errno));
    }
    temps.push_back(tmp);
    // Exactly 0600 whatever the umask.
    bool good = ::fchmod(fd, 0600) == 0;
    std::string_view rest = contents[i];
    while (good && !rest.empty()) {
      const auto n = ::write(fd, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      good = n > 0;
      if (good) {
        rest.remove_prefix(static_cast<std::size_t>(n));
      }
    }
    good = good && ::fsync(fd) == 0;
    const int saved = errno;
    good = (::close(fd) == 0) && good;
    if (!good) {
      return undo("cannot write " + tmp.string() + ": " + errno_text(saved));
    }
  }
  for (std::size_t i = 0; i < temps.size(); ++i) {
    const fs::path final_path = dir / k_files[i];
    // Without --force, link() refuses an existing name, so a file that appeared since the
    // check is never replaced.
    // With --force, a file that was there is replaced (its old content is gone, by request);
    // one that was not is removed again if a later file fails.
    const bool existed = force && ::access(final_path.c_str(), F_OK) == 0;
    const int rc = force ? ::rename(temps[i].c_str(), final_path.c_str())
                         : ::link(temps[i].c_str(), final_path.c_str());
    if (rc != 0) {
      return undo("cannot place " + final_path.string() + ": " + errno_text(errno));
    }
    if (!existed) {
      placed.push_back(final_path);
    }
  }
  for (const auto& p : temps) {
    ::unlink(p.c_str());
  }
  if (made_dir) {
    ::chmod(dir.c_str(), 0700);
  }
  return ok_v;
}

std::string next_steps(const register_options& o, const app_credentials& app) {
  const auto file = [&](std::string_view name) { return shell_word((o.out_dir / name).string()); };
  std::string s;
  s += "Registered the GitHub App \"" + app.name + "\" (App id " + std::to_string(app.id) +
       ", client id " + app.client_id + ")" + (app.owner.empty() ? "" : " owned by " + app.owner) +
       ": " + app.html_url + "\n";
  s += "Wrote " + file("app-id") + ", " + file("client-id") + ", " + file("webhook-secret") +
       " and " + file("private-key.pem") + " (mode 0600). Keep them out of version control.\n\n";
  s += "1. Create the Secret ferry reads:\n\n";
  s += "    kubectl create namespace ferry-system\n";
  s += "    kubectl -n ferry-system create secret generic ferry-secrets \\\n";
  s += "      --from-file=webhook-secret=" + file("webhook-secret") + " \\\n";
  s += "      --from-file=private-key.pem=" + file("private-key.pem") + "\n\n";
  s += "2. Put these settings in your overlay's ferry-settings (configMapGenerator literals in\n"
       "   manifests/overlays/<name>/kustomization.yaml):\n\n";
  s += "    FERRY_APP_ID=" + app.client_id + "\n";
  if (o.api_url != "https://api.github.com") {
    s += "    FERRY_GITHUB_API_URL=" + o.api_url + "\n";
  }
  if (host_of(o.github_url) != "github.com") {
    // GHES serves its container registry on the containers. subdomain (docs.github.com,
    // Enterprise Server: "Working with the Container registry").
    s += "    FERRY_REGISTRY_HOST=containers." + host_of(o.github_url) + "\n";
  }
  s += "\n3. Install the App on your infra and application repositories:\n\n";
  s += "    " + app.html_url + "/installations/new\n";
  return s;
}

}  // namespace ferry::registration
