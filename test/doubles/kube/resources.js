'use strict';
// The resources the double serves, their generated validators (kubernetes-models 5.1.0,
// @kubernetes-models/flux-cd 4.0.0, @kubernetes-models/argo-cd 4.0.0: Jobs, Pods, Leases,
// Deployments; Flux's GitRepository, OCIRepository, Bucket, Kustomization and HelmRelease; Argo
// CD's Application; ESM, so loaded with import()), and the translation of a
// validator's errors into the answers a real API server gives.
//
// Two kinds of answer, as on a real server:
// - built-in types are decoded into Go structs first, so a wrong JSON type (or a time that does not
//   parse) is a decode error: 400 BadRequest "Job in version "v1" cannot be handled as a Job: ...";
// - everything else (missing required fields, enums, the extra checks below) is 422 Invalid with
//   details.causes. Custom resources are validated against their OpenAPI schema, so for them a
//   wrong type is a 422 cause of reason FieldValueTypeInvalid.

const k_resources = [
  {
    resource: 'jobs', group: 'batch', versions: ['v1'], kind: 'Job', builtin: true,
    status_subresource: true, generation: true,
    model: { v1: ['kubernetes-models/batch/v1/Job', 'Job'] },
  },
  {
    resource: 'pods', group: '', versions: ['v1'], kind: 'Pod', builtin: true,
    status_subresource: true, generation: false,
    model: { v1: ['kubernetes-models/v1/Pod', 'Pod'] },
  },
  {
    resource: 'leases', group: 'coordination.k8s.io', versions: ['v1'], kind: 'Lease', builtin: true,
    status_subresource: false, generation: false,
    model: { v1: ['kubernetes-models/coordination.k8s.io/v1/Lease', 'Lease'] },
  },
  {
    resource: 'gitrepositories', group: 'source.toolkit.fluxcd.io', versions: ['v1', 'v1beta2'], kind: 'GitRepository',
    builtin: false, status_subresource: true, generation: true,
    model: {
      v1: ['@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1/GitRepository', 'GitRepository'],
      v1beta2: ['@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1beta2/GitRepository', 'GitRepository'],
    },
  },
  {
    resource: 'ocirepositories', group: 'source.toolkit.fluxcd.io', versions: ['v1', 'v1beta2'], kind: 'OCIRepository',
    builtin: false, status_subresource: true, generation: true,
    model: {
      v1: ['@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1/OCIRepository', 'OCIRepository'],
      v1beta2: ['@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1beta2/OCIRepository', 'OCIRepository'],
    },
  },
  {
    resource: 'buckets', group: 'source.toolkit.fluxcd.io', versions: ['v1', 'v1beta2'], kind: 'Bucket',
    builtin: false, status_subresource: true, generation: true,
    model: {
      v1: ['@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1/Bucket', 'Bucket'],
      v1beta2: ['@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1beta2/Bucket', 'Bucket'],
    },
  },
  {
    resource: 'helmreleases', group: 'helm.toolkit.fluxcd.io', versions: ['v2', 'v2beta2'], kind: 'HelmRelease',
    builtin: false, status_subresource: true, generation: true,
    model: {
      v2: ['@kubernetes-models/flux-cd/helm.toolkit.fluxcd.io/v2/HelmRelease', 'HelmRelease'],
      v2beta2: ['@kubernetes-models/flux-cd/helm.toolkit.fluxcd.io/v2beta2/HelmRelease', 'HelmRelease'],
    },
  },
  {
    // Fleet publishes no npm models: its GitRepo is held to the fields ferry uses, transcribed
    // from rancher/fleet's Go types (fleet-gitrepo.schema.json names the source and commit).
    resource: 'gitrepos', group: 'fleet.cattle.io', versions: ['v1alpha1'], kind: 'GitRepo',
    builtin: false, status_subresource: true, generation: true,
    schema: { v1alpha1: 'fleet-gitrepo.schema.json' },
  },
  {
    // Flagger publishes no npm models: its Canary is held to the CRD's own openAPIV3Schema
    // (flagger-canary.schema.json, from fluxcd/flagger artifacts/flagger/crd.yaml, commit named
    // there). Flagger's controller writes status through the status subresource.
    resource: 'canaries', group: 'flagger.app', versions: ['v1beta1'], kind: 'Canary',
    builtin: false, status_subresource: true, generation: true,
    schema: { v1beta1: 'flagger-canary.schema.json' },
  },
  {
    // Argo CD's Application CRD has no status subresource: its controller writes status with the
    // object, and a client's write keeps whatever status it sends.
    resource: 'applications', group: 'argoproj.io', versions: ['v1alpha1'], kind: 'Application',
    builtin: false, status_subresource: false, generation: true,
    model: { v1alpha1: ['@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application', 'Application'] },
  },
  {
    resource: 'deployments', group: 'apps', versions: ['v1'], kind: 'Deployment', builtin: true,
    status_subresource: true, generation: true,
    model: { v1: ['kubernetes-models/apps/v1/Deployment', 'Deployment'] },
  },
  {
    resource: 'kustomizations', group: 'kustomize.toolkit.fluxcd.io', versions: ['v1', 'v1beta2'], kind: 'Kustomization',
    builtin: false, status_subresource: true, generation: true,
    model: {
      v1: ['@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1/Kustomization', 'Kustomization'],
      v1beta2: ['@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1beta2/Kustomization', 'Kustomization'],
    },
  },
];

for (const r of k_resources) {
  // "jobs.batch", "pods": how the API server names a resource in messages.
  r.qualified = r.group ? `${r.resource}.${r.group}` : r.resource;
  // "Job.batch", "Pod": how it names a kind in "... is invalid" messages.
  r.qualified_kind = r.group ? `${r.kind}.${r.group}` : r.kind;
  r.api_version = (v) => (r.group ? `${r.group}/${v}` : v);
}

const by_resource = new Map(k_resources.map((r) => [r.resource, r]));
const by_kind = new Map(k_resources.map((r) => [r.kind, r]));

let validators = null; // "Kind/version" -> validate(plain object) -> ajv-style errors or []

async function load_validators() {
  const out = new Map();
  for (const r of k_resources) {
    for (const [version, file] of Object.entries(r.schema || {})) {
      // A transcribed JSON schema, checked with ajv (the validator the generated models use).
      const Ajv = require('ajv');
      const ajv = new Ajv({ allErrors: true, strict: false });
      ajv.addFormat('int64', { type: 'number', validate: (n) => Number.isSafeInteger(n) });
      const check = ajv.compile(JSON.parse(require('fs').readFileSync(require('path').join(__dirname, file), 'utf8')));
      out.set(`${r.kind}/${version}`, (obj) => (check(obj) ? [] : check.errors));
    }
    for (const [version, [spec, name]] of Object.entries(r.model || {})) {
      const cls = (await import(spec))[name];
      out.set(`${r.kind}/${version}`, (obj) => {
        try {
          new cls(obj).validate();
          return [];
        } catch (e) {
          if (Array.isArray(e.errors)) {
            return e.errors;
          }
          throw e;
        }
      });
    }
  }
  validators = out;
}

// "/spec/template/spec/containers/0/name" -> "spec.template.spec.containers[0].name"; members of
// string maps (labels, annotations) use the API server's "[key]" form.
const k_map_fields = new Set(['labels', 'annotations', 'matchLabels', 'nodeSelector', 'data', 'stringData', 'substitute', 'commonLabels', 'commonAnnotations']);
function field_path(instance_path, extra) {
  const tokens = instance_path.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) {
    tokens.push(extra);
  }
  let out = '';
  let prev = null;
  for (const t of tokens) {
    if (/^(0|[1-9][0-9]*)$/.test(t) && prev !== null && !k_map_fields.has(prev)) {
      out += `[${t}]`;
    } else if (prev !== null && k_map_fields.has(prev)) {
      out += `[${t}]`;
    } else {
      out += out ? `.${t}` : t;
    }
    prev = t;
  }
  return out;
}

function value_at(obj, instance_path) {
  let cur = obj;
  for (const t of instance_path.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') {
      return undefined;
    }
    cur = cur[t.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

// Go's %v-ish rendering the API server uses in "Invalid value: X" (strings quoted, the rest JSON).
const show = (v) => (typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'null' : JSON.stringify(v));

// A cause as in metav1.StatusCause: {reason, message, field}.
function cause(reason, field, message) {
  return { reason, message, field };
}
const required = (field, detail) => cause('FieldValueRequired', field, detail ? `Required value: ${detail}` : 'Required value');
const invalid = (field, value, detail) => cause('FieldValueInvalid', field, `Invalid value: ${show(value)}: ${detail}`);
const not_supported = (field, value, allowed) => cause('FieldValueNotSupported', field,
  `Unsupported value: ${show(value)}: supported values: ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);

// Validates obj (already carrying server-set metadata) as resource r at version. Returns
// {decode_error: string} (400), {causes: [...]} (422) or {} when valid.
function validate(r, version, obj) {
  const errors = validators.get(`${r.kind}/${version}`)(obj);
  if (r.builtin) {
    const decode = errors.find((e) => e.keyword === 'type' || e.keyword === 'format');
    if (decode) {
      const field = field_path(decode.instancePath);
      const what = decode.keyword === 'type'
        ? `json: cannot unmarshal ${json_type(value_at(obj, decode.instancePath))} into Go struct field .${field} of type ${decode.params.type}`
        : `parsing time ${JSON.stringify(value_at(obj, decode.instancePath))}: ${field} is not an RFC 3339 time`;
      return { decode_error: `${r.kind} in version "${version}" cannot be handled as a ${r.kind}: ${what}` };
    }
    const micro = micro_time_error(r, obj);
    if (micro) {
      return { decode_error: `${r.kind} in version "${version}" cannot be handled as a ${r.kind}: ${micro}` };
    }
  }
  const causes = [];
  for (const e of errors) {
    const value = value_at(obj, e.instancePath);
    const field = field_path(e.instancePath);
    switch (e.keyword) {
      case 'required':
        causes.push(required(field_path(e.instancePath, e.params.missingProperty)));
        break;
      case 'enum':
        causes.push(not_supported(field, value, e.params.allowedValues));
        break;
      case 'type':
        // apiextensions-apiserver's wording for a schema type mismatch.
        causes.push(cause('FieldValueTypeInvalid', field, `Invalid value: ${show(json_type(value))}: ${field} in body must be of type ${e.params.type}: ${show(json_type(value))}`));
        break;
      default:
        causes.push(invalid(field, value, `${field} in body ${e.message}`));
    }
  }
  causes.push(...semantic_causes(r, obj));
  return causes.length ? { causes } : {};
}

function json_type(v) {
  if (v === null) {
    return 'null';
  }
  if (Array.isArray(v)) {
    return 'array';
  }
  return typeof v;
}

// metav1.MicroTime (Lease acquireTime/renewTime) is parsed with Go's layout
// "2006-01-02T15:04:05.000000Z07:00": exactly six fractional digits are required, so
// "2026-01-01T00:00:00Z" is a decode error on a real server (apimachinery micro_time.go).
const k_micro_time = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;
function micro_time_error(r, obj) {
  if (r.kind !== 'Lease' || !obj.spec) {
    return null;
  }
  for (const f of ['acquireTime', 'renewTime']) {
    const v = obj.spec[f];
    if (v !== undefined && v !== null && !k_micro_time.test(v)) {
      return `parsing time ${JSON.stringify(JSON.stringify(v))} as "\\"2006-01-02T15:04:05.000000Z07:00\\"": cannot parse spec.${f} as ".000000"`;
    }
  }
  return null;
}

// RFC 1123 subdomain and label, with the API server's messages (apimachinery
// pkg/util/validation/validation.go).
const k_dns1123_subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const k_dns1123_label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const k_subdomain_msg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const k_label_msg = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

function name_causes(name) {
  const out = [];
  if (name.length > 253) {
    out.push(invalid('metadata.name', name, 'must be no more than 253 bytes'));
  }
  if (!k_dns1123_subdomain.test(name)) {
    out.push(invalid('metadata.name', name, k_subdomain_msg));
  }
  return out;
}

// apimachinery MaxLenError says "must be no more than N bytes" since about Kubernetes 1.34
// ("characters" before); clients must not parse it either way.
// Label values: <= 63 characters, (([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?
function label_value_causes(field, v) {
  const out = [];
  if (typeof v !== 'string') {
    return out;
  }
  if (v.length > 63) {
    out.push(invalid(field, v, 'must be no more than 63 bytes'));
  }
  if (!/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v)) {
    out.push(invalid(field, v, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"));
  }
  return out;
}

// The API server's own validation beyond the OpenAPI schema, for what ferry sends.
function semantic_causes(r, obj) {
  const out = [];
  const meta = obj.metadata || {};
  if (typeof meta.name === 'string') {
    out.push(...name_causes(meta.name));
  }
  for (const [k, v] of Object.entries(meta.labels || {})) {
    out.push(...label_value_causes('metadata.labels', v));
    void k;
  }
  if (r.kind === 'Job') {
    out.push(...job_causes(obj));
  }
  if (r.kind === 'Pod' && obj.spec) {
    out.push(...container_causes('spec', obj.spec));
  }
  if (r.kind === 'Lease' && obj.spec) {
    // pkg/apis/coordination/validation: durations must be positive, transitions non-negative.
    if (typeof obj.spec.leaseDurationSeconds === 'number' && obj.spec.leaseDurationSeconds <= 0) {
      out.push(invalid('spec.leaseDurationSeconds', obj.spec.leaseDurationSeconds, 'must be greater than 0'));
    }
    if (typeof obj.spec.leaseTransitions === 'number' && obj.spec.leaseTransitions < 0) {
      out.push(invalid('spec.leaseTransitions', obj.spec.leaseTransitions, 'must be greater than or equal to 0'));
    }
  }
  if (!r.builtin && obj.spec) {
    // Flux CRDs: interval-like fields carry pattern ^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$ (the CRD YAML
    // in fluxcd/kustomize-controller and source-controller), which the generated models omit.
    for (const f of ['interval', 'retryInterval', 'timeout']) {
      const v = obj.spec[f];
      if (typeof v === 'string' && !/^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/.test(v)) {
        out.push(invalid(`spec.${f}`, v, `spec.${f} in body should match '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$'`));
      }
    }
  }
  return out;
}

function container_causes(prefix, pod_spec) {
  const out = [];
  const containers = Array.isArray(pod_spec.containers) ? pod_spec.containers : [];
  if (Array.isArray(pod_spec.containers) && containers.length === 0) {
    out.push(required(`${prefix}.containers`));
  }
  containers.forEach((c, i) => {
    if (!c || typeof c !== 'object') {
      return;
    }
    if (typeof c.name === 'string' && !k_dns1123_label.test(c.name)) {
      out.push(invalid(`${prefix}.containers[${i}].name`, c.name, k_label_msg));
    }
    if (c.image === undefined || c.image === '') {
      out.push(required(`${prefix}.containers[${i}].image`));
    }
  });
  return out;
}

function job_causes(job) {
  const out = [];
  const spec = job.spec || {};
  for (const f of ['backoffLimit', 'completions', 'parallelism', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished']) {
    if (typeof spec[f] === 'number' && spec[f] < 0) {
      out.push(invalid(`spec.${f}`, spec[f], 'must be greater than or equal to 0'));
    }
  }
  const tspec = spec.template && spec.template.spec;
  if (tspec && typeof tspec === 'object') {
    out.push(...container_causes('spec.template.spec', tspec));
    // pkg/apis/batch/validation: a Job's pods may only restart Never or OnFailure; the pod
    // default (Always) is applied first, so an omitted policy is reported as "Always".
    const rp = tspec.restartPolicy === undefined ? 'Always' : tspec.restartPolicy;
    if (rp !== 'Never' && rp !== 'OnFailure') {
      out.push(not_supported('spec.template.spec.restartPolicy', rp, ['OnFailure', 'Never']));
    }
  }
  // The server copies the Job's name into the pod template labels job-name and
  // batch.kubernetes.io/job-name, so a name over 63 characters fails there (one cause per label).
  const labels = (spec.template && spec.template.metadata && spec.template.metadata.labels) || {};
  for (const v of Object.values(labels)) {
    out.push(...label_value_causes('spec.template.labels', v));
  }
  return out;
}

module.exports = {
  k_resources, by_resource, by_kind, load_validators, validate, name_causes, required, invalid,
};
