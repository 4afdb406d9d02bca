#pragma once
// The docker-compose.yml reader of `ferry onboard`: the Compose specification's service keys
// (github.com/compose-spec/compose-spec, spec.md "Services top-level elements") read into typed
// structs, with every key either converted, ignored with a note, or refused with an error that
// names the service and the key. Pure: text in, structs out; yaml-cpp's exceptions stop here.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/limits.hpp"
#include "service/result.hpp"

namespace ferry::onboard {

// The reader's bounds live with every other limit (service/limits.hpp).
using limits::k_compose_file_max;
using limits::k_compose_nodes_max;
using limits::k_compose_services_max;

struct port_spec {
  int target = 0;                // the container port
  std::optional<int> published;  // the host port (compose only; not carried over)
  std::string protocol = "TCP";  // TCP or UDP (upper-case, Kubernetes spelling)
  std::string name;              // long syntax `name:`, else empty
};

enum class health_form { cmd, shell, none };

struct healthcheck {
  health_form form = health_form::cmd;
  std::vector<std::string> argv;  // form cmd: the command; form shell: empty
  std::string shell;              // form shell: the command line ($$ already turned into $)
  std::optional<int> interval_s, timeout_s, retries, start_period_s;
  bool disabled = false;  // disable: true or test: ["NONE"]
};

enum class mount_kind { named, anonymous, bind, tmpfs };

struct mount {
  mount_kind kind = mount_kind::named;
  std::string source;  // volume name or host path; empty for anonymous and tmpfs
  std::string target;  // the container path
  bool read_only = false;
};

struct env_entry {
  std::string name;
  std::optional<std::string> value;  // nullopt: no value in the file (taken from the shell)
};

struct secret_use {
  std::string source;  // the top-level secret's name
  std::string target;  // the file name under /run/secrets, or an absolute path
};

// `x-ferry:` on a service: overrides of what the converter would detect.
struct x_ferry {
  std::optional<int> port;
  std::optional<bool> is_public;
  std::optional<std::string> host;
  std::optional<bool> skip;
  std::optional<std::string> size;  // a Kubernetes quantity, e.g. 20Gi
  std::optional<int> replicas;
};

struct resources {
  std::string cpu_limit, memory_limit, cpu_request, memory_request;  // Kubernetes quantities
};

struct note {
  std::string service;  // empty: the file
  std::string key;
  std::string text;
};

struct service {
  std::string name;
  int line = 0;  // 1-based line of the service's key
  std::optional<std::string> image;
  std::optional<std::string> build_context;  // `build:` given
  std::vector<std::string> command;          // argv; a string command is split on blanks
  std::vector<std::string> entrypoint;
  std::optional<std::string> working_dir;
  std::vector<port_spec> ports;
  std::vector<int> expose;
  std::optional<healthcheck> health;
  std::vector<env_entry> environment;  // file order
  std::vector<std::string> env_files;
  std::vector<secret_use> secrets;
  std::vector<mount> volumes;
  std::vector<std::string> networks;
  std::vector<std::string> profiles;
  std::optional<int> replicas;
  resources limits;
  x_ferry overrides;
};

struct named_volume {
  std::string name;
  bool external = false;
};

struct top_secret {
  std::string name;
  std::string file;         // `file:`
  std::string environment;  // `environment:`
  bool external = false;
};

struct compose_file {
  std::vector<service> services;  // sorted by name (deterministic output)
  std::vector<named_volume> volumes;
  std::vector<top_secret> secrets;
  std::vector<note> ignored;  // keys read and deliberately not carried over, in file order
};

// Reads a compose file. Errors (error_kind::invalid_input) name the service and key:
// "services.web.ports[1]: ...". Refuses: more than k_compose_file_max bytes, not YAML, not a
// mapping, no `services` mapping, more than k_compose_nodes_max nodes after alias expansion,
// unknown keys (a typo must not be dropped silently) and features with no Kubernetes
// equivalent the conversion could keep (network_mode: host, extends, ...).
result<compose_file> read_compose(std::string_view text);

// A compose duration ("1m30s", "10s", "500ms", "2h") in whole seconds, rounded up; nullopt when
// the text is not a duration.
std::optional<int> parse_duration_seconds(std::string_view text);

// A compose byte value ("512m", "1gb", "1024k", "2048") as a Kubernetes quantity ("512Mi").
std::optional<std::string> memory_quantity(std::string_view text);
// A compose cpus value ("0.5", "2") as a Kubernetes quantity ("500m", "2").
std::optional<std::string> cpu_quantity(std::string_view text);

}  // namespace ferry::onboard
