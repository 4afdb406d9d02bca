'use strict';
// The official contract the double holds every request (and, with --check-responses, every
// answer) to: GitHub's REST description from @octokit/openapi, api.github.com.deref.json.
// The file is ~70 MB: it is loaded once, and a JSON schema is compiled by ajv the first time an
// operation needs it, then cached.

const path = require('node:path');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const k_description = path.join(
  __dirname, '..', '..', 'node_modules', '@octokit', 'openapi', 'generated', 'api.github.com.deref.json');

// Path parameters that GitHub lets contain '/' (a ref like heads/ferry/staging/x, a file path,
// a "base...head" pair naming branches with slashes). Every other parameter is one segment.
const k_slashy_params = new Set(['ref', 'path', 'basehead', 'branch', 'base', 'head']);

// The API versions GitHub's REST API accepts in X-GitHub-Api-Version
// (https://docs.github.com/rest/about-the-rest-api/api-versions).
const k_api_versions = new Set(['2022-11-28', '2026-03-10']);

class contract {
  constructor(file = k_description) {
    this.doc = require(file);
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
    // OpenAPI formats that are not JSON Schema formats: numeric widths and GitHub's own names.
    // They carry no constraint a validator can check beyond the type, which ajv already checks.
    for (const f of ['int64', 'int32', 'double', 'timestamp', 'repo.nwo', 'binary']) {
      this.ajv.addFormat(f, true);
    }
    this.cache = new Map();
    this.routes = [];
    for (const [template, item] of Object.entries(this.doc.paths)) {
      const names = [];
      let literal = 0;
      const re = template.split(/(\{[^}]+\})/).map((part) => {
        const m = /^\{(.+)\}$/.exec(part);
        if (!m) {
          literal += part.length;
          return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        }
        names.push(m[1]);
        return k_slashy_params.has(m[1]) ? '(.+?)' : '([^/]+)';
      }).join('');
      this.routes.push({ template, item, names, literal, regex: new RegExp('^' + re + '$') });
    }
    // Most literal text first, so /commits/{ref}/status wins over /commits/{ref}.
    this.routes.sort((a, b) => b.literal - a.literal);
  }

  // Finds the documented operation for METHOD raw_path (path without the query, still
  // percent-encoded). Returns {op, template, params} or {error} saying why nothing matched.
  match(method, raw_path) {
    const m = method.toLowerCase();
    let path_only = null;
    for (const r of this.routes) {
      const hit = r.regex.exec(raw_path);
      if (!hit) {
        continue;
      }
      if (!r.item[m]) {
        path_only = path_only || r.template;
        continue;
      }
      const params = {};
      try {
        r.names.forEach((n, i) => { params[n] = decodeURIComponent(hit[i + 1]); });
      } catch {
        return { error: `path ${raw_path} has a malformed percent-encoding` };
      }
      return { op: r.item[m], template: r.template, params, path_item: r.item };
    }
    if (path_only) {
      return { error: `${method} is not a documented method for ${path_only}` };
    }
    return { error: `no documented operation matches ${method} ${raw_path}` };
  }

  compiled(key, schema) {
    let v = this.cache.get(key);
    if (!v) {
      normalise_nullable(schema, new WeakSet());
      v = this.ajv.compile(schema);
      this.cache.set(key, v);
    }
    return v;
  }

  // Checks parameters, headers and body of a request against the matched operation. Returns a
  // list of human-readable problems (empty when the request is valid).
  check_request(matched, query, headers, body_text) {
    const problems = [];
    const op = matched.op;
    const params = [...(matched.path_item.parameters || []), ...(op.parameters || [])];
    for (const p of params) {
      let value;
      if (p.in === 'path') {
        value = matched.params[p.name];
      } else if (p.in === 'query') {
        value = query.get(p.name);
      } else if (p.in === 'header') {
        value = headers[p.name.toLowerCase()];
      } else {
        continue;
      }
      if (value === undefined || value === null) {
        if (p.required) {
          problems.push(`missing required ${p.in} parameter "${p.name}"`);
        }
        continue;
      }
      const why = check_scalar(p.schema || {}, value);
      if (why) {
        problems.push(`${p.in} parameter "${p.name}"=${JSON.stringify(value)}: ${why}`);
      }
    }
    const version = headers['x-github-api-version'];
    if (version !== undefined && !k_api_versions.has(version)) {
      problems.push(`X-GitHub-Api-Version ${JSON.stringify(version)} is not a supported API version`);
    }
    const rb = op.requestBody;
    const has_body = body_text !== undefined && body_text.length > 0;
    if (!rb) {
      return { problems, body: undefined };
    }
    const media = rb.content && rb.content['application/json'];
    if (!has_body) {
      if (rb.required) {
        problems.push('the operation requires a JSON request body and none was sent');
      }
      return { problems, body: undefined };
    }
    let body;
    try {
      body = JSON.parse(body_text);
    } catch (e) {
      problems.push(`request body is not JSON: ${e.message}`);
      return { problems, body: undefined, parse_error: true };
    }
    if (media && media.schema) {
      const v = this.compiled(`req ${matched.template} ${op.operationId}`, media.schema);
      if (!v(body)) {
        for (const e of v.errors) {
          problems.push(`body${e.instancePath || ''} ${e.message}` +
            (e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''));
        }
      }
    }
    return { problems, body };
  }

  // The documented JSON schema of the answer to `op` with `status`, or null when the
  // description documents no JSON body for that status.
  response_schema(op, status) {
    const r = op.responses && (op.responses[String(status)] || op.responses.default);
    const media = r && r.content && r.content['application/json'];
    return media && media.schema ? media.schema : null;
  }

  documents_status(op, status) {
    return Boolean(op.responses && op.responses[String(status)]);
  }

  check_response(matched, status, body) {
    const schema = this.response_schema(matched.op, status);
    if (!schema) {
      return [];
    }
    const v = this.compiled(`res ${matched.template} ${matched.op.operationId} ${status}`, schema);
    if (v(body)) {
      return [];
    }
    return v.errors.slice(0, 20).map((e) => `response${e.instancePath || ''} ${e.message}` +
      (e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''));
  }

  schema_of(method, template, status) {
    const op = this.doc.paths[template][method.toLowerCase()];
    return this.response_schema(op, status);
  }
}

// OpenAPI 3.0 allows `nullable: true` beside allOf/anyOf/oneOf with no `type`; ajv only
// accepts `nullable` next to `type`. Such a schema becomes anyOf [itself, null], in place
// (every occurrence in the dereferenced file is its own object).
function normalise_nullable(schema, seen) {
  if (!schema || typeof schema !== 'object' || seen.has(schema)) {
    return;
  }
  seen.add(schema);
  for (const v of Object.values(schema)) {
    if (Array.isArray(v)) {
      v.forEach((x) => normalise_nullable(x, seen));
    } else if (v && typeof v === 'object') {
      normalise_nullable(v, seen);
    }
  }
  if (schema.nullable === true && schema.type === undefined) {
    const rest = { ...schema };
    delete rest.nullable;
    for (const k of Object.keys(schema)) {
      delete schema[k];
    }
    schema.anyOf = [rest, { type: 'null' }];
  }
}

function check_scalar(schema, value) {
  const type = schema.type;
  if (type === 'integer' && !/^-?\d+$/.test(value)) {
    return 'expected an integer';
  }
  if (type === 'number' && !Number.isFinite(Number(value))) {
    return 'expected a number';
  }
  if (type === 'boolean' && value !== 'true' && value !== 'false') {
    return 'expected true or false';
  }
  if (schema.enum && !schema.enum.map(String).includes(value)) {
    return `expected one of ${JSON.stringify(schema.enum)}`;
  }
  if (type === 'integer' || type === 'number') {
    const n = Number(value);
    if (schema.minimum !== undefined && n < schema.minimum) {
      return `below the minimum ${schema.minimum}`;
    }
    if (schema.maximum !== undefined && n > schema.maximum) {
      return `above the maximum ${schema.maximum}`;
    }
  }
  return null;
}

// Fills the properties a documented schema requires and the double has no meaningful value for
// (the dozens of *_url templates on a repository, counters, ...) with a value of the documented
// type: null where nullable, the first enum value, an empty string/array, 0, false. The values
// the double does know are passed in `value` and only walked into. This keeps every answer
// complete against the contract without hand-writing 80 placeholder fields per object.
function complete(schema, value, depth = 0) {
  if (!schema || depth > 16) {
    return value;
  }
  schema = flatten(schema);
  if (value === undefined) {
    return placeholder(schema, depth);
  }
  if (value === null || typeof value !== 'object') {
    return value;
  }
  if (Array.isArray(value)) {
    return schema.items ? value.map((x) => complete(schema.items, x, depth + 1)) : value;
  }
  let s = schema;
  if (!s.properties && (s.anyOf || s.oneOf)) {
    s = flatten((s.anyOf || s.oneOf).find((b) => flatten(b).properties) || {});
  }
  if (!s.properties) {
    return value;
  }
  for (const k of s.required || []) {
    if (!(k in value)) {
      value[k] = placeholder(flatten(s.properties[k] || {}), depth + 1);
    }
  }
  for (const k of Object.keys(value)) {
    if (s.properties[k]) {
      value[k] = complete(s.properties[k], value[k], depth + 1);
    }
  }
  return value;
}

function flatten(schema) {
  if (!schema.allOf) {
    return schema;
  }
  const out = { ...schema, properties: { ...(schema.properties || {}) }, required: [...(schema.required || [])] };
  delete out.allOf;
  for (const part of schema.allOf.map(flatten)) {
    Object.assign(out.properties, part.properties || {});
    out.required.push(...(part.required || []));
    if (part.type && !out.type) {
      out.type = part.type;
    }
  }
  return out;
}

function placeholder(schema, depth) {
  if (schema.nullable) {
    return null;
  }
  const branches = schema.anyOf || schema.oneOf;
  if (branches) {
    if (branches.some((b) => b.nullable || b.type === 'null')) {
      return null;
    }
    return placeholder(flatten(branches[0]), depth);
  }
  if (schema.enum) {
    return schema.enum[0];
  }
  switch (schema.type) {
    case 'string':
      if (schema.format === 'date-time') {
        return '1970-01-01T00:00:00Z';
      }
      if (schema.format === 'uri') {
        return 'https://github.invalid/';
      }
      if (schema.format === 'email') {
        return 'noreply@github.invalid';
      }
      return '';
    case 'integer':
    case 'number':
      return schema.minimum !== undefined ? schema.minimum : 0;
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'object':
      return complete(schema, {}, depth + 1);
    default:
      return schema.properties ? complete(schema, {}, depth + 1) : null;
  }
}

module.exports = { contract, complete };
