'use strict';
// The Kubernetes double's REST contract: authentication, the namespace allow-list, create / get /
// update / patch / delete with the API server's Status answers, and validation.

const test = require('node:test');
const assert = require('node:assert/strict');
const { start_kube } = require('./harness');

const k_jobs = '/apis/batch/v1/namespaces/apps/jobs';
const k_kustomizations = '/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations';
const k_leases = '/apis/coordination.k8s.io/v1/namespaces/apps/leases';

function job(name, spec_extra = {}) {
  return {
    apiVersion: 'batch/v1', kind: 'Job', metadata: { name },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'run', image: 'ghcr.io/acme/tool:1.2.3' }] } }, ...spec_extra },
  };
}

function kustomization(name) {
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name, namespace: 'flux-system' },
    spec: { interval: '10m', prune: true, path: './apps', sourceRef: { kind: 'GitRepository', name: 'fleet' } },
  };
}

let d;
test.before(async () => {
  d = await start_kube(['--namespaces', 'flux-system,apps']);
});
test.after(() => d.stop());

test('every API request needs the current token; a rotated file is re-read', async () => {
  const missing = await d.api('GET', k_jobs, { token: null });
  assert.equal(missing.status, 401);
  assert.deepEqual(missing.body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
  const old = d.token();
  assert.equal((await d.api('GET', k_jobs, { token: old })).status, 200);
  d.rotate_token('rotated-token-value');
  assert.equal((await d.api('GET', k_jobs, { token: old })).status, 401, 'the old token stops working');
  assert.equal((await d.api('GET', k_jobs, { token: 'rotated-token-value' })).status, 200, 'the new one works at once');
  const log = (await d.control('GET', 'requests')).body;
  assert.equal(log.find((r) => r.status === 401).auth, 'failed');
  assert.equal(log.find((r) => r.status === 401).auth_error, 'no Authorization header');
  assert.deepEqual(log.slice(-3).map((r) => [r.auth, r.status]), [['ok', 200], ['failed', 401], ['ok', 200]]);
  const v = await d.violations();
  assert.ok(v.some((x) => x.status === 401 && x.reason === 'Unauthorized'));
  await d.control('DELETE', 'violations');
  assert.deepEqual(await d.violations(), []);
});

test('namespaces outside --namespaces are forbidden with the API server message', async () => {
  const r = await d.api('POST', '/apis/batch/v1/namespaces/kube-system/jobs', { body: job('x') });
  assert.equal(r.status, 403);
  assert.equal(r.body.reason, 'Forbidden');
  assert.equal(r.body.message, 'jobs.batch is forbidden: User "system:serviceaccount:ferry:ferry" cannot create resource "jobs" in API group "batch" in the namespace "kube-system"');
  const g = await d.api('GET', '/api/v1/namespaces/default/pods/p/log');
  assert.equal(g.status, 403);
  assert.equal(g.body.message, 'pods "p" is forbidden: User "system:serviceaccount:ferry:ferry" cannot get resource "pods/log" in API group "" in the namespace "default"');
  await d.control('DELETE', 'violations');
});

test('create answers 201 with server fields and Job defaults; a second create is 409 AlreadyExists', async () => {
  const r = await d.api('POST', k_jobs, { body: job('build-1') });
  assert.equal(r.status, 201);
  const m = r.body.metadata;
  assert.match(m.uid, /^[0-9a-f-]{36}$/);
  assert.match(m.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.match(m.resourceVersion, /^[0-9]+$/);
  assert.equal(m.generation, 1);
  assert.equal(m.namespace, 'apps');
  assert.equal(r.body.spec.backoffLimit, 6);
  assert.equal(r.body.spec.completions, 1);
  assert.equal(r.body.spec.parallelism, 1);
  assert.equal(r.body.spec.template.metadata.labels['job-name'], 'build-1');
  assert.equal(r.body.spec.selector.matchLabels['batch.kubernetes.io/controller-uid'], m.uid);
  assert.deepEqual(r.body.status, {});

  const again = await d.api('POST', k_jobs, { body: job('build-1') });
  assert.equal(again.status, 409);
  assert.equal(again.body.reason, 'AlreadyExists');
  assert.equal(again.body.message, 'jobs.batch "build-1" already exists');
  assert.deepEqual(again.body.details, { name: 'build-1', group: 'batch', kind: 'jobs' });

  const nulls = await d.api('POST', k_jobs, { body: { ...job('nulls', { activeDeadlineSeconds: null }), status: null } });
  assert.equal(nulls.status, 201);
  assert.equal('activeDeadlineSeconds' in nulls.body.spec, false, 'a null member reads as absent');

  const gen = await d.api('POST', k_jobs, { body: { ...job(undefined), metadata: { generateName: 'ferry-run-' } } });
  assert.equal(gen.status, 201);
  assert.match(gen.body.metadata.name, /^ferry-run-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
});

test('get answers the object or 404 NotFound; a list filters by label and field selectors', async () => {
  const r = await d.api('GET', `${k_jobs}/build-1`);
  assert.equal(r.status, 200);
  assert.equal(r.body.kind, 'Job');
  const nf = await d.api('GET', `${k_jobs}/nope`);
  assert.equal(nf.status, 404);
  assert.equal(nf.body.reason, 'NotFound');
  assert.equal(nf.body.message, 'jobs.batch "nope" not found');

  await d.api('POST', k_jobs, { body: { ...job('labelled'), metadata: { name: 'labelled', labels: { app: 'ferry', tier: 'x' } } } });
  const l = await d.api('GET', `${k_jobs}?labelSelector=${encodeURIComponent('app=ferry,tier=x')}`);
  assert.equal(l.body.kind, 'JobList');
  assert.match(l.body.metadata.resourceVersion, /^[0-9]+$/);
  assert.deepEqual(l.body.items.map((i) => i.metadata.name), ['labelled']);
  assert.equal(l.body.items[0].kind, undefined, 'items of a built-in list carry no kind');
  const none = await d.api('GET', `${k_jobs}?labelSelector=${encodeURIComponent('app=ferry,tier=y')}`);
  assert.deepEqual(none.body.items, []);
  const f = await d.api('GET', `${k_jobs}?fieldSelector=metadata.name%3Dbuild-1`);
  assert.deepEqual(f.body.items.map((i) => i.metadata.name), ['build-1']);
});

test('invalid objects are 422 Invalid with causes in the API server form', async () => {
  await d.control('DELETE', 'violations');
  const no_containers = job('no-containers');
  delete no_containers.spec.template.spec.containers;
  const r = await d.api('POST', k_jobs, { body: no_containers });
  assert.equal(r.status, 422);
  assert.equal(r.body.reason, 'Invalid');
  assert.equal(r.body.message, 'Job.batch "no-containers" is invalid: spec.template.spec.containers: Required value');
  assert.deepEqual(r.body.details, {
    name: 'no-containers', group: 'batch', kind: 'Job',
    causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.template.spec.containers' }],
  });

  const long = 'a'.repeat(64);
  const l = await d.api('POST', k_jobs, { body: job(long) });
  assert.equal(l.status, 422);
  assert.equal(l.body.message, `Job.batch "${long}" is invalid: spec.template.labels: Invalid value: "${long}": must be no more than 63 bytes`);
  assert.ok(l.body.details.causes.every((c) => c.field === 'spec.template.labels' && c.reason === 'FieldValueInvalid'));
  assert.equal((await d.api('POST', k_jobs, { body: job('a'.repeat(63)) })).status, 201, '63 characters is fine');

  const bad_name = await d.api('POST', k_jobs, { body: job('Bad_Name') });
  assert.equal(bad_name.status, 422);
  assert.equal(bad_name.body.details.causes[0].field, 'metadata.name');

  const always = job('always');
  always.spec.template.spec.restartPolicy = 'Always';
  const a = await d.api('POST', k_jobs, { body: always });
  assert.equal(a.status, 422);
  assert.deepEqual(a.body.details.causes, [{ reason: 'FieldValueNotSupported', message: 'Unsupported value: "Always": supported values: "OnFailure", "Never"', field: 'spec.template.spec.restartPolicy' }]);

  const k = kustomization('bad');
  delete k.spec.prune;
  k.spec.sourceRef.kind = 'HelmRepository';
  const kr = await d.api('POST', k_kustomizations, { body: k });
  assert.equal(kr.status, 422);
  assert.deepEqual(kr.body.details.causes.map((c) => [c.reason, c.field]).sort(),
    [['FieldValueNotSupported', 'spec.sourceRef.kind'], ['FieldValueRequired', 'spec.prune']]);
  assert.equal(kr.body.details.group, 'kustomize.toolkit.fluxcd.io');

  const v = await d.violations();
  assert.equal(v.filter((x) => x.status === 422).length, 5);
  assert.ok(v.every((x) => x.reason === 'Invalid'));
});

test('bodies that are not JSON, of another apiVersion or another kind are 400 BadRequest', async () => {
  const r = await d.api('POST', k_jobs, { raw: '{"metadata":' });
  assert.equal(r.status, 400);
  assert.equal(r.body.reason, 'BadRequest');
  const v = await d.api('POST', k_jobs, { body: { ...job('v'), apiVersion: 'batch/v1beta1' } });
  assert.equal(v.status, 400);
  assert.equal(v.body.message, 'the API version in the data (batch/v1beta1) does not match the expected API version (batch/v1)');
  const k = await d.api('POST', k_jobs, { body: { ...job('k'), kind: 'CronJob' } });
  assert.equal(k.status, 400);
  const t = await d.api('POST', k_jobs, { body: job('t', { backoffLimit: 'six' }) });
  assert.equal(t.status, 400, 'a wrong JSON type in a built-in type is a decode error');
  const ct = await d.api('POST', k_jobs, { body: job('ct'), content_type: 'text/plain' });
  assert.equal(ct.status, 415);
  const with_rv = await d.api('POST', k_jobs, { body: { ...job('rv'), metadata: { name: 'rv', resourceVersion: '5' } } });
  assert.equal(with_rv.status, 500, 'a real API server refuses a resourceVersion on create');
  assert.equal(with_rv.body.message, 'Internal error occurred: resourceVersion should not be set on objects to be created');
  assert.ok((await d.violations()).some((v) => v.status === 500));
});

test('merge patch and JSON patch apply, bump resourceVersion and are validated afterwards', async () => {
  const created = await d.api('POST', k_kustomizations, { body: kustomization('apps') });
  assert.equal(created.status, 201);
  const rv0 = Number(created.body.metadata.resourceVersion);
  const at = '2026-11-24T01:00:00Z';
  const mp = await d.api('PATCH', `${k_kustomizations}/apps`, {
    body: { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': at } } }, content_type: 'application/merge-patch+json',
  });
  assert.equal(mp.status, 200);
  assert.equal(mp.body.metadata.annotations['reconcile.fluxcd.io/requestedAt'], at);
  assert.ok(Number(mp.body.metadata.resourceVersion) > rv0);
  assert.equal(mp.body.metadata.generation, 1, 'metadata changes do not bump generation');

  const jp = await d.api('PATCH', `${k_kustomizations}/apps`, {
    body: [{ op: 'test', path: '/spec/prune', value: true }, { op: 'add', path: '/spec/suspend', value: true },
      { op: 'remove', path: '/metadata/annotations/reconcile.fluxcd.io~1requestedAt' }],
    content_type: 'application/json-patch+json',
  });
  assert.equal(jp.status, 200);
  assert.equal(jp.body.spec.suspend, true);
  assert.equal(jp.body.metadata.generation, 2, 'spec changes bump generation');
  assert.equal(jp.body.metadata.annotations['reconcile.fluxcd.io/requestedAt'], undefined);

  const replace_missing = await d.api('PATCH', `${k_kustomizations}/apps`, {
    body: [{ op: 'replace', path: '/spec/timeout', value: '1m' }], content_type: 'application/json-patch+json',
  });
  assert.equal(replace_missing.status, 422, 'RFC 6902 replace needs an existing target');

  const failed_test = await d.api('PATCH', `${k_kustomizations}/apps`, {
    body: [{ op: 'test', path: '/spec/prune', value: false }], content_type: 'application/json-patch+json',
  });
  assert.equal(failed_test.status, 422);

  const null_removes = await d.api('PATCH', `${k_kustomizations}/apps`, { body: { spec: { prune: null } }, content_type: 'application/merge-patch+json' });
  assert.equal(null_removes.status, 422, 'removing a required field by merge patch is invalid');
  assert.equal(null_removes.body.details.causes[0].field, 'spec.prune');

  const stale = await d.api('PATCH', `${k_kustomizations}/apps`, {
    body: { metadata: { resourceVersion: created.body.metadata.resourceVersion, labels: { a: 'b' } } }, content_type: 'application/merge-patch+json',
  });
  assert.equal(stale.status, 409, 'a resourceVersion in a patch is a precondition');
  assert.equal(stale.body.reason, 'Conflict');

  const nf = await d.api('PATCH', `${k_kustomizations}/nope`, { body: {}, content_type: 'application/merge-patch+json' });
  assert.equal(nf.status, 404);
});

test('strategic merge patch is 415 for a Kustomization and accepted for a Job; other types are 415', async () => {
  await d.control('DELETE', 'violations');
  const smp = await d.api('PATCH', `${k_kustomizations}/apps`, { body: { spec: { suspend: false } }, content_type: 'application/strategic-merge-patch+json' });
  assert.equal(smp.status, 415);
  assert.equal(smp.body.reason, 'UnsupportedMediaType');
  const ok = await d.api('PATCH', `${k_jobs}/build-1`, { body: { metadata: { labels: { a: 'b' } } }, content_type: 'application/strategic-merge-patch+json' });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.metadata.labels.a, 'b');
  const json = await d.api('PATCH', `${k_jobs}/build-1`, { body: { metadata: {} }, content_type: 'application/json' });
  assert.equal(json.status, 415);
  const v = await d.violations();
  assert.deepEqual(v.map((x) => x.status), [415, 415]);
});

test('PUT with a stale resourceVersion is 409 Conflict; custom resources require one', async () => {
  const cur = (await d.api('GET', `${k_kustomizations}/apps`)).body;
  const first = await d.api('PUT', `${k_kustomizations}/apps`, { body: { ...cur, spec: { ...cur.spec, path: './v2' } } });
  assert.equal(first.status, 200);
  assert.notEqual(first.body.metadata.resourceVersion, cur.metadata.resourceVersion);
  const stale = await d.api('PUT', `${k_kustomizations}/apps`, { body: { ...cur, spec: { ...cur.spec, path: './v3' } } });
  assert.equal(stale.status, 409);
  assert.equal(stale.body.reason, 'Conflict');
  assert.equal(stale.body.message, 'Operation cannot be fulfilled on kustomizations.kustomize.toolkit.fluxcd.io "apps": the object has been modified; please apply your changes to the latest version and try again');
  const no_rv = structuredClone(first.body);
  delete no_rv.metadata.resourceVersion;
  assert.equal((await d.api('PUT', `${k_kustomizations}/apps`, { body: no_rv })).status, 422);
  const renamed = { ...first.body, metadata: { ...first.body.metadata, name: 'other' } };
  assert.equal((await d.api('PUT', `${k_kustomizations}/apps`, { body: renamed })).status, 400);
  const status_ignored = await d.api('PUT', `${k_kustomizations}/apps`, { body: { ...first.body, status: { lastAppliedRevision: 'main@sha1:x' } } });
  assert.equal(status_ignored.status, 200);
  assert.equal(status_ignored.body.status, undefined, 'status is a subresource: writes to the object ignore it');
});

test('v1beta2 Flux paths serve the same objects at that version', async () => {
  const r = await d.api('GET', '/apis/kustomize.toolkit.fluxcd.io/v1beta2/namespaces/flux-system/kustomizations/apps');
  assert.equal(r.status, 200);
  assert.equal(r.body.apiVersion, 'kustomize.toolkit.fluxcd.io/v1beta2');
  const g = await d.api('GET', '/apis/source.toolkit.fluxcd.io/v1beta2/namespaces/flux-system/gitrepositories');
  assert.equal(g.body.kind, 'GitRepositoryList');
});

test('leases: create, renew with PUT, MicroTime is strict, delete answers Status Success', async () => {
  const spec = { holderIdentity: 'ferry-a', leaseDurationSeconds: 15, acquireTime: '2026-11-24T01:00:00.000000Z', renewTime: '2026-11-24T01:00:00.000000Z' };
  const c = await d.api('POST', k_leases, { body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'ferry' }, spec } });
  assert.equal(c.status, 201);
  assert.equal(c.body.metadata.generation, undefined);
  const renew = await d.api('PUT', `${k_leases}/ferry`, { body: { ...c.body, spec: { ...spec, renewTime: '2026-11-24T01:00:05.000000Z' } } });
  assert.equal(renew.status, 200);
  const lost = await d.api('PUT', `${k_leases}/ferry`, { body: { ...c.body, spec: { ...spec, holderIdentity: 'ferry-b' } } });
  assert.equal(lost.status, 409, 'the second writer with the old resourceVersion loses');
  const seconds = await d.api('PUT', `${k_leases}/ferry`, { body: { ...renew.body, spec: { ...spec, renewTime: '2026-11-24T01:00:10Z' } } });
  assert.equal(seconds.status, 400, 'MicroTime needs six fractional digits');
  const del = await d.api('DELETE', `${k_leases}/ferry`);
  assert.equal(del.status, 200);
  assert.equal(del.body.status, 'Success');
  assert.equal(del.body.details.name, 'ferry');
  assert.equal((await d.api('DELETE', `${k_leases}/ferry`)).status, 404);
});

test('faults answer a Status with the given code, Retry-After for 429, then stop', async () => {
  await d.control('POST', 'faults', { method: 'GET', path_regex: '/leases$', status: 429, count: 1 });
  const r = await d.api('GET', k_leases);
  assert.equal(r.status, 429);
  assert.equal(r.headers['retry-after'], '1');
  assert.equal(r.body.reason, 'TooManyRequests');
  assert.equal((await d.api('GET', k_leases)).status, 200);
  await d.control('POST', 'faults', { status: 503, count: 2 });
  assert.equal((await d.api('GET', k_jobs)).status, 503);
  assert.equal((await d.api('GET', k_leases)).status, 503);
  assert.equal((await d.api('GET', k_leases)).status, 200);
});
