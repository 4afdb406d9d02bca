#!/usr/bin/env node
// Holds a rendered object to Kubernetes' contract: the OpenAPI schema of its kind
// (kubernetes-models, generated from Kubernetes' own OpenAPI document) plus the object-meta
// rules the schema cannot express (apimachinery validation: names are DNS labels or
// subdomains, label keys and values are label-safe).
//
// Usage: node test/doubles/validate-k8s.js FILE.json KIND
// Exit: 0 valid, 1 refused (reasons on stderr), 2 usage or unreadable input.
'use strict';
const fs = require('fs');

function usage(message) {
  process.stderr.write(`validate-k8s: ${message}\nusage: validate-k8s.js FILE.json KIND\n`);
  process.exit(2);
}

const [file, kind] = process.argv.slice(2);
if (!file || !kind) usage('missing argument');
let obj;
try {
  obj = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (e) {
  usage(`${file}: ${e.message}`);
}
if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) usage(`${file}: not an object`);
if (obj.kind !== kind) {
  process.stderr.write(`kind is ${JSON.stringify(obj.kind)}, expected ${kind}\n`);
  process.exit(1);
}
// kubernetes-models lays its classes out as <group>/<version>/<Kind> ("v1/Pod" for the core group).
const apiVersion = String(obj.apiVersion || '');
if (!/^([a-z0-9.-]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/.test(apiVersion)) {
  process.stderr.write(`apiVersion ${JSON.stringify(obj.apiVersion)} is not group/version\n`);
  process.exit(1);
}

async function schemaProblems() {
  let Model;
  try {
    // The package is ESM only (its exports have no "require" condition).
    Model = (await import(`kubernetes-models/${apiVersion}/${kind}`))[kind];
  } catch (e) {
    usage(`no model for ${apiVersion} ${kind}: ${e.message}`);
  }
  try {
    new Model(obj).validate();
    return [];
  } catch (e) {
    return (e.errors || [{ instancePath: '', message: e.message }])
        .map((err) => `${err.instancePath || '/'}: ${err.message}`);
  }
}

const problems = [];

// k8s.io/apimachinery/pkg/util/validation: IsDNS1123Label, IsQualifiedName, IsValidLabelValue.
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const qualifiedName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
function labelKey(key) {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : '';
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  return (slash < 0 || (prefix.length <= 253 && dnsSubdomain.test(prefix))) &&
         name.length <= 63 && qualifiedName.test(name);
}
function labelValue(v) {
  return typeof v === 'string' && v.length <= 63 && (v === '' || qualifiedName.test(v));
}
function checkMeta(meta, path, needName) {
  if (!meta) return;
  if (needName) {
    // Job names become a label value (job-name) on their pods: a DNS label of at most 63.
    if (typeof meta.name !== 'string' || meta.name.length > 63 || !dnsLabel.test(meta.name)) {
      problems.push(`${path}/name: ${JSON.stringify(meta.name)} is not a DNS label of at most 63`);
    }
    if (meta.namespace !== undefined && !dnsLabel.test(meta.namespace)) {
      problems.push(`${path}/namespace: ${JSON.stringify(meta.namespace)} is not a DNS label`);
    }
  }
  for (const [k, v] of Object.entries(meta.labels || {})) {
    if (!labelKey(k)) problems.push(`${path}/labels: key ${JSON.stringify(k)} is not a label key`);
    if (!labelValue(v)) problems.push(`${path}/labels/${k}: ${JSON.stringify(v)} is not a label value`);
  }
  for (const [k, v] of Object.entries(meta.annotations || {})) {
    if (!labelKey(k)) problems.push(`${path}/annotations: key ${JSON.stringify(k)} is not a key`);
    if (typeof v !== 'string') problems.push(`${path}/annotations/${k}: not a string`);
  }
}
checkMeta(obj.metadata, '/metadata', true);
if (kind === 'Job') {
  const pod = obj.spec && obj.spec.template;
  checkMeta(pod && pod.metadata, '/spec/template/metadata', false);
  // batch/v1 validation (pkg/apis/batch/validation): a Job's pods restart Never or OnFailure.
  const policy = pod && pod.spec && pod.spec.restartPolicy;
  if (policy !== 'Never' && policy !== 'OnFailure') {
    problems.push(`/spec/template/spec/restartPolicy: ${JSON.stringify(policy)} must be Never or OnFailure`);
  }
}

schemaProblems().then((schema) => {
  problems.unshift(...schema);
  if (problems.length > 0) {
    process.stderr.write(problems.join('\n') + '\n');
    process.exit(1);
  }
});
