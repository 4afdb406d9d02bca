#include "service/git/reads.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <system_error>

#include "service/git/handles.hpp"

namespace ferry::git {

namespace {

using detail::last_error;
using detail::normalise;
using detail::parse_oid;
using detail::to_hex;

bool is_zero(std::string_view oid) {
  return oid.empty() || oid == k_zero_oid;
}

result<detail::commit_ptr> lookup_commit(git_repository* repo, std::string_view hex) {
  auto oid = parse_oid(hex);
  if (!oid) {
    return std::move(oid).error();
  }
  git_commit* c = nullptr;
  if (const int rc = git_commit_lookup(&c, repo, &*oid); rc != 0) {
    auto e = last_error(rc, "commit " + std::string(hex));
    if (rc == GIT_ENOTFOUND) {
      e.message = "commit " + std::string(hex) + " is not in the repository";
    }
    return e;
  }
  return detail::commit_ptr(c);
}

result<detail::tree_ptr> commit_tree(git_repository* repo, std::string_view hex) {
  auto c = lookup_commit(repo, hex);
  if (!c) {
    return std::move(c).error();
  }
  git_tree* t = nullptr;
  if (const int rc = git_commit_tree(&t, c->get()); rc != 0) {
    return last_error(rc, "tree of commit " + std::string(hex));
  }
  return detail::tree_ptr(t);
}

// The tree entry at `path` (which must be normalised and non-empty).
result<detail::tree_entry_ptr> entry_at(git_tree* tree, const std::string& path,
                                        std::string_view commit) {
  git_tree_entry* e = nullptr;
  if (const int rc = git_tree_entry_bypath(&e, tree, path.c_str()); rc != 0) {
    if (rc == GIT_ENOTFOUND) {
      return make_error(error_kind::not_found,
                        path + " does not exist at commit " + std::string(commit));
    }
    return last_error(rc, "looking up " + path);
  }
  return detail::tree_entry_ptr(e);
}

bool is_file_mode(git_filemode_t mode) {
  return mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE;
}

// Recursive walk of `tree` (whose own path is `base`), collecting blobs and symlinks.
result<void> collect(git_repository* repo, const git_tree* tree, const std::string& base,
                     std::vector<tree_entry>& out) {
  const std::size_t n = git_tree_entrycount(tree);
  for (std::size_t i = 0; i < n; ++i) {
    const git_tree_entry* e = git_tree_entry_byindex(tree, i);
    const std::string name = git_tree_entry_name(e);
    // Entries are written by git, but a hostile repository can hold any bytes in a tree: never
    // let a "." or ".." entry or one with a slash turn into a path (checkout_to writes them).
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
      return make_error(error_kind::invalid_input,
                        "tree holds an invalid entry name under \"" + base + "\"");
    }
    const std::string path = base.empty() ? name : base + "/" + name;
    const git_filemode_t mode = git_tree_entry_filemode(e);
    if (mode == GIT_FILEMODE_TREE) {
      git_tree* sub = nullptr;
      if (const int rc = git_tree_lookup(&sub, repo, git_tree_entry_id(e)); rc != 0) {
        return last_error(rc, "reading tree " + path);
      }
      detail::tree_ptr owned(sub);
      if (auto r = collect(repo, sub, path, out); !r) {
        return r;
      }
    } else if (is_file_mode(mode) || mode == GIT_FILEMODE_LINK) {
      out.push_back(
          tree_entry{path, to_hex(*git_tree_entry_id(e)), static_cast<std::uint32_t>(mode)});
    }
    // GIT_FILEMODE_COMMIT (a submodule) has no content in this repository: skipped.
  }
  return ok_v;
}

result<std::vector<tree_entry>> list_under(git_repository* repo, git_tree* root,
                                           std::string_view commit, std::string_view prefix) {
  auto norm = normalise(prefix);
  if (!norm) {
    return std::move(norm).error();
  }
  std::vector<tree_entry> out;
  if (norm->empty()) {
    if (auto r = collect(repo, root, "", out); !r) {
      return r.error();
    }
    return out;
  }
  auto e = entry_at(root, *norm, commit);
  if (!e) {
    if (e.error().kind == error_kind::not_found) {
      return out;
    }
    return std::move(e).error();
  }
  const git_filemode_t mode = git_tree_entry_filemode(e->get());
  if (mode == GIT_FILEMODE_TREE) {
    git_tree* sub = nullptr;
    if (const int rc = git_tree_lookup(&sub, repo, git_tree_entry_id(e->get())); rc != 0) {
      return last_error(rc, "reading tree " + *norm);
    }
    detail::tree_ptr owned(sub);
    if (auto r = collect(repo, sub, *norm, out); !r) {
      return r.error();
    }
  } else if (is_file_mode(mode) || mode == GIT_FILEMODE_LINK) {
    out.push_back(
        tree_entry{*norm, to_hex(*git_tree_entry_id(e->get())), static_cast<std::uint32_t>(mode)});
  }
  return out;
}

result<std::string> blob_content(git_repository* repo, const std::string& blob_hex,
                                 std::string_view path) {
  auto oid = parse_oid(blob_hex);
  if (!oid) {
    return std::move(oid).error();
  }
  git_blob* b = nullptr;
  if (const int rc = git_blob_lookup(&b, repo, &*oid); rc != 0) {
    return last_error(rc, "reading blob of " + std::string(path));
  }
  detail::blob_ptr owned(b);
  const auto* data = static_cast<const char*>(git_blob_rawcontent(b));
  return std::string(data, static_cast<std::size_t>(git_blob_rawsize(b)));
}

// All files of a commit as paths (for changed_paths against "nothing").
result<std::vector<std::string>> all_paths(git_repository* repo, std::string_view commit) {
  auto tree = commit_tree(repo, commit);
  if (!tree) {
    return std::move(tree).error();
  }
  auto entries = list_under(repo, tree->get(), commit, "");
  if (!entries) {
    return std::move(entries).error();
  }
  std::vector<std::string> out;
  out.reserve(entries->size());
  for (auto& e : *entries) {
    out.push_back(std::move(e.path));
  }
  return out;
}

}  // namespace

reads::~reads() = default;

void reads::repository_closer::operator()(git_repository* repo) const noexcept {
  git_repository_free(repo);
}

template <typename F>
auto reads::locked(F&& f) const -> decltype(f()) {
  std::unique_lock<std::mutex> lock;
  if (mutex_ != nullptr) {
    lock = std::unique_lock<std::mutex>(*mutex_);
  }
  if (auto r = before_read(); !r) {
    return r.error();
  }
  if (repo_ == nullptr) {
    return make_error(error_kind::internal, "repository is not open");
  }
  return f();
}

result<std::string> reads::resolve(std::string_view ref) const {
  return locked([&]() -> result<std::string> {
    if (ref.empty()) {
      return make_error(error_kind::invalid_input, "empty reference");
    }
    const std::string spec(ref);
    git_object* obj = nullptr;
    if (const int rc = git_revparse_single(&obj, repo_.get(), spec.c_str()); rc != 0) {
      auto e = last_error(rc, "resolving " + spec);
      if (rc == GIT_ENOTFOUND) {
        e.message = spec + " does not exist in the repository";
      }
      return e;
    }
    detail::object_ptr owned(obj);
    git_object* peeled = nullptr;
    if (const int rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT); rc != 0) {
      return last_error(rc, spec + " does not name a commit");
    }
    detail::object_ptr owned_peeled(peeled);
    return to_hex(*git_object_id(peeled));
  });
}

result<std::string> reads::tree_id(std::string_view commit) const {
  return locked([&]() -> result<std::string> {
    auto tree = commit_tree(repo_.get(), commit);
    if (!tree) {
      return std::move(tree).error();
    }
    return to_hex(*git_tree_id(tree->get()));
  });
}

result<std::string> reads::blob_id(std::string_view commit, std::string_view path) const {
  return locked([&]() -> result<std::string> {
    auto norm = normalise(path);
    if (!norm) {
      return std::move(norm).error();
    }
    if (norm->empty()) {
      return make_error(error_kind::invalid_input, "empty file path");
    }
    auto tree = commit_tree(repo_.get(), commit);
    if (!tree) {
      return std::move(tree).error();
    }
    auto e = entry_at(tree->get(), *norm, commit);
    if (!e) {
      return std::move(e).error();
    }
    if (!is_file_mode(git_tree_entry_filemode(e->get()))) {
      return make_error(error_kind::not_found,
                        *norm + " is not a file at commit " + std::string(commit));
    }
    return to_hex(*git_tree_entry_id(e->get()));
  });
}

result<std::string> reads::read_file(std::string_view commit, std::string_view path) const {
  auto id = blob_id(commit, path);
  if (!id) {
    return std::move(id).error();
  }
  // Blobs are immutable: reading by id outside the first lock is still the same content.
  return locked([&]() { return blob_content(repo_.get(), *id, path); });
}

result<std::vector<tree_entry>> reads::list_tree(std::string_view commit,
                                                 std::string_view prefix) const {
  return locked([&]() -> result<std::vector<tree_entry>> {
    auto tree = commit_tree(repo_.get(), commit);
    if (!tree) {
      return std::move(tree).error();
    }
    return list_under(repo_.get(), tree->get(), commit, prefix);
  });
}

result<std::vector<std::string>> reads::changed_paths(std::string_view old_commit,
                                                      std::string_view new_commit) const {
  return locked([&]() -> result<std::vector<std::string>> {
    if (is_zero(old_commit) && is_zero(new_commit)) {
      return make_error(error_kind::invalid_input, "both commits are zero");
    }
    if (is_zero(old_commit)) {
      return all_paths(repo_.get(), new_commit);
    }
    if (is_zero(new_commit)) {
      return all_paths(repo_.get(), old_commit);
    }
    auto old_tree = commit_tree(repo_.get(), old_commit);
    if (!old_tree) {
      return std::move(old_tree).error();
    }
    auto new_tree = commit_tree(repo_.get(), new_commit);
    if (!new_tree) {
      return std::move(new_tree).error();
    }
    git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
    // Type changes (file <-> symlink) count as changes; submodules are ignored like in list_tree.
    opts.flags = GIT_DIFF_INCLUDE_TYPECHANGE | GIT_DIFF_IGNORE_SUBMODULES;
    git_diff* d = nullptr;
    if (const int rc =
            git_diff_tree_to_tree(&d, repo_.get(), old_tree->get(), new_tree->get(), &opts);
        rc != 0) {
      return last_error(rc, "diffing " + std::string(old_commit) + ".." + std::string(new_commit));
    }
    detail::diff_ptr diff(d);
    // Rename detection: a file moved out of (or into) an environment's path changes both
    // environments; reporting both paths of a rename keeps either side from being missed.
    git_diff_find_options find = GIT_DIFF_FIND_OPTIONS_INIT;
    find.flags = GIT_DIFF_FIND_RENAMES;
    if (const int rc = git_diff_find_similar(d, &find); rc != 0) {
      return last_error(rc, "detecting renames");
    }
    std::set<std::string> paths;
    const std::size_t n = git_diff_num_deltas(d);
    for (std::size_t i = 0; i < n; ++i) {
      const git_diff_delta* delta = git_diff_get_delta(d, i);
      if (delta->old_file.path != nullptr && delta->status != GIT_DELTA_ADDED) {
        paths.insert(delta->old_file.path);
      }
      if (delta->new_file.path != nullptr && delta->status != GIT_DELTA_DELETED) {
        paths.insert(delta->new_file.path);
      }
    }
    return std::vector<std::string>(paths.begin(), paths.end());
  });
}

result<bool> reads::is_descendant(std::string_view commit, std::string_view ancestor) const {
  return locked([&]() -> result<bool> {
    auto a = lookup_commit(repo_.get(), commit);
    if (!a) {
      return std::move(a).error();
    }
    auto b = lookup_commit(repo_.get(), ancestor);
    if (!b) {
      return std::move(b).error();
    }
    const git_oid* ida = git_commit_id(a->get());
    const git_oid* idb = git_commit_id(b->get());
    if (git_oid_equal(ida, idb) != 0) {
      return true;
    }
    const int rc = git_graph_descendant_of(repo_.get(), ida, idb);
    if (rc < 0) {
      return last_error(rc, "comparing commit history");
    }
    return rc == 1;
  });
}

result<reads::commit_facts> reads::commit_info(std::string_view commit) const {
  return locked([&]() -> result<commit_facts> {
    auto c = lookup_commit(repo_.get(), commit);
    if (!c) {
      return std::move(c).error();
    }
    commit_facts out;
    if (const git_signature* a = git_commit_author(c->get()); a != nullptr && a->name != nullptr) {
      out.author_name = a->name;
    }
    if (const git_signature* m = git_commit_committer(c->get());
        m != nullptr && m->email != nullptr) {
      out.committer_email = m->email;
    }
    git_buf sig = GIT_BUF_INIT;
    out.signed_ = git_commit_header_field(&sig, c->get(), "gpgsig") == 0;
    git_buf_dispose(&sig);
    if (const char* msg = git_commit_message(c->get()); msg != nullptr) {
      out.message = msg;
    }
    out.committer_time = static_cast<std::int64_t>(git_commit_time(c->get()));
    return out;
  });
}

result<std::optional<reads::found_commit>> reads::find_commit(
    std::string_view commit, std::size_t limit,
    const std::function<bool(std::string_view message)>& matches) const {
  return locked([&]() -> result<std::optional<found_commit>> {
    auto start = lookup_commit(repo_.get(), commit);
    if (!start) {
      return std::move(start).error();
    }
    git_revwalk* raw = nullptr;
    if (const int rc = git_revwalk_new(&raw, repo_.get()); rc != 0) {
      return last_error(rc, "walking history");
    }
    const std::unique_ptr<git_revwalk, void (*)(git_revwalk*)> walk(raw, &git_revwalk_free);
    // Topological first: commits made within one second have equal times, and "newest" must
    // mean "nearest in history" (a child before its parent), not a coin toss.
    if (const int rc = git_revwalk_sorting(walk.get(), GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
        rc != 0) {
      return last_error(rc, "walking history");
    }
    if (const int rc = git_revwalk_push(walk.get(), git_commit_id(start->get())); rc != 0) {
      return last_error(rc, "walking history from " + std::string(commit));
    }
    git_oid id;
    for (std::size_t seen = 0; seen < limit; ++seen) {
      const int rc = git_revwalk_next(&id, walk.get());
      if (rc == GIT_ITEROVER) {
        break;
      }
      if (rc != 0) {
        return last_error(rc, "walking history from " + std::string(commit));
      }
      git_commit* c = nullptr;
      if (const int lrc = git_commit_lookup(&c, repo_.get(), &id); lrc != 0) {
        return last_error(lrc, "commit " + to_hex(id));
      }
      const detail::commit_ptr held(c);
      const char* message = git_commit_message(c);
      const std::string_view text = message != nullptr ? message : "";
      if (matches(text)) {
        return std::optional<found_commit>(found_commit{to_hex(id), std::string(text)});
      }
    }
    return std::optional<found_commit>{};
  });
}

result<void> reads::for_each_file(std::string_view commit, std::span<const std::string> prefixes,
                                  const file_visitor& visit) const {
  // Listing and reading happen under the lock; the visitor runs without it so that it may call
  // back into this object.
  auto all = files(commit, prefixes);
  if (!all) {
    return all.error();
  }
  for (const auto& f : *all) {
    if (!visit(f.path, f.content)) {
      break;
    }
  }
  return ok_v;
}

result<std::vector<file>> reads::files(std::string_view commit,
                                       std::span<const std::string> prefixes) const {
  return locked([&]() -> result<std::vector<file>> {
    auto tree = commit_tree(repo_.get(), commit);
    if (!tree) {
      return std::move(tree).error();
    }
    std::vector<std::string> wanted(prefixes.begin(), prefixes.end());
    if (wanted.empty()) {
      wanted.emplace_back();
    }
    std::set<std::string> seen;
    std::vector<file> out;
    for (const auto& prefix : wanted) {
      auto entries = list_under(repo_.get(), tree->get(), commit, prefix);
      if (!entries) {
        return std::move(entries).error();
      }
      for (const auto& e : *entries) {
        if (e.mode == GIT_FILEMODE_LINK || !seen.insert(e.path).second) {
          continue;
        }
        auto content = blob_content(repo_.get(), e.blob_id, e.path);
        if (!content) {
          return std::move(content).error();
        }
        out.push_back(file{e.path, std::move(*content)});
      }
    }
    std::sort(out.begin(), out.end(), [](const file& a, const file& b) { return a.path < b.path; });
    return out;
  });
}

result<void> reads::checkout_to(std::string_view commit, const std::filesystem::path& dir,
                                std::span<const std::string> prefixes) const {
  auto all = files(commit, prefixes);
  if (!all) {
    return all.error();
  }
  for (const auto& f : *all) {
    // Paths were validated component by component in collect(): no "..", no absolute paths.
    const std::filesystem::path target = dir / std::filesystem::path(f.path);
    std::error_code ec;
    std::filesystem::create_directories(target.parent_path(), ec);
    if (ec) {
      return make_error(error_kind::internal,
                        "creating " + target.parent_path().string() + ": " + ec.message());
    }
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    out.write(f.content.data(), static_cast<std::streamsize>(f.content.size()));
    out.close();
    if (!out) {
      return make_error(error_kind::internal, "writing " + target.string());
    }
  }
  return ok_v;
}

}  // namespace ferry::git
