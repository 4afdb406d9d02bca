#pragma once
// A real git server for tests: Git's own smart-HTTP CGI (git-http-backend, the program GitHub's
// protocol is defined against) behind a small Boost.Beast HTTP server on 127.0.0.1, port 0. It
// requires HTTP basic auth as GitHub does for installation tokens: user "x-access-token",
// password = the token; anything else gets 401 with `WWW-Authenticate: Basic realm="test"`.
//
// Repositories are the bare repositories under `project_root`; "<root>/infra.git" is served at
// url("infra.git"). One background thread serves every connection (requests are handled one at
// a time, which is all tests need).

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::test {

class git_http_server {
 public:
  git_http_server(std::filesystem::path project_root, std::string token);
  // HTTPS instead: PEM certificate chain and private key files (clients reach it as
  // https://localhost:<port>/..., so the certificate should name DNS:localhost).
  struct tls_files {
    std::filesystem::path certificate_chain;
    std::filesystem::path private_key;
  };
  git_http_server(std::filesystem::path project_root, std::string token, tls_files tls);
  ~git_http_server();
  git_http_server(const git_http_server&) = delete;
  git_http_server& operator=(const git_http_server&) = delete;

  unsigned short port() const;
  // http://127.0.0.1:<port>/<repo>, or https://localhost:<port>/<repo> with TLS
  std::string url(std::string_view repo) const;

  // Observations for assertions.
  struct stats {
    std::size_t requests = 0;
    std::size_t unauthorized = 0;                // 401 answers
    std::vector<std::size_t> upload_pack_bytes;  // body size of each POST git-upload-pack answer
  };
  stats observed() const;

 private:
  struct impl;
  void start();
  std::unique_ptr<impl> impl_;
};

}  // namespace ferry::test
