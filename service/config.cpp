#include "service/config.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "service/text.hpp"

namespace ferry::service {
namespace {

// Every variable SPEC's configuration table names. Anything else starting with FERRY_ is a typo.
constexpr std::array<std::string_view, 21> k_known = {
    "FERRY_LISTEN",
    "FERRY_HEALTH_LISTEN",
    "FERRY_WEBHOOK_SECRET",
    "FERRY_WEBHOOK_SECRET_FILE",
    "FERRY_APP_ID",
    "FERRY_PRIVATE_KEY_FILE",
    "FERRY_GITHUB_API_URL",
    "FERRY_GITHUB_GRAPHQL_URL",
    "FERRY_REGISTRY_HOST",
    "FERRY_INFRA_REPOS",
    "FERRY_RULES_PATH",
    "FERRY_CACHE_DIR",
    "FERRY_APPLY_NAMESPACES",
    "FERRY_APPLY_SERVICE_ACCOUNTS",
    "FERRY_KUBE_API_URL",
    "FERRY_KUBE_TOKEN_FILE",
    "FERRY_KUBE_CA_FILE",
    "FERRY_LOG_FORMAT",
    "FERRY_LOG_LEVEL",
    "FERRY_GITHUB_WRITES_PER_MINUTE",
    "FERRY_GITHUB_WRITES_PER_HOUR",
};

bool all_of_chars(std::string_view s, bool (*pred)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), pred);
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_env_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}
bool is_ip_char(char c) {
  return is_digit(c) || c == '.' || c == ':' || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_port(std::string_view s) {
  return s.size() <= 5 && all_of_chars(s, is_digit);
}
bool is_ip(std::string_view s) {
  return all_of_chars(s, is_ip_char);
}
bool is_protocol(std::string_view s) {
  return s == "tcp" || s == "udp" || s == "sctp";
}

// `tcp://10.43.0.10:80` (or udp/sctp; an IPv6 host is bracketed).
bool is_link_url(std::string_view v) {
  const auto scheme = v.find("://");
  const auto colon = v.rfind(':');
  if (scheme == std::string_view::npos || colon <= scheme + 3) {
    return false;
  }
  auto host = v.substr(scheme + 3, colon - scheme - 3);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return is_protocol(v.substr(0, scheme)) && is_ip(host) && is_port(v.substr(colon + 1));
}

// The variables the kubelet injects into every pod for each Service of its namespace
// (`enableServiceLinks`, on by default): a Service named `ferry` yields FERRY_SERVICE_HOST,
// FERRY_SERVICE_PORT, FERRY_SERVICE_PORT_<PORT NAME>, FERRY_PORT, FERRY_PORT_<N>_<PROTO> and its
// _PROTO, _PORT and _ADDR (Kubernetes pkg/kubelet/envvars, "Discovering services" in the
// Kubernetes docs); a Service `ferry-metrics` yields FERRY_METRICS_SERVICE_HOST and so on. A name
// counts as one only when its value has the shape the kubelet writes, so `FERRY_PORT=8080` (a
// typo for FERRY_LISTEN) is still refused.
bool is_service_link(std::string_view name, std::string_view value) {
  if (!all_of_chars(name, is_env_name_char)) {
    return false;
  }
  if (name.ends_with("_SERVICE_HOST")) {
    return is_ip(value);
  }
  if (const auto at = name.rfind("_SERVICE_PORT"); at != std::string_view::npos && at > 0) {
    const auto rest = name.substr(at + std::string_view("_SERVICE_PORT").size());
    return (rest.empty() || rest.starts_with('_')) && is_port(value);
  }
  if (name.ends_with("_PORT") && is_link_url(value)) {
    return true;
  }
  // <NAME>_PORT_<N>_<PROTO>[_PROTO|_PORT|_ADDR]
  for (std::size_t at = name.find("_PORT_"); at != std::string_view::npos;
       at = name.find("_PORT_", at + 1)) {
    auto rest = name.substr(at + 6);
    const auto us = rest.find('_');
    if (us == std::string_view::npos || !is_port(rest.substr(0, us))) {
      continue;
    }
    rest.remove_prefix(us + 1);
    for (std::string_view proto : {"TCP", "UDP", "SCTP"}) {
      if (rest == proto) {
        return is_link_url(value);
      }
      if (rest.starts_with(proto) && rest.size() > proto.size() && rest[proto.size()] == '_') {
        const auto field = rest.substr(proto.size() + 1);
        return (field == "PROTO" && is_protocol(value)) || (field == "PORT" && is_port(value)) ||
               (field == "ADDR" && is_ip(value));
      }
    }
  }
  return false;
}

// Levenshtein distance, for the "did you mean" hint on a mistyped variable.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const auto above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string unknown_variable_message(const std::string& name) {
  std::string message = name + ": unknown variable";
  std::string_view best;
  std::size_t best_distance = 4;  // more than 3 edits away is not a typo of that name
  for (std::string_view known : k_known) {
    if (const auto d = edit_distance(name, known); d < best_distance) {
      best_distance = d;
      best = known;
    }
  }
  if (!best.empty()) {
    message += " (did you mean " + std::string(best) + "?)";
  }
  return message + " (see `ferry serve --help` for the list)";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto item = trim(text.substr(0, comma));
    if (!item.empty()) {
      out.emplace_back(item);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    text.remove_prefix(comma + 1);
  }
  return out;
}

bool is_url(std::string_view s) {
  return (s.starts_with("https://") || s.starts_with("http://")) &&
         s.find_first_of(" \t\r\n") == std::string_view::npos && s.size() > 8;
}

}  // namespace

std::span<const std::string_view> known_variables() {
  return k_known;
}

std::string derive_graphql_url(const std::string& api_url) {
  std::string base = api_url;
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  constexpr std::string_view ghes_suffix = "/api/v3";
  if (base.size() > ghes_suffix.size() && base.ends_with(ghes_suffix)) {
    return base.substr(0, base.size() - ghes_suffix.size()) + "/api/graphql";
  }
  return base + "/graphql";
}

result<std::string> read_whole_file(const std::string& path, std::size_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(error_kind::invalid_input, path + ": cannot be read");
  }
  std::string out;
  std::array<char, 16384> chunk{};
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    out.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
    if (out.size() > max) {
      return make_error(error_kind::invalid_input,
                        path + ": larger than " + std::to_string(max) + " bytes");
    }
  }
  if (in.bad()) {
    return make_error(error_kind::invalid_input, path + ": read failed");
  }
  return out;
}

result<settings> load_settings(const environment& env, const file_reader& read_file) {
  settings s;
  std::vector<std::string> problems;
  auto get = [&env](const char* name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) {
      return std::nullopt;
    }
    return it->second;
  };

  for (const auto& [name, value] : env) {
    if (name.starts_with("FERRY_") &&
        std::find(k_known.begin(), k_known.end(), std::string_view(name)) == k_known.end() &&
        !is_service_link(name, value)) {
      problems.push_back(unknown_variable_message(name));
    }
  }

  // address:port, [v6]:port accepted; nullopt (and a problem) when malformed.
  const auto listen_address =
      [&](const char* name, const std::string& v,
          const char* example) -> std::optional<std::pair<std::string, std::uint16_t>> {
    const auto colon = v.rfind(':');
    std::uint16_t port = 0;
    const char* first = v.data() + (colon == std::string::npos ? 0 : colon + 1);
    const char* last = v.data() + v.size();
    const auto [ptr, ec] = std::from_chars(first, last, port);
    if (colon == std::string::npos || colon == 0 || ec != std::errc{} || ptr != last) {
      problems.push_back(std::string(name) + ": expected address:port (for example " + example +
                         "), got '" + v + "'");
      return std::nullopt;
    }
    std::string host = v.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    return std::pair{std::move(host), port};
  };
  if (auto v = get("FERRY_LISTEN")) {
    if (auto a = listen_address("FERRY_LISTEN", *v, "0.0.0.0:8080")) {
      s.listen_host = std::move(a->first);
      s.listen_port = a->second;
    }
  }
  if (auto v = get("FERRY_HEALTH_LISTEN")) {
    s.health_listen = listen_address("FERRY_HEALTH_LISTEN", *v, "0.0.0.0:8081");
  }

  // A secret comes from the variable or from the file the _FILE variant names, not both.
  auto secret = [&](const char* name, const char* file_name, std::string& out) {
    const auto direct = get(name);
    const auto file = get(file_name);
    if (direct && file) {
      problems.push_back(std::string(name) + " and " + file_name + ": set only one");
    } else if (direct) {
      out = *direct;
    } else if (file) {
      auto content = read_file(*file);
      if (!content) {
        problems.push_back(std::string(file_name) + ": " + content.error().message);
      } else {
        out = std::string(trim(*content));
      }
    }
    if (out.empty() && !(direct && file)) {
      problems.push_back(std::string(name) + " (or " + file_name + "): required");
    }
  };
  secret("FERRY_WEBHOOK_SECRET", "FERRY_WEBHOOK_SECRET_FILE", s.webhook_secret);

  if (auto v = get("FERRY_APP_ID"); v && !trim(*v).empty()) {
    s.app_id = std::string(trim(*v));
  } else {
    problems.push_back("FERRY_APP_ID: required (the GitHub App's client ID or app id)");
  }
  if (auto v = get("FERRY_PRIVATE_KEY_FILE"); v && !v->empty()) {
    s.private_key_file = *v;
    auto pem = read_file(*v);
    if (!pem) {
      problems.push_back("FERRY_PRIVATE_KEY_FILE: " + pem.error().message);
    } else if (pem->find("-----BEGIN") == std::string::npos) {
      problems.push_back("FERRY_PRIVATE_KEY_FILE: " + *v + " is not a PEM private key");
    } else {
      s.private_key_pem = std::move(*pem);
    }
  } else {
    problems.push_back("FERRY_PRIVATE_KEY_FILE: required (the App's PEM private key)");
  }

  if (auto v = get("FERRY_GITHUB_API_URL")) {
    if (!is_url(*v)) {
      problems.push_back("FERRY_GITHUB_API_URL: expected an http(s) URL, got '" + *v + "'");
    } else {
      s.github_api_url = *v;
      while (s.github_api_url.ends_with('/')) {
        s.github_api_url.pop_back();
      }
    }
  }
  if (auto v = get("FERRY_GITHUB_GRAPHQL_URL")) {
    if (!is_url(*v)) {
      problems.push_back("FERRY_GITHUB_GRAPHQL_URL: expected an http(s) URL, got '" + *v + "'");
    } else {
      s.github_graphql_url = *v;
    }
  }
  if (s.github_graphql_url.empty()) {
    s.github_graphql_url = derive_graphql_url(s.github_api_url);
  }
  // The write budget per installation (service/github/write_budget.hpp): whole numbers from 1.
  const auto writes = [&](const char* name, int& out) {
    const auto v = get(name);
    if (!v) {
      return;
    }
    const std::string_view t = trim(*v);
    int n = 0;
    const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    if (t.empty() || ec != std::errc{} || ptr != t.data() + t.size() || n < 1 ||
        n > limits::k_github_writes_setting_max) {
      problems.push_back(std::string(name) + ": expected a whole number from 1 to " +
                         std::to_string(limits::k_github_writes_setting_max) + ", got '" + *v +
                         "'");
      return;
    }
    out = n;
  };
  writes("FERRY_GITHUB_WRITES_PER_MINUTE", s.github_writes_per_minute);
  writes("FERRY_GITHUB_WRITES_PER_HOUR", s.github_writes_per_hour);
  if (auto v = get("FERRY_REGISTRY_HOST")) {
    std::string host(trim(*v));
    std::transform(host.begin(), host.end(), host.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (host.empty() || host.find_first_of("/ ") != std::string::npos) {
      problems.push_back("FERRY_REGISTRY_HOST: expected a host name such as ghcr.io, got '" + *v +
                         "'");
    } else {
      s.registry_host = host;
    }
  }

  if (auto v = get("FERRY_INFRA_REPOS")) {
    for (const auto& item : split_list(*v)) {
      const auto slash = item.find('/');
      if (slash == std::string::npos || !text::is_github_owner(item.substr(0, slash)) ||
          !text::is_github_repo_name(item.substr(slash + 1))) {
        problems.push_back("FERRY_INFRA_REPOS: '" + item + "' is not owner/name");
      } else {
        s.infra_repos.push_back({item.substr(0, slash), item.substr(slash + 1)});
      }
    }
  }
  if (s.infra_repos.empty()) {
    problems.push_back("FERRY_INFRA_REPOS: required (comma-separated owner/name list)");
  }

  if (auto v = get("FERRY_RULES_PATH")) {
    const auto path = trim(*v);
    if (path.empty() || path.front() == '/' || path.find("..") != std::string_view::npos) {
      problems.push_back("FERRY_RULES_PATH: expected a path inside the repository, got '" + *v +
                         "'");
    } else {
      s.rules_path = std::string(path);
    }
  }
  if (auto v = get("FERRY_CACHE_DIR"); v && !v->empty()) {
    s.cache_dir = *v;
  }
  auto list = [&](const char* name, std::vector<std::string>& out) {
    if (auto v = get(name)) {
      out = split_list(*v);
      if (out.empty()) {
        problems.push_back(std::string(name) + ": must name at least one value");
      }
    }
  };
  list("FERRY_APPLY_NAMESPACES", s.apply_namespaces);
  list("FERRY_APPLY_SERVICE_ACCOUNTS", s.apply_service_accounts);

  if (auto v = get("FERRY_KUBE_API_URL")) {
    if (!is_url(*v)) {
      problems.push_back("FERRY_KUBE_API_URL: expected an http(s) URL, got '" + *v + "'");
    } else {
      s.kube_api_url = *v;
    }
  }
  if (auto v = get("FERRY_KUBE_TOKEN_FILE")) {
    s.kube_token_file = *v;
  }
  if (auto v = get("FERRY_KUBE_CA_FILE")) {
    s.kube_ca_file = *v;
  }
  if (auto v = get("FERRY_LOG_LEVEL"); v && !log::parse_level(*v, s.log_level)) {
    problems.push_back("FERRY_LOG_LEVEL: expected debug, info, warn or error, got '" + *v + "'");
  }
  if (auto v = get("FERRY_LOG_FORMAT"); v && !log::parse_format(*v, s.log_format)) {
    problems.push_back("FERRY_LOG_FORMAT: expected json or text, got '" + *v + "'");
  }

  if (!problems.empty()) {
    std::string message;
    for (const auto& p : problems) {
      if (!message.empty()) {
        message += '\n';
      }
      message += p;
    }
    return make_error(error_kind::invalid_input, std::move(message));
  }
  return s;
}

}  // namespace ferry::service
