#pragma once
// Small helpers the kube-real tests share: reading JSON objects, kustomize's YAML as JSON, and
// where the API server serves a kind (discovery).

#include <yaml-cpp/yaml.h>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include <initializer_list>
#include <optional>
#include <regex>
#include <string>
#include <string_view>

#include "test/kube-real/kube_apiserver.hpp"

namespace ferry::test::kube_objects {

namespace json = boost::json;

inline std::string str(const json::value* v) {
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}
inline std::string str(const json::value& v) {
  return str(&v);
}
// The value at a path of object keys ("metadata", "name"), or nullptr.
inline const json::value* at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto key : path) {
    if (!cur->is_object()) {
      return nullptr;
    }
    cur = cur->as_object().if_contains(key);
    if (cur == nullptr) {
      return nullptr;
    }
  }
  return cur;
}

// YAML (kustomize's output) to JSON with the YAML 1.2 core schema: quoted scalars are strings;
// plain ones are null, booleans, integers or floats when they read as such, else strings.
inline json::value to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json::object o;
      for (const auto& kv : n) {
        o[kv.first.as<std::string>()] = to_json(kv.second);
      }
      return o;
    }
    case YAML::NodeType::Sequence: {
      json::array a;
      for (const auto& item : n) {
        a.push_back(to_json(item));
      }
      return a;
    }
    case YAML::NodeType::Scalar: {
      const std::string s = n.Scalar();
      if (n.Tag() != "?") {  // "!" for quoted scalars, or an explicit tag: a string
        return json::value(s);
      }
      static const std::regex k_int(R"(^[-+]?[0-9]+$)");
      static const std::regex k_float(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
      if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) {
        return nullptr;
      }
      if (s == "true" || s == "True" || s == "TRUE") {
        return true;
      }
      if (s == "false" || s == "False" || s == "FALSE") {
        return false;
      }
      if (std::regex_match(s, k_int)) {
        return std::stoll(s);
      }
      if (std::regex_match(s, k_float)) {
        return std::stod(s);
      }
      return json::value(s);
    }
    default:
      return nullptr;
  }
}

// Where the API server serves a kind: its resource name and whether it is namespaced, from
// discovery (GET /api/v1, /apis/GROUP/VERSION). Empty when the group/version or kind is not served.
struct served_kind {
  std::string resource;
  bool namespaced = false;
};

inline std::string group_version_path(const std::string& api_version) {
  return api_version.find('/') == std::string::npos ? "/api/" + api_version
                                                    : "/apis/" + api_version;
}

inline std::optional<served_kind> discover(const ferry::test::kube_apiserver& api,
                                           const std::string& api_version,
                                           const std::string& kind) {
  const auto r = api.request(boost::beast::http::verb::get, group_version_path(api_version));
  if (r.status != 200) {
    return std::nullopt;
  }
  const auto list = json::parse(r.body);  // kept: a temporary would die before the loop body
  for (const auto& res : list.as_object().at("resources").as_array()) {
    const auto name = str(at(res, {"name"}));
    if (str(at(res, {"kind"})) == kind && name.find('/') == std::string::npos) {
      return served_kind{name, at(res, {"namespaced"})->as_bool()};
    }
  }
  return std::nullopt;
}

inline std::string object_path(const std::string& api_version, const served_kind& k,
                               const std::string& ns, const std::string& name) {
  return group_version_path(api_version) + (k.namespaced ? "/namespaces/" + ns : "") + "/" +
         k.resource + "/" + name;
}

}  // namespace ferry::test::kube_objects
