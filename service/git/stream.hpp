#pragma once
// Internal to ferry_git: a plain TCP stream for libgit2 with connect, read and write timeouts.
//
// libgit2 1.5 has no network timeout option (GIT_OPT_SET_SERVER_TIMEOUT arrived in 1.7), so a
// server that accepts and then goes silent would block a fetch forever. libgit2 lets a program
// register its own socket stream (git2/sys/stream.h, GIT_STREAM_STANDARD), and its TLS stream
// (mbedTLS in Debian's build) opens its underlying socket through that same registration, so one
// registration bounds both http:// and https:// fetches.

#include <chrono>

#include "service/result.hpp"

namespace ferry::git::detail {

// Registers the stream once per process; later calls only change the timeout (libgit2's stream
// registry is process-wide, so the timeout is too: the last registry created sets it).
result<void> install_timeout_stream(std::chrono::seconds timeout);

}  // namespace ferry::git::detail
