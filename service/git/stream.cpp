#include "service/git/stream.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/stream.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

namespace ferry::git::detail {

namespace {

std::atomic<long> g_timeout_ms{60'000};  // process-wide, like libgit2's stream registry

struct timeout_stream {
  git_stream parent;  // must come first: libgit2 casts git_stream* to this type
  std::string host;
  std::string port;
  int fd = -1;
};

int set_error(const std::string& message) {
  git_error_set_str(GIT_ERROR_NET, message.c_str());
  return -1;
}

// Connects one address with a deadline: non-blocking connect, poll for writability, then check
// SO_ERROR (connect(2), "EINPROGRESS").
int connect_one(const addrinfo* ai, long timeout_ms) {
  const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) {
    return -1;
  }
  const int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    do {
      rc = ::poll(&p, 1, static_cast<int>(timeout_ms));
    } while (rc < 0 && errno == EINTR);
    if (rc == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    } else {
      if (rc == 0) {
        errno = ETIMEDOUT;
      }
      rc = -1;
    }
  }
  if (rc != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  ::fcntl(fd, F_SETFL, flags);
  // Blocking I/O from here on, each read and write bounded (socket(7), SO_RCVTIMEO/SO_SNDTIMEO).
  timeval tv{};
  tv.tv_sec = timeout_ms / 1000;
  tv.tv_usec = (timeout_ms % 1000) * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

int stream_connect(git_stream* s) {
  auto* st = reinterpret_cast<timeout_stream*>(s);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (const int rc = ::getaddrinfo(st->host.c_str(), st->port.c_str(), &hints, &list); rc != 0) {
    return set_error("failed to resolve address for " + st->host + ": " + gai_strerror(rc));
  }
  const long timeout_ms = g_timeout_ms.load();
  int last_errno = 0;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    st->fd = connect_one(ai, timeout_ms);
    if (st->fd >= 0) {
      break;
    }
    last_errno = errno;
  }
  ::freeaddrinfo(list);
  if (st->fd < 0) {
    return set_error("failed to connect to " + st->host + ":" + st->port + ": " +
                     std::strerror(last_errno));
  }
  return 0;
}

ssize_t stream_read(git_stream* s, void* data, size_t len) {
  auto* st = reinterpret_cast<timeout_stream*>(s);
  ssize_t n = 0;
  do {
    n = ::recv(st->fd, data, len, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    const bool timeout = errno == EAGAIN || errno == EWOULDBLOCK;
    return set_error(timeout ? "timed out reading from " + st->host
                             : "read from " + st->host + " failed: " + std::strerror(errno));
  }
  return n;
}

ssize_t stream_write(git_stream* s, const char* data, size_t len, int /*flags*/) {
  auto* st = reinterpret_cast<timeout_stream*>(s);
  ssize_t n = 0;
  do {
    n = ::send(st->fd, data, len, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    const bool timeout = errno == EAGAIN || errno == EWOULDBLOCK;
    return set_error(timeout ? "timed out writing to " + st->host
                             : "write to " + st->host + " failed: " + std::strerror(errno));
  }
  return n;
}

int stream_close(git_stream* s) {
  auto* st = reinterpret_cast<timeout_stream*>(s);
  if (st->fd >= 0) {
    ::close(st->fd);
    st->fd = -1;
  }
  return 0;
}

void stream_free(git_stream* s) {
  auto* st = reinterpret_cast<timeout_stream*>(s);
  stream_close(s);
  delete st;
}

int stream_init(git_stream** out, const char* host, const char* port) {
  auto* st = new timeout_stream{};
  st->parent.version = GIT_STREAM_VERSION;
  st->parent.encrypted = 0;
  st->parent.proxy_support = 0;
  st->parent.connect = stream_connect;
  st->parent.read = stream_read;
  st->parent.write = stream_write;
  st->parent.close = stream_close;
  st->parent.free = stream_free;
  st->host = host;
  st->port = port;
  *out = &st->parent;
  return 0;
}

}  // namespace

result<void> install_timeout_stream(std::chrono::seconds timeout) {
  g_timeout_ms.store(
      static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()));
  static std::once_flag once;
  int rc = 0;
  std::call_once(once, [&] {
    git_stream_registration reg{};
    reg.version = GIT_STREAM_VERSION;
    reg.init = stream_init;
    reg.wrap = nullptr;
    rc = git_stream_register(GIT_STREAM_STANDARD, &reg);
  });
  if (rc != 0) {
    const git_error* e = git_error_last();
    return make_error(error_kind::internal,
                      std::string("registering the git socket stream: ") +
                          (e != nullptr && e->message != nullptr ? e->message : "failed"));
  }
  return ok_v;
}

}  // namespace ferry::git::detail
