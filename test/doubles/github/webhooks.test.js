'use strict';
// The webhooks the double records for what GitHub would deliver (push, pull_request), checked
// against @octokit/openapi-webhooks independently of the double's own validation, and the REST
// reads the whole-loop test needs after a merge (list-commits, commits/{sha}/pulls,
// pulls/{n}/files, closed PRs by head).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { start_double } = require('./harness');
const { webhook_schemas } = require('./webhooks');

let d;
let token;
const tok = () => `token ${token}`;
const repo = '/repos/acme/infra';
const k_zero = '0'.repeat(40);
const schemas = new webhook_schemas();

before(async () => {
  d = await start_double();
  const made = await d.control('POST', 'repos', {
    owner: 'acme', name: 'infra', installation_id: 5,
    files: { 'clusters/staging/app.yaml': 'tag: v1\n', 'clusters/production/app.yaml': 'tag: v1\n', 'README.md': 'infra\n' },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  token = await d.token(5);
});

after(() => d && d.stop());

async function head_of(branch) {
  return (await d.api('GET', `${repo}/git/ref/heads/${branch}`, { auth: tok() })).body.object.sha;
}

async function webhooks_since(seq) {
  const got = await d.control('GET', `webhooks?since=${seq}`);
  assert.equal(got.status, 200);
  return got.body;
}

async function last_seq() {
  const all = (await d.control('GET', 'webhooks')).body;
  return all.length ? all[all.length - 1].seq : 0;
}

// Validates a recorded delivery against the published schema, without the double's completion.
function assert_valid(w) {
  const copy = JSON.parse(JSON.stringify(w.payload));
  schemas.load();
  const key = webhook_schemas.key(w.event, w.event === 'push' ? null : copy.action);
  const v = schemas.ajv.getSchema(`webhooks#/components/schemas/${key}`) || schemas.ajv.compile({ $ref: `webhooks#/components/schemas/${key}` });
  assert.ok(v(copy), `${key}: ${JSON.stringify(v.errors)}`);
  assert.match(w.delivery_id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
}

// Creates branch `name` from main with `files` changed, through the Git Data API.
async function branch_with(name, files) {
  const head = await head_of('main');
  const base_tree = (await d.api('GET', `${repo}/git/commits/${head}`, { auth: tok() })).body.tree.sha;
  const tree = await d.api('POST', `${repo}/git/trees`, {
    auth: tok(), body: { base_tree, tree: Object.entries(files).map(([p, c]) => (c === null ? { path: p, mode: '100644', type: 'blob', sha: null } : { path: p, mode: '100644', type: 'blob', content: c })) },
  });
  const commit = await d.api('POST', `${repo}/git/commits`, { auth: tok(), body: { message: `edit ${name}`, tree: tree.body.sha, parents: [head] } });
  assert.equal(commit.status, 201);
  const ref = await d.api('POST', `${repo}/git/refs`, { auth: tok(), body: { ref: `refs/heads/${name}`, sha: commit.body.sha } });
  assert.equal(ref.status, 201);
  return commit.body.sha;
}

test('a REST merge records push (base moved, right paths) and pull_request closed+merged', async () => {
  const seq = await last_seq();
  const main_before = await head_of('main');
  const head = await branch_with('ferry/staging/flux-system-app', { 'clusters/staging/app.yaml': 'tag: v2\n', 'clusters/staging/new.yaml': 'x: 1\n', 'README.md': null });
  const pr = await d.api('POST', `${repo}/pulls`, { auth: tok(), body: { title: 'bump', head: 'ferry/staging/flux-system-app', base: 'main' } });
  assert.equal(pr.status, 201);
  const merged = await d.api('PUT', `${repo}/pulls/${pr.body.number}/merge`, { auth: tok(), body: { merge_method: 'squash', sha: head } });
  assert.equal(merged.status, 200);
  const got = await webhooks_since(seq);
  got.forEach(assert_valid);
  assert.deepEqual(got.map((w) => [w.event, w.payload.action || w.payload.ref]), [
    ['push', 'refs/heads/ferry/staging/flux-system-app'],
    ['pull_request', 'opened'],
    ['push', 'refs/heads/main'],
    ['pull_request', 'closed'],
  ]);
  const created = got[0].payload;
  assert.equal(created.before, k_zero);
  assert.equal(created.after, head);
  assert.equal(created.created, true);
  // The new branch brings one commit no other branch has.
  assert.deepEqual(created.commits.map((c) => c.id), [head]);
  const push = got[2].payload;
  assert.equal(push.before, main_before);
  assert.equal(push.after, merged.body.sha);
  assert.equal(push.created, false);
  assert.equal(push.deleted, false);
  assert.equal(push.forced, false);
  assert.equal(push.base_ref, null);
  assert.equal(push.repository.full_name, 'acme/infra');
  assert.equal(push.repository.default_branch, 'main');
  assert.equal(push.repository.owner.login, 'acme');
  assert.equal(push.repository.owner.name, 'acme');
  assert.equal(push.repository.clone_url, `${d.base}/acme/infra.git`);
  assert.equal(push.installation.id, 5);
  assert.equal(push.pusher.name, 'ferry[bot]');
  assert.equal(push.sender.login, 'ferry[bot]');
  assert.equal(push.commits.length, 1);
  assert.deepEqual(push.commits[0].added, ['clusters/staging/new.yaml']);
  assert.deepEqual(push.commits[0].removed, ['README.md']);
  assert.deepEqual(push.commits[0].modified, ['clusters/staging/app.yaml']);
  assert.equal(push.head_commit.id, merged.body.sha);
  assert.equal(push.commits[0].tree_id, (await d.api('GET', `${repo}/git/commits/${merged.body.sha}`, { auth: tok() })).body.tree.sha);
  const closed = got[3].payload;
  assert.equal(closed.number, pr.body.number);
  assert.equal(closed.pull_request.merged, true);
  assert.equal(closed.pull_request.state, 'closed');
  assert.equal(closed.pull_request.merge_commit_sha, merged.body.sha);
  assert.equal(closed.pull_request.head.ref, 'ferry/staging/flux-system-app');
  assert.equal(closed.pull_request.head.sha, head);
  assert.equal(closed.pull_request.head.repo.full_name, 'acme/infra');
  assert.equal(closed.pull_request.base.ref, 'main');
  assert.equal(closed.pull_request.merged_by.login, 'ferry[bot]');
  assert.equal(closed.pull_request.user.login, 'ferry[bot]');
  assert.equal(closed.installation.id, 5);

  // Deleting the merged branch records push deleted=true with zeros after.
  const seq2 = await last_seq();
  assert.equal((await d.api('DELETE', `${repo}/git/refs/heads/ferry/staging/flux-system-app`, { auth: tok() })).status, 204);
  const del = await webhooks_since(seq2);
  del.forEach(assert_valid);
  assert.equal(del.length, 1);
  assert.equal(del[0].payload.deleted, true);
  assert.equal(del[0].payload.before, head);
  assert.equal(del[0].payload.after, k_zero);
  assert.deepEqual(del[0].payload.commits, []);
  assert.equal(del[0].payload.head_commit, null);
  assert.deepEqual(await d.violations(), []);
});

test('a merge through the control plane is a person\'s; an unmerged close says merged false', async () => {
  await branch_with('by-hand', { 'clusters/production/app.yaml': 'tag: v3\n' });
  const pr = await d.api('POST', `${repo}/pulls`, { auth: tok(), body: { title: 'hand', head: 'by-hand', base: 'main' } });
  const seq = await last_seq();
  const m = await d.control('POST', `repos/acme/infra/pulls/${pr.body.number}`, { merge: 'merge' });
  assert.equal(m.status, 200);
  const got = await webhooks_since(seq);
  got.forEach(assert_valid);
  const closed = got.find((w) => w.event === 'pull_request').payload;
  assert.equal(closed.action, 'closed');
  assert.equal(closed.pull_request.merged_by.login, 'octocat');
  assert.equal(closed.sender.login, 'octocat');
  const push = got.find((w) => w.event === 'push').payload;
  // A merge commit brings the branch's commit and itself.
  assert.equal(push.commits.length, 2);
  assert.equal(push.pusher.name, 'octocat');

  await branch_with('dropped', { 'clusters/production/app.yaml': 'tag: v9\n' });
  const pr2 = await d.api('POST', `${repo}/pulls`, { auth: tok(), body: { title: 'drop', head: 'dropped', base: 'main' } });
  const seq2 = await last_seq();
  assert.equal((await d.api('PATCH', `${repo}/pulls/${pr2.body.number}`, { auth: tok(), body: { state: 'closed' } })).status, 200);
  const got2 = await webhooks_since(seq2);
  got2.forEach(assert_valid);
  assert.equal(got2.length, 1);
  assert.equal(got2[0].payload.action, 'closed');
  assert.equal(got2[0].payload.pull_request.merged, false);
  assert.equal(got2[0].payload.pull_request.merge_commit_sha, null);
  assert.deepEqual(await d.violations(), []);
});

test('moving a PR head records push and synchronize; forced when not a fast-forward', async () => {
  const first = await branch_with('moving', { 'a.txt': 'one\n' });
  const pr = await d.api('POST', `${repo}/pulls`, { auth: tok(), body: { title: 'moving', head: 'moving', base: 'main' } });
  const seq = await last_seq();
  const moved = await d.control('POST', 'repos/acme/infra/move-ref', { ref: 'moving', files: { 'b.txt': 'two\n' } });
  assert.equal(moved.body.moved, true);
  let got = await webhooks_since(seq);
  got.forEach(assert_valid);
  assert.deepEqual(got.map((w) => w.payload.action || 'push'), ['push', 'synchronize']);
  assert.equal(got[1].payload.before, first);
  assert.equal(got[1].payload.after, moved.body.to);
  assert.equal(got[1].payload.number, pr.body.number);
  assert.deepEqual(got[0].payload.commits[0].added, ['b.txt']);

  const seq2 = await last_seq();
  const back = await d.control('POST', 'repos/acme/infra/move-ref', { ref: 'moving', sha: await head_of('main') });
  assert.equal(back.body.moved, true);
  got = await webhooks_since(seq2);
  assert.equal(got[0].payload.forced, true);
  assert.deepEqual(got[0].payload.commits, []);

  // Deleting the head branch of an open PR closes it, as GitHub does.
  const seq3 = await last_seq();
  assert.equal((await d.api('DELETE', `${repo}/git/refs/heads/moving`, { auth: tok() })).status, 204);
  got = await webhooks_since(seq3);
  got.forEach(assert_valid);
  assert.deepEqual(got.map((w) => w.payload.action || 'push'), ['push', 'closed']);
  assert.deepEqual(await d.violations(), []);
});

test('a git push over smart HTTP records its push', async () => {
  const work = fs.mkdtempSync(path.join(d.tmp, 'push-'));
  const env = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  const url = `${d.base.replace('://', `://x-access-token:${token}@`)}/acme/infra.git`;
  execFileSync('git', ['clone', '-q', url, work], { env });
  fs.writeFileSync(path.join(work, 'pushed.txt'), 'by a person\n');
  execFileSync('git', ['-C', work, 'add', 'pushed.txt'], { env });
  execFileSync('git', ['-C', work, '-c', 'user.name=P', '-c', 'user.email=p@example.com', 'commit', '-qm', 'by hand'], { env });
  const sha = execFileSync('git', ['-C', work, 'rev-parse', 'HEAD'], { env }).toString().trim();
  const seq = await last_seq();
  execFileSync('git', ['-C', work, 'push', '-q', 'origin', 'HEAD:refs/heads/pushed'], { env });
  const got = await webhooks_since(seq);
  got.forEach(assert_valid);
  assert.equal(got.length, 1);
  assert.equal(got[0].payload.ref, 'refs/heads/pushed');
  assert.equal(got[0].payload.after, sha);
  assert.equal(got[0].payload.head_commit.author.email, 'p@example.com');
  assert.deepEqual(got[0].payload.head_commit.added, ['pushed.txt']);
});

test('list-commits, commits/{sha}/pulls, pulls/{n}/files and closed PRs by head', async () => {
  const main = await head_of('main');
  const list = await d.api('GET', `${repo}/commits?sha=main&per_page=2`, { auth: tok() });
  assert.equal(list.status, 200);
  assert.equal(list.body.length, 2);
  assert.equal(list.body[0].sha, main);
  const future = await d.api('GET', `${repo}/commits?sha=main&since=2999-01-01T00:00:00Z`, { auth: tok() });
  assert.deepEqual(future.body, []);

  const st = (await d.control('GET', 'state')).body.repos['acme/infra'];
  const merged = st.pulls.find((p) => p.head === 'ferry/staging/flux-system-app');
  const by_merge = await d.api('GET', `${repo}/commits/${merged.merge_commit_sha}/pulls`, { auth: tok() });
  assert.equal(by_merge.status, 200);
  assert.deepEqual(by_merge.body.map((p) => p.number), [merged.number]);
  const by_head = await d.api('GET', `${repo}/commits/${merged.head_sha}/pulls`, { auth: tok() });
  assert.deepEqual(by_head.body.map((p) => p.number), [merged.number]);

  const closed = await d.api('GET', `${repo}/pulls?state=closed&head=acme:ferry/staging/flux-system-app`, { auth: tok() });
  assert.deepEqual(closed.body.map((p) => [p.number, p.merged_at !== null]), [[merged.number, true]]);

  await branch_with('files', { 'clusters/staging/app.yaml': 'tag: v7\nextra: 1\n', 'gone.txt': null, 'README.md': null, 'n.txt': 'n\n' });
  const pr = await d.api('POST', `${repo}/pulls`, { auth: tok(), body: { title: 'files', head: 'files', base: 'main' } });
  const files = await d.api('GET', `${repo}/pulls/${pr.body.number}/files?per_page=100`, { auth: tok() });
  assert.equal(files.status, 200);
  const by_name = Object.fromEntries(files.body.map((f) => [f.filename, f.status]));
  assert.equal(by_name['clusters/staging/app.yaml'], 'modified');
  assert.equal(by_name['n.txt'], 'added');
  assert.deepEqual(await d.violations(), []);
});

test('pulls/{n}/files pages with a link rel="next"', async () => {
  const files = {};
  for (let i = 0; i < 5; i++) {
    files[`many/f${i}.txt`] = `${i}\n`;
  }
  await branch_with('many', files);
  const pr = await d.api('POST', `${repo}/pulls`, { auth: tok(), body: { title: 'many', head: 'many', base: 'main' } });
  const first = await d.api('GET', `${repo}/pulls/${pr.body.number}/files?per_page=2`, { auth: tok() });
  assert.equal(first.body.length, 2);
  const next = /<([^>]+)>; rel="next"/.exec(first.headers.get('link'));
  assert.ok(next, first.headers.get('link'));
  const seen = [...first.body];
  let url = next[1];
  while (url) {
    const page = await d.api('GET', url.slice(d.base.length), { auth: tok() });
    seen.push(...page.body);
    const m = /<([^>]+)>; rel="next"/.exec(page.headers.get('link') || '');
    url = m ? m[1] : null;
  }
  assert.deepEqual(seen.map((f) => f.filename).sort(), Object.keys(files).sort());
  assert.deepEqual(await d.violations(), []);
});
