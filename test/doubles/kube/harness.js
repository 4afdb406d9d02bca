'use strict';
// Starts the Kubernetes double as a child process for Node tests and talks to it over HTTPS
// (trusting the CA that make-pki.sh wrote).

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const k_server = path.join(__dirname, 'server.js');
const k_make_pki = path.join(__dirname, 'make-pki.sh');

// One HTTPS request; resolves {status, headers, text, body (parsed JSON or undefined)}.
function request(d, method, p, { body, raw, content_type, token, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const h = { accept: 'application/json', ...headers };
    const tok = token === undefined ? d.token() : token;
    if (tok !== null) {
      h.authorization = `Bearer ${tok}`;
    }
    let payload;
    if (raw !== undefined) {
      payload = Buffer.from(raw);
    } else if (body !== undefined) {
      payload = Buffer.from(JSON.stringify(body));
    }
    if (payload) {
      h['content-type'] = content_type || 'application/json';
      h['content-length'] = payload.length;
    }
    const req = https.request(`${d.base}${p}`, { method, headers: h, ca: d.ca }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, body: json });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

// Opens a watch; returns {status, headers, next(deadline_ms) -> event or null at end, ended, close()}.
function watch(d, p) {
  return new Promise((resolve, reject) => {
    const req = https.request(`${d.base}${p}`, { method: 'GET', headers: { authorization: `Bearer ${d.token()}` }, ca: d.ca }, (res) => {
      const events = [];
      const waiting = [];
      let ended = false;
      const wake = () => {
        while (waiting.length && (events.length || ended)) {
          waiting.shift()(events.length ? events.shift() : null);
        }
      };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, nl)));
          buf = buf.slice(nl + 1);
        }
        wake();
      });
      res.on('end', () => {
        ended = true;
        wake();
      });
      res.on('close', () => {
        ended = true;
        wake();
      });
      res.on('error', () => {}); // close() aborts the response on purpose
      resolve({
        status: res.statusCode, headers: res.headers,
        get ended() {
          return ended && events.length === 0;
        },
        // The next event, or null when the stream ended; rejects after ms without either.
        next(ms = 10000) {
          return new Promise((ok, fail) => {
            const t = setTimeout(() => fail(new Error(`no watch event within ${ms} ms`)), ms);
            waiting.push((ev) => {
              clearTimeout(t);
              ok(ev);
            });
            wake();
          });
        },
        close() {
          req.destroy();
        },
      });
    });
    req.on('error', (e) => {
      if (!req.destroyed || !req.res) {
        reject(e);
      }
    });
    req.end();
  });
}

// Starts the double; resolves {proc, info, base, dir, ca, token_path, token(), rotate_token(),
// api(), control(), watch(), violations(), stop()}.
async function start_kube(extra_args = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-double-test-'));
  execFileSync(k_make_pki, [dir], { stdio: 'inherit' });
  const proc = spawn(process.execPath, [k_server, '--cert', path.join(dir, 'server.pem'), '--key', path.join(dir, 'server-key.pem'),
    '--token-file', path.join(dir, 'token'), '--port', '0', ...extra_args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: proc.stdout });
    rl.once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`kube double exited ${code}`)));
  });
  const info = JSON.parse(line);
  const d = {
    proc, info, base: info.url, dir, ca: fs.readFileSync(path.join(dir, 'ca.pem')), token_path: path.join(dir, 'token'),
    token() {
      return fs.readFileSync(d.token_path, 'utf8').trim();
    },
    rotate_token(value) {
      fs.writeFileSync(d.token_path, `${value}\n`);
    },
    api(method, p, opts) {
      return request(d, method, p, opts);
    },
    control(method, p, body) {
      return request(d, method, `/_double/${p}`, { body, token: null });
    },
    watch(p) {
      return watch(d, p);
    },
    async violations() {
      return (await d.control('GET', 'violations')).body;
    },
    stop() {
      proc.kill('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return d;
}

// Polls fn until it returns a truthy value or the deadline passes.
async function eventually(fn, ms = 10000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) {
      return v;
    }
    if (Date.now() > end) {
      throw new Error(`${what} not reached within ${ms} ms`);
    }
    await new Promise((r) => setTimeout(r, 20)); // poll interval, not a wait for an outcome
  }
}

module.exports = { start_kube, eventually };
