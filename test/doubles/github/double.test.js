'use strict';
// Tests of the GitHub double itself: it must reject what GitHub's REST description rejects,
// authenticate as GitHub does, keep a real git repository as its source of truth, and inject
// the faults ferry's tests rely on. Run: node --test test/doubles/github/

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { start_double } = require('./harness');

let d;
let base;
let info;
let tmp;
let token;

const app_jwt = (...a) => d.app_jwt(...a);
const api = (...a) => d.api(...a);
const control = (...a) => d.control(...a);
const violations = () => d.violations();
const clear_violations = () => d.clear_violations();
const tok = () => `token ${token}`;

before(async () => {
  d = await start_double();
  ({ info, base, tmp } = d);
  const files = path.join(tmp, 'infra');
  fs.mkdirSync(path.join(files, 'clusters', 'staging'), { recursive: true });
  fs.mkdirSync(path.join(files, '.github'), { recursive: true });
  fs.writeFileSync(path.join(files, 'clusters', 'staging', 'app.yaml'), 'image: ghcr.io/o/app:sha-1 # {"$imagepolicy": "flux-system:app"}\n');
  fs.writeFileSync(path.join(files, '.github', 'ferry.yaml'), 'version: 1\n');
  const made = await control('POST', 'repos', { owner: 'dine-together', name: 'infra', installation_id: 77, dir: files });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const t = await api('POST', '/app/installations/77/access_tokens', { auth: `Bearer ${app_jwt()}` });
  assert.equal(t.status, 201, JSON.stringify(t.body));
  token = t.body.token;
});

after(() => {
  if (d) {
    d.stop();
  }
});

test('prints its port and answers with primary rate-limit headers', async () => {
  assert.ok(info.port > 0);
  const r = await api('GET', '/repos/dine-together/infra', { auth: tok() });
  assert.equal(r.status, 200);
  assert.equal(r.body.full_name, 'dine-together/infra');
  assert.equal(r.body.default_branch, 'main');
  assert.equal(r.body.clone_url, `${base}/dine-together/infra.git`);
  for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'x-ratelimit-used', 'x-ratelimit-resource']) {
    assert.ok(r.headers.get(h), `missing ${h}`);
  }
  assert.equal(Number(r.headers.get('x-ratelimit-limit')) - Number(r.headers.get('x-ratelimit-used')), Number(r.headers.get('x-ratelimit-remaining')));
  assert.deepEqual(await violations(), []);
});

test('requests the description rejects answer 422 and are recorded as violations', async () => {
  await clear_violations();
  const cases = [
    ['POST', '/repos/dine-together/infra/pulls', { title: 't', base: 'main' }, /head/],
    ['POST', `/repos/dine-together/infra/statuses/${'a'.repeat(40)}`, { state: 'green', context: 'ferry' }, /state|enum/],
    ['POST', '/repos/dine-together/infra/git/trees', { tree: [{ path: 'x', mode: '999', type: 'blob', content: 'x' }] }, /mode|enum/],
    ['PATCH', '/repos/dine-together/infra/git/refs/heads/main', { force: true }, /sha/],
    ['POST', '/repos/dine-together/infra/git/commits', { message: 'm', tree: 'x', parents: 'notalist' }, /parents/],
  ];
  for (const [method, p, body, why] of cases) {
    const r = await api(method, p, { body, auth: tok() });
    assert.equal(r.status, 422, `${method} ${p}: ${JSON.stringify(r.body)}`);
    assert.match(JSON.stringify(r.body.errors), why);
  }
  const v = await violations();
  assert.equal(v.length, cases.length);
  assert.ok(v.every((x) => x.kind === 'contract'));
  assert.match(v[0].problems.join(' '), /must have required property 'head'/);
  await clear_violations();
});

test('undocumented operations, bad path parameters and missing User-Agent are violations', async () => {
  await clear_violations();
  // GitHub documents no "list refs" operation: only matching-refs and git/ref/{ref}.
  let r = await api('GET', '/repos/dine-together/infra/git/refs', { auth: tok() });
  assert.equal(r.status, 404);
  r = await api('GET', '/repos/dine-together/infra/pulls/abc', { auth: tok() });
  assert.equal(r.status, 422);
  r = await api('GET', '/repos/dine-together/infra/pulls?state=merged', { auth: tok() });
  assert.equal(r.status, 422);
  r = await api('POST', '/repos/dine-together/infra/git/blobs', { raw: '{"content": ', auth: tok(), headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 400);
  assert.equal(r.body.message, 'Problems parsing JSON');
  // fetch() always adds a User-Agent, so this one goes through node:http.
  const status = await new Promise((resolve, reject) => {
    const req = require('node:http').request(`${base}/repos/dine-together/infra`, { headers: { authorization: tok() } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 403);
  const v = await violations();
  assert.equal(v.length, 5, JSON.stringify(v, null, 1));
  assert.match(v[0].problems[0], /GET is not a documented method for \/repos\/\{owner\}\/\{repo\}\/git\/refs/);
  await clear_violations();
});

test('App JWT: wrong key, too long a lifetime, expired, wrong issuer and a missing Bearer are refused', async () => {
  const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const now = Math.floor(Date.now() / 1000);
  const bad = [
    `Bearer ${app_jwt({}, other)}`,
    `Bearer ${app_jwt({ iat: now - 60, exp: now + 600 })}`, // exp - iat = 660 > 600
    `Bearer ${app_jwt({ iat: now - 700, exp: now - 100 })}`,
    `Bearer ${app_jwt({ iss: '999' })}`,
    `Bearer ${app_jwt({ iat: now + 300, exp: now + 600 })}`,
    `token ${token}`,
    undefined,
  ];
  for (const auth of bad) {
    const r = await api('GET', '/app', { auth });
    assert.equal(r.status, 401, `${auth}: ${JSON.stringify(r.body)}`);
    assert.ok(r.body.message);
    assert.ok(r.body.documentation_url);
  }
  const good = await api('GET', '/app', { auth: `Bearer ${app_jwt()}` });
  assert.equal(good.status, 200);
  assert.equal(good.body.id, info.app_id);
  assert.equal(good.body.slug, 'ferry');
  const inst = await api('GET', '/repos/dine-together/infra/installation', { auth: `Bearer ${app_jwt()}` });
  assert.equal(inst.status, 200);
  assert.equal(inst.body.id, 77);
  // An installation endpoint refuses the JWT and a made-up token, with GitHub's body.
  for (const auth of [`Bearer ${app_jwt()}`, 'token ghs_made_up', undefined]) {
    const r = await api('GET', '/repos/dine-together/infra', { auth });
    assert.equal(r.status, 401);
    assert.equal(r.body.message, 'Bad credentials');
  }
  assert.deepEqual(await violations(), []);
});

test('installation tokens vary in length and expire on demand', async () => {
  const lengths = new Set();
  for (let i = 0; i < 8; i++) {
    const t = await api('POST', '/app/installations/77/access_tokens', { auth: `Bearer ${app_jwt()}` });
    assert.equal(t.status, 201);
    assert.match(t.body.token, /^ghs_[A-Za-z0-9]{36,80}$/);
    const ttl = Date.parse(t.body.expires_at) - Date.now();
    assert.ok(ttl > 3500 * 1000 && ttl <= 3600 * 1000, `expires_at ${t.body.expires_at}`);
    lengths.add(t.body.token.length);
  }
  assert.ok(lengths.size > 1, 'token lengths never varied');
  assert.equal((await api('POST', '/app/installations/999/access_tokens', { auth: `Bearer ${app_jwt()}` })).status, 404);
  assert.equal((await control('POST', 'expire-tokens')).status, 204);
  assert.equal((await api('GET', '/repos/dine-together/infra', { auth: tok() })).status, 401);
  token = (await api('POST', '/app/installations/77/access_tokens', { auth: `Bearer ${app_jwt()}` })).body.token;
  assert.equal((await api('GET', '/repos/dine-together/infra', { auth: tok() })).status, 200);
});

test('the whole flow: tree with inline content, commit, ref, PR, labels, reviewers, status, merge, clone', async () => {
  await clear_violations();
  const repo = '/repos/dine-together/infra';
  const main = await api('GET', `${repo}/git/ref/heads/main`, { auth: tok() });
  assert.equal(main.status, 200);
  const parent = main.body.object.sha;
  const parent_commit = await api('GET', `${repo}/git/commits/${parent}`, { auth: tok() });
  const tree = await api('POST', `${repo}/git/trees`, {
    auth: tok(),
    body: { base_tree: parent_commit.body.tree.sha, tree: [{ path: 'clusters/staging/app.yaml', mode: '100644', type: 'blob', content: 'image: ghcr.io/o/app:sha-2 # {"$imagepolicy": "flux-system:app"}\n' }] },
  });
  assert.equal(tree.status, 201, JSON.stringify(tree.body));
  const full = await api('GET', `${repo}/git/trees/${tree.body.sha}?recursive=1`, { auth: tok() });
  assert.deepEqual(full.body.tree.filter((e) => e.type === 'blob').map((e) => e.path).sort(), ['.github/ferry.yaml', 'clusters/staging/app.yaml']);
  const commit = await api('POST', `${repo}/git/commits`, { auth: tok(), body: { message: 'Bump app to sha-2\n\nFerry-Source-Commit: abc', tree: tree.body.sha, parents: [parent] } });
  assert.equal(commit.status, 201, JSON.stringify(commit.body));
  assert.equal(commit.body.verification.verified, true);
  assert.equal(commit.body.author.name, 'ferry[bot]');
  const branch = 'ferry/staging/flux-system-app';
  const ref = await api('POST', `${repo}/git/refs`, { auth: tok(), body: { ref: `refs/heads/${branch}`, sha: commit.body.sha } });
  assert.equal(ref.status, 201, JSON.stringify(ref.body));
  assert.equal((await api('POST', `${repo}/git/refs`, { auth: tok(), body: { ref: `refs/heads/${branch}`, sha: commit.body.sha } })).status, 422);
  // A non-fast-forward update without force is refused, with force it goes through.
  const nff = await api('PATCH', `${repo}/git/refs/heads/${branch}`, { auth: tok(), body: { sha: parent } });
  assert.equal(nff.status, 422);
  assert.equal(nff.body.message, 'Update is not a fast forward');
  const upd = await api('PATCH', `${repo}/git/refs/heads/${encodeURIComponent(branch)}`, { auth: tok(), body: { sha: commit.body.sha, force: false } });
  assert.equal(upd.status, 200, JSON.stringify(upd.body));

  const pr = await api('POST', `${repo}/pulls`, { auth: tok(), body: { title: 'staging: app sha-1 -> sha-2', head: branch, base: 'main', body: '| image |' } });
  assert.equal(pr.status, 201, JSON.stringify(pr.body));
  assert.ok(pr.body.node_id);
  assert.equal(pr.body.head.sha, commit.body.sha);
  const dup = await api('POST', `${repo}/pulls`, { auth: tok(), body: { title: 'again', head: branch, base: 'main' } });
  assert.equal(dup.status, 422);
  const listed = await api('GET', `${repo}/pulls?state=open&head=dine-together:${encodeURIComponent(branch)}&base=main`, { auth: tok() });
  assert.deepEqual(listed.body.map((p) => p.number), [pr.body.number]);
  assert.deepEqual(await violations(), []);
  // A bare branch as head is ignored by GitHub (every PR comes back) and is a violation.
  const bare = await api('GET', `${repo}/pulls?head=${encodeURIComponent(branch)}`, { auth: tok() });
  assert.equal(bare.status, 200);
  assert.match((await violations())[0].problems[0], /user:ref-name/);
  await clear_violations();
  const n = pr.body.number;
  const patched = await api('PATCH', `${repo}/pulls/${n}`, { auth: tok(), body: { title: 'staging: app sha-1 -> sha-2 (updated)' } });
  assert.equal(patched.body.title, 'staging: app sha-1 -> sha-2 (updated)');
  const labels = await api('POST', `${repo}/issues/${n}/labels`, { auth: tok(), body: { labels: ['ferry', 'env:staging'] } });
  assert.equal(labels.status, 200);
  assert.deepEqual(labels.body.map((l) => l.name), ['ferry', 'env:staging']);
  const rev = await api('POST', `${repo}/pulls/${n}/requested_reviewers`, { auth: tok(), body: { reviewers: ['octocat'], team_reviewers: ['platform'] } });
  assert.equal(rev.status, 201, JSON.stringify(rev.body));
  const st = await api('POST', `${repo}/statuses/${commit.body.sha}`, { auth: tok(), body: { state: 'pending', context: 'ferry/apply/staging', description: 'applying' } });
  assert.equal(st.status, 201, JSON.stringify(st.body));
  const long = await api('POST', `${repo}/statuses/${commit.body.sha}`, { auth: tok(), body: { state: 'failure', context: 'ferry/apply/staging', description: 'x'.repeat(141) } });
  assert.equal(long.status, 422);
  assert.match(JSON.stringify(long.body), /maximum is 140 characters/);
  const combined = await api('GET', `${repo}/commits/${commit.body.sha}/status`, { auth: tok() });
  assert.equal(combined.body.state, 'pending');
  assert.equal(combined.body.total_count, 1);
  const comment = await api('POST', `${repo}/issues/${n}/comments`, { auth: tok(), body: { body: 'hello' } });
  assert.equal(comment.status, 201);

  // GraphQL auto-merge on a clean PR answers GitHub's "clean status" error.
  const gql = await api('POST', '/graphql', {
    auth: `bearer ${token}`,
    body: { query: 'mutation($input: EnablePullRequestAutoMergeInput!) { enablePullRequestAutoMerge(input: $input) { pullRequest { id } } }', variables: { input: { pullRequestId: pr.body.node_id, mergeMethod: 'SQUASH' } } },
  });
  assert.equal(gql.status, 200);
  assert.match(gql.body.errors[0].message, /is in clean status/);
  assert.equal(gql.body.errors[0].type, 'UNPROCESSABLE');

  const cmp = await api('GET', `${repo}/compare/main...${encodeURIComponent(branch)}`, { auth: tok() });
  assert.equal(cmp.status, 200, JSON.stringify(cmp.body));
  assert.equal(cmp.body.status, 'ahead');
  assert.equal(cmp.body.ahead_by, 1);
  assert.equal(cmp.body.behind_by, 0);

  const stale = await api('PUT', `${repo}/pulls/${n}/merge`, { auth: tok(), body: { merge_method: 'squash', sha: parent } });
  assert.equal(stale.status, 409);
  const merged = await api('PUT', `${repo}/pulls/${n}/merge`, { auth: tok(), body: { merge_method: 'squash', sha: commit.body.sha } });
  assert.equal(merged.status, 200, JSON.stringify(merged.body));
  assert.equal(merged.body.merged, true);
  const after_merge = await api('GET', `${repo}/pulls/${n}`, { auth: tok() });
  assert.equal(after_merge.body.merged, true);
  assert.equal(after_merge.body.state, 'closed');
  const main_after = await api('GET', `${repo}/commits/main`, { auth: tok() });
  assert.equal(main_after.body.sha, merged.body.sha);
  assert.deepEqual(main_after.body.parents.map((p) => p.sha), [parent]);
  const content = await api('GET', `${repo}/contents/clusters/staging/app.yaml?ref=main`, { auth: tok() });
  assert.match(Buffer.from(content.body.content, 'base64').toString(), /sha-2/);
  assert.equal((await api('DELETE', `${repo}/git/refs/heads/${branch}`, { auth: tok() })).status, 204);
  assert.equal((await api('DELETE', `${repo}/git/refs/heads/${branch}`, { auth: tok() })).status, 422);

  // git clone over smart HTTP: refused without the token, works with it, and has the merge.
  const dest = path.join(tmp, 'clone');
  const env = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  assert.throws(() => execFileSync('git', ['clone', '--quiet', `${base}/dine-together/infra.git`, path.join(tmp, 'denied')], { env, stdio: 'pipe' }));
  const cred = Buffer.from(`x-access-token:${token}`).toString('base64');
  execFileSync('git', ['-c', `http.extraHeader=Authorization: Basic ${cred}`, 'clone', '--quiet', `${base}/dine-together/infra.git`, dest], { env, stdio: 'pipe' });
  assert.equal(execFileSync('git', ['-C', dest, 'rev-parse', 'HEAD'], { env }).toString().trim(), merged.body.sha);
  assert.match(fs.readFileSync(path.join(dest, 'clusters', 'staging', 'app.yaml'), 'utf8'), /sha-2/);

  const state = (await control('GET', 'state')).body.repos['dine-together/infra'];
  assert.equal(state.pulls.length, 1);
  assert.deepEqual(state.pulls[0].labels, ['ferry', 'env:staging']);
  assert.deepEqual(state.pulls[0].reviewers, ['octocat']);
  assert.deepEqual(state.pulls[0].team_reviewers, ['platform']);
  assert.equal(state.pulls[0].merged, true);
  assert.equal(state.pulls[0].merge_method, 'squash');
  assert.equal(state.statuses[commit.body.sha].length, 1);
  assert.deepEqual(state.created_commits.map((c) => c.via), ['git/create-commit', 'pulls/merge (squash)']);
  assert.deepEqual(await violations(), []);
});

test('GraphQL createCommitOnBranch commits verified with CAS, and checks its input', async () => {
  await clear_violations();
  const repo = '/repos/dine-together/infra';
  const head = (await api('GET', `${repo}/git/ref/heads/main`, { auth: tok() })).body.object.sha;
  const branch = 'ferry/staging/flux-system-gql';
  assert.equal((await api('POST', `${repo}/git/refs`, { auth: tok(), body: { ref: `refs/heads/${branch}`, sha: head } })).status, 201);
  const query = 'mutation ($input: CreateCommitOnBranchInput!) {\n  createCommitOnBranch(input: $input) { commit { oid url } }\n}';
  const input = (expected) => ({
    branch: { repositoryNameWithOwner: 'dine-together/infra', branchName: branch },
    message: { headline: 'Bump app', body: 'Ferry-Source-Commit: abc' },
    expectedHeadOid: expected,
    fileChanges: { additions: [{ path: 'clusters/staging/app.yaml', contents: Buffer.from('image: x:sha-3\n').toString('base64') }], deletions: [{ path: '.github/ferry.yaml' }] },
  });
  const ok = await api('POST', '/graphql', { auth: `bearer ${token}`, body: { query, variables: { input: input(head) } } });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.errors, undefined, JSON.stringify(ok.body));
  const oid = ok.body.data.createCommitOnBranch.commit.oid;
  const c = await api('GET', `${repo}/git/commits/${oid}`, { auth: tok() });
  assert.equal(c.body.verification.verified, true);
  assert.deepEqual(c.body.parents.map((p) => p.sha), [head]);
  const tree = await api('GET', `${repo}/git/trees/${c.body.tree.sha}?recursive=1`, { auth: tok() });
  assert.deepEqual(tree.body.tree.filter((e) => e.type === 'blob').map((e) => e.path), ['clusters/staging/app.yaml']);
  // Stale expectedHeadOid: GitHub's error, nothing moves.
  const stale = await api('POST', '/api/graphql', { auth: `bearer ${token}`, body: { query, variables: { input: input(head) } } });
  assert.match(stale.body.errors[0].message, /Expected branch to point to/);
  assert.equal((await api('GET', `${repo}/git/ref/heads/${branch}`, { auth: tok() })).body.object.sha, oid);
  const missing = input(oid);
  missing.branch.branchName = 'no/such/branch';
  const gone = await api('POST', '/graphql', { auth: `bearer ${token}`, body: { query, variables: { input: missing } } });
  assert.deepEqual(gone.body.data, { createCommitOnBranch: null });
  assert.match(gone.body.errors[0].message, /does not exist/);
  assert.equal((await api('POST', `${repo}/git/refs`, { auth: tok(), body: { ref: 'heads/x', sha: oid } })).status, 422);
  assert.deepEqual(await violations(), []);
  // Inputs GitHub's schema rejects are violations.
  const bad = input(oid);
  delete bad.message.headline;
  bad.fileChanges.additions[0].contents = 'not base64!';
  bad.extra = 1;
  const r = await api('POST', '/graphql', { auth: `bearer ${token}`, body: { query, variables: { input: bad } } });
  assert.equal(r.body.errors.length, 3, JSON.stringify(r.body));
  const unknown = await api('POST', '/graphql', { auth: `bearer ${token}`, body: { query: '{ viewer { login } }' } });
  assert.ok(unknown.body.errors);
  const v = await violations();
  assert.equal(v.length, 2);
  assert.ok(v.every((x) => x.kind === 'graphql'));
  await clear_violations();
  // Auto-merge is recorded when the repository is not "clean".
  const pr = await api('POST', `${repo}/pulls`, { auth: tok(), body: { title: 'gql', head: branch, base: 'main' } });
  assert.equal(pr.status, 201);
  await control('POST', 'repos/dine-together/infra/settings', { auto_merge_clean: false });
  const am = await api('POST', '/graphql', { auth: `bearer ${token}`, body: { query: 'mutation($input: EnablePullRequestAutoMergeInput!) { enablePullRequestAutoMerge(input: $input) { pullRequest { id } } }', variables: { input: { pullRequestId: pr.body.node_id, mergeMethod: 'MERGE' } } } });
  assert.equal(am.body.errors, undefined, JSON.stringify(am.body));
  const got = await api('GET', `${repo}/pulls/${pr.body.number}`, { auth: tok() });
  assert.equal(got.body.auto_merge.merge_method, 'merge');
  // An unmergeable PR answers 405.
  await control('POST', `repos/dine-together/infra/pulls/${pr.body.number}`, { mergeable: false });
  const m = await api('PUT', `${repo}/pulls/${pr.body.number}/merge`, { auth: tok(), body: { merge_method: 'merge' } });
  assert.equal(m.status, 405);
  assert.deepEqual(await violations(), []);
});

test('faults: 502, secondary rate limit with retry-after, 429, delay, and a ref moved behind the client', async () => {
  const repo = '/repos/dine-together/infra';
  let f = await control('POST', 'faults', { method: 'GET', path_regex: '^/repos/[^/]+/infra$', status: 502, count: 1 });
  assert.equal(f.status, 201);
  assert.equal((await api('GET', repo, { auth: tok() })).status, 502);
  assert.equal((await api('GET', repo, { auth: tok() })).status, 200);
  await control('POST', 'faults', { path_regex: '/pulls$', status: 403, retry_after: 7, count: 1 });
  const limited = await api('GET', `${repo}/pulls`, { auth: tok() });
  assert.equal(limited.status, 403);
  assert.equal(limited.headers.get('retry-after'), '7');
  assert.match(limited.body.message, /secondary rate limit/);
  await control('POST', 'faults', { path_regex: '/pulls$', status: 429, retry_after: 1, count: 1 });
  assert.equal((await api('GET', `${repo}/pulls`, { auth: tok() })).status, 429);
  // A delay beyond the client's deadline: the client gives up, the double is unharmed.
  await control('POST', 'faults', { path_regex: '/installation$', delay_ms: 2000, count: 1 });
  await assert.rejects(fetch(`${base}${repo}/installation`, { headers: { 'user-agent': 'ferry-double-test', authorization: `Bearer ${app_jwt()}` }, signal: AbortSignal.timeout(200) }));
  const head = (await api('GET', `${repo}/git/ref/heads/main`, { auth: tok() })).body.object.sha;
  const moved = await control('POST', 'repos/dine-together/infra/move-ref', { ref: 'heads/main', files: { 'README.md': 'someone else\n' } });
  assert.equal(moved.body.from, head);
  const now = (await api('GET', `${repo}/git/ref/heads/main`, { auth: tok() })).body.object.sha;
  assert.equal(now, moved.body.to);
  const log = (await control('GET', 'requests')).body;
  assert.ok(log.some((e) => e.fault && e.status === 502));
  assert.ok(log.every((e) => e.method && e.path && e.auth));
  await control('DELETE', 'faults');
  assert.deepEqual(await violations(), []);
});

test('hook deliveries page with a cursor and redeliveries are recorded', async () => {
  const seeded = [];
  for (let i = 1; i <= 5; i++) {
    seeded.push({ id: 100 + i, guid: `g-${i}`, status_code: i % 2 ? 503 : 200, installation_id: 77 });
  }
  await control('POST', 'hook-deliveries', { deliveries: seeded });
  const jwt_auth = `Bearer ${app_jwt()}`;
  const failed = await api('GET', '/app/hook/deliveries?status=failure&per_page=100', { auth: jwt_auth });
  assert.deepEqual(failed.body.map((x) => x.id), [105, 103, 101]);
  const first = await api('GET', '/app/hook/deliveries?per_page=2', { auth: jwt_auth });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(first.body.map((d) => d.id), [105, 104]);
  const next = /<([^>]+)>; rel="next"/.exec(first.headers.get('link'))[1];
  const second = await api('GET', new URL(next).pathname + new URL(next).search, { auth: jwt_auth });
  assert.deepEqual(second.body.map((d) => d.id), [103, 102]);
  const r = await api('POST', '/app/hook/deliveries/103/attempts', { auth: jwt_auth });
  assert.equal(r.status, 202);
  assert.equal((await api('POST', '/app/hook/deliveries/1/attempts', { auth: jwt_auth })).status, 404);
  assert.deepEqual((await control('GET', 'redeliveries')).body.map((x) => x.delivery_id), [103]);
  assert.equal((await api('GET', '/app/hook/deliveries', { auth: tok() })).status, 401);
  assert.deepEqual(await violations(), []);
});

test('a GET answers with an ETag; If-None-Match naming it gets 304 that costs no rate limit', async () => {
  const first = await api('GET', '/repos/dine-together/infra/git/ref/heads/main', { auth: tok() });
  assert.equal(first.status, 200);
  const etag = first.headers.get('etag');
  assert.match(etag, /^W\/"[0-9a-f]{64}"$/);
  const used = Number(first.headers.get('x-ratelimit-used'));
  const again = await api('GET', '/repos/dine-together/infra/git/ref/heads/main', { auth: tok(), headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  assert.equal(again.headers.get('etag'), etag);
  assert.equal(Number(again.headers.get('x-ratelimit-used')), used, 'a 304 is not counted');
  // Another ETag (the ref moved since) gets the full answer, counted.
  const moved = await api('GET', '/repos/dine-together/infra/git/ref/heads/main', { auth: tok(), headers: { 'if-none-match': 'W/"0000"' } });
  assert.equal(moved.status, 200);
  assert.equal(moved.body.object.sha, first.body.object.sha);
  assert.equal(Number(moved.headers.get('x-ratelimit-used')), used + 1);
  assert.deepEqual(await violations(), []);
});
