#!/usr/bin/env node
// Validates Kubernetes objects against their kind's published OpenAPI schema, for what the
// kube-real test cannot have the v1.20 API server check: kinds it does not serve (policy/v1
// PodDisruptionBudget, autoscaling/v2 HorizontalPodAutoscaler) and Flux objects, whose CRDs there
// are minimal (test/kube-real/flux-crds.yaml). Schemas: kubernetes-models (generated from
// Kubernetes' OpenAPI document) and @kubernetes-models/flux-cd (generated from Flux's CRDs).
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
  const pkg = /\.toolkit\.fluxcd\.io\//.test(api_version) ? '@kubernetes-models/flux-cd' : 'kubernetes-models';
  return `${pkg}/${api_version}/${kind}`;
}

(async () => {
  let failed = false;
  for (const obj of objects) {
    const kind = obj && obj.kind;
    const meta = (obj && obj.metadata) || {};
    const name = `${kind} ${meta.namespace || ''}/${meta.name || ''}`;
    const path = model_path(String((obj && obj.apiVersion) || ''), String(kind || ''));
    if (!path) usage(`${name}: apiVersion ${JSON.stringify(obj && obj.apiVersion)} is not group/version`);
    let Model;
    try {
      // Both packages are ESM only (their exports have no "require" condition).
      Model = (await import(path))[kind];
    } catch (e) {
      usage(`no model for ${obj.apiVersion} ${kind}: ${e.message}`);
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
