// The mirror against a real git server: Git's git-http-backend behind test/support's HTTP server,
// with basic auth as GitHub does it for installation tokens. Repositories are built with the git
// command line, so every expectation is checked against git itself.

#include "service/git/mirror.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "test/support/git_http_server.hpp"

namespace ferry::git {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* k_token = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";

struct run_result {
  int status;
  std::string out;
};

// Runs a shell command, capturing stdout; git identity and dates are fixed so runs repeat.
run_result run(const std::string& cmd) {
  const std::string full =
      "GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t "
      "GIT_COMMITTER_EMAIL=t@example.invalid GIT_CONFIG_NOSYSTEM=1 HOME=/nonexistent " +
      cmd + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) {
    return {-1, "popen failed"};
  }
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) {
    out.append(buf, n);
  }
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) {
    s.pop_back();
  }
  return s;
}

void write(const fs::path& p, std::string_view content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) {
    c = static_cast<char>(gen() & 0xff);
  }
  return s;
}

class mirror_test : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-git-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    served_ = root_ / "served";
    work_ = root_ / "work";
    cache_ = root_ / "cache";
    fs::create_directories(served_);
    sh("git init -q --bare -b main " + (served_ / "infra.git").string());
    sh("git init -q -b main " + work_.string());
    server_ = std::make_unique<test::git_http_server>(served_, k_token);
    auto reg = mirror_registry::create(mirror_settings{
        .cache_dir = cache_.string(), .ca_file = "", .timeout = std::chrono::seconds(60)});
    ASSERT_TRUE(reg.ok()) << reg.error().message;
    registry_ = std::move(*reg);
  }

  void TearDown() override {
    server_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  std::string sh(const std::string& cmd) {
    auto r = run(cmd);
    EXPECT_EQ(r.status, 0) << cmd << "\n" << r.out;
    return trim(r.out);
  }
  std::string git(const std::string& args) { return sh("git -C " + work_.string() + " " + args); }

  // Commits the work tree and pushes `branch` to the served repository; returns the commit.
  std::string commit_and_push(const std::string& message, const std::string& branch = "main") {
    git("add -A");
    git("commit -q -m '" + message + "'");
    git("push -q " + (served_ / "infra.git").string() + " HEAD:refs/heads/" + branch);
    return git("rev-parse HEAD");
  }

  std::string url() const { return server_->url("infra.git"); }

  mirror& open() {
    auto m = registry_->open("acme", "infra");
    EXPECT_TRUE(m.ok()) << m.error().message;
    return **m;
  }

  fs::path root_, served_, work_, cache_;
  std::unique_ptr<test::git_http_server> server_;
  std::unique_ptr<mirror_registry> registry_;
};

TEST_F(mirror_test, first_fetch_clones_and_the_next_one_is_incremental) {
  // ~256 KiB of incompressible data makes the first pack big and the second, which only adds a
  // small file, measurably small: what proves the second fetch did not clone again.
  write(work_ / "blob.bin", random_bytes(256 * 1024, 1));
  write(work_ / ".github/ferry.yaml", "version: 1\n");
  const std::string first = commit_and_push("first");

  mirror& m = open();
  auto got = m.fetch(url(), "HEAD", credentials{k_token});
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, first);
  EXPECT_EQ(m.path(), (cache_ / "acme" / "infra.git").string());
  EXPECT_EQ(*m.read_file(first, ".github/ferry.yaml"), "version: 1\n");

  write(work_ / "clusters/staging/app.yaml", "image: app:2\n");
  const std::string second = commit_and_push("second");
  got = m.fetch(url(), "main", credentials{k_token});
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, second);
  EXPECT_EQ(*m.read_file(second, "clusters/staging/app.yaml"), "image: app:2\n");
  EXPECT_TRUE(*m.is_descendant(second, first));
  EXPECT_EQ(*m.resolve("HEAD"), second);

  const auto packs = server_->observed().upload_pack_bytes;
  ASSERT_EQ(packs.size(), 2u);
  EXPECT_GT(packs[0], 256u * 1024u);
  EXPECT_LT(packs[1], 4u * 1024u) << "the second fetch transferred a full clone";
  // The token never lands on disk: the remote was anonymous.
  EXPECT_EQ(run("grep -r -l " + std::string(k_token) + " " + cache_.string()).status, 1);
  EXPECT_EQ(run("git -C " + m.path() + " config --get-regexp remote").status, 1);
}

TEST_F(mirror_test, a_present_commit_is_answered_without_the_network) {
  write(work_ / "a.yaml", "a\n");
  const std::string c = commit_and_push("a");
  mirror& m = open();
  ASSERT_TRUE(m.fetch(url(), "HEAD", credentials{k_token}).ok());
  const auto before = server_->observed().requests;
  auto got = m.fetch(url(), c, credentials{k_token});
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, c);
  EXPECT_EQ(server_->observed().requests, before);
}

TEST_F(mirror_test, wrong_or_missing_token_is_unauthorized_and_never_echoed) {
  write(work_ / "a.yaml", "a\n");
  commit_and_push("a");
  mirror& m = open();
  const std::string wrong = "ghs_wrongTOKENwrongTOKENwrongTOKEN12345";
  auto got = m.fetch(url(), "HEAD", credentials{wrong});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().kind, error_kind::unauthorized) << got.error().message;
  EXPECT_THAT(got.error().message, Not(HasSubstr(wrong)));
  EXPECT_THAT(got.error().message, Not(HasSubstr(k_token)));
  EXPECT_THAT(got.error().message, HasSubstr("refused"));
  EXPECT_GE(server_->observed().unauthorized, 2u);

  got = m.fetch(url(), "HEAD", credentials{""});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().kind, error_kind::unauthorized) << got.error().message;

  // A URL carrying credentials is refused before any network call, without echoing them.
  auto with_userinfo = "http://x-access-token:" + wrong +
                       "@127.0.0.1:" + std::to_string(server_->port()) + "/infra.git";
  got = m.fetch(with_userinfo, "HEAD", credentials{k_token});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().kind, error_kind::invalid_input);
  EXPECT_THAT(got.error().message, Not(HasSubstr(wrong)));
}

TEST_F(mirror_test, missing_repository_and_branch_are_not_found) {
  write(work_ / "a.yaml", "a\n");
  commit_and_push("a");
  mirror& m = open();
  auto got = m.fetch(server_->url("nope.git"), "HEAD", credentials{k_token});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().kind, error_kind::not_found) << got.error().message;
  got = m.fetch(url(), "no-such-branch", credentials{k_token});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().kind, error_kind::not_found) << got.error().message;
  got = m.fetch(url(), "0123456789abcdef0123456789abcdef01234567", credentials{k_token});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().kind, error_kind::not_found) << got.error().message;
}

TEST_F(mirror_test, deleted_cache_directory_means_a_fresh_clone) {
  write(work_ / "a.yaml", "a\n");
  const std::string c = commit_and_push("a");
  mirror& m = open();
  ASSERT_TRUE(m.fetch(url(), "HEAD", credentials{k_token}).ok());
  fs::remove_all(cache_);
  // Reads first: the mirror is recreated empty, so the commit is simply not there yet.
  auto missing = m.read_file(c, "a.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, error_kind::not_found) << missing.error().message;
  fs::remove_all(cache_);
  auto got = m.fetch(url(), "HEAD", credentials{k_token});
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, c);
  EXPECT_EQ(*m.read_file(c, "a.yaml"), "a\n");
}

TEST_F(mirror_test, corrupt_cache_is_replaced_by_a_fresh_clone) {
  write(work_ / "a.yaml", "a\n");
  const std::string c = commit_and_push("a");
  {
    mirror& m = open();
    ASSERT_TRUE(m.fetch(url(), "HEAD", credentials{k_token}).ok());
    // Garbage where the repository was.
    fs::remove_all(m.path());
    write(m.path(), "this is not a git repository");
    auto got = m.fetch(url(), "HEAD", credentials{k_token});
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(*got, c);
  }
  // A new process (a new registry) finding garbage HEAD and objects.
  const fs::path path = cache_ / "acme" / "infra.git";
  write(path / "HEAD", "\x01\x02garbage");
  write(path / "objects/pack/pack-0000000000000000000000000000000000000000.pack", "junk");
  auto reg = mirror_registry::create(mirror_settings{
      .cache_dir = cache_.string(), .ca_file = "", .timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(reg.ok());
  auto m2 = (*reg)->open("acme", "infra");
  ASSERT_TRUE(m2.ok()) << m2.error().message;
  auto got = (*m2)->fetch(url(), "HEAD", credentials{k_token});
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, c);
  EXPECT_EQ(*(*m2)->read_file(c, "a.yaml"), "a\n");
}

TEST_F(mirror_test, fetches_a_commit_by_id_with_or_without_server_support) {
  write(work_ / "a.yaml", "a\n");
  const std::string base = commit_and_push("a");
  // Two commits on a side branch that is neither the default branch nor ferry/*: the older one
  // is reachable but not advertised, the case of a push event's `after` behind a later push.
  git("checkout -q -b feature");
  write(work_ / "b.yaml", "b\n");
  const std::string inner = commit_and_push("b", "feature");
  write(work_ / "c.yaml", "c\n");
  commit_and_push("c", "feature");

  mirror& m = open();
  // The server refuses unadvertised wants (git's default): the mirror falls back to branches.
  auto got = m.fetch(url(), inner, credentials{k_token});
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, inner);
  EXPECT_EQ(*m.read_file(inner, "b.yaml"), "b\n");
  EXPECT_TRUE(*m.is_descendant(inner, base));

  // Fresh cache, server allowing wants of any reachable commit (as GitHub does).
  sh("git -C " + (served_ / "infra.git").string() +
     " config uploadpack.allowReachableSHA1InWant true");
  fs::remove_all(cache_);
  const auto posts_before = server_->observed().upload_pack_bytes.size();
  got = m.fetch(url(), inner, credentials{k_token});
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, inner);
  EXPECT_EQ(*m.read_file(inner, "b.yaml"), "b\n");
  // One negotiation: the commit came by id, no fallback to fetching every branch.
  EXPECT_EQ(server_->observed().upload_pack_bytes.size(), posts_before + 1);
}

TEST_F(mirror_test, ferry_branches_are_mirrored_and_pruned) {
  write(work_ / "a.yaml", "a\n");
  commit_and_push("a");
  git("checkout -q -b pr");
  write(work_ / "a.yaml", "b\n");
  const std::string pr = commit_and_push("bump", "ferry/staging/flux-system-app");
  mirror& m = open();
  ASSERT_TRUE(m.fetch(url(), "HEAD", credentials{k_token}).ok());
  EXPECT_EQ(*m.resolve("refs/heads/ferry/staging/flux-system-app"), pr);
  EXPECT_EQ(*m.resolve("ferry/staging/flux-system-app"), pr);

  sh("git -C " + (served_ / "infra.git").string() + " branch -D ferry/staging/flux-system-app");
  ASSERT_TRUE(m.fetch(url(), "HEAD", credentials{k_token}).ok());
  auto gone = m.resolve("refs/heads/ferry/staging/flux-system-app");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().kind, error_kind::not_found);
}

TEST_F(mirror_test, concurrent_fetches_of_one_mirror_end_consistent) {
  write(work_ / "blob.bin", random_bytes(64 * 1024, 2));
  const std::string c = commit_and_push("a");
  std::vector<std::string> results(4);
  std::vector<std::string> errors(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto m = registry_->open("acme", "infra");
      if (!m.ok()) {
        errors[i] = m.error().message;
        return;
      }
      auto got = (*m)->fetch(url(), "HEAD", credentials{k_token});
      if (got.ok()) {
        results[i] = *got;
        auto content = (*m)->read_file(*got, "blob.bin");
        if (!content.ok() || content->size() != 64u * 1024u) {
          errors[i] = "read after fetch failed";
        }
      } else {
        errors[i] = got.error().message;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(errors[i], "") << "thread " << i;
    EXPECT_EQ(results[i], c) << "thread " << i;
  }
  // One object store, consistent by git's own check.
  EXPECT_EQ(run("git -C " + (cache_ / "acme" / "infra.git").string() + " fsck --strict").status, 0);
  // Serialised: the first fetch downloads, the three after it find the commit up to date.
  EXPECT_EQ(server_->observed().upload_pack_bytes.size(), 1u);
}

TEST_F(mirror_test, registry_refuses_names_that_escape_the_cache) {
  for (const auto& [owner, name] : std::vector<std::pair<std::string, std::string>>{
           {"..", "x"}, {"acme", ".."}, {"a/b", "c"}, {"acme", ""}, {"acme", "in fra"}}) {
    auto m = registry_->open(owner, name);
    ASSERT_FALSE(m.ok()) << owner << "/" << name;
    EXPECT_EQ(m.error().kind, error_kind::invalid_input);
  }
  auto a = registry_->open("acme", "infra");
  auto b = registry_->open("acme", "infra");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

TEST_F(mirror_test, unreadable_ca_file_fails_registry_creation) {
  auto reg = mirror_registry::create(mirror_settings{.cache_dir = cache_.string(),
                                                     .ca_file = (root_ / "missing.pem").string(),
                                                     .timeout = std::chrono::seconds(60)});
  ASSERT_FALSE(reg.ok());
  EXPECT_EQ(reg.error().kind, error_kind::invalid_input);
}

// Every read against what git itself says about commits built with the git command line.
TEST_F(mirror_test, find_commit_gives_the_newest_matching_commit_within_the_limit) {
  write(work_ / "a.txt", "1\n");
  const std::string c1 = commit_and_push("ferry: bump app to v1 in staging");
  write(work_ / "a.txt", "2\n");
  const std::string c2 = commit_and_push("ferry: bump app to v2 in staging");
  write(work_ / "a.txt", "3\n");
  const std::string c3 = commit_and_push("a change by a person");
  mirror& m = open();
  ASSERT_TRUE(m.fetch(url(), "main", credentials{k_token}).ok());
  const auto bump = [](std::string_view msg) { return msg.starts_with("ferry: bump"); };

  auto hit = m.find_commit(c3, 10, bump);
  ASSERT_TRUE(hit.ok()) << hit.error().message;
  ASSERT_TRUE(hit->has_value());
  EXPECT_EQ((*hit)->id, c2);
  EXPECT_EQ((*hit)->message, "ferry: bump app to v2 in staging\n");
  // The start commit itself counts; an older start sees only its history.
  EXPECT_EQ((*m.find_commit(c1, 10, bump))->id, c1);
  // Within the limit only: c3 alone is looked at.
  auto none = m.find_commit(c3, 1, bump);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(m.find_commit(c3, 10, [](std::string_view) { return false; })->has_value());
  EXPECT_EQ(m.find_commit(std::string(40, 'e'), 10, bump).error().kind, error_kind::not_found);
}

TEST_F(mirror_test, reads_match_git) {
  write(work_ / ".github/ferry.yaml", "version: 1\n");
  write(work_ / "clusters/staging/app.yaml",
        "image: app:1 # {\"$imagepolicy\": \"flux-system:app\"}\n");
  write(work_ / "clusters/staging/kustomization.yaml", "resources: [app.yaml]\n");
  write(work_ / "clusters/production/app.yaml", "image: app:0\n");
  write(work_ / "infra/apply-job.yaml", "kind: Job\n");
  sh("ln -s app.yaml " + (work_ / "clusters/staging/link.yaml").string());
  const std::string c1 = commit_and_push("one");
  write(work_ / "clusters/staging/app.yaml", "image: app:2\n");
  git("mv infra/apply-job.yaml infra/job.yaml");
  fs::remove(work_ / "clusters/production/app.yaml");
  write(work_ / "clusters/production/new.yaml", "new: true\n");
  const std::string c2 = commit_and_push("two");

  mirror& m = open();
  ASSERT_TRUE(m.fetch(url(), "main", credentials{k_token}).ok());

  EXPECT_EQ(*m.resolve("main"), c2);
  EXPECT_EQ(*m.resolve("refs/heads/main"), c2);
  EXPECT_EQ(*m.resolve(c1), c1);
  EXPECT_EQ(m.resolve("nope").error().kind, error_kind::not_found);

  EXPECT_EQ(*m.read_file(c1, "clusters/production/app.yaml"), "image: app:0\n");
  EXPECT_EQ(*m.read_file(c2, "./clusters/staging/app.yaml"), "image: app:2\n");
  EXPECT_EQ(m.read_file(c2, "clusters/production/app.yaml").error().kind, error_kind::not_found);
  EXPECT_EQ(m.read_file(c2, "clusters").error().kind, error_kind::not_found);
  EXPECT_EQ(m.read_file(c2, "../etc/passwd").error().kind, error_kind::invalid_input);
  EXPECT_EQ(m.read_file("abc", "x").error().kind, error_kind::invalid_input);

  EXPECT_EQ(*m.blob_id(c1, ".github/ferry.yaml"), git("rev-parse " + c1 + ":.github/ferry.yaml"));
  EXPECT_EQ(*m.blob_id(c2, ".github/ferry.yaml"), *m.blob_id(c1, ".github/ferry.yaml"));
  EXPECT_NE(*m.blob_id(c2, "clusters/staging/app.yaml"),
            *m.blob_id(c1, "clusters/staging/app.yaml"));

  auto staging = m.list_tree(c1, "clusters/staging/");
  ASSERT_TRUE(staging.ok()) << staging.error().message;
  ASSERT_EQ(staging->size(), 3u);
  EXPECT_EQ((*staging)[0],
            (tree_entry{"clusters/staging/app.yaml",
                        git("rev-parse " + c1 + ":clusters/staging/app.yaml"), 0100644}));
  EXPECT_EQ((*staging)[1].path, "clusters/staging/kustomization.yaml");
  EXPECT_EQ((*staging)[2].path, "clusters/staging/link.yaml");
  EXPECT_EQ((*staging)[2].mode, 0120000u);
  EXPECT_EQ(m.list_tree(c1, "")->size(), 6u);
  EXPECT_EQ(m.list_tree(c1, "clusters/dev")->size(), 0u);
  EXPECT_EQ(m.list_tree(c1, "infra/apply-job.yaml")->size(), 1u);

  auto changed = m.changed_paths(c1, c2);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_THAT(*changed,
              ElementsAre("clusters/production/app.yaml", "clusters/production/new.yaml",
                          "clusters/staging/app.yaml", "infra/apply-job.yaml", "infra/job.yaml"));
  auto everything = m.changed_paths(std::string(k_zero_oid), c1);
  ASSERT_TRUE(everything.ok());
  EXPECT_EQ(everything->size(), 6u);
  EXPECT_TRUE(m.changed_paths(c2, c2)->empty());

  EXPECT_TRUE(*m.is_descendant(c2, c1));
  EXPECT_FALSE(*m.is_descendant(c1, c2));
  EXPECT_TRUE(*m.is_descendant(c1, c1));  // equal counts as a descendant
  EXPECT_EQ(m.is_descendant(c1, "0123456789abcdef0123456789abcdef01234567").error().kind,
            error_kind::not_found);

  // Files under prefixes, without symlinks, each once even when prefixes overlap.
  const std::vector<std::string> prefixes = {"clusters/staging", "clusters", ".github"};
  auto files = m.files(c1, prefixes);
  ASSERT_TRUE(files.ok()) << files.error().message;
  std::vector<std::string> paths;
  for (const auto& f : *files) {
    paths.push_back(f.path);
  }
  EXPECT_THAT(paths,
              ElementsAre(".github/ferry.yaml", "clusters/production/app.yaml",
                          "clusters/staging/app.yaml", "clusters/staging/kustomization.yaml"));
  int visited = 0;
  ASSERT_TRUE(m.for_each_file(c1, prefixes, [&](std::string_view, std::string_view) {
                 return ++visited < 2;
               }).ok());
  EXPECT_EQ(visited, 2);

  const fs::path out = root_ / "checkout";
  const std::vector<std::string> staging_only = {"clusters/staging"};
  ASSERT_TRUE(m.checkout_to(c2, out, staging_only).ok());
  std::ifstream in(out / "clusters/staging/app.yaml");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "image: app:2\n");
  EXPECT_FALSE(fs::exists(out / "clusters/production"));
  EXPECT_FALSE(fs::exists(out / ".github"));
}

// A server that accepts and then says nothing: libgit2 1.5 alone would wait forever; the
// registered stream's read timeout ends the fetch with a transient error.
TEST_F(mirror_test, silent_server_times_out_as_transient) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);  // the kernel completes the handshake; nobody ever answers
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string silent = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/x.git";

  auto reg = mirror_registry::create(mirror_settings{
      .cache_dir = cache_.string(), .ca_file = "", .timeout = std::chrono::seconds(1)});
  ASSERT_TRUE(reg.ok());
  auto m = (*reg)->open("acme", "infra");
  ASSERT_TRUE(m.ok());
  auto got = (*m)->fetch(silent, "HEAD", credentials{k_token});
  ::close(fd);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().kind, error_kind::transient) << got.error().message;
  EXPECT_THAT(got.error().message, HasSubstr("timed out"));
}

// HTTPS as against GitHub: libgit2's mbedTLS verifies the server against the configured CA file
// (GIT_OPT_SET_SSL_CERT_LOCATIONS), over the registered timeout stream.
TEST_F(mirror_test, https_with_a_configured_ca_file) {
  write(work_ / "a.yaml", "a\n");
  const std::string c = commit_and_push("a");
  const fs::path pki = root_ / "pki";
  fs::create_directories(pki);
  const std::string d = pki.string();
  write(pki / "san.ext", "subjectAltName=DNS:localhost\n");
  for (const std::string ca : {"ca", "other-ca"}) {
    sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=" + ca + " -keyout " + d + "/" +
       ca + ".key -out " + d + "/" + ca + ".pem");
  }
  sh("openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout " + d + "/server.key -out " +
     d + "/server.csr");
  sh("openssl x509 -req -days 2 -in " + d + "/server.csr -CA " + d + "/ca.pem -CAkey " + d +
     "/ca.key -CAcreateserial -extfile " + d + "/san.ext -out " + d + "/server.pem");
  test::git_http_server https(served_, k_token, {pki / "server.pem", pki / "server.key"});

  auto untrusted = mirror_registry::create(mirror_settings{.cache_dir = (root_ / "cache2").string(),
                                                           .ca_file = d + "/other-ca.pem",
                                                           .timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(untrusted.ok()) << untrusted.error().message;
  auto m = (*untrusted)->open("acme", "infra");
  ASSERT_TRUE(m.ok());
  auto got = (*m)->fetch(https.url("infra.git"), "HEAD", credentials{k_token});
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.error().message, Not(HasSubstr(k_token)));
  EXPECT_EQ(https.observed().requests, 0u) << "a request went to an unverified server";
  EXPECT_THAT(got.error().message, HasSubstr("certificate")) << got.error().message;

  auto trusted = mirror_registry::create(mirror_settings{
      .cache_dir = cache_.string(), .ca_file = d + "/ca.pem", .timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(trusted.ok()) << trusted.error().message;
  m = (*trusted)->open("acme", "infra");
  ASSERT_TRUE(m.ok());
  got = (*m)->fetch(https.url("infra.git"), "HEAD", credentials{k_token});
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, c);
}

}  // namespace
}  // namespace ferry::git

namespace ferry::git {
namespace {

std::size_t open_fds() {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc/self/fd", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    ++n;
  }
  return n;
}

std::size_t packs_in(const std::string& repo) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(fs::path(repo) / "objects" / "pack")) {
    n += e.path().extension() == ".pack" ? 1 : 0;
  }
  return n;
}

// Issue 10.3: every promotion fetches a small pack; before, 40 deliveries left 82 pack files and
// 50 open fds. Now the mirror compacts past limits::k_mirror_packs_max packs, so packs and fds
// stay bounded however many fetches there are, and every commit stays readable.
TEST_F(mirror_test, many_fetches_keep_packs_and_open_files_bounded) {
  write(work_ / "clusters/staging/app.yaml", "image: app:0\n");
  std::vector<std::string> commits{commit_and_push("start")};
  mirror& m = open();
  ASSERT_TRUE(m.fetch(url(), "HEAD", credentials{k_token}).ok());
  ASSERT_TRUE(m.read_file(commits[0], "clusters/staging/app.yaml").ok());
  const std::size_t fds_at_start = open_fds();
  std::size_t most_packs = 0;
  std::size_t most_fds = 0;
  constexpr int k_fetches = 3 * static_cast<int>(ferry::limits::k_mirror_packs_max);
  for (int i = 1; i <= k_fetches; ++i) {
    write(work_ / "clusters/staging/app.yaml", "image: app:" + std::to_string(i) + "\n");
    commits.push_back(commit_and_push("bump " + std::to_string(i)));
    auto got = m.fetch(url(), commits.back(), credentials{k_token});
    ASSERT_TRUE(got.ok()) << got.error().message;
    // A read after each fetch maps the packs, as a delivery does.
    ASSERT_EQ(*m.read_file(commits.back(), "clusters/staging/app.yaml"),
              "image: app:" + std::to_string(i) + "\n");
    most_packs = std::max(most_packs, packs_in(m.path()));
    most_fds = std::max(most_fds, open_fds());
  }
  EXPECT_LE(most_packs, ferry::limits::k_mirror_packs_max + 1);
  EXPECT_LE(most_fds, fds_at_start + ferry::limits::k_mirror_packs_max + 2)
      << "open files grew with the fetches";
  // Nothing was lost in the compactions: the oldest commit and every one since are readable.
  for (std::size_t i = 0; i < commits.size(); ++i) {
    EXPECT_EQ(*m.read_file(commits[i], "clusters/staging/app.yaml"),
              "image: app:" + std::to_string(i) + "\n")
        << i;
  }
  EXPECT_TRUE(*m.is_descendant(commits.back(), commits.front()));
}

}  // namespace
}  // namespace ferry::git
