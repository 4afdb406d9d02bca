#include "service/git/handles.hpp"

#include <cctype>

namespace ferry::git::detail {

namespace {

struct libgit2_runtime {
  libgit2_runtime() { git_libgit2_init(); }
  ~libgit2_runtime() { git_libgit2_shutdown(); }
  libgit2_runtime(const libgit2_runtime&) = delete;
  libgit2_runtime& operator=(const libgit2_runtime&) = delete;
};

error_kind kind_for(int code, int klass) {
  switch (code) {
    case GIT_ENOTFOUND:
      return error_kind::not_found;
    case GIT_EAUTH:
      return error_kind::unauthorized;
    case GIT_ELOCKED:
      return error_kind::transient;
    case GIT_EEXISTS:
    case GIT_EMODIFIED:
      return error_kind::conflict;
    case GIT_EINVALIDSPEC:
    case GIT_EAMBIGUOUS:
      return error_kind::invalid_input;
    default:
      break;
  }
  switch (klass) {
    case GIT_ERROR_NET:
    case GIT_ERROR_SSL:
    case GIT_ERROR_HTTP:
      return error_kind::transient;
    default:
      return error_kind::internal;
  }
}

}  // namespace

void ensure_libgit2() {
  static const libgit2_runtime runtime;
}

error last_error(int code, std::string_view what) {
  const git_error* e = git_error_last();
  std::string message(what);
  int klass = GIT_ERROR_NONE;
  if (e != nullptr && e->message != nullptr) {
    message += ": ";
    message += e->message;
    klass = e->klass;
  } else {
    message += ": libgit2 error " + std::to_string(code);
  }
  return make_error(kind_for(code, klass), std::move(message));
}

// Normalises a repository path: "./a/b/" -> "a/b". Refuses "..", "." and empty components so a
// caller-supplied prefix can never point outside the tree (or outside a checkout directory).
result<std::string> normalise(std::string_view path) {
  while (path.starts_with("./")) {
    path.remove_prefix(2);
  }
  while (path.ends_with('/')) {
    path.remove_suffix(1);
  }
  if (path == ".") {
    return std::string();
  }
  std::string_view rest = path;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    if (part.empty() || part == "." || part == ".." || part.find('\0') != std::string_view::npos) {
      return make_error(error_kind::invalid_input,
                        "invalid repository path \"" + std::string(path) + "\"");
    }
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  return std::string(path);
}

std::string to_hex(const git_oid& oid) {
  char out[GIT_OID_HEXSZ + 1];
  git_oid_tostr(out, sizeof out, &oid);
  return std::string(out, GIT_OID_HEXSZ);
}

result<git_oid> parse_oid(std::string_view hex) {
  bool valid = hex.size() == GIT_OID_HEXSZ;
  for (char c : hex) {
    valid = valid && std::isxdigit(static_cast<unsigned char>(c)) != 0;
  }
  if (!valid) {
    return make_error(error_kind::invalid_input,
                      "not a full 40-hex object id: \"" + std::string(hex.substr(0, 64)) + "\"");
  }
  git_oid oid;
  if (git_oid_fromstrn(&oid, hex.data(), hex.size()) != 0) {
    return make_error(error_kind::invalid_input, "not an object id: " + std::string(hex));
  }
  return oid;
}

}  // namespace ferry::git::detail
