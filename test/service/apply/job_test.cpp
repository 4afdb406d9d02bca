#include "service/apply/job.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "test/service/apply/job_support.hpp"

namespace ferry::apply {
namespace {

namespace json = boost::json;
using testing::apply_config;
using testing::fixture;
using testing::k_sha_lower;
using testing::policy;
using testing::vars;

json::object render_ok(const std::string& text, const rules::apply_job& apply = apply_config()) {
  auto r = render_job(text, "infra/apply-job.yaml", apply, vars(), policy());
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok()) {
    return {};
  }
  auto v = json::parse(r->json);
  EXPECT_TRUE(v.is_object());
  return v.as_object();
}

std::string refusal(const std::string& text, const rules::apply_job& apply = apply_config(),
                    const job_policy& p = policy()) {
  auto r = render_job(text, "infra/apply-job.yaml", apply, vars(), p);
  EXPECT_FALSE(r.ok()) << "rendered: " << (r.ok() ? r->json : "");
  if (r.ok()) {
    return {};
  }
  EXPECT_EQ(r.error().kind, error_kind::invalid_input);
  return r.error().message;
}

const json::value& at(const json::value& v, std::string_view pointer) {
  return v.at_pointer(pointer);
}

// A valid Job, the base every refusal below changes one thing in.
std::string base(std::string_view pod_extra = "", std::string_view container_extra = "",
                 std::string_view metadata_extra = "") {
  return "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\n" + std::string(metadata_extra) +
         "spec:\n  template:\n    spec:\n      serviceAccountName: ferry-apply\n" +
         std::string(pod_extra) +
         "      containers:\n        - name: apply\n          image: busybox\n" +
         std::string(container_extra);
}

TEST(job_name, is_ferry_apply_env_and_twelve_hex) {
  EXPECT_EQ(job_name("staging", k_sha_lower), "ferry-apply-staging-9f8e7d6c5b4a");
  EXPECT_EQ(job_name("staging", testing::k_sha), "ferry-apply-staging-9f8e7d6c5b4a");
}

TEST(job_name, a_32_character_environment_still_makes_a_dns_label) {
  const std::string env(32, 'e');
  const auto name = job_name(env, k_sha_lower);
  EXPECT_EQ(name.size(), 57u);
  EXPECT_LE(name.size(), limits::k_dns_label_max);
  // and render_job accepts that environment
  auto v = vars();
  v.env = env;
  auto r = render_job(base(), "t.yaml", apply_config(), v, policy());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->name, name);
}

TEST(render_job, minimal_template_gets_name_labels_annotations_and_defaults) {
  const auto job = json::value(render_ok(fixture("job-minimal.yaml")));
  EXPECT_EQ(at(job, "/metadata/name"), "ferry-apply-production-9f8e7d6c5b4a");
  EXPECT_FALSE(job.at("metadata").as_object().contains("generateName"));
  EXPECT_EQ(at(job, "/metadata/namespace"), "flux-system");  // from apply.job.namespace
  EXPECT_EQ(at(job, "/metadata/labels/team"), "platform");
  EXPECT_EQ(at(job, "/metadata/labels/ferry.dev~1env"), "production");
  EXPECT_EQ(at(job, "/metadata/labels/ferry.dev~1commit"), k_sha_lower);
  EXPECT_EQ(at(job, "/metadata/annotations/ferry.dev~1repo"), "dine-together/infra");
  EXPECT_EQ(at(job, "/metadata/annotations/ferry.dev~1commit"), k_sha_lower);
  EXPECT_EQ(at(job, "/spec/template/metadata/labels/ferry.dev~1env"), "production");
  EXPECT_EQ(at(job, "/spec/template/metadata/labels/ferry.dev~1commit"), k_sha_lower);
  EXPECT_EQ(at(job, "/spec/activeDeadlineSeconds"), 600);
  EXPECT_EQ(at(job, "/spec/ttlSecondsAfterFinished"), 86400);
  EXPECT_EQ(at(job, "/spec/backoffLimit"), 1);
  EXPECT_EQ(at(job, "/spec/template/spec/restartPolicy"), "Never");
  // substitutions, inside scalars; ${UNKNOWN} and ${TIMEOUT:-5m} are left for the container
  EXPECT_EQ(at(job, "/spec/template/metadata/annotations/note"), "${UNKNOWN} stays as written");
  const auto& c = at(job, "/spec/template/spec/containers/0");
  EXPECT_EQ(at(c, "/args/2"), "apps-production");
  EXPECT_EQ(at(c, "/args/3"), json::value(std::string("--revision=") + k_sha_lower));
  EXPECT_EQ(at(c, "/env/0/value"), "true");  // quoted: stays a string
  EXPECT_EQ(at(c, "/env/1/value"), "9f8e7d6c5b4a");
  EXPECT_EQ(
      at(c, "/env/2/value"),
      json::value(std::string("https://github.com/dine-together/infra/commit/") + k_sha_lower));
  EXPECT_EQ(at(c, "/env/3/value"), "${TIMEOUT:-5m}");
  EXPECT_EQ(at(c, "/resources/limits/cpu"), "500m");
}

TEST(render_job, full_template_keeps_its_values_and_yaml_types) {
  auto r = render_job(fixture("job-full.yaml"), "infra/apply-job.yaml", apply_config(), vars(),
                      policy());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->ns, "flux-system");
  EXPECT_EQ(r->name, "ferry-apply-production-9f8e7d6c5b4a");
  const auto job = json::parse(r->json);
  EXPECT_EQ(at(job, "/metadata/name"), "ferry-apply-production-9f8e7d6c5b4a");  // replaced
  EXPECT_EQ(at(job, "/metadata/annotations/owner"), "platform");
  EXPECT_EQ(at(job, "/metadata/annotations/ferry.dev~1repo"), "dine-together/infra");
  // set by the template, so not defaulted (0 is a value, not an absence)
  EXPECT_EQ(at(job, "/spec/activeDeadlineSeconds"), 120);
  EXPECT_EQ(at(job, "/spec/ttlSecondsAfterFinished"), 0);
  EXPECT_EQ(at(job, "/spec/backoffLimit"), 0);
  EXPECT_EQ(at(job, "/spec/template/spec/restartPolicy"), "OnFailure");
  EXPECT_EQ(at(job, "/spec/template/metadata/labels/app"), "apply");
  EXPECT_EQ(at(job, "/spec/template/metadata/labels/ferry.dev~1env"), "production");
  // YAML 1.1 as Kubernetes reads it: 0x1 and 1_000 are ints, yes is true, quoted '42' and
  // !!str 1.5 stay strings
  EXPECT_TRUE(at(job, "/spec/completions").is_int64());
  EXPECT_EQ(at(job, "/spec/completions"), 1);
  EXPECT_EQ(at(job, "/spec/template/spec/automountServiceAccountToken"), true);
  EXPECT_EQ(at(job, "/spec/template/spec/hostNetwork"), false);
  EXPECT_EQ(at(job, "/spec/template/spec/initContainers/0/securityContext/runAsUser"), 1000);
  EXPECT_EQ(at(job, "/spec/template/spec/initContainers/0/command/2"),
            "echo \"${HOME}\" production");
  EXPECT_EQ(at(job, "/spec/template/spec/containers/0/ports/0/containerPort"), 8080);
  EXPECT_EQ(at(job, "/spec/template/spec/containers/0/env/0/value"), "42");
  EXPECT_EQ(at(job, "/spec/template/spec/containers/0/env/1/value"), "1.5");
  // the alias is a copy of the anchored mapping
  EXPECT_EQ(at(job, "/spec/template/spec/containers/0/resources"),
            at(job, "/spec/template/spec/initContainers/0/resources"));
  EXPECT_EQ(at(job, "/spec/template/spec/containers/0/resources/limits/memory"), "64Mi");
}

TEST(render_job, example_infra_template_renders) {
  const auto text = ferry::test::read_text(std::filesystem::path(FERRY_SOURCE_DIR) /
                                           "infra/example-infra/infra/apply-job.yaml");
  const auto job = json::value(render_ok(text));
  EXPECT_EQ(at(job, "/spec/backoffLimit"), 1);
  EXPECT_EQ(at(job, "/spec/template/spec/containers/0/args/0"),
            "flux reconcile kustomization apps-production --with-source --timeout=${TIMEOUT:-5m} "
            "&& echo applied 9f8e7d6c5b4a of dine-together/infra");
}

TEST(render_job, plain_scalars_resolve_like_kubernetes) {
  const auto job = json::value(render_ok(base(
      "",
      "          env:\n"
      "            - {name: A, value: \"on\"}\n"
      "          x-values: [on, off, ~, null, 010, 0o10, 0b11, -7, 1.5, 1e3, .5, 12abc, '010', "
      "!!int '9', 18446744073709551615]\n")));
  const auto& v = at(job, "/spec/template/spec/containers/0/x-values");
  EXPECT_EQ(at(v, "/0"), true);
  EXPECT_EQ(at(v, "/1"), false);
  EXPECT_TRUE(at(v, "/2").is_null());
  EXPECT_TRUE(at(v, "/3").is_null());
  EXPECT_EQ(at(v, "/4"), 8);  // YAML 1.1 octal
  EXPECT_EQ(at(v, "/5"), 8);
  EXPECT_EQ(at(v, "/6"), 3);
  EXPECT_EQ(at(v, "/7"), -7);
  EXPECT_EQ(at(v, "/8"), 1.5);
  EXPECT_EQ(at(v, "/9"), 1000);  // integral floats are written as Go's encoding/json does
  EXPECT_EQ(at(v, "/10"), 0.5);
  EXPECT_EQ(at(v, "/11"), "12abc");
  EXPECT_EQ(at(v, "/12"), "010");
  EXPECT_EQ(at(v, "/13"), 9);
  EXPECT_TRUE(at(v, "/14").is_uint64());
  EXPECT_EQ(at(job, "/spec/template/spec/containers/0/env/0/value"), "on");
}

TEST(render_job, template_namespace_must_be_the_rules_namespace) {
  const auto m = refusal(base("", "", "  namespace: default\n"));
  EXPECT_NE(m.find("\"default\""), std::string::npos) << m;
  EXPECT_NE(m.find("\"flux-system\""), std::string::npos) << m;
  EXPECT_TRUE(m.starts_with("infra/apply-job.yaml: ")) << m;
}

TEST(render_job, namespace_must_be_allowed_by_the_policy) {
  const auto m = refusal(base(), apply_config("tenant-a"));
  EXPECT_NE(m.find("\"tenant-a\""), std::string::npos) << m;
  EXPECT_NE(m.find("FERRY_APPLY_NAMESPACES: flux-system, apply"), std::string::npos) << m;
  // the same namespace, once allowed, renders
  auto p = policy();
  p.namespaces.push_back("tenant-a");
  auto r = render_job(base(), "t.yaml", apply_config("tenant-a"), vars(), p);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->ns, "tenant-a");
}

TEST(render_job, service_account_must_be_present_and_allowed) {
  std::string no_sa = base();
  no_sa.erase(no_sa.find("      serviceAccountName: ferry-apply\n"),
              std::string_view("      serviceAccountName: ferry-apply\n").size());
  EXPECT_NE(refusal(no_sa).find("serviceAccountName is missing"), std::string::npos);

  std::string other = base();
  other.replace(other.find("ferry-apply"), 11, "default");
  const auto m = refusal(other);
  EXPECT_NE(m.find("\"default\" is not allowed"), std::string::npos) << m;
  EXPECT_NE(m.find("FERRY_APPLY_SERVICE_ACCOUNTS: ferry-apply"), std::string::npos) << m;

  const auto alias = refusal(base("      serviceAccount: admin\n"));
  EXPECT_NE(alias.find("serviceAccount \"admin\""), std::string::npos) << alias;
}

// Found by the CI fuzz smoke run: "activeDeadlineSeconds: 24\x10" is a string, which the
// API server would refuse after ferry kept it; refused here, naming the field.
TEST(render_job, limits_the_template_sets_must_be_integers_kubernetes_accepts) {
  const auto with_spec = [](std::string_view field) {
    return "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\nspec:\n  " + std::string(field) +
           "\n  template:\n    spec:\n      serviceAccountName: ferry-apply\n"
           "      containers:\n        - name: apply\n          image: busybox\n";
  };
  EXPECT_NE(refusal(with_spec("activeDeadlineSeconds: \"24s\"")).find("spec.activeDeadlineSeconds"),
            std::string::npos);
  EXPECT_NE(refusal(with_spec("activeDeadlineSeconds: 0")).find("at least 1"), std::string::npos);
  EXPECT_NE(refusal(with_spec("backoffLimit: -1")).find("spec.backoffLimit"), std::string::npos);
  EXPECT_NE(refusal(with_spec("ttlSecondsAfterFinished: 1.5")).find("spec.ttlSecondsAfterFinished"),
            std::string::npos);
  auto kept = render_job(with_spec("backoffLimit: 0"), "t.yaml", apply_config(), vars(), policy());
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  EXPECT_NE(kept->json.find("\"backoffLimit\":0"), std::string::npos) << kept->json;
}

// Found by fuzzing: a NUL inside a key came out of yaml-cpp as invalid UTF-8 although the
// template passed the UTF-8 check; the rendered JSON is checked again.
TEST(render_job, text_that_parses_into_invalid_utf8_is_refused) {
  const auto text = ferry::test::read_text(std::filesystem::path(FERRY_FIXTURES_DIR) / "fuzz" /
                                           "job_template_fuzz" / "nul-in-key.yaml");
  EXPECT_NE(refusal(text).find("not valid UTF-8"), std::string::npos);
}

TEST(render_job, privileged_containers_are_refused_wherever_they_are) {
  const auto init =
      refusal(base("      initContainers:\n        - name: setup\n          image: b\n"
                   "          securityContext: {privileged: true}\n"));
  EXPECT_NE(init.find("spec.template.spec.initContainers[0] (\"setup\")"), std::string::npos)
      << init;
  EXPECT_NE(init.find("privileged"), std::string::npos) << init;
  const auto main = refusal(base("", "          securityContext:\n            privileged: yes\n"));
  EXPECT_NE(main.find("containers[0] (\"apply\")"), std::string::npos) << main;
  const auto eph =
      refusal(base("      ephemeralContainers:\n        - name: debug\n          image: b\n"
                   "          securityContext: {privileged: true}\n"));
  EXPECT_NE(eph.find("ephemeralContainers[0] (\"debug\")"), std::string::npos) << eph;
  // allowPrivilegeEscalation is not privileged
  render_ok(
      base("", "          securityContext: {allowPrivilegeEscalation: true, privileged: false}\n"));
}

TEST(render_job, host_namespaces_and_host_paths_are_refused) {
  for (const char* field : {"hostNetwork", "hostPID", "hostIPC"}) {
    const auto m = refusal(base(std::string("      ") + field + ": true\n"));
    EXPECT_NE(m.find(field), std::string::npos) << m;
  }
  const auto m =
      refusal(base("      volumes:\n        - name: scratch\n          emptyDir: {}\n"
                   "        - name: docker\n          hostPath: {path: /var/run}\n"));
  EXPECT_NE(m.find("volumes[1] (\"docker\")"), std::string::npos) << m;
  EXPECT_NE(m.find("hostPath"), std::string::npos) << m;
}

TEST(render_job, exactly_one_document) {
  const auto m = refusal(base() + "---\napiVersion: v1\nkind: ConfigMap\n");
  EXPECT_NE(m.find("second YAML document"), std::string::npos) << m;
  const std::string job = base();
  const int lines = static_cast<int>(std::count(job.begin(), job.end(), '\n'));
  EXPECT_TRUE(m.starts_with("infra/apply-job.yaml:" + std::to_string(lines + 1) + ":1: ")) << m;
  EXPECT_NE(refusal("# nothing but a comment\n").find("empty"), std::string::npos);
}

TEST(render_job, only_a_batch_v1_job) {
  EXPECT_NE(refusal("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n").find("batch/v1 Job"),
            std::string::npos);
  EXPECT_NE(refusal("apiVersion: batch/v1beta1\nkind: Job\n").find("batch/v1 Job"),
            std::string::npos);
  EXPECT_NE(refusal("- a list\n").find("mapping"), std::string::npos);
  EXPECT_NE(refusal("apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\n")
                .find("spec.template.spec is missing"),
            std::string::npos);
}

TEST(render_job, yaml_errors_carry_their_position) {
  const auto m = refusal("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: [unclosed\n");
  EXPECT_TRUE(m.starts_with("infra/apply-job.yaml:")) << m;
  EXPECT_NE(m.find("YAML syntax error"), std::string::npos) << m;
  const auto dup = refusal(base("      hostNetwork: false\n      hostNetwork: true\n"));
  EXPECT_TRUE(dup.starts_with("infra/apply-job.yaml:10:7: duplicate key \"hostNetwork\"")) << dup;
  const auto merge = refusal(base("", "", "  <<: {namespace: default}\n"));
  EXPECT_TRUE(merge.starts_with("infra/apply-job.yaml:5:3: merge keys")) << merge;
  const auto tag = refusal(base("", "", "  annotations: {a: !custom x}\n"));
  EXPECT_NE(tag.find("unsupported YAML tag"), std::string::npos) << tag;
  const auto inf = refusal(base("", "          x: .inf\n"));
  EXPECT_NE(inf.find("not a number JSON can carry"), std::string::npos) << inf;
}

TEST(render_job, invalid_utf8_is_refused_with_its_position) {
  // found by job_template_fuzz: a stray byte went through yaml-cpp into the JSON
  const auto m = refusal(base("",
                              "          x: \"a\x89"
                              "b\"\n"));
  EXPECT_TRUE(m.starts_with("infra/apply-job.yaml:12:16: the template is not valid UTF-8")) << m;
  for (const char* bad : {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x9C"}) {
    EXPECT_NE(refusal(base("", std::string("          x: \"") + bad + "\"\n")).find("UTF-8"),
              std::string::npos);
  }
  // valid multi-byte text passes through
  const auto job =
      json::value(render_ok(base("", "          x: \"\xC3\xA9\xE2\x9C\x93\xF0\x9F\x9A\xA2\"\n")));
  EXPECT_EQ(at(job, "/spec/template/spec/containers/0/x"), "\xC3\xA9\xE2\x9C\x93\xF0\x9F\x9A\xA2");
}

TEST(render_job, alias_expansion_is_bounded) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'h'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) {
      bomb += std::string(i == 0 ? "" : ", ") + "*" + prev;
    }
    bomb += "]\n";
    prev = c;
  }
  const auto m = refusal(bomb);
  EXPECT_NE(m.find("expands to more than"), std::string::npos) << m;
}

TEST(render_job, bad_variables_are_refused_before_reading_the_template) {
  auto v = vars();
  v.sha = "abc";
  EXPECT_FALSE(render_job(base(), "t", apply_config(), v, policy()).ok());
  v = vars();
  v.env = std::string(33, 'e');
  EXPECT_FALSE(render_job(base(), "t", apply_config(), v, policy()).ok());
  v = vars();
  v.repo = "owner/name\nkind: Pod";
  EXPECT_FALSE(render_job(base(), "t", apply_config(), v, policy()).ok());
}

TEST(render_job, metadata_labels_of_the_wrong_shape_are_refused) {
  const auto m = refusal(base("", "", "  labels: [a, b]\n"));
  EXPECT_NE(m.find("metadata.labels must be a mapping"), std::string::npos) << m;
}

}  // namespace
}  // namespace ferry::apply
