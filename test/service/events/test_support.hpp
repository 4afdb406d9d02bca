#pragma once
// Shared by the events tests: reading fixtures and the npm contracts, and an independent JSON
// reader (Boost.JSON) to compare the simdjson parser against.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace ferry::events::test {

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path
                  << (path.string().find("node_modules") != std::string::npos
                          ? " (run `npm ci` in test/ to install the contracts)"
                          : "");
    return {};
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline std::filesystem::path fixture(std::string_view name) {
  return std::filesystem::path(FERRY_FIXTURES_DIR) / "github" / name;
}

inline std::filesystem::path node_module(std::string_view relative) {
  return std::filesystem::path(FERRY_NODE_MODULES_DIR) / relative;
}

// The value at a dot-separated path of object keys, or nullptr when any step is missing or not
// an object.
inline const boost::json::value* at_path(const boost::json::value& root, std::string_view path) {
  const boost::json::value* cur = &root;
  while (!path.empty()) {
    const auto dot = path.find('.');
    const std::string_view key = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
    const auto* obj = cur->if_object();
    if (obj == nullptr) {
      return nullptr;
    }
    cur = obj->if_contains(key);
    if (cur == nullptr) {
      return nullptr;
    }
  }
  return cur;
}

// The string at path, or "" when it is missing, null or not a string.
inline std::string str_at(const boost::json::value& root, std::string_view path) {
  const auto* v = at_path(root, path);
  if (v == nullptr || !v->is_string()) {
    return {};
  }
  return std::string(v->get_string());
}

inline std::string serialize(const boost::json::value& v) {
  return boost::json::serialize(v);
}

}  // namespace ferry::events::test
