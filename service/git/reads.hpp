#pragma once
// Reads at a commit, shared by the bare mirrors (mirror.hpp) and the demo's local repository
// (local_repo.hpp): both derive from `reads`, so there is one implementation of each read.
//
// Commits and blobs are named by full 40-hex SHA-1 ids. Paths are repository-relative with '/'
// separators ("clusters/staging/app.yaml"); a leading "./" and trailing '/' are ignored, and
// "..", "." or empty components are refused as invalid_input.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "service/result.hpp"

struct git_repository;

namespace ferry::git {

struct tree_entry {
  std::string path;     // repository-relative
  std::string blob_id;  // 40 hex
  std::uint32_t mode;   // 0100644, 0100755 or 0120000 (symbolic link); submodules are skipped
  bool operator==(const tree_entry&) const = default;
};

struct file {
  std::string path;
  std::string content;
  bool operator==(const file&) const = default;
};

// The all-zero id GitHub sends as `before` for a new branch (push event).
inline constexpr std::string_view k_zero_oid = "0000000000000000000000000000000000000000";

class reads {
 public:
  reads(const reads&) = delete;
  reads& operator=(const reads&) = delete;
  virtual ~reads();

  // A branch name ("main"), a full ref ("refs/heads/ferry/staging/flux-system-app"), "HEAD" or a
  // full commit id, peeled to a commit. not_found if it names nothing here.
  result<std::string> resolve(std::string_view ref) const;

  // The bytes of the blob at `path` in `commit`'s tree. not_found if the path is missing or is a
  // directory; not_found if the commit is not in this repository (fetch it first).
  result<std::string> read_file(std::string_view commit, std::string_view path) const;

  // The id of `commit`'s root tree (the base_tree of a commit made on top of it through the
  // API, with no GET git/commits round trip). not_found if the commit is not here.
  result<std::string> tree_id(std::string_view commit) const;

  // The blob id at `path`: equal ids mean equal content, so callers cache parsed files by it
  // (the rules file is parsed once per blob, not once per delivery).
  result<std::string> blob_id(std::string_view commit, std::string_view path) const;

  // Every file (blob or symlink) under `prefix`, recursively, sorted by path. An empty prefix is
  // the whole tree; a prefix naming a file gives that file; a missing prefix gives an empty list
  // (an environment path that does not exist yet holds no markers).
  result<std::vector<tree_entry>> list_tree(std::string_view commit, std::string_view prefix) const;

  // Paths that differ between two commits (added, modified, deleted, type-changed; a rename
  // gives both the old and the new path), sorted and unique. `old_commit` equal to k_zero_oid
  // (or empty) means "no previous commit": every path of `new_commit` (SPEC, push handling: "all
  // of them when before is zero"). A zero `new_commit` (a deleted branch) gives every path of
  // `old_commit`.
  result<std::vector<std::string>> changed_paths(std::string_view old_commit,
                                                 std::string_view new_commit) const;

  // True when `commit` is `ancestor` or has it in its history. Equal counts as true on purpose:
  // Flux's "lastAppliedRevision at the pushed commit or a descendant of it" includes the commit
  // itself. libgit2's git_graph_descendant_of alone returns false for equal ids.
  result<bool> is_descendant(std::string_view commit, std::string_view ancestor) const;

  // Who made `commit`, as its object says: the author's name, the committer's e-mail, whether it
  // carries a signature (a `gpgsig` header) and the message. For "is this head one ferry wrote"
  // without a GET git/commits round trip: GitHub signs the commits it makes for an App (Git Data
  // API or createCommitOnBranch) with its web-flow key, as committer noreply@github.com.
  struct commit_facts {
    std::string author_name;
    std::string committer_email;
    bool signed_ = false;
    std::string message;
    std::int64_t committer_time = 0;  // seconds since the epoch (a merge's time, for a merge)
  };
  result<commit_facts> commit_info(std::string_view commit) const;

  // The newest commit reachable from `commit` (itself included; every parent followed, newest
  // committer time first, as `git log` lists them) whose message satisfies `matches`, looking at
  // no more than `limit` commits. nullopt when none matched within the limit. For "what runs
  // now": the bump commit that wrote a value, which names its source commit in a trailer.
  struct found_commit {
    std::string id;
    std::string message;
  };
  result<std::optional<found_commit>> find_commit(
      std::string_view commit, std::size_t limit,
      const std::function<bool(std::string_view message)>& matches) const;

  // Regular files (not symlinks, not submodules) under any of `prefixes` (empty list or an empty
  // prefix = the whole tree), each path once, sorted by path, handed to `visit` with the content.
  // `visit` returns false to stop early. Nothing touches the disk.
  using file_visitor = std::function<bool(std::string_view path, std::string_view content)>;
  result<void> for_each_file(std::string_view commit, std::span<const std::string> prefixes,
                             const file_visitor& visit) const;

  // The same files as for_each_file, collected.
  result<std::vector<file>> files(std::string_view commit,
                                  std::span<const std::string> prefixes) const;

  // Writes the files for_each_file visits into `dir` (created if missing) at their paths, for
  // code that walks a directory (the markers scanner, `ferry check`). Existing files are
  // overwritten; nothing else in `dir` is removed.
  result<void> checkout_to(std::string_view commit, const std::filesystem::path& dir,
                           std::span<const std::string> prefixes) const;

 protected:
  reads() = default;
  reads(reads&&) noexcept = default;
  reads& operator=(reads&&) noexcept = default;

  struct repository_closer {
    void operator()(git_repository* repo) const noexcept;
  };
  // mutable: the mirror may reopen its repository inside before_read().
  mutable std::unique_ptr<git_repository, repository_closer> repo_;
  // Held (when set) for every read: a git_repository handle must not be used by two threads at
  // once (libgit2 docs, "Threading": objects are not thread-safe).
  std::mutex* mutex_ = nullptr;

  // The derived class's chance to check or reopen its repository before a read (the mirror
  // recovers a deleted cache directory here). Called with the mutex held.
  virtual result<void> before_read() const { return ok_v; }

 private:
  template <typename F>
  auto locked(F&& f) const -> decltype(f());
};

}  // namespace ferry::git
