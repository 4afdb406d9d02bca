'use strict';
// Starts the GitHub double as a child process for tests and talks to it. Also usable from other
// Node test code that needs a running double.

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const k_server = path.join(__dirname, 'server.js');
const k_ua = { 'user-agent': 'ferry-double-test' };

function sign_jwt(claims, key) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc(claims)}`;
  return `${head}.${crypto.sign('RSA-SHA256', Buffer.from(head), key).toString('base64url')}`;
}

// Starts the double; resolves {proc, info, base, tmp, stop()}.
async function start_double(extra_args = []) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'github-double-test-'));
  const proc = spawn(process.execPath, [k_server, '--port', '0', '--state-dir', path.join(tmp, 'state'), '--check-responses', ...extra_args],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: proc.stdout });
    rl.once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`double exited ${code}`)));
  });
  const info = JSON.parse(line);
  const d = {
    proc, info, base: info.url, tmp,
    stop() {
      proc.kill('SIGTERM');
      fs.rmSync(tmp, { recursive: true, force: true });
    },
    app_jwt(overrides = {}, key = fs.readFileSync(info.private_key_path)) {
      const now = Math.floor(Date.now() / 1000);
      return sign_jwt({ iat: now - 60, exp: now + 540, iss: String(info.app_id), ...overrides }, key);
    },
    async api(method, p, { body, auth, headers = {}, raw } = {}) {
      const h = { ...k_ua, accept: 'application/vnd.github+json', ...headers };
      if (auth) {
        h.authorization = auth;
      }
      if (body !== undefined) {
        h['content-type'] = 'application/json';
      }
      const res = await fetch(`${info.url}${p}`, { method, headers: h, body: raw !== undefined ? raw : (body === undefined ? undefined : JSON.stringify(body)) });
      const text = await res.text();
      let json;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = text;
      }
      return { status: res.status, body: json, headers: res.headers };
    },
    control(method, p, body) {
      return d.api(method, `/_double/${p}`, { body });
    },
    async violations() {
      return (await d.control('GET', 'violations')).body;
    },
    async clear_violations() {
      await d.control('DELETE', 'violations');
    },
    async token(installation_id) {
      const t = await d.api('POST', `/app/installations/${installation_id}/access_tokens`, { auth: `Bearer ${d.app_jwt()}` });
      if (t.status !== 201) {
        throw new Error(`token: ${t.status} ${JSON.stringify(t.body)}`);
      }
      return t.body.token;
    },
  };
  return d;
}

module.exports = { start_double, sign_jwt, k_ua };
