// The tree walk behind `ferry check` and `ferry plan`: readdir over directory file
// descriptors (one getdents64 per 32 KiB of entries, no stat per entry where d_type answers),
// one read per file, and the byte-level fast path before any parsing.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>
#include <utility>

#include "service/limits.hpp"
#include "service/markers/markers.hpp"
#include "service/markers/scan_internal.hpp"

namespace ferry::markers {

namespace {

bool is_candidate_name(std::string_view n) {
  auto ends_with = [&](std::string_view suffix) {
    return n.size() > suffix.size() && n.substr(n.size() - suffix.size()) == suffix;
  };
  // kustomize reads kustomization.yaml, kustomization.yml and Kustomization
  // (sigs.k8s.io/kustomize/api/konfig: RecognizedKustomizationFileNames).
  return ends_with(".yaml") || ends_with(".yml") || n == "Kustomization";
}

// Most manifests fit; larger files grow the buffer, which is then kept for the next ones.
constexpr std::size_t k_initial_buffer = 256 * 1024;

class walker {
 public:
  explicit walker(tree_scan& out) : out_(out) {}

  // Reads one regular file relative to dirfd and scans it.
  void visit_file(int dirfd, const char* name, const std::string& rel) {
    const int fd = ::openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
      out_.errors.push_back({rel, 0, 0, std::string("cannot open: ") + std::strerror(errno)});
      return;
    }
    // No fstat: d_type already said this is a regular file (O_NOFOLLOW refuses a symlink
    // swapped in, O_NONBLOCK a FIFO), and reading into a reused buffer until EOF costs the
    // same two reads grep makes.
    if (buf_.size() < k_initial_buffer) {
      buf_.resize(k_initial_buffer);
    }
    std::size_t used = 0;
    while (true) {
      if (used == buf_.size()) {
        if (buf_.size() > limits::k_marker_file_max) {
          ::close(fd);
          out_.errors.push_back({rel, 0, 0,
                                 "file larger than " + std::to_string(limits::k_marker_file_max) +
                                     " bytes, skipped"});
          return;
        }
        buf_.resize(buf_.size() * 2);
      }
      const ssize_t n = ::read(fd, buf_.data() + used, buf_.size() - used);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        out_.errors.push_back({rel, 0, 0, std::string("cannot read: ") + std::strerror(errno)});
        ::close(fd);
        return;
      }
      if (n == 0) {
        break;
      }
      used += static_cast<std::size_t>(n);
    }
    ::close(fd);
    ++out_.files_seen;
    const std::string_view content(buf_.data(), used);
    if (!may_contain_marker(content)) {
      return;
    }
    file_scan scanned;
    if (auto err = detail::scan_into(rel, content, scanned)) {
      out_.errors.push_back(std::move(*err));
      return;  // a malformed file is reported and skipped; the others are still scanned
    }
    for (auto& p : scanned.problems) {
      out_.problems.push_back(std::move(p));
    }
    if (!scanned.markers.empty()) {
      out_.files.push_back({rel, std::string(content), std::move(scanned.markers)});
    }
  }

  // Walks the directory open at fd (taken over and closed), `rel` its repository path.
  void visit_dir(int fd, const std::string& rel) {
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
      ::close(fd);
      out_.errors.push_back({rel, 0, 0, std::string("cannot list: ") + std::strerror(errno)});
      return;
    }
    const int dfd = ::dirfd(dir);
    while (const dirent* e = ::readdir(dir)) {
      const char* name = e->d_name;
      if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0 ||
          std::strcmp(name, ".git") == 0) {
        continue;
      }
      unsigned char type = e->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st {};
        if (::fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
          continue;
        }
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
      }
      const std::string child = rel.empty() ? std::string(name) : rel + "/" + name;
      if (type == DT_DIR) {
        const int cfd = ::openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (cfd < 0) {
          out_.errors.push_back(
              {child, 0, 0, std::string("cannot open directory: ") + std::strerror(errno)});
          continue;
        }
        visit_dir(cfd, child);
      } else if (type == DT_REG && is_candidate_name(name)) {
        visit_file(dfd, name, child);
      }
      // Symbolic links are not followed: an edit through one would change a file elsewhere.
    }
    ::closedir(dir);
  }

 private:
  tree_scan& out_;
  std::vector<char> buf_;
};

// "clusters//staging/" -> "clusters/staging"; "" and "." -> "" (the whole repository).
result<std::string> normalize_prefix(std::string_view p) {
  if (!p.empty() && p.front() == '/') {
    return make_error(error_kind::invalid_input,
                      "path \"" + std::string(p) + "\" must be relative to the repository");
  }
  std::string out;
  std::size_t i = 0;
  while (i <= p.size()) {
    std::size_t j = p.find('/', i);
    if (j == std::string_view::npos) {
      j = p.size();
    }
    const std::string_view part = p.substr(i, j - i);
    if (part == "..") {
      return make_error(error_kind::invalid_input,
                        "path \"" + std::string(p) + "\" must not contain \"..\"");
    }
    if (!part.empty() && part != ".") {
      if (!out.empty()) {
        out += '/';
      }
      out += part;
    }
    i = j + 1;
  }
  return out;
}

}  // namespace

result<tree_scan> scan_tree(const std::string& root_dir,
                            const std::vector<std::string>& path_prefixes) {
  std::vector<std::string> prefixes;
  for (const auto& p : path_prefixes) {
    auto n = normalize_prefix(p);
    if (!n) {
      return std::move(n).error();
    }
    prefixes.push_back(std::move(*n));
  }
  if (path_prefixes.empty()) {
    prefixes.emplace_back();
  }
  // Drop prefixes inside another one so no file is read twice.
  std::sort(prefixes.begin(), prefixes.end());
  std::vector<std::string> roots;
  for (auto& p : prefixes) {
    const bool covered = std::any_of(roots.begin(), roots.end(), [&](const std::string& r) {
      return r.empty() || p == r ||
             (p.size() > r.size() && p.compare(0, r.size(), r) == 0 && p[r.size()] == '/');
    });
    if (!covered) {
      roots.push_back(std::move(p));
    }
  }

  const int root_fd = ::open(root_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) {
    return make_error(error_kind::invalid_input,
                      root_dir + ": cannot open directory: " + std::strerror(errno));
  }
  tree_scan out;
  walker w(out);
  for (const auto& r : roots) {
    if (r.empty()) {
      w.visit_dir(::dup(root_fd), "");
      continue;
    }
    struct stat st {};
    if (::fstatat(root_fd, r.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      continue;  // an environment path that does not exist holds no markers
    }
    if (S_ISDIR(st.st_mode)) {
      const int fd = ::openat(root_fd, r.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd >= 0) {
        w.visit_dir(fd, r);
      }
    } else if (S_ISREG(st.st_mode)) {
      const std::size_t slash = r.rfind('/');
      const std::string base = slash == std::string::npos ? r : r.substr(slash + 1);
      if (is_candidate_name(base)) {
        w.visit_file(root_fd, r.c_str(), r);
      }
    }
  }
  ::close(root_fd);

  auto by_path = [](const auto& a, const auto& b) { return a.path < b.path; };
  std::sort(out.files.begin(), out.files.end(), by_path);
  auto by_place = [](const diagnostic& a, const diagnostic& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  };
  std::sort(out.errors.begin(), out.errors.end(), by_place);
  std::sort(out.problems.begin(), out.problems.end(), by_place);
  return out;
}

}  // namespace ferry::markers
