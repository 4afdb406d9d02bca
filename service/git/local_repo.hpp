#pragma once
// `ferry demo`'s local mode: the example infra repository as a real (non-bare) git repository in
// a directory, where a "pull request" is a branch and merging it is a git merge (SPEC: "local-mode
// PRs are branches made with libgit2"). The reads are the same as a mirror's (reads.hpp).
//
// Every commit is authored and committed by "ferry demo <demo@ferry.invalid>" at the time given
// to create(), so the same demo prints the same commit ids on every run. Not thread-safe: the
// demo drives it from one thread.

#include <chrono>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "service/git/reads.hpp"
#include "service/result.hpp"

namespace ferry::git {

class local_repo final : public reads {
 public:
  // Creates a repository in `dir` (which must not exist or be empty) holding `files`, committed
  // on `main`, with HEAD on main and the files checked out.
  static result<local_repo> create(const std::filesystem::path& dir, std::span<const file> files,
                                   std::chrono::sys_seconds when);

  local_repo(local_repo&&) noexcept = default;
  local_repo& operator=(local_repo&&) noexcept = default;
  ~local_repo() override;

  // The commit a branch ("main", "ferry/staging/flux-system-app") points at; not_found if the
  // branch does not exist.
  result<std::string> head(std::string_view branch) const;

  // Commits `changes` (full new content per path; new paths are added) on top of `base` and
  // points refs/heads/<branch> at the new commit, compare-and-swap: `expected_old` = the commit
  // the branch must point at now, or nullopt when the branch must not exist yet. A lost race is
  // a `conflict`. Changes that leave the tree as it is are refused (invalid_input): no empty
  // commits. Returns the new commit id.
  result<std::string> commit_on_branch(std::string_view branch, std::string_view base,
                                       std::span<const file> changes, std::string_view message,
                                       const std::optional<std::string>& expected_old);

  // "Merges the pull request": brings `branch` into `into`, fast-forward when `into` has not
  // moved since the branch was cut, else a merge commit with `message` (`conflict` when the two
  // sides edit the same lines). Returns the new head of `into` (unchanged when `branch` is
  // already merged). The working directory follows `into` when it is the checked-out branch.
  result<std::string> merge_branch(std::string_view branch, std::string_view into,
                                   std::string_view message);

  const std::filesystem::path& dir() const { return dir_; }

 private:
  local_repo(std::filesystem::path dir, std::chrono::sys_seconds when);
  result<void> sync_workdir(std::string_view branch);
  std::filesystem::path dir_;
  std::chrono::sys_seconds when_;
};

}  // namespace ferry::git
