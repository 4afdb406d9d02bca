#pragma once
// The Kubernetes API double (test/doubles/kube/server.js) as a test fixture: a fresh PKI and
// token (make-pki.sh beside the script) in a temp dir, the server on 127.0.0.1 port 0 with real
// TLS, stopped when the object goes. The script comes from the FERRY_KUBE_DOUBLE compile
// definition (test/CMakeLists.txt), never the working directory.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "service/github/http_client.hpp"
#include "test/support/process.hpp"
#include "test/support/temp_dir.hpp"

namespace ferry::test {

class kube_double {
 public:
  // namespaces: --namespaces (requests outside them answer 403); empty: all allowed.
  explicit kube_double(const std::vector<std::string>& namespaces = {});
  ~kube_double();
  kube_double(const kube_double&) = delete;
  kube_double& operator=(const kube_double&) = delete;

  const std::string& url() const noexcept { return url_; }  // https://127.0.0.1:N
  std::filesystem::path ca_file() const { return dir_.path() / "ca.pem"; }
  std::filesystem::path token_file() const { return dir_.path() / "token"; }
  std::string token() const { return read_text(token_file()); }
  // Replaces the token file's contents (the double accepts only the current contents).
  void rotate_token(const std::string& token) const;

  // A request to a control endpoint (/_double/...): no token needed. For use on the test's
  // own io_context with an http_client made by control_client().
  github::http_request control_request(boost::beast::http::verb method, const std::string& path,
                                       std::string body = {}) const;
  result<std::unique_ptr<github::http_client>> control_client(
      boost::asio::any_io_executor executor) const;

  // The same, synchronously on a private io_context. Throws when no answer came.
  struct reply {
    int status = 0;
    std::string body;
  };
  reply control(boost::beast::http::verb method, const std::string& path,
                std::string body = {}) const;

  // The Flux objects the example rules name for staging (apply.flux: Kustomization
  // flux-system/apps, its GitRepository), as `flux bootstrap` would have left them.
  void seed_example_flux() const;

  std::string stderr_text() const { return child_ ? child_->err() : std::string(); }

 private:
  temp_dir dir_;
  std::unique_ptr<child> child_;
  std::string url_;
};

}  // namespace ferry::test
