#include "service/apply/job.hpp"

#include "service/rules/yaml_documents.hpp"
#include "service/text.hpp"
#include "service/utf8.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <sstream>
#include <unordered_map>

namespace ferry::apply {
namespace {

namespace json = boost::json;

// A refusal inside this file; render_job turns it into invalid_input at the module's edge.
struct template_error {
  std::optional<YAML::Mark> mark;  // where in the template, for YAML-level problems
  std::string message;
};

[[noreturn]] void fail(std::string message) {
  throw template_error{std::nullopt, std::move(message)};
}
[[noreturn]] void fail_at(const YAML::Mark& mark, std::string message) {
  throw template_error{mark, std::move(message)};
}

std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

bool is_dns_label(std::string_view s, std::size_t max) noexcept {
  if (s.empty() || s.size() > max || s.front() == '-' || s.back() == '-') {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

using text::lower;

// GitHub: an owner is alphanumerics and '-', a repository name alphanumerics, '-', '_' and '.'.
bool is_repo(std::string_view s) noexcept {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == s.size()) {
    return false;
  }
  const auto owner = s.substr(0, slash);
  const auto name = s.substr(slash + 1);
  const auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  return std::all_of(owner.begin(), owner.end(), [&](char c) { return alnum(c) || c == '-'; }) &&
         std::all_of(name.begin(), name.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// ${ENV}, ${SHA}, ${SHORT_SHA}, ${REPO}; any other ${...} stays as written.
class substitutions {
 public:
  substitutions(const job_vars& v, std::string sha)
      : values_{{{"${ENV}", v.env},
                 {"${SHA}", sha},
                 {"${SHORT_SHA}", text::short_sha(sha)},
                 {"${REPO}", v.repo}}} {}

  std::string apply(std::string_view text) const {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
      const auto at = text.find("${", i);
      if (at == std::string_view::npos) {
        break;
      }
      out.append(text.substr(i, at - i));
      i = at;
      bool replaced = false;
      for (const auto& [name, value] : values_) {
        if (text.substr(at).starts_with(name)) {
          out += value;
          i = at + name.size();
          replaced = true;
          break;
        }
      }
      if (!replaced) {
        out += "${";
        i = at + 2;
      }
    }
    out.append(text.substr(i));
    return out;
  }

 private:
  std::array<std::pair<std::string_view, std::string>, 4> values_;
};

// --- YAML scalars as Kubernetes reads them ---------------------------------------------------
// sigs.k8s.io/yaml converts YAML to JSON through go-yaml v2, whose resolver (resolve.go) follows
// YAML 1.1: the sets below, "_" digit separators, Go's base prefixes for integers, and a float
// syntax of [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?.

bool one_of(std::string_view s, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

bool is_null_word(std::string_view s) {
  return one_of(s, {"", "~", "null", "Null", "NULL"});
}
std::optional<bool> bool_word(std::string_view s) {
  if (one_of(s, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) {
    return true;
  }
  if (one_of(s, {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) {
    return false;
  }
  return std::nullopt;
}

bool float_syntax(std::string_view s) {
  std::size_t i = 0;
  const auto digits = [&] {
    const auto start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
    }
    return i - start;
  };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    ++i;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) {
      return false;
    }
  } else {
    if (digits() == 0) {
      return false;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    if (digits() == 0) {
      return false;
    }
  }
  return i == s.size();
}

// Go's strconv.ParseInt(s, 0, 64), then ParseUint for values above int64's range.
std::optional<json::value> parse_int(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (s.empty()) {
    return std::nullopt;
  }
  std::uint64_t magnitude = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return std::nullopt;
  }
  constexpr auto k_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (negative) {
    if (magnitude > k_max + 1) {
      return std::nullopt;
    }
    return json::value(magnitude == k_max + 1 ? std::numeric_limits<std::int64_t>::min()
                                              : -static_cast<std::int64_t>(magnitude));
  }
  if (magnitude > k_max) {
    return json::value(magnitude);
  }
  return json::value(static_cast<std::int64_t>(magnitude));
}

std::optional<json::value> parse_float(std::string_view s) {
  if (one_of(s, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
                 ".nan", ".NaN", ".NAN"})) {
    return json::value(std::numeric_limits<double>::infinity());  // refused by the caller
  }
  if (!float_syntax(s)) {
    return std::nullopt;
  }
  std::string text(s.starts_with('+') ? s.substr(1) : s);
  double d = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;  // out of range: go-yaml keeps it a string
  }
  // Go's encoding/json writes an integral float64 without a fraction ("1e3" -> 1000), which
  // Kubernetes then reads into integer fields; do the same.
  constexpr double k_exact = 9007199254740992.0;  // 2^53
  if (std::trunc(d) == d && std::fabs(d) <= k_exact) {
    return json::value(static_cast<std::int64_t>(d));
  }
  return json::value(d);
}

std::string without_underscores(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c != '_') {
      out += c;
    }
  }
  return out;
}

// A plain scalar's value: null, bool, int, float, else a string. Numbers are only tried when
// the first character could start one (go-yaml v2's resolve hint table).
json::value resolve_plain(std::string_view raw) {
  if (is_null_word(raw)) {
    return nullptr;
  }
  if (auto b = bool_word(raw)) {
    return *b;
  }
  const char first = raw.front();
  if ((first >= '0' && first <= '9') || first == '+' || first == '-' || first == '.') {
    const auto plain = without_underscores(raw);
    if (auto i = parse_int(plain)) {
      return *i;
    }
    if (auto f = parse_float(plain)) {
      return *f;
    }
  }
  return json::string(raw);
}

// --- YAML events -> JSON --------------------------------------------------------------------
// A yaml-cpp event handler (not YAML::Load) so that each scalar's tag is at hand: yaml-cpp
// reports "?" for a plain scalar and "!" for a quoted one (singledocparser.cpp), which is what
// decides "true" (bool) versus "\"true\"" (string).
class json_builder final : public YAML::EventHandler {
 public:
  explicit json_builder(const substitutions& subs) : subs_(subs) {}

  json::value take() { return std::move(root_); }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (expecting_key()) {
      fail_at(mark, "a mapping key is empty");
    }
    charge(mark, 1);
    add(mark, nullptr, anchor, 1);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    const auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      fail_at(mark, "an alias names no anchor");
    }
    if (expecting_key()) {
      if (!it->second.value.is_string()) {
        fail_at(mark, "a mapping key must be a string");
      }
      set_key(mark, std::string(it->second.value.get_string()));
      return;
    }
    charge(mark, it->second.count);
    add(mark, it->second.value, 0, it->second.count);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (expecting_key()) {
      if (tag == "?" && value == "<<") {
        fail_at(mark, "merge keys (<<) are not supported in an apply Job template");
      }
      set_key(mark, subs_.apply(value));
      if (anchor != 0) {
        anchors_[anchor] = anchored{json::string(subs_.apply(value)), 1};
      }
      return;
    }
    charge(mark, 1);
    add(mark, scalar(mark, tag, value), anchor, 1);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, json::array(), anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, json::object(), anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct frame {
    json::value value;
    YAML::anchor_t anchor = 0;
    YAML::Mark mark;
    std::size_t count = 1;
    std::optional<std::string> key;
    YAML::Mark key_mark;
  };
  struct anchored {
    json::value value;
    std::size_t count = 1;
  };

  bool expecting_key() const {
    return !frames_.empty() && frames_.back().value.is_object() && !frames_.back().key;
  }

  void set_key(const YAML::Mark& mark, std::string key) {
    auto& top = frames_.back();
    if (top.value.get_object().contains(key)) {
      fail_at(mark, "duplicate key " + quoted(key));
    }
    top.key = std::move(key);
    top.key_mark = mark;
  }

  void charge(const YAML::Mark& mark, std::size_t n) {
    values_ += n;
    if (values_ > limits::k_apply_job_template_values_max) {
      fail_at(mark, "the template expands to more than " +
                        std::to_string(limits::k_apply_job_template_values_max) +
                        " values (YAML aliases?)");
    }
  }

  void open(const YAML::Mark& mark, json::value empty, YAML::anchor_t anchor) {
    if (expecting_key()) {
      fail_at(mark, "a mapping key must be a scalar");
    }
    charge(mark, 1);
    frames_.push_back(frame{std::move(empty), anchor, mark, 1, std::nullopt, {}});
  }

  void close() {
    frame f = std::move(frames_.back());
    frames_.pop_back();
    add(f.mark, std::move(f.value), f.anchor, f.count);
  }

  void add(const YAML::Mark& mark, json::value v, YAML::anchor_t anchor, std::size_t count) {
    if (anchor != 0) {
      anchors_[anchor] = anchored{v, count};
    }
    if (frames_.empty()) {
      root_ = std::move(v);
      return;
    }
    auto& top = frames_.back();
    top.count += count;
    if (top.value.is_array()) {
      top.value.get_array().push_back(std::move(v));
      return;
    }
    if (!top.key) {
      fail_at(mark, "a mapping key is missing");
    }
    top.value.get_object().emplace(*top.key, std::move(v));
    top.key.reset();
  }

  json::value scalar(const YAML::Mark& mark, const std::string& tag, const std::string& raw) const {
    if (tag == "!" || tag == "!!str" || tag == "tag:yaml.org,2002:str") {
      return json::string(subs_.apply(raw));
    }
    json::value v = resolve_plain(raw);
    if (v.is_double() && !std::isfinite(v.get_double())) {
      fail_at(mark, quoted(raw) + " is not a number JSON can carry");
    }
    if (tag == "?") {
      return v.is_string() ? json::value(json::string(subs_.apply(raw))) : v;
    }
    const auto want = [&](bool ok, const char* what) {
      if (!ok) {
        fail_at(mark, quoted(raw) + " is not " + what);
      }
      return v;
    };
    if (tag == "!!int" || tag == "tag:yaml.org,2002:int") {
      return want(v.is_int64() || v.is_uint64(), "an integer");
    }
    if (tag == "!!float" || tag == "tag:yaml.org,2002:float") {
      return want(v.is_number(), "a number");
    }
    if (tag == "!!bool" || tag == "tag:yaml.org,2002:bool") {
      return want(v.is_bool(), "a boolean");
    }
    if (tag == "!!null" || tag == "tag:yaml.org,2002:null") {
      return want(v.is_null(), "null");
    }
    fail_at(mark, "unsupported YAML tag " + quoted(tag));
  }

  const substitutions& subs_;
  std::vector<frame> frames_;
  std::unordered_map<YAML::anchor_t, anchored> anchors_;
  std::size_t values_ = 0;
  json::value root_;
};

// Stops at the start of a second document: a template holds exactly one.
class second_document final : public yaml::document_start_listener {
 public:
  void on_document_start(const YAML::Mark& mark) override {
    fail_at(mark, "a second YAML document starts here; the template must hold one Job");
  }
};

json::value parse_template(const std::string& text, const substitutions& subs) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  json_builder builder(subs);
  if (!parser.HandleNextDocument(builder)) {
    fail("the template is empty; it must hold a batch/v1 Job");
  }
  second_document probe;
  parser.HandleNextDocument(probe);
  return builder.take();
}

// --- the Job ---------------------------------------------------------------------------------

// The object at o[key]: nullptr when absent or null; a refusal when something else.
json::object* object_field(json::object& o, std::string_view key, std::string_view path) {
  auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    return nullptr;
  }
  if (!v->is_object()) {
    fail(std::string(path) + " must be a mapping");
  }
  return &v->get_object();
}

json::object& ensure_object(json::object& o, std::string_view key, std::string_view path) {
  if (auto* found = object_field(o, key, path)) {
    return *found;
  }
  o[key] = json::object();
  return o[key].get_object();
}

std::optional<std::string> string_field(const json::object& o, std::string_view key,
                                        std::string_view path) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    return std::nullopt;
  }
  if (!v->is_string()) {
    fail(std::string(path) + " must be a string");
  }
  return std::string(v->get_string());
}

bool absent(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v == nullptr || v->is_null();
}

// Anything but absent, null or false counts as set: a value Kubernetes would refuse anyway is
// not worth a second reading.
bool set_to_anything(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && !v->is_null() && !(v->is_bool() && !v->get_bool());
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : ", ") + i;
  }
  return out.empty() ? "(none)" : out;
}

bool contains(const std::vector<std::string>& items, std::string_view s) {
  return std::find(items.begin(), items.end(), s) != items.end();
}

std::string element_name(const json::object& o, std::string_view path, std::size_t i) {
  std::string out = std::string(path) + "[" + std::to_string(i) + "]";
  if (const auto* n = o.if_contains("name"); n != nullptr && n->is_string()) {
    out += " (" + quoted(n->get_string()) + ")";
  }
  return out;
}

void refuse_privileged_containers(json::object& pod) {
  for (const char* list : {"containers", "initContainers", "ephemeralContainers"}) {
    auto* v = pod.if_contains(list);
    if (v == nullptr || v->is_null()) {
      continue;
    }
    const std::string path = std::string("spec.template.spec.") + list;
    if (!v->is_array()) {
      fail(path + " must be a list");
    }
    auto& items = v->get_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_object()) {
        fail(path + "[" + std::to_string(i) + "] must be a mapping");
      }
      auto& c = items[i].get_object();
      const auto where = element_name(c, path, i);
      if (auto* sc = object_field(c, "securityContext", where + ".securityContext")) {
        if (set_to_anything(*sc, "privileged")) {
          fail(where + ": privileged containers are refused in apply Jobs");
        }
      }
    }
  }
}

void refuse_host_access(json::object& pod) {
  for (const char* field : {"hostNetwork", "hostPID", "hostIPC"}) {
    if (set_to_anything(pod, field)) {
      fail(std::string("spec.template.spec.") + field +
           ": host namespaces are refused in apply Jobs");
    }
  }
  auto* v = pod.if_contains("volumes");
  if (v == nullptr || v->is_null()) {
    return;
  }
  if (!v->is_array()) {
    fail("spec.template.spec.volumes must be a list");
  }
  auto& items = v->get_array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_object()) {
      fail("spec.template.spec.volumes[" + std::to_string(i) + "] must be a mapping");
    }
    const auto& vol = items[i].get_object();
    if (vol.contains("hostPath")) {
      fail(element_name(vol, "spec.template.spec.volumes", i) +
           ": hostPath volumes are refused in apply Jobs");
    }
  }
}

void label(json::object& metadata, std::string_view path, const std::string& env,
           const std::string& sha) {
  auto& labels = ensure_object(metadata, "labels", std::string(path) + ".labels");
  labels["ferry.dev/env"] = env;
  labels["ferry.dev/commit"] = sha;
}

rendered_job render(json::value root, const rules::apply_job& apply, const job_vars& vars,
                    const std::string& sha, const job_policy& policy) {
  if (!root.is_object()) {
    fail("the template must be a mapping: a batch/v1 Job manifest");
  }
  auto& job = root.get_object();
  const auto api_version = string_field(job, "apiVersion", "apiVersion");
  const auto kind = string_field(job, "kind", "kind");
  if (api_version.value_or("") != "batch/v1" || kind.value_or("") != "Job") {
    fail("the template must be a batch/v1 Job, not apiVersion " + quoted(api_version.value_or("")) +
         ", kind " + quoted(kind.value_or("")));
  }

  auto& metadata = ensure_object(job, "metadata", "metadata");
  std::string ns = string_field(metadata, "namespace", "metadata.namespace").value_or("");
  if (ns.empty()) {
    ns = apply.namespace_name;
  }
  if (ns.empty()) {
    fail("no namespace: set metadata.namespace or apply.job.namespace in the rules");
  }
  if (!apply.namespace_name.empty() && ns != apply.namespace_name) {
    fail("metadata.namespace " + quoted(ns) +
         " is not the namespace the rules name (apply.job.namespace " +
         quoted(apply.namespace_name) + ")");
  }
  if (!contains(policy.namespaces, ns)) {
    fail("namespace " + quoted(ns) +
         " is not one ferry may create apply Jobs in (FERRY_APPLY_NAMESPACES: " +
         join(policy.namespaces) + ")");
  }

  auto* spec = object_field(job, "spec", "spec");
  auto* pod_template = spec != nullptr ? object_field(*spec, "template", "spec.template") : nullptr;
  auto* pod =
      pod_template != nullptr ? object_field(*pod_template, "spec", "spec.template.spec") : nullptr;
  if (pod == nullptr) {
    fail("spec.template.spec is missing: the Job has no pod to run");
  }
  const auto account =
      string_field(*pod, "serviceAccountName", "spec.template.spec.serviceAccountName");
  if (!account || account->empty()) {
    fail("spec.template.spec.serviceAccountName is missing; allowed: " +
         join(policy.service_accounts));
  }
  if (!contains(policy.service_accounts, *account)) {
    fail("spec.template.spec.serviceAccountName " + quoted(*account) +
         " is not allowed (FERRY_APPLY_SERVICE_ACCOUNTS: " + join(policy.service_accounts) + ")");
  }
  // serviceAccount is the deprecated alias Kubernetes still reads when serviceAccountName is
  // empty; one naming another account would be a way around the check above.
  if (const auto alias = string_field(*pod, "serviceAccount", "spec.template.spec.serviceAccount");
      alias && *alias != *account) {
    fail("spec.template.spec.serviceAccount " + quoted(*alias) +
         " differs from serviceAccountName " + quoted(*account));
  }
  refuse_privileged_containers(*pod);
  refuse_host_access(*pod);
  if (absent(*pod, "restartPolicy")) {
    (*pod)["restartPolicy"] = "Never";
  }

  const std::string name = job_name(vars.env, sha);
  metadata["name"] = name;
  metadata.erase("generateName");
  metadata["namespace"] = ns;
  label(metadata, "metadata", vars.env, sha);
  auto& annotations = ensure_object(metadata, "annotations", "metadata.annotations");
  annotations["ferry.dev/repo"] = vars.repo;
  annotations["ferry.dev/commit"] = sha;
  label(ensure_object(*pod_template, "metadata", "spec.template.metadata"),
        "spec.template.metadata", vars.env, sha);

  // A value the template does give must be one Kubernetes accepts (an integer, activeDeadline
  // at least 1): refused here with the field named, not by the API server after the merge.
  for (const auto& [key, min] :
       {std::pair<std::string_view, std::int64_t>{"activeDeadlineSeconds", 1},
        {"ttlSecondsAfterFinished", 0},
        {"backoffLimit", 0}}) {
    if (absent(*spec, key)) {
      continue;
    }
    const auto& v = spec->at(key);
    const bool ok = (v.is_int64() && v.get_int64() >= min) ||
                    (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT32_MAX));
    if (!ok) {
      fail("spec." + std::string(key) + " must be an integer of at least " + std::to_string(min) +
           ", not " + json::serialize(v));
    }
  }
  if (absent(*spec, "activeDeadlineSeconds")) {
    (*spec)["activeDeadlineSeconds"] = policy.default_active_deadline.count();
  }
  if (absent(*spec, "ttlSecondsAfterFinished")) {
    (*spec)["ttlSecondsAfterFinished"] = policy.default_ttl_after_finished.count();
  }
  if (absent(*spec, "backoffLimit")) {
    (*spec)["backoffLimit"] = policy.default_backoff_limit;
  }
  std::string out = json::serialize(root);
  // yaml-cpp can turn stray bytes (a NUL inside a key, found by the fuzzer) into invalid UTF-8
  // even when the template itself was valid: what goes to the API server is checked again.
  if (ferry::service::first_invalid_utf8(out) != std::string_view::npos) {
    fail("the template holds a key or value that is not valid UTF-8 once parsed");
  }
  return rendered_job{ns, name, std::move(out)};
}

}  // namespace

std::string job_name(std::string_view env, std::string_view sha) {
  return "ferry-apply-" + std::string(env) + "-" + lower(text::short_sha(sha));
}

result<rendered_job> render_job(std::string_view template_text, std::string_view template_path,
                                const rules::apply_job& apply, const job_vars& vars,
                                const job_policy& policy) {
  const std::string path(template_path);
  if (!is_dns_label(vars.env, limits::k_environment_name_max)) {
    return make_error(
        error_kind::invalid_input,
        "environment " + quoted(vars.env) + " is not a DNS label of at most 32 characters");
  }
  if (!text::is_commit_sha(vars.sha)) {
    return make_error(error_kind::invalid_input,
                      "commit " + quoted(vars.sha) + " is not 40 hex digits");
  }
  if (!is_repo(vars.repo)) {
    return make_error(error_kind::invalid_input,
                      "repository " + quoted(vars.repo) + " is not owner/name");
  }
  if (template_text.size() > limits::k_apply_job_template_max) {
    return make_error(error_kind::invalid_input,
                      path + ": the template is larger than " +
                          std::to_string(limits::k_apply_job_template_max / 1024) + " KiB");
  }
  if (const auto bad = ferry::service::first_invalid_utf8(template_text);
      bad != std::string_view::npos) {
    const auto before = template_text.substr(0, bad);
    const auto line = std::count(before.begin(), before.end(), '\n') + 1;
    const auto nl = before.rfind('\n');
    const auto column = bad - (nl == std::string_view::npos ? 0 : nl + 1) + 1;
    return make_error(error_kind::invalid_input, path + ":" + std::to_string(line) + ":" +
                                                     std::to_string(column) +
                                                     ": the template is not valid UTF-8");
  }
  const std::string sha = lower(vars.sha);
  const substitutions subs(vars, sha);
  try {
    return render(parse_template(std::string(template_text), subs), apply, vars, sha, policy);
  } catch (const template_error& e) {
    if (e.mark && !e.mark->is_null()) {
      return make_error(error_kind::invalid_input, path + ":" + std::to_string(e.mark->line + 1) +
                                                       ":" + std::to_string(e.mark->column + 1) +
                                                       ": " + e.message);
    }
    return make_error(error_kind::invalid_input, path + ": " + e.message);
  } catch (const YAML::Exception& e) {
    return make_error(error_kind::invalid_input, path + ":" + std::to_string(e.mark.line + 1) +
                                                     ":" + std::to_string(e.mark.column + 1) +
                                                     ": YAML syntax error: " + e.msg);
  }
}

}  // namespace ferry::apply
