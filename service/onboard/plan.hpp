#pragma once
// Internal to ferry_onboard: the decisions convert.cpp takes per service (plan.cpp), which
// manifests.cpp then writes out as YAML. Kept apart so each file stays one concern.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "service/onboard/compose.hpp"
#include "service/onboard/convert.hpp"

namespace ferry::onboard::detail {

struct probe_plan {
  bool http = false;
  int port = 0;
  std::string path;               // http
  std::vector<std::string> exec;  // not http
  int period = 30, timeout = 30, failure = 3, initial = 0;
};

enum class volume_source { pvc, empty_dir, memory, config_file, secret };

struct volume_plan {
  std::string name;  // the pod's volume name
  volume_source source = volume_source::empty_dir;
  std::string object;  // PVC, ConfigMap or Secret name
  std::string key;     // ConfigMap / Secret key (mounted with subPath)
  std::string mount_path;
  bool read_only = false;
};

struct service_plan {
  std::string compose_name;
  std::string name;   // DNS label: Deployment, Service, Ingress, NetworkPolicy
  std::string image;  // as the base writes it (repository:tag)
  std::string repository, tag;
  bool marked = false;  // ghcr.io image: overlay marker and rule
  std::vector<std::string> command, args;
  std::optional<std::string> working_dir;
  std::vector<port_spec> ports;  // deduplicated container ports, first one is the main one
  bool is_public = false;
  std::string host_label;  // <host_label>.<env domain>
  std::optional<probe_plan> probe;
  std::map<std::string, std::string> config;                   // ConfigMap <name>-config
  std::map<std::string, std::string> secret_keys;              // key -> why (Secret <name>-secrets)
  std::vector<std::pair<std::string, std::string>> templated;  // env: name, $(VAR) value
  bool env_file_secret = false;                                // Secret <name>-env from env_file
  std::vector<std::string> env_files;
  std::vector<volume_plan> volumes;
  std::map<std::string, std::string> config_files;  // key -> source path (ConfigMap <name>-files)
  int replicas = 1;
  bool replicas_explicit = false;
  bool has_pvc = false;
  resources res;
};

struct pvc_plan {
  std::string name;
  std::string size;
};

struct secret_plan {  // a compose top-level secret used by a service
  std::string name;
  std::string key;
  std::string source;  // file or environment it came from, for the stub's comment
};

struct app_plan {
  std::string org;
  std::string domain;
  std::vector<service_plan> services;  // sorted by name
  std::vector<pvc_plan> pvcs;          // sorted by name
  std::vector<secret_plan> secrets;    // sorted by name
};

// Turns each service into its plan, appending the log lines; errors are invalid_input.
result<app_plan> plan_app(const compose_file& compose, const options& opts,
                          std::vector<std::string>& log);

// Writes the base and overlays of a plan.
std::vector<output_file> write_manifests(const app_plan& plan, const options& opts,
                                         std::vector<std::string>& log);

bool secret_looking(std::string_view name);

}  // namespace ferry::onboard::detail
