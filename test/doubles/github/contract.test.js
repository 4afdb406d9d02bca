'use strict';
// The contract checker on its own (in process: loading the 70 MB description blocks the event
// loop for seconds, so it stays out of the files that talk to a running double).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { contract } = require('./contract');

test('the contract checker matches slashy refs, prefers literal templates and catches bad answers', () => {
  const c = new contract();
  let m = c.match('PATCH', '/repos/o/r/git/refs/heads/ferry/staging/flux-system-app');
  assert.equal(m.template, '/repos/{owner}/{repo}/git/refs/{ref}');
  assert.equal(m.params.ref, 'heads/ferry/staging/flux-system-app');
  m = c.match('PATCH', '/repos/o/r/git/refs/heads%2Fferry%2Fstaging%2Fx');
  assert.equal(m.params.ref, 'heads/ferry/staging/x');
  assert.equal(c.match('GET', '/repos/o/r/commits/heads/main/status').template, '/repos/{owner}/{repo}/commits/{ref}/status');
  assert.equal(c.match('GET', '/repos/o/r/contents/a/b/c.yaml').params.path, 'a/b/c.yaml');
  assert.match(c.match('GET', '/repos/o/r/git/refs').error, /not a documented method/);
  assert.match(c.match('GET', '/nothing/here').error, /no documented operation/);
  m = c.match('POST', '/repos/o/r/statuses/abc');
  assert.deepEqual(c.check_response(m, 201, { state: 'success' }).length > 0, true);
  const bad = c.check_response(c.match('GET', '/app'), 200, { id: 'not-a-number' });
  assert.ok(bad.some((x) => /must be integer/.test(x)), bad.join('\n'));
  const req = c.check_request(c.match('POST', '/repos/o/r/pulls'), new URLSearchParams(), {}, '{"head":"a","base":"b","draft":"yes"}');
  assert.ok(req.problems.some((x) => /draft must be boolean/.test(x)), req.problems.join('\n'));
  const version = c.check_request(c.match('GET', '/app'), new URLSearchParams(), { 'x-github-api-version': '2001-01-01' }, '');
  assert.equal(version.problems.length, 1);
});
