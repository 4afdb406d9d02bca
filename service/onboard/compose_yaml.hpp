#pragma once
// Internal to ferry_onboard: the helpers the compose reader's files share. They throw
// compose_error, which read_compose (the module's edge) turns into an error value.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "service/onboard/compose.hpp"

namespace ferry::onboard::detail {

struct compose_error {
  std::string message;
};

[[noreturn]] void fail(const std::string& where, const std::string& what);

std::string scalar(const YAML::Node& n, const std::string& where);
std::optional<int> to_int(std::string_view s);
int integer(const YAML::Node& n, const std::string& where, int lo, int hi);
bool boolean(const YAML::Node& n, const std::string& where);
std::vector<std::string> string_list(const YAML::Node& n, const std::string& where);
std::vector<std::string> command_argv(const YAML::Node& n, const std::string& where);
// Mapping entries in file order, merge keys (<<) resolved.
std::vector<std::pair<std::string, YAML::Node>> entries(const YAML::Node& map,
                                                        const std::string& where);

// Compose-only keys with the reason the log gives, and refused keys with why.
const std::map<std::string_view, std::string_view>& ignored_keys();
const std::map<std::string_view, std::string_view>& refused_keys();

void parse_port_range(std::string_view s, const std::string& where, std::vector<int>& out);
void read_ports(const YAML::Node& n, const std::string& where, service& s);
healthcheck read_health(const YAML::Node& n, const std::string& where);
void read_environment(const YAML::Node& n, const std::string& where, service& s);
void read_volumes(const YAML::Node& n, const std::string& where, service& s);
void read_deploy(const YAML::Node& n, const std::string& where, service& s,
                 std::vector<note>& notes);
void read_x_ferry(const YAML::Node& n, const std::string& where, service& s);

}  // namespace ferry::onboard::detail
