#include "service/git/local_repo.hpp"

#include <system_error>
#include <vector>

#include "service/git/handles.hpp"

namespace ferry::git {

namespace {

namespace fs = std::filesystem;
using detail::last_error;
using detail::parse_oid;
using detail::to_hex;

constexpr const char* k_name = "ferry demo";
constexpr const char* k_email = "demo@ferry.invalid";

result<detail::signature_ptr> signature(std::chrono::sys_seconds when) {
  git_signature* sig = nullptr;
  if (const int rc = git_signature_new(&sig, k_name, k_email,
                                       static_cast<git_time_t>(when.time_since_epoch().count()), 0);
      rc != 0) {
    return last_error(rc, "creating the demo signature");
  }
  return detail::signature_ptr(sig);
}

result<std::string> branch_ref(std::string_view branch) {
  std::string ref = "refs/heads/" + std::string(branch);
  if (branch.empty()) {
    return make_error(error_kind::invalid_input,
                      "invalid branch name \"" + std::string(branch) + "\"");
  }
  int valid = 0;
  if (git_reference_name_is_valid(&valid, ref.c_str()) != 0 || valid == 0) {
    return make_error(error_kind::invalid_input,
                      "invalid branch name \"" + std::string(branch) + "\"");
  }
  return ref;
}

// A new tree: `base` (may be null: an empty tree) with every change upserted as a blob.
result<git_oid> updated_tree(git_repository* repo, git_tree* base, std::span<const file> changes) {
  detail::tree_ptr empty;
  if (base == nullptr) {
    git_treebuilder* tb = nullptr;
    if (const int rc = git_treebuilder_new(&tb, repo, nullptr); rc != 0) {
      return last_error(rc, "creating an empty tree");
    }
    git_oid empty_id{};
    const int rc = git_treebuilder_write(&empty_id, tb);
    git_treebuilder_free(tb);
    if (rc != 0) {
      return last_error(rc, "writing an empty tree");
    }
    git_tree* t = nullptr;
    if (const int rc2 = git_tree_lookup(&t, repo, &empty_id); rc2 != 0) {
      return last_error(rc2, "reading the empty tree");
    }
    empty.reset(t);
    base = t;
  }
  std::vector<git_tree_update> updates;
  updates.reserve(changes.size());
  std::vector<std::string> paths;
  paths.reserve(changes.size());  // no reallocation: updates keep pointers into it
  for (const auto& f : changes) {
    auto norm = detail::normalise(f.path);
    if (!norm || norm->empty() || f.path.front() == '/') {
      return make_error(error_kind::invalid_input, "invalid file path \"" + f.path + "\"");
    }
    paths.push_back(std::move(*norm));
    git_tree_update u{};
    if (const int rc = git_blob_create_from_buffer(&u.id, repo, f.content.data(), f.content.size());
        rc != 0) {
      return last_error(rc, "writing " + f.path);
    }
    u.action = GIT_TREE_UPDATE_UPSERT;
    u.filemode = GIT_FILEMODE_BLOB;
    u.path = paths.back().c_str();
    updates.push_back(u);
  }
  git_oid out{};
  if (const int rc = git_tree_create_updated(&out, repo, base, updates.size(), updates.data());
      rc != 0) {
    return last_error(rc, "building the tree");
  }
  return out;
}

result<detail::commit_ptr> lookup(git_repository* repo, std::string_view hex) {
  auto oid = parse_oid(hex);
  if (!oid) {
    return std::move(oid).error();
  }
  git_commit* c = nullptr;
  if (const int rc = git_commit_lookup(&c, repo, &*oid); rc != 0) {
    return last_error(rc, "commit " + std::string(hex));
  }
  return detail::commit_ptr(c);
}

// Moves `ref` to `target` only if it still points at `expected` (nullptr: must not exist).
result<void> move_ref(git_repository* repo, const std::string& ref, const git_oid& target,
                      const git_oid* expected, const std::string& log) {
  git_reference* out = nullptr;
  const int rc = expected == nullptr
                     ? git_reference_create(&out, repo, ref.c_str(), &target, 0, log.c_str())
                     : git_reference_create_matching(&out, repo, ref.c_str(), &target, 1, expected,
                                                     log.c_str());
  if (rc != 0) {
    auto e = last_error(rc, "moving " + ref);
    if (rc == GIT_EEXISTS || rc == GIT_EMODIFIED || (expected != nullptr && rc == GIT_ENOTFOUND)) {
      e.kind = error_kind::conflict;
    }
    return e;
  }
  git_reference_free(out);
  return ok_v;
}

}  // namespace

local_repo::local_repo(fs::path dir, std::chrono::sys_seconds when)
    : dir_(std::move(dir)), when_(when) {}

local_repo::~local_repo() = default;

result<local_repo> local_repo::create(const fs::path& dir, std::span<const file> files,
                                      std::chrono::sys_seconds when) {
  detail::ensure_libgit2();
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    return make_error(error_kind::invalid_input, dir.string() + " exists and is not empty");
  }
  git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  opts.flags = GIT_REPOSITORY_INIT_MKPATH;
  opts.initial_head = "main";
  git_repository* raw = nullptr;
  if (const int rc = git_repository_init_ext(&raw, dir.c_str(), &opts); rc != 0) {
    return last_error(rc, "creating a repository in " + dir.string());
  }
  local_repo repo(dir, when);
  repo.repo_.reset(raw);

  auto tree_id = updated_tree(raw, nullptr, files);
  if (!tree_id) {
    return std::move(tree_id).error();
  }
  git_tree* tree = nullptr;
  if (const int rc = git_tree_lookup(&tree, raw, &*tree_id); rc != 0) {
    return last_error(rc, "reading the initial tree");
  }
  detail::tree_ptr owned_tree(tree);
  auto sig = signature(when);
  if (!sig) {
    return std::move(sig).error();
  }
  git_oid commit{};
  if (const int rc = git_commit_create(&commit, raw, "refs/heads/main", sig->get(), sig->get(),
                                       nullptr, "Initial commit", tree, 0, nullptr);
      rc != 0) {
    return last_error(rc, "creating the initial commit");
  }
  if (auto r = repo.sync_workdir("main"); !r) {
    return r.error();
  }
  return repo;
}

result<void> local_repo::sync_workdir(std::string_view branch) {
  // Only when `branch` is the checked-out one: the directory then shows what main holds, for
  // anything that reads the demo repository from disk.
  git_reference* head = nullptr;
  if (git_repository_head(&head, repo_.get()) != 0) {
    return ok_v;
  }
  detail::reference_ptr owned(head);
  if (std::string_view(git_reference_name(head)) != "refs/heads/" + std::string(branch)) {
    return ok_v;
  }
  git_checkout_options opts = GIT_CHECKOUT_OPTIONS_INIT;
  opts.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_REMOVE_UNTRACKED;
  if (const int rc = git_checkout_head(repo_.get(), &opts); rc != 0) {
    return last_error(rc, "checking out " + std::string(branch));
  }
  return ok_v;
}

result<std::string> local_repo::head(std::string_view branch) const {
  auto ref = branch_ref(branch);
  if (!ref) {
    return std::move(ref).error();
  }
  git_oid out{};
  if (const int rc = git_reference_name_to_id(&out, repo_.get(), ref->c_str()); rc != 0) {
    auto e = last_error(rc, "branch " + std::string(branch));
    if (rc == GIT_ENOTFOUND) {
      e.message = "branch " + std::string(branch) + " does not exist";
    }
    return e;
  }
  return to_hex(out);
}

result<std::string> local_repo::commit_on_branch(std::string_view branch, std::string_view base,
                                                 std::span<const file> changes,
                                                 std::string_view message,
                                                 const std::optional<std::string>& expected_old) {
  auto ref = branch_ref(branch);
  if (!ref) {
    return std::move(ref).error();
  }
  git_repository* repo = repo_.get();
  auto parent = lookup(repo, base);
  if (!parent) {
    return std::move(parent).error();
  }
  git_tree* base_tree = nullptr;
  if (const int rc = git_commit_tree(&base_tree, parent->get()); rc != 0) {
    return last_error(rc, "tree of " + std::string(base));
  }
  detail::tree_ptr owned_base(base_tree);
  auto tree_id = updated_tree(repo, base_tree, changes);
  if (!tree_id) {
    return std::move(tree_id).error();
  }
  if (git_oid_equal(&*tree_id, git_tree_id(base_tree)) != 0) {
    return make_error(error_kind::invalid_input,
                      "the changes leave " + std::string(branch) + " as it is: nothing to commit");
  }
  git_oid expected{};
  if (expected_old) {
    auto e = parse_oid(*expected_old);
    if (!e) {
      return std::move(e).error();
    }
    expected = *e;
  }
  git_tree* tree = nullptr;
  if (const int rc = git_tree_lookup(&tree, repo, &*tree_id); rc != 0) {
    return last_error(rc, "reading the new tree");
  }
  detail::tree_ptr owned_tree(tree);
  auto sig = signature(when_);
  if (!sig) {
    return std::move(sig).error();
  }
  const git_commit* parents[] = {parent->get()};
  git_oid commit{};
  const std::string msg(message);
  // No update_ref here: the ref moves below, compare-and-swap.
  if (const int rc = git_commit_create(&commit, repo, nullptr, sig->get(), sig->get(), nullptr,
                                       msg.c_str(), tree, 1, parents);
      rc != 0) {
    return last_error(rc, "creating a commit on " + std::string(branch));
  }
  if (auto r =
          move_ref(repo, *ref, commit, expected_old ? &expected : nullptr, "ferry demo: commit");
      !r) {
    return r.error();
  }
  if (auto r = sync_workdir(branch); !r) {
    return r.error();
  }
  return to_hex(commit);
}

result<std::string> local_repo::merge_branch(std::string_view branch, std::string_view into,
                                             std::string_view message) {
  auto theirs_hex = head(branch);
  if (!theirs_hex) {
    return std::move(theirs_hex).error();
  }
  auto ours_hex = head(into);
  if (!ours_hex) {
    return std::move(ours_hex).error();
  }
  auto into_ref = branch_ref(into);
  if (!into_ref) {
    return std::move(into_ref).error();
  }
  git_repository* repo = repo_.get();
  auto theirs = lookup(repo, *theirs_hex);
  if (!theirs) {
    return std::move(theirs).error();
  }
  auto ours = lookup(repo, *ours_hex);
  if (!ours) {
    return std::move(ours).error();
  }
  const git_oid* ours_id = git_commit_id(ours->get());
  const git_oid* theirs_id = git_commit_id(theirs->get());

  // Already merged: `into` contains the branch.
  if (git_oid_equal(ours_id, theirs_id) != 0 ||
      git_graph_descendant_of(repo, ours_id, theirs_id) == 1) {
    return *ours_hex;
  }
  // Fast-forward: `into` has not moved since the branch was cut from it.
  if (git_graph_descendant_of(repo, theirs_id, ours_id) == 1) {
    if (auto r = move_ref(repo, *into_ref, *theirs_id, ours_id, "ferry demo: fast-forward"); !r) {
      return r.error();
    }
    if (auto r = sync_workdir(into); !r) {
      return r.error();
    }
    return *theirs_hex;
  }
  git_index* raw_index = nullptr;
  git_merge_options opts = GIT_MERGE_OPTIONS_INIT;
  if (const int rc = git_merge_commits(&raw_index, repo, ours->get(), theirs->get(), &opts);
      rc != 0) {
    return last_error(rc, "merging " + std::string(branch) + " into " + std::string(into));
  }
  detail::index_ptr index(raw_index);
  if (git_index_has_conflicts(raw_index) != 0) {
    return make_error(error_kind::conflict, std::string(branch) + " conflicts with " +
                                                std::string(into) + ": merge by hand");
  }
  git_oid tree_id{};
  if (const int rc = git_index_write_tree_to(&tree_id, raw_index, repo); rc != 0) {
    return last_error(rc, "writing the merged tree");
  }
  git_tree* tree = nullptr;
  if (const int rc = git_tree_lookup(&tree, repo, &tree_id); rc != 0) {
    return last_error(rc, "reading the merged tree");
  }
  detail::tree_ptr owned_tree(tree);
  auto sig = signature(when_);
  if (!sig) {
    return std::move(sig).error();
  }
  const git_commit* parents[] = {ours->get(), theirs->get()};
  git_oid commit{};
  const std::string msg(message);
  if (const int rc = git_commit_create(&commit, repo, nullptr, sig->get(), sig->get(), nullptr,
                                       msg.c_str(), tree, 2, parents);
      rc != 0) {
    return last_error(rc, "creating the merge commit");
  }
  if (auto r = move_ref(repo, *into_ref, commit, ours_id, "ferry demo: merge"); !r) {
    return r.error();
  }
  if (auto r = sync_workdir(into); !r) {
    return r.error();
  }
  return to_hex(commit);
}

}  // namespace ferry::git
