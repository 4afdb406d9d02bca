#pragma once
// ferry's Kubernetes API client: bearer-token HTTPS calls to the API server (TLS verified
// against the cluster CA, host name or IP checked), Status responses mapped to ferry errors,
// and follow(): wait for one object to reach a state with a watch (a streaming read), not a
// poll, so a Job's or Kustomization's result is seen as soon as the API server has it.
//
// Transport is github::http_client (Beast over OpenSSL, keep-alive pool, deadlines, bounded
// jittered retries of 429 with Retry-After, 5xx and connection errors). Not thread-safe: one
// client lives on one executor, as http_client does.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "service/config.hpp"
#include "service/kube/objects.hpp"
#include "service/limits.hpp"
#include "service/log.hpp"
#include "service/result.hpp"

namespace ferry::github {
class http_client;
}

namespace ferry::kube {

struct kube_settings {
  std::string api_url;     // "https://host:port"
  std::string token_file;  // bearer token, re-read when it changes (bound SA tokens rotate)
  std::string ca_file;     // PEM CA bundle for the API server
  std::chrono::milliseconds attempt_timeout = limits::k_kube_attempt_timeout;
  int max_attempts = limits::k_kube_max_attempts;
  // follow(): each watch asks the server to end it after this long (timeoutSeconds); it is
  // then reopened from the last resourceVersion seen.
  std::chrono::seconds watch_timeout = limits::k_kube_watch_timeout;
};

// FERRY_KUBE_API_URL / _TOKEN_FILE / _CA_FILE (service::settings kube_api_url, kube_token_file,
// kube_ca_file) when set, else in-cluster:
// https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (an IPv6 literal in brackets) and the
// service account's token and ca.crt under /var/run/secrets/kubernetes.io/serviceaccount/
// (client-go rest.InClusterConfig does the same). invalid_input naming what is missing. Files are
// not opened here: client::create does.
result<kube_settings> resolve_settings(const service::settings& s, const service::environment& env);

// What create_object did: the created object's JSON, or the existing one read back after
// 409 AlreadyExists (already_existed = true).
struct created {
  bool already_existed = false;
  std::string object;
};

class client {
 public:
  // invalid_input when the URL is not https, the CA file cannot be loaded or the token file
  // cannot be read (each named).
  static result<std::unique_ptr<client>> create(boost::asio::any_io_executor executor,
                                                kube_settings settings, log::logger logger = {});
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Paths are API paths: "/apis/batch/v1/namespaces/ns/jobs/name" (with a query when needed).
  // A string_view argument must stay valid until the returned awaitable is first awaited
  // (`co_await c.get(path_of(...))` in one expression is fine: it is copied then).
  // Errors (messages carry the call, the Status reason and message, never the token):
  //   401 -> unauthorized (after re-reading the token file once and retrying);
  //   403 -> invalid_input "Forbidden: ..."; 404 -> not_found; 409 -> conflict;
  //   410 -> not_found; 400, 415, 422 -> invalid_input (422 lists details.causes field: message);
  //   429, 5xx, timeouts, connection errors -> transient, after bounded retries.
  boost::asio::awaitable<result<std::string>> get(std::string_view path);
  boost::asio::awaitable<result<std::string>> get_text(std::string_view path);
  // POST; 409 AlreadyExists reads the existing object back (metadata.name of the body).
  boost::asio::awaitable<result<created>> create_object(std::string_view collection_path,
                                                        std::string body_json);
  // PATCH with application/merge-patch+json (RFC 7386); custom resources accept it, unlike
  // strategic merge.
  boost::asio::awaitable<result<std::string>> merge_patch(std::string_view path,
                                                          std::string patch_json);
  // PUT: optimistic concurrency through metadata.resourceVersion in the body (409 Conflict
  // when it is stale).
  boost::asio::awaitable<result<std::string>> replace(std::string_view path, std::string body_json);
  // Follows one object until done(object_json) is true: GET it (done? return), then watch its
  // collection (fieldSelector=metadata.name=<name>) from the GET's resourceVersion, evaluating
  // done() on each ADDED/MODIFIED object as it arrives; reopens the watch from the last
  // resourceVersion when the server ends the stream; on 410 Expired re-GETs and continues.
  // Returns the object that satisfied done; transient "timed out after ..." when `timeout`
  // passes; not_found when the object is deleted or absent. Needs RBAC get, list and watch on
  // the resource (the relist after 410 is a list of the one name).
  boost::asio::awaitable<result<std::string>> follow(
      std::string_view object_path, std::function<bool(std::string_view object_json)> done,
      std::chrono::milliseconds timeout);

  const kube_settings& settings() const noexcept;
  // See github::http_client::close_idle_connections: after the io_context stopped, before it
  // goes.
  void close_idle_connections() noexcept;

  struct impl;

 private:
  explicit client(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace ferry::kube
