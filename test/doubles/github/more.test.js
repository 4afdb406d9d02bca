'use strict';
// Further checks of the GitHub double: every implemented read
// answering complete against the description, merge methods, git over HTTP with a 401
// challenge and a push, TLS, the GHES prefix and installation isolation.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');
const { start_double } = require('./harness');

let d;
let token;
const tok = () => `token ${token}`;
const repo = '/repos/acme/infra';
const git_env = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };

before(async () => {
  d = await start_double();
  const made = await d.control('POST', 'repos', {
    owner: 'acme', name: 'infra', installation_id: 5,
    files: { 'clusters/staging/app.yaml': 'tag: v1\n', 'clusters/production/app.yaml': 'tag: v1\n', 'README.md': 'infra\n' },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.equal((await d.control('POST', 'repos', { owner: 'other', name: 'infra', installation_id: 6, files: { a: 'b' } })).status, 201);
  token = await d.token(5);
});

after(() => d && d.stop());

// Creates branch `name` from main with `files` changed, through the Git Data API.
async function branch_with(name, files, from = 'main') {
  const head = (await d.api('GET', `${repo}/git/ref/heads/${from}`, { auth: tok() })).body.object.sha;
  const base_tree = (await d.api('GET', `${repo}/git/commits/${head}`, { auth: tok() })).body.tree.sha;
  const tree = await d.api('POST', `${repo}/git/trees`, {
    auth: tok(), body: { base_tree, tree: Object.entries(files).map(([p, c]) => (c === null ? { path: p, mode: '100644', type: 'blob', sha: null } : { path: p, mode: '100644', type: 'blob', content: c })) },
  });
  assert.equal(tree.status, 201, JSON.stringify(tree.body));
  const commit = await d.api('POST', `${repo}/git/commits`, { auth: tok(), body: { message: `change ${name}`, tree: tree.body.sha, parents: [head] } });
  const ref = await d.api('POST', `${repo}/git/refs`, { auth: tok(), body: { ref: `refs/heads/${name}`, sha: commit.body.sha } });
  assert.equal(ref.status, 201, JSON.stringify(ref.body));
  return commit.body.sha;
}

test('every implemented read answers complete against the description', async () => {
  await d.clear_violations();
  const sha = await branch_with('ferry/staging/acme-reads', { 'clusters/staging/app.yaml': 'tag: v2\n' });
  const pr = await d.api('POST', `${repo}/pulls`, { auth: tok(), body: { title: 'reads', head: 'ferry/staging/acme-reads', base: 'main' } });
  assert.equal(pr.status, 201);
  const n = pr.body.number;
  // The prose allows a bare array, but the schema only has {labels: [...]}: a bare array is a
  // violation.
  assert.equal((await d.api('POST', `${repo}/issues/${n}/labels`, { auth: tok(), body: ['ferry'] })).status, 422);
  assert.equal((await d.violations()).length, 1);
  await d.clear_violations();
  await d.api('POST', `${repo}/issues/${n}/labels`, { auth: tok(), body: { labels: [{ name: 'ferry' }] } });
  await d.api('POST', `${repo}/issues/${n}/comments`, { auth: tok(), body: { body: 'c' } });
  await d.api('POST', `${repo}/statuses/${sha}`, { auth: tok(), body: { state: 'success', context: 'ferry/rules', target_url: 'https://example.com/x' } });
  const blob = await d.api('POST', `${repo}/git/blobs`, { auth: tok(), body: { content: Buffer.from('bin\0ary').toString('base64'), encoding: 'base64' } });
  assert.equal(blob.status, 201);
  const reads = [
    `${repo}/git/matching-refs/heads/ferry`, `${repo}/git/blobs/${blob.body.sha}`, `${repo}/contents/clusters?ref=main`,
    `${repo}/contents/clusters/staging/app.yaml?ref=ferry/staging/acme-reads`, `${repo}/commits/${sha}/statuses`, `${repo}/commits/heads/ferry/staging/acme-reads/status`,
    `${repo}/issues/${n}/comments`, `${repo}/issues/${n}/labels`, `${repo}/pulls?state=all`, `${repo}/pulls/${n}`, `${repo}/commits/${sha}`,
    `${repo}/compare/main...${sha}`, `${repo}/compare/${sha}...main`, `${repo}/git/trees/${sha}`,
  ];
  for (const p of reads) {
    const r = await d.api('GET', p, { auth: tok() });
    assert.equal(r.status, 200, `${p}: ${JSON.stringify(r.body)}`);
  }
  const blob_back = await d.api('GET', `${repo}/git/blobs/${blob.body.sha}`, { auth: tok() });
  assert.equal(Buffer.from(blob_back.body.content, 'base64').toString(), 'bin\0ary');
  const behind = await d.api('GET', `${repo}/compare/${sha}...main`, { auth: tok() });
  assert.equal(behind.body.status, 'behind');
  assert.equal(behind.body.behind_by, 1);
  assert.equal((await d.api('GET', '/app/installations/5', { auth: `Bearer ${d.app_jwt()}` })).status, 200);
  assert.equal((await d.api('GET', `${repo}/contents/nope.yaml`, { auth: tok() })).status, 404);
  assert.deepEqual(await d.violations(), []);
});

test('merge, squash and rebase build the right commits; conflicts and diverged compares', async () => {
  await d.clear_violations();
  const results = {};
  for (const method of ['merge', 'squash', 'rebase']) {
    const b = `ferry/${method}/acme-app`;
    const head = await branch_with(b, { [`${method}.txt`]: `${method}\n` });
    const pr = await d.api('POST', `${repo}/pulls`, { auth: tok(), body: { title: method, head: b, base: 'main' } });
    const before_main = (await d.api('GET', `${repo}/git/ref/heads/main`, { auth: tok() })).body.object.sha;
    const r = await d.api('PUT', `${repo}/pulls/${pr.body.number}/merge`, { auth: tok(), body: { merge_method: method, sha: head } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const c = (await d.api('GET', `${repo}/git/commits/${r.body.sha}`, { auth: tok() })).body;
    results[method] = c.parents.map((p) => p.sha);
    assert.equal(c.verification.verified, true);
    if (method === 'merge') {
      assert.deepEqual(results[method], [before_main, head]);
    } else {
      assert.deepEqual(results[method], [before_main]);
    }
  }
  // Two branches editing the same line: the second merge conflicts -> 405.
  const a = await branch_with('ferry/conflict/a', { 'clusters/production/app.yaml': 'tag: v7\n' });
  const b = await branch_with('ferry/conflict/b', { 'clusters/production/app.yaml': 'tag: v8\n' });
  const cmp = await d.api('GET', `${repo}/compare/${a}...${b}`, { auth: tok() });
  assert.equal(cmp.body.status, 'diverged');
  const pa = await d.api('POST', `${repo}/pulls`, { auth: tok(), body: { title: 'a', head: 'ferry/conflict/a', base: 'main' } });
  const pb = await d.api('POST', `${repo}/pulls`, { auth: tok(), body: { title: 'b', head: 'ferry/conflict/b', base: 'main' } });
  assert.equal((await d.api('PUT', `${repo}/pulls/${pa.body.number}/merge`, { auth: tok(), body: { merge_method: 'squash' } })).status, 200);
  assert.equal((await d.api('PUT', `${repo}/pulls/${pb.body.number}/merge`, { auth: tok(), body: { merge_method: 'squash' } })).status, 405);
  // Closing and reopening through PATCH.
  assert.equal((await d.api('PATCH', `${repo}/pulls/${pb.body.number}`, { auth: tok(), body: { state: 'closed' } })).body.state, 'closed');
  assert.equal((await d.api('PUT', `${repo}/pulls/${pb.body.number}/merge`, { auth: tok(), body: {} })).status, 405);
  assert.deepEqual(await d.violations(), []);
});

test('git over smart HTTP: 401 challenge then credentials from the URL, fetch and push', async () => {
  const dest = path.join(d.tmp, 'clone-url');
  const url = new URL(`${d.base}/acme/infra.git`);
  url.username = 'x-access-token';
  url.password = token;
  execFileSync('git', ['clone', '--quiet', url.toString(), dest], { env: git_env, stdio: 'pipe' });
  const log = (await d.control('GET', 'requests')).body.filter((e) => e.git);
  assert.ok(log.some((e) => e.status === 401), 'git never met the Basic challenge');
  assert.ok(log.some((e) => e.status === 200 && e.auth === 'basic'));
  // Another installation's token sees nothing.
  const other = new URL(url);
  other.password = await d.token(6);
  assert.throws(() => execFileSync('git', ['clone', '--quiet', other.toString(), path.join(d.tmp, 'nope')], { env: git_env, stdio: 'pipe' }));
  // A push (a person's commit on main) is visible through the API.
  execFileSync('git', ['-C', dest, '-c', 'user.name=P', '-c', 'user.email=p@example.com', 'commit', '--quiet', '--allow-empty', '-m', 'by hand'], { env: git_env });
  execFileSync('git', ['-C', dest, 'push', '--quiet', 'origin', 'HEAD:main'], { env: git_env, stdio: 'pipe' });
  const pushed = execFileSync('git', ['-C', dest, 'rev-parse', 'HEAD'], { env: git_env }).toString().trim();
  assert.equal((await d.api('GET', `${repo}/git/ref/heads/main`, { auth: tok() })).body.object.sha, pushed);
});

test('installations are isolated and the GHES /api/v3 prefix is served', async () => {
  const other = await d.token(6);
  assert.equal((await d.api('GET', repo, { auth: `token ${other}` })).status, 404);
  const r = await d.api('GET', `/api/v3${repo}`, { auth: `Bearer ${token}` });
  assert.equal(r.status, 200);
  assert.equal(r.body.full_name, 'acme/infra');
});

test('serves HTTPS with the given certificate and verifies JWTs with a given App key', async () => {
  const dir = path.join(d.tmp, 'tls');
  fs.mkdirSync(dir);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
  const pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  fs.writeFileSync(path.join(dir, 'app.pub.pem'), pair.publicKey.export({ type: 'spki', format: 'pem' }));
  const t = await start_double(['--tls-cert', path.join(dir, 'cert.pem'), '--tls-key', path.join(dir, 'key.pem'),
    '--app-id', '123', '--app-client-id', 'Iv23liFerry', '--app-public-key', path.join(dir, 'app.pub.pem')]);
  try {
    assert.equal(t.info.private_key_path, null);
    assert.equal(t.info.app_id, 123);
    assert.match(t.base, /^https:\/\/127\.0\.0\.1:\d+$/);
    const body = await new Promise((resolve, reject) => {
      const req = https.request(`${t.base}/app`, { ca: fs.readFileSync(path.join(dir, 'cert.pem')), headers: { 'user-agent': 'x', authorization: `Bearer ${t.app_jwt({ iss: 'Iv23liFerry' }, pair.privateKey)}` } }, (res) => {
        let s = '';
        res.on('data', (c) => { s += c; });
        res.on('end', () => resolve({ status: res.statusCode, s }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(body.status, 200);
    assert.equal(JSON.parse(body.s).slug, 'ferry');
  } finally {
    t.stop();
  }
});

test('primary rate limit: headers count down, an exhausted limit answers 403 until reset', async () => {
  const first = await d.api('GET', repo, { auth: tok() });
  const remaining = Number(first.headers.get('x-ratelimit-remaining'));
  const second = await d.api('GET', repo, { auth: tok() });
  assert.equal(Number(second.headers.get('x-ratelimit-remaining')), remaining - 1);
  assert.equal(second.headers.get('x-ratelimit-resource'), 'core');
  const anonymous = await d.api('GET', repo);
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get('x-ratelimit-limit'), '60');
  const set = await d.control('POST', 'rate-limit', { installation_id: 5, remaining: 1, reset_in_s: 30 });
  assert.equal(set.body.remaining, 1);
  assert.equal((await d.api('GET', repo, { auth: tok() })).status, 200);
  const limited = await d.api('GET', repo, { auth: tok() });
  assert.equal(limited.status, 403);
  assert.equal(limited.headers.get('x-ratelimit-remaining'), '0');
  assert.match(limited.body.message, /API rate limit exceeded for installation ID 5/);
  assert.ok(Number(limited.headers.get('x-ratelimit-reset')) - Date.now() / 1000 <= 30);
  await d.control('POST', 'rate-limit', { installation_id: 5, remaining: 5000 });
  assert.equal((await d.api('GET', repo, { auth: tok() })).status, 200);
});

test('App manifest conversion: 201 without credentials, once; unknown, used or expired codes 404', async () => {
  await d.clear_violations();
  const manifest = { name: 'ferry-test', url: 'https://example.com', hook_attributes: { url: 'https://example.com/webhook' }, default_permissions: { contents: 'write' }, default_events: ['push'] };
  const code = (await d.control('POST', 'app-manifests', { manifest, org: 'acme' })).body.code;
  const r = await d.api('POST', `/app-manifests/${code}/conversions`);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.name, 'ferry-test');
  assert.deepEqual(r.body.events, ['push']);
  assert.match(r.body.pem, /BEGIN RSA PRIVATE KEY/);
  assert.ok(r.body.webhook_secret && r.body.client_id && r.body.client_secret);
  assert.equal((await d.api('POST', `/app-manifests/${code}/conversions`)).status, 404, 'a code is good once');
  assert.equal((await d.api('POST', '/app-manifests/nope/conversions')).status, 404);
  const old = (await d.control('POST', 'app-manifests', { manifest, age_seconds: 3601 })).body.code;
  assert.equal((await d.api('POST', `/app-manifests/${old}/conversions`)).status, 404, 'expired after one hour');
  assert.deepEqual(await d.violations(), []);
});

test('App manifest web form: 302 to redirect_url with code and state, the code converts; a manifest missing required keys 422', async () => {
  await d.clear_violations();
  const manifest = { name: 'ferry-web', url: 'https://example.com', hook_attributes: { url: 'https://example.com/webhook', active: true }, redirect_url: 'http://127.0.0.1:9/callback', default_events: ['package'] };
  const post = (m, state) => fetch(`${d.base}/organizations/acme/settings/apps/new?state=${state}`, {
    method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ manifest: JSON.stringify(m) }).toString(),
  });
  const r = await post(manifest, 's123');
  assert.equal(r.status, 302);
  const to = new URL(r.headers.get('location'));
  assert.equal(`${to.origin}${to.pathname}`, 'http://127.0.0.1:9/callback');
  assert.equal(to.searchParams.get('state'), 's123');
  const conv = await d.api('POST', `/api/v3/app-manifests/${to.searchParams.get('code')}/conversions`);
  assert.equal(conv.status, 201, JSON.stringify(conv.body));
  assert.equal(conv.body.owner.login, 'acme');
  assert.deepEqual(conv.body.events, ['package']);
  const posts = (await d.control('GET', 'app-manifests')).body;
  assert.equal(posts.at(-1).state, 's123');
  assert.equal(posts.at(-1).manifest.name, 'ferry-web');
  const bad = await post({ name: 'x', redirect_url: 'http://127.0.0.1:9/' }, 's');
  assert.equal(bad.status, 422);
  assert.match(await bad.text(), /url, hook_attributes\.url/);
  assert.deepEqual(await d.violations(), []);
});

test('GraphQL: queries and mutations run against GitHub\'s schema; what it refuses is a violation', async () => {
  await d.control('DELETE', 'violations');
  const head = await branch_with('ferry/staging/gql', { 'clusters/staging/app.yaml': 'tag: v2\n' });
  const pr = await d.api('POST', `${repo}/pulls`, { auth: tok(), body: { title: 'gql', head: 'ferry/staging/gql', base: 'main' } });
  assert.equal(pr.status, 201);
  const gql = (query, variables) => d.api('POST', '/graphql', { auth: tok(), body: { query, variables } });
  // Labels exist once REST added them; before, label(name:) is null.
  const read = 'query($o: String!, $n: String!, $b: String!) { repository(owner: $o, name: $n) { defaultBranchRef { target { oid } } l: label(name: "gql-only") { id } b: pullRequests(headRefName: $b, first: 5, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { id number state headRefOid labels(first: 5) { nodes { name } } reviewRequests(first: 5) { nodes { requestedReviewer { __typename ... on User { login } ... on Team { slug } } } } autoMergeRequest { enabledAt } } } } u: user(login: "octocat") { id } t: organization(login: $o) { team(slug: "platform") { id } } }';
  const vars = { o: 'acme', n: 'infra', b: 'ferry/staging/gql' };
  let r = await gql(read, vars);
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
  assert.equal(r.body.data.repository.l, null);
  assert.equal(r.body.data.repository.b.nodes[0].headRefOid, head);
  assert.equal(r.body.data.repository.b.nodes[0].state, 'OPEN');
  await d.api('POST', `${repo}/issues/${pr.body.number}/labels`, { auth: tok(), body: { labels: ['other'] } });
  await d.control('POST', 'repos/acme/infra/settings', { labels: ['gql-only'], auto_merge_clean: false });
  r = await gql(read, vars);
  const label = r.body.data.repository.l.id;
  // Labels, reviewers and auto-merge in one document; each root field answers on its own.
  const m = 'mutation($l: AddLabelsToLabelableInput!, $r: RequestReviewsInput!, $m: EnablePullRequestAutoMergeInput!) { addLabelsToLabelable(input: $l) { clientMutationId } requestReviews(input: $r) { clientMutationId } enablePullRequestAutoMerge(input: $m) { clientMutationId } }';
  const input = { l: { labelableId: pr.body.node_id, labelIds: [label] }, r: { pullRequestId: pr.body.node_id, userIds: [r.body.data.u.id], teamIds: [r.body.data.t.team.id], union: true }, m: { pullRequestId: pr.body.node_id, mergeMethod: 'SQUASH', expectedHeadOid: head } };
  const done = await gql(m, input);
  assert.equal(done.body.errors, undefined, JSON.stringify(done.body));
  const got = (await d.api('GET', `${repo}/pulls/${pr.body.number}`, { auth: tok() })).body;
  assert.deepEqual(got.labels.map((l) => l.name), ['other', 'gql-only']);
  assert.deepEqual(got.requested_reviewers.map((u) => u.login), ['octocat']);
  assert.deepEqual(got.requested_teams.map((t) => t.slug), ['platform']);
  assert.equal(got.auto_merge.merge_method, 'squash');
  // An unknown label id fails that field only.
  input.l.labelIds = ['nope'];
  input.m.expectedHeadOid = '0'.repeat(40);
  const partial = await gql(m, input);
  assert.deepEqual(partial.body.errors.map((e) => [e.type, e.path.join('.')]), [['NOT_FOUND', 'addLabelsToLabelable'], ['UNPROCESSABLE', 'enablePullRequestAutoMerge']]);
  assert.deepEqual(partial.body.data.requestReviews, { clientMutationId: null });
  // A connection without `first` is GitHub's error; neither is a violation.
  const unbounded = await gql('query { repository(owner: "acme", name: "infra") { pullRequests { totalCount } } }');
  assert.equal(unbounded.body.errors[0].type, 'MISSING_PAGINATION_BOUNDARIES');
  assert.deepEqual((await d.control('GET', 'violations')).body, []);
  // A field the schema lacks, and a variable of the wrong type, are violations.
  const bad = await gql('query { repository(owner: "acme", name: "infra") { headRef } }');
  assert.match(bad.body.errors[0].message, /Cannot query field "headRef" on type "Repository"/);
  await gql(read, { ...vars, b: 5 });
  const v = (await d.control('GET', 'violations')).body;
  assert.equal(v.length, 2, JSON.stringify(v));
  assert.ok(v.every((x) => x.kind === 'graphql'));
  await d.control('DELETE', 'violations');
});

test('status and check_run: delivered only when subscribed; check runs listed latest per name, held to the description', async () => {
  await d.clear_violations();
  const sha = await branch_with('gates-reports', { 'clusters/staging/app.yaml': 'tag: v3\n' });
  const seq = async () => {
    const all = (await d.control('GET', 'webhooks')).body;
    return all.length ? all[all.length - 1].seq : 0;
  };
  // Not subscribed (the App manifest's events): a status and a check run deliver nothing.
  let since = await seq();
  assert.equal((await d.control('POST', 'ci', { repo: 'acme/infra', sha, context: 'e2e', state: 'success' })).status, 201);
  assert.equal((await d.control('POST', 'ci', { repo: 'acme/infra', sha, name: 'smoke', status: 'completed', conclusion: 'failure' })).status, 201);
  assert.deepEqual((await d.control('GET', `webhooks?since=${since}`)).body, []);
  // Subscribed: one delivery each, valid against @octokit/openapi-webhooks (or a violation).
  assert.equal((await d.control('POST', 'app/events', { events: ['package', 'push', 'pull_request', 'status', 'check_run'], permissions: { checks: 'read' } })).status, 204);
  since = await seq();
  await d.control('POST', 'ci', { repo: 'acme/infra', sha, name: 'smoke', status: 'completed', conclusion: 'success' });
  await d.api('POST', `${repo}/statuses/${sha}`, { auth: tok(), body: { state: 'failure', context: 'e2e', description: '3 failed' } });
  const hooks = (await d.control('GET', `webhooks?since=${since}`)).body;
  assert.deepEqual(hooks.map((h) => `${h.event}${h.payload.action ? '.' + h.payload.action : ''}`), ['check_run.completed', 'status']);
  assert.equal(hooks[0].payload.check_run.head_sha, sha);
  assert.equal(hooks[0].payload.check_run.conclusion, 'success');
  assert.equal(hooks[1].payload.context, 'e2e');
  assert.equal(hooks[1].payload.state, 'failure');
  assert.equal(hooks[1].payload.sha, sha);
  const app = await d.api('GET', '/app', { auth: `Bearer ${d.app_jwt()}` });
  assert.ok(app.body.events.includes('check_run'));
  assert.equal(app.body.permissions.checks, 'read');
  // The latest run per name.
  const runs = await d.api('GET', `${repo}/commits/${sha}/check-runs?per_page=100`, { auth: tok() });
  assert.equal(runs.status, 200, JSON.stringify(runs.body));
  assert.equal(runs.body.total_count, 1);
  assert.equal(runs.body.check_runs[0].name, 'smoke');
  assert.equal(runs.body.check_runs[0].conclusion, 'success');
  assert.deepEqual(await d.violations(), []);
  assert.equal((await d.control('POST', 'app/events', { events: ['package', 'push', 'pull_request', 'registry_package'] })).status, 204);
});
