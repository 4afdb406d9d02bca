#pragma once
// Bare mirrors of infrastructure repositories in FERRY_CACHE_DIR, fetched incrementally over
// HTTPS with the installation token (SPEC: "disposable cache (bare mirrors of infra repos);
// losing it loses nothing").
//
// Concurrency: one `mirror` object per repository, owned by the `mirror_registry`; every fetch
// and every read of a mirror holds that mirror's mutex, so threads and coroutines of one process
// never use the same git_repository at once (libgit2 objects are not thread-safe). Calls block:
// run them on a thread pool, not on the io_context's thread.
// Across processes nothing is shared: each replica has its own cache directory (an emptyDir),
// so in-process serialisation is all that is needed. Should two processes ever point at one
// directory, libgit2's own .lock files make a losing ref update fail (GIT_ELOCKED -> transient)
// rather than corrupt it, and packs are written under temporary names and renamed.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "service/git/reads.hpp"
#include "service/limits.hpp"
#include "service/result.hpp"

namespace ferry::git {

struct mirror_settings {
  std::string cache_dir;  // FERRY_CACHE_DIR
  std::string ca_file;    // PEM bundle for HTTPS; empty = libgit2's default (the system bundle)
  // Deadline for one fetch (connect, negotiation and pack transfer together).
  std::chrono::seconds timeout = limits::k_git_fetch_timeout;
};

// An installation token; GitHub accepts it as the password of user "x-access-token" over
// HTTPS (docs.github.com: "Authenticating as a GitHub App installation", "git clone
// https://x-access-token:TOKEN@github.com/owner/repo.git"). It is handed to libgit2 only from
// the credentials callback, never written into a URL or the repository's config.
struct credentials {
  std::string token;
};

class mirror final : public reads {
 public:
  ~mirror() override;

  // Fetches what ferry reads: the remote's default branch (stored as refs/heads/<name>, with
  // HEAD pointing at it), every refs/heads/ferry/* branch (pruned locally when deleted on the
  // server), and `ref_or_sha`, then returns the commit `ref_or_sha` names here.
  //   - a full 40-hex commit id: answered from the cache without any network call when the
  //     commit is already present (objects are immutable); otherwise fetched by id (servers that
  //     allow it: GitHub does), falling back to fetching every branch and looking again.
  //   - "HEAD" or "" : the default branch head.
  //   - a branch name or a refs/heads/... ref: that branch, fetched too.
  // Errors: unauthorized (token refused or missing, message without the token), not_found
  // (repository, branch or commit absent), transient (network, timeout), invalid_input (a URL
  // carrying credentials, a bad ref).
  result<std::string> fetch(std::string_view clone_url, std::string_view ref_or_sha,
                            const credentials& creds);

  const std::string& path() const { return path_; }

 private:
  friend class mirror_registry;
  mirror(std::string path, const mirror_settings& settings);

  result<void> open_or_create();
  result<void> recreate();
  result<std::string> fetch_once(std::string_view clone_url, std::string_view ref_or_sha,
                                 const credentials& creds);
  result<void> before_read() const override;
  // Called with lock_ held: more than limits::k_mirror_packs_max packs become one.
  result<void> compact();

  std::string path_;
  const mirror_settings& settings_;
  std::mutex lock_;
};

class mirror_registry {
 public:
  // Applies the process-wide libgit2 settings (CA file, user agent). Fails when the CA file
  // cannot be loaded or the cache directory cannot be created.
  static result<std::unique_ptr<mirror_registry>> create(mirror_settings settings);

  mirror_registry(const mirror_registry&) = delete;
  mirror_registry& operator=(const mirror_registry&) = delete;
  ~mirror_registry();

  // The mirror of owner/name at <cache_dir>/<owner>/<name>.git, opened (or created as an empty
  // bare repository) on first use; the same object on every later call. The pointer stays valid
  // as long as the registry. owner and name must be GitHub-style names ([A-Za-z0-9._-], not "."
  // or ".."), so they can never escape the cache directory.
  result<mirror*> open(std::string_view owner, std::string_view name);

  const mirror_settings& settings() const { return settings_; }

 private:
  explicit mirror_registry(mirror_settings settings);
  mirror_settings settings_;
  std::mutex mutex_;  // guards mirrors_ only; each mirror has its own
  std::map<std::string, std::unique_ptr<mirror>, std::less<>> mirrors_;
};

}  // namespace ferry::git
