'use strict';
// Watch semantics of the Kubernetes double, per kubernetes.io "API concepts: efficient detection
// of changes": resume from a resourceVersion, 410 Expired for a compacted one, synthetic ADDED
// without one, live delivery, selectors, timeoutSeconds and bookmarks.

const test = require('node:test');
const assert = require('node:assert/strict');
const { start_kube } = require('./harness');

const k_leases = '/apis/coordination.k8s.io/v1/namespaces/apps/leases';

function lease(name, holder, labels) {
  return {
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, labels },
    spec: { holderIdentity: holder, leaseDurationSeconds: 15 },
  };
}

let d;
test.before(async () => {
  d = await start_kube();
});
test.after(() => d.stop());

test('a watch from a resourceVersion gets later changes only, pushed live as they happen', async () => {
  const a = await d.api('POST', k_leases, { body: lease('a', 'one') });
  const rv = a.body.metadata.resourceVersion;
  await d.api('PUT', `${k_leases}/a`, { body: { ...a.body, spec: { ...a.body.spec, holderIdentity: 'two' } } });
  const w = await d.watch(`${k_leases}?watch=1&resourceVersion=${rv}`);
  assert.equal(w.status, 200);
  assert.equal(w.headers['content-type'], 'application/json');
  assert.equal(w.headers['transfer-encoding'], 'chunked');
  const replayed = await w.next();
  assert.equal(replayed.type, 'MODIFIED');
  assert.equal(replayed.object.spec.holderIdentity, 'two');
  assert.equal(replayed.object.kind, 'Lease');
  assert.equal(replayed.object.apiVersion, 'coordination.k8s.io/v1');

  // The stream is open and idle; this change must arrive on it without a new request.
  const cur = (await d.api('GET', `${k_leases}/a`)).body;
  const put = await d.api('PUT', `${k_leases}/a`, { body: { ...cur, spec: { ...cur.spec, holderIdentity: 'three' } } });
  const live = await w.next();
  assert.equal(live.type, 'MODIFIED');
  assert.equal(live.object.spec.holderIdentity, 'three');
  assert.equal(live.object.metadata.resourceVersion, put.body.metadata.resourceVersion);

  await d.api('DELETE', `${k_leases}/a`);
  const gone = await w.next();
  assert.equal(gone.type, 'DELETED');
  assert.equal(gone.object.metadata.name, 'a');
  assert.ok(Number(gone.object.metadata.resourceVersion) > Number(put.body.metadata.resourceVersion));
  w.close();
});

test('a watch without resourceVersion starts with synthetic ADDED events; selectors filter', async () => {
  await d.api('POST', k_leases, { body: lease('b', 'x', { app: 'ferry' }) });
  await d.api('POST', k_leases, { body: lease('c', 'x', { app: 'other' }) });
  const w = await d.watch(`${k_leases}?watch=true&labelSelector=app%3Dferry`);
  const first = await w.next();
  assert.deepEqual([first.type, first.object.metadata.name], ['ADDED', 'b']);
  const byname = await d.watch(`${k_leases}?watch=1&resourceVersion=0&fieldSelector=metadata.name%3Dc`);
  const c = await byname.next();
  assert.deepEqual([c.type, c.object.metadata.name], ['ADDED', 'c']);

  // Relabelling c into the selector is an ADDED for the labelled watch; out of it a DELETED.
  const cur = (await d.api('GET', `${k_leases}/c`)).body;
  await d.api('PATCH', `${k_leases}/c`, { body: { metadata: { labels: { app: 'ferry' } } }, content_type: 'application/merge-patch+json' });
  const moved = await w.next();
  assert.deepEqual([moved.type, moved.object.metadata.name], ['ADDED', 'c']);
  const same = await byname.next();
  assert.equal(same.type, 'MODIFIED');
  await d.api('PATCH', `${k_leases}/b`, { body: { metadata: { labels: { app: 'gone' } } }, content_type: 'application/merge-patch+json' });
  const left = await w.next();
  assert.deepEqual([left.type, left.object.metadata.name], ['DELETED', 'b']);
  void cur;
  w.close();
  byname.close();
});

test('a resourceVersion older than the history gets one ERROR event with 410 Expired, then the end', async () => {
  const l = await d.api('POST', k_leases, { body: lease('old', 'x') });
  const rv = l.body.metadata.resourceVersion;
  await d.api('PATCH', `${k_leases}/old`, { body: { spec: { holderIdentity: 'y' } }, content_type: 'application/merge-patch+json' });
  await d.control('POST', 'compact');
  const w = await d.watch(`${k_leases}?watch=1&resourceVersion=${rv}`);
  assert.equal(w.status, 200);
  const ev = await w.next();
  assert.equal(ev.type, 'ERROR');
  assert.equal(ev.object.kind, 'Status');
  assert.equal(ev.object.code, 410);
  assert.equal(ev.object.reason, 'Expired');
  assert.match(ev.object.message, /^too old resource version: \d+ \(\d+\)$/);
  assert.equal(await w.next(), null, 'the stream ends after the error');

  // The history is bounded (1000 events): older versions expire without an explicit compaction.
  const base = (await d.api('GET', k_leases)).body.metadata.resourceVersion;
  for (let i = 0; i < 1001; i++) {
    const r = await d.api('PATCH', `${k_leases}/old`, { body: { spec: { leaseTransitions: i } }, content_type: 'application/merge-patch+json' });
    assert.equal(r.status, 200);
  }
  const w2 = await d.watch(`${k_leases}?watch=1&resourceVersion=${base}`);
  assert.equal((await w2.next()).object.code, 410);
});

test('timeoutSeconds ends the stream; allowWatchBookmarks sends a BOOKMARK before it ends', async () => {
  const w = await d.watch(`${k_leases}?watch=1&resourceVersion=${(await d.api('GET', k_leases)).body.metadata.resourceVersion}&timeoutSeconds=1&allowWatchBookmarks=true`);
  const bm = await w.next(10000);
  assert.equal(bm.type, 'BOOKMARK');
  assert.equal(bm.object.kind, 'Lease');
  assert.match(bm.object.metadata.resourceVersion, /^\d+$/);
  assert.equal(await w.next(10000), null);
  const state = (await d.control('GET', 'state')).body;
  assert.equal(state.watchers, 0, 'the ended watch is forgotten');
});
