'use strict';
// The webhook payloads GitHub would send, checked against GitHub's own webhook descriptions
// (@octokit/openapi-webhooks 12.1.0, generated/api.github.com.json: one schema per event and
// action, e.g. components.schemas["webhook-push"], ["webhook-pull-request-closed"]). The double
// builds the fields it knows for real, fills the remaining required ones with values of the
// documented type (the same completion its REST answers get) and validates the result, so a
// test can never hand ferry a payload GitHub would not send.

const fs = require('node:fs');
const path = require('node:path');
const Ajv2020 = require('ajv/dist/2020');
const addFormats = require('ajv-formats');
const { complete } = require('./contract');

const k_description = path.join(__dirname, '..', '..', 'node_modules', '@octokit', 'openapi-webhooks', 'generated', 'api.github.com.json');

class webhook_schemas {
  constructor() {
    this.validators = new Map();
    this.completions = new Map();
    this.ajv = null;
  }

  // Loaded on first use: the description is 4.6 MB, compiling one event's schema ~0.5 s.
  load() {
    if (this.ajv) {
      return;
    }
    const text = fs.readFileSync(k_description, 'utf8');
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
    // GitHub's own payloads carry bot addresses such as
    // "41898282+github-actions[bot]@users.noreply.github.com" (@octokit/webhooks-examples, push)
    // in fields typed `format: email`; ajv-formats' pattern refuses the brackets. Accept any
    // address without spaces around one "@" instead.
    this.ajv.addFormat('email', /^[^\s@]+@[^\s@]+$/);
    this.ajv.addSchema({ $id: 'webhooks', components: JSON.parse(text).components });
    // A second copy, dereferenced in place (cycles become object cycles), for completion.
    this.components = JSON.parse(text).components;
  }

  // The components schema for a delivery: "push", or "pull-request-closed" for
  // event pull_request with action closed.
  static key(event, action) {
    const e = event.replace(/_/g, '-');
    return action ? `webhook-${e}-${action.replace(/_/g, '-')}` : `webhook-${e}`;
  }

  deref(schema, seen = new Map()) {
    if (!schema || typeof schema !== 'object') {
      return schema;
    }
    if (schema.$ref) {
      const name = /^#\/components\/schemas\/(.+)$/.exec(schema.$ref)[1];
      return this.deref(this.components.schemas[name], seen);
    }
    if (seen.has(schema)) {
      return seen.get(schema);
    }
    const out = Array.isArray(schema) ? [] : {};
    seen.set(schema, out);
    for (const [k, v] of Object.entries(schema)) {
      out[k] = this.deref(v, seen);
    }
    // OpenAPI 3.1 spells "nullable" as a type list; complete() reads the 3.0 form.
    if (!Array.isArray(out) && Array.isArray(out.type)) {
      const types = out.type.filter((t) => t !== 'null');
      out.nullable = types.length !== out.type.length;
      out.type = types[0];
    }
    return out;
  }

  // Completes `payload` in place against the schema of event/action and validates it. Returns
  // {payload, problems: [...]}; problems is empty when GitHub could send this payload.
  build(event, action, payload) {
    this.load();
    const key = webhook_schemas.key(event, action);
    if (!this.components.schemas[key]) {
      return { payload, problems: [`no webhook schema ${key} in @octokit/openapi-webhooks`] };
    }
    if (!this.completions.has(key)) {
      this.completions.set(key, this.deref(this.components.schemas[key]));
      this.validators.set(key, this.ajv.compile({ $ref: `webhooks#/components/schemas/${key}` }));
    }
    complete(this.completions.get(key), payload);
    const v = this.validators.get(key);
    const problems = v(payload) ? [] : v.errors.map((e) => `${key}${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
    return { payload, problems };
  }
}

module.exports = { webhook_schemas };
