// `ferry onboard`'s output against a real Kubernetes API server (issue 13 item 3): every golden
// case of fixtures/onboard/ is converted in process (as the golden test does: app <case>, org
// acme, domain acme.dev, the case's ferry.yaml when it has one), written to a scratch checkout,
// and each environment's overlay is rendered with the current kubectl (kustomize 5, what Flux's
// kustomize-controller embeds). Every rendered object is then created with server-side dry run
// (`?dryRun=All`) on etcd + kube-apiserver v1.20 (test/kube-real/kube_apiserver.hpp): admission
// and validation run in full, nothing is stored. Each must be accepted (201/200) and must not
// exist afterwards.
//
// The API server serves every built-in kind onboard writes (Deployment, Service, ConfigMap,
// Secret, PersistentVolumeClaim, NetworkPolicy, networking.k8s.io/v1 Ingress). ExternalSecret
// is a CRD: test/kube-real/external-secrets-crd.yaml, a hand-written subset of the operator's
// schema, is installed first; a kind the server does not serve fails the test (none is skipped).
//
// So that the test can fail, mutated copies of generated objects (a Deployment whose selector
// no longer matches its template, a port out of range, an ExternalSecret without remoteRef.key)
// must be refused with 422.
#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "service/onboard/onboard.hpp"
#include "test/kube-real/kube_apiserver.hpp"
#include "test/kube-real/kube_objects.hpp"
#include "test/support/serve_double.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using verb = boost::beast::http::verb;
using namespace std::chrono_literals;
using namespace ferry::test::kube_objects;
using ferry::test::e2e::eventually;

const fs::path k_here = fs::path(FERRY_SOURCE_DIR) / "test" / "kube-real";
const fs::path k_cases = fs::path(FERRY_FIXTURES_DIR) / "onboard";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// One golden case converted: the files as `ferry onboard` writes them, and each environment's
// overlay directory (repository-relative).
struct converted {
  std::string name;
  std::string error;  // the conversion's, for the error-* cases
  std::vector<ferry::onboard::output_file> files;
  std::map<std::string, std::string> overlays;  // env -> dir
};

converted convert_case(const fs::path& dir) {
  converted out;
  out.name = dir.filename().string();
  ferry::onboard::options o;
  o.app = out.name;
  o.org = "acme";
  o.domain = "acme.dev";
  if (fs::exists(dir / "ferry.yaml")) {
    auto with = ferry::onboard::options_from_rules(slurp(dir / "ferry.yaml"), "ferry.yaml", o);
    if (!with) {
      out.error = "ferry.yaml: " + with.error().message;
      return out;
    }
    o = *with;
  }
  auto c = ferry::onboard::convert_text(slurp(dir / "docker-compose.yml"), o);
  if (!c) {
    out.error = c.error().message;
    return out;
  }
  out.files = c->files;
  for (const auto& env : o.envs) {
    const auto it = o.overlay_dirs.find(env);
    out.overlays[env] =
        it != o.overlay_dirs.end() ? it->second : "apps/" + o.app + "/overlays/" + env;
  }
  return out;
}

std::vector<fs::path> case_dirs() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(k_cases)) {
    if (e.is_directory() && fs::exists(e.path() / "docker-compose.yml")) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The objects of one rendered overlay, or the error.
struct rendered {
  std::string error;
  std::vector<json::value> objects;
};

rendered render(const fs::path& overlay) {
  rendered r;
  const auto run = ferry::test::run({FERRY_KUBECTL, "kustomize", overlay.string()}, {}, 120s);
  if (run.exit_code != 0) {
    r.error = "kubectl kustomize " + overlay.string() + " exited " + std::to_string(run.exit_code) +
              ": " + run.err;
    return r;
  }
  try {
    for (const auto& doc : YAML::LoadAll(run.out)) {
      if (doc.IsMap()) {
        r.objects.push_back(to_json(doc));
      }
    }
  } catch (const YAML::Exception& e) {
    r.error = "kubectl kustomize " + overlay.string() + ": unreadable YAML: " + e.what();
  }
  if (r.error.empty() && r.objects.empty()) {
    r.error = "kubectl kustomize " + overlay.string() + " rendered no object";
  }
  return r;
}

std::string key_of(const json::value& o) {
  return str(at(o, {"apiVersion"})) + " " + str(at(o, {"kind"})) + " " +
         str(at(o, {"metadata", "namespace"})) + "/" + str(at(o, {"metadata", "name"}));
}

// ---- one API server for the whole process --------------------------------------------------

struct cluster {
  fs::path dir;
  std::unique_ptr<ferry::test::kube_apiserver> api;
  std::string problem;  // what bring-up found wrong
  std::set<std::string> namespaces;
  std::map<std::string, std::optional<served_kind>> kinds;  // discovery, once per kind
};

// Started on first use, so a run filtered to the other kube-real tests starts no cluster for
// this file.
std::unique_ptr<cluster>& cluster_slot() {
  static std::unique_ptr<cluster> slot;
  return slot;
}

cluster& the_cluster() {
  auto& slot = cluster_slot();
  if (slot) {
    return *slot;
  }
  slot = std::make_unique<cluster>([] {
    cluster c;
    c.dir = fs::temp_directory_path() /
            ("ferry-kube-onboard-" + std::to_string(::getpid()) + "-" +
             std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    try {
      c.api = std::make_unique<ferry::test::kube_apiserver>(
          ferry::test::kube_binaries{FERRY_KUBE_APISERVER, FERRY_ETCD}, c.dir);
    } catch (const std::exception& e) {
      c.problem = e.what();
      return c;
    }
    const auto crd =
        ferry::test::run({FERRY_KUBECTL_1_20, "--kubeconfig=" + c.api->kubeconfig().string(),
                          "apply", "-f", (k_here / "external-secrets-crd.yaml").string()},
                         {}, 120s);
    if (crd.exit_code != 0) {
      c.problem = "applying external-secrets-crd.yaml: " + crd.out + crd.err;
    } else if (!eventually([&] {
                 return c.api->request(verb::get, "/apis/external-secrets.io/v1beta1").status ==
                        200;
               })) {
      c.problem = "the ExternalSecret CRD was not served within 60 s";
    }
    return c;
  }());
  return *slot;
}

class cluster_environment : public ::testing::Environment {
 public:
  void TearDown() override {
    auto& slot = cluster_slot();
    if (!slot) {
      return;
    }
    const bool keep = ::testing::UnitTest::GetInstance()->failed_test_count() > 0;
    slot->api.reset();
    if (keep) {
      std::fprintf(stderr, "kept %s (audit.log, certs) for the onboarding dry run\n",
                   slot->dir.c_str());
    } else {
      std::error_code ec;
      fs::remove_all(slot->dir, ec);
    }
    slot.reset();
  }
};
[[maybe_unused]] const auto* const k_environment =
    ::testing::AddGlobalTestEnvironment(new cluster_environment);

// Namespaces are created for real: the NamespaceLifecycle admission plugin refuses a dry-run
// create in a namespace that does not exist, as it would refuse the real one.
void ensure_namespace(cluster& c, const std::string& ns) {
  if (ns.empty() || c.namespaces.contains(ns)) {
    return;
  }
  const auto r = c.api->request(
      verb::post, "/api/v1/namespaces",
      json::serialize(json::value{
          {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", json::object{{"name", ns}}}}));
  ASSERT_TRUE(r.status == 201 || r.status == 409) << "namespace " << ns << ": " << r.body;
  c.namespaces.insert(ns);
}

// A create with server-side dry run; the collection's path comes from discovery.
struct dry_run_answer {
  int status = 0;
  std::string body;
  std::string path;  // the object's own path, empty when the kind is not served
};

dry_run_answer dry_run_create(cluster& c, const json::value& o) {
  const auto av = str(at(o, {"apiVersion"}));
  const auto kind = str(at(o, {"kind"}));
  auto it = c.kinds.find(av + " " + kind);
  if (it == c.kinds.end()) {
    it = c.kinds.emplace(av + " " + kind, discover(*c.api, av, kind)).first;
  }
  const auto& served = it->second;
  if (!served) {
    return {0, av + " " + kind + " is not served by this API server", ""};
  }
  const auto ns = str(at(o, {"metadata", "namespace"}));
  const auto collection = group_version_path(av) +
                          (served->namespaced ? "/namespaces/" + ns : std::string()) + "/" +
                          served->resource;
  const auto r = c.api->request(verb::post, collection + "?dryRun=All", json::serialize(o));
  return {r.status, r.body, collection + "/" + str(at(o, {"metadata", "name"}))};
}

class onboard_dry_run : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {FERRY_KUBE_APISERVER, FERRY_ETCD, FERRY_KUBECTL, FERRY_KUBECTL_1_20}) {
      ASSERT_TRUE(fs::exists(tool))
          << tool << " not found: run infra/install-deps.sh --test (test/kube-real/README.md)";
    }
    ASSERT_EQ(the_cluster().problem, "");
    scratch_ = the_cluster().dir / "onboard";
  }

  // The case's files in a scratch checkout, and its overlays rendered.
  std::map<std::string, rendered> render_case(const converted& cc) {
    const auto root = scratch_ / cc.name;
    fs::remove_all(root);
    for (const auto& f : cc.files) {
      ferry::test::write_text(root / f.path, f.content);
    }
    std::map<std::string, rendered> out;
    for (const auto& [env, dir] : cc.overlays) {
      out[env] = render(root / dir);
    }
    return out;
  }

  fs::path scratch_;
};

TEST_F(onboard_dry_run, every_generated_object_of_the_golden_set_is_accepted) {
  auto& c = the_cluster();
  std::size_t cases = 0, objects = 0;
  std::map<std::string, std::size_t> by_kind;
  for (const auto& dir : case_dirs()) {
    const auto cc = convert_case(dir);
    if (!cc.error.empty()) {
      // The error-* goldens convert to nothing; any other case must convert.
      EXPECT_TRUE(cc.name.starts_with("error-")) << cc.name << ": " << cc.error;
      continue;
    }
    ++cases;
    for (const auto& [env, r] : render_case(cc)) {
      ASSERT_EQ(r.error, "") << cc.name << " " << env;
      for (const auto& o : r.objects) {
        ensure_namespace(c, str(at(o, {"metadata", "namespace"})));
        const auto a = dry_run_create(c, o);
        const auto what = cc.name + " " + env + ": " + key_of(o);
        EXPECT_TRUE(a.status == 201 || a.status == 200)
            << what << " -> " << a.status << " " << a.body << "\n"
            << json::serialize(o);
        if (!a.path.empty()) {
          // A dry run stores nothing.
          EXPECT_EQ(c.api->request(verb::get, a.path).status, 404) << what;
        }
        ++objects;
        ++by_kind[str(at(o, {"apiVersion"})) + " " + str(at(o, {"kind"}))];
      }
    }
  }
  EXPECT_GE(cases, 15u) << "the golden set shrank";
  // Every kind onboard generates went through the API server at least once.
  for (const char* kind :
       {"apps/v1 Deployment", "v1 Service", "v1 ConfigMap", "v1 Secret", "v1 PersistentVolumeClaim",
        "networking.k8s.io/v1 NetworkPolicy", "networking.k8s.io/v1 Ingress",
        "external-secrets.io/v1beta1 ExternalSecret"}) {
    EXPECT_GT(by_kind[kind], 0u) << kind << " never generated by the golden set";
  }
  std::printf("onboard dry run: %zu cases, %zu objects accepted by kube-apiserver v1.20:", cases,
              objects);
  for (const auto& [k, n] : by_kind) {
    std::printf(" %s x%zu;", k.c_str(), n);
  }
  std::printf("\n");
}

// The first rendered object of `kind` in `case_name`'s `env` overlay.
json::value first_of(const std::map<std::string, rendered>& r, const std::string& env,
                     const std::string& kind) {
  const auto it = r.find(env);
  if (it != r.end()) {
    for (const auto& o : it->second.objects) {
      if (str(at(o, {"kind"})) == kind) {
        return o;
      }
    }
  }
  return nullptr;
}

TEST_F(onboard_dry_run, a_broken_generated_object_is_refused) {
  auto& c = the_cluster();
  const auto web = convert_case(k_cases / "web-db-cache");
  ASSERT_EQ(web.error, "");
  const auto r = render_case(web);
  auto deployment = first_of(r, "staging", "Deployment");
  ASSERT_TRUE(deployment.is_object());
  ensure_namespace(c, str(at(deployment, {"metadata", "namespace"})));
  ASSERT_EQ(dry_run_create(c, deployment).status, 201) << "the unmutated Deployment";

  // The selector no longer selects the template's Pods: apps/v1 validation refuses it.
  auto unselected = deployment;
  unselected.at_pointer("/spec/selector/matchLabels").as_object()["app.kubernetes.io/name"] =
      "nothing";
  auto a = dry_run_create(c, unselected);
  EXPECT_EQ(a.status, 422) << a.body;
  EXPECT_NE(a.body.find("selector"), std::string::npos) << a.body;

  // A container port out of range.
  auto bad_port = deployment;
  bad_port.at_pointer("/spec/template/spec/containers/0/ports/0").as_object()["containerPort"] =
      70000;
  a = dry_run_create(c, bad_port);
  EXPECT_EQ(a.status, 422) << a.body;
  EXPECT_NE(a.body.find("containerPort"), std::string::npos) << a.body;

  // The CRD's schema is enforced too: an ExternalSecret whose remote reference names no key.
  const auto es_case = convert_case(k_cases / "rules-existing");
  ASSERT_EQ(es_case.error, "");
  const auto es_r = render_case(es_case);
  auto es = first_of(es_r, "staging", "ExternalSecret");
  ASSERT_TRUE(es.is_object());
  ensure_namespace(c, str(at(es, {"metadata", "namespace"})));
  ASSERT_EQ(dry_run_create(c, es).status, 201) << "the unmutated ExternalSecret";
  es.at_pointer("/spec/data/0/remoteRef").as_object().erase("key");
  a = dry_run_create(c, es);
  EXPECT_EQ(a.status, 422) << a.body;
  EXPECT_NE(a.body.find("remoteRef.key"), std::string::npos) << a.body;
}

}  // namespace
