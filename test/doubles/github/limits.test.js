'use strict';
// The double's secondary rate limits on content creation (docs.github.com, "Rate limits for the
// REST API" -> "About secondary rate limits": 80 content-generating requests a minute, 500 an
// hour): what counts, GitHub's 403 body and retry-after, per installation, and the control
// endpoint that lowers them.

const { test, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { start_double } = require('./harness');

let d;
let token;
let other;
const tok = () => `token ${token}`;
const repo = '/repos/acme/infra';
const k_message = 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.';

before(async () => {
  d = await start_double();
  assert.equal((await d.control('POST', 'repos', { owner: 'acme', name: 'infra', installation_id: 5, files: { 'a.yaml': 'tag: v1\n' } })).status, 201);
  assert.equal((await d.control('POST', 'repos', { owner: 'other', name: 'infra', installation_id: 6, files: { 'a.yaml': 'tag: v1\n' } })).status, 201);
  token = await d.token(5);
  other = await d.token(6);
});

after(() => d && d.stop());

beforeEach(async () => {
  assert.equal((await d.control('POST', 'limits', { writes_per_minute: 80, writes_per_hour: 500, forget_writes: true })).status, 200);
});

const blob = (auth = tok(), r = repo) => d.api('POST', `${r}/git/blobs`, { auth, body: { content: 'x', encoding: 'utf-8' } });
const gql = (query, variables) => d.api('POST', '/graphql', { auth: tok(), body: { query, variables } });

function assert_secondary(res, max_retry_after) {
  assert.equal(res.status, 403, JSON.stringify(res.body));
  assert.equal(res.body.message, k_message);
  assert.equal(res.body.documentation_url, 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits');
  const retry = Number(res.headers.get('retry-after'));
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= max_retry_after, `retry-after ${res.headers.get('retry-after')}`);
}

test('GitHub\'s defaults: 80 a minute, 500 an hour', async () => {
  const limits = (await d.control('GET', 'limits')).body;
  assert.equal(limits.writes_per_minute, 80);
  assert.equal(limits.writes_per_hour, 500);
});

test('the minute limit refuses the next write with GitHub\'s 403 and retry-after, and refusals do not count', async () => {
  await d.control('POST', 'limits', { writes_per_minute: 3 });
  for (let i = 0; i < 3; i++) {
    assert.equal((await blob()).status, 201);
  }
  const before_count = (await d.control('GET', 'limits')).body.secondary_limited;
  assert_secondary(await blob(), 60);
  assert_secondary(await d.api('PATCH', `${repo}/git/refs/heads/main`, { auth: tok(), body: { sha: '0'.repeat(40) } }), 60);
  const limits = (await d.control('GET', 'limits')).body;
  assert.equal(limits.secondary_limited, before_count + 2);
  assert.deepEqual(limits.writes['installation:5'], { last_minute: 3, last_hour: 3 });
  // Reads still go through, and the refusals were logged as such.
  assert.equal((await d.api('GET', `${repo}/git/ref/heads/main`, { auth: tok() })).status, 200);
  const log = (await d.control('GET', 'requests')).body.filter((r) => r.secondary_limit);
  assert.ok(log.length >= 2 && log.every((r) => r.status === 403));
});

test('the hour limit answers a retry-after of up to an hour', async () => {
  await d.control('POST', 'limits', { writes_per_hour: 2 });
  assert.equal((await blob()).status, 201);
  assert.equal((await blob()).status, 201);
  const refused = await blob();
  assert_secondary(refused, 3600);
  assert.ok(Number(refused.headers.get('retry-after')) > 60, 'the hour window frees later than the minute window');
});

test('a fresh token of the same installation shares its budget; another installation has its own', async () => {
  await d.control('POST', 'limits', { writes_per_minute: 1 });
  assert.equal((await blob()).status, 201);
  const fresh = await d.token(5);
  assert_secondary(await blob(`token ${fresh}`), 60);
  assert.equal((await blob(`token ${other}`, '/repos/other/infra')).status, 201);
});

test('GraphQL mutations count, queries and App (JWT) requests do not', async () => {
  await d.control('POST', 'limits', { writes_per_minute: 1 });
  const q = 'query { repository(owner: "acme", name: "infra") { id } }';
  for (let i = 0; i < 3; i++) {
    const r = await gql(q);
    assert.equal(r.status, 200);
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
  }
  // The App's token requests are POSTs with a JWT: not an installation's content.
  await d.token(5);
  const head = (await d.api('GET', `${repo}/git/ref/heads/main`, { auth: tok() })).body.object.sha;
  const m = 'mutation ($input: CreateCommitOnBranchInput!) { createCommitOnBranch(input: $input) { commit { oid } } }';
  const input = { branch: { repositoryNameWithOwner: 'acme/infra', branchName: 'main' }, message: { headline: 'm' }, expectedHeadOid: head, fileChanges: { additions: [{ path: 'b.yaml', contents: Buffer.from('b\n').toString('base64') }] } };
  const first = await gql(m, { input });
  assert.equal(first.status, 200);
  assert.equal(first.body.errors, undefined, JSON.stringify(first.body));
  const second = await gql(m, { input: { ...input, expectedHeadOid: first.body.data.createCommitOnBranch.commit.oid } });
  assert_secondary(second, 60);
  assert_secondary(await blob(), 60);
  assert.deepEqual(await d.violations(), []);
});

test('forget_writes frees the windows; bad limits are refused', async () => {
  await d.control('POST', 'limits', { writes_per_minute: 1 });
  assert.equal((await blob()).status, 201);
  assert_secondary(await blob(), 60);
  await d.control('POST', 'limits', { forget_writes: true });
  assert.equal((await blob()).status, 201);
  const bad = await d.control('POST', 'limits', { writes_per_minute: -1 });
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /writes_per_minute must be a non-negative integer/);
});
