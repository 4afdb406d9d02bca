#include "service/kube/client.hpp"

#include <sys/stat.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "service/github/http_client.hpp"

namespace ferry::kube {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// client-go rest.InClusterConfig: the service account's files and the service env vars.
constexpr std::string_view k_sa_token = "/var/run/secrets/kubernetes.io/serviceaccount/token";
constexpr std::string_view k_sa_ca = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
// Characters of a Status message (or a non-Status body) quoted in an error.
constexpr std::size_t k_message_max = 300;

std::string env_or_empty(const service::environment& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

// Percent-encodes a query value (RFC 3986 unreserved characters stay).
std::string query_escape(std::string_view s) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(k_hex[c >> 4]);
      out.push_back(k_hex[c & 15]);
    }
  }
  return out;
}

// A Kubernetes Status (metav1.Status): the body of every error answer from the API server,
// and the object of a watch ERROR event.
struct status_info {
  int code = 0;
  std::string reason;
  std::string message;
  std::vector<std::string> causes;  // "field: message"
};

status_info parse_status(simdjson::dom::element doc) {
  status_info s;
  std::int64_t code = 0;
  if (doc["code"].get(code) == simdjson::SUCCESS) {
    s.code = static_cast<int>(code);
  }
  std::string_view v;
  if (doc["reason"].get(v) == simdjson::SUCCESS) {
    s.reason.assign(v.substr(0, 64));
  }
  if (doc["message"].get(v) == simdjson::SUCCESS) {
    s.message.assign(v.substr(0, k_message_max));
  }
  simdjson::dom::array causes;
  if (doc["details"]["causes"].get(causes) == simdjson::SUCCESS) {
    for (auto c : causes) {
      std::string_view field;
      std::string_view msg;
      std::string line;
      if (c["field"].get(field) == simdjson::SUCCESS) {
        line.assign(field.substr(0, 128));
      }
      if (c["message"].get(msg) == simdjson::SUCCESS) {
        line += (line.empty() ? "" : ": ") + std::string(msg.substr(0, k_message_max));
      }
      if (!line.empty() && s.causes.size() < 20) {
        s.causes.push_back(std::move(line));
      }
    }
  }
  return s;
}

status_info parse_status_body(int http_status, std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  status_info s;
  if (parser.parse(body.data(), body.size(), true).get(doc) == simdjson::SUCCESS &&
      doc.is_object()) {
    s = parse_status(doc);
  } else if (!body.empty()) {
    // Not a Status (a proxy's page): quote its start, printable characters only.
    for (char c : body.substr(0, k_message_max)) {
      s.message.push_back(std::isprint(static_cast<unsigned char>(c)) != 0 ? c : ' ');
    }
  }
  if (s.code == 0) {
    s.code = http_status;
  }
  return s;
}

// Error kinds for API server answers (k8s.io/apimachinery/pkg/api/errors: StatusReason*).
error error_from_status(std::string_view call, int http_status, const status_info& st) {
  error_kind kind = error_kind::invalid_input;
  switch (http_status) {
    case 401:
      kind = error_kind::unauthorized;
      break;
    case 404:
    case 410:  // Gone / Expired: the resource version or object is no longer there
      kind = error_kind::not_found;
      break;
    case 409:
      kind = error_kind::conflict;
      break;
    case 429:
      kind = error_kind::transient;
      break;
    default:
      kind = http_status >= 500 ? error_kind::transient : error_kind::invalid_input;
  }
  std::string reason = st.reason;
  if (reason.empty()) {
    reason = http_status == 403 ? "Forbidden" : "HTTP " + std::to_string(http_status);
  }
  std::string msg = reason;
  if (!st.message.empty()) {
    msg += ": " + st.message;
  }
  if (!st.causes.empty()) {
    msg += " [";
    for (std::size_t i = 0; i < st.causes.size(); ++i) {
      msg += (i == 0 ? "" : "; ") + st.causes[i];
    }
    msg += "]";
  }
  msg += " (" + std::string(call) + ": " + std::to_string(http_status) + ")";
  return make_error(kind, std::move(msg));
}

bool is_success(int status) {
  return status >= 200 && status < 300;
}

// "ns/jobs/name" -> collection "ns/jobs" and name; the path must not carry a query.
bool split_object_path(std::string_view path, std::string& collection, std::string& name) {
  if (path.find('?') != std::string_view::npos) {
    return false;
  }
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= path.size()) {
    return false;
  }
  collection.assign(path.substr(0, slash));
  name.assign(path.substr(slash + 1));
  return true;
}

std::string resource_version_of(simdjson::dom::element obj) {
  std::string_view rv;
  if (obj["metadata"]["resourceVersion"].get(rv) == simdjson::SUCCESS) {
    return std::string(rv);
  }
  return {};
}

}  // namespace

result<kube_settings> resolve_settings(const service::settings& s,
                                       const service::environment& env) {
  kube_settings out;
  if (!s.kube_api_url.empty()) {
    out.api_url = s.kube_api_url;
  } else {
    const std::string host = env_or_empty(env, "KUBERNETES_SERVICE_HOST");
    const std::string port = env_or_empty(env, "KUBERNETES_SERVICE_PORT");
    if (host.empty() || port.empty()) {
      std::string missing = host.empty() ? "KUBERNETES_SERVICE_HOST" : "";
      if (port.empty()) {
        missing += std::string(missing.empty() ? "" : " and ") + "KUBERNETES_SERVICE_PORT";
      }
      return make_error(error_kind::invalid_input,
                        "Kubernetes API: FERRY_KUBE_API_URL is not set and " + missing +
                            (host.empty() && port.empty() ? " are" : " is") +
                            " missing (not running in a cluster)");
    }
    // An IPv6 literal goes in brackets in a URL (RFC 3986 §3.2.2); client-go uses
    // net.JoinHostPort for the same reason.
    const bool ipv6 = host.find(':') != std::string::npos && host.front() != '[';
    out.api_url = "https://" + (ipv6 ? "[" + host + "]" : host) + ":" + port;
  }
  while (out.api_url.size() > 1 && out.api_url.back() == '/') {
    out.api_url.pop_back();
  }
  if (!out.api_url.starts_with("https://")) {
    // The bearer token must never travel in clear text.
    return make_error(error_kind::invalid_input,
                      "FERRY_KUBE_API_URL must be an https:// URL: " + out.api_url);
  }
  out.token_file = s.kube_token_file.empty() ? std::string(k_sa_token) : s.kube_token_file;
  out.ca_file = s.kube_ca_file.empty() ? std::string(k_sa_ca) : s.kube_ca_file;
  return out;
}

struct client::impl {
  asio::any_io_executor executor;
  kube_settings settings;
  log::logger logger;
  std::unique_ptr<github::http_client> http;
  std::minstd_rand rng{std::random_device{}()};

  // The bearer token and the file identity it was read from: bound service account tokens
  // are rotated by the kubelet (an atomic symlink swap), so each request stats the file and
  // re-reads it when it changed.
  std::string token;
  bool token_loaded = false;
  struct timespec token_mtime {};
  off_t token_size = -1;
  ino_t token_inode = 0;

  result<void> load_token(bool force) {
    struct stat st {};
    if (::stat(settings.token_file.c_str(), &st) != 0) {
      return make_error(error_kind::unauthorized,
                        "Kubernetes token file " + settings.token_file + " cannot be read");
    }
    if (!force && token_loaded && st.st_size == token_size && st.st_ino == token_inode &&
        st.st_mtim.tv_sec == token_mtime.tv_sec && st.st_mtim.tv_nsec == token_mtime.tv_nsec) {
      return ok_v;
    }
    std::ifstream in(settings.token_file, std::ios::binary);
    if (!in) {
      return make_error(error_kind::unauthorized,
                        "Kubernetes token file " + settings.token_file + " cannot be read");
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string t = ss.str();
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) {
      t.pop_back();
    }
    if (t.empty()) {
      return make_error(error_kind::unauthorized,
                        "Kubernetes token file " + settings.token_file + " is empty");
    }
    token = std::move(t);
    token_loaded = true;
    token_mtime = st.st_mtim;
    token_size = st.st_size;
    token_inode = st.st_ino;
    return ok_v;
  }

  github::http_request make_request(bhttp::verb verb, std::string_view path, std::string body,
                                    std::string_view content_type, std::string_view accept) {
    github::http_request req;
    req.method = verb;
    req.url = settings.api_url + std::string(path);
    req.headers.push_back({"authorization", "Bearer " + token});
    req.headers.push_back({"accept", std::string(accept)});
    if (!content_type.empty()) {
      req.headers.push_back({"content-type", std::string(content_type)});
    }
    req.body = std::move(body);
    return req;
  }

  static std::string call_name(bhttp::verb verb, std::string_view path) {
    return std::string(bhttp::to_string(verb)) + " " + std::string(path);
  }

  // One API call with the transport's retries; a 401 re-reads the token file and tries once
  // more (the kubelet may have rotated it between our stat and the server's check).
  asio::awaitable<result<github::http_response>> call(bhttp::verb verb, std::string_view path,
                                                      std::string body,
                                                      std::string_view content_type,
                                                      std::string_view accept,
                                                      milliseconds deadline = milliseconds(0)) {
    for (int round = 0;; ++round) {
      if (auto t = load_token(round > 0); !t) {
        co_return t.error();
      }
      auto req = make_request(verb, path, body, content_type, accept);
      req.deadline = deadline;
      auto resp = co_await http->request(std::move(req));
      if (!resp) {
        co_return std::move(resp).error();
      }
      if (resp->status == 401 && round == 0) {
        logger.info("kube: 401, re-reading the token file", {{"call", call_name(verb, path)}});
        continue;
      }
      co_return resp;
    }
  }

  // The body of a 2xx answer, else the mapped error.
  asio::awaitable<result<std::string>> call_for_body(bhttp::verb verb, std::string_view path,
                                                     std::string body,
                                                     std::string_view content_type,
                                                     std::string_view accept,
                                                     milliseconds deadline = milliseconds(0)) {
    auto resp = co_await call(verb, path, std::move(body), content_type, accept, deadline);
    if (!resp) {
      co_return std::move(resp).error();
    }
    if (!is_success(resp->status)) {
      co_return error_from_status(call_name(verb, path), resp->status,
                                  parse_status_body(resp->status, resp->body));
    }
    co_return std::move(resp->body);
  }

  asio::awaitable<void> sleep_for(milliseconds d) {
    if (d.count() <= 0) {
      co_return;
    }
    asio::steady_timer t(executor, d);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  milliseconds jitter(milliseconds ceiling) {
    std::uniform_int_distribution<long long> dist(ceiling.count() / 4, ceiling.count());
    return milliseconds(dist(rng));
  }
};

client::client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
client::~client() = default;

const kube_settings& client::settings() const noexcept {
  return impl_->settings;
}

void client::close_idle_connections() noexcept {
  impl_->http->close_idle_connections();
}

result<std::unique_ptr<client>> client::create(asio::any_io_executor executor,
                                               kube_settings settings, log::logger logger) {
  if (!settings.api_url.starts_with("https://")) {
    return make_error(error_kind::invalid_input,
                      "Kubernetes API URL must be https://: " + settings.api_url);
  }
  while (settings.api_url.back() == '/') {
    settings.api_url.pop_back();
  }
  if (settings.ca_file.empty()) {
    // An empty CA file would fall back to the system trust store: a cluster CA is private,
    // so that is never what is meant.
    return make_error(error_kind::invalid_input, "Kubernetes CA file is not set");
  }
  auto p = std::make_unique<impl>();
  p->executor = executor;
  p->logger = std::move(logger);
  github::http_settings hs;
  hs.ca_file = settings.ca_file;
  hs.attempt_timeout = settings.attempt_timeout;
  hs.max_attempts = settings.max_attempts;
  auto http = github::http_client::create(executor, std::move(hs));
  if (!http) {
    return make_error(error_kind::invalid_input,
                      "Kubernetes CA file: " + std::move(http).error().message);
  }
  p->http = std::move(http).value();
  p->settings = std::move(settings);
  if (auto t = p->load_token(true); !t) {
    return make_error(error_kind::invalid_input, t.error().message);
  }
  return std::unique_ptr<client>(new client(std::move(p)));
}

asio::awaitable<result<std::string>> client::get(std::string_view path) {
  co_return co_await impl_->call_for_body(bhttp::verb::get, path, {}, {}, "application/json");
}

asio::awaitable<result<std::string>> client::get_text(std::string_view path) {
  co_return co_await impl_->call_for_body(bhttp::verb::get, path, {}, {}, "*/*");
}

asio::awaitable<result<created>> client::create_object(std::string_view collection_path,
                                                       std::string body_json) {
  const std::string collection(collection_path);
  // The name, for reading the object back after AlreadyExists.
  std::string name;
  {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view n;
    if (parser.parse(body_json.data(), body_json.size(), true).get(doc) == simdjson::SUCCESS &&
        doc["metadata"]["name"].get(n) == simdjson::SUCCESS) {
      name.assign(n);
    }
  }
  // POST is safe to retry (the transport retries 5xx): a duplicate answers AlreadyExists.
  auto resp = co_await impl_->call(bhttp::verb::post, collection, std::move(body_json),
                                   "application/json", "application/json");
  if (!resp) {
    co_return std::move(resp).error();
  }
  if (is_success(resp->status)) {
    co_return created{false, std::move(resp->body)};
  }
  const auto st = parse_status_body(resp->status, resp->body);
  if (resp->status == 409 && st.reason == "AlreadyExists" && !name.empty()) {
    const std::string object_path = collection + "/" + name;
    auto existing = co_await get(object_path);
    if (!existing) {
      co_return std::move(existing).error();
    }
    co_return created{true, std::move(existing).value()};
  }
  co_return error_from_status(impl::call_name(bhttp::verb::post, collection), resp->status, st);
}

asio::awaitable<result<std::string>> client::merge_patch(std::string_view path,
                                                         std::string patch_json) {
  co_return co_await impl_->call_for_body(bhttp::verb::patch, path, std::move(patch_json),
                                          "application/merge-patch+json", "application/json");
}

asio::awaitable<result<std::string>> client::replace(std::string_view path, std::string body_json) {
  co_return co_await impl_->call_for_body(bhttp::verb::put, path, std::move(body_json),
                                          "application/json", "application/json");
}

asio::awaitable<result<std::string>> client::follow(
    std::string_view object_path, std::function<bool(std::string_view object_json)> done,
    milliseconds timeout) {
  const std::string path(object_path);
  std::string collection;
  std::string name;
  if (!split_object_path(path, collection, name)) {
    co_return make_error(error_kind::invalid_input,
                         "follow: not an object path: " + std::string(path));
  }
  const auto start = steady::now();
  const auto deadline = start + timeout;
  auto remaining = [&] {
    return std::chrono::duration_cast<milliseconds>(deadline - steady::now());
  };
  auto timed_out = [&] {
    return make_error(error_kind::transient, "timed out after " + std::to_string(timeout.count()) +
                                                 " ms waiting for " + path);
  };
  simdjson::dom::parser parser;
  int auth_retries = 0;

  // Outer loop: read the object, at start with a GET and after 410 Expired with a LIST of
  // the one name. The LIST matters: its resourceVersion is the collection's current one,
  // while the object's own may be long compacted (an object untouched for hours), so a watch
  // from a re-GET would be refused again and again. client-go's reflector relists for the
  // same reason.
  bool expired = false;
  for (;;) {
    if (remaining().count() <= 0) {
      co_return timed_out();
    }
    const auto read_deadline = std::min<milliseconds>(impl_->settings.attempt_timeout, remaining());
    // Named, not a conditional expression inside co_await: GCC 12 destroys a temporary made
    // by ?: in a co_await operand twice.
    std::string target = path;
    if (expired) {
      target = collection + "?fieldSelector=" + query_escape("metadata.name=" + name);
    }
    auto read = co_await impl_->call_for_body(bhttp::verb::get, target, {}, {}, "application/json",
                                              read_deadline);
    if (!read) {
      if (read.error().kind == error_kind::transient && remaining().count() <= 0) {
        co_return timed_out();
      }
      co_return std::move(read).error();
    }
    std::string rv;
    std::string current;
    {
      simdjson::dom::element doc;
      if (parser.parse(read->data(), read->size(), true).get(doc) != simdjson::SUCCESS) {
        co_return make_error(error_kind::internal, "GET " + path + ": answer is not JSON");
      }
      rv = resource_version_of(doc);
      if (!expired) {
        current = std::move(read).value();
      } else {
        simdjson::dom::array items;
        simdjson::dom::element first;
        if (doc["items"].get(items) != simdjson::SUCCESS ||
            items.at(0).get(first) != simdjson::SUCCESS) {
          co_return make_error(error_kind::not_found, path + " no longer exists");
        }
        current = simdjson::to_string(first);
      }
    }
    if (done(current)) {
      co_return current;
    }
    expired = false;

    // Inner loop: watch from rv; reopen when the server ends the stream.
    bool relist = false;
    while (!relist) {
      const auto left = remaining();
      if (left.count() <= 0) {
        co_return timed_out();
      }
      const auto watch_seconds = std::max<long long>(
          1,
          std::min<long long>(impl_->settings.watch_timeout.count(), (left.count() + 999) / 1000));
      const std::string watch_path =
          collection + "?watch=1&allowWatchBookmarks=true&resourceVersion=" + query_escape(rv) +
          "&fieldSelector=" + query_escape("metadata.name=" + name) +
          "&timeoutSeconds=" + std::to_string(watch_seconds);

      std::optional<result<std::string>> outcome;  // set when follow ends
      std::string line;
      auto handle_line = [&](std::string_view text) -> bool {
        simdjson::dom::element ev;
        if (parser.parse(text.data(), text.size(), true).get(ev) != simdjson::SUCCESS) {
          outcome = make_error(error_kind::internal, "watch " + path + ": event is not JSON");
          return false;
        }
        std::string_view type;
        simdjson::dom::element obj;
        if (ev["type"].get(type) != simdjson::SUCCESS ||
            ev["object"].get(obj) != simdjson::SUCCESS || !obj.is_object()) {
          outcome =
              make_error(error_kind::internal, "watch " + path + ": event without type or object");
          return false;
        }
        if (type == "ADDED" || type == "MODIFIED") {
          rv = resource_version_of(obj);
          std::string json = simdjson::to_string(obj);
          if (done(json)) {
            outcome = std::move(json);
            return false;
          }
          return true;
        }
        if (type == "BOOKMARK") {
          rv = resource_version_of(obj);
          return true;
        }
        if (type == "DELETED") {
          outcome = make_error(error_kind::not_found, path + " was deleted while followed");
          return false;
        }
        if (type == "ERROR") {
          const auto st = parse_status(obj);
          if (st.code == 410) {
            // "too old resource version": our rv was compacted; list again.
            relist = true;
            return false;
          }
          outcome = error_from_status("watch " + path, st.code, st);
          return false;
        }
        return true;  // unknown event types are skipped
      };
      auto on_bytes = [&](std::string_view bytes) -> bool {
        while (!bytes.empty()) {
          const auto nl = bytes.find('\n');
          line.append(bytes.substr(0, nl));
          if (line.size() > limits::k_kube_watch_event_max) {
            outcome = make_error(error_kind::internal,
                                 "watch " + path + ": event over " +
                                     std::to_string(limits::k_kube_watch_event_max) + " bytes");
            return false;
          }
          if (nl == std::string_view::npos) {
            return true;
          }
          bytes.remove_prefix(nl + 1);
          const bool blank = line.find_first_not_of(" \r\t") == std::string::npos;
          if (!blank && !handle_line(line)) {
            return false;
          }
          line.clear();
        }
        return true;
      };

      if (auto t = impl_->load_token(auth_retries > 0); !t) {
        co_return t.error();
      }
      auto req = impl_->make_request(bhttp::verb::get, watch_path, {}, {}, "application/json");
      // Our own bound on the stream, a little past the server's: a connection that died
      // silently (no FIN, no RST) is noticed and reopened instead of waited on until the end.
      req.deadline =
          std::min(left, milliseconds(watch_seconds * 1000) + limits::k_kube_watch_grace);
      auto resp = co_await impl_->http->request_stream(std::move(req), on_bytes);
      if (outcome) {
        co_return std::move(*outcome);
      }
      if (relist) {
        expired = true;
        break;
      }
      if (!resp) {
        if (remaining().count() <= 0) {
          co_return timed_out();
        }
        if (resp.error().kind != error_kind::transient) {
          co_return std::move(resp).error();
        }
        impl_->logger.info("kube: watch failed, reopening",
                           {{"path", path}, {"error", resp.error().message}});
        co_await impl_->sleep_for(
            std::min(remaining(), impl_->jitter(milliseconds(limits::k_kube_watch_retry_max))));
        continue;
      }
      if (resp->status == 410) {
        expired = true;
        break;
      }
      if (resp->status == 401 && auth_retries == 0) {
        ++auth_retries;
        continue;
      }
      if (!is_success(resp->status)) {
        auto err = error_from_status("watch " + path, resp->status,
                                     parse_status_body(resp->status, resp->body));
        if (err.kind != error_kind::transient) {
          co_return err;
        }
        co_await impl_->sleep_for(
            std::min(remaining(), impl_->jitter(milliseconds(limits::k_kube_watch_retry_max))));
        continue;
      }
      // The server ended the stream (timeoutSeconds): reopen from the last resourceVersion.
    }
  }
}

}  // namespace ferry::kube
