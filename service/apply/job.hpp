#pragma once
// The apply Job (SPEC "Apply Job template"): a batch/v1 Job manifest kept in the infra repo,
// read at the pushed commit, rendered here into the JSON ferry POSTs to the Kubernetes API.
// Pure: no I/O, no coroutines.
//
// The YAML is turned into JSON as Kubernetes' own YAML->JSON does (sigs.k8s.io/yaml over
// go-yaml v2, YAML 1.1 resolution): a plain scalar resolves to null, bool (true/yes/on/y, ...),
// int (decimal, 0x, 0o/leading-0 octal, 0b) or float, a quoted or `!!str` one stays a string.
// Every check is made on that JSON, the very object Kubernetes receives, so what ferry refuses
// is what would run. Duplicate keys are refused (a second `privileged:` must not hide behind the
// first), as are merge keys (`<<`, which yaml-cpp does not expand) and tags other than YAML's
// core ones.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "service/limits.hpp"
#include "service/result.hpp"
#include "service/rules/rules.hpp"

namespace ferry::apply {

struct job_vars {
  std::string env;   // the environment's name (a DNS label of at most 32 characters)
  std::string sha;   // the pushed commit: 40 hex (upper case is accepted and lower-cased)
  std::string repo;  // the infra repository, owner/name
};

// What a Job may do, from FERRY_APPLY_NAMESPACES / FERRY_APPLY_SERVICE_ACCOUNTS.
struct job_policy {
  std::vector<std::string> namespaces;
  std::vector<std::string> service_accounts;
  std::chrono::seconds default_active_deadline = limits::k_apply_job_active_deadline;
  std::chrono::seconds default_ttl_after_finished = limits::k_apply_job_ttl;
  int default_backoff_limit = limits::k_apply_job_backoff_limit;
};

struct rendered_job {
  std::string ns;
  std::string name;
  std::string json;  // the Job to POST to /apis/batch/v1/namespaces/<ns>/jobs
};

// ferry-apply-<env>-<first 12 hex of sha, lower case>. env is a DNS label of at most 32
// characters (the rules validate it), so the name is a valid DNS label of at most 57.
std::string job_name(std::string_view env, std::string_view sha);

// Renders the template:
// - ${ENV}, ${SHA}, ${SHORT_SHA} (the first 12 hex, the same as the Job name, so a person can
//   match the two; git's 7 is only a display default and grows in large repositories) and
//   ${REPO} are substituted inside scalars after parsing, so a substituted value is always text
//   (a commit of digits stays a string) and error positions are those of the file; any other
//   ${...} is left as written;
// - exactly one YAML document holding a batch/v1 Job; YAML errors read
//   "template_path:line:col: message";
// - the namespace is metadata.namespace or, when absent, apply.namespace_name; it must equal
//   apply.namespace_name and be one of policy.namespaces;
// - spec.template.spec.serviceAccountName must be present and one of policy.service_accounts
//   (a deprecated serviceAccount naming another one is refused);
// - privileged containers (containers, initContainers, ephemeralContainers), hostNetwork,
//   hostPID, hostIPC and hostPath volumes are refused, naming the container or volume;
// - metadata.name is set (a template's name is replaced, generateName dropped); labels
//   ferry.dev/env and ferry.dev/commit on the Job and its pod template; annotations
//   ferry.dev/repo and ferry.dev/commit on the Job;
// - activeDeadlineSeconds, ttlSecondsAfterFinished and backoffLimit from `policy` and
//   restartPolicy Never where the template has none (a Job's pods must not restart Always,
//   which is what Kubernetes would default to and then refuse).
// Every refusal is invalid_input: the template is wrong until someone changes it.
result<rendered_job> render_job(std::string_view template_text, std::string_view template_path,
                                const rules::apply_job& apply, const job_vars& vars,
                                const job_policy& policy);

}  // namespace ferry::apply
