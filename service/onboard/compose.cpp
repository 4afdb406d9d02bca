#include "service/onboard/compose.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <sstream>
#include <unordered_map>
#include <utility>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "service/onboard/compose_yaml.hpp"
#include "service/rules/yaml_documents.hpp"

namespace ferry::onboard {
namespace {

using namespace detail;
// size of what its anchor names.
class node_counter final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { leaf(anchor); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    leaf(anchor);
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t anchor) override {
    const auto it = sizes_.find(anchor);
    add(it == sizes_.end() ? 1 : it->second);
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  void add(std::size_t n) {
    total_ += n;
    if (total_ > k_compose_nodes_max) {
      throw compose_error{"the file expands to more than " + std::to_string(k_compose_nodes_max) +
                          " YAML nodes (an alias bomb?); a compose file is a few thousand"};
    }
  }
  void leaf(YAML::anchor_t anchor) {
    add(1);
    if (anchor != 0) {
      sizes_[anchor] = 1;
    }
  }
  void open(YAML::anchor_t anchor) {
    add(1);
    stack_.emplace_back(anchor, total_ - 1);
  }
  void close() {
    const auto [anchor, start] = stack_.back();
    stack_.pop_back();
    if (anchor != 0) {
      sizes_[anchor] = total_ - start;
    }
  }

  std::size_t total_ = 0;
  std::vector<std::pair<YAML::anchor_t, std::size_t>> stack_;
  std::unordered_map<YAML::anchor_t, std::size_t> sizes_;
};

service read_service(const std::string& name, const YAML::Node& n, std::vector<note>& notes) {
  const auto where = "services." + name;
  service s;
  s.name = name;
  s.line = n.Mark().line + 1;
  if (n.IsNull()) {
    fail(where, "a service needs image or build");
  }
  for (const auto& [k, v] : entries(n, where)) {
    const auto at = where + "." + k;
    if (k == "image") {
      s.image = scalar(v, at);
    } else if (k == "build") {
      s.build_context = v.IsScalar() ? v.Scalar() : ".";
      if (v.IsMap()) {
        for (const auto& [bk, bv] : entries(v, at)) {
          if (bk == "context") {
            s.build_context = scalar(bv, at + ".context");
          }
        }
      }
    } else if (k == "command") {
      s.command = command_argv(v, at);
    } else if (k == "entrypoint") {
      s.entrypoint = command_argv(v, at);
    } else if (k == "working_dir") {
      s.working_dir = scalar(v, at);
    } else if (k == "ports") {
      read_ports(v, at, s);
    } else if (k == "expose") {
      const auto list = string_list(v, at);
      for (std::size_t i = 0; i < list.size(); ++i) {
        auto text = list[i].substr(0, list[i].find('/'));
        parse_port_range(text, at + "[" + std::to_string(i) + "]", s.expose);
      }
    } else if (k == "healthcheck") {
      s.health = read_health(v, at);
    } else if (k == "environment") {
      read_environment(v, at, s);
    } else if (k == "env_file") {
      if (v.IsSequence()) {
        std::size_t i = 0;
        for (const auto& e : v) {
          const auto eat = at + "[" + std::to_string(i++) + "]";
          s.env_files.push_back(e.IsMap() ? scalar(e["path"], eat + ".path") : scalar(e, eat));
        }
      } else {
        s.env_files.push_back(scalar(v, at));
      }
    } else if (k == "secrets") {
      if (!v.IsSequence()) {
        fail(at, "expected a list of secrets");
      }
      std::size_t i = 0;
      for (const auto& e : v) {
        const auto eat = at + "[" + std::to_string(i++) + "]";
        secret_use u;
        if (e.IsMap()) {
          u.source = scalar(e["source"], eat + ".source");
          u.target = e["target"] ? scalar(e["target"], eat + ".target") : u.source;
        } else {
          u.source = u.target = scalar(e, eat);
        }
        s.secrets.push_back(std::move(u));
      }
    } else if (k == "volumes") {
      read_volumes(v, at, s);
    } else if (k == "tmpfs") {
      for (const auto& t : string_list(v, at)) {
        s.volumes.push_back({mount_kind::tmpfs, "", t.substr(0, t.find(':')), false});
      }
    } else if (k == "networks") {
      if (v.IsMap()) {
        for (const auto& kv : v) {
          s.networks.push_back(scalar(kv.first, at));
        }
      } else {
        s.networks = string_list(v, at);
      }
    } else if (k == "profiles") {
      s.profiles = string_list(v, at);
    } else if (k == "deploy") {
      read_deploy(v, at, s, notes);
    } else if (k == "scale") {
      s.replicas = integer(v, at, 0, 1000);
    } else if (k == "mem_limit" || k == "mem_reservation") {
      const auto q = memory_quantity(scalar(v, at));
      if (!q) {
        fail(at, "\"" + scalar(v, at) + "\" is not a byte value (e.g. 512m, 1g)");
      }
      (k == "mem_limit" ? s.limits.memory_limit : s.limits.memory_request) = *q;
    } else if (k == "cpus") {
      const auto q = cpu_quantity(scalar(v, at));
      if (!q) {
        fail(at, "\"" + scalar(v, at) + "\" is not a number of CPUs");
      }
      s.limits.cpu_limit = *q;
    } else if (k == "network_mode" || k == "pid" || k == "ipc") {
      const auto mode = scalar(v, at);
      if (!(k == "network_mode" && (mode == "bridge" || mode == "default")) &&
          !(k == "ipc" && (mode == "private" || mode == "shareable"))) {
        fail(at, "\"" + mode +
                     "\" shares the host's or another container's namespace; a pod "
                     "cannot (remove it, or skip the service with x-ferry.skip: true)");
      }
      notes.push_back({name, k, "the pod's own namespace is the default"});
    } else if (k == "privileged") {
      if (boolean(v, at)) {
        fail(at,
             "privileged containers are not converted (skip the service with "
             "x-ferry.skip: true, or write its manifest by hand)");
      }
    } else if (k == "x-ferry") {
      read_x_ferry(v, at, s);
    } else if (k.starts_with("x-")) {
      notes.push_back({name, k, "extension field, not read"});
    } else if (const auto r = refused_keys().find(k); r != refused_keys().end()) {
      fail(at, "not supported: " + std::string(r->second));
    } else if (const auto ig = ignored_keys().find(k); ig != ignored_keys().end()) {
      notes.push_back({name, k, std::string(ig->second)});
    } else {
      fail(at, "unknown key (not in the Compose specification)");
    }
  }
  if (!s.image && !s.build_context) {
    fail(where, "a service needs image or build");
  }
  return s;
}

compose_file read_root(const YAML::Node& root) {
  if (!root.IsMap()) {
    throw compose_error{"not a compose file: the top level must be a mapping with services"};
  }
  compose_file out;
  bool have_services = false;
  for (const auto& [k, v] : entries(root, "(top level)")) {
    if (k == "services") {
      have_services = true;
      if (!v.IsMap()) {
        fail("services", "expected a mapping of service names to services");
      }
      if (v.size() > k_compose_services_max) {
        fail("services", "more than " + std::to_string(k_compose_services_max) + " services");
      }
      for (const auto& [name, body] : entries(v, "services")) {
        if (name.empty()) {
          fail("services", "a service needs a name");
        }
        out.services.push_back(read_service(name, body, out.ignored));
      }
    } else if (k == "volumes") {
      if (v.IsNull()) {
        continue;
      }
      for (const auto& [name, body] : entries(v, "volumes")) {
        named_volume nv{name, false};
        if (body.IsMap() && body["external"]) {
          nv.external = body["external"].IsMap() || boolean(body["external"], "volumes." + name);
        }
        out.volumes.push_back(std::move(nv));
      }
    } else if (k == "secrets") {
      for (const auto& [name, body] : entries(v, "secrets")) {
        top_secret ts{name, "", "", false};
        for (const auto& [sk, sv] : entries(body, "secrets." + name)) {
          if (sk == "file") {
            ts.file = scalar(sv, "secrets." + name + ".file");
          } else if (sk == "environment") {
            ts.environment = scalar(sv, "secrets." + name + ".environment");
          } else if (sk == "external") {
            ts.external = sv.IsMap() || boolean(sv, "secrets." + name + ".external");
          }
        }
        out.secrets.push_back(std::move(ts));
      }
    } else if (k == "version") {
      out.ignored.push_back({"", k, "obsolete in the Compose specification"});
    } else if (k == "name" || k == "networks" || k == "configs" || k.starts_with("x-")) {
      out.ignored.push_back(
          {"", k,
           k.starts_with("x-") ? "extension field (anchors only)" : "not needed in a cluster"});
    } else if (k == "include") {
      fail("include", "not supported: run `docker compose config` and onboard its output");
    } else {
      fail(k, "unknown top-level key (not in the Compose specification)");
    }
  }
  if (!have_services) {
    throw compose_error{"not a compose file: no services"};
  }
  if (out.services.empty()) {
    fail("services", "no services to convert");
  }
  std::sort(out.services.begin(), out.services.end(),
            [](const service& a, const service& b) { return a.name < b.name; });
  return out;
}

}  // namespace

std::optional<int> parse_duration_seconds(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  double total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = i;
    while (j < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.')) {
      ++j;
    }
    if (j == i) {
      return std::nullopt;
    }
    double n = 0;
    const auto r = std::from_chars(text.data() + i, text.data() + j, n);
    if (r.ec != std::errc()) {
      return std::nullopt;
    }
    std::size_t k = j;
    while (k < text.size() && std::isalpha(static_cast<unsigned char>(text[k]))) {
      ++k;
    }
    const auto unit = text.substr(j, k - j);
    double scale = 0;
    if (unit == "h") {
      scale = 3600;
    } else if (unit == "m") {
      scale = 60;
    } else if (unit == "s" || unit.empty()) {
      scale = 1;
    } else if (unit == "ms") {
      scale = 0.001;
    } else if (unit == "us") {
      scale = 0.000001;
    } else {
      return std::nullopt;
    }
    total += n * scale;
    if (total > 86400.0 * 365) {
      return std::nullopt;
    }
    i = k;
  }
  return std::max(1, static_cast<int>(std::ceil(total)));
}

std::optional<std::string> memory_quantity(std::string_view text) {
  std::size_t j = 0;
  while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) {
    ++j;
  }
  if (j == 0 || j > 15) {
    return std::nullopt;
  }
  std::string unit(text.substr(j));
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  const std::string num(text.substr(0, j));
  if (unit.empty() || unit == "b") {
    return num;
  }
  if (unit == "k" || unit == "kb") {
    return num + "Ki";
  }
  if (unit == "m" || unit == "mb") {
    return num + "Mi";
  }
  if (unit == "g" || unit == "gb") {
    return num + "Gi";
  }
  return std::nullopt;
}

std::optional<std::string> cpu_quantity(std::string_view text) {
  double v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || !(v > 0) || v > 1024) {
    return std::nullopt;
  }
  const auto milli = static_cast<long>(std::llround(v * 1000));
  if (milli % 1000 == 0) {
    return std::to_string(milli / 1000);
  }
  return std::to_string(std::max(1L, milli)) + "m";
}

result<compose_file> read_compose(std::string_view text) {
  if (text.size() > k_compose_file_max) {
    return make_error(error_kind::invalid_input, "the file has " + std::to_string(text.size()) +
                                                     " bytes, more than " +
                                                     std::to_string(k_compose_file_max) +
                                                     " (1 MiB): not a compose file ferry reads");
  }
  auto docs = yaml::load_all(text, 1);
  if (docs.failed) {
    if (docs.too_many) {
      return make_error(error_kind::invalid_input,
                        "not a compose file: more than one YAML document");
    }
    return make_error(error_kind::invalid_input,
                      "not YAML: line " + std::to_string(docs.mark.line + 1) + ", column " +
                          std::to_string(docs.mark.column + 1) + ": " + docs.message);
  }
  if (docs.nodes.empty() || docs.nodes[0].IsNull()) {
    return make_error(error_kind::invalid_input, "not a compose file: the file is empty");
  }
  try {
    std::string copy(text);
    std::istringstream in(copy);
    YAML::Parser parser(in);
    node_counter counter;
    parser.HandleNextDocument(counter);
    return read_root(docs.nodes[0]);
  } catch (const compose_error& e) {
    return make_error(error_kind::invalid_input, e.message);
  } catch (const YAML::Exception& e) {
    return make_error(error_kind::invalid_input, "not YAML: " + e.msg);
  }
}

}  // namespace ferry::onboard
