#include "service/git/mirror.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <system_error>
#include <vector>

#include "service/git/handles.hpp"
#include "service/git/stream.hpp"
#include "service/limits.hpp"
#include "service/text.hpp"

namespace ferry::git {

namespace {

namespace fs = std::filesystem;
using detail::last_error;
using detail::to_hex;
using clock = std::chrono::steady_clock;

// Credentials belong in the callback only: a URL with user info would put a secret into
// libgit2's error messages and into our logs.
bool url_has_userinfo(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) {
    return false;
  }
  const std::string_view rest = url.substr(scheme + 3);
  const auto authority_end = rest.find_first_of("/?#");
  return rest.substr(0, authority_end).find('@') != std::string_view::npos;
}

std::string scrub(std::string message, const std::string& secret) {
  if (secret.empty()) {
    return message;
  }
  for (auto pos = message.find(secret); pos != std::string::npos; pos = message.find(secret)) {
    message.replace(pos, secret.size(), "[redacted]");
  }
  return message;
}

// State shared with libgit2's callbacks during one fetch.
struct fetch_context {
  const std::string* token = nullptr;
  clock::time_point deadline;
  int offered = 0;
  bool refused = false;   // the server asked again after we gave the token: it refused it
  bool no_token = false;  // the server asked and we had nothing to give
  bool timed_out = false;
};

bool past_deadline(fetch_context& ctx) {
  if (clock::now() >= ctx.deadline) {
    ctx.timed_out = true;
  }
  return ctx.timed_out;
}

// libgit2 asks for credentials only after the server answered 401, and asks again when the
// credentials it was given were refused; a second request means the token is wrong or expired.
int on_credentials(git_credential** out, const char* /*url*/, const char* /*user_from_url*/,
                   unsigned int allowed, void* payload) {
  auto& ctx = *static_cast<fetch_context*>(payload);
  if (past_deadline(ctx)) {
    return GIT_EUSER;
  }
  if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) == 0) {
    return GIT_PASSTHROUGH;
  }
  if (ctx.token == nullptr || ctx.token->empty()) {
    ctx.no_token = true;
    return GIT_EUSER;
  }
  if (ctx.offered > 0) {
    ctx.refused = true;
    return GIT_EUSER;
  }
  ++ctx.offered;
  return git_credential_userpass_plaintext_new(out, "x-access-token", ctx.token->c_str());
}

// Progress callbacks run while data arrives; returning non-zero cancels the transfer. They bound
// a slow trickle; a silent peer is bounded by the socket timeouts of stream.hpp.
int on_transfer(const git_indexer_progress* /*stats*/, void* payload) {
  return past_deadline(*static_cast<fetch_context*>(payload)) ? -1 : 0;
}

int on_sideband(const char* /*str*/, int /*len*/, void* payload) {
  return past_deadline(*static_cast<fetch_context*>(payload)) ? -1 : 0;
}

class strarray {
 public:
  explicit strarray(const std::vector<std::string>& items) {
    for (const auto& s : items) {
      ptrs_.push_back(const_cast<char*>(s.c_str()));
    }
    arr_.strings = ptrs_.data();
    arr_.count = ptrs_.size();
  }
  const git_strarray* get() const { return &arr_; }

 private:
  std::vector<char*> ptrs_;
  git_strarray arr_{};
};

bool is_corruption(const error& e) {
  return e.kind == error_kind::internal;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// mirror_registry

mirror_registry::mirror_registry(mirror_settings settings) : settings_(std::move(settings)) {}
mirror_registry::~mirror_registry() = default;

result<std::unique_ptr<mirror_registry>> mirror_registry::create(mirror_settings settings) {
  detail::ensure_libgit2();
  if (settings.cache_dir.empty()) {
    return make_error(error_kind::invalid_input, "cache directory is empty");
  }
  if (settings.timeout <= std::chrono::seconds(0)) {
    return make_error(error_kind::invalid_input, "git fetch timeout must be positive");
  }
  std::error_code ec;
  fs::create_directories(settings.cache_dir, ec);
  if (ec) {
    return make_error(error_kind::invalid_input,
                      "cannot create cache directory " + settings.cache_dir + ": " + ec.message());
  }
  // Process-wide libgit2 settings. libgit2 here is built with mbedTLS, whose CA chain is set
  // with GIT_OPT_SET_SSL_CERT_LOCATIONS (libgit2 common.h); without it the build's default,
  // Debian's /etc/ssl/certs/ca-certificates.crt, is used.
  if (!settings.ca_file.empty()) {
    if (const int rc =
            git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, settings.ca_file.c_str(), nullptr);
        rc != 0) {
      auto e = last_error(rc, "loading CA file " + settings.ca_file);
      e.kind = error_kind::invalid_input;
      return e;
    }
  }
  git_libgit2_opts(GIT_OPT_SET_USER_AGENT, "ferry/" FERRY_VERSION);
  git_libgit2_opts(GIT_OPT_SET_MWINDOW_FILE_LIMIT, limits::k_git_open_packs_max);
  if (auto r = detail::install_timeout_stream(settings.timeout); !r) {
    return r.error();
  }
  return std::unique_ptr<mirror_registry>(new mirror_registry(std::move(settings)));
}

result<mirror*> mirror_registry::open(std::string_view owner, std::string_view name) {
  if (!text::is_github_owner(owner) || !text::is_github_repo_name(name)) {
    return make_error(error_kind::invalid_input, "invalid repository name \"" + std::string(owner) +
                                                     "/" + std::string(name) + "\"");
  }
  std::string key = std::string(owner) + "/" + std::string(name);
  std::lock_guard guard(mutex_);
  if (auto it = mirrors_.find(key); it != mirrors_.end()) {
    return it->second.get();
  }
  const std::string path =
      (fs::path(settings_.cache_dir) / std::string(owner) / (std::string(name) + ".git")).string();
  std::unique_ptr<mirror> m(new mirror(path, settings_));
  {
    std::lock_guard mirror_guard(m->lock_);
    if (auto r = m->open_or_create(); !r) {
      return r.error();
    }
  }
  mirror* out = m.get();
  mirrors_.emplace(std::move(key), std::move(m));
  return out;
}

// ---------------------------------------------------------------------------------------------
// mirror

mirror::mirror(std::string path, const mirror_settings& settings)
    : path_(std::move(path)), settings_(settings) {
  mutex_ = &lock_;
}

mirror::~mirror() = default;

// Called with lock_ held. Opens the bare repository, creating it when missing and recreating it
// when what is there cannot be opened: the cache is disposable, a fresh clone replaces it.
result<void> mirror::open_or_create() {
  std::error_code ec;
  const bool present =
      fs::exists(fs::path(path_) / "HEAD", ec) && fs::is_directory(fs::path(path_) / "objects", ec);
  if (repo_ != nullptr && present) {
    return ok_v;
  }
  repo_.reset();
  if (!fs::exists(path_, ec)) {
    fs::create_directories(fs::path(path_).parent_path(), ec);
    if (ec) {
      return make_error(error_kind::internal, "creating " + path_ + ": " + ec.message());
    }
    git_repository* r = nullptr;
    if (const int rc = git_repository_init(&r, path_.c_str(), 1); rc != 0) {
      return last_error(rc, "creating mirror " + path_);
    }
    repo_.reset(r);
    return ok_v;
  }
  git_repository* r = nullptr;
  if (git_repository_open_bare(&r, path_.c_str()) != 0) {
    return recreate();
  }
  repo_.reset(r);
  // An openable repository can still hold a garbage HEAD; everything after would fail.
  git_reference* head = nullptr;
  if (git_reference_lookup(&head, r, "HEAD") != 0) {
    return recreate();
  }
  git_reference_free(head);
  return ok_v;
}

result<void> mirror::recreate() {
  repo_.reset();
  std::error_code ec;
  fs::remove_all(path_, ec);
  if (ec) {
    return make_error(error_kind::internal,
                      "removing unreadable mirror " + path_ + ": " + ec.message());
  }
  return open_or_create();
}

result<void> mirror::before_read() const {
  return const_cast<mirror*>(this)->open_or_create();
}

result<std::string> mirror::fetch(std::string_view clone_url, std::string_view ref_or_sha,
                                  const credentials& creds) {
  if (clone_url.empty()) {
    return make_error(error_kind::invalid_input, "empty clone URL");
  }
  if (url_has_userinfo(clone_url)) {
    return make_error(error_kind::invalid_input,
                      "clone URL must not carry credentials (they are passed separately)");
  }
  std::lock_guard guard(lock_);
  if (auto r = open_or_create(); !r) {
    return r.error();
  }
  auto r = fetch_once(clone_url, ref_or_sha, creds);
  if (!r && is_corruption(r.error())) {
    // A damaged cache (truncated pack, garbage ref) fails in ways a fresh clone does not.
    if (auto rc = recreate(); !rc) {
      return rc.error();
    }
    r = fetch_once(clone_url, ref_or_sha, creds);
  }
  if (!r) {
    auto e = std::move(r).error();
    e.message = scrub(std::move(e.message), creds.token);
    return e;
  }
  if (auto c = compact(); !c) {
    // The cache is disposable: a fresh clone on the next fetch replaces one that could not be
    // compacted. The commit fetched is still answered from the objects already here... unless
    // they went with it, so fetch once more.
    if (auto rc = recreate(); !rc) {
      return rc.error();
    }
    return fetch_once(clone_url, ref_or_sha, creds);
  }
  return r;
}

namespace {

// The pack files (".pack") of a repository's object store.
std::vector<fs::path> pack_files(const std::string& repo_path) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(repo_path) / "objects" / "pack", ec)) {
    if (e.path().extension() == ".pack") {
      out.push_back(e.path());
    }
  }
  return out;
}

}  // namespace

// Every object of the mirror into one new pack (libgit2's packbuilder: what `git repack -a -d`
// does, without the git CLI, which the image does not carry), then the old packs and their
// indexes go and the repository is reopened so their file descriptors close. Loose objects stay
// (fetches write packs; nothing here writes loose objects).
result<void> mirror::compact() {
  const auto before = pack_files(path_);
  if (before.size() <= limits::k_mirror_packs_max) {
    return ok_v;
  }
  git_repository* repo = repo_.get();
  git_odb* odb = nullptr;
  if (const int rc = git_repository_odb(&odb, repo); rc != 0) {
    return last_error(rc, "opening the object store of " + path_);
  }
  std::unique_ptr<git_odb, decltype(&git_odb_free)> odb_owned(odb, &git_odb_free);
  git_packbuilder* pb = nullptr;
  if (const int rc = git_packbuilder_new(&pb, repo); rc != 0) {
    return last_error(rc, "compacting " + path_);
  }
  std::unique_ptr<git_packbuilder, decltype(&git_packbuilder_free)> pb_owned(pb,
                                                                             &git_packbuilder_free);
  git_packbuilder_set_threads(pb, 1);
  struct insert_state {
    git_packbuilder* pb;
    int rc = 0;
  } state{pb};
  const int walked = git_odb_foreach(
      odb,
      [](const git_oid* id, void* payload) -> int {
        auto* s = static_cast<insert_state*>(payload);
        s->rc = git_packbuilder_insert(s->pb, id, nullptr);
        return s->rc;
      },
      &state);
  if (walked != 0) {
    return last_error(walked, "listing the objects of " + path_);
  }
  if (const int rc = git_packbuilder_write(pb, nullptr, 0, nullptr, nullptr); rc != 0) {
    return last_error(rc, "writing the compacted pack of " + path_);
  }
  pb_owned.reset();
  odb_owned.reset();
  const auto after = pack_files(path_);
  if (after.size() <= before.size()) {
    // The new pack is named by its content: an old one holding exactly every object already
    // has its name. Nothing to remove then (removing would take the new one too).
    return ok_v;
  }
  repo_.reset();
  std::error_code ec;
  for (const auto& pack : before) {
    for (const char* ext : {".pack", ".idx", ".rev", ".keep"}) {
      auto p = pack;
      p.replace_extension(ext);
      fs::remove(p, ec);
    }
  }
  return open_or_create();
}

// Called with lock_ held and the repository open.
result<std::string> mirror::fetch_once(std::string_view clone_url, std::string_view ref_or_sha,
                                       const credentials& creds) {
  git_repository* repo = repo_.get();
  const std::string url(clone_url);
  const bool by_sha = text::is_commit_sha(ref_or_sha);
  git_oid wanted_oid{};
  if (by_sha) {
    const std::string hex(ref_or_sha);
    git_oid_fromstr(&wanted_oid, hex.c_str());
    git_commit* c = nullptr;
    if (git_commit_lookup(&c, repo, &wanted_oid) == 0) {
      git_commit_free(c);
      return hex;  // commits are immutable: present means up to date
    }
  }

  fetch_context ctx;
  ctx.token = &creds.token;
  ctx.deadline = clock::now() + settings_.timeout;

  // An anonymous remote lives only in memory: nothing (URL or token) is written to the mirror's
  // config, so the cache holds no secret.
  // url.<base>.insteadOf from a user's global git config must not redirect it either.
  git_remote* raw_remote = nullptr;
  git_remote_create_options create = GIT_REMOTE_CREATE_OPTIONS_INIT;
  create.repository = repo;
  create.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  if (const int rc = git_remote_create_with_opts(&raw_remote, url.c_str(), &create); rc != 0) {
    auto e = last_error(rc, "remote " + url);
    e.kind = error_kind::invalid_input;
    return e;
  }
  detail::remote_ptr remote(raw_remote);

  git_remote_callbacks callbacks = GIT_REMOTE_CALLBACKS_INIT;
  callbacks.credentials = on_credentials;
  callbacks.transfer_progress = on_transfer;
  callbacks.sideband_progress = on_sideband;
  callbacks.payload = &ctx;

  auto fail = [&](int rc, const std::string& what) -> error {
    if (ctx.refused || ctx.no_token) {
      return make_error(error_kind::unauthorized,
                        what + ": " + url +
                            (ctx.no_token ? " requires credentials and no installation token was "
                                            "given"
                                          : " refused the installation token"));
    }
    if (ctx.timed_out) {
      return make_error(error_kind::transient, what + ": " + url + " did not finish within " +
                                                   std::to_string(settings_.timeout.count()) +
                                                   " s");
    }
    auto e = last_error(rc, what + " " + url);
    // libgit2's HTTP transport reports a missing repository as an unexpected 404.
    if (e.message.find("404") != std::string::npos) {
      e.kind = error_kind::not_found;
    }
    return e;
  };

  git_proxy_options proxy = GIT_PROXY_OPTIONS_INIT;
  if (const int rc =
          git_remote_connect(raw_remote, GIT_DIRECTION_FETCH, &callbacks, &proxy, nullptr);
      rc != 0) {
    return fail(rc, "connecting to");
  }

  const git_remote_head** heads = nullptr;
  std::size_t head_count = 0;
  if (const int rc = git_remote_ls(&heads, &head_count, raw_remote); rc != 0) {
    return fail(rc, "listing refs of");
  }
  std::set<std::string> advertised;
  std::string sha_on_ref;  // an advertised branch already pointing at the wanted commit
  for (std::size_t i = 0; i < head_count; ++i) {
    const std::string name = heads[i]->name;
    if (name.starts_with("refs/heads/")) {
      advertised.insert(name);
      if (by_sha && git_oid_equal(&heads[i]->oid, &wanted_oid) != 0) {
        sha_on_ref = name;
      }
    }
  }

  detail::buf default_branch;
  std::string head_ref;
  if (const int rc = git_remote_default_branch(default_branch.get(), raw_remote); rc == 0) {
    head_ref = std::string(default_branch.view());
  } else if (rc != GIT_ENOTFOUND) {
    return fail(rc, "reading the default branch of");
  }
  // GIT_ENOTFOUND: an empty repository advertises no HEAD; there is nothing to fetch but
  // ferry/* branches.

  std::vector<std::string> specs;
  if (!head_ref.empty()) {
    specs.push_back("+" + head_ref + ":" + head_ref);
  }
  specs.emplace_back("+refs/heads/ferry/*:refs/heads/ferry/*");
  std::string wanted_ref;
  if (!by_sha && !ref_or_sha.empty() && ref_or_sha != "HEAD") {
    wanted_ref = ref_or_sha.starts_with("refs/") ? std::string(ref_or_sha)
                                                 : "refs/heads/" + std::string(ref_or_sha);
    if (!wanted_ref.starts_with("refs/heads/")) {
      return make_error(error_kind::invalid_input,
                        "only branches can be fetched, not " + std::string(ref_or_sha));
    }
    if (advertised.count(wanted_ref) == 0) {
      return make_error(error_kind::not_found,
                        "branch " + wanted_ref + " does not exist in " + url);
    }
    specs.push_back("+" + wanted_ref + ":" + wanted_ref);
  } else if (by_sha && !sha_on_ref.empty()) {
    specs.push_back("+" + sha_on_ref + ":" + sha_on_ref);
  }

  git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
  opts.callbacks = callbacks;
  opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
  opts.update_fetchhead = 0;
  opts.prune = GIT_FETCH_NO_PRUNE;  // pruned below, against the advertisement just read

  auto download = [&](const std::vector<std::string>& refspecs) -> result<void> {
    strarray arr(refspecs);
    if (const int rc = git_remote_download(raw_remote, arr.get(), &opts); rc != 0) {
      return fail(rc, "fetching from");
    }
    if (const int rc = git_remote_update_tips(raw_remote, &callbacks, 0,
                                              GIT_REMOTE_DOWNLOAD_TAGS_NONE, nullptr);
        rc != 0) {
      return fail(rc, "updating refs from");
    }
    return ok_v;
  };

  auto has_commit = [&]() {
    git_commit* c = nullptr;
    if (git_commit_lookup(&c, repo, &wanted_oid) == 0) {
      git_commit_free(c);
      return true;
    }
    return false;
  };

  if (by_sha && sha_on_ref.empty()) {
    // Not at a branch tip: ask for the commit itself (libgit2 >= 1.5 fetches object ids; the
    // server must allow it, GitHub does for reachable commits). If the server refuses, fetch
    // the usual refs and then every branch: a pushed commit is on one of them.
    std::vector<std::string> with_sha = specs;
    with_sha.push_back(std::string(ref_or_sha));
    auto r = download(with_sha);
    if (!r && (r.error().kind == error_kind::unauthorized || ctx.timed_out)) {
      return r.error();
    }
    if (!r || !has_commit()) {
      std::vector<std::string> all = specs;
      all.emplace_back("+refs/heads/*:refs/heads/*");
      if (auto r2 = download(all); !r2) {
        return r2.error();
      }
    }
  } else if (auto r = download(specs); !r) {
    return r.error();
  }

  // Prune local branches the server no longer has (a merged ferry/* branch is deleted by ferry
  // after the merge; a stale copy here would look like an open PR's branch).
  git_reference_iterator* raw_it = nullptr;
  if (git_reference_iterator_glob_new(&raw_it, repo, "refs/heads/*") == 0) {
    detail::reference_iterator_ptr it(raw_it);
    std::vector<std::string> stale;
    git_reference* ref = nullptr;
    while (git_reference_next(&ref, raw_it) == 0) {
      detail::reference_ptr owned(ref);
      const std::string name = git_reference_name(ref);
      if (advertised.count(name) == 0) {
        stale.push_back(name);
      }
    }
    for (const auto& name : stale) {
      git_reference* victim = nullptr;
      if (git_reference_lookup(&victim, repo, name.c_str()) == 0) {
        detail::reference_ptr owned(victim);
        git_reference_delete(victim);
      }
    }
  }

  if (!head_ref.empty()) {
    if (const int rc = git_repository_set_head(repo, head_ref.c_str()); rc != 0) {
      return last_error(rc, "pointing HEAD at " + head_ref);
    }
  }

  if (by_sha) {
    if (!has_commit()) {
      return make_error(error_kind::not_found,
                        "commit " + std::string(ref_or_sha) + " is on no branch of " + url);
    }
    return std::string(ref_or_sha);
  }
  const std::string target = wanted_ref.empty() ? head_ref : wanted_ref;
  if (target.empty()) {
    return make_error(error_kind::not_found, url + " has no default branch (empty repository)");
  }
  git_oid out{};
  if (const int rc = git_reference_name_to_id(&out, repo, target.c_str()); rc != 0) {
    return last_error(rc, "resolving " + target);
  }
  return to_hex(out);
}

}  // namespace ferry::git
