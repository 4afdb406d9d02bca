'use strict';
// The two patch formats a real API server applies to every resource: JSON Merge Patch (RFC 7386)
// and JSON Patch (RFC 6902). Both return {ok, value} or {ok: false, error}; they never mutate
// their input.

const clone = (v) => (v === undefined ? undefined : structuredClone(v));
const is_object = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// RFC 7386 section 2, MergePatch(Target, Patch): null deletes a member, objects merge
// recursively, anything else (arrays included) replaces.
function merge_patch(target, patch) {
  if (!is_object(patch)) {
    return clone(patch);
  }
  const out = is_object(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) {
      delete out[k];
    } else {
      out[k] = merge_patch(out[k], v);
    }
  }
  return out;
}

// RFC 6901 JSON Pointer -> reference tokens ("~1" is "/", "~0" is "~", decoded in that order).
function parse_pointer(p) {
  if (typeof p !== 'string') {
    throw new Error(`path must be a string, got ${JSON.stringify(p)}`);
  }
  if (p === '') {
    return [];
  }
  if (!p.startsWith('/')) {
    throw new Error(`JSON pointer "${p}" must start with "/"`);
  }
  return p.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function array_index(arr, token, for_add) {
  if (for_add && token === '-') {
    return arr.length;
  }
  if (!/^(0|[1-9][0-9]*)$/.test(token)) {
    throw new Error(`invalid array index "${token}"`);
  }
  const i = Number(token);
  if (i > arr.length || (!for_add && i === arr.length)) {
    throw new Error(`array index ${i} out of bounds (length ${arr.length})`);
  }
  return i;
}

// Returns {parent, key} for the last token, requiring every parent to exist.
function locate(doc, tokens, path) {
  let cur = doc;
  for (let i = 0; i < tokens.length - 1; i++) {
    const t = tokens[i];
    if (Array.isArray(cur)) {
      cur = cur[array_index(cur, t, false)];
    } else if (is_object(cur) && Object.hasOwn(cur, t)) {
      cur = cur[t];
    } else {
      throw new Error(`path "${path}": "${t}" does not exist`);
    }
  }
  if (!Array.isArray(cur) && !is_object(cur)) {
    throw new Error(`path "${path}": parent is not a container`);
  }
  return { parent: cur, key: tokens[tokens.length - 1] };
}

function get_at(doc, path) {
  let cur = doc;
  for (const t of parse_pointer(path)) {
    if (Array.isArray(cur)) {
      cur = cur[array_index(cur, t, false)];
    } else if (is_object(cur) && Object.hasOwn(cur, t)) {
      cur = cur[t];
    } else {
      throw new Error(`path "${path}" does not exist`);
    }
  }
  return cur;
}

function remove_at(doc, path) {
  const tokens = parse_pointer(path);
  if (tokens.length === 0) {
    throw new Error('cannot remove the whole document');
  }
  const { parent, key } = locate(doc, tokens, path);
  if (Array.isArray(parent)) {
    return parent.splice(array_index(parent, key, false), 1)[0];
  }
  if (!Object.hasOwn(parent, key)) {
    throw new Error(`path "${path}" does not exist`);
  }
  const v = parent[key];
  delete parent[key];
  return v;
}

// Returns the new document (the root may be replaced).
function add_at(doc, path, value) {
  const tokens = parse_pointer(path);
  if (tokens.length === 0) {
    return value;
  }
  const { parent, key } = locate(doc, tokens, path);
  if (Array.isArray(parent)) {
    parent.splice(array_index(parent, key, true), 0, value);
  } else {
    parent[key] = value;
  }
  return doc;
}

function deep_equal(a, b) {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v) {
  if (Array.isArray(v)) {
    return v.map(canonical);
  }
  if (is_object(v)) {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  }
  return v;
}

// RFC 6902 section 4. Returns {ok, value} or {ok:false, error, decode} where decode=true means the
// patch document itself is malformed (the API server answers 400 for those, 422 when applying
// fails).
function json_patch(target, ops) {
  if (!Array.isArray(ops)) {
    return { ok: false, decode: true, error: 'json: cannot unmarshal object into Go value of type jsonpatch.Patch' };
  }
  let doc = clone(target);
  for (const op of ops) {
    try {
      if (!is_object(op)) {
        throw new Error('operation is not an object');
      }
      const need_value = () => {
        if (!Object.hasOwn(op, 'value')) {
          throw new Error(`${op.op} operation does not apply: missing value`);
        }
        return clone(op.value);
      };
      switch (op.op) {
        case 'add': doc = add_at(doc, op.path, need_value()); break;
        case 'remove': remove_at(doc, op.path); break;
        case 'replace': {
          const v = need_value();
          if (parse_pointer(op.path).length === 0) {
            doc = v;
          } else {
            remove_at(doc, op.path);
            doc = add_at(doc, op.path, v);
          }
          break;
        }
        case 'move': {
          if (op.path.startsWith(`${op.from}/`)) {
            throw new Error(`cannot move "${op.from}" into its own child "${op.path}"`);
          }
          const v = remove_at(doc, op.from);
          doc = add_at(doc, op.path, v);
          break;
        }
        case 'copy': doc = add_at(doc, op.path, clone(get_at(doc, op.from))); break;
        case 'test':
          if (!deep_equal(get_at(doc, op.path), need_value())) {
            throw new Error(`testing value ${op.path} failed: test failed`);
          }
          break;
        default: throw new Error(`Unexpected kind: ${op.op}`);
      }
    } catch (e) {
      return { ok: false, error: e.message };
    }
  }
  return { ok: true, value: doc };
}

module.exports = { merge_patch, json_patch, deep_equal, is_object };
