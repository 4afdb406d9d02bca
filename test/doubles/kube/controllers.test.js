'use strict';
// The simulated Job and Flux controllers of the Kubernetes double, seen through the API the way
// ferry sees a cluster act: Job conditions and pod logs, Kustomization/GitRepository status after
// a reconcile request.

const test = require('node:test');
const assert = require('node:assert/strict');
const { start_kube, eventually } = require('./harness');

const k_jobs = '/apis/batch/v1/namespaces/apps/jobs';
const k_pods = '/api/v1/namespaces/apps/pods';
const k_ks = '/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations';
const k_git = '/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories';
const k_sha = '0123456789abcdef0123456789abcdef01234567';
const k_sha2 = 'fedcba9876543210fedcba9876543210fedcba98';

function job(name) {
  return {
    apiVersion: 'batch/v1', kind: 'Job', metadata: { name },
    spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'run', image: 'ghcr.io/acme/tool:1.2.3' }] } } },
  };
}

const condition = (obj, type) => ((obj.status && obj.status.conditions) || []).find((c) => c.type === type);

async function job_finished(d, name) {
  return eventually(async () => {
    const j = (await d.api('GET', `${k_jobs}/${name}`)).body;
    return (condition(j, 'Complete') || condition(j, 'Failed')) ? j : null;
  }, 10000, `job ${name} finished`);
}

async function pod_log(d, job_name, query = '') {
  const pods = (await d.api('GET', `${k_pods}?labelSelector=job-name%3D${job_name}`)).body.items;
  assert.equal(pods.length, 1);
  const r = await d.api('GET', `${k_pods}/${pods[0].metadata.name}/log${query}`);
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/plain/);
  return { pod: pods[0], text: r.text };
}

let d;
test.before(async () => {
  d = await start_kube();
});
test.after(() => d.stop());

test('a Job stays active in manual mode until the test settles it', async () => {
  assert.equal((await d.api('POST', k_jobs, { body: job('manual-1') })).status, 201);
  const active = await eventually(async () => {
    const j = (await d.api('GET', `${k_jobs}/manual-1`)).body;
    return j.status.active === 1 ? j : null;
  }, 10000, 'job active');
  assert.match(active.status.startTime, /Z$/);
  assert.equal(condition(active, 'Complete'), undefined);

  const settled = await d.control('POST', 'jobs/apps/manual-1/fail', { message: 'exit code 3', logs: 'one\ntwo\nthree\n' });
  assert.equal(settled.status, 200);
  const j = (await d.api('GET', `${k_jobs}/manual-1`)).body;
  const failed = condition(j, 'Failed');
  assert.deepEqual([failed.status, failed.reason, failed.message], ['True', 'BackoffLimitExceeded', 'exit code 3']);
  assert.equal(j.status.failed, 1);
  assert.equal(j.status.active, undefined);
  assert.equal(j.status.completionTime, undefined, 'a failed Job has no completionTime');
  const { pod, text } = await pod_log(d, 'manual-1', '?tailLines=2');
  assert.equal(text, 'two\nthree\n');
  assert.equal(pod.status.phase, 'Failed');
  assert.equal((await d.control('POST', 'jobs/apps/manual-1/succeed', {})).status, 409, 'a finished Job cannot be settled again');
  assert.equal((await d.control('POST', 'jobs/apps/nope/succeed', {})).status, 404);
});

test('jobs-mode succeed settles every new Job with Complete and the pod log', async () => {
  await d.control('POST', 'jobs-mode', { mode: 'succeed', delay_ms: 20, logs: 'building\ndone\n' });
  await d.api('POST', k_jobs, { body: job('auto-ok') });
  const j = await job_finished(d, 'auto-ok');
  assert.equal(condition(j, 'Complete').status, 'True');
  assert.equal(condition(j, 'Failed'), undefined);
  assert.equal(j.status.succeeded, 1);
  assert.match(j.status.completionTime, /Z$/);
  const { text, pod } = await pod_log(d, 'auto-ok');
  assert.equal(text, 'building\ndone\n');
  assert.equal(pod.metadata.ownerReferences[0].uid, j.metadata.uid);
  assert.equal(pod.status.containerStatuses[0].state.terminated.exitCode, 0);
});

test('jobs-mode fail settles with Failed/BackoffLimitExceeded and the message; a watch sees it', async () => {
  await d.control('POST', 'jobs-mode', { mode: 'fail', delay_ms: 0, message: 'boom', logs: 'error: boom' });
  const list = (await d.api('GET', k_jobs)).body;
  const w = await d.watch(`${k_jobs}?watch=1&resourceVersion=${list.metadata.resourceVersion}&fieldSelector=metadata.name%3Dauto-fail`);
  await d.api('POST', k_jobs, { body: job('auto-fail') });
  const seen = [];
  for (;;) {
    const ev = await w.next();
    seen.push(ev.type);
    if (condition(ev.object, 'Failed')) {
      assert.equal(condition(ev.object, 'Failed').message, 'boom');
      break;
    }
  }
  assert.equal(seen[0], 'ADDED');
  w.close();
  assert.equal((await pod_log(d, 'auto-fail')).text, 'error: boom');
  await d.control('POST', 'jobs-mode', { mode: 'manual' });
});

test('deleting a Job with propagationPolicy Background removes its pods; the default orphans them', async () => {
  const pods_of = async (name) => (await d.api('GET', `${k_pods}?labelSelector=job-name%3D${name}`)).body.items.length;
  assert.equal((await d.api('DELETE', `${k_jobs}/auto-ok?propagationPolicy=Background`)).status, 200);
  assert.equal(await pods_of('auto-ok'), 0);
  assert.equal((await d.api('DELETE', `${k_jobs}/auto-fail`)).status, 200);
  assert.equal(await pods_of('auto-fail'), 1);
});

test('activeDeadlineSeconds fails a Job still active; ttlSecondsAfterFinished deletes it with its pods', async () => {
  const deadline = job('deadline');
  deadline.spec.activeDeadlineSeconds = 1;
  deadline.spec.ttlSecondsAfterFinished = 1;
  assert.equal((await d.api('POST', k_jobs, { body: deadline })).status, 201);
  const w = await d.watch(`${k_jobs}?watch=1&fieldSelector=metadata.name%3Ddeadline`);
  const types = [];
  let failed = null;
  for (;;) {
    const ev = await w.next(10000);
    types.push(ev.type);
    if (!failed && condition(ev.object, 'Failed')) {
      failed = condition(ev.object, 'Failed');
    }
    if (ev.type === 'DELETED') {
      break;
    }
  }
  w.close();
  assert.deepEqual([failed.reason, failed.message], ['DeadlineExceeded', 'Job was active longer than specified deadline']);
  assert.equal((await d.api('GET', `${k_jobs}/deadline`)).status, 404);
  assert.equal((await d.api('GET', `${k_pods}?labelSelector=job-name%3Ddeadline`)).body.items.length, 0);
});

test('flux-mode ready: a requestedAt change makes the Kustomization apply the source revision', async () => {
  await d.control('POST', 'objects', [
    {
      apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'fleet', namespace: 'flux-system' },
      spec: { interval: '1m', url: 'https://github.com/acme/fleet', ref: { branch: 'main' } },
      status: { artifact: { revision: `main@sha1:${k_sha}`, digest: 'sha256:00', lastUpdateTime: '2026-11-24T00:00:00Z', path: 'x.tar.gz', url: 'http://source/x.tar.gz' } },
    },
    {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'apps', namespace: 'flux-system' },
      spec: { interval: '10m', prune: true, path: './apps', sourceRef: { kind: 'GitRepository', name: 'fleet' } },
    },
  ]);
  await d.control('POST', 'flux-mode', { mode: 'ready', delay_ms: 10 });
  const at = '2026-11-24T01:02:03.456789Z';
  const p = await d.api('PATCH', `${k_ks}/apps`, { body: { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': at } } }, content_type: 'application/merge-patch+json' });
  assert.equal(p.status, 200);
  const k = await eventually(async () => {
    const o = (await d.api('GET', `${k_ks}/apps`)).body;
    return o.status && o.status.lastHandledReconcileAt === at ? o : null;
  }, 10000, 'reconcile handled');
  assert.equal(k.status.lastAppliedRevision, `main@sha1:${k_sha}`);
  const ready = condition(k, 'Ready');
  assert.deepEqual([ready.status, ready.reason, ready.message], ['True', 'ReconciliationSucceeded', `Applied revision: main@sha1:${k_sha}`]);

  // Without a source artifact, a 40-hex requestedAt is taken as the revision.
  await d.control('POST', 'objects', {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'bare', namespace: 'flux-system' },
    spec: { interval: '10m', prune: true, sourceRef: { kind: 'GitRepository', name: 'missing' } },
  });
  await d.api('PATCH', `${k_ks}/bare`, { body: { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': k_sha2 } } }, content_type: 'application/merge-patch+json' });
  const bare = await eventually(async () => {
    const o = (await d.api('GET', `${k_ks}/bare`)).body;
    return o.status && o.status.lastHandledReconcileAt === k_sha2 ? o : null;
  }, 10000, 'bare reconcile handled');
  assert.equal(bare.status.lastAppliedRevision, `main@sha1:${k_sha2}`);
});

test('flux-mode fail: Ready=False ReconciliationFailed, lastAppliedRevision unchanged', async () => {
  await d.control('POST', 'flux-mode', { mode: 'fail', delay_ms: 0, message: 'kustomize build failed' });
  const at = '2026-11-24T01:05:00Z';
  await d.api('PATCH', `${k_ks}/apps`, { body: { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': at } } }, content_type: 'application/merge-patch+json' });
  const k = await eventually(async () => {
    const o = (await d.api('GET', `${k_ks}/apps`)).body;
    return o.status.lastHandledReconcileAt === at ? o : null;
  }, 10000, 'failed reconcile handled');
  const ready = condition(k, 'Ready');
  assert.deepEqual([ready.status, ready.reason, ready.message], ['False', 'ReconciliationFailed', 'kustomize build failed']);
  assert.equal(k.status.lastAppliedRevision, `main@sha1:${k_sha}`);
});

test('a GitRepository requestedAt is handled too; manual mode leaves status alone', async () => {
  await d.control('POST', 'flux-mode', { mode: 'ready' });
  const at = '2026-11-24T01:06:00Z';
  await d.api('PATCH', `${k_git}/fleet`, { body: { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': at } } }, content_type: 'application/merge-patch+json' });
  const g = await eventually(async () => {
    const o = (await d.api('GET', `${k_git}/fleet`)).body;
    return o.status.lastHandledReconcileAt === at ? o : null;
  }, 10000, 'git reconcile handled');
  assert.equal(condition(g, 'Ready').status, 'True');

  await d.control('POST', 'flux-mode', { mode: 'manual' });
  const before = (await d.api('GET', `${k_ks}/apps`)).body;
  const p = await d.api('PATCH', `${k_ks}/apps`, { body: { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': 'manual-1' } } }, content_type: 'application/merge-patch+json' });
  assert.deepEqual(p.body.status, before.status);
  assert.equal((await d.control('GET', 'state')).body.pending_controller_actions, 0, 'manual mode schedules nothing');
  const objects = (await d.control('GET', 'objects')).body;
  assert.ok(objects.some((o) => o.kind === 'Kustomization' && o.metadata.name === 'apps'));
  assert.deepEqual(await d.violations(), []);
});

test('/_double/objects validates what it seeds', async () => {
  const r = await d.control('POST', 'objects', {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'broken', namespace: 'flux-system' }, spec: { prune: true },
  });
  assert.equal(r.status, 422);
  assert.equal(r.body.reason, 'Invalid');
});

test('flux-mode ready with an OCIRepository or Bucket source: the artifact revision as is', async () => {
  const artifact = (revision, extra = {}) => ({
    revision, digest: `sha256:${'a'.repeat(64)}`, lastUpdateTime: '2026-11-24T00:00:00Z', path: 'x.tar.gz', url: 'http://source/x.tar.gz', ...extra,
  });
  const oci_rev = `latest@sha256:${'a'.repeat(64)}`;
  await d.control('POST', 'objects', [
    {
      apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'OCIRepository', metadata: { name: 'oci', namespace: 'flux-system' },
      spec: { interval: '5m', url: 'oci://ghcr.io/acme/fleet', ref: { tag: 'latest' } },
      status: { artifact: artifact(oci_rev, { metadata: { 'org.opencontainers.image.revision': `main@sha1:${k_sha}` } }) },
    },
    {
      apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'Bucket', metadata: { name: 'bucket', namespace: 'flux-system' },
      spec: { interval: '5m', bucketName: 'fleet', endpoint: 'minio.example.com' },
      status: { artifact: artifact(`sha256:${'b'.repeat(64)}`) },
    },
    {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'from-oci', namespace: 'flux-system' },
      spec: { interval: '10m', prune: true, sourceRef: { kind: 'OCIRepository', name: 'oci' } },
    },
  ]);
  await d.control('POST', 'flux-mode', { mode: 'ready', delay_ms: 0 });
  const oci_path = '/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/ocirepositories/oci';
  const bucket_path = '/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/buckets/bucket';
  for (const path of [oci_path, bucket_path, `${k_ks}/from-oci`]) {
    const p = await d.api('PATCH', path, { body: { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': k_sha2 } } }, content_type: 'application/merge-patch+json' });
    assert.equal(p.status, 200, JSON.stringify(p.body));
  }
  for (const path of [oci_path, bucket_path]) {
    const s = await eventually(async () => {
      const o = (await d.api('GET', path)).body;
      return o.status.lastHandledReconcileAt === k_sha2 ? o : null;
    }, 10000, `${path} handled`);
    assert.equal(condition(s, 'Ready').status, 'True');
  }
  const k = await eventually(async () => {
    const o = (await d.api('GET', `${k_ks}/from-oci`)).body;
    return o.status && o.status.lastHandledReconcileAt === k_sha2 ? o : null;
  }, 10000, 'kustomization handled');
  assert.equal(k.status.lastAppliedRevision, oci_rev, 'a digest revision is not turned into a commit');
  assert.deepEqual(await d.violations(), []);
});

test('HelmRelease and Deployment are served, validated with their published schemas', async () => {
  const hr = '/apis/helm.toolkit.fluxcd.io/v2/namespaces/flux-system/helmreleases';
  const r = await d.control('POST', 'objects', {
    apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: 'app', namespace: 'flux-system' },
    spec: { interval: '5m', chart: { spec: { chart: 'app', sourceRef: { kind: 'HelmRepository', name: 'charts' } } } },
    status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True', reason: 'InstallSucceeded', message: 'ok', lastTransitionTime: '2026-11-24T00:00:00Z' }] },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const got = await d.api('GET', `${hr}/app`);
  assert.equal(got.status, 200);
  assert.equal(got.body.metadata.generation, 1);
  assert.equal((await d.api('GET', '/apis/helm.toolkit.fluxcd.io/v2beta2/namespaces/flux-system/helmreleases/app')).body.apiVersion, 'helm.toolkit.fluxcd.io/v2beta2');
  // A HelmRelease whose interval is not a duration is refused as the CRD's pattern says.
  const bad = await d.control('POST', 'objects', {
    apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: 'bad', namespace: 'flux-system' },
    spec: { interval: 'often', chart: { spec: { chart: 'app', sourceRef: { kind: 'HelmRepository', name: 'charts' } } } },
  });
  assert.equal(bad.status, 422);
  const dep = await d.control('POST', 'objects', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'flux-system' },
    spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } },
  });
  assert.equal(dep.status, 200, JSON.stringify(dep.body));
  const list = await d.api('GET', '/apis/apps/v1/namespaces/flux-system/deployments');
  assert.equal(list.body.kind, 'DeploymentList');
  assert.equal(list.body.items[0].kind, undefined, 'built-in list items carry no kind');
  const badDep = await d.control('POST', 'objects', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'nosel', namespace: 'flux-system' },
    spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } },
  });
  assert.equal(badDep.status, 422, 'spec.selector is required');
});

test('flux-mode helm plays helm-controller for the HelmReleases of the inventory, at their generation', async () => {
  const hr_path = '/apis/helm.toolkit.fluxcd.io/v2/namespaces/flux-system/helmreleases';
  const release = (name, generation_status) => ({
    apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name, namespace: 'flux-system' },
    spec: { interval: '5m', chart: { spec: { chart: name, sourceRef: { kind: 'HelmRepository', name: 'charts' } } } },
    status: generation_status,
  });
  const run = async (ks, helm) => {
    await d.control('POST', 'objects', [
      release(`${ks}-app`, {}),
      release(`${ks}-outside`, {}),
      {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: ks, namespace: 'flux-system' },
        spec: { interval: '10m', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' } },
        status: { inventory: { entries: [{ id: `flux-system_${ks}-app_helm.toolkit.fluxcd.io_HelmRelease`, v: 'v2' }] } },
      },
    ]);
    await d.control('POST', 'flux-mode', { mode: 'ready', delay_ms: 0, helm });
    const p = await d.api('PATCH', `${k_ks}/${ks}`, { body: { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': k_sha } } }, content_type: 'application/merge-patch+json' });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    const hr = await eventually(async () => {
      const o = (await d.api('GET', `${hr_path}/${ks}-app`)).body;
      return o.status && o.status.observedGeneration === o.metadata.generation ? o : null;
    }, 10000, `${ks}-app handled`);
    const outside = (await d.api('GET', `${hr_path}/${ks}-outside`)).body;
    assert.equal(outside.status && outside.status.observedGeneration, undefined, 'a release outside the inventory is left alone');
    return hr;
  };
  const ok = await run('helm-ok', { mode: 'ready' });
  assert.equal(condition(ok, 'Ready').status, 'True');
  assert.equal(condition(ok, 'Ready').reason, 'UpgradeSucceeded');
  const bad = await run('helm-bad', { mode: 'fail', message: 'image pull backoff' });
  assert.equal(condition(bad, 'Ready').status, 'False');
  assert.equal(condition(bad, 'Released').reason, 'UpgradeFailed');
  assert.equal(condition(bad, 'Released').message,
    'Helm upgrade failed for release flux-system/helm-bad-app with chart helm-bad-app: image pull backoff');
  const refused = await d.control('POST', 'flux-mode', { mode: 'ready', helm: { mode: 'sometimes' } });
  assert.equal(refused.status, 400);
  assert.deepEqual(await d.violations(), []);
});

test('fleet-mode: a forceSyncGeneration bump deploys the commit; GitRepo held to the transcribed Fleet schema', async () => {
  const path = '/apis/fleet.cattle.io/v1alpha1/namespaces/fleet-default/gitrepos';
  const seeded = await d.control('POST', 'objects', {
    apiVersion: 'fleet.cattle.io/v1alpha1', kind: 'GitRepo', metadata: { name: 'apps', namespace: 'fleet-default' },
    spec: { repo: 'https://github.com/acme/fleet', branch: 'main', paths: ['clusters/staging'], forceSyncGeneration: 2 },
  });
  assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
  await d.control('POST', 'fleet-mode', { mode: 'ready', delay_ms: 0, commit: k_sha });
  const p = await d.api('PATCH', `${path}/apps`, { body: { spec: { forceSyncGeneration: 3 } }, content_type: 'application/merge-patch+json' });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.metadata.generation, 2);
  const g = await eventually(async () => {
    const o = (await d.api('GET', `${path}/apps`)).body;
    return o.status && o.status.observedGeneration === 2 ? o : null;
  }, 10000, 'forced sync handled');
  assert.equal(g.status.commit, k_sha);
  assert.deepEqual(g.status.summary, { ready: 1, desiredReady: 1 });
  assert.equal(condition(g, 'Ready').status, 'True');

  await d.control('POST', 'fleet-mode', { mode: 'errapplied', delay_ms: 0, commit: k_sha2, message: 'helm install failed' });
  await d.api('PATCH', `${path}/apps`, { body: { spec: { forceSyncGeneration: 4 } }, content_type: 'application/merge-patch+json' });
  const e = await eventually(async () => {
    const o = (await d.api('GET', `${path}/apps`)).body;
    return o.status.observedGeneration === 3 ? o : null;
  }, 10000, 'failed sync handled');
  assert.equal(e.status.summary.errApplied, 1);
  assert.equal(e.status.summary.nonReadyResources[0].message, 'helm install failed');
  assert.equal(condition(e, 'Ready').status, 'False');
  // The schema: forceSyncGeneration is an integer, the Fleet CRD says so.
  const bad = await d.api('PATCH', `${path}/apps`, { body: { spec: { forceSyncGeneration: 'five' } }, content_type: 'application/merge-patch+json' });
  assert.equal(bad.status, 422);
  // A custom resource: strategic merge is refused (415).
  const smp = await d.api('PATCH', `${path}/apps`, { body: { spec: { forceSyncGeneration: 5 } }, content_type: 'application/strategic-merge-patch+json' });
  assert.equal(smp.status, 415);
  await d.control('DELETE', 'violations');
});

test('argocd-mode: a hard refresh and an operation are handled as Argo CD does; the Application is held to @kubernetes-models/argo-cd', async () => {
  const path = '/apis/argoproj.io/v1alpha1/namespaces/argocd/applications';
  const seeded = await d.control('POST', 'objects', {
    apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: { name: 'apps', namespace: 'argocd' },
    spec: { project: 'default', source: { repoURL: 'https://github.com/acme/fleet', path: 'clusters/staging', targetRevision: 'main' }, destination: { server: 'https://kubernetes.default.svc', namespace: 'apps' } },
    status: { sync: { status: 'Synced', revision: k_sha }, health: { status: 'Healthy' } },
  });
  assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
  await d.control('POST', 'argocd-mode', { mode: 'synced', delay_ms: 0 });
  const p = await d.api('PATCH', `${path}/apps`, {
    body: { metadata: { annotations: { 'argocd.argoproj.io/refresh': 'hard' } }, operation: { initiatedBy: { username: 'ferry' }, sync: { revision: k_sha2 } } },
    content_type: 'application/merge-patch+json',
  });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.status.sync.revision, k_sha, 'a client write keeps the status it sends: no status subresource');
  const a = await eventually(async () => {
    const o = (await d.api('GET', `${path}/apps`)).body;
    return o.operation === undefined && o.status.operationState ? o : null;
  }, 10000, 'operation run');
  assert.equal(a.status.operationState.phase, 'Succeeded');
  assert.equal(a.status.sync.revision, k_sha2);
  assert.equal(a.status.health.status, 'Healthy');
  assert.equal((a.metadata.annotations || {})['argocd.argoproj.io/refresh'], undefined, 'the controller removes the refresh annotation');

  await d.control('POST', 'argocd-mode', { mode: 'failed', delay_ms: 0, message: 'one or more objects failed to apply' });
  await d.api('PATCH', `${path}/apps`, { body: { operation: { sync: { revision: k_sha } } }, content_type: 'application/merge-patch+json' });
  const f = await eventually(async () => {
    const o = (await d.api('GET', `${path}/apps`)).body;
    return o.operation === undefined && o.status.operationState.phase === 'Failed' ? o : null;
  }, 10000, 'failed operation');
  assert.equal(f.status.operationState.message, 'one or more objects failed to apply');
  // A custom resource: strategic merge is refused (415); the schema refuses a wrong type (422).
  const smp = await d.api('PATCH', `${path}/apps`, { body: { metadata: { labels: { a: 'b' } } }, content_type: 'application/strategic-merge-patch+json' });
  assert.equal(smp.status, 415);
  const bad = await d.api('PATCH', `${path}/apps`, { body: { operation: { sync: { revision: 7 } } }, content_type: 'application/merge-patch+json' });
  assert.equal(bad.status, 422);
  await d.control('DELETE', 'violations');
});
