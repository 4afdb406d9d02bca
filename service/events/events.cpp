#include "service/events/events.hpp"

#include <simdjson.h>

#include <array>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "service/events/fields.hpp"
#include "service/limits.hpp"

namespace ferry::events {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// A field's value, already checked against the descriptor's type.
struct field_value {
  element el;
  std::string_view str;
  std::int64_t i = 0;
  bool b = false;
};

template <typename T>
struct field_spec {
  field_descriptor d;
  void (*set)(T& out, const field_value& v) = nullptr;  // nullptr: validated, not stored
};

// A table with each entry's parent resolved at compile time, so parsing looks up one key per
// field from its already-found parent instead of walking from the root.
template <typename T, std::size_t N>
struct table {
  std::array<field_spec<T>, N> specs;
  std::array<field_descriptor, N> descriptors;
  std::array<int, N> parent{};            // index of the parent entry, -1 for the root
  std::array<bool, N> each{};             // the parent is an array: applies to each element
  std::array<std::string_view, N> key{};  // last path segment
};

constexpr std::string_view strip_items(std::string_view s) {
  return s.ends_with("[]") ? s.substr(0, s.size() - 2) : s;
}

template <typename T, std::size_t N>
constexpr table<T, N> make_table(const field_spec<T> (&specs)[N]) {
  table<T, N> t{};
  for (std::size_t i = 0; i < N; ++i) {
    t.specs[i] = specs[i];
    t.descriptors[i] = specs[i].d;
    const std::string_view path = specs[i].d.path;
    const auto dot = path.rfind('.');
    t.key[i] = dot == std::string_view::npos ? path : path.substr(dot + 1);
    t.parent[i] = -1;
    if (dot == std::string_view::npos) {
      continue;
    }
    const std::string_view parent_segment = path.substr(0, dot);
    t.each[i] = parent_segment.ends_with("[]");
    const std::string_view parent_path = strip_items(parent_segment);
    for (std::size_t j = 0; j < i; ++j) {
      if (specs[j].d.path == parent_path) {
        t.parent[i] = static_cast<int>(j);
      }
    }
    if (t.parent[i] < 0) {
      throw "fields table: a parent entry must come before its children";  // compile-time only
    }
  }
  return t;
}

const char* type_name(element_type t) noexcept {
  switch (t) {
    case element_type::ARRAY:
      return "array";
    case element_type::OBJECT:
      return "object";
    case element_type::INT64:
      return "integer";
    case element_type::UINT64:
      return "integer out of int64 range";
    case element_type::DOUBLE:
      return "number";
    case element_type::STRING:
      return "string";
    case element_type::BOOL:
      return "boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

bool has_type(const element& el, json_type t) noexcept {
  switch (t) {
    case json_type::string:
      return el.is_string();
    case json_type::integer:
      return el.is_int64();
    case json_type::boolean:
      return el.is_bool();
    case json_type::object:
      return el.is_object();
    case json_type::array:
      return el.is_array();
  }
  return false;
}

field_value value_of(const element& el, json_type t) noexcept {
  field_value v{.el = el, .str = {}, .i = 0, .b = false};
  switch (t) {
    case json_type::string:
      v.str = el.get_string().value_unsafe();
      break;
    case json_type::integer:
      v.i = el.get_int64().value_unsafe();
      break;
    case json_type::boolean:
      v.b = el.get_bool().value_unsafe();
      break;
    case json_type::object:
    case json_type::array:
      break;
  }
  return v;
}

ferry::error field_error(std::string_view path, std::string_view what) {
  std::string message(path);
  message += ": ";
  message += what;
  return make_error(error_kind::invalid_input, std::move(message));
}

ferry::error type_error(std::string_view path, json_type want, const element& got) {
  std::string what = "expected ";
  what += to_string(want);
  what += ", got ";
  what += type_name(got.type());
  return field_error(path, what);
}

// One field in one parent object. Sets *found (when given) and returns true in *present when
// the field is there and not null.
template <typename T>
std::optional<ferry::error> read_one(const field_spec<T>& spec, std::string_view key,
                                     std::string_view path, const element& parent, T& out,
                                     element* found, bool* present) {
  auto r = parent.get_object().value_unsafe().at_key(key);
  if (r.error() != simdjson::SUCCESS || r.value_unsafe().is_null()) {
    if (spec.d.presence == presence::required) {
      return field_error(path, r.error() == simdjson::SUCCESS ? "null" : "missing");
    }
    return std::nullopt;
  }
  const element el = r.value_unsafe();
  if (!has_type(el, spec.d.type)) {
    return type_error(path, spec.d.type, el);
  }
  if (spec.set != nullptr) {
    spec.set(out, value_of(el, spec.d.type));
  }
  if (found != nullptr) {
    *found = el;
    *present = true;
  }
  return std::nullopt;
}

template <typename T, std::size_t N>
std::optional<ferry::error> apply_table(const table<T, N>& t, const element& root, T& out) {
  std::array<element, N> found{};
  std::array<bool, N> present{};
  for (std::size_t i = 0; i < N; ++i) {
    const auto& spec = t.specs[i];
    const int p = t.parent[i];
    if (p >= 0 && !present[static_cast<std::size_t>(p)]) {
      continue;  // an optional parent was absent or null: nothing below it to read
    }
    const element parent = p < 0 ? root : found[static_cast<std::size_t>(p)];
    if (!t.each[i]) {
      if (auto e = read_one(spec, t.key[i], spec.d.path, parent, out, &found[i], &present[i])) {
        return e;
      }
      continue;
    }
    // "a.b[].c": c in every element of the array a.b.
    const std::string array_path(t.descriptors[static_cast<std::size_t>(p)].path);
    std::size_t index = 0;
    const simdjson::dom::array items = parent.get_array().value_unsafe();
    for (const element item : items) {
      if (!item.is_object()) {
        return type_error(array_path + "[" + std::to_string(index) + "]", json_type::object, item);
      }
      const std::string path =
          array_path + "[" + std::to_string(index) + "]." + std::string(t.key[i]);
      if (auto e = read_one(spec, t.key[i], path, item, out, nullptr, nullptr)) {
        return e;
      }
      ++index;
    }
  }
  return std::nullopt;
}

// --- setters ------------------------------------------------------------------------------

template <typename T>
repository_info& repo_of(T& e) {
  return e.repository;
}
template <>
repository_info& repo_of(package_event& e) {
  return *e.repository;
}

template <typename T>
void set_repo(T& e, const field_value&) {
  repo_of(e) = repository_info{};
}
template <>
void set_repo(package_event& e, const field_value&) {
  e.repository.emplace();
}
template <typename T>
void set_repo_full_name(T& e, const field_value& v) {
  repo_of(e).full_name = v.str;
}
template <typename T>
void set_repo_owner(T& e, const field_value& v) {
  repo_of(e).owner = v.str;
}
template <typename T>
void set_repo_name(T& e, const field_value& v) {
  repo_of(e).name = v.str;
}
template <typename T>
void set_repo_clone_url(T& e, const field_value& v) {
  repo_of(e).clone_url = v.str;
}
template <typename T>
void set_repo_default_branch(T& e, const field_value& v) {
  repo_of(e).default_branch = v.str;
}
template <typename T>
void set_repo_html_url(T& e, const field_value& v) {
  repo_of(e).html_url = v.str;
}
template <typename T>
void set_installation_id(T& e, const field_value& v) {
  e.installation_id = v.i;
}
template <typename T>
void set_action(T& e, const field_value& v) {
  e.action = v.str;
}

// OCI annotations as GHCR reports them: container_metadata.labels.{revision,source}, with the
// raw org.opencontainers.image.* keys in labels.all_labels when the short ones are empty (the
// webhook examples carry the revision only there). The schema leaves labels free-form, so a
// label of another type is not an error: it is simply not a label ferry can use.
std::string_view label(const element& labels, std::string_view short_key,
                       std::string_view oci_key) {
  const auto obj = labels.get_object().value_unsafe();
  if (auto v = obj.at_key(short_key).get_string(); v.error() == simdjson::SUCCESS) {
    if (!v.value_unsafe().empty()) {
      return v.value_unsafe();
    }
  }
  if (auto all = obj.at_key("all_labels").get_object(); all.error() == simdjson::SUCCESS) {
    if (auto v = all.value_unsafe().at_key(oci_key).get_string(); v.error() == simdjson::SUCCESS) {
      return v.value_unsafe();
    }
  }
  return {};
}

void set_labels(package_event& e, const field_value& v) {
  e.label_revision = label(v.el, "revision", "org.opencontainers.image.revision");
  e.label_source = label(v.el, "source", "org.opencontainers.image.source");
}

// GitHub's caps on a push payload (schema, webhook-push): 2048 commits, 3000 files a commit.
constexpr std::size_t k_push_commits_cap = 2048;
constexpr std::size_t k_push_files_cap = 3000;

void set_commit_count(push_event& e, const field_value& v) {
  e.commit_count = v.el.get_array().value_unsafe().size();
  if (e.commit_count >= k_push_commits_cap) {
    e.files_complete = false;
  }
}

// One commit's file list; a list at the cap, or an entry that is not a string, makes the
// push's file lists incomplete rather than the delivery an error.
void add_paths(push_event& e, const field_value& v, std::vector<std::string>& to) {
  const simdjson::dom::array items = v.el.get_array().value_unsafe();
  if (items.size() >= k_push_files_cap) {
    e.files_complete = false;
  }
  for (const element item : items) {
    if (!item.is_string()) {
      e.files_complete = false;
      continue;
    }
    to.emplace_back(item.get_string().value_unsafe());
  }
}

// Repository fields shared by every event; the owner's presence differs by event (schema).
// Macros, because the tables are constexpr and their paths are string literals joined at
// compile time; a function would need storage for the joined paths.
#define FERRY_REPOSITORY_FIELDS(T, repo_presence, owner_presence)                                \
  {{"repository", repo_presence, json_type::object}, &set_repo<T>},                              \
      {{"repository.full_name", presence::required, json_type::string}, &set_repo_full_name<T>}, \
      {{"repository.owner", owner_presence, json_type::object}},                                 \
      {{"repository.owner.login", presence::required, json_type::string}, &set_repo_owner<T>},   \
      {{"repository.name", presence::required, json_type::string}, &set_repo_name<T>},           \
      {{"repository.clone_url", presence::required, json_type::string}, &set_repo_clone_url<T>}, \
      {{"repository.default_branch", presence::required, json_type::string},                     \
       &set_repo_default_branch<T>},                                                             \
      {{"repository.html_url", presence::required, json_type::string}, &set_repo_html_url<T>},   \
      {{"installation", presence::optional, json_type::object}}, {                               \
    {"installation.id", presence::required, json_type::integer}, &set_installation_id<T>         \
  }

// `package` and `registry_package` differ in the key and in one schema fact: package.owner is
// nullable in `package` deliveries, required in `registry_package` ones.
#define FERRY_PACKAGE_FIELDS(key, owner_presence)                                                 \
  {{"action", presence::required, json_type::string}, &set_action<package_event>},                \
      {{key, presence::required, json_type::object}},                                             \
      {{key ".package_type", presence::required, json_type::string},                              \
       [](package_event& e, const field_value& v) { e.package_type = v.str; }},                   \
      {{key ".name", presence::required, json_type::string},                                      \
       [](package_event& e, const field_value& v) { e.name = v.str; }},                           \
      {{key ".html_url", presence::required, json_type::string},                                  \
       [](package_event& e, const field_value& v) { e.html_url = v.str; }},                       \
      {{key ".owner", owner_presence, json_type::object}},                                        \
      {{key ".owner.login", presence::required, json_type::string},                               \
       [](package_event& e, const field_value& v) { e.owner = v.str; }},                          \
      {{key ".package_version", presence::optional, json_type::object},                           \
       [](package_event& e, const field_value&) { e.has_version = true; }},                       \
      {{key ".package_version.id", presence::required, json_type::integer},                       \
       [](package_event& e, const field_value& v) { e.version_id = v.i; }},                       \
      {{key ".package_version.name", presence::required, json_type::string},                      \
       [](package_event& e, const field_value& v) { e.digest = v.str; }},                         \
      {{key ".package_version.version", presence::required, json_type::string},                   \
       [](package_event& e, const field_value& v) {                                               \
         if (e.digest.empty()) {                                                                  \
           e.digest = v.str;                                                                      \
         }                                                                                        \
       }},                                                                                        \
      {{key ".package_version.target_commitish", presence::optional, json_type::string},          \
       [](package_event& e, const field_value& v) { e.target_commitish = v.str; }},               \
      {{key ".package_version.target_oid", presence::optional, json_type::string},                \
       [](package_event& e, const field_value& v) { e.target_oid = v.str; }},                     \
      {{key ".package_version.container_metadata", presence::optional, json_type::object}},       \
      {{key ".package_version.container_metadata.tag", presence::optional, json_type::object}},   \
      {{key ".package_version.container_metadata.tag.name", presence::optional,                   \
        json_type::string},                                                                       \
       [](package_event& e, const field_value& v) { e.tag = v.str; }},                            \
      {{key ".package_version.container_metadata.labels", presence::optional, json_type::object}, \
       &set_labels},                                                                              \
      FERRY_REPOSITORY_FIELDS(package_event, presence::optional, presence::required),             \
      {{"sender", presence::required, json_type::object}}, {                                      \
    {"sender.login", presence::required, json_type::string},                                      \
        [](package_event& e, const field_value& v) { e.sender = v.str; }                          \
  }

constexpr field_spec<package_event> k_package_specs[] = {
    FERRY_PACKAGE_FIELDS("package", presence::optional)};
constexpr field_spec<package_event> k_registry_package_specs[] = {
    FERRY_PACKAGE_FIELDS("registry_package", presence::required)};

constexpr field_spec<push_event> k_push_specs[] = {
    {{"ref", presence::required, json_type::string},
     [](push_event& e, const field_value& v) { e.ref = v.str; }},
    {{"before", presence::required, json_type::string},
     [](push_event& e, const field_value& v) { e.before = v.str; }},
    {{"after", presence::required, json_type::string},
     [](push_event& e, const field_value& v) { e.after = v.str; }},
    {{"forced", presence::required, json_type::boolean},
     [](push_event& e, const field_value& v) { e.forced = v.b; }},
    {{"created", presence::required, json_type::boolean},
     [](push_event& e, const field_value& v) { e.created = v.b; }},
    {{"deleted", presence::required, json_type::boolean},
     [](push_event& e, const field_value& v) { e.deleted = v.b; }},
    // push's repository.owner is nullable in the schema.
    FERRY_REPOSITORY_FIELDS(push_event, presence::required, presence::optional),
    {{"head_commit", presence::optional, json_type::object}},
    {{"head_commit.id", presence::required, json_type::string},
     [](push_event& e, const field_value& v) { e.head_commit_id = v.str; }},
    {{"pusher", presence::required, json_type::object}},
    {{"pusher.name", presence::required, json_type::string},
     [](push_event& e, const field_value& v) { e.pusher = v.str; }},
    // Required by the schema; read as optional, since only onboarding needs it.
    {{"commits", presence::optional, json_type::array}, &set_commit_count},
    {{"commits[].added", presence::optional, json_type::array},
     [](push_event& e, const field_value& v) { add_paths(e, v, e.touched); }},
    {{"commits[].modified", presence::optional, json_type::array},
     [](push_event& e, const field_value& v) { add_paths(e, v, e.touched); }},
    {{"commits[].removed", presence::optional, json_type::array},
     [](push_event& e, const field_value& v) { add_paths(e, v, e.removed); }},
};

constexpr field_spec<pull_request_event> k_pull_request_specs[] = {
    {{"action", presence::required, json_type::string}, &set_action<pull_request_event>},
    {{"number", presence::required, json_type::integer},
     [](pull_request_event& e, const field_value& v) { e.number = v.i; }},
    {{"pull_request", presence::required, json_type::object}},
    {{"pull_request.merged", presence::optional, json_type::boolean},
     [](pull_request_event& e, const field_value& v) { e.merged = v.b; }},
    {{"pull_request.head", presence::required, json_type::object}},
    {{"pull_request.head.ref", presence::required, json_type::string},
     [](pull_request_event& e, const field_value& v) { e.head_ref = v.str; }},
    {{"pull_request.head.sha", presence::required, json_type::string},
     [](pull_request_event& e, const field_value& v) { e.head_sha = v.str; }},
    {{"pull_request.head.repo", presence::optional, json_type::object}},
    {{"pull_request.head.repo.full_name", presence::required, json_type::string},
     [](pull_request_event& e, const field_value& v) { e.head_repo_full_name = v.str; }},
    {{"pull_request.base", presence::required, json_type::object}},
    {{"pull_request.base.ref", presence::required, json_type::string},
     [](pull_request_event& e, const field_value& v) { e.base_ref = v.str; }},
    {{"pull_request.base.sha", presence::required, json_type::string},
     [](pull_request_event& e, const field_value& v) { e.base_sha = v.str; }},
    {{"pull_request.merge_commit_sha", presence::optional, json_type::string},
     [](pull_request_event& e, const field_value& v) { e.merge_commit_sha = v.str; }},
    {{"pull_request.title", presence::required, json_type::string},
     [](pull_request_event& e, const field_value& v) { e.title = v.str; }},
    {{"pull_request.labels", presence::required, json_type::array}},
    {{"pull_request.labels[].name", presence::required, json_type::string},
     [](pull_request_event& e, const field_value& v) { e.labels.emplace_back(v.str); }},
    {{"pull_request.user", presence::optional, json_type::object}},
    {{"pull_request.user.login", presence::required, json_type::string},
     [](pull_request_event& e, const field_value& v) { e.user = v.str; }},
    FERRY_REPOSITORY_FIELDS(pull_request_event, presence::required, presence::required),
};

constexpr field_spec<status_event> k_status_specs[] = {
    {{"sha", presence::required, json_type::string},
     [](status_event& e, const field_value& v) { e.sha = v.str; }},
    {{"context", presence::required, json_type::string},
     [](status_event& e, const field_value& v) { e.context = v.str; }},
    {{"state", presence::required, json_type::string},
     [](status_event& e, const field_value& v) { e.state = v.str; }},
    // Required but nullable in the schema.
    {{"description", presence::optional, json_type::string},
     [](status_event& e, const field_value& v) { e.description = v.str; }},
    {{"target_url", presence::optional, json_type::string},
     [](status_event& e, const field_value& v) { e.target_url = v.str; }},
    FERRY_REPOSITORY_FIELDS(status_event, presence::required, presence::required),
};

constexpr field_spec<check_run_event> k_check_run_specs[] = {
    {{"action", presence::required, json_type::string}, &set_action<check_run_event>},
    {{"check_run", presence::required, json_type::object}},
    {{"check_run.head_sha", presence::required, json_type::string},
     [](check_run_event& e, const field_value& v) { e.head_sha = v.str; }},
    {{"check_run.name", presence::required, json_type::string},
     [](check_run_event& e, const field_value& v) { e.name = v.str; }},
    {{"check_run.status", presence::required, json_type::string},
     [](check_run_event& e, const field_value& v) { e.status = v.str; }},
    // Required but nullable in the schema: null until the run completes.
    {{"check_run.conclusion", presence::optional, json_type::string},
     [](check_run_event& e, const field_value& v) { e.conclusion = v.str; }},
    {{"check_run.html_url", presence::optional, json_type::string},
     [](check_run_event& e, const field_value& v) { e.html_url = v.str; }},
    FERRY_REPOSITORY_FIELDS(check_run_event, presence::required, presence::required),
};

constexpr field_spec<ping_event> k_ping_specs[] = {
    {{"zen", presence::optional, json_type::string},
     [](ping_event& e, const field_value& v) { e.zen = v.str; }},
    {{"hook_id", presence::optional, json_type::integer},
     [](ping_event& e, const field_value& v) { e.hook_id = v.i; }},
};

constexpr field_spec<installation_event> k_installation_specs[] = {
    {{"action", presence::required, json_type::string}, &set_action<installation_event>},
    {{"installation", presence::required, json_type::object}},
    {{"installation.id", presence::required, json_type::integer},
     &set_installation_id<installation_event>},
    // The account is a user or organization (login) or an enterprise (slug), and may be null.
    {{"installation.account", presence::optional, json_type::object}},
    {{"installation.account.login", presence::optional, json_type::string},
     [](installation_event& e, const field_value& v) { e.account = v.str; }},
    {{"installation.account.slug", presence::optional, json_type::string},
     [](installation_event& e, const field_value& v) {
       if (e.account.empty()) {
         e.account = v.str;
       }
     }},
};

#undef FERRY_PACKAGE_FIELDS
#undef FERRY_REPOSITORY_FIELDS

constexpr auto k_package = make_table(k_package_specs);
constexpr auto k_registry_package = make_table(k_registry_package_specs);
constexpr auto k_push = make_table(k_push_specs);
constexpr auto k_pull_request = make_table(k_pull_request_specs);
constexpr auto k_status = make_table(k_status_specs);
constexpr auto k_check_run = make_table(k_check_run_specs);
constexpr auto k_ping = make_table(k_ping_specs);
constexpr auto k_installation = make_table(k_installation_specs);

constexpr std::string_view k_typed_names[] = {
    "package",      "registry_package", "push",
    "pull_request", "status",           "check_run",
    "ping",         "installation",     "installation_repositories"};

template <typename T, std::size_t N>
ferry::result<event> parse_with(const table<T, N>& t, const element& root, T out) {
  if (auto e = apply_table(t, root, out)) {
    return std::move(*e);
  }
  return event{std::move(out)};
}

ferry::result<event> parse_root(std::string_view name, const element& root) {
  if (name == "package" || name == "registry_package") {
    if (!root.is_object()) {
      return type_error("body", json_type::object, root);
    }
    package_event e;
    e.source = name == "package" ? package_event::source_kind::package
                                 : package_event::source_kind::registry_package;
    return name == "package" ? parse_with(k_package, root, std::move(e))
                             : parse_with(k_registry_package, root, std::move(e));
  }
  const bool typed = name == "push" || name == "pull_request" || name == "status" ||
                     name == "check_run" || name == "ping" || name == "installation" ||
                     name == "installation_repositories";
  if (typed && !root.is_object()) {
    return type_error("body", json_type::object, root);
  }
  if (name == "push") {
    return parse_with(k_push, root, push_event{});
  }
  if (name == "pull_request") {
    return parse_with(k_pull_request, root, pull_request_event{});
  }
  if (name == "status") {
    return parse_with(k_status, root, status_event{});
  }
  if (name == "check_run") {
    return parse_with(k_check_run, root, check_run_event{});
  }
  if (name == "ping") {
    return parse_with(k_ping, root, ping_event{});
  }
  if (name == "installation" || name == "installation_repositories") {
    return parse_with(k_installation, root, installation_event{});
  }
  return event{other_event{std::string(name)}};
}

ferry::result<event> parse_with_parser(simdjson::dom::parser& parser, std::string_view name,
                                       std::string_view body) {
  // The DOM parser validates the whole document (on-demand would not look at unread parts),
  // so a body that is not JSON is refused whatever the event. simdjson needs SIMDJSON_PADDING
  // readable bytes after the input; a string_view promises none, so realloc_if_needed copies
  // the body into the parser's own padded buffer, which it keeps and reuses: one memcpy, no
  // allocation once warm (measured in test/bench/events_bench.cpp).
  auto doc = parser.parse(body.data(), body.size(), true);
  if (doc.error() != simdjson::SUCCESS) {
    std::string message = "body: malformed JSON (";
    message += simdjson::error_message(doc.error());
    message += ")";
    return make_error(error_kind::invalid_input, std::move(message));
  }
  return parse_root(name, doc.value_unsafe());
}

}  // namespace

const char* to_string(json_type t) noexcept {
  switch (t) {
    case json_type::string:
      return "string";
    case json_type::integer:
      return "integer";
    case json_type::boolean:
      return "boolean";
    case json_type::object:
      return "object";
    case json_type::array:
      return "array";
  }
  return "unknown";
}

std::span<const field_descriptor> fields_read(std::string_view event_name) noexcept {
  if (event_name == "package") {
    return k_package.descriptors;
  }
  if (event_name == "registry_package") {
    return k_registry_package.descriptors;
  }
  if (event_name == "push") {
    return k_push.descriptors;
  }
  if (event_name == "pull_request") {
    return k_pull_request.descriptors;
  }
  if (event_name == "status") {
    return k_status.descriptors;
  }
  if (event_name == "check_run") {
    return k_check_run.descriptors;
  }
  if (event_name == "ping") {
    return k_ping.descriptors;
  }
  if (event_name == "installation" || event_name == "installation_repositories") {
    return k_installation.descriptors;
  }
  return {};
}

std::span<const std::string_view> typed_event_names() noexcept {
  return k_typed_names;
}

ferry::result<event> parse_event(std::string_view event_name, std::string_view json_body) {
  try {
    if (json_body.size() > limits::k_event_parser_retained_max) {
      // A parser keeps the capacity of the largest document it has seen; a one-off parser for
      // a rare large body keeps a thread from holding hundreds of MB afterwards.
      auto parser = std::make_unique<simdjson::dom::parser>();
      return parse_with_parser(*parser, event_name, json_body);
    }
    thread_local simdjson::dom::parser parser;
    return parse_with_parser(parser, event_name, json_body);
  } catch (const std::exception& e) {
    // Only allocation can throw here (std::string, simdjson's buffers).
    return make_error(error_kind::internal, std::string("parsing the event failed: ") + e.what());
  }
}

bool is_attestation_tag(std::string_view tag) noexcept {
  constexpr std::string_view prefix = "sha256-";
  if (tag.size() != prefix.size() + 64 || !tag.starts_with(prefix)) {
    return false;
  }
  for (const char c : tag.substr(prefix.size())) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!hex) {
      return false;
    }
  }
  return true;
}

std::string image_reference(std::string_view registry_host, const package_event& e) {
  std::string out;
  out.reserve(registry_host.size() + e.owner.size() + e.name.size() + 2);
  const auto lower = [&out](std::string_view s) {
    for (const char c : s) {
      out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
  };
  lower(registry_host);
  out.push_back('/');
  lower(e.owner);
  out.push_back('/');
  lower(e.name);
  return out;
}

}  // namespace ferry::events
