#!/usr/bin/env node
// Validates Kubernetes objects against their kind's published OpenAPI schema, for what the
// kube-real test cannot have the v1.20 API server check: kinds it does not serve (policy/v1
// PodDisruptionBudget, autoscaling/v2 HorizontalPodAutoscaler) and the GitOps kinds, whose CRDs
// there are minimal (test/kube-real/flux-crds.yaml, gitops-crds.yaml). Schemas: kubernetes-models
// (generated from Kubernetes' OpenAPI document), @kubernetes-models/flux-cd and
// @kubernetes-models/argo-cd (generated from Flux's and Argo CD's CRDs), and for Fleet and
// Flagger, which publish no npm models, the schemas the Kubernetes double uses
// (test/doubles/kube/fleet-gitrepo.schema.json, flagger-canary.schema.json; checked with ajv as
// the models are).
//
// Usage: node validate-models.js FILE.json   (FILE holds one object or an array of them)
// Prints one line per object: "ok KIND NAMESPACE/NAME" or "invalid KIND NAMESPACE/NAME: reasons".
// Exit: 0 all valid, 1 any invalid, 2 usage error, unreadable input or no model for a kind.
'use strict';
const fs = require('fs');

function usage(message) {
  process.stderr.write(`validate-models: ${message}\nusage: validate-models.js FILE.json\n`);
  process.exit(2);
}

const file = process.argv[2];
if (!file) usage('missing argument');
let input;
try {
  input = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (e) {
  usage(`${file}: ${e.message}`);
}
const objects = Array.isArray(input) ? input : [input];

// kubernetes-models lays its classes out as <group>/<version>/<Kind> ("v1/Pod" for the core
// group); @kubernetes-models/flux-cd does the same for the *.toolkit.fluxcd.io groups.
function model_path(api_version, kind) {
  if (!/^([a-z0-9.-]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/.test(api_version)) return null;
  let pkg = 'kubernetes-models';
  if (/\.toolkit\.fluxcd\.io\//.test(api_version)) pkg = '@kubernetes-models/flux-cd';
  if (/^argoproj\.io\//.test(api_version)) pkg = '@kubernetes-models/argo-cd';
  return `${pkg}/${api_version}/${kind}`;
}

// Kinds with no npm models, held to a JSON schema the Kubernetes double uses too: Fleet's GitRepo
// (transcribed) and Flagger's Canary (the CRD's own openAPIV3Schema).
const k_schema_files = {
  'fleet.cattle.io/v1alpha1 GitRepo': 'fleet-gitrepo.schema.json',
  'flagger.app/v1beta1 Canary': 'flagger-canary.schema.json',
};

// A class with the models' validate() over that schema.
function schema_model(api_version, kind) {
  const file = k_schema_files[`${api_version} ${kind}`];
  if (!file) return null;
  const Ajv = require('ajv');
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addFormat('int64', { type: 'number', validate: (n) => Number.isSafeInteger(n) });
  const schema = require('path').join(__dirname, '..', 'doubles', 'kube', file);
  const check = ajv.compile(JSON.parse(fs.readFileSync(schema, 'utf8')));
  return class {
    constructor(obj) { this.obj = obj; }
    validate() {
      if (!check(this.obj)) {
        const e = new Error('invalid');
        e.errors = check.errors;
        throw e;
      }
    }
  };
}

(async () => {
  let failed = false;
  for (const obj of objects) {
    const kind = obj && obj.kind;
    const meta = (obj && obj.metadata) || {};
    const name = `${kind} ${meta.namespace || ''}/${meta.name || ''}`;
    const path = model_path(String((obj && obj.apiVersion) || ''), String(kind || ''));
    if (!path) usage(`${name}: apiVersion ${JSON.stringify(obj && obj.apiVersion)} is not group/version`);
    let Model = schema_model(String(obj.apiVersion), String(kind));
    if (!Model) {
      try {
        // The packages are ESM only (their exports have no "require" condition).
        Model = (await import(path))[kind];
      } catch (e) {
        usage(`no model for ${obj.apiVersion} ${kind}: ${e.message}`);
      }
    }
    if (typeof Model !== 'function') usage(`no model for ${obj.apiVersion} ${kind}`);
    try {
      new Model(obj).validate();
      process.stdout.write(`ok ${name}\n`);
    } catch (e) {
      failed = true;
      const reasons = (e.errors || [{ instancePath: '', message: e.message }])
          .map((err) => `${err.instancePath || '/'}: ${err.message}`);
      process.stdout.write(`invalid ${name}: ${reasons.join('; ')}\n`);
    }
  }
  process.exit(failed ? 1 : 0);
})();
