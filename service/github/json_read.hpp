#pragma once
// The small readers service/github's parsers share (objects.cpp for REST answers, graphql.cpp
// for GraphQL answers): a member by path, text/number/bool with absent-or-null as empty, and a
// parse that turns "not JSON" into a transient error naming the call. Internal to the folder.

#include <simdjson.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "service/result.hpp"

namespace ferry::github::json_read {

using element = simdjson::dom::element;

inline error broken(std::string_view what, std::string_view detail) {
  return make_error(error_kind::transient, std::string(what) + ": " + std::string(detail));
}

// The member at `path` (object keys), or nullopt when a step is missing or not an object.
inline std::optional<element> at(element v, std::initializer_list<std::string_view> path) {
  for (const auto key : path) {
    simdjson::dom::object o;
    if (v.get(o) != simdjson::SUCCESS || o.at_key(key).get(v) != simdjson::SUCCESS) {
      return std::nullopt;
    }
  }
  return v;
}

// Absent, null or not a string -> "".
inline std::string text(element v, std::initializer_list<std::string_view> path) {
  std::string_view s;
  if (auto x = at(v, path); x && x->get(s) == simdjson::SUCCESS) {
    return std::string(s);
  }
  return {};
}

inline std::int64_t integer(element v, std::initializer_list<std::string_view> path) {
  std::int64_t n = 0;
  if (auto x = at(v, path); x && x->get(n) == simdjson::SUCCESS) {
    return n;
  }
  return 0;
}

inline bool boolean(element v, std::initializer_list<std::string_view> path) {
  bool b = false;
  if (auto x = at(v, path); x && x->get(b) == simdjson::SUCCESS) {
    return b;
  }
  return false;
}

// GitHub writes commit ids in lower case; anything else in an answer is broken.
inline bool is_sha(std::string_view s) {
  return s.size() == 40 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// Parses `json` and hands its root to `read`, which returns the view.
template <typename Read>
auto parse_with(std::string_view json, std::string_view what, Read read)
    -> decltype(read(std::declval<element>())) {
  simdjson::dom::parser parser;
  element root;
  // The string_view overload copies into a padded buffer (simdjson's realloc_if_needed).
  if (parser.parse(json.data(), json.size(), true).get(root) != simdjson::SUCCESS) {
    return broken(what, "the answer is not JSON");
  }
  return read(root);
}

// An answer that must be an array; `item` turns each entry into a T (nullopt: left out).
template <typename T, typename Item>
result<std::vector<T>> parse_list(std::string_view json, std::string_view what, Item item) {
  return parse_with(json, what, [&](element root) -> result<std::vector<T>> {
    simdjson::dom::array a;
    if (root.get(a) != simdjson::SUCCESS) {
      return broken(what, "the answer is not an array");
    }
    std::vector<T> out;
    out.reserve(a.size());
    for (const element e : a) {
      if (std::optional<T> v = item(e)) {
        out.push_back(std::move(*v));
      }
    }
    return out;
  });
}

inline std::vector<std::string> names(element v, std::string_view list, std::string_view key) {
  std::vector<std::string> out;
  simdjson::dom::array a;
  if (auto x = at(v, {list}); x && x->get(a) == simdjson::SUCCESS) {
    for (const element item : a) {
      if (std::string s = text(item, {key}); !s.empty()) {
        out.push_back(std::move(s));
      }
    }
  }
  return out;
}

}  // namespace ferry::github::json_read
