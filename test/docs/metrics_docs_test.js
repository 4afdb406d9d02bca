#!/usr/bin/env node
// Every metric the code registers is in docs/metrics.md, and every metric named in the docs, the
// alerts and the Grafana dashboard is registered by the code. Source of truth for the code side:
// the add_counter/add_gauge/add_histogram calls of service/metrics.cpp (a registry rendering test
// would be stronger; not done for lack of time). With kubectl on PATH, also renders the monitoring
// component from a temporary overlay.
'use strict';
const fs = require('fs'), path = require('path'), os = require('os'), cp = require('child_process');
const root = process.argv[2] || path.resolve(__dirname, '../..');
const read = (p) => fs.readFileSync(path.join(root, p), 'utf8');

// Metric names in a PromQL expression: ferry_ identifiers; histogram series suffixes stripped.
function promql_metrics(expr) {
  const names = new Set();
  for (const m of expr.matchAll(/\b(ferry_[a-zA-Z0-9_]+)\s*(?=[{\[)\s=!<>+\-*/,]|$)/g))
    names.add(m[1]);
  return names;
}
function known(name, code) {
  if (code.has(name)) return true;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && code.get(base) === 'histogram';
}

const code = new Map();
for (const m of read('service/metrics.cpp').matchAll(/add_(counter|gauge|histogram)\(\s*"([^"]+)"/g))
  code.set(m[2], m[1]);
let failures = [];
if (code.size === 0) failures.push('no metric found in service/metrics.cpp');

// Self-check: the extractor finds names and a wrong name is caught.
const probe = promql_metrics('sum(rate(ferry_nope_total{a="b"}[5m])) / ferry_rules_valid');
if (!probe.has('ferry_nope_total') || !probe.has('ferry_rules_valid') || known('ferry_nope_total', code))
  failures.push('extractor self-check failed');

const docs = read('docs/metrics.md');
for (const name of code.keys())
  if (!docs.includes('`' + name + '`')) failures.push(`${name} is registered but not in docs/metrics.md`);

const sources = {
  'docs/metrics.md': docs,
  'manifests/components/monitoring/prometheusrule.yaml': read('manifests/components/monitoring/prometheusrule.yaml'),
};
const dash = JSON.parse(read('manifests/components/monitoring/ferry-dashboard.json'));
sources['ferry-dashboard.json'] = dash.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
for (const [file, text] of Object.entries(sources))
  for (const name of promql_metrics(text))
    if (!known(name, code)) failures.push(`${file} names ${name}, which the code does not register`);

const has_kubectl = cp.spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
if (has_kubectl) {
  const t = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-monitoring-'));
  // kustomize refuses absolute paths: copy the manifests next to a temporary overlay.
  fs.cpSync(path.join(root, 'manifests'), path.join(t, 'm'), { recursive: true });
  fs.mkdirSync(path.join(t, 'ov'));
  fs.writeFileSync(path.join(t, 'ov', 'kustomization.yaml'),
    'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n' +
    `resources: [${fs.existsSync(path.join(root, 'manifests/base')) ? '../m/base' : '../m'}]\n` +
    'components: [../m/components/monitoring]\n');
  const r = cp.spawnSync('kubectl', ['kustomize', path.join(t, 'ov')], { encoding: 'utf8' });
  fs.rmSync(t, { recursive: true });
  if (r.status !== 0) failures.push('kubectl kustomize failed: ' + r.stderr);
  else for (const k of ['kind: ServiceMonitor', 'kind: PrometheusRule', 'grafana_dashboard: "1"'])
    if (!r.stdout.includes(k)) failures.push(`rendered overlay lacks ${k}`);
} else console.log('kubectl not on PATH: render check skipped');

if (failures.length) { console.error(failures.join('\n')); process.exit(1); }
console.log(`ok: ${code.size} metrics, docs, alerts and dashboard agree`);
