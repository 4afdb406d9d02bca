#!/usr/bin/env node
'use strict';
// A Kubernetes API server double for ferry's tests: Jobs, Pods (+log), Leases and Flux
// GitRepositories/Kustomizations over HTTPS with bearer-token auth, validated with the generated
// kubernetes-models / @kubernetes-models/flux-cd validators, with watch, and with simulated Job
// and Flux controllers. See README.md next to this file.
//
//   node test/doubles/kube/server.js --cert CERT.pem --key KEY.pem --token-file TOKEN
//        [--port 0] [--host 127.0.0.1] [--namespaces flux-system,apps]
// prints one JSON line when listening: {"port":N,"url":"https://127.0.0.1:N"}

const https = require('node:https');
const fs = require('node:fs');
const crypto = require('node:crypto');

const res_table = require('./resources');
const { merge_patch, json_patch, deep_equal, is_object } = require('./patch');

const k_user = 'system:serviceaccount:ferry:ferry';
const k_history = 1000; // watch events kept for resuming from a resourceVersion
const k_default_watch_timeout_s = 300;
const k_bookmark_interval_ms = 60000; // the watch cache sends bookmarks about once a minute
const k_requests_kept = 5000;

function parse_args(argv) {
  const a = { port: 0, host: '127.0.0.1', namespaces: null };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) {
        throw new Error(`${k} needs a value`);
      }
      return argv[++i];
    };
    switch (k) {
      case '--port': a.port = Number(v()); break;
      case '--host': a.host = v(); break;
      case '--cert': a.cert = v(); break;
      case '--key': a.key = v(); break;
      case '--token-file': a.token_file = v(); break;
      case '--namespaces': a.namespaces = v().split(',').map((s) => s.trim()).filter(Boolean); break;
      default: throw new Error(`unknown argument ${k}`);
    }
  }
  for (const [flag, key] of [['--cert', 'cert'], ['--key', 'key'], ['--token-file', 'token_file']]) {
    if (!a[key]) {
      throw new Error(`${flag} is required`);
    }
  }
  return a;
}

// metav1.Time: RFC 3339 with second precision.
const iso = (ms = Date.now()) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

// metav1.Status as the API server writes it (apimachinery pkg/api/errors).
// Members in the order the API server writes them.
function status_body(code, reason, message, details) {
  const s = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: code < 400 ? 'Success' : 'Failure' };
  if (code >= 400) {
    s.message = message;
    s.reason = reason;
  }
  if (details) {
    s.details = details;
  }
  s.code = code;
  return s;
}

class api_error extends Error {
  constructor(code, reason, message, details, violation = true) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
    this.violation = violation;
  }
}

const e_bad_request = (msg) => new api_error(400, 'BadRequest', msg);
const e_not_found = (r, name) => new api_error(404, 'NotFound', `${r.qualified} "${name}" not found`, gdetails(r, name), false);
const e_unsupported = (msg) => new api_error(415, 'UnsupportedMediaType', msg);
function gdetails(r, name, kind = r.resource) {
  const d = {};
  if (name !== undefined) {
    d.name = name;
  }
  if (r.group) {
    d.group = r.group;
  }
  d.kind = kind;
  return d;
}
function e_invalid(r, name, causes) {
  // ErrorList.ToAggregate drops duplicate messages; causes keep every entry.
  const msgs = [...new Set(causes.map((c) => `${c.field}: ${c.message}`))];
  const body = msgs.length === 1 ? msgs[0] : `[${msgs.join(', ')}]`;
  return new api_error(422, 'Invalid', `${r.qualified_kind} "${name}" is invalid: ${body}`, { ...gdetails(r, name, r.kind), causes });
}

// Label selectors: equality (=, ==, !=) and existence (key, !key), comma means AND
// (apimachinery labels.Parse; set-based "in"/"notin" are not supported by the double).
function parse_label_selector(s) {
  if (!s) {
    return () => true;
  }
  const reqs = s.split(',').map((t) => t.trim()).map((t) => {
    let m;
    if ((m = /^([A-Za-z0-9._/-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)$/.exec(t))) {
      return { key: m[1], op: m[2] === '!=' ? 'ne' : 'eq', value: m[3] };
    }
    if ((m = /^!([A-Za-z0-9._/-]+)$/.exec(t))) {
      return { key: m[1], op: 'absent' };
    }
    if ((m = /^([A-Za-z0-9._/-]+)$/.exec(t))) {
      return { key: m[1], op: 'exists' };
    }
    throw e_bad_request(`unable to parse requirement: found '${t}', expected: '=', '!=', '==', 'in', notin' (the double supports =, ==, !=, key and !key)`);
  });
  return (labels = {}) => reqs.every((q) => {
    const has = Object.hasOwn(labels, q.key);
    switch (q.op) {
      case 'eq': return has && labels[q.key] === q.value;
      case 'ne': return !has || labels[q.key] !== q.value;
      case 'exists': return has;
      default: return !has;
    }
  });
}

// Field selectors: metadata.name and metadata.namespace with =, ==, != (the fields every
// resource supports).
function parse_field_selector(s) {
  if (!s) {
    return () => true;
  }
  const reqs = s.split(',').map((t) => {
    const m = /^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$/.exec(t.trim());
    if (!m) {
      throw e_bad_request(`invalid selector: '${s}'; can't understand '${t}'`);
    }
    if (m[1] !== 'metadata.name' && m[1] !== 'metadata.namespace') {
      throw e_bad_request(`field label not supported: ${m[1]}`);
    }
    return { key: m[1].slice('metadata.'.length), ne: m[2] === '!=', value: m[3] };
  });
  return (meta) => reqs.every((q) => (meta[q.key] === q.value) !== q.ne);
}

class kube_double {
  constructor(opts) {
    this.opts = opts;
    this.objects = new Map(); // "resource/ns/name" -> stored object (canonical version)
    this.rv = 100;
    this.history = []; // {rv, resource, ns, type, object, prev}
    this.compacted = this.rv; // watches from resourceVersions below this get 410 Expired
    this.watchers = new Set();
    this.requests = [];
    this.violations = [];
    this.faults = [];
    this.jobs_mode = { mode: 'manual', delay_ms: 0, message: '', logs: '' };
    this.flux_mode = { mode: 'manual', delay_ms: 0, message: '', helm: { mode: 'manual', message: '' } };
    this.fleet_mode = { mode: 'manual', delay_ms: 0, message: '', commit: '' };
    this.argocd_mode = { mode: 'manual', delay_ms: 0, message: '' };
    this.pod_logs = new Map(); // "ns/pod" -> text
    this.timers = new Set();
  }

  later(ms, fn) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  next_rv() {
    return String(++this.rv);
  }

  key(r, ns, name) {
    return `${r.resource}/${ns}/${name}`;
  }

  // The object as served at `version` (conversion between Flux versions is the apiVersion only).
  view(r, version, obj) {
    return { ...structuredClone(obj), apiVersion: r.api_version(version), kind: r.kind };
  }

  // Stores (or deletes, when obj is null) and notifies watchers. obj must already carry its new
  // resourceVersion.
  commit(r, ns, name, obj, type) {
    const k = this.key(r, ns, name);
    const prev = this.objects.get(k) || null;
    if (obj === null) {
      this.objects.delete(k);
    } else {
      this.objects.set(k, obj);
    }
    const rv = Number(obj ? obj.metadata.resourceVersion : this.rv);
    const ev = { rv, resource: r.resource, ns, type, object: structuredClone(type === 'DELETED' ? { ...prev, metadata: { ...prev.metadata, resourceVersion: String(rv) } } : obj), prev: prev && structuredClone(prev) };
    this.history.push(ev);
    if (this.history.length > k_history) {
      const dropped = this.history.splice(0, this.history.length - k_history);
      this.compacted = dropped[dropped.length - 1].rv;
    }
    for (const w of this.watchers) {
      w.deliver(ev);
    }
    this.after_write(r, ns, name, prev, obj, type);
  }

  violation(req_info, code, reason, message) {
    this.violations.push({ method: req_info.method, path: req_info.path, query: req_info.query, status: code, reason, message, at: iso() });
  }

  // ------------------------------------------------------------------ HTTP entry

  async handle(req, res) {
    const url = new URL(req.url, 'https://double');
    const body = await read_body(req);
    const info = {
      method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams),
      content_type: req.headers['content-type'] || null, body: parse_maybe(body), status: 0, auth: 'failed', at: iso(),
    };
    if (url.pathname.startsWith('/_double/')) {
      return this.control(req, res, url, body);
    }
    this.requests.push(info);
    if (this.requests.length > k_requests_kept) {
      this.requests.shift();
    }
    const send = (code, obj, headers = {}) => {
      info.status = code;
      const text = JSON.stringify(obj);
      res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
      res.end(text);
    };
    try {
      const who = this.authenticate(req);
      info.auth = who.auth;
      if (who.why) {
        info.auth_error = who.why;
      }
      if (info.auth !== 'ok') {
        throw new api_error(401, 'Unauthorized', 'Unauthorized');
      }
      const fault = this.take_fault(req.method, url.pathname);
      if (fault) {
        const headers = {};
        if (fault.retry_after !== undefined) {
          headers['retry-after'] = String(fault.retry_after);
        }
        const details = fault.retry_after !== undefined ? { retryAfterSeconds: Number(fault.retry_after) } : undefined;
        info.fault = true;
        return send(fault.status, status_body(fault.status, fault.reason, fault.message, details), headers);
      }
      const out = await this.api(req, res, url, body, info);
      if (out && out.text !== undefined) {
        info.status = out.code;
        res.writeHead(out.code, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(out.text) });
        res.end(out.text);
      } else if (out) {
        send(out.code, out.body, out.headers);
      }
    } catch (e) {
      if (!(e instanceof api_error)) {
        console.error(e.stack); // eslint-disable-line no-console
        this.violation(info, 500, 'DoubleError', e.stack); // a bug in the double must fail the test too
        return send(500, status_body(500, 'InternalError', `Internal error occurred: ${e.message}`));
      }
      if (e.violation) {
        this.violation(info, e.code, e.reason, e.message);
      }
      send(e.code, status_body(e.code, e.reason, e.message, e.details));
    }
  }

  // Returns {auth: "ok"|"failed", why} ; why says what failed (never the token itself).
  authenticate(req) {
    const h = req.headers.authorization;
    if (!h) {
      return { auth: 'failed', why: 'no Authorization header' };
    }
    let token;
    try {
      token = fs.readFileSync(this.opts.token_file, 'utf8').trim();
    } catch {
      return { auth: 'failed', why: 'token file unreadable' };
    }
    const m = /^Bearer (.+)$/.exec(h);
    if (!m || !token) {
      return { auth: 'failed', why: 'not a Bearer token' };
    }
    const a = Buffer.from(m[1]);
    const b = Buffer.from(token);
    return a.length === b.length && crypto.timingSafeEqual(a, b) ? { auth: 'ok' } : { auth: 'failed', why: 'token does not match the token file' };
  }

  take_fault(method, p) {
    for (const f of this.faults) {
      if (f.method && f.method.toUpperCase() !== method) {
        continue;
      }
      if (f.path_regex && !new RegExp(f.path_regex).test(p)) {
        continue;
      }
      if (f.count !== null) {
        f.count -= 1;
        if (f.count <= 0) {
          this.faults.splice(this.faults.indexOf(f), 1);
        }
      }
      return f;
    }
    return null;
  }

  // Routes /api/v1/namespaces/{ns}/{resource}[/{name}[/{sub}]] and
  // /apis/{group}/{version}/namespaces/{ns}/{resource}[/{name}[/{sub}]].
  route(p) {
    let seg;
    try {
      seg = p.split('/').slice(1).map(decodeURIComponent);
    } catch {
      return null; // malformed %-escape
    }
    let group;
    let version;
    let rest;
    if (seg[0] === 'api' && seg[1] === 'v1') {
      group = '';
      version = 'v1';
      rest = seg.slice(2);
    } else if (seg[0] === 'apis' && seg.length >= 3) {
      group = seg[1];
      version = seg[2];
      rest = seg.slice(3);
    } else {
      return null;
    }
    if (rest[0] !== 'namespaces' || rest.length < 3 || rest.length > 5) {
      return null;
    }
    const r = res_table.by_resource.get(rest[2]);
    if (!r || r.group !== group || !r.versions.includes(version)) {
      return null;
    }
    const sub = rest[4];
    if (sub !== undefined && !(r.resource === 'pods' && sub === 'log')) {
      return null;
    }
    return { r, version, ns: rest[1], name: rest[3], sub };
  }

  authorize(rt, verb) {
    if (this.opts.namespaces && !this.opts.namespaces.includes(rt.ns)) {
      const what = rt.sub ? `${rt.r.resource}/${rt.sub}` : rt.r.resource;
      const subject = rt.name !== undefined ? `${rt.r.qualified} "${rt.name}"` : rt.r.qualified;
      throw new api_error(403, 'Forbidden',
        `${subject} is forbidden: User "${k_user}" cannot ${verb} resource "${what}" in API group "${rt.r.group}" in the namespace "${rt.ns}"`,
        gdetails(rt.r, rt.name));
    }
  }

  async api(req, res, url, raw, info) {
    const rt = this.route(url.pathname);
    if (!rt) {
      throw new api_error(404, 'NotFound', 'the server could not find the requested resource', {}, true);
    }
    const q = url.searchParams;
    const watch = q.get('watch') === '1' || q.get('watch') === 'true';
    const m = req.method;
    const verb = {
      GET: rt.name === undefined ? (watch ? 'watch' : 'list') : 'get',
      POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete',
    }[m];
    if (!verb || (m === 'POST' && rt.name !== undefined) || (m !== 'GET' && rt.sub)
      || (rt.name === undefined && m !== 'GET' && m !== 'POST')) {
      throw new api_error(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`, {});
    }
    this.authorize(rt, verb);
    switch (verb) {
      case 'list': return this.list(rt, q);
      case 'watch': return this.watch(rt, q, req, res, info);
      case 'get': return rt.sub ? this.log(rt, q) : this.get(rt);
      case 'create': return this.create(rt, this.decode(rt, req, raw));
      case 'update': return this.update(rt, this.decode(rt, req, raw));
      case 'patch': return this.patch(rt, req, raw);
      default: return this.remove(rt, q, raw);
    }
  }

  // Body of POST/PUT: must be JSON, an object, of this resource's apiVersion/kind (both may be
  // omitted: the server takes them from the URL).
  decode(rt, req, raw) {
    const ct = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
    if (ct !== 'application/json') {
      throw e_unsupported(`the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`);
    }
    let obj;
    try {
      obj = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw e_bad_request(`${rt.r.kind} in version "${rt.version}" cannot be handled as a ${rt.r.kind}: ${e.message}`);
    }
    return this.check_type(rt, obj);
  }

  check_type(rt, obj) {
    if (!is_object(obj)) {
      throw e_bad_request(`${rt.r.kind} in version "${rt.version}" cannot be handled as a ${rt.r.kind}: json: cannot unmarshal ${Array.isArray(obj) ? 'array' : typeof obj} into Go value of type struct`);
    }
    drop_nulls(obj);
    const want = rt.r.api_version(rt.version);
    if (obj.apiVersion !== undefined && obj.apiVersion !== want) {
      // apiserver handlers/create.go and update.go
      throw e_bad_request(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${want})`);
    }
    if (obj.kind !== undefined && obj.kind !== rt.r.kind) {
      throw e_bad_request(`${rt.r.kind} in version "${rt.version}" cannot be handled as a ${rt.r.kind}: the kind in the data (${obj.kind}) does not match the expected kind (${rt.r.kind})`);
    }
    if (obj.metadata !== undefined && !is_object(obj.metadata)) {
      throw e_bad_request(`${rt.r.kind} in version "${rt.version}" cannot be handled as a ${rt.r.kind}: json: cannot unmarshal ${typeof obj.metadata} into Go struct field ${rt.r.kind}.metadata of type v1.ObjectMeta`);
    }
    obj.metadata = obj.metadata || {};
    if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== '' && obj.metadata.namespace !== rt.ns) {
      throw e_bad_request('the namespace of the provided object does not match the namespace sent on the request');
    }
    obj.apiVersion = want;
    obj.kind = rt.r.kind;
    return obj;
  }

  // Validates `obj` as served at rt.version; throws the API server's answer when invalid.
  check(rt, obj) {
    const v = res_table.validate(rt.r, rt.version, obj);
    if (v.decode_error) {
      throw e_bad_request(v.decode_error);
    }
    if (v.causes) {
      throw e_invalid(rt.r, obj.metadata.name, v.causes);
    }
  }

  get(rt) {
    const obj = this.objects.get(this.key(rt.r, rt.ns, rt.name));
    if (!obj) {
      throw e_not_found(rt.r, rt.name);
    }
    return { code: 200, body: this.view(rt.r, rt.version, obj) };
  }

  list(rt, q) {
    const lsel = parse_label_selector(q.get('labelSelector'));
    const fsel = parse_field_selector(q.get('fieldSelector'));
    const items = this.current(rt, lsel, fsel).map((o) => {
      const v = this.view(rt.r, rt.version, o);
      if (rt.r.builtin) {
        // Items of a built-in List carry no apiVersion/kind (they are encoded from the internal
        // list); custom resources are unstructured and keep theirs.
        delete v.apiVersion;
        delete v.kind;
      }
      return v;
    });
    return {
      code: 200,
      body: { kind: `${rt.r.kind}List`, apiVersion: rt.r.api_version(rt.version), metadata: { resourceVersion: String(this.rv) }, items },
    };
  }

  current(rt, lsel, fsel) {
    const out = [];
    for (const o of this.objects.values()) {
      if (o.kind === rt.r.kind && o.metadata.namespace === rt.ns && lsel(o.metadata.labels) && fsel(o.metadata)) {
        out.push(o);
      }
    }
    return out.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  }

  log(rt, q) {
    const pod = this.objects.get(this.key(rt.r, rt.ns, rt.name));
    if (!pod) {
      throw e_not_found(rt.r, rt.name);
    }
    const names = (pod.spec.containers || []).map((c) => c.name);
    const container = q.get('container');
    if (!container && names.length > 1) {
      throw e_bad_request(`a container name must be specified for pod ${rt.name}, choose one of: [${names.join(' ')}]`);
    }
    if (container && !names.includes(container)) {
      throw e_bad_request(`container ${container} is not valid for pod ${rt.name}`);
    }
    let text = this.pod_logs.get(`${rt.ns}/${rt.name}`) || '';
    const tail = q.get('tailLines');
    if (tail !== null) {
      const n = Number(tail);
      if (!/^[0-9]+$/.test(tail)) {
        throw e_bad_request(`tailLines: Invalid value: "${tail}": must be a non-negative integer`);
      }
      const lines = text.split('\n');
      const trailing = text.endsWith('\n');
      if (trailing) {
        lines.pop();
      }
      text = n === 0 ? '' : lines.slice(-n).join('\n') + (trailing && lines.length ? '\n' : '');
    }
    return { code: 200, body: null, text };
  }

  // ------------------------------------------------------------------ writes

  create(rt, obj, { from_control = false } = {}) {
    const r = rt.r;
    const meta = obj.metadata;
    if (!from_control && meta.resourceVersion !== undefined && meta.resourceVersion !== '') {
      // etcd3 storage refuses it and the handler reports the plain error as an internal one.
      throw new api_error(500, 'InternalError', 'Internal error occurred: resourceVersion should not be set on objects to be created',
        { causes: [{ message: 'resourceVersion should not be set on objects to be created' }] }, true);
    }
    if (!meta.name) {
      if (!meta.generateName) {
        throw e_invalid(r, '', [res_table.required('metadata.name', 'name or generateName is required')]);
      }
      // apiserver names.SimpleNameGenerator: prefix cut to 58 characters + 5 random characters
      // from "bcdfghjklmnpqrstvwxz2456789".
      const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
      meta.name = meta.generateName.slice(0, 58) + Array.from({ length: 5 }, () => alphabet[crypto.randomInt(alphabet.length)]).join('');
    }
    if (typeof meta.name !== 'string') {
      throw e_bad_request(`${r.kind} in version "${rt.version}" cannot be handled as a ${r.kind}: json: cannot unmarshal ${typeof meta.name} into Go struct field ObjectMeta.metadata.name of type string`);
    }
    const name = meta.name;
    // Name validity first: the API server reports it before looking for a conflict.
    const bad_name = res_table.name_causes(name);
    if (bad_name.length) {
      throw e_invalid(r, name, bad_name);
    }
    const existing = this.objects.get(this.key(r, rt.ns, name));
    if (existing && !from_control) {
      throw new api_error(409, 'AlreadyExists', `${r.qualified} "${name}" already exists`, gdetails(r, name), false);
    }
    meta.namespace = rt.ns;
    if (existing) {
      // /_double/objects upsert of an existing object keeps its identity.
      meta.uid = existing.metadata.uid;
      meta.creationTimestamp = existing.metadata.creationTimestamp;
      if (r.generation) {
        meta.generation = existing.metadata.generation + (deep_equal(existing.spec, obj.spec) ? 0 : 1);
      }
    } else {
      meta.uid = crypto.randomUUID();
      meta.creationTimestamp = iso();
      if (r.generation) {
        meta.generation = 1;
      }
    }
    if (!r.generation) {
      delete meta.generation;
    }
    delete meta.deletionTimestamp;
    if (!from_control && r.status_subresource) {
      // A create through the main resource cannot set status (it is a subresource).
      if (r.kind === 'Job') {
        obj.status = {};
      } else {
        delete obj.status;
      }
    }
    if (r.kind === 'Job' && !existing) {
      default_job(obj);
    }
    this.check(rt, obj);
    meta.resourceVersion = this.next_rv();
    const stored = this.canonical(r, obj);
    this.commit(r, rt.ns, name, stored, existing ? 'MODIFIED' : 'ADDED');
    return { code: existing ? 200 : 201, body: this.view(r, rt.version, stored) };
  }

  canonical(r, obj) {
    return { ...structuredClone(obj), apiVersion: r.api_version(r.versions[0]) };
  }

  // Common tail of PUT and PATCH: `next` is the client's intended object.
  replace(rt, old, next, { rv_required }) {
    const r = rt.r;
    const meta = next.metadata;
    if (meta.name !== undefined && meta.name !== rt.name) {
      throw e_bad_request(`the name of the object (${meta.name}) does not match the name on the URL (${rt.name})`);
    }
    if (meta.resourceVersion === undefined || meta.resourceVersion === '') {
      if (rv_required && !r.builtin) {
        // Custom resources do not allow unconditional updates (customResourceStrategy).
        throw e_invalid(r, rt.name, [res_table.invalid('metadata.resourceVersion', '0x0', 'must be specified for an update')]);
      }
    } else if (meta.resourceVersion !== old.metadata.resourceVersion) {
      throw new api_error(409, 'Conflict',
        `Operation cannot be fulfilled on ${r.qualified} "${rt.name}": the object has been modified; please apply your changes to the latest version and try again`,
        gdetails(r, rt.name), false);
    }
    meta.name = rt.name;
    meta.namespace = rt.ns;
    meta.uid = old.metadata.uid;
    meta.creationTimestamp = old.metadata.creationTimestamp;
    if (r.status_subresource) {
      // Writes to the main resource ignore status (it is a subresource).
      if (old.status === undefined) {
        delete next.status;
      } else {
        next.status = structuredClone(old.status);
      }
    }
    if (r.kind === 'Job') {
      default_job(next);
      // pkg/apis/batch/validation ValidateJobUpdate: the pod template is immutable.
      if (!deep_equal(next.spec && next.spec.template, old.spec.template)) {
        throw e_invalid(r, rt.name, [res_table.invalid('spec.template', next.spec && next.spec.template, 'field is immutable')]);
      }
    }
    if (r.generation) {
      meta.generation = old.metadata.generation + (deep_equal(old.spec, next.spec) ? 0 : 1);
    } else {
      delete meta.generation;
    }
    const unchanged = deep_equal({ ...next, metadata: { ...meta, resourceVersion: undefined } },
      { ...this.view(r, rt.version, old), metadata: { ...old.metadata, resourceVersion: undefined } });
    if (unchanged) {
      // A no-op update neither bumps resourceVersion nor produces a watch event.
      return { code: 200, body: this.view(r, rt.version, old) };
    }
    this.check(rt, next);
    meta.resourceVersion = this.next_rv();
    const stored = this.canonical(r, next);
    this.commit(r, rt.ns, rt.name, stored, 'MODIFIED');
    return { code: 200, body: this.view(r, rt.version, stored) };
  }

  update(rt, obj) {
    const old = this.objects.get(this.key(rt.r, rt.ns, rt.name));
    if (!old) {
      throw e_not_found(rt.r, rt.name);
    }
    return this.replace(rt, old, obj, { rv_required: true });
  }

  patch(rt, req, raw) {
    const ct = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
    const accepted = rt.r.builtin
      ? ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml']
      : ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];
    if (!accepted.includes(ct) || ct === 'application/apply-patch+yaml') {
      // Server-side apply (apply-patch+yaml) is outside the contract ferry uses; the double refuses
      // it with the API server's own 415 text, so a client that tries it fails loudly (README).
      throw e_unsupported(`the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`);
    }
    const old = this.objects.get(this.key(rt.r, rt.ns, rt.name));
    if (!old) {
      throw e_not_found(rt.r, rt.name);
    }
    let p;
    try {
      p = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw e_bad_request(`error decoding patch: ${e.message}`);
    }
    const base = this.view(rt.r, rt.version, old);
    let next;
    if (ct === 'application/json-patch+json') {
      const out = json_patch(base, p);
      if (!out.ok) {
        if (out.decode) {
          throw e_bad_request(out.error);
        }
        // apiserver handlers/patch.go: a patch that does not apply is 422 with the jsonpatch error.
        throw new api_error(422, 'Invalid', out.error, { causes: [{ reason: 'UnexpectedServerResponse', message: out.error }] });
      }
      next = out.value;
    } else {
      if (!is_object(p)) {
        throw e_bad_request(`error decoding patch: json: cannot unmarshal ${Array.isArray(p) ? 'array' : typeof p} into Go value of type map[string]interface {}`);
      }
      // Strategic merge patch for built-ins is treated as a JSON merge patch (see README).
      next = merge_patch(base, p);
    }
    next = this.check_type(rt, next);
    return this.replace(rt, old, next, { rv_required: false });
  }

  remove(rt, q, raw) {
    const r = rt.r;
    const old = this.objects.get(this.key(r, rt.ns, rt.name));
    if (!old) {
      throw e_not_found(r, rt.name);
    }
    let opts = {};
    if (raw.length) {
      try {
        opts = JSON.parse(raw.toString('utf8'));
      } catch (e) {
        throw e_bad_request(`DeleteOptions: ${e.message}`);
      }
    }
    const policy = q.get('propagationPolicy') || opts.propagationPolicy;
    if (policy !== undefined && policy !== null && !['Orphan', 'Background', 'Foreground'].includes(policy)) {
      throw e_invalid({ ...r, qualified_kind: 'DeleteOptions', group: '' }, '', [{ reason: 'FieldValueNotSupported', field: 'propagationPolicy', message: `Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan", "nil"` }]);
    }
    const pre = opts.preconditions || {};
    if ((pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) || (pre.uid && pre.uid !== old.metadata.uid)) {
      throw new api_error(409, 'Conflict', `Operation cannot be fulfilled on ${r.qualified} "${rt.name}": the ResourceVersion in the precondition (${pre.resourceVersion}) does not match the ResourceVersion in record (${old.metadata.resourceVersion}). The object might have been modified`, gdetails(r, rt.name), false);
    }
    this.next_rv();
    this.commit(r, rt.ns, rt.name, null, 'DELETED');
    // batch/v1 Jobs deleted through the REST API orphan their pods unless a propagation policy
    // says otherwise (pkg/registry/batch/job/strategy.go DefaultGarbageCollectionPolicy).
    if (r.kind === 'Job' && (policy === 'Background' || policy === 'Foreground')) {
      const pods = res_table.by_resource.get('pods');
      for (const pod of this.job_pods(rt.ns, old)) {
        this.next_rv();
        this.commit(pods, rt.ns, pod.metadata.name, null, 'DELETED');
      }
    }
    if (r.kind === 'Pod') {
      // Pods (graceful deletion) answer the object's last state, everything served here else a
      // Status (kubernetes/kubernetes#78343 lists which is which). The double deletes pods at once.
      return { code: 200, body: this.view(r, rt.version, old) };
    }
    return { code: 200, body: status_body(200, undefined, undefined, { ...gdetails(r, rt.name), uid: old.metadata.uid }) };
  }

  // ------------------------------------------------------------------ watch

  watch(rt, q, req, res, info) {
    const lsel = parse_label_selector(q.get('labelSelector'));
    const fsel = parse_field_selector(q.get('fieldSelector'));
    const rv_param = q.get('resourceVersion');
    const timeout_param = q.get('timeoutSeconds');
    // 0 or absent: the server's default (apiserver handlers/get.go picks one when 0).
    const timeout_s = timeout_param === null || Number(timeout_param) === 0 ? k_default_watch_timeout_s : Number(timeout_param);
    if (!Number.isFinite(timeout_s) || timeout_s < 0) {
      throw e_bad_request(`timeoutSeconds: Invalid value: "${timeout_param}"`);
    }
    if (rv_param && rv_param !== '0' && !/^[0-9]+$/.test(rv_param)) {
      throw e_bad_request(`resourceVersion: Invalid value: "${rv_param}": strconv.ParseUint: parsing "${rv_param}": invalid syntax`);
    }
    const bookmarks = q.get('allowWatchBookmarks') === 'true' || q.get('allowWatchBookmarks') === '1';
    info.status = 200;
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'cache-control': 'no-cache, private' });
    res.flushHeaders();
    const write = (type, object) => {
      res.write(`${JSON.stringify({ type, object })}\n`);
    };
    const matches = (o) => o && lsel(o.metadata.labels) && fsel(o.metadata);
    let last_rv = this.rv;
    const w = {
      deliver: (ev) => {
        if (ev.resource !== rt.r.resource || ev.ns !== rt.ns) {
          return;
        }
        last_rv = ev.rv;
        // A change that moves an object into or out of the selector is seen as ADDED/DELETED.
        const now = ev.type === 'DELETED' ? false : matches(ev.object);
        const before = ev.type === 'ADDED' ? false : matches(ev.prev);
        let type = null;
        if (ev.type === 'DELETED') {
          type = before ? 'DELETED' : null;
        } else if (now && before) {
          type = 'MODIFIED';
        } else if (now) {
          type = 'ADDED';
        } else if (before) {
          type = 'DELETED';
        }
        if (type) {
          write(type, this.view(rt.r, rt.version, ev.object));
        }
      },
    };
    const finish = () => {
      this.watchers.delete(w);
      clearTimeout(timer);
      clearInterval(bm);
      if (!res.writableEnded) {
        res.end();
      }
    };
    const bookmark = () => write('BOOKMARK', { kind: rt.r.kind, apiVersion: rt.r.api_version(rt.version), metadata: { resourceVersion: String(last_rv) } });
    const timer = setTimeout(() => {
      if (bookmarks) {
        bookmark();
      }
      finish();
    }, timeout_s * 1000);
    const bm = bookmarks ? setInterval(bookmark, k_bookmark_interval_ms) : null;
    res.on('close', finish);

    if (!rv_param || rv_param === '0') {
      // "Get State and Start at Most Recent" / "Start at Any": synthetic ADDED for what exists.
      for (const o of this.current(rt, lsel, fsel)) {
        write('ADDED', this.view(rt.r, rt.version, o));
      }
    } else {
      const from = Number(rv_param);
      if (from < this.compacted) {
        // The requested version is no longer in the history: 410 Gone as an ERROR event.
        write('ERROR', status_body(410, 'Expired', `too old resource version: ${from} (${this.compacted + 1})`));
        return finish();
      }
      for (const ev of this.history) {
        if (ev.rv > from) {
          w.deliver(ev);
        }
      }
    }
    last_rv = this.rv;
    this.watchers.add(w);
    return null;
  }

  // ------------------------------------------------------------------ simulated controllers

  after_write(r, ns, name, prev, obj, type) {
    if (this.in_controller) {
      return;
    }
    if (r.kind === 'Job' && type === 'ADDED' && !this.from_control) {
      this.later(0, () => this.start_job(ns, name, { ...this.jobs_mode }));
    }
    if (r.kind === 'Application' && obj && !this.from_control) {
      // Argo CD's application controller acts on a refresh annotation or a new operation.
      const refresh = (o) => (o && o.metadata.annotations && o.metadata.annotations['argocd.argoproj.io/refresh']) || '';
      const op = (o) => (o && o.operation ? JSON.stringify(o.operation) : '');
      if ((refresh(obj) && refresh(obj) !== refresh(prev)) || (op(obj) && op(obj) !== op(prev))) {
        const mode = { ...this.argocd_mode };
        if (mode.mode !== 'manual') {
          this.later(mode.delay_ms || 0, () => this.reconcile_argocd(r, ns, name, mode));
        }
      }
    }
    if (r.kind === 'GitRepo' && obj && !this.from_control) {
      // Fleet's gitjob controller redeploys when spec.forceSyncGeneration changes.
      const force = (o) => (o && o.spec && o.spec.forceSyncGeneration) || 0;
      if (force(obj) !== force(prev)) {
        const mode = { ...this.fleet_mode };
        if (mode.mode !== 'manual') {
          this.later(mode.delay_ms || 0, () => this.reconcile_fleet(r, ns, name, mode));
        }
      }
    }
    if (k_flux_reconciled.has(r.kind) && obj && !this.from_control) {
      const ann = (o) => o && o.metadata.annotations && o.metadata.annotations['reconcile.fluxcd.io/requestedAt'];
      const requested = ann(obj);
      if (requested && requested !== ann(prev)) {
        const mode = { ...this.flux_mode };
        if (mode.mode !== 'manual') {
          this.later(mode.delay_ms || 0, () => this.reconcile_flux(r, ns, name, requested, mode));
        }
      }
    }
  }

  // Internal status write (a controller's /status update): bumps resourceVersion, not generation.
  set_status(r, ns, name, fn) {
    const cur = this.objects.get(this.key(r, ns, name));
    if (!cur) {
      return null;
    }
    const next = structuredClone(cur);
    fn(next);
    next.metadata.resourceVersion = this.next_rv();
    const v = res_table.validate(r, r.versions[0], next);
    if (v.decode_error || v.causes) {
      throw new Error(`double produced an invalid ${r.kind}: ${JSON.stringify(v)}`);
    }
    this.in_controller = true;
    try {
      this.commit(r, ns, name, next, 'MODIFIED');
    } finally {
      this.in_controller = false;
    }
    return next;
  }

  start_job(ns, name, mode) {
    const jobs = res_table.by_resource.get('jobs');
    const cur = this.objects.get(this.key(jobs, ns, name));
    if (!cur || (cur.status && cur.status.startTime)) {
      return; // deleted, or already started by an early settle
    }
    const job = this.set_status(jobs, ns, name, (j) => {
      j.status = { ...j.status, startTime: iso(), active: 1, ready: 0, terminating: 0, uncountedTerminatedPods: {} };
    });
    if (!job) {
      return;
    }
    this.create_job_pod(ns, job);
    const uid = job.metadata.uid;
    if (mode.mode === 'succeed' || mode.mode === 'fail') {
      this.later(mode.delay_ms || 0, () => this.settle_job(ns, name, { success: mode.mode === 'succeed', message: mode.message, logs: mode.logs, uid }));
    }
    if (typeof job.spec.activeDeadlineSeconds === 'number') {
      // The Job controller fails a Job still active after activeDeadlineSeconds.
      this.later(job.spec.activeDeadlineSeconds * 1000, () => this.settle_job(ns, name, {
        success: false, reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', logs: mode.logs, uid,
      }));
    }
  }

  create_job_pod(ns, job) {
    const pods = res_table.by_resource.get('pods');
    const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
    const pname = `${job.metadata.name.slice(0, 57)}-${Array.from({ length: 5 }, () => alphabet[crypto.randomInt(alphabet.length)]).join('')}`;
    const tmpl = job.spec.template;
    const pod = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name: pname, namespace: ns, generateName: `${job.metadata.name}-`, uid: crypto.randomUUID(), creationTimestamp: iso(),
        labels: { ...(tmpl.metadata && tmpl.metadata.labels) },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, uid: job.metadata.uid, controller: true, blockOwnerDeletion: true }],
        resourceVersion: this.next_rv(),
      },
      spec: structuredClone(tmpl.spec),
      status: { phase: 'Running', startTime: iso() },
    };
    this.in_controller = true;
    try {
      this.commit(pods, ns, pname, pod, 'ADDED');
    } finally {
      this.in_controller = false;
    }
    this.pod_logs.set(`${ns}/${pname}`, '');
    return pod;
  }

  job_pods(ns, job) {
    return [...this.objects.values()].filter((o) => o.kind === 'Pod' && o.metadata.namespace === ns
      && (o.metadata.ownerReferences || []).some((ref) => ref.uid === job.metadata.uid));
  }

  // Settles a Job as the Job controller (Kubernetes >= 1.31) does: the interim condition
  // (SuccessCriteriaMet / FailureTarget) then the terminal one (Complete / Failed).
  settle_job(ns, name, { success, message, logs, reason = 'BackoffLimitExceeded', uid }) {
    const jobs = res_table.by_resource.get('jobs');
    const pods = res_table.by_resource.get('pods');
    const job = this.objects.get(this.key(jobs, ns, name));
    if (!job || (uid && job.metadata.uid !== uid)) {
      return { error: 404 };
    }
    if (((job.status || {}).conditions || []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')) {
      return { error: 409 };
    }
    if (!(job.status || {}).startTime) {
      this.start_job(ns, name, { mode: 'manual' });
    }
    const current = this.objects.get(this.key(jobs, ns, name));
    let pod = this.job_pods(ns, current)[0];
    if (!pod) {
      pod = this.create_job_pod(ns, current);
    }
    const now = iso();
    const log_text = logs === undefined || logs === null ? '' : String(logs);
    this.pod_logs.set(`${ns}/${pod.metadata.name}`, log_text);
    this.set_status(pods, ns, pod.metadata.name, (p) => {
      p.status = {
        phase: success ? 'Succeeded' : 'Failed', startTime: p.status.startTime,
        containerStatuses: (p.spec.containers || []).map((c) => ({
          name: c.name, image: c.image, imageID: '', ready: false, restartCount: 0, started: false,
          state: { terminated: { exitCode: success ? 0 : 1, reason: success ? 'Completed' : 'Error', startedAt: p.status.startTime, finishedAt: now } },
        })),
      };
    });
    const cond = (type, reason, msg) => ({ type, status: 'True', lastProbeTime: now, lastTransitionTime: now, reason, message: msg });
    this.set_status(jobs, ns, name, (j) => {
      const st = { ...j.status, ready: 0, terminating: 0, uncountedTerminatedPods: {} };
      delete st.active;
      if (success) {
        st.succeeded = 1;
        st.completionTime = now;
        st.conditions = [
          cond('SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods'),
          cond('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods'),
        ];
      } else {
        const msg = message || 'Job has reached the specified backoff limit';
        st.failed = 1;
        st.conditions = [cond('FailureTarget', reason, msg), cond('Failed', reason, msg)];
      }
      j.status = st;
    });
    const ttl = current.spec.ttlSecondsAfterFinished;
    if (typeof ttl === 'number') {
      // The TTL-after-finished controller deletes the Job (and, in the background, its pods).
      this.later(ttl * 1000, () => this.delete_job(ns, name, current.metadata.uid));
    }
    return {};
  }

  delete_job(ns, name, uid) {
    const jobs = res_table.by_resource.get('jobs');
    const pods = res_table.by_resource.get('pods');
    const job = this.objects.get(this.key(jobs, ns, name));
    if (!job || job.metadata.uid !== uid) {
      return;
    }
    this.in_controller = true;
    try {
      this.next_rv();
      this.commit(jobs, ns, name, null, 'DELETED');
      for (const pod of this.job_pods(ns, job)) {
        this.next_rv();
        this.commit(pods, ns, pod.metadata.name, null, 'DELETED');
      }
    } finally {
      this.in_controller = false;
    }
  }

  reconcile_flux(r, ns, name, requested, mode) {
    const obj = this.objects.get(this.key(r, ns, name));
    if (!obj) {
      return;
    }
    const now = iso();
    const ready = mode.mode === 'ready';
    if (r.kind !== 'Kustomization') {
      // source-controller: GitRepository, OCIRepository, Bucket alike.
      this.set_status(r, ns, name, (g) => {
        const rev = (g.status && g.status.artifact && g.status.artifact.revision) || '';
        g.status = {
          ...g.status, lastHandledReconcileAt: requested, observedGeneration: g.metadata.generation,
          conditions: [flux_condition(ready, ready ? 'Succeeded' : 'GitOperationFailed',
            ready ? `stored artifact for revision '${rev}'` : (mode.message || 'reconciliation failed'), now, g.metadata.generation)],
        };
      });
      return;
    }
    // kustomize-controller: the applied revision is the source's artifact revision.
    const ref = obj.spec.sourceRef || {};
    const source_r = res_table.by_kind.get(ref.kind);
    const source = source_r && k_flux_reconciled.has(ref.kind)
      ? this.objects.get(this.key(source_r, ref.namespace || ns, ref.name)) : null;
    let rev = source && source.status && source.status.artifact && source.status.artifact.revision;
    if (rev && ref.kind === 'GitRepository' && /^[0-9a-f]{40}$/.test(rev)) {
      rev = `main@sha1:${rev}`;
    }
    if (!rev && ref.kind === 'GitRepository' && /^[0-9a-f]{40}$/.test(requested)) {
      rev = `main@sha1:${requested}`;
    }
    this.set_status(r, ns, name, (k) => {
      const st = { ...k.status, lastHandledReconcileAt: requested, observedGeneration: k.metadata.generation };
      if (rev) {
        st.lastAttemptedRevision = rev;
      }
      if (ready) {
        if (rev) {
          st.lastAppliedRevision = rev;
        }
        st.conditions = [flux_condition(true, 'ReconciliationSucceeded', `Applied revision: ${st.lastAppliedRevision || ''}`, now, k.metadata.generation)];
      } else {
        st.conditions = [flux_condition(false, 'ReconciliationFailed', mode.message || 'reconciliation failed', now, k.metadata.generation)];
      }
      k.status = st;
    });
    if (ready && mode.helm && mode.helm.mode !== 'manual') {
      this.later(mode.delay_ms || 0, () => this.reconcile_helm(ns, name, mode.helm));
    }
  }

  // helm-controller, played after a Kustomization applied: each HelmRelease of its
  // status.inventory handles its current generation, as helm-controller v2 writes it.
  reconcile_helm(ns, name, helm) {
    const ks = this.objects.get(this.key(res_table.by_kind.get('Kustomization'), ns, name));
    const entries = (ks && ks.status && ks.status.inventory && ks.status.inventory.entries) || [];
    const r = res_table.by_kind.get('HelmRelease');
    for (const e of entries) {
      const m = /^([^_]*)_([^_]+)_helm\.toolkit\.fluxcd\.io_HelmRelease$/.exec(e.id || '');
      if (!m || !this.objects.get(this.key(r, m[1], m[2]))) {
        continue;
      }
      const now = iso();
      this.set_status(r, m[1], m[2], (hr) => {
        const gen = hr.metadata.generation;
        const chart = (hr.spec.chart && hr.spec.chart.spec && hr.spec.chart.spec.chart) || m[2];
        const cond = (type, ok, reason, message) => ({ type, status: ok ? 'True' : 'False', reason, message, lastTransitionTime: now, observedGeneration: gen });
        const conditions = helm.mode === 'ready'
          ? [cond('Ready', true, 'UpgradeSucceeded', `Helm upgrade succeeded for release ${m[1]}/${m[2]}.v${gen} with chart ${chart}`),
            cond('Released', true, 'UpgradeSucceeded', `Helm upgrade succeeded for release ${m[1]}/${m[2]}.v${gen} with chart ${chart}`)]
          : [cond('Ready', false, 'UpgradeFailed', `Helm upgrade failed for release ${m[1]}/${m[2]} with chart ${chart}: ${helm.message || 'upgrade failed'}`),
            cond('Released', false, 'UpgradeFailed', `Helm upgrade failed for release ${m[1]}/${m[2]} with chart ${chart}: ${helm.message || 'upgrade failed'}`)];
        hr.status = { ...hr.status, observedGeneration: gen, conditions };
      });
    }
  }

  // Fleet (gitjob + bundle controllers) after a forced sync: the GitRepo's status at the commit
  // the clone found (fleet-mode's `commit`, as Fleet clones the branch head), its bundle
  // deployments ready (mode ready) or one in ErrApplied with `message` (mode errapplied).
  reconcile_fleet(r, ns, name, mode) {
    if (!this.objects.get(this.key(r, ns, name))) {
      return;
    }
    const now = iso();
    this.set_status(r, ns, name, (g) => {
      const ok = mode.mode === 'ready';
      g.status = {
        ...g.status, observedGeneration: g.metadata.generation, commit: mode.commit || (g.status && g.status.commit) || '',
        readyClusters: ok ? 1 : 0, desiredReadyClusters: 1,
        summary: ok ? { ready: 1, desiredReady: 1 }
          : { ready: 0, desiredReady: 1, errApplied: 1, nonReadyResources: [{ name: `${name}-bundle`, bundleState: 'ErrApplied', message: mode.message || 'error applying the bundle' }] },
        display: { readyBundleDeployments: ok ? '1/1' : '0/1', state: ok ? '' : 'ErrApplied', message: ok ? '' : (mode.message || ''), error: !ok },
        conditions: [{ type: 'Ready', status: ok ? 'True' : 'False', lastUpdateTime: now, message: ok ? '' : (mode.message || 'error applying the bundle') }],
      };
    });
  }

  // Argo CD's application controller (no status subresource: it writes the whole object):
  // removes the refresh annotation; runs a requested operation (mode synced, degraded or
  // failed) and clears `operation`, recording it in status.operationState.
  reconcile_argocd(r, ns, name, mode) {
    if (!this.objects.get(this.key(r, ns, name))) {
      return;
    }
    const now = iso();
    this.set_status(r, ns, name, (a) => {
      if (a.metadata.annotations) {
        delete a.metadata.annotations['argocd.argoproj.io/refresh'];
      }
      const st = a.status || {};
      st.reconciledAt = now;
      if (a.operation) {
        const rev = (a.operation.sync && a.operation.sync.revision) || '';
        const ok = mode.mode !== 'failed';
        st.operationState = {
          operation: a.operation, phase: ok ? 'Succeeded' : 'Failed',
          message: ok ? 'successfully synced (all tasks run)' : (mode.message || 'one or more objects failed to apply'),
          startedAt: now, finishedAt: now, syncResult: { revision: rev },
        };
        if (ok) {
          st.sync = { status: 'Synced', revision: rev };
          st.health = mode.mode === 'degraded' ? { status: 'Degraded', message: mode.message || 'degraded' } : { status: 'Healthy' };
        } else {
          st.sync = { ...(st.sync || {}), status: 'OutOfSync' };
        }
        delete a.operation;
      }
      a.status = st;
    });
  }

  // ------------------------------------------------------------------ control plane

  async control(req, res, url, raw) {
    const reply = (code, obj) => {
      const text = JSON.stringify(obj === undefined ? {} : obj);
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(text);
    };
    const p = url.pathname;
    const m = req.method;
    let body = {};
    if (raw.length) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (e) {
        return reply(400, { error: `body is not JSON: ${e.message}` });
      }
    }
    try {
      if (m === 'GET' && p === '/_double/requests') {
        return reply(200, this.requests);
      }
      if (m === 'DELETE' && p === '/_double/requests') {
        this.requests = [];
        return reply(204);
      }
      if (m === 'GET' && p === '/_double/violations') {
        return reply(200, this.violations);
      }
      if (m === 'DELETE' && p === '/_double/violations') {
        this.violations = [];
        return reply(204);
      }
      if (m === 'POST' && p === '/_double/faults') {
        if (!Number.isInteger(body.status) || body.status < 400) {
          return reply(400, { error: 'status (an integer >= 400) is required' });
        }
        const reasons = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 410: 'Gone', 422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout' };
        if (body.path_regex) {
          new RegExp(body.path_regex); // eslint-disable-line no-new
        }
        this.faults.push({
          method: body.method || null, path_regex: body.path_regex || null, status: body.status,
          count: body.count === undefined ? 1 : (body.count === null || body.count < 0 ? null : body.count),
          reason: body.reason || reasons[body.status] || 'Unknown',
          message: body.message || `injected fault ${body.status}`,
          retry_after: body.retry_after !== undefined ? body.retry_after : (body.status === 429 ? 1 : undefined),
        });
        return reply(201, { faults: this.faults.length });
      }
      if (m === 'GET' && p === '/_double/faults') {
        return reply(200, this.faults);
      }
      if (m === 'DELETE' && p === '/_double/faults') {
        this.faults = [];
        return reply(204);
      }
      if (m === 'POST' && p === '/_double/jobs-mode') {
        if (!['succeed', 'fail', 'manual'].includes(body.mode)) {
          return reply(400, { error: 'mode must be succeed, fail or manual' });
        }
        this.jobs_mode = { mode: body.mode, delay_ms: Number(body.delay_ms || 0), message: body.message || '', logs: body.logs || '' };
        return reply(200, this.jobs_mode);
      }
      if (m === 'POST' && p === '/_double/fleet-mode') {
        if (!['ready', 'errapplied', 'manual'].includes(body.mode)) {
          return reply(400, { error: 'mode must be ready, errapplied or manual' });
        }
        this.fleet_mode = { mode: body.mode, delay_ms: Number(body.delay_ms || 0), message: body.message || '', commit: body.commit || '' };
        return reply(200, this.fleet_mode);
      }
      if (m === 'POST' && p === '/_double/argocd-mode') {
        if (!['synced', 'degraded', 'failed', 'manual'].includes(body && body.mode)) {
          return reply(400, { message: 'mode must be synced, degraded, failed or manual' });
        }
        this.argocd_mode = { mode: body.mode, delay_ms: Number(body.delay_ms || 0), message: body.message || '' };
        return reply(200, this.argocd_mode);
      }
      if (m === 'POST' && p === '/_double/flux-mode') {
        if (!['ready', 'fail', 'manual'].includes(body.mode)) {
          return reply(400, { error: 'mode must be ready, fail or manual' });
        }
        const helm = body.helm || { mode: 'manual' };
        if (!['ready', 'fail', 'manual'].includes(helm.mode)) {
          return reply(400, { error: 'helm.mode must be ready, fail or manual' });
        }
        this.flux_mode = {
          mode: body.mode, delay_ms: Number(body.delay_ms || 0), message: body.message || '',
          helm: { mode: helm.mode, message: helm.message || '' },
        };
        return reply(200, this.flux_mode);
      }
      const jm = /^\/_double\/jobs\/([^/]+)\/([^/]+)\/(succeed|fail)$/.exec(p);
      if (m === 'POST' && jm) {
        const out = this.settle_job(jm[1], jm[2], { success: jm[3] === 'succeed', message: body.message, logs: body.logs });
        if (out.error === 404) {
          return reply(404, { error: `no job ${jm[1]}/${jm[2]}` });
        }
        if (out.error === 409) {
          return reply(409, { error: `job ${jm[1]}/${jm[2]} already finished` });
        }
        return reply(200, this.view(res_table.by_resource.get('jobs'), 'v1', this.objects.get(`jobs/${jm[1]}/${jm[2]}`)));
      }
      if (m === 'POST' && p === '/_double/objects') {
        const list = Array.isArray(body) ? body : (body && Array.isArray(body.items) ? body.items : [body]);
        const out = [];
        for (const o of list) {
          out.push(this.seed(o));
        }
        return reply(200, Array.isArray(body) || (body && body.items) ? out : out[0]);
      }
      if (m === 'GET' && p === '/_double/objects') {
        return reply(200, [...this.objects.values()]);
      }
      if (m === 'POST' && p === '/_double/compact') {
        // Like etcd compaction: every resourceVersion up to now becomes too old for a watch.
        this.history = [];
        this.compacted = this.rv;
        return reply(200, { compacted: String(this.compacted) });
      }
      if (m === 'GET' && p === '/_double/state') {
        return reply(200, { resourceVersion: String(this.rv), compacted: String(this.compacted), watchers: this.watchers.size, pending_controller_actions: this.timers.size, jobs_mode: this.jobs_mode, flux_mode: this.flux_mode, argocd_mode: this.argocd_mode, fleet_mode: this.fleet_mode });
      }
      return reply(404, { error: `no control endpoint ${m} ${p}` });
    } catch (e) {
      if (e instanceof api_error) {
        return reply(e.code, status_body(e.code, e.reason, e.message, e.details));
      }
      return reply(400, { error: e.message });
    }
  }

  // Upsert for /_double/objects: validated like an API write, but may carry status and does not
  // trigger the simulated controllers.
  seed(o) {
    if (!is_object(o) || typeof o.apiVersion !== 'string' || !o.metadata || !o.metadata.namespace) {
      throw new Error('each object needs apiVersion, kind, metadata.name and metadata.namespace');
    }
    const r = res_table.by_kind.get(o.kind);
    const version = o.apiVersion.split('/').pop();
    if (!r || o.apiVersion !== r.api_version(version) || !r.versions.includes(version)) {
      throw new Error(`unsupported kind ${o.apiVersion} ${o.kind}`);
    }
    const rt = { r, version, ns: o.metadata.namespace };
    const obj = drop_nulls(structuredClone(o));
    obj.metadata.resourceVersion = undefined;
    delete obj.metadata.resourceVersion;
    this.from_control = true;
    try {
      return this.create(rt, obj, { from_control: true }).body;
    } finally {
      this.from_control = false;
    }
  }
}

// A null member reads as absent: built-ins decode it to a Go zero value that is omitted again,
// custom resources prune nulls of non-nullable fields. The generated validators accept null for
// every optional field, so storing it would serve objects no real server returns.
function drop_nulls(v) {
  if (Array.isArray(v)) {
    v.forEach(drop_nulls);
  } else if (is_object(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (x === null) {
        delete v[k];
      } else {
        drop_nulls(x);
      }
    }
  }
  return v;
}

// The kinds whose reconcile.fluxcd.io/requestedAt the simulated Flux controllers answer.
const k_flux_reconciled = new Set(['Kustomization', 'GitRepository', 'OCIRepository', 'Bucket']);

function flux_condition(ok, reason, message, now, generation) {
  return { type: 'Ready', status: ok ? 'True' : 'False', reason, message, lastTransitionTime: now, observedGeneration: generation };
}

// What the API server adds to a new Job (pkg/apis/batch/v1 defaults, the job strategy's
// generated selector and labels, core/v1 pod defaults).
function default_job(job) {
  const spec = job.spec = job.spec || {};
  spec.backoffLimit ??= 6;
  spec.completions ??= 1;
  spec.parallelism ??= 1;
  spec.completionMode ??= 'NonIndexed';
  spec.suspend ??= false;
  spec.podReplacementPolicy ??= 'TerminatingOrFailed';
  spec.manualSelector ??= undefined;
  if (spec.manualSelector === undefined) {
    delete spec.manualSelector;
  }
  const id = job.metadata.uid;
  if (!spec.template || typeof spec.template !== 'object') {
    return;
  }
  const tmeta = spec.template.metadata = spec.template.metadata || {};
  // SetDefaults_Job: a Job without labels takes its pod template's (before the generated ones).
  if (tmeta.labels && Object.keys(tmeta.labels).length && !(job.metadata.labels && Object.keys(job.metadata.labels).length)) {
    job.metadata.labels = { ...tmeta.labels };
  }
  if (id && !spec.selector) {
    spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': id } };
  }
  if (id) {
    tmeta.labels = {
      ...tmeta.labels,
      'batch.kubernetes.io/controller-uid': id, 'batch.kubernetes.io/job-name': job.metadata.name,
      'controller-uid': id, 'job-name': job.metadata.name,
    };
  }
  const ps = spec.template.spec;
  if (ps && typeof ps === 'object') {
    ps.dnsPolicy ??= 'ClusterFirst';
    ps.schedulerName ??= 'default-scheduler';
    ps.securityContext ??= {};
    ps.terminationGracePeriodSeconds ??= 30;
    for (const c of Array.isArray(ps.containers) ? ps.containers : []) {
      if (c && typeof c === 'object') {
        c.terminationMessagePath ??= '/dev/termination-log';
        c.terminationMessagePolicy ??= 'File';
        if (c.imagePullPolicy === undefined && typeof c.image === 'string') {
          // core/v1 defaults: Always for :latest or no tag, else IfNotPresent.
          const tagged = /:[^/]+$/.test(c.image.split('@')[0]);
          c.imagePullPolicy = c.image.includes('@') || (tagged && !c.image.endsWith(':latest')) ? 'IfNotPresent' : 'Always';
        }
      }
    }
  }
}

function read_body(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parse_maybe(buf) {
  if (!buf.length) {
    return null;
  }
  const s = buf.toString('utf8');
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

async function main() {
  const opts = parse_args(process.argv);
  await res_table.load_validators();
  const d = new kube_double(opts);
  const server = https.createServer({ cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key), noDelay: true }, (req, res) => {
    d.handle(req, res).then(() => {}, (e) => {
      console.error(e.stack); // eslint-disable-line no-console
      if (!res.headersSent) {
        res.writeHead(500);
      }
      res.end();
    });
  });
  // Watches stay open for minutes; Node's default request timeout (300 s) would cut them.
  server.requestTimeout = 0;
  server.listen(opts.port, opts.host, () => {
    const { port } = server.address();
    process.stdout.write(`${JSON.stringify({ port, url: `https://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}` })}\n`);
  });
  const stop = () => {
    for (const t of d.timers) {
      clearTimeout(t);
    }
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`kube double: ${e.message}\n`);
    process.exit(2);
  });
}

module.exports = { kube_double, parse_label_selector, parse_field_selector };
