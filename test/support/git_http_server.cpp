#include "test/support/git_http_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace ferry::test {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr const char* k_backend = "/usr/lib/git-core/git-http-backend";

std::string base64(std::string_view in) {
  static constexpr char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += k_alphabet[(v >> 18) & 63];
    out += k_alphabet[(v >> 12) & 63];
    out += k_alphabet[(v >> 6) & 63];
    out += k_alphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += k_alphabet[(v >> 18) & 63];
    out += k_alphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += k_alphabet[(v >> 18) & 63];
    out += k_alphabet[(v >> 12) & 63];
    out += k_alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

struct cgi_output {
  int exit_status = -1;
  std::string out;
};

// Runs the CGI with `env`, feeding `input` on stdin while draining stdout (poll on both, so a
// large request and a large answer cannot deadlock on full pipes).
cgi_output run_cgi(const std::vector<std::string>& env, const std::string& input) {
  int in_pipe[2];
  int out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  // Its complaints (a missing repository) are answered as HTTP statuses; keep test output clean.
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> envp;
  for (const auto& e : env) {
    envp.push_back(const_cast<char*>(e.c_str()));
  }
  envp.push_back(nullptr);
  char* argv[] = {const_cast<char*>(k_backend), nullptr};
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, k_backend, &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  if (rc != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    throw std::runtime_error(std::string("spawning git-http-backend: ") + std::strerror(rc));
  }
  cgi_output result;
  std::size_t written = 0;
  int in_fd = in_pipe[1];
  if (input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  char buf[65536];
  for (;;) {
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {in_fd, POLLOUT, 0}};
    const int n = ::poll(fds, in_fd >= 0 ? 2 : 1, -1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (in_fd >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      const ssize_t w = ::write(in_fd, input.data() + written, input.size() - written);
      if (w > 0) {
        written += static_cast<std::size_t>(w);
      }
      if (w < 0 || written == input.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t r = ::read(out_pipe[0], buf, sizeof buf);
      if (r <= 0) {
        break;
      }
      result.out.append(buf, static_cast<std::size_t>(r));
    }
  }
  if (in_fd >= 0) {
    ::close(in_fd);
  }
  ::close(out_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace

struct git_http_server::impl {
  std::filesystem::path root;
  std::string expected_auth;
  asio::io_context io;
  std::unique_ptr<asio::ssl::context> tls;  // null: plain HTTP
  tcp::acceptor acceptor{io};
  std::thread thread;
  mutable std::mutex mutex;
  stats observed;

  http::response<http::string_body> handle(const http::request<http::string_body>& req) {
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    {
      std::lock_guard guard(mutex);
      ++observed.requests;
    }
    if (req[http::field::authorization] != expected_auth) {
      std::lock_guard guard(mutex);
      ++observed.unauthorized;
      res.result(http::status::unauthorized);
      res.set(http::field::www_authenticate, "Basic realm=\"test\"");
      // No body: libgit2 1.5.1 fails the retried request with "http parser error: invalid
      // constant string" when a 401 on a kept-alive connection carries one (seen with this
      // server; the body bytes are parsed as the start of the next response).
      res.body() = "";
      res.prepare_payload();
      return res;
    }
    const std::string target(req.target());
    const auto q = target.find('?');
    std::vector<std::string> env = {
        "GIT_PROJECT_ROOT=" + root.string(),
        "GIT_HTTP_EXPORT_ALL=1",
        "PATH_INFO=" + target.substr(0, q),
        "QUERY_STRING=" + (q == std::string::npos ? std::string() : target.substr(q + 1)),
        "REQUEST_METHOD=" + std::string(req.method_string()),
        "CONTENT_TYPE=" + std::string(req[http::field::content_type]),
        "CONTENT_LENGTH=" + std::to_string(req.body().size()),
        "REMOTE_USER=x-access-token",
        "REMOTE_ADDR=127.0.0.1",
        "GATEWAY_INTERFACE=CGI/1.1",
        "SERVER_PROTOCOL=HTTP/1.1",
        "PATH=/usr/bin:/bin",
        "HOME=" + root.string(),
        "GIT_CONFIG_NOSYSTEM=1",
    };
    if (auto it = req.find("Git-Protocol"); it != req.end()) {
      env.push_back("HTTP_GIT_PROTOCOL=" + std::string(it->value()));
    }
    if (auto it = req.find(http::field::content_encoding); it != req.end()) {
      env.push_back("HTTP_CONTENT_ENCODING=" + std::string(it->value()));
    }
    const cgi_output out = run_cgi(env, req.body());
    // CGI answer (RFC 3875, section 6): header lines, a blank line, the body; "Status:" gives
    // the HTTP status (200 when absent).
    std::size_t header_end = out.out.find("\r\n\r\n");
    std::size_t body_start = header_end + 4;
    if (header_end == std::string::npos) {
      header_end = out.out.find("\n\n");
      body_start = header_end + 2;
    }
    if (header_end == std::string::npos) {
      res.result(http::status::internal_server_error);
      res.body() = "git-http-backend gave no headers\n";
      res.prepare_payload();
      return res;
    }
    res.result(http::status::ok);
    std::string_view headers(out.out.data(), header_end);
    while (!headers.empty()) {
      auto eol = headers.find('\n');
      std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 1);
      if (line.ends_with('\r')) {
        line.remove_suffix(1);
      }
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) {
        continue;
      }
      const std::string_view name = line.substr(0, colon);
      std::string_view value = line.substr(colon + 1);
      while (value.starts_with(' ')) {
        value.remove_prefix(1);
      }
      if (name == "Status") {
        res.result(static_cast<unsigned>(std::stoi(std::string(value.substr(0, 3)))));
      } else {
        res.set(name, value);
      }
    }
    res.body() = out.out.substr(body_start);
    res.prepare_payload();
    if (req.method() == http::verb::post && target.ends_with("/git-upload-pack")) {
      std::lock_guard guard(mutex);
      observed.upload_pack_bytes.push_back(res.body().size());
    }
    return res;
  }

  asio::awaitable<void> session(tcp::socket socket) {
    try {
      if (tls) {
        beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
        co_await stream.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
        co_await serve(stream);
      } else {
        beast::tcp_stream stream(std::move(socket));
        co_await serve(stream);
        beast::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      }
    } catch (const boost::system::system_error&) {
      // The client closed the connection (end of stream), reset it, or failed the handshake
      // (a test of an untrusted certificate): the session ends.
    }
  }

  template <typename Stream>
  asio::awaitable<void> serve(Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(256u * 1024u * 1024u);
      co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
      auto req = parser.release();
      auto res = handle(req);
      const bool keep = res.keep_alive();
      co_await http::async_write(stream, res, asio::use_awaitable);
      if (!keep) {
        break;
      }
    }
  }

  asio::awaitable<void> listen() {
    for (;;) {
      tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
      asio::co_spawn(io, session(std::move(socket)), asio::detached);
    }
  }
};

git_http_server::git_http_server(std::filesystem::path project_root, std::string token)
    : impl_(std::make_unique<impl>()) {
  impl_->root = std::move(project_root);
  impl_->expected_auth = "Basic " + base64("x-access-token:" + token);
  start();
}

git_http_server::git_http_server(std::filesystem::path project_root, std::string token,
                                 tls_files files)
    : impl_(std::make_unique<impl>()) {
  impl_->root = std::move(project_root);
  impl_->expected_auth = "Basic " + base64("x-access-token:" + token);
  impl_->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  impl_->tls->use_certificate_chain_file(files.certificate_chain.string());
  impl_->tls->use_private_key_file(files.private_key.string(), asio::ssl::context::pem);
  start();
}

void git_http_server::start() {
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  asio::co_spawn(impl_->io, impl_->listen(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

git_http_server::~git_http_server() {
  impl_->io.stop();
  impl_->thread.join();
}

unsigned short git_http_server::port() const {
  return impl_->acceptor.local_endpoint().port();
}

std::string git_http_server::url(std::string_view repo) const {
  if (impl_->tls) {
    return "https://localhost:" + std::to_string(port()) + "/" + std::string(repo);
  }
  return "http://127.0.0.1:" + std::to_string(port()) + "/" + std::string(repo);
}

git_http_server::stats git_http_server::observed() const {
  std::lock_guard guard(impl_->mutex);
  return impl_->observed;
}

}  // namespace ferry::test
