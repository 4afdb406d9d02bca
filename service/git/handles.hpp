#pragma once
// Internal to ferry_git: RAII owners for libgit2 handles, the once-per-process library guard and
// the conversion of libgit2 errors into ferry::error. Nothing outside service/git includes this.

#include <git2.h>

#include <memory>
#include <string>
#include <string_view>

#include "service/result.hpp"

namespace ferry::git::detail {

// libgit2 must be initialised before any other call (libgit2 docs: git_libgit2_init "must be
// called before any other libgit2 function"). A function-local static runs it exactly once per
// process, thread-safely (C++11 magic statics), and shuts it down at exit.
void ensure_libgit2();

template <typename T, void (*Free)(T*)>
struct deleter {
  void operator()(T* p) const noexcept {
    if (p != nullptr) {
      Free(p);
    }
  }
};

using repository_ptr =
    std::unique_ptr<git_repository, deleter<git_repository, git_repository_free>>;
using remote_ptr = std::unique_ptr<git_remote, deleter<git_remote, git_remote_free>>;
using commit_ptr = std::unique_ptr<git_commit, deleter<git_commit, git_commit_free>>;
using tree_ptr = std::unique_ptr<git_tree, deleter<git_tree, git_tree_free>>;
using tree_entry_ptr =
    std::unique_ptr<git_tree_entry, deleter<git_tree_entry, git_tree_entry_free>>;
using blob_ptr = std::unique_ptr<git_blob, deleter<git_blob, git_blob_free>>;
using object_ptr = std::unique_ptr<git_object, deleter<git_object, git_object_free>>;
using reference_ptr = std::unique_ptr<git_reference, deleter<git_reference, git_reference_free>>;
using diff_ptr = std::unique_ptr<git_diff, deleter<git_diff, git_diff_free>>;
using signature_ptr = std::unique_ptr<git_signature, deleter<git_signature, git_signature_free>>;
using index_ptr = std::unique_ptr<git_index, deleter<git_index, git_index_free>>;
using odb_ptr = std::unique_ptr<git_odb, deleter<git_odb, git_odb_free>>;
using reference_iterator_ptr =
    std::unique_ptr<git_reference_iterator,
                    deleter<git_reference_iterator, git_reference_iterator_free>>;

// git_buf is a value type whose storage libgit2 allocates; dispose it on every path.
class buf {
 public:
  buf() = default;
  buf(const buf&) = delete;
  buf& operator=(const buf&) = delete;
  ~buf() { git_buf_dispose(&b_); }
  git_buf* get() { return &b_; }
  std::string_view view() const { return {b_.ptr != nullptr ? b_.ptr : "", b_.size}; }

 private:
  git_buf b_ = GIT_BUF_INIT;
};

// The error libgit2 recorded for the failing call on this thread (git_error_last is
// thread-local), as a ferry::error: `what` says what ferry was doing. The kind follows the
// return code and the error class: not found, authentication, network (transient), locks
// (transient: another writer holds a .lock file), everything else internal.
error last_error(int code, std::string_view what);

// Normalises a repository path: "./a/b/" -> "a/b", "." -> "". Refuses "..", "." and empty
// components (and NUL) so a path can never point outside the tree or a checkout directory.
result<std::string> normalise(std::string_view path);

std::string to_hex(const git_oid& oid);
// Parses a full 40-hex SHA-1 object id. Abbreviated ids are refused: ferry always has full ids
// (webhook payloads and API objects carry them) and a prefix could become ambiguous later.
result<git_oid> parse_oid(std::string_view hex);

}  // namespace ferry::git::detail
