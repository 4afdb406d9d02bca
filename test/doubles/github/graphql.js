'use strict';
// GraphQL for the double, held to GitHub's own schema: every document is parsed and validated by
// graphql-js (npm `graphql`) against the schema GitHub publishes (npm `@octokit/graphql-schema`,
// schema.graphql), and executed by graphql-js, so variables are coerced to GitHub's input types
// (a missing required field, an unknown field, a bad enum or GitObjectID is GitHub's error). A
// document the schema rejects, variables it cannot coerce, and a root field the double does not
// implement are violations (kind `graphql`).
//
// The double implements the root fields ferry uses; server.js supplies their resolvers:
//   query:    repository(owner, name) { defaultBranchRef, ref, label, pullRequests, ... },
//             user(login) { id, login }, organization(login) { team(slug) { id, slug } }
//   mutation: createCommitOnBranch, enablePullRequestAutoMerge, addLabelsToLabelable,
//             requestReviews
// A resolver that fails throws gh_error(message, type): the answer carries GitHub's error shape
// ({type, path, locations, message}) with `data` for the fields that succeeded, as GitHub does
// for a document with several mutations (each root mutation field runs, in order).
//
// The schema's SDL repeats two field definitions (EnterpriseOwnerInfo.repositoryDeployKeySetting*
// in 15.26.1), which buildSchema refuses unless the SDL is assumed valid; nothing ferry asks
// touches them.

const fs = require('fs');
const path = require('path');
const { buildSchema, parse: parse_document, validate, execute, getOperationAST } = require('graphql');

let k_schema = null;
function schema() {
  if (!k_schema) {
    // The package exports only its ES module; the SDL file sits beside it.
    const file = path.join(__dirname, '..', '..', 'node_modules', '@octokit', 'graphql-schema', 'schema.graphql');
    k_schema = buildSchema(fs.readFileSync(file, 'utf8'), { assumeValidSDL: true });
    // The SDL declares custom scalars without their formats; GitHub checks these two as its
    // schema documents them ("A Git object ID", "A (potentially binary) string encoded using
    // base64").
    const formats = {
      GitObjectID: (v) => typeof v === 'string' && /^[0-9a-f]{40}$/.test(v),
      Base64String: (v) => typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v) && v.length % 4 === 0,
    };
    for (const [name, ok] of Object.entries(formats)) {
      const t = k_schema.getType(name);
      t.parseValue = (v) => {
        if (!ok(v)) {
          throw new TypeError(`${JSON.stringify(v)} is not a valid ${name}`);
        }
        return v;
      };
    }
  }
  return k_schema;
}

const k_implemented = {
  query: ['repository', 'user', 'organization'],
  mutation: ['createCommitOnBranch', 'enablePullRequestAutoMerge', 'addLabelsToLabelable', 'requestReviews'],
};

function gh_error(message, type) {
  const e = new Error(message);
  e.gh_type = type;
  return e;
}

// {problems} or {document, operation: 'query'|'mutation', fields: [root field names], operation_name}.
function prepare(body) {
  if (!body || typeof body.query !== 'string') {
    return { problems: ['A query attribute must be specified and must be a string.'] };
  }
  let document;
  try {
    document = parse_document(body.query);
  } catch (e) {
    return { problems: [e.message] };
  }
  const errors = validate(schema(), document);
  if (errors.length) {
    return { problems: errors.map((e) => e.message) };
  }
  const op = getOperationAST(document, body.operationName || undefined);
  if (!op) {
    return { problems: ['the document must name one operation (operationName) or hold exactly one'] };
  }
  const fields = op.selectionSet.selections.filter((s) => s.kind === 'Field').map((s) => s.name.value);
  const known = k_implemented[op.operation] || [];
  const missing = fields.filter((f) => f !== '__typename' && !known.includes(f));
  if (missing.length) {
    return { problems: [`the double implements only ${op.operation} fields ${known.join(', ')}; got ${missing.join(', ')}`], fields };
  }
  return { document, operation: op.operation, fields, operation_name: body.operationName || undefined };
}

// Runs a prepared document. {violations} when the variables do not coerce (no field ran), else
// {answer: GitHub's JSON answer}.
async function run(prepared, variables, root) {
  const out = await execute({ schema: schema(), document: prepared.document, rootValue: root, variableValues: variables || {}, operationName: prepared.operation_name });
  if (out.data === undefined && out.errors) {
    return { violations: out.errors.map((e) => e.message), answer: { errors: out.errors.map((e) => ({ message: e.message, locations: e.locations, extensions: { code: 'variableMismatch' } })) } };
  }
  const answer = { data: out.data };
  if (out.errors && out.errors.length) {
    answer.errors = out.errors.map((e) => {
      const type = e.originalError && e.originalError.gh_type;
      if (!type) {
        // A failure of the double itself (a field it does not fill): surfaced, never hidden.
        return { type: 'INTERNAL', path: e.path, locations: e.locations, message: e.message, double_error: true };
      }
      return { type, path: e.path, locations: e.locations, message: e.message };
    });
  }
  return { answer };
}

// Connections need `first` or `last`, at most 100 (GitHub: "Resource limitations").
function page_bound(args) {
  const n = args.first ?? args.last;
  if (n === undefined || n === null) {
    throw gh_error('You must provide a `first` or `last` value to properly paginate the connection.', 'MISSING_PAGINATION_BOUNDARIES');
  }
  if (n < 0 || n > 100) {
    throw gh_error(`Requesting ${n} records on the connection exceeds the \`first\` limit of 100 records.`, 'EXCESSIVE_PAGINATION');
  }
  return n;
}

module.exports = { prepare, run, gh_error, page_bound, schema };
