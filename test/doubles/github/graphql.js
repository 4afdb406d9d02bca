'use strict';
// A hand-written dispatcher for the two GraphQL mutations ferry sends. It recognises the
// operation by its root field and checks the `input` variable against the input object types of
// GitHub's GraphQL schema (https://docs.github.com/graphql/reference/input-objects):
//
//   CreateCommitOnBranchInput {
//     branch: CommittableBranch! { repositoryNameWithOwner: String, repositoryId: ID,
//                                   branchName: String }   (one of the two repository fields)
//     message: CommitMessage! { headline: String!, body: String }
//     expectedHeadOid: GitObjectID!           (40 hex)
//     fileChanges: FileChanges { additions: [FileAddition!] { path: String!, contents: Base64String! },
//                                deletions: [FileDeletion!] { path: String! } }
//     clientMutationId: String }
//   EnablePullRequestAutoMergeInput {
//     pullRequestId: ID!, mergeMethod: PullRequestMergeMethod (MERGE|SQUASH|REBASE),
//     expectedHeadOid: GitObjectID, commitHeadline: String, commitBody: String,
//     authorEmail: String, clientMutationId: String }
//
// Unknown fields are rejected, as GitHub's GraphQL validation does. Only variables are
// supported (`mutation($input: XInput!) { x(input: $input) {...} }`); the answer carries a fixed
// superset of the selections ferry asks for (documented in the README).

const k_types = {
  CreateCommitOnBranchInput: {
    branch: { type: 'CommittableBranch', required: true },
    message: { type: 'CommitMessage', required: true },
    expectedHeadOid: { type: 'GitObjectID', required: true },
    fileChanges: { type: 'FileChanges' },
    clientMutationId: { type: 'String' },
  },
  CommittableBranch: {
    repositoryNameWithOwner: { type: 'String' },
    repositoryId: { type: 'ID' },
    branchName: { type: 'String' },
  },
  CommitMessage: { headline: { type: 'String', required: true }, body: { type: 'String' } },
  FileChanges: { additions: { type: '[FileAddition!]' }, deletions: { type: '[FileDeletion!]' } },
  FileAddition: { path: { type: 'String', required: true }, contents: { type: 'Base64String', required: true } },
  FileDeletion: { path: { type: 'String', required: true } },
  EnablePullRequestAutoMergeInput: {
    pullRequestId: { type: 'ID', required: true },
    mergeMethod: { type: 'PullRequestMergeMethod' },
    expectedHeadOid: { type: 'GitObjectID' },
    commitHeadline: { type: 'String' },
    commitBody: { type: 'String' },
    authorEmail: { type: 'String' },
    clientMutationId: { type: 'String' },
  },
};

const k_mutations = {
  createCommitOnBranch: 'CreateCommitOnBranchInput',
  enablePullRequestAutoMerge: 'EnablePullRequestAutoMergeInput',
};

// Returns a list of problems with `value` as an instance of `type` at `where`.
function check(type, value, where, out) {
  if (type.startsWith('[')) {
    const inner = type.slice(1, -1).replace(/!$/, '');
    if (!Array.isArray(value)) {
      out.push(`${where}: Expected a list of ${inner}`);
      return;
    }
    value.forEach((v, i) => {
      if (v === null) {
        out.push(`${where}.${i}: Expected value to not be null`);
      } else {
        check(inner, v, `${where}.${i}`, out);
      }
    });
    return;
  }
  const fields = k_types[type];
  if (fields) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      out.push(`${where}: Expected an object of type ${type}`);
      return;
    }
    for (const k of Object.keys(value)) {
      if (!fields[k]) {
        out.push(`${where}.${k}: Field is not defined on ${type}`);
      }
    }
    for (const [k, f] of Object.entries(fields)) {
      const v = value[k];
      if (v === undefined || v === null) {
        if (f.required) {
          out.push(`${where}.${k}: Expected value to not be null`);
        }
        continue;
      }
      check(f.type, v, `${where}.${k}`, out);
    }
    if (type === 'CommittableBranch' && !value.repositoryNameWithOwner && !value.repositoryId) {
      out.push(`${where}: one of repositoryNameWithOwner or repositoryId is required`);
    }
    return;
  }
  switch (type) {
    case 'String':
    case 'ID':
      if (typeof value !== 'string') {
        out.push(`${where}: Could not coerce value ${JSON.stringify(value)} to ${type}`);
      }
      return;
    case 'GitObjectID':
      if (typeof value !== 'string' || !/^[0-9a-f]{40}$/.test(value)) {
        out.push(`${where}: ${JSON.stringify(value)} is not a valid GitObjectID`);
      }
      return;
    case 'Base64String':
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
        out.push(`${where}: ${JSON.stringify(value)} is not a valid Base64String`);
      }
      return;
    case 'PullRequestMergeMethod':
      if (!['MERGE', 'SQUASH', 'REBASE'].includes(value)) {
        out.push(`${where}: Expected "${value}" to be one of: MERGE, SQUASH, REBASE`);
      }
      return;
    default:
      out.push(`${where}: unknown type ${type}`);
  }
}

// Parses a request into {field, input} or {problems}.
function parse(body) {
  if (!body || typeof body.query !== 'string') {
    return { problems: ['A query attribute must be specified and must be a string.'] };
  }
  const q = body.query.replace(/#[^\n]*/g, '');
  const op = /^\s*(query|mutation|subscription)?\s*([_A-Za-z][_0-9A-Za-z]*)?\s*(\(([^)]*)\))?\s*\{\s*(?:[_A-Za-z][_0-9A-Za-z]*\s*:\s*)?([_A-Za-z][_0-9A-Za-z]*)/.exec(q);
  if (!op) {
    return { problems: ['the double could not find the operation\'s root field'] };
  }
  const field = op[5];
  const input_type = k_mutations[field];
  if (!input_type || op[1] !== 'mutation') {
    return { problems: [`the double implements only the mutations ${Object.keys(k_mutations).join(', ')}; got ${op[1] || 'query'} ${field}`] };
  }
  const decl = new RegExp(`\\$input\\s*:\\s*${input_type}!`);
  if (!op[4] || !decl.test(op[4])) {
    return { problems: [`declare the variable as $input: ${input_type}! (found ${JSON.stringify(op[4] || '')})`] };
  }
  const vars = body.variables || {};
  const problems = [];
  if (vars.input === undefined || vars.input === null) {
    problems.push(`Variable $input of type ${input_type}! was provided invalid value (Expected value to not be null)`);
  } else {
    const out = [];
    check(input_type, vars.input, 'input', out);
    for (const p of out) {
      problems.push(`Variable $input of type ${input_type}! was provided invalid value for ${p}`);
    }
  }
  return problems.length ? { problems, field } : { field, input: vars.input };
}

module.exports = { parse };
