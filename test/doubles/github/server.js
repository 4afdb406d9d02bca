#!/usr/bin/env node
'use strict';
// A GitHub double for ferry's tests: REST (validated against @octokit/openapi), GraphQL (run by
// graphql-js against @octokit/graphql-schema), App authentication, git smart HTTP over real bare repositories, and
// fault injection. See README.md next to this file.
//
//   node test/doubles/github/server.js --port 0 --state-dir DIR [--tls-cert C --tls-key K]
//        [--app-id N] [--app-public-key PEM_FILE] [--check-responses]
// prints one JSON line when listening: {"port": N, "url": "http://127.0.0.1:N", ...}

const http = require('node:http');
const https = require('node:https');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');

const { contract, complete } = require('./contract');
const { verify_jwt, token_store, parse_authorization } = require('./auth');
const { repo_git, init_bare, must, k_zero } = require('./git');
const graphql = require('./graphql');

graphql.schema(); // built once at start (~0.35 s), not during the first request
const { webhook_schemas } = require('./webhooks');

const k_docs = 'https://docs.github.com/rest';
const k_rate_limit = 5000; // primary limit for an installation (docs: rate limits for the REST API)
const k_anonymous_rate_limit = 60; // unauthenticated requests, per the same page
// Secondary rate limits on content creation (docs.github.com, "Rate limits for the REST API" ->
// "About secondary rate limits": "No more than 80 content-generating requests per minute and no
// more than 500 content-generating requests per hour are allowed"). POST /_double/limits lowers
// them for tests.
const k_writes_per_minute = 80;
const k_writes_per_hour = 500;
const k_minute_ms = 60 * 1000;
const k_hour_ms = 60 * 60 * 1000;
// GitHub's answer to a request over a secondary rate limit (the same page).
function secondary_limit_body(status) {
  return { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits', status: String(status) };
}
const k_git_http_backend = '/usr/lib/git-core/git-http-backend';

// Responses the double sends that GitHub sends but the description does not document for that
// operation (so --check-responses has no schema to hold them to). Listed, not hidden.
const k_tolerated = [
  'POST /repos/{owner}/{repo}/statuses/{sha}: 422 for a description over 140 characters and for an unknown sha are real GitHub answers the description does not list (it documents only 201)',
  'POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers: 404 for an unknown pull request is undocumented',
  'PATCH /repos/{owner}/{repo}/pulls/{pull_number}: 404 for an unknown pull request is undocumented',
  'POST /repos/{owner}/{repo}/issues/{issue_number}/labels: the description documents 200 with label objects; GitHub also answers 404 for an unknown issue, which is documented',
];

// Schema errors --check-responses forgives because the description contradicts itself or what
// GitHub sends. Each is a regular expression over the error text; keep this list short.
const k_tolerated_schema_errors = [
  // pull-request-simple (POST .../requested_reviewers, GET .../pulls) types labels[].description
  // as a non-nullable string while the label schema (and GitHub) use null for "no description".
  /^response\/labels\/\d+\/description must be string/,
  /^response\/\d+\/labels\/\d+\/description must be string/,
];

function parse_args(argv) {
  const a = { port: 0, host: '127.0.0.1', check_responses: false };
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
      case '--state-dir': a.state_dir = v(); break;
      case '--tls-cert': a.tls_cert = v(); break;
      case '--tls-key': a.tls_key = v(); break;
      case '--app-id': a.app_id = v(); break;
      case '--app-client-id': a.client_id = v(); break;
      case '--app-slug': a.app_slug = v(); break;
      case '--app-public-key': a.app_public_key = v(); break;
      case '--check-responses': a.check_responses = true; break;
      default: throw new Error(`unknown argument ${k}`);
    }
  }
  if (!a.state_dir) {
    throw new Error('--state-dir DIR is required');
  }
  return a;
}

const iso = (ms = Date.now()) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

class double {
  constructor(opts) {
    this.opts = opts;
    this.contract = new contract();
    fs.mkdirSync(path.join(opts.state_dir, 'repos'), { recursive: true });
    this.manifest_codes = new Map();
    this.manifest_posts = []; // what the App-from-manifest form received, for tests
    this.app = {
      id: Number(opts.app_id || 4242),
      client_id: opts.client_id || 'Iv1.ferrydouble0001',
      slug: opts.app_slug || 'ferry',
      bot_user_id: 41898282,
      // The App's webhook as GET /app/hook/config describes it (apps/get-webhook-config-for-app);
      // POST /_double/app/hook-config changes it. GitHub answers "********" for a secret that
      // is set and leaves the field out otherwise.
      hook_config: { url: 'https://ferry.example.com/webhook', content_type: 'json', insecure_ssl: '0', secret: '********' },
      // What the App is subscribed to, and may read: GitHub delivers only subscribed events
      // (docs: "Using webhooks with GitHub Apps"). POST /_double/app/events changes the events
      // and adds permissions (gates need status, check_run and checks: read, which
      // infra/github-app-manifest.json leaves out).
      events: ['package', 'push', 'pull_request', 'registry_package'],
      permissions: { contents: 'write', pull_requests: 'write', statuses: 'write', metadata: 'read', packages: 'read' },
    };
    if (opts.app_public_key) {
      this.public_key = crypto.createPublicKey(fs.readFileSync(opts.app_public_key));
      this.private_key_path = null;
    } else {
      // No key given: make one and leave the private half in the state dir for ferry.
      const pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      this.private_key_path = path.join(opts.state_dir, 'app-private-key.pem');
      fs.writeFileSync(this.private_key_path, pair.privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
      this.public_key = pair.publicKey;
    }
    this.tokens = new token_store();
    this.installations = new Map(); // id -> {id, account, repos: Set}
    this.repos = new Map(); // lower(owner/name) -> repo
    this.next_id = 1000;
    this.violations = [];
    this.divergences = [];
    this.requests = [];
    this.faults = [];
    this.gql_ids = new Map(); // GraphQL node id -> {kind: User|Team, login|slug}
    this.deliveries = [];
    this.redeliveries = [];
    this.verified = new Map(); // commit sha -> verification object
    this.rate = new Map(); // identity -> {used, reset}
    this.write_limits = { per_minute: k_writes_per_minute, per_hour: k_writes_per_hour };
    this.writes = new Map(); // installation identity -> admitted content-creating requests (ms, ascending)
    this.secondary_limited = 0; // requests refused over a secondary limit
    this.webhook_schemas = new webhook_schemas();
    this.webhooks = []; // {seq, event, delivery_id, payload}: what GitHub would have delivered
    this.webhook_seq = 0;
  }

  id() {
    return ++this.next_id;
  }

  node_id(kind, id) {
    return Buffer.from(`0:${kind}${id}`).toString('base64').replace(/=+$/, '');
  }

  violation(kind, method, p, problems) {
    this.violations.push({ kind, method, path: p, problems, at: iso() });
  }

  // ---------------------------------------------------------------- JSON builders

  user(login, type = 'User', id = undefined) {
    const uid = id || (login === `${this.app.slug}[bot]` ? this.app.bot_user_id : 1000 + (crypto.createHash('sha1').update(login).digest().readUInt32BE(0) % 900000));
    return {
      login, id: uid, node_id: this.node_id('U', uid), type, site_admin: false,
      avatar_url: `https://avatars.githubusercontent.com/u/${uid}`, gravatar_id: '',
      url: `${this.base}/users/${encodeURIComponent(login)}`, html_url: `${this.base}/${encodeURIComponent(login)}`,
    };
  }

  bot_ident() {
    return { name: `${this.app.slug}[bot]`, email: `${this.app.bot_user_id}+${this.app.slug}[bot]@users.noreply.github.com` };
  }

  repo_json(r) {
    const full = `${r.owner}/${r.name}`;
    const api = `${this.base}/repos/${full}`;
    return {
      id: r.id, node_id: r.node_id, name: r.name, full_name: full, private: true,
      owner: this.user(r.owner, 'Organization'), html_url: `${this.base}/${full}`, description: null,
      fork: false, url: api, clone_url: `${this.base}/${full}.git`, git_url: `git://127.0.0.1/${full}.git`,
      ssh_url: `git@127.0.0.1:${full}.git`, svn_url: `${this.base}/${full}`, default_branch: r.default_branch,
      visibility: 'private', created_at: r.created_at, updated_at: r.created_at, pushed_at: r.created_at,
      permissions: { admin: false, maintain: false, push: true, triage: true, pull: true },
      allow_auto_merge: true, allow_merge_commit: true, allow_squash_merge: true, allow_rebase_merge: true,
      delete_branch_on_merge: false, archived: false, disabled: false, has_issues: true,
      git_refs_url: `${api}/git/refs{/sha}`, pulls_url: `${api}/pulls{/number}`, statuses_url: `${api}/statuses/{sha}`,
      compare_url: `${api}/compare/{base}...{head}`, contents_url: `${api}/contents/{+path}`,
    };
  }

  git_commit_json(r, c) {
    const api = `${this.base}/repos/${r.owner}/${r.name}`;
    return {
      sha: c.sha, node_id: this.node_id('C', c.sha.slice(0, 12)), url: `${api}/git/commits/${c.sha}`,
      html_url: `${this.base}/${r.owner}/${r.name}/commit/${c.sha}`, author: c.author, committer: c.committer,
      message: c.message.replace(/\n$/, ''), tree: { sha: c.tree, url: `${api}/git/trees/${c.tree}` },
      parents: c.parents.map((p) => ({ sha: p, url: `${api}/git/commits/${p}`, html_url: `${this.base}/${r.owner}/${r.name}/commit/${p}` })),
      verification: this.verification(c.sha),
    };
  }

  verification(sha) {
    return this.verified.get(sha) || { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null };
  }

  mark_verified(sha) {
    this.verified.set(sha, { verified: true, reason: 'valid', signature: '-----BEGIN PGP SIGNATURE-----\n(web-flow, double)\n-----END PGP SIGNATURE-----', payload: null, verified_at: iso() });
  }

  commit_json(r, c) {
    const api = `${this.base}/repos/${r.owner}/${r.name}`;
    const g = this.git_commit_json(r, c);
    return {
      sha: c.sha, node_id: g.node_id, url: `${api}/commits/${c.sha}`, html_url: g.html_url,
      comments_url: `${api}/commits/${c.sha}/comments`,
      commit: { url: g.url, author: c.author, committer: c.committer, message: g.message, comment_count: 0, tree: g.tree, verification: g.verification },
      author: null, committer: null,
      parents: g.parents,
    };
  }

  pr_json(r, pr) {
    const full = `${r.owner}/${r.name}`;
    const api = `${this.base}/repos/${full}`;
    const side = (ref, sha) => ({ label: `${r.owner}:${ref}`, ref, sha, user: this.user(r.owner, 'Organization'), repo: this.repo_json(r) });
    return {
      url: `${api}/pulls/${pr.number}`, id: pr.id, node_id: pr.node_id, number: pr.number,
      html_url: `${this.base}/${full}/pull/${pr.number}`, diff_url: `${this.base}/${full}/pull/${pr.number}.diff`,
      patch_url: `${this.base}/${full}/pull/${pr.number}.patch`, issue_url: `${api}/issues/${pr.number}`,
      commits_url: `${api}/pulls/${pr.number}/commits`, review_comments_url: `${api}/pulls/${pr.number}/comments`,
      review_comment_url: `${api}/pulls/comments{/number}`, comments_url: `${api}/issues/${pr.number}/comments`,
      statuses_url: `${api}/statuses/${pr.head_sha}`,
      state: pr.state, locked: false, title: pr.title, body: pr.body, user: this.user(pr.user, pr.user.endsWith('[bot]') ? 'Bot' : 'User'),
      labels: pr.labels.map((l) => this.label_json(r, l)), milestone: null, active_lock_reason: null,
      created_at: pr.created_at, updated_at: pr.updated_at, closed_at: pr.closed_at, merged_at: pr.merged_at,
      merge_commit_sha: pr.merge_commit_sha, assignee: null, assignees: [],
      requested_reviewers: pr.reviewers.map((u) => this.user(u)),
      requested_teams: pr.teams.map((t) => ({ id: this.id(), node_id: this.node_id('T', t), name: t, slug: t, url: `${this.base}/orgs/${r.owner}/teams/${t}`, html_url: `${this.base}/orgs/${r.owner}/teams/${t}`, description: null, permission: 'pull', members_url: `${this.base}/orgs/${r.owner}/teams/${t}/members{/member}`, repositories_url: `${this.base}/orgs/${r.owner}/teams/${t}/repos`, parent: null })),
      head: side(pr.head_ref, pr.head_sha), base: side(pr.base_ref, pr.base_sha),
      _links: {
        self: { href: `${api}/pulls/${pr.number}` }, html: { href: `${this.base}/${full}/pull/${pr.number}` },
        issue: { href: `${api}/issues/${pr.number}` }, comments: { href: `${api}/issues/${pr.number}/comments` },
        review_comments: { href: `${api}/pulls/${pr.number}/comments` }, review_comment: { href: `${api}/pulls/comments{/number}` },
        commits: { href: `${api}/pulls/${pr.number}/commits` }, statuses: { href: `${api}/statuses/${pr.head_sha}` },
      },
      author_association: 'NONE',
      auto_merge: pr.auto_merge ? { enabled_by: this.user(`${this.app.slug}[bot]`, 'Bot'), merge_method: pr.auto_merge.merge_method, commit_title: pr.auto_merge.commit_title || '', commit_message: pr.auto_merge.commit_message || '' } : null,
      draft: pr.draft, merged: pr.merged, mergeable: pr.state === 'open' ? pr.mergeable : null,
      rebaseable: pr.state === 'open' ? pr.mergeable : null,
      mergeable_state: pr.state !== 'open' ? 'unknown' : (pr.mergeable ? 'clean' : 'dirty'),
      merged_by: pr.merged ? this.user(pr.merged_by || `${this.app.slug}[bot]`, (pr.merged_by || '[bot]').endsWith('[bot]') ? 'Bot' : 'User') : null,
      comments: (r.comments.get(pr.number) || []).length, review_comments: 0, maintainer_can_modify: false,
      commits: pr.commits || 1, additions: 0, deletions: 0, changed_files: 0,
    };
  }

  label_json(r, name) {
    const id = crypto.createHash('sha1').update(`${r.id}/${name}`).digest().readUInt32BE(0);
    return { id, node_id: this.node_id('L', id), url: `${this.base}/repos/${r.owner}/${r.name}/labels/${encodeURIComponent(name)}`, name, description: null, color: 'ededed', default: false };
  }

  status_json(r, s) {
    return {
      url: `${this.base}/repos/${r.owner}/${r.name}/statuses/${s.sha}`, avatar_url: null, id: s.id, node_id: this.node_id('S', s.id),
      state: s.state, description: s.description, target_url: s.target_url, context: s.context,
      created_at: s.created_at, updated_at: s.created_at, creator: this.user(`${this.app.slug}[bot]`, 'Bot'),
    };
  }

  check_run_json(r, c) {
    return {
      id: c.id, node_id: this.node_id('CR', c.id), head_sha: c.sha, external_id: '', name: c.name,
      url: `${this.base}/repos/${r.owner}/${r.name}/check-runs/${c.id}`, html_url: `https://github.com/${r.owner}/${r.name}/runs/${c.id}`,
      details_url: `https://github.com/${r.owner}/${r.name}/runs/${c.id}`, status: c.status, conclusion: c.conclusion, started_at: c.started_at, completed_at: c.completed_at,
      output: { title: null, summary: null, text: null, annotations_count: 0, annotations_url: `${this.base}/repos/${r.owner}/${r.name}/check-runs/${c.id}/annotations` },
      pull_requests: [],
    };
  }

  comment_json(r, c) {
    return {
      id: c.id, node_id: this.node_id('IC', c.id), url: `${this.base}/repos/${r.owner}/${r.name}/issues/comments/${c.id}`,
      html_url: `${this.base}/${r.owner}/${r.name}/pull/${c.number}#issuecomment-${c.id}`, body: c.body,
      user: this.user(c.user, c.user.endsWith('[bot]') ? 'Bot' : 'User'), created_at: c.created_at, updated_at: c.created_at,
      issue_url: `${this.base}/repos/${r.owner}/${r.name}/issues/${c.number}`, author_association: 'NONE',
    };
  }

  installation_json(inst) {
    return {
      id: inst.id, account: this.user(inst.account, 'Organization'), repository_selection: 'selected',
      access_tokens_url: `${this.base}/app/installations/${inst.id}/access_tokens`,
      repositories_url: `${this.base}/installation/repositories`, html_url: `${this.base}/organizations/${inst.account}/settings/installations/${inst.id}`,
      app_id: this.app.id, client_id: this.app.client_id, target_id: this.user(inst.account).id, target_type: 'Organization',
      permissions: { ...this.app.permissions },
      events: [...this.app.events], created_at: inst.created_at, updated_at: inst.created_at,
      single_file_name: null, app_slug: this.app.slug, suspended_by: null, suspended_at: null,
    };
  }

  // ---------------------------------------------------------------- repositories

  async create_repo({ owner, name, installation_id, dir, files, default_branch, labels }) {
    if (!owner || !name || !installation_id) {
      throw new Error('owner, name and installation_id are required');
    }
    const key = `${owner}/${name}`.toLowerCase();
    if (this.repos.has(key)) {
      throw new Error(`repository ${owner}/${name} exists`);
    }
    const repo_dir = path.join(this.opts.state_dir, 'repos', owner, `${name}.git`);
    await init_bare(repo_dir);
    const git = new repo_git(repo_dir);
    const branch = default_branch || 'main';
    const entries = [];
    if (dir) {
      const walk = (d, prefix) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
          if (e.name === '.git') {
            continue;
          }
          const full = path.join(d, e.name);
          if (e.isDirectory()) {
            walk(full, `${prefix}${e.name}/`);
          } else {
            const mode = (fs.statSync(full).mode & 0o111) ? '100755' : '100644';
            entries.push({ path: `${prefix}${e.name}`, mode, data: fs.readFileSync(full) });
          }
        }
      };
      walk(dir, '');
    }
    for (const [p, content] of Object.entries(files || {})) {
      entries.push({ path: p, mode: '100644', data: Buffer.from(content) });
    }
    const edits = [];
    for (const e of entries) {
      edits.push({ path: e.path, mode: e.mode, sha: await git.hash_blob(e.data) });
    }
    const tree = await git.build_tree(null, edits);
    const who = { name: 'Test', email: 't@example.com', date: iso() };
    const sha = await git.commit_tree(tree, [], 'Initial commit\n', who, who);
    await git.cas(`refs/heads/${branch}`, sha, null);
    await must(repo_dir, ['symbolic-ref', 'HEAD', `refs/heads/${branch}`]);
    const r = {
      owner, name, id: this.id(), installation_id: Number(installation_id), default_branch: branch, dir: repo_dir, git,
      pulls: [], comments: new Map(), statuses: new Map(), check_runs: new Map(), next_number: 1, auto_merge_clean: true, created_at: iso(),
      labels: new Set(labels || []), // the repository's labels (REST creates one when it first adds it)
      created_commits: [], // {sha, via}: every commit the API wrote, for tests counting writes
    };
    r.node_id = this.node_id('R', r.id);
    this.repos.set(key, r);
    let inst = this.installations.get(r.installation_id);
    if (!inst) {
      inst = { id: r.installation_id, account: owner, repos: new Set(), created_at: iso() };
      this.installations.set(inst.id, inst);
    }
    inst.repos.add(key);
    return { full_name: `${owner}/${name}`, default_branch: branch, head: sha, clone_url: `${this.base}/${owner}/${name}.git`, dir: repo_dir };
  }

  repo(owner, name) {
    return this.repos.get(`${owner}/${name}`.toLowerCase());
  }

  // Keeps a PR's head sha following its branch, as GitHub does, while the branch exists.
  async refresh_pr(r, pr) {
    if (pr.state === 'open') {
      const head = await r.git.rev_parse(`refs/heads/${pr.head_ref}`);
      if (head) {
        pr.head_sha = head;
      }
      const base = await r.git.rev_parse(`refs/heads/${pr.base_ref}`);
      if (base) {
        pr.base_sha = base;
      }
      if (head && base) {
        pr.commits = await r.git.count(`${base}..${head}`);
      }
    }
    return pr;
  }

  // Resolves a ref name as GitHub's `{ref}` parameters do: a sha, a branch, a tag, or a
  // heads/... / tags/... / refs/... name.
  async resolve(r, ref) {
    if (/^[0-9a-f]{40}$/.test(ref)) {
      return (await r.git.object_type(ref)) ? ref : null;
    }
    for (const cand of [`refs/heads/${ref}`, `refs/tags/${ref}`, `refs/${ref}`, ref.startsWith('refs/') ? ref : null]) {
      if (cand) {
        const sha = await r.git.rev_parse(`${cand}^{commit}`);
        if (sha && (await r.git.rev_parse(cand))) {
          return sha;
        }
      }
    }
    if (/^[0-9a-f]{7,39}$/.test(ref)) {
      return r.git.rev_parse(`${ref}^{commit}`);
    }
    return null;
  }

  // ---------------------------------------------------------------- webhooks
  //
  // GitHub sends a `push` for every change of a branch or tag and a `pull_request` for every
  // change of a PR's state or head (docs: "Webhook events and payloads"). The double records
  // each one instead of delivering it; tests read them from /_double/webhooks, sign them and
  // send them to ferry. Every payload is validated against @octokit/openapi-webhooks.

  // Who made a change: the App's bot for API calls, a person for control-plane changes.
  bot_actor() {
    return { login: `${this.app.slug}[bot]`, type: 'Bot' };
  }

  person_actor(login) {
    return { login: login || 'octocat', type: 'User' };
  }

  record_webhook(event, action, payload) {
    let built;
    try {
      built = this.webhook_schemas.build(event, action, payload);
    } catch (e) {
      built = { payload, problems: [`webhook schema failed: ${e.message}`] };
    }
    if (built.problems.length) {
      this.violation('webhook', 'EMIT', action ? `${event}.${action}` : event, built.problems);
    }
    const w = { seq: ++this.webhook_seq, event, delivery_id: crypto.randomUUID(), payload: built.payload };
    this.webhooks.push(w);
    return w;
  }

  // `status` (webhook-status) for a new commit status, when the App subscribes to it.
  async status_webhook(r, s, actor) {
    if (!this.app.events.includes('status')) {
      return null;
    }
    const commit = this.commit_json(r, await r.git.commit(s.sha));
    return this.record_webhook('status', null, {
      id: s.id, sha: s.sha, name: `${r.owner}/${r.name}`, commit, target_url: s.target_url, context: s.context,
      description: s.description, state: s.state, branches: [], created_at: s.created_at, updated_at: s.created_at,
      ...this.hook_common(r, actor, 'status'),
    });
  }

  // `check_run` (webhook-check-run-<action>) for a check run's change, when subscribed.
  check_run_webhook(r, c, action, actor) {
    if (!this.app.events.includes('check_run')) {
      return null;
    }
    return this.record_webhook('check_run', action, {
      action, check_run: this.check_run_json(r, c), ...this.hook_common(r, actor, 'check_run'),
    });
  }

  // The repository object of a webhook: the REST one plus the fields webhooks add (owner.name,
  // integer created_at/pushed_at in push payloads, as GitHub sends them).
  hook_repo_json(r, event) {
    const j = this.repo_json(r);
    j.owner = { ...j.owner, name: r.owner, email: null };
    if (event === 'push') {
      j.created_at = Math.floor(Date.parse(r.created_at) / 1000);
      j.pushed_at = Math.floor(Date.now() / 1000);
      j.master_branch = r.default_branch;
      j.stargazers = 0;
    }
    j.topics = [];
    j.has_discussions = false;
    j.is_template = false;
    j.web_commit_signoff_required = false;
    j.custom_properties = {};
    return j;
  }

  hook_common(r, actor, event) {
    return {
      repository: this.hook_repo_json(r, event),
      installation: { id: r.installation_id, node_id: this.node_id('MDIz', `${r.installation_id}`) },
      sender: this.user(actor.login, actor.type),
    };
  }

  // Paths a commit added, removed and modified against its first parent (all added for a root
  // commit): `git diff-tree` is what GitHub reports too.
  async changed_paths(r, c) {
    const args = ['diff-tree', '-r', '-z', '--no-commit-id', '--no-renames', '--name-status'];
    if (c.parents.length) {
      args.push(c.parents[0], c.sha);
    } else {
      args.push('--root', c.sha);
    }
    const parts = (await must(r.dir, args)).split('\0').filter(Boolean);
    const out = { added: [], removed: [], modified: [] };
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const kind = parts[i][0];
      (kind === 'A' ? out.added : (kind === 'D' ? out.removed : out.modified)).push(parts[i + 1]);
    }
    return out;
  }

  async push_commit_json(r, sha) {
    const c = await r.git.commit(sha);
    const who = (x) => ({ name: x.name, email: x.email || null, ...(x.name.endsWith('[bot]') ? { username: x.name } : {}), date: x.date });
    return {
      id: sha, tree_id: c.tree, distinct: true, message: c.message.replace(/\n$/, ''), timestamp: c.committer.date,
      url: `${this.base}/${r.owner}/${r.name}/commit/${sha}`, author: who(c.author), committer: who(c.committer),
      ...(await this.changed_paths(r, c)),
    };
  }

  // Records the `push` GitHub sends when `ref` went from `before` to `after` (null = absent),
  // then what the change does to pull requests: a moved head is `synchronize`, a deleted head
  // closes the PR unmerged, as on GitHub.
  async ref_changed(r, ref, before, after, actor) {
    if (before === after) {
      return;
    }
    const created = !before;
    const deleted = !after;
    let shas = [];
    if (!deleted) {
      if (created) {
        // A new ref lists only commits no other ref already had (an existing commit: none).
        const others = (await r.git.refs()).filter((x) => x.ref !== ref && x.type === 'commit').map((x) => x.sha);
        shas = (await must(r.dir, ['rev-list', '--reverse', after, '--not', ...others, '--'])).split('\n').filter(Boolean);
      } else {
        shas = await r.git.rev_list(`${before}..${after}`);
      }
    }
    // "The array includes a maximum of 2048 commits" (webhook-push description).
    shas = shas.slice(-2048);
    const commits = [];
    for (const s of shas) {
      commits.push(await this.push_commit_json(r, s));
    }
    const html = `${this.base}/${r.owner}/${r.name}`;
    const short = (x) => (x || k_zero).slice(0, 12);
    const forced = !created && !deleted && !(await r.git.is_ancestor(before, after));
    const bot = actor.type === 'Bot';
    this.record_webhook('push', null, {
      ref, before: before || k_zero, after: after || k_zero, created, deleted, forced, base_ref: null,
      compare: created ? `${html}/compare/${encodeURIComponent(ref.replace(/^refs\/(heads|tags)\//, ''))}` : `${html}/compare/${short(before)}...${short(after)}`,
      commits, head_commit: deleted ? null : (commits.length && commits[commits.length - 1].id === after ? commits[commits.length - 1] : await this.push_commit_json(r, after)),
      pusher: bot ? { name: actor.login, email: `${this.app.bot_user_id}+${actor.login}@users.noreply.github.com` } : { name: actor.login, email: `${actor.login}@users.noreply.github.com` },
      ...this.hook_common(r, actor, 'push'),
    });
    if (!ref.startsWith('refs/heads/')) {
      return;
    }
    const branch = ref.slice('refs/heads/'.length);
    for (const pr of r.pulls.filter((x) => x.state === 'open' && x.head_ref === branch)) {
      if (deleted) {
        const now = iso();
        pr.state = 'closed';
        pr.closed_at = now;
        pr.updated_at = now;
        this.pr_webhook(r, pr, 'closed', actor);
      } else {
        const prev = pr.head_sha;
        await this.refresh_pr(r, pr);
        pr.updated_at = iso();
        this.pr_webhook(r, pr, 'synchronize', actor, { before: prev, after: pr.head_sha });
      }
    }
  }

  pr_webhook(r, pr, action, actor, extra = {}) {
    return this.record_webhook('pull_request', action, {
      action, number: pr.number, ...extra, pull_request: this.pr_json(r, pr), ...this.hook_common(r, actor, 'pull_request'),
    });
  }

  // ---------------------------------------------------------------- HTTP plumbing

  async handle(req, res) {
    const url = new URL(req.url, 'http://double');
    let p = url.pathname;
    try {
      if (p.startsWith('/_double/')) {
        const body = await read_body(req);
        return await this.control(req, res, p, url, body);
      }
      const git_match = /^\/([^/]+)\/([^/]+?\.git)(\/.*)$/.exec(p);
      if (git_match) {
        return await this.git_http(req, res, git_match, url);
      }
      const body = await read_body(req);
      const web_manifest = /^\/organizations\/([^/]+)\/settings\/apps\/new$/.exec(p);
      if (req.method === 'POST' && web_manifest) {
        return this.manifest_form(req, res, decodeURIComponent(web_manifest[1]), url, body);
      }
      if (p.startsWith('/api/v3/')) {
        p = p.slice('/api/v3'.length); // GitHub Enterprise Server's REST prefix
      }
      if (p === '/graphql' || p === '/api/graphql') {
        return await this.graphql_http(req, res, url, body);
      }
      return await this.rest(req, res, p, url, body);
    } catch (e) {
      send(res, 500, { message: `double internal error: ${e.message}`, documentation_url: k_docs });
      this.violation('double-error', req.method, p, [e.stack]);
    }
  }

  mint_manifest_code(manifest, org, age_seconds) {
    const code = crypto.randomBytes(10).toString('hex');
    this.manifest_codes.set(code, { manifest, org, at: Date.now() - age_seconds * 1000, used: false, pem: '-----BEGIN RSA PRIVATE KEY-----\n(double)\n-----END RSA PRIVATE KEY-----\n' });
    this.manifest_posts.push({ org, state: null, manifest });
    return code;
  }

  // GitHub's web endpoint (not REST, so no OpenAPI operation): the form a browser POSTs with a
  // `manifest` field (docs.github.com, "Registering a GitHub App from a manifest"). GitHub
  // shows a confirmation page, creates the App, then redirects to the manifest's redirect_url
  // with ?code=...&state=...; the double skips the page and redirects at once. A manifest
  // without the keys GitHub requires (url, hook_attributes.url) or without a redirect_url
  // answers 422 with a text body, as a form page would show an error rather than JSON.
  manifest_form(req, res, org, url, body) {
    const entry = { method: 'POST', path: url.pathname, status: 0 };
    const finish = (status, headers, text) => {
      entry.status = status;
      res.writeHead(status, headers);
      res.end(text);
      this.log_request(entry);
    };
    const form = new URLSearchParams(body || '');
    let manifest;
    try {
      manifest = JSON.parse(form.get('manifest') || '');
    } catch (e) {
      return finish(422, { 'content-type': 'text/plain' }, `manifest is not JSON: ${e.message}`);
    }
    const missing = ['url', 'redirect_url'].filter((k) => typeof manifest[k] !== 'string' || !manifest[k]);
    if (!manifest.hook_attributes || typeof manifest.hook_attributes.url !== 'string') {
      missing.push('hook_attributes.url');
    }
    if (missing.length) {
      return finish(422, { 'content-type': 'text/plain' }, `manifest misses ${missing.join(', ')}`);
    }
    const code = this.mint_manifest_code(manifest, org, 0);
    this.manifest_posts[this.manifest_posts.length - 1].state = url.searchParams.get('state');
    const to = new URL(manifest.redirect_url);
    to.searchParams.set('code', code);
    if (url.searchParams.has('state')) {
      to.searchParams.set('state', url.searchParams.get('state'));
    }
    return finish(302, { location: to.toString(), 'content-type': 'text/html' }, `<a href="${to}">redirecting</a>`);
  }

  log_request(entry) {
    this.requests.push({ at: iso(), done_ms: Date.now(), ...entry });
  }

  // Returns the fault to inject for this request (and consumes one count), or null.
  take_fault(method, p, operation) {
    for (const f of this.faults) {
      if (f.remaining <= 0) {
        continue;
      }
      if (f.operation && !(Array.isArray(operation) ? operation.includes(f.operation) : f.operation === operation)) {
        continue;
      }
      if (f.method && f.method.toUpperCase() !== method) {
        continue;
      }
      if (f.path_regex && !new RegExp(f.path_regex).test(p)) {
        continue;
      }
      f.remaining--;
      f.hits++;
      return f;
    }
    return null;
  }

  // Applies a fault: waits delay_ms, then answers its status (true) or lets the request go on
  // (false, a pure delay).
  async apply_fault(f, res, headers) {
    if (f.delay_ms) {
      await new Promise((resolve) => setTimeout(resolve, f.delay_ms));
    }
    if (!f.status) {
      return false;
    }
    let body = f.body;
    const h = { ...headers };
    if (f.retry_after !== undefined) {
      h['retry-after'] = String(f.retry_after);
    }
    if (body === undefined) {
      if (f.status === 403 || f.status === 429) {
        body = secondary_limit_body(f.status);
      } else {
        body = { message: http.STATUS_CODES[f.status] || 'fault', documentation_url: k_docs, status: String(f.status) };
      }
    }
    if (res.destroyed) {
      return true;
    }
    send(res, f.status, body, h);
    return true;
  }

  // Counts one request against identity's primary limit for resource and returns GitHub's
  // x-ratelimit-* headers; `exhausted` when the limit was already used up (the request must
  // then be refused).
  rate_headers(identity, resource, limit = k_rate_limit) {
    const now = Math.floor(Date.now() / 1000);
    const r = this.rate_window(identity, resource, limit, now);
    const exhausted = r.used >= r.limit;
    if (!exhausted) {
      r.used++;
    }
    return {
      exhausted,
      headers: {
        'x-ratelimit-limit': String(r.limit), 'x-ratelimit-remaining': String(Math.max(0, r.limit - r.used)),
        'x-ratelimit-reset': String(r.reset), 'x-ratelimit-used': String(r.used), 'x-ratelimit-resource': resource,
      },
    };
  }

  // Gives back the count of one request (a 304 to a conditional request) and returns the
  // x-ratelimit-* headers as they stand after it.
  refund_rate(identity, resource) {
    const now = Math.floor(Date.now() / 1000);
    const r = this.rate_window(identity, resource, k_rate_limit, now);
    r.used = Math.max(0, r.used - 1);
    return {
      'x-ratelimit-limit': String(r.limit), 'x-ratelimit-remaining': String(Math.max(0, r.limit - r.used)),
      'x-ratelimit-reset': String(r.reset), 'x-ratelimit-used': String(r.used), 'x-ratelimit-resource': resource,
    };
  }

  // Admits one content-creating request of `identity` (an installation) against the secondary
  // limits, sliding windows of a minute and an hour: null when admitted (and counted), else the
  // seconds until a slot frees (GitHub's `retry-after`). Refused requests do not count.
  take_write(identity, now_ms = Date.now()) {
    const list = (this.writes.get(identity) || []).filter((t) => t > now_ms - k_hour_ms);
    this.writes.set(identity, list);
    const in_minute = list.filter((t) => t > now_ms - k_minute_ms);
    // With n requests in a window of limit L, a slot frees when the (n - L + 1)th oldest of
    // them leaves the window: list[n - L] + window.
    const wait = (window, limit, ms) => (limit <= 0 ? ms : window.length < limit ? 0 : window[window.length - limit] + ms - now_ms);
    const wait_ms = Math.max(wait(in_minute, this.write_limits.per_minute, k_minute_ms), wait(list, this.write_limits.per_hour, k_hour_ms));
    if (wait_ms > 0) {
      this.secondary_limited++;
      return Math.max(1, Math.ceil(wait_ms / 1000));
    }
    list.push(now_ms);
    return null;
  }

  rate_window(identity, resource, limit, now) {
    const key = `${identity}|${resource}`;
    let r = this.rate.get(key);
    if (!r || r.reset <= now) {
      r = { used: 0, reset: now + 3600, limit };
      this.rate.set(key, r);
    }
    return r;
  }

  // The secondary limits, what each installation spent of them, and how many requests they refused.
  limits_json(now_ms = Date.now()) {
    const writes = {};
    for (const [identity, list] of this.writes) {
      writes[identity] = { last_minute: list.filter((t) => t > now_ms - k_minute_ms).length, last_hour: list.filter((t) => t > now_ms - k_hour_ms).length };
    }
    return { writes_per_minute: this.write_limits.per_minute, writes_per_hour: this.write_limits.per_hour, writes, secondary_limited: this.secondary_limited };
  }

  // Authenticates a request. `need` is 'jwt' or 'token'. Returns {ok, installation_id?, identity}
  // or {status, body}.
  authenticate(req, need) {
    const a = parse_authorization(req.headers.authorization);
    if (need === 'none') {
      return { ok: true, kind: a.kind, identity: 'anonymous:0' };
    }
    const bad = { status: 401, body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' } };
    if (need === 'jwt') {
      if (a.kind !== 'jwt' || a.scheme !== 'bearer') {
        return { status: 401, body: { message: 'A JSON web token could not be decoded', documentation_url: 'https://docs.github.com/rest', status: '401' }, why: `App endpoint needs "Authorization: Bearer <JWT>", got ${a.kind}` };
      }
      const why = verify_jwt(a.value, this.public_key, [String(this.app.id), this.app.client_id], Math.floor(Date.now() / 1000));
      if (why) {
        return { status: 401, body: { message: why, documentation_url: 'https://docs.github.com/rest', status: '401' }, why };
      }
      return { ok: true, kind: 'jwt', identity: `app:${this.app.id}` };
    }
    if (a.kind !== 'token') {
      return { ...bad, why: a.kind === 'jwt' ? 'an App JWT cannot call an installation endpoint' : `missing installation token (${a.kind})` };
    }
    const inst = this.tokens.check(a.value, Date.now());
    if (inst === null) {
      return { ...bad, why: 'unknown or expired installation token' };
    }
    return { ok: true, kind: `token(${a.scheme})`, installation_id: inst, identity: `installation:${inst}` };
  }

  async rest(req, res, p, url, body_text) {
    const method = req.method;
    const entry = { method, path: p, query: url.search, body: safe_json(body_text), auth: parse_authorization(req.headers.authorization).kind };
    if (url.pathname !== p) {
      entry.prefix = url.pathname.slice(0, url.pathname.length - p.length); // '/api/v3' (GHES)
    }
    const base_headers = { 'x-github-request-id': crypto.randomBytes(8).toString('hex').toUpperCase(), 'x-github-api-version-selected': '2022-11-28' };
    const finish = (status, body, headers = {}, matched = null) => {
      // Conditional requests (docs.github.com "Best practices for using the REST API": "Use
      // conditional requests if appropriate"): every authenticated 200 to a GET carries an ETag
      // of its body; an If-None-Match that names it is answered 304 with no body, and "a 304
      // response does not count against your primary rate limit" (the same page), so the count
      // taken above is given back.
      if (method === 'GET' && status === 200 && body !== undefined && entry.identity) {
        const etag = `W/"${crypto.createHash('sha256').update(JSON.stringify(body)).digest('hex')}"`;
        headers = { ...headers, etag };
        const wanted = String(req.headers['if-none-match'] || '').split(',').map((x) => x.trim());
        if (wanted.includes(etag) || wanted.includes('*')) {
          entry.status = 304;
          this.log_request(entry);
          const refunded = this.refund_rate(entry.identity, 'core');
          send(res, 304, undefined, { ...base_headers, ...headers, ...refunded });
          return;
        }
      }
      entry.status = status;
      this.log_request(entry);
      if (matched && body !== undefined) {
        const schema = this.contract.response_schema(matched.op, status);
        if (schema) {
          if (Array.isArray(body) && !schema.items && (schema.oneOf || schema.anyOf)) {
            const arr = (schema.oneOf || schema.anyOf).find((b) => b.type === 'array');
            body = arr ? complete(arr, body) : body;
          } else {
            body = complete(schema, body);
          }
          if (this.opts.check_responses) {
            const problems = this.contract.check_response(matched, status, body)
              .filter((x) => !k_tolerated_schema_errors.some((t) => t.test(x)));
            if (problems.length) {
              this.violation('response', method, p, [`${matched.template} ${status}`, ...problems]);
            }
          }
        } else if (this.opts.check_responses && status !== 204 && !this.contract.documents_status(matched.op, status)) {
          this.divergences.push({ method, template: matched.template, status });
        }
      }
      // Unauthenticated answers count against the anonymous limit, as on GitHub.
      const rate = headers['x-ratelimit-limit'] ? {} : this.rate_headers('anonymous', 'core', k_anonymous_rate_limit).headers;
      send(res, status, body, { ...base_headers, ...rate, ...headers });
    };
    const matched = this.contract.match(method, p);
    if (matched.error) {
      this.violation('contract', method, p, [matched.error]);
      return finish(404, { message: 'Not Found', documentation_url: k_docs, status: '404', double_violation: matched.error });
    }
    entry.operation = matched.op.operationId;
    // GitHub refuses requests without a User-Agent (docs: "User agent required").
    if (!req.headers['user-agent']) {
      const why = 'the request has no User-Agent header, which GitHub requires';
      this.violation('contract', method, p, [why]);
      return finish(403, { message: why, documentation_url: k_docs, status: '403' });
    }
    const checked = this.contract.check_request(matched, url.searchParams, req.headers, body_text);
    if (checked.problems.length) {
      this.violation('contract', method, p, [`${matched.template} (${matched.op.operationId})`, ...checked.problems]);
      if (checked.parse_error) {
        return finish(400, { message: 'Problems parsing JSON', documentation_url: k_docs, status: '400', double_violation: checked.problems });
      }
      return finish(422, {
        message: 'Invalid request.', documentation_url: k_docs, status: '422',
        errors: checked.problems, double_violation: checked.problems,
      });
    }
    // The manifest conversion takes no credentials at all (docs: "Create a GitHub App from a
    // manifest": the one-hour code is the credential).
    const need = matched.template === '/app-manifests/{code}/conversions' ? 'none' : matched.template === '/app' || matched.template.startsWith('/app/') || matched.template === '/repos/{owner}/{repo}/installation' ? 'jwt' : 'token';
    const auth = this.authenticate(req, need);
    if (!auth.ok) {
      entry.auth_error = auth.why;
      return finish(auth.status, auth.body);
    }
    entry.auth = auth.kind;
    entry.identity = auth.identity;
    const limited = this.rate_headers(auth.identity, 'core');
    const rate = limited.headers;
    if (limited.exhausted) {
      // GitHub's primary rate limit answer (docs: "Exceeding the rate limit").
      return finish(403, { message: `API rate limit exceeded for ${auth.identity.replace(':', ' ID ')}.`, documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api', status: '403' }, rate);
    }
    // Content-creating REST requests (the same page: POST, PATCH, PUT and DELETE) of an
    // installation count against its secondary limits.
    if (auth.installation_id !== undefined && ['POST', 'PATCH', 'PUT', 'DELETE'].includes(method)) {
      const retry_after = this.take_write(auth.identity);
      if (retry_after !== null) {
        entry.secondary_limit = true;
        return finish(403, secondary_limit_body(403), { ...rate, 'retry-after': String(retry_after) });
      }
    }
    const fault = this.take_fault(method, p);
    if (fault) {
      entry.fault = fault.id;
      if (await this.apply_fault(fault, res, { ...base_headers, ...rate })) {
        entry.status = fault.status;
        this.log_request(entry);
        return;
      }
    }
    const key = `${method} ${matched.template}`;
    const handler = this.routes()[key];
    if (!handler) {
      const why = `${key} (${matched.op.operationId}) is documented but the double does not implement it`;
      this.violation('unimplemented', method, p, [why]);
      return finish(501, { message: why, documentation_url: k_docs });
    }
    const ctx = { params: matched.params, query: url.searchParams, body: checked.body, auth, req };
    if (matched.params.owner !== undefined && matched.params.repo !== undefined) {
      ctx.repo = this.repo(matched.params.owner, matched.params.repo);
      if (!ctx.repo || (need === 'token' && ctx.repo.installation_id !== auth.installation_id)) {
        return finish(404, { message: 'Not Found', documentation_url: k_docs, status: '404' }, rate, matched);
      }
    }
    const out = await handler(ctx);
    return finish(out.status, out.body, { ...rate, ...(out.headers || {}) }, matched);
  }

  // ---------------------------------------------------------------- REST operations

  routes() {
    if (this.route_table) {
      return this.route_table;
    }
    const nf = (what = 'Not Found') => ({ status: 404, body: { message: what, documentation_url: k_docs, status: '404' } });
    const unprocessable = (message, errors) => ({ status: 422, body: { message, documentation_url: k_docs, status: '422', ...(errors ? { errors } : {}) } });
    const ok = (body, status = 200, headers) => ({ status, body, headers });
    const pr_of = (ctx) => ctx.repo.pulls.find((x) => x.number === Number(ctx.params.pull_number || ctx.params.issue_number));
    const ref_json = (r, ref, sha, type = 'commit') => ({
      ref, node_id: this.node_id('REF', `${r.id}${ref}`), url: `${this.base}/repos/${r.owner}/${r.name}/git/${ref}`,
      object: { type, sha, url: `${this.base}/repos/${r.owner}/${r.name}/git/${type}s/${sha}` },
    });
    const page = (ctx, list) => {
      const per = Math.min(Number(ctx.query.get('per_page') || 30), 100);
      const n = Number(ctx.query.get('page') || 1);
      return list.slice((n - 1) * per, n * per);
    };
    // GitHub's pagination header (docs: "Using pagination in the REST API"): a `link` with
    // rel="next" while more pages follow, which clients such as ferry's rest_pages follow.
    const next_link = (ctx, list) => {
      const per = Math.min(Number(ctx.query.get('per_page') || 30), 100);
      const n = Number(ctx.query.get('page') || 1);
      if (n * per >= list.length) {
        return {};
      }
      const q = new URLSearchParams(ctx.query);
      q.set('page', String(n + 1));
      return { link: `<${this.base}${new URL(ctx.req.url, 'http://x').pathname}?${q}>; rel="next"` };
    };
    const t = {};

    // A code minted by POST /_double/app-manifests is good once, for one hour (GitHub's docs);
    // unknown, used or expired codes answer 404 as the description lists.
    t['POST /app-manifests/{code}/conversions'] = async (ctx) => {
      const c = this.manifest_codes.get(ctx.params.code);
      if (!c || c.used || Date.now() - c.at > 3600 * 1000) {
        return nf();
      }
      c.used = true;
      const m = c.manifest;
      const id = this.id();
      return ok({
        id, slug: String(m.name).toLowerCase().replace(/[^a-z0-9-]/g, '-'), node_id: this.node_id('A', id),
        owner: this.user(c.org, 'Organization'), name: m.name, description: m.description || null,
        external_url: m.url, html_url: `${this.base}/apps/${String(m.name).toLowerCase()}`, created_at: iso(), updated_at: iso(),
        permissions: m.default_permissions || {}, events: m.default_events || [],
        client_id: `Iv1.${crypto.randomBytes(8).toString('hex')}`, client_secret: crypto.randomBytes(20).toString('hex'),
        webhook_secret: crypto.randomBytes(20).toString('hex'), pem: c.pem,
      }, 201);
    };

    t['GET /app'] = async () => ok({
      id: this.app.id, slug: this.app.slug, client_id: this.app.client_id, node_id: this.node_id('A', this.app.id),
      owner: this.user('ferry-dev', 'Organization'), name: 'ferry', description: 'ferry (double)',
      external_url: 'https://ferry.invalid', html_url: `${this.base}/apps/${this.app.slug}`, created_at: '2024-01-01T00:00:00Z',
      updated_at: '2024-01-01T00:00:00Z', permissions: { ...this.app.permissions },
      events: [...this.app.events], installations_count: this.installations.size,
    });

    t['GET /app/installations/{installation_id}'] = async (ctx) => {
      const inst = this.installations.get(Number(ctx.params.installation_id));
      return inst ? ok(this.installation_json(inst)) : nf();
    };

    t['POST /app/installations/{installation_id}/access_tokens'] = async (ctx) => {
      const inst = this.installations.get(Number(ctx.params.installation_id));
      if (!inst) {
        return nf();
      }
      const issued = this.tokens.issue(inst.id, Date.now());
      return ok({
        token: issued.token, expires_at: issued.expires_at, repository_selection: 'selected',
        permissions: { contents: 'write', pull_requests: 'write', statuses: 'write', metadata: 'read', packages: 'read' },
      }, 201);
    };

    t['GET /repos/{owner}/{repo}/installation'] = async (ctx) => {
      const r = ctx.repo;
      return ok(this.installation_json(this.installations.get(r.installation_id)));
    };

    t['GET /repos/{owner}/{repo}'] = async (ctx) => ok(this.repo_json(ctx.repo));

    // ---- git data
    t['GET /repos/{owner}/{repo}/git/ref/{ref}'] = async (ctx) => {
      const r = ctx.repo;
      const name = `refs/${ctx.params.ref}`;
      const found = (await r.git.refs()).find((x) => x.ref === name);
      return found ? ok(ref_json(r, name, found.sha, found.type)) : nf();
    };

    t['GET /repos/{owner}/{repo}/git/matching-refs/{ref}'] = async (ctx) => {
      const r = ctx.repo;
      const prefix = `refs/${ctx.params.ref}`;
      return ok((await r.git.refs()).filter((x) => x.ref.startsWith(prefix)).map((x) => ref_json(r, x.ref, x.sha, x.type)));
    };

    t['POST /repos/{owner}/{repo}/git/refs'] = async (ctx) => {
      const r = ctx.repo;
      const { ref, sha } = ctx.body;
      if (!/^refs\/[^/]+\/.+/.test(ref)) {
        return unprocessable('Reference name must start with \'refs/\' and have at least two slashes.');
      }
      if (!(await r.git.object_type(sha))) {
        return unprocessable('Object does not exist');
      }
      return r.git.locked(async () => {
        if (!(await r.git.cas(ref, sha, null))) {
          return unprocessable('Reference already exists');
        }
        await this.ref_changed(r, ref, null, sha, this.bot_actor());
        return ok(ref_json(r, ref, sha), 201, { location: `${this.base}/repos/${r.owner}/${r.name}/git/${ref}` });
      });
    };

    t['PATCH /repos/{owner}/{repo}/git/refs/{ref}'] = async (ctx) => {
      const r = ctx.repo;
      const name = `refs/${ctx.params.ref}`;
      const { sha, force } = ctx.body;
      if ((await r.git.object_type(sha)) !== 'commit') {
        return unprocessable('Object does not exist');
      }
      return r.git.locked(async () => {
        const old = await r.git.rev_parse(name);
        if (!old) {
          return unprocessable('Reference does not exist');
        }
        if (!force && !(await r.git.is_ancestor(old, sha))) {
          return unprocessable('Update is not a fast forward');
        }
        if (!(await r.git.cas(name, sha, old))) {
          return unprocessable('Reference cannot be updated');
        }
        await this.ref_changed(r, name, old, sha, this.bot_actor());
        return ok(ref_json(r, name, sha));
      });
    };

    t['DELETE /repos/{owner}/{repo}/git/refs/{ref}'] = async (ctx) => {
      const r = ctx.repo;
      const name = `refs/${ctx.params.ref}`;
      return r.git.locked(async () => {
        const old = await r.git.rev_parse(name);
        if (!old || !(await r.git.delete_ref(name, old))) {
          return unprocessable('Reference does not exist');
        }
        await this.ref_changed(r, name, old, null, this.bot_actor());
        return { status: 204 };
      });
    };

    t['POST /repos/{owner}/{repo}/git/blobs'] = async (ctx) => {
      const r = ctx.repo;
      const enc = ctx.body.encoding || 'utf-8';
      if (!['utf-8', 'utf8', 'base64'].includes(enc)) {
        return unprocessable(`encoding must be utf-8 or base64, not ${enc}`);
      }
      const sha = await r.git.hash_blob(Buffer.from(ctx.body.content, enc === 'base64' ? 'base64' : 'utf8'));
      return ok({ url: `${this.base}/repos/${r.owner}/${r.name}/git/blobs/${sha}`, sha }, 201,
        { location: `${this.base}/repos/${r.owner}/${r.name}/git/blobs/${sha}` });
    };

    t['GET /repos/{owner}/{repo}/git/blobs/{file_sha}'] = async (ctx) => {
      const r = ctx.repo;
      const sha = ctx.params.file_sha;
      if ((await r.git.object_type(sha)) !== 'blob') {
        return nf();
      }
      const data = await r.git.cat(sha);
      return ok({
        sha, node_id: this.node_id('B', sha.slice(0, 12)), size: data.length, url: `${this.base}/repos/${r.owner}/${r.name}/git/blobs/${sha}`,
        content: data.toString('base64').replace(/(.{60})/g, '$1\n'), encoding: 'base64',
      });
    };

    t['POST /repos/{owner}/{repo}/git/trees'] = async (ctx) => {
      const r = ctx.repo;
      const { base_tree, tree } = ctx.body;
      if (base_tree && (await r.git.object_type(base_tree)) !== 'tree') {
        return unprocessable('base_tree is not a valid tree oid');
      }
      const edits = [];
      for (const [i, e] of tree.entries()) {
        // GitHub rejects these with 422 although the description marks nothing in an entry
        // as required.
        if (!e.path || e.path.startsWith('/') || e.path.endsWith('/') || e.path.split('/').some((s) => s === '' || s === '.' || s === '..' || s === '.git')) {
          return unprocessable(`tree.path ${JSON.stringify(e.path)} is invalid`, [{ resource: 'Tree', field: `tree[${i}].path`, code: 'invalid' }]);
        }
        if (!e.mode || !e.type) {
          return unprocessable(`Must supply tree.mode and tree.type for ${e.path}`);
        }
        if (e.content !== undefined && e.sha !== undefined) {
          return unprocessable('Must supply either tree.sha or tree.content. Request will be rejected if both are present.');
        }
        const want = e.mode === '040000' ? 'tree' : (e.mode === '160000' ? 'commit' : 'blob');
        if (e.type !== want) {
          return unprocessable(`tree.type ${e.type} does not match mode ${e.mode} for ${e.path}`);
        }
        if (e.content !== undefined) {
          if (want !== 'blob') {
            return unprocessable(`tree.content needs a blob mode for ${e.path}`);
          }
          edits.push({ path: e.path, mode: e.mode, sha: await r.git.hash_blob(Buffer.from(e.content, 'utf8')) });
        } else if (e.sha === null) {
          if (!base_tree) {
            return unprocessable(`tree.sha null deletes ${e.path} but no base_tree was given`);
          }
          edits.push({ path: e.path, mode: e.mode, sha: null });
        } else if (typeof e.sha === 'string') {
          if (want !== 'commit' && (await r.git.object_type(e.sha)) !== want) {
            return unprocessable(`tree.sha ${e.sha} is not a valid ${want}`, [{ resource: 'Tree', field: `tree[${i}].sha`, code: 'invalid' }]);
          }
          edits.push({ path: e.path, mode: e.mode, sha: e.sha });
        } else {
          return unprocessable(`Must supply tree.sha or tree.content for ${e.path}`);
        }
      }
      const sha = await r.git.build_tree(base_tree, edits);
      return ok(await this.tree_json(r, sha, false), 201, { location: `${this.base}/repos/${r.owner}/${r.name}/git/trees/${sha}` });
    };

    t['GET /repos/{owner}/{repo}/git/trees/{tree_sha}'] = async (ctx) => {
      const r = ctx.repo;
      let sha = ctx.params.tree_sha;
      if ((await r.git.object_type(sha)) !== 'tree') {
        sha = await r.git.rev_parse(`${await this.resolve(r, sha) || 'x'}^{tree}`);
        if (!sha) {
          return nf();
        }
      }
      return ok(await this.tree_json(r, sha, ctx.query.has('recursive')));
    };

    t['POST /repos/{owner}/{repo}/git/commits'] = async (ctx) => {
      const r = ctx.repo;
      const { message, tree, parents = [], author, committer, signature } = ctx.body;
      if ((await r.git.object_type(tree)) !== 'tree') {
        return unprocessable('Tree SHA does not exist');
      }
      for (const p of parents) {
        if ((await r.git.object_type(p)) !== 'commit') {
          return unprocessable('Parent SHA does not exist or is not a commit object');
        }
      }
      const now = iso();
      // Without author and committer GitHub writes the commit as the App's bot and signs it
      // with its web-flow key, so it shows as verified.
      const bot = { ...this.bot_ident(), date: now };
      const web = { name: 'GitHub', email: 'noreply@github.com', date: now };
      const a = author ? { name: author.name, email: author.email, date: author.date || now } : bot;
      const c = committer ? { name: committer.name, email: committer.email, date: committer.date || a.date } : (author ? a : web);
      const sha = await r.git.commit_tree(tree, parents, message, a, c, !author && !committer && !signature);
      if (!author && !committer && !signature) {
        this.mark_verified(sha);
      }
      r.created_commits.push({ sha, via: 'git/create-commit' });
      return ok(this.git_commit_json(r, await r.git.commit(sha)), 201, { location: `${this.base}/repos/${r.owner}/${r.name}/git/commits/${sha}` });
    };

    t['GET /repos/{owner}/{repo}/git/commits/{commit_sha}'] = async (ctx) => {
      const c = await ctx.repo.git.commit(ctx.params.commit_sha);
      return c ? ok(this.git_commit_json(ctx.repo, c)) : nf();
    };

    t['GET /repos/{owner}/{repo}/commits/{ref}'] = async (ctx) => {
      const sha = await this.resolve(ctx.repo, ctx.params.ref);
      if (!sha) {
        return unprocessable(`No commit found for SHA: ${ctx.params.ref}`);
      }
      return ok(this.commit_json(ctx.repo, await ctx.repo.git.commit(sha)));
    };

    t['GET /repos/{owner}/{repo}/commits'] = async (ctx) => {
      const r = ctx.repo;
      const from = ctx.query.get('sha') || r.default_branch;
      const sha = await this.resolve(r, from);
      if (!sha) {
        return nf(`No commit found for SHA: ${from}`);
      }
      // Newest first, as GitHub lists them; `since`/`until` compare the commit date, `path`
      // keeps the commits touching it.
      const args = ['rev-list', sha];
      if (ctx.query.get('path')) {
        args.push('--', ctx.query.get('path'));
      }
      // Dates are compared here: git's approxidate reads far-future dates loosely.
      const since = ctx.query.get('since') ? Date.parse(ctx.query.get('since')) : null;
      const until = ctx.query.get('until') ? Date.parse(ctx.query.get('until')) : null;
      const all = [];
      for (const s of (await must(r.dir, args)).split('\n').filter(Boolean)) {
        const c = await r.git.commit(s);
        const at = Date.parse(c.committer.date);
        if ((since === null || at >= since) && (until === null || at <= until)) {
          all.push(c);
        }
      }
      return ok(page(ctx, all).map((c) => this.commit_json(r, c)));
    };

    t['GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls'] = async (ctx) => {
      const r = ctx.repo;
      const sha = await this.resolve(r, ctx.params.commit_sha);
      if (!sha) {
        return unprocessable(`No commit found for SHA: ${ctx.params.commit_sha}`);
      }
      for (const x of r.pulls) {
        await this.refresh_pr(r, x);
      }
      // The PRs that merged this commit or whose head it is, newest first.
      const list = r.pulls.filter((x) => x.merge_commit_sha === sha || x.head_sha === sha).sort((a, b) => b.number - a.number);
      return ok(page(ctx, list).map((x) => this.pr_json(r, x)));
    };

    const compare = async (ctx, base_ref, head_ref) => {
      const r = ctx.repo;
      const base = await this.resolve(r, base_ref);
      const head = await this.resolve(r, head_ref);
      if (!base || !head) {
        return nf(`Not Found: ${!base ? base_ref : head_ref} is not a commit in ${r.owner}/${r.name}`);
      }
      const mb = await r.git.merge_base(base, head);
      const ahead = await r.git.count(`${base}..${head}`);
      const behind = await r.git.count(`${head}..${base}`);
      const status = ahead === 0 && behind === 0 ? 'identical' : (behind === 0 ? 'ahead' : (ahead === 0 ? 'behind' : 'diverged'));
      const commits = [];
      for (const s of await r.git.rev_list(`${base}..${head}`, 250)) {
        commits.push(this.commit_json(r, await r.git.commit(s)));
      }
      const full = `${r.owner}/${r.name}`;
      return ok({
        url: `${this.base}/repos/${full}/compare/${base_ref}...${head_ref}`, html_url: `${this.base}/${full}/compare/${base_ref}...${head_ref}`,
        permalink_url: `${this.base}/${full}/compare/${full.replace('/', ':')}:${base.slice(0, 7)}...${full.replace('/', ':')}:${head.slice(0, 7)}`,
        diff_url: `${this.base}/${full}/compare/${base_ref}...${head_ref}.diff`, patch_url: `${this.base}/${full}/compare/${base_ref}...${head_ref}.patch`,
        base_commit: this.commit_json(r, await r.git.commit(base)),
        merge_base_commit: mb ? this.commit_json(r, await r.git.commit(mb)) : this.commit_json(r, await r.git.commit(base)),
        status, ahead_by: ahead, behind_by: behind, total_commits: ahead, commits, files: [],
      });
    };
    t['GET /repos/{owner}/{repo}/compare/{basehead}'] = async (ctx) => {
      const m = /^(.+?)\.\.\.(.+)$/.exec(ctx.params.basehead);
      if (!m) {
        return nf(`Not Found: basehead ${ctx.params.basehead} is not BASE...HEAD`);
      }
      return compare(ctx, m[1], m[2]);
    };
    t['GET /repos/{owner}/{repo}/compare/{base}...{head}'] = async (ctx) => compare(ctx, ctx.params.base, ctx.params.head);

    t['GET /repos/{owner}/{repo}/releases/tags/{tag}'] = async (ctx) => {
      const r = ctx.repo;
      const rel = (r.releases || []).find((x) => x.tag_name === ctx.params.tag);
      if (!rel) {
        return nf();
      }
      const api = `${this.base}/repos/${r.owner}/${r.name}`;
      const html = `${this.base}/${r.owner}/${r.name}/releases/tag/${encodeURIComponent(rel.tag_name)}`;
      const who = { login: 'octocat', id: 1, node_id: 'MDQ6VXNlcjE=', avatar_url: `${this.base}/avatars/octocat`, gravatar_id: '', url: `${this.base}/users/octocat`, html_url: `${this.base}/octocat`, followers_url: `${this.base}/users/octocat/followers`, following_url: `${this.base}/users/octocat/following{/other_user}`, gists_url: `${this.base}/users/octocat/gists{/gist_id}`, starred_url: `${this.base}/users/octocat/starred{/owner}{/repo}`, subscriptions_url: `${this.base}/users/octocat/subscriptions`, organizations_url: `${this.base}/users/octocat/orgs`, repos_url: `${this.base}/users/octocat/repos`, events_url: `${this.base}/users/octocat/events{/privacy}`, received_events_url: `${this.base}/users/octocat/received_events`, type: 'User', site_admin: false };
      return ok({
        url: `${api}/releases/${rel.id}`, html_url: html, assets_url: `${api}/releases/${rel.id}/assets`,
        upload_url: `${this.base}/uploads/repos/${r.owner}/${r.name}/releases/${rel.id}/assets{?name,label}`,
        tarball_url: `${api}/tarball/${rel.tag_name}`, zipball_url: `${api}/zipball/${rel.tag_name}`,
        id: rel.id, node_id: `RE_${rel.id}`, tag_name: rel.tag_name, target_commitish: r.default_branch,
        name: rel.name, body: rel.body, draft: false, prerelease: false, created_at: rel.created_at,
        published_at: rel.published_at, author: who, assets: [],
      });
    };

    t['GET /repos/{owner}/{repo}/contents/{path}'] = async (ctx) => {
      const r = ctx.repo;
      const ref = ctx.query.get('ref') || r.default_branch;
      const sha = await this.resolve(r, ref);
      if (!sha) {
        return nf(`No commit found for the ref ${ref}`);
      }
      const p = ctx.params.path.replace(/^\/+|\/+$/g, '');
      const e = p === '' ? { type: 'tree', sha: await r.git.rev_parse(`${sha}^{tree}`), path: '' } : await r.git.entry(sha, p);
      if (!e) {
        return nf();
      }
      const api = `${this.base}/repos/${r.owner}/${r.name}`;
      const item = (x, type) => ({
        type, size: x.size || 0, name: path.posix.basename(x.path), path: x.path, sha: x.sha,
        url: `${api}/contents/${x.path}?ref=${encodeURIComponent(ref)}`, git_url: `${api}/git/${type === 'dir' ? 'trees' : 'blobs'}/${x.sha}`,
        html_url: `${this.base}/${r.owner}/${r.name}/blob/${ref}/${x.path}`, download_url: type === 'file' ? `${this.base}/raw/${r.owner}/${r.name}/${ref}/${x.path}` : null,
        _links: { self: `${api}/contents/${x.path}?ref=${encodeURIComponent(ref)}`, git: `${api}/git/blobs/${x.sha}`, html: `${this.base}/${r.owner}/${r.name}/blob/${ref}/${x.path}` },
      });
      if (e.type === 'tree') {
        const list = await r.git.ls_tree(e.sha, false);
        return ok(list.map((x) => item({ ...x, path: p ? `${p}/${x.path}` : x.path }, x.type === 'tree' ? 'dir' : (x.type === 'commit' ? 'submodule' : (x.mode === '120000' ? 'symlink' : 'file')))));
      }
      if (e.type !== 'blob' || e.mode === '120000') {
        return nf('the double serves files and directories only');
      }
      const data = await r.git.cat(e.sha);
      return ok({ ...item(e, 'file'), encoding: 'base64', content: data.toString('base64').replace(/(.{60})/g, '$1\n') });
    };

    // ---- pulls
    t['GET /repos/{owner}/{repo}/pulls'] = async (ctx) => {
      const r = ctx.repo;
      const state = ctx.query.get('state') || 'open';
      const head = ctx.query.get('head');
      const base = ctx.query.get('base');
      let list = r.pulls.filter((x) => state === 'all' || x.state === state);
      if (head) {
        // The description asks for head=user:ref-name. GitHub silently ignores a head without
        // the owner and lists every PR (github/docs#16647, PyGithub#1566): a classic way to
        // update someone else's PR, so the double does the same and records a violation.
        const m = /^([^:]+):(.+)$/.exec(head);
        if (m) {
          list = list.filter((x) => m[1].toLowerCase() === r.owner.toLowerCase() && x.head_ref === m[2]);
        } else {
          this.violation('contract', 'GET', ctx.req.url, [`query parameter head=${JSON.stringify(head)} is not in the documented user:ref-name form; GitHub ignores it`]);
        }
      }
      if (base) {
        list = list.filter((x) => x.base_ref === base);
      }
      list = [...list].sort((a, b) => b.number - a.number);
      for (const x of list) {
        await this.refresh_pr(r, x);
      }
      return ok(page(ctx, list).map((x) => this.pr_json(r, x)));
    };

    t['POST /repos/{owner}/{repo}/pulls'] = async (ctx) => {
      const r = ctx.repo;
      const { title, head, base, body = null, draft = false } = ctx.body;
      if (title === undefined && ctx.body.issue === undefined) {
        return unprocessable('Validation Failed', [{ resource: 'PullRequest', field: 'title', code: 'missing_field' }]);
      }
      const head_ref = head.includes(':') ? head.slice(head.indexOf(':') + 1) : head;
      if (head.includes(':') && head.slice(0, head.indexOf(':')).toLowerCase() !== r.owner.toLowerCase()) {
        return unprocessable('Validation Failed', [{ resource: 'PullRequest', field: 'head', code: 'invalid' }]);
      }
      return r.git.locked(async () => {
        const head_sha = await r.git.rev_parse(`refs/heads/${head_ref}`);
        const base_sha = await r.git.rev_parse(`refs/heads/${base}`);
        if (!head_sha) {
          return unprocessable('Validation Failed', [{ resource: 'PullRequest', field: 'head', code: 'invalid' }]);
        }
        if (!base_sha) {
          return unprocessable('Validation Failed', [{ resource: 'PullRequest', field: 'base', code: 'invalid' }]);
        }
        if (r.pulls.some((x) => x.state === 'open' && x.head_ref === head_ref && x.base_ref === base)) {
          return unprocessable('Validation Failed', [{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${r.owner}:${head_ref}.` }]);
        }
        if ((await r.git.count(`${base_sha}..${head_sha}`)) === 0) {
          return unprocessable('Validation Failed', [{ resource: 'PullRequest', code: 'custom', message: `No commits between ${base} and ${head_ref}` }]);
        }
        const id = this.id();
        const now = iso();
        const pr = {
          number: r.next_number++, id, node_id: this.node_id('PR_', id), title: title || '', body, state: 'open', draft,
          head_ref, base_ref: base, head_sha, base_sha, merged: false, merged_at: null, closed_at: null, merge_commit_sha: null,
          labels: [], reviewers: [], teams: [], auto_merge: null, mergeable: true, created_at: now, updated_at: now,
          user: ctx.auth.kind.startsWith('token') ? `${this.app.slug}[bot]` : 'octocat',
        };
        r.pulls.push(pr);
        await this.refresh_pr(r, pr);
        this.pr_webhook(r, pr, 'opened', this.bot_actor());
        return ok(this.pr_json(r, pr), 201, { location: `${this.base}/repos/${r.owner}/${r.name}/pulls/${pr.number}` });
      });
    };

    t['GET /repos/{owner}/{repo}/pulls/{pull_number}'] = async (ctx) => {
      const pr = pr_of(ctx);
      return pr ? ok(this.pr_json(ctx.repo, await this.refresh_pr(ctx.repo, pr))) : nf();
    };

    t['PATCH /repos/{owner}/{repo}/pulls/{pull_number}'] = async (ctx) => {
      const r = ctx.repo;
      const pr = pr_of(ctx);
      if (!pr) {
        return nf();
      }
      const b = ctx.body || {};
      if (b.base !== undefined && !(await r.git.rev_parse(`refs/heads/${b.base}`))) {
        return unprocessable('Validation Failed', [{ resource: 'PullRequest', field: 'base', code: 'invalid' }]);
      }
      if (b.state === 'open' && pr.state === 'closed') {
        if (pr.merged) {
          return unprocessable('Validation Failed', [{ resource: 'PullRequest', code: 'custom', message: 'state cannot be changed. The pull request has been merged.' }]);
        }
        if (!(await r.git.rev_parse(`refs/heads/${pr.head_ref}`))) {
          return unprocessable('Validation Failed', [{ resource: 'PullRequest', code: 'custom', message: 'state cannot be changed. The head branch was deleted.' }]);
        }
      }
      for (const k of ['title', 'body']) {
        if (b[k] !== undefined) {
          pr[k] = b[k];
        }
      }
      if (b.base !== undefined) {
        pr.base_ref = b.base;
      }
      const changed_state = b.state !== undefined && b.state !== pr.state;
      if (changed_state) {
        pr.state = b.state;
        pr.closed_at = b.state === 'closed' ? iso() : null;
      }
      pr.updated_at = iso();
      await this.refresh_pr(r, pr);
      if (changed_state) {
        this.pr_webhook(r, pr, b.state === 'closed' ? 'closed' : 'reopened', this.bot_actor());
      }
      return ok(this.pr_json(r, pr));
    };

    t['PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge'] = async (ctx) => {
      const r = ctx.repo;
      const pr = pr_of(ctx);
      if (!pr) {
        return nf();
      }
      const b = ctx.body || {};
      return r.git.locked(async () => {
        await this.refresh_pr(r, pr);
        if (pr.state !== 'open') {
          return { status: 405, body: { message: 'Pull Request is not mergeable', documentation_url: k_docs, status: '405' } };
        }
        if (b.sha && b.sha !== pr.head_sha) {
          return { status: 409, body: { message: 'Head branch was modified. Review and try the merge again.', documentation_url: k_docs, status: '409' } };
        }
        const result = await this.merge(r, pr, b.merge_method || 'merge', b.commit_title, b.commit_message, this.bot_actor());
        if (!result) {
          return { status: 405, body: { message: 'Pull Request is not mergeable', documentation_url: k_docs, status: '405' } };
        }
        return ok({ sha: result, merged: true, message: 'Pull Request successfully merged' });
      });
    };

    t['GET /repos/{owner}/{repo}/pulls/{pull_number}/files'] = async (ctx) => {
      const r = ctx.repo;
      const pr = pr_of(ctx);
      if (!pr) {
        return nf();
      }
      await this.refresh_pr(r, pr);
      // The PR's diff is against the merge base of base and head (a three-dot diff).
      const mb = (await r.git.merge_base(pr.base_sha, pr.head_sha)) || pr.base_sha;
      const files = await this.diff_files(r, mb, pr.head_sha);
      return ok(page(ctx, files), 200, next_link(ctx, files));
    };

    t['POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers'] = async (ctx) => {
      const r = ctx.repo;
      const pr = pr_of(ctx);
      if (!pr) {
        return nf();
      }
      const b = ctx.body || {};
      if (!b.reviewers && !b.team_reviewers) {
        return unprocessable('Validation Failed', [{ resource: 'PullRequest', code: 'custom', message: 'reviewers or team_reviewers is required' }]);
      }
      for (const u of b.reviewers || []) {
        if (u === pr.user) {
          return unprocessable('Review cannot be requested from pull request author.');
        }
        if (!pr.reviewers.includes(u)) {
          pr.reviewers.push(u);
        }
      }
      for (const tm of b.team_reviewers || []) {
        if (!pr.teams.includes(tm)) {
          pr.teams.push(tm);
        }
      }
      return ok(this.pr_json(r, await this.refresh_pr(r, pr)), 201);
    };

    // ---- issues (labels, comments) on pull requests
    t['POST /repos/{owner}/{repo}/issues/{issue_number}/labels'] = async (ctx) => {
      const r = ctx.repo;
      const pr = pr_of(ctx);
      if (!pr) {
        return nf();
      }
      const b = ctx.body;
      let names = [];
      if (Array.isArray(b)) {
        names = b.map((x) => (typeof x === 'string' ? x : x.name));
      } else if (typeof b === 'string') {
        names = [b];
      } else if (b && Array.isArray(b.labels)) {
        names = b.labels.map((x) => (typeof x === 'string' ? x : x.name));
      }
      for (const n of names) {
        r.labels.add(n);
        if (!pr.labels.includes(n)) {
          pr.labels.push(n);
        }
      }
      return ok(pr.labels.map((l) => this.label_json(r, l)));
    };

    t['GET /repos/{owner}/{repo}/issues/{issue_number}/labels'] = async (ctx) => {
      const pr = pr_of(ctx);
      return pr ? ok(pr.labels.map((l) => this.label_json(ctx.repo, l))) : nf();
    };

    t['POST /repos/{owner}/{repo}/issues/{issue_number}/comments'] = async (ctx) => {
      const r = ctx.repo;
      const pr = pr_of(ctx);
      if (!pr) {
        return nf();
      }
      // Comment bodies are limited to 65536 characters (GitHub answers 422 beyond).
      if (ctx.body.body.length > 65536) {
        return unprocessable('Validation Failed', [{ resource: 'IssueComment', code: 'custom', field: 'body', message: 'body is too long (maximum is 65536 characters)' }]);
      }
      const c = { id: this.id(), number: pr.number, body: ctx.body.body, user: `${this.app.slug}[bot]`, created_at: iso() };
      if (!r.comments.has(pr.number)) {
        r.comments.set(pr.number, []);
      }
      r.comments.get(pr.number).push(c);
      return ok(this.comment_json(r, c), 201, { location: `${this.base}/repos/${r.owner}/${r.name}/issues/comments/${c.id}` });
    };

    t['GET /repos/{owner}/{repo}/issues/{issue_number}/comments'] = async (ctx) => {
      const pr = pr_of(ctx);
      const list = pr ? ctx.repo.comments.get(pr.number) || [] : [];
      return pr ? ok(page(ctx, list).map((c) => this.comment_json(ctx.repo, c)), 200, next_link(ctx, list)) : nf();
    };

    // ---- statuses
    t['POST /repos/{owner}/{repo}/statuses/{sha}'] = async (ctx) => {
      const r = ctx.repo;
      const sha = ctx.params.sha;
      if (!/^[0-9a-f]{40}$/.test(sha) || (await r.git.object_type(sha)) !== 'commit') {
        return unprocessable(`No commit found for SHA: ${sha}`);
      }
      const b = ctx.body;
      // GitHub: "description is too long (maximum is 140 characters)".
      if (b.description && [...b.description].length > 140) {
        return unprocessable('Validation Failed', [{ resource: 'Status', code: 'custom', field: 'description', message: 'description is too long (maximum is 140 characters)' }]);
      }
      if (b.target_url && !/^https?:\/\//.test(b.target_url)) {
        return unprocessable('Validation Failed', [{ resource: 'Status', code: 'custom', field: 'target_url', message: 'target_url must use http(s) scheme' }]);
      }
      const s = { id: this.id(), sha, state: b.state, context: b.context || 'default', description: b.description ?? null, target_url: b.target_url ?? null, created_at: iso() };
      if (!r.statuses.has(sha)) {
        r.statuses.set(sha, []);
      }
      r.statuses.get(sha).push(s);
      await this.status_webhook(r, s, this.bot_actor());
      return ok(this.status_json(r, s), 201, { location: `${this.base}/repos/${r.owner}/${r.name}/statuses/${sha}` });
    };

    // The latest check run per name (GitHub's default filter=latest), newest first.
    t['GET /repos/{owner}/{repo}/commits/{ref}/check-runs'] = async (ctx) => {
      const r = ctx.repo;
      const sha = await this.resolve(r, ctx.params.ref);
      if (!sha) {
        return unprocessable(`No commit found for SHA: ${ctx.params.ref}`);
      }
      const latest = new Map();
      for (const c of r.check_runs.get(sha) || []) {
        latest.set(c.name, c);
      }
      const runs = [...latest.values()].reverse();
      return ok({ total_count: runs.length, check_runs: page(ctx, runs).map((c) => this.check_run_json(r, c)) }, 200, next_link(ctx, runs));
    };

    t['GET /repos/{owner}/{repo}/commits/{ref}/statuses'] = async (ctx) => {
      const sha = await this.resolve(ctx.repo, ctx.params.ref);
      const list = sha ? [...(ctx.repo.statuses.get(sha) || [])].reverse() : [];
      return ok(page(ctx, list).map((s) => this.status_json(ctx.repo, s)));
    };

    t['GET /repos/{owner}/{repo}/commits/{ref}/status'] = async (ctx) => {
      const r = ctx.repo;
      const sha = await this.resolve(r, ctx.params.ref);
      if (!sha) {
        return nf(`No commit found for ref ${ctx.params.ref}`);
      }
      // The latest status per context, newest first; combined state as GitHub documents it:
      // failure if any is error or failure, pending if there are none or any is pending.
      const latest = new Map();
      for (const s of ctx.repo.statuses.get(sha) || []) {
        latest.set(s.context.toLowerCase(), s);
      }
      const statuses = [...latest.values()].reverse();
      let state = 'success';
      if (statuses.length === 0 || statuses.some((s) => s.state === 'pending')) {
        state = 'pending';
      }
      if (statuses.some((s) => s.state === 'error' || s.state === 'failure')) {
        state = 'failure';
      }
      return ok({
        state, sha, total_count: statuses.length, statuses: statuses.map((s) => this.status_json(r, s)),
        repository: this.repo_json(r), commit_url: `${this.base}/repos/${r.owner}/${r.name}/commits/${sha}`,
        url: `${this.base}/repos/${r.owner}/${r.name}/commits/${sha}/status`,
      });
    };

    // ---- the App's webhook configuration and deliveries
    t['GET /app/hook/config'] = async () => ok({ ...this.app.hook_config });

    t['GET /app/hook/deliveries'] = async (ctx) => {
      const per = Math.min(Number(ctx.query.get('per_page') || 30), 100);
      const status = ctx.query.get('status');
      let list = [...this.deliveries].sort((a, b) => b.id - a.id);
      if (status) {
        // The description: success is a status_code in 200-399, failure in 400-599.
        list = list.filter((d) => (status === 'success' ? d.status_code >= 200 && d.status_code <= 399 : d.status_code >= 400 && d.status_code <= 599));
      }
      const cursor = ctx.query.get('cursor');
      let start = 0;
      if (cursor) {
        const m = /^v1_(\d+)$/.exec(cursor);
        if (!m) {
          return { status: 400, body: { message: 'Invalid cursor', documentation_url: k_docs, status: '400' } };
        }
        start = list.findIndex((d) => d.id < Number(m[1]));
        if (start < 0) {
          start = list.length;
        }
      }
      const slice = list.slice(start, start + per);
      const headers = {};
      if (start + per < list.length) {
        const last = slice[slice.length - 1].id;
        headers.link = `<${this.base}/app/hook/deliveries?per_page=${per}&cursor=v1_${last}>; rel="next"`;
      }
      return ok(slice.map((d) => ({ ...d })), 200, headers);
    };

    t['POST /app/hook/deliveries/{delivery_id}/attempts'] = async (ctx) => {
      const d = this.deliveries.find((x) => x.id === Number(ctx.params.delivery_id));
      if (!d) {
        return nf();
      }
      this.redeliveries.push({ delivery_id: d.id, guid: d.guid, at: iso() });
      // The double does not deliver: it records the request and lists the redelivery as a
      // successful attempt so a sweep converges (tests send the webhook themselves).
      this.deliveries.push({ ...d, id: this.id() * 1000, redelivery: true, status: 'OK', status_code: 200, delivered_at: iso() });
      return ok({}, 202);
    };

    this.route_table = t;
    return t;
  }

  // Files changed from `a` to `b`: [{sha, filename, status, additions, deletions, changes,
  // blob_url, raw_url, contents_url}] in the pulls/list-files shape.
  async diff_files(r, a, b) {
    const status = (await must(r.dir, ['diff', '-z', '--no-renames', '--name-status', a, b])).split('\0').filter(Boolean);
    const nums = new Map();
    for (const line of (await must(r.dir, ['diff', '--no-renames', '--numstat', a, b])).split('\n').filter(Boolean)) {
      const [add, del, ...rest] = line.split('\t');
      nums.set(rest.join('\t'), { additions: add === '-' ? 0 : Number(add), deletions: del === '-' ? 0 : Number(del) });
    }
    const out = [];
    const html = `${this.base}/${r.owner}/${r.name}`;
    for (let i = 0; i + 1 < status.length; i += 2) {
      const kind = status[i][0];
      const filename = status[i + 1];
      const e = await r.git.entry(kind === 'D' ? a : b, filename);
      const n = nums.get(filename) || { additions: 0, deletions: 0 };
      out.push({
        sha: e ? e.sha : null, filename, status: kind === 'A' ? 'added' : (kind === 'D' ? 'removed' : 'modified'),
        additions: n.additions, deletions: n.deletions, changes: n.additions + n.deletions,
        blob_url: `${html}/blob/${b}/${filename}`, raw_url: `${html}/raw/${b}/${filename}`,
        contents_url: `${this.base}/repos/${r.owner}/${r.name}/contents/${filename}?ref=${b}`,
      });
    }
    return out;
  }

  async tree_json(r, sha, recursive) {
    const api = `${this.base}/repos/${r.owner}/${r.name}`;
    const entries = await r.git.ls_tree(sha, recursive);
    return {
      sha, url: `${api}/git/trees/${sha}`, truncated: false,
      tree: entries.map((e) => ({
        path: e.path, mode: e.mode, type: e.type, sha: e.sha, ...(e.size !== undefined ? { size: e.size } : {}),
        url: `${api}/git/${e.type}s/${e.sha}`,
      })),
    };
  }

  // Merges `pr` into its base with `method`; returns the new base sha or null (conflict, not
  // mergeable, or the base moved). Called under the repo lock.
  async merge(r, pr, method, title, message, actor) {
    if (!pr.mergeable) {
      return null;
    }
    const g = r.git;
    const base = await g.rev_parse(`refs/heads/${pr.base_ref}`);
    const head = pr.head_sha;
    const now = iso();
    const web = { name: 'GitHub', email: 'noreply@github.com', date: now };
    const bot = { ...this.bot_ident(), date: now };
    let result;
    if (method === 'rebase') {
      let cur = base;
      for (const c of await g.rev_list(`${base}..${head}`)) {
        const info = await g.commit(c);
        const tree = await g.pick_tree(info.parents[0], cur, c);
        if (!tree) {
          return null;
        }
        cur = await g.commit_tree(tree, [cur], info.message, info.author, web, true);
        this.mark_verified(cur);
      }
      result = cur;
    } else {
      const tree = await g.merge_trees(base, head);
      if (!tree) {
        return null;
      }
      if (method === 'squash') {
        const msg = `${title || `${pr.title} (#${pr.number})`}\n\n${message !== undefined ? message : ''}`.trimEnd() + '\n';
        result = await g.commit_tree(tree, [base], msg, bot, web, true);
      } else {
        const msg = `${title || `Merge pull request #${pr.number} from ${r.owner}/${pr.head_ref}`}\n\n${message !== undefined ? message : pr.title}`.trimEnd() + '\n';
        result = await g.commit_tree(tree, [base, head], msg, bot, web, true);
      }
      this.mark_verified(result);
    }
    if (!(await g.cas(`refs/heads/${pr.base_ref}`, result, base))) {
      return null;
    }
    pr.state = 'closed';
    pr.merged = true;
    pr.merged_at = now;
    pr.closed_at = now;
    pr.merge_commit_sha = result;
    pr.merge_method = method;
    pr.merged_by = actor.login;
    r.created_commits.push({ sha: result, via: `pulls/merge (${method})` });
    pr.updated_at = now;
    // GitHub sends both; they may arrive in either order (SPEC: "push and pull_request closed
    // may arrive in either order").
    await this.ref_changed(r, `refs/heads/${pr.base_ref}`, base, result, actor);
    this.pr_webhook(r, pr, 'closed', actor);
    return result;
  }

  // ---------------------------------------------------------------- GraphQL

  async graphql_http(req, res, url, body_text) {
    const entry = { method: req.method, path: url.pathname, body: safe_json(body_text), auth: parse_authorization(req.headers.authorization).kind };
    const done = (status, body, headers = {}) => {
      entry.status = status;
      this.log_request(entry);
      send(res, status, body, headers);
    };
    const gql_error = (message, type, field, headers) => done(200, { data: null, errors: [{ type, path: field ? [field] : undefined, locations: [{ line: 2, column: 3 }], message }] }, headers);
    if (req.method !== 'POST') {
      this.violation('graphql', req.method, url.pathname, ['GraphQL requests must be POST']);
      return done(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/graphql' });
    }
    const auth = this.authenticate(req, 'token');
    if (!auth.ok) {
      entry.auth_error = auth.why;
      return done(401, { message: 'This endpoint requires you to be authenticated.', documentation_url: 'https://docs.github.com/graphql/guides/forming-calls-with-graphql#authenticating-with-graphql' });
    }
    entry.auth = auth.kind;
    const limited = this.rate_headers(auth.identity, 'graphql');
    const rate = limited.headers;
    if (limited.exhausted) {
      return done(200, { errors: [{ type: 'RATE_LIMITED', message: `API rate limit exceeded for ${auth.identity.replace(':', ' ID ')}.` }] }, rate);
    }
    let body;
    try {
      body = JSON.parse(body_text);
    } catch (e) {
      body = undefined;
    }
    // A fault may name a root field (`operation`), so a test can fail one step of several.
    const prepared = body === undefined ? undefined : graphql.prepare(body);
    // A mutation creates content (the same page counts "GraphQL requests with mutations" apart
    // from queries) and counts against the installation's secondary limits; queries do not.
    if (prepared && prepared.operation === 'mutation') {
      const retry_after = this.take_write(auth.identity);
      if (retry_after !== null) {
        entry.secondary_limit = true;
        entry.operation = prepared.fields ? prepared.fields.join(',') : undefined;
        entry.graphql = prepared.operation;
        return done(403, secondary_limit_body(403), { ...rate, 'retry-after': String(retry_after) });
      }
    }
    const fault = this.take_fault('POST', url.pathname, prepared ? prepared.fields : undefined);
    if (fault) {
      entry.fault = fault.id;
      if (await this.apply_fault(fault, res, rate)) {
        entry.status = fault.status;
        this.log_request(entry);
        return;
      }
    }
    if (body === undefined) {
      this.violation('graphql', 'POST', url.pathname, ['body is not JSON']);
      return done(400, { message: 'Problems parsing JSON', documentation_url: 'https://docs.github.com/graphql' }, rate);
    }
    entry.operation = prepared.fields ? prepared.fields.join(',') : undefined;
    entry.graphql = prepared.operation; // query | mutation (undefined when refused)
    if (prepared.problems) {
      this.violation('graphql', 'POST', url.pathname, prepared.problems);
      return done(200, { errors: prepared.problems.map((m) => ({ message: m, locations: [{ line: 1, column: 1 }] })) }, rate);
    }
    const ran = await graphql.run(prepared, body.variables, this.graphql_root(auth));
    if (ran.violations) {
      this.violation('graphql', 'POST', url.pathname, ran.violations);
    }
    for (const e of ran.answer.errors || []) {
      if (e.double_error) {
        this.violation('double-error', 'POST', url.pathname, [`${(e.path || []).join('.')}: ${e.message}`]);
        delete e.double_error;
      }
    }
    return done(200, ran.answer, rate);
  }

  // The resolvers of the root fields graphql.js lets through; objects are shaped as GitHub's
  // schema types, with functions for fields that take arguments.
  graphql_root(auth) {
    const unwrap = (out) => {
      if (out.error) {
        throw graphql.gh_error(out.error, out.type);
      }
      return out.data;
    };
    return {
      repository: ({ owner, name }) => {
        const r = this.repo(owner, name);
        if (!r || r.installation_id !== auth.installation_id) {
          throw graphql.gh_error(`Could not resolve to a Repository with the name '${owner}/${name}'.`, 'NOT_FOUND');
        }
        return this.gql_repository(r);
      },
      user: ({ login }) => {
        const u = this.user(login);
        this.gql_ids.set(u.node_id, { kind: 'User', login });
        return { __typename: 'User', id: u.node_id, login };
      },
      organization: ({ login }) => ({
        id: this.node_id('O', login), login,
        team: ({ slug }) => {
          const id = this.node_id('T', `${login}/${slug}`);
          this.gql_ids.set(id, { kind: 'Team', slug });
          return { __typename: 'Team', id, slug, name: slug };
        },
      }),
      createCommitOnBranch: async ({ input }) => unwrap(await this.create_commit_on_branch(auth, input)),
      enablePullRequestAutoMerge: async ({ input }) => unwrap(await this.enable_auto_merge(auth, input)),
      addLabelsToLabelable: async ({ input }) => unwrap(await this.add_labels_gql(auth, input)),
      requestReviews: async ({ input }) => unwrap(await this.request_reviews_gql(auth, input)),
    };
  }

  gql_repository(r) {
    const commit = (oid) => ({ __typename: 'Commit', id: this.node_id('C', oid.slice(0, 12)), oid });
    return {
      __typename: 'Repository', id: r.node_id, name: r.name, nameWithOwner: `${r.owner}/${r.name}`,
      defaultBranchRef: async () => {
        const oid = await r.git.rev_parse(`refs/heads/${r.default_branch}`);
        return oid ? { name: r.default_branch, prefix: 'refs/heads/', target: commit(oid) } : null;
      },
      ref: async ({ qualifiedName }) => {
        const full = qualifiedName.startsWith('refs/') ? qualifiedName : `refs/heads/${qualifiedName}`;
        const oid = await r.git.rev_parse(full);
        return oid ? { name: full.replace(/^refs\/heads\//, ''), prefix: 'refs/heads/', target: commit(oid) } : null;
      },
      label: ({ name }) => (r.labels.has(name) ? this.gql_label(r, name) : null),
      pullRequests: async (args) => {
        const n = graphql.page_bound(args);
        let list = r.pulls.filter((x) => !args.headRefName || x.head_ref === args.headRefName);
        list = list.filter((x) => !args.baseRefName || x.base_ref === args.baseRefName);
        if (args.states) {
          list = list.filter((x) => args.states.includes(x.merged ? 'MERGED' : x.state.toUpperCase()));
        }
        // CREATED_AT (the default order) follows the number; ASC unless asked otherwise.
        list = [...list].sort((a, b) => a.number - b.number);
        if (args.orderBy && args.orderBy.direction === 'DESC') {
          list.reverse();
        }
        const total = list.length;
        list = args.last !== undefined && args.last !== null ? list.slice(-n) : list.slice(0, n);
        for (const x of list) {
          await this.refresh_pr(r, x);
        }
        return { totalCount: total, nodes: list.map((x) => this.gql_pr(r, x)) };
      },
    };
  }

  gql_label(r, name) {
    return { __typename: 'Label', id: this.label_json(r, name).node_id, name, color: 'ededed' };
  }

  gql_pr(r, pr) {
    return {
      __typename: 'PullRequest', id: pr.node_id, number: pr.number, title: pr.title, body: pr.body || '',
      state: pr.merged ? 'MERGED' : pr.state.toUpperCase(), merged: Boolean(pr.merged),
      headRefName: pr.head_ref, headRefOid: pr.head_sha, baseRefName: pr.base_ref, isCrossRepository: false,
      labels: (args) => {
        const n = graphql.page_bound(args);
        return { totalCount: pr.labels.length, nodes: pr.labels.slice(0, n).map((l) => this.gql_label(r, l)) };
      },
      reviewRequests: (args) => {
        const n = graphql.page_bound(args);
        const all = [
          ...pr.reviewers.map((u) => ({ requestedReviewer: { __typename: 'User', id: this.user(u).node_id, login: u } })),
          ...pr.teams.map((t) => ({ requestedReviewer: { __typename: 'Team', id: this.node_id('T', `${r.owner}/${t}`), slug: t, name: t } })),
        ];
        return { totalCount: all.length, nodes: all.slice(0, n) };
      },
      autoMergeRequest: pr.auto_merge ? { enabledAt: pr.auto_merge.enabled_at, mergeMethod: pr.auto_merge.merge_method.toUpperCase() } : null,
    };
  }

  find_pr_by_node(auth, id) {
    for (const r of this.repos.values()) {
      const pr = r.pulls.find((x) => x.node_id === id);
      if (pr) {
        return r.installation_id === auth.installation_id ? { r, pr } : null;
      }
    }
    return null;
  }

  async add_labels_gql(auth, input) {
    const found = this.find_pr_by_node(auth, input.labelableId);
    if (!found) {
      return { error: `Could not resolve to a node with the global id of '${input.labelableId}'`, type: 'NOT_FOUND' };
    }
    const { r, pr } = found;
    const names = [];
    for (const id of input.labelIds) {
      const name = [...r.labels].find((l) => this.label_json(r, l).node_id === id);
      if (!name) {
        return { error: `Could not resolve to a node with the global id of '${id}'`, type: 'NOT_FOUND' };
      }
      names.push(name);
    }
    for (const n of names) {
      if (!pr.labels.includes(n)) {
        pr.labels.push(n);
      }
    }
    return { data: { clientMutationId: input.clientMutationId ?? null, labelable: this.gql_pr(r, await this.refresh_pr(r, pr)) } };
  }

  async request_reviews_gql(auth, input) {
    const found = this.find_pr_by_node(auth, input.pullRequestId);
    if (!found) {
      return { error: `Could not resolve to a node with the global id of '${input.pullRequestId}'`, type: 'NOT_FOUND' };
    }
    const { r, pr } = found;
    const users = [];
    const teams = [];
    for (const id of input.userIds || []) {
      const who = this.gql_ids.get(id);
      if (!who || who.kind !== 'User') {
        return { error: `Could not resolve to a node with the global id of '${id}'`, type: 'NOT_FOUND' };
      }
      if (who.login === pr.user) {
        return { error: 'Review cannot be requested from pull request author.', type: 'UNPROCESSABLE' };
      }
      users.push(who.login);
    }
    for (const id of input.teamIds || []) {
      const who = this.gql_ids.get(id);
      if (!who || who.kind !== 'Team') {
        return { error: `Could not resolve to a node with the global id of '${id}'`, type: 'NOT_FOUND' };
      }
      teams.push(who.slug);
    }
    // union: false replaces the requested reviewers; true adds to them.
    if (!input.union) {
      pr.reviewers = [];
      pr.teams = [];
    }
    for (const u of users) {
      if (!pr.reviewers.includes(u)) {
        pr.reviewers.push(u);
      }
    }
    for (const t of teams) {
      if (!pr.teams.includes(t)) {
        pr.teams.push(t);
      }
    }
    return { data: { clientMutationId: input.clientMutationId ?? null, pullRequest: this.gql_pr(r, await this.refresh_pr(r, pr)) } };
  }

  async create_commit_on_branch(auth, input) {
    const nwo = input.branch.repositoryNameWithOwner || '';
    const r = [...this.repos.values()].find((x) => (input.branch.repositoryId ? x.node_id === input.branch.repositoryId : `${x.owner}/${x.name}`.toLowerCase() === nwo.toLowerCase()));
    if (!r || r.installation_id !== auth.installation_id) {
      return { error: `Could not resolve to a Repository with the name '${nwo}'.`, type: 'NOT_FOUND' };
    }
    if (!input.branch.branchName) {
      return { error: 'A branch name is required', type: 'UNPROCESSABLE' };
    }
    const ref = `refs/heads/${input.branch.branchName.replace(/^refs\/heads\//, '')}`;
    return r.git.locked(async () => {
      const head = await r.git.rev_parse(ref);
      if (!head) {
        return { error: `A ref named "${ref}" does not exist.`, type: 'UNPROCESSABLE' };
      }
      if (head !== input.expectedHeadOid) {
        return { error: `Expected branch to point to "${input.expectedHeadOid}" but it did not. Pull and try again.`, type: 'STALE_DATA' };
      }
      const edits = [];
      for (const d of input.fileChanges?.deletions || []) {
        edits.push({ path: d.path, sha: null });
      }
      for (const a of input.fileChanges?.additions || []) {
        edits.push({ path: a.path, mode: '100644', sha: await r.git.hash_blob(Buffer.from(a.contents, 'base64')) });
      }
      const tree = await r.git.build_tree(await r.git.rev_parse(`${head}^{tree}`), edits);
      const now = iso();
      const msg = input.message.body ? `${input.message.headline}\n\n${input.message.body}` : input.message.headline;
      const sha = await r.git.commit_tree(tree, [head], `${msg}\n`, { ...this.bot_ident(), date: now }, { name: 'GitHub', email: 'noreply@github.com', date: now }, true);
      this.mark_verified(sha);
      r.created_commits.push({ sha, via: 'graphql createCommitOnBranch' });
      if (!(await r.git.cas(ref, sha, head))) {
        return { error: `Expected branch to point to "${input.expectedHeadOid}" but it did not. Pull and try again.`, type: 'STALE_DATA' };
      }
      await this.ref_changed(r, ref, head, sha, this.bot_actor());
      return {
        data: {
          clientMutationId: input.clientMutationId ?? null,
          commit: { __typename: 'Commit', oid: sha, url: `${this.base}/${r.owner}/${r.name}/commit/${sha}`, commitUrl: `${this.base}/${r.owner}/${r.name}/commit/${sha}` },
          ref: { name: ref.slice('refs/heads/'.length), prefix: 'refs/heads/', target: { __typename: 'Commit', oid: sha } },
        },
      };
    });
  }

  async enable_auto_merge(auth, input) {
    for (const r of this.repos.values()) {
      const pr = r.pulls.find((x) => x.node_id === input.pullRequestId);
      if (!pr) {
        continue;
      }
      if (r.installation_id !== auth.installation_id) {
        break;
      }
      await this.refresh_pr(r, pr);
      if (pr.state !== 'open') {
        return { error: 'Pull request is not open', type: 'UNPROCESSABLE' };
      }
      if (input.expectedHeadOid && input.expectedHeadOid !== pr.head_sha) {
        return { error: `Expected head oid ${input.expectedHeadOid} does not match the pull request head ${pr.head_sha}`, type: 'UNPROCESSABLE' };
      }
      // GitHub refuses auto-merge on a PR that could be merged right now (no pending
      // requirements); the message really repeats "Pull request".
      if (r.auto_merge_clean && pr.mergeable) {
        return { error: 'Pull request Pull request is in clean status', type: 'UNPROCESSABLE' };
      }
      const method = (input.mergeMethod || 'MERGE').toLowerCase();
      pr.auto_merge = { merge_method: method, enabled_at: iso(), commit_title: input.commitHeadline, commit_message: input.commitBody };
      return {
        data: {
          clientMutationId: input.clientMutationId ?? null,
          pullRequest: this.gql_pr(r, pr),
        },
      };
    }
    return { error: `Could not resolve to a node with the global id of '${input.pullRequestId}'`, type: 'NOT_FOUND' };
  }

  // ---------------------------------------------------------------- git smart HTTP

  async git_http(req, res, m, url) {
    const [, owner, repo_git_name, rest] = m;
    const name = repo_git_name.replace(/\.git$/, '');
    const entry = { method: req.method, path: url.pathname, query: url.search, auth: parse_authorization(req.headers.authorization).kind, git: true };
    const r = this.repo(owner, name);
    const a = parse_authorization(req.headers.authorization);
    const inst = a.kind === 'basic' ? this.tokens.check(a.value, Date.now()) : null;
    if (inst === null || !r || r.installation_id !== inst) {
      // libgit2 and git only send credentials after a 401 with a Basic challenge.
      entry.status = 401;
      entry.auth_error = a.kind === 'basic' ? 'unknown or expired token, or no access to the repository' : 'no credentials';
      this.log_request(entry);
      req.resume();
      // No body: Debian's libgit2 1.5.1 fails its HTTP parser on a 401 carrying a body with
      // Content-Length ("http parser error: invalid constant string") instead of retrying with
      // credentials, so the challenge is sent bare.
      res.writeHead(401, { 'www-authenticate': 'Basic realm="GitHub"', 'content-length': '0' });
      res.end();
      return;
    }
    const fault = this.take_fault(req.method, url.pathname);
    if (fault) {
      entry.fault = fault.id;
      if (await this.apply_fault(fault, res, {})) {
        req.resume();
        entry.status = fault.status;
        this.log_request(entry);
        return;
      }
    }
    const env = {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: path.join(this.opts.state_dir, 'repos'),
      GIT_HTTP_EXPORT_ALL: '1',
      REMOTE_USER: a.user || 'x-access-token',
      REMOTE_ADDR: req.socket.remoteAddress || '127.0.0.1',
      PATH_INFO: `/${r.owner}/${r.name}.git${rest}`,
      QUERY_STRING: url.search.replace(/^\?/, ''),
      REQUEST_METHOD: req.method,
      CONTENT_TYPE: req.headers['content-type'] || '',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
    };
    if (req.headers['content-length']) {
      env.CONTENT_LENGTH = req.headers['content-length'];
    }
    if (req.headers['content-encoding']) {
      env.HTTP_CONTENT_ENCODING = req.headers['content-encoding'];
    }
    if (req.headers['git-protocol']) {
      env.GIT_PROTOCOL = req.headers['git-protocol'];
    }
    // A push over smart HTTP changes refs behind the API: compare them around receive-pack to
    // record the webhooks GitHub would send for it.
    const receive = req.method === 'POST' && rest === '/git-receive-pack';
    const refs_before = receive ? new Map((await r.git.refs()).map((x) => [x.ref, x.sha])) : null;
    const child = spawn(k_git_http_backend, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    req.pipe(child.stdin);
    child.stdin.on('error', () => {});
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    let head = Buffer.alloc(0);
    let headers_done = false;
    await new Promise((resolve) => {
      child.stdout.on('data', (chunk) => {
        if (headers_done) {
          res.write(chunk);
          return;
        }
        head = Buffer.concat([head, chunk]);
        let sep = head.indexOf('\r\n\r\n');
        let sep_len = 4;
        if (sep < 0) {
          sep = head.indexOf('\n\n');
          sep_len = 2;
        }
        if (sep < 0) {
          return;
        }
        headers_done = true;
        let status = 200;
        const headers = {};
        for (const line of head.slice(0, sep).toString().split(/\r?\n/)) {
          const c = line.indexOf(':');
          if (c < 0) {
            continue;
          }
          const k = line.slice(0, c).trim();
          const v = line.slice(c + 1).trim();
          if (k.toLowerCase() === 'status') {
            status = Number(v.split(' ')[0]);
          } else {
            headers[k] = v;
          }
        }
        entry.status = status;
        res.writeHead(status, headers);
        res.write(head.slice(sep + sep_len));
      });
      child.on('close', (code) => {
        if (!headers_done) {
          entry.status = 500;
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.write(`git-http-backend exited ${code}: ${stderr}`);
        }
        resolve();
      });
    });
    if (stderr.trim()) {
      entry.stderr = stderr.trim();
    }
    // Recorded before the answer ends, so a test reading /_double/webhooks after its push
    // completed sees them.
    if (receive) {
      const refs_after = new Map((await r.git.refs()).map((x) => [x.ref, x.sha]));
      const names = [...new Set([...refs_before.keys(), ...refs_after.keys()])].sort();
      for (const n of names) {
        await this.ref_changed(r, n, refs_before.get(n) || null, refs_after.get(n) || null, this.bot_actor());
      }
    }
    res.end();
    this.log_request(entry);
  }

  // ---------------------------------------------------------------- control plane

  async control(req, res, p, url, body_text) {
    const m = req.method;
    let body = {};
    if (body_text) {
      try {
        body = JSON.parse(body_text);
      } catch (e) {
        return send(res, 400, { message: `control body is not JSON: ${e.message}` });
      }
    }
    const reply = (status, b) => send(res, status, b);
    // What GitHub's web form does on an App manifest POST: keep the manifest, mint a code.
    if (m === 'POST' && p === '/_double/app-manifests') {
      const b = JSON.parse(body_text || '{}');
      return reply(201, { code: this.mint_manifest_code(b.manifest || {}, b.org || 'acme', b.age_seconds || 0) });
    }
    if (m === 'GET' && p === '/_double/app-manifests') {
      return reply(200, this.manifest_posts);
    }
    if (m === 'GET' && p === '/_double/violations') {
      return reply(200, this.violations);
    }
    if (m === 'DELETE' && p === '/_double/violations') {
      this.violations = [];
      return reply(204);
    }
    if (m === 'POST' && p === '/_double/app/events') {
      if (!Array.isArray(body.events) || body.events.some((e) => typeof e !== 'string')) {
        return reply(400, { message: 'events must be a list of event names' });
      }
      this.app.events = [...body.events];
      // Permissions granted alongside (gates read check runs with checks: read).
      Object.assign(this.app.permissions, body.permissions || {});
      return reply(204);
    }
    // Another App (CI, an end-to-end suite) reports on a commit: a commit status
    // {repo, sha, context, state, description?} or a check run {repo, sha, name, status,
    // conclusion?}. Recorded with its webhook, as GitHub would deliver it to a subscribed App.
    if (m === 'POST' && p === '/_double/ci') {
      const [owner, name] = String(body.repo || '').split('/');
      const r = this.repos.get(`${owner}/${name}`.toLowerCase());
      if (!r || !/^[0-9a-f]{40}$/.test(String(body.sha))) {
        return reply(400, { message: 'repo (owner/name) and sha (40 hex) are required' });
      }
      const ci = this.person_actor('ci-bot');
      if (body.context) {
        const s = { id: this.id(), sha: body.sha, state: body.state, context: body.context, description: body.description ?? null, target_url: body.target_url ?? null, created_at: iso() };
        if (!r.statuses.has(s.sha)) {
          r.statuses.set(s.sha, []);
        }
        r.statuses.get(s.sha).push(s);
        await this.status_webhook(r, s, ci);
        return reply(201, this.status_json(r, s));
      }
      const done = body.status === 'completed';
      const c = { id: this.id(), sha: body.sha, name: body.name, status: body.status || 'queued', conclusion: done ? body.conclusion : null, started_at: iso(), completed_at: done ? iso() : null };
      if (!r.check_runs.has(c.sha)) {
        r.check_runs.set(c.sha, []);
      }
      r.check_runs.get(c.sha).push(c);
      this.check_run_webhook(r, c, done ? 'completed' : 'created', ci);
      return reply(201, this.check_run_json(r, c));
    }
    if (m === 'GET' && p === '/_double/webhooks') {
      const since = Number(url.searchParams.get('since') || 0);
      return reply(200, this.webhooks.filter((w) => w.seq > since));
    }
    if (m === 'DELETE' && p === '/_double/webhooks') {
      this.webhooks = [];
      return reply(204);
    }
    if (m === 'GET' && p === '/_double/divergences') {
      return reply(200, { tolerated: k_tolerated, observed_undocumented_statuses: this.divergences });
    }
    if (m === 'GET' && p === '/_double/requests') {
      return reply(200, this.requests);
    }
    if (m === 'DELETE' && p === '/_double/requests') {
      this.requests = [];
      return reply(204);
    }
    if (m === 'GET' && p === '/_double/state') {
      return reply(200, await this.state_json());
    }
    if (m === 'GET' && p === '/_double/app') {
      return reply(200, { id: this.app.id, client_id: this.app.client_id, slug: this.app.slug, private_key_path: this.private_key_path });
    }
    if (m === 'POST' && p === '/_double/repos') {
      try {
        return reply(201, await this.create_repo(body));
      } catch (e) {
        return reply(400, { message: e.message });
      }
    }
    if (m === 'POST' && p === '/_double/tokens') {
      const inst = this.installations.get(Number(body.installation_id));
      if (!inst) {
        return reply(404, { message: `no installation ${body.installation_id}` });
      }
      return reply(201, this.tokens.issue(inst.id, Date.now()));
    }
    if (m === 'POST' && p === '/_double/expire-tokens') {
      this.tokens.expire_all();
      return reply(204);
    }
    if (m === 'POST' && p === '/_double/faults') {
      const list = Array.isArray(body) ? body : [body];
      const made = [];
      for (const f of list) {
        if (f.path_regex) {
          try {
            new RegExp(f.path_regex);
          } catch (e) {
            return reply(400, { message: `path_regex: ${e.message}` });
          }
        }
        if (!f.status && !f.delay_ms) {
          return reply(400, { message: 'a fault needs a status, a delay_ms, or both' });
        }
        const fault = { id: this.id(), method: f.method, path_regex: f.path_regex, operation: f.operation, status: f.status, retry_after: f.retry_after, delay_ms: f.delay_ms, body: f.body, remaining: f.count ?? 1, hits: 0 };
        this.faults.push(fault);
        made.push(fault);
      }
      return reply(201, Array.isArray(body) ? made : made[0]);
    }
    if (m === 'GET' && p === '/_double/faults') {
      return reply(200, this.faults);
    }
    if (m === 'DELETE' && p === '/_double/faults') {
      this.faults = [];
      return reply(204);
    }
    if (m === 'POST' && p === '/_double/limits') {
      // {writes_per_minute?, writes_per_hour?, forget_writes?}: the secondary limits on content
      // creation (every installation), and forgetting the writes counted so far (as if the
      // windows had passed).
      for (const [k, field] of [['writes_per_minute', 'per_minute'], ['writes_per_hour', 'per_hour']]) {
        if (body[k] !== undefined) {
          if (!Number.isInteger(body[k]) || body[k] < 0) {
            return reply(400, { message: `${k} must be a non-negative integer` });
          }
          this.write_limits[field] = body[k];
        }
      }
      if (body.forget_writes) {
        this.writes.clear();
      }
      return reply(200, this.limits_json());
    }
    if (m === 'GET' && p === '/_double/limits') {
      return reply(200, this.limits_json());
    }
    if (m === 'POST' && p === '/_double/rate-limit') {
      // {installation_id | identity ("app:ID", "anonymous"), resource: core|graphql, remaining, reset_in_s}
      const identity = body.identity || `installation:${body.installation_id}`;
      const resource = body.resource || 'core';
      const now = Math.floor(Date.now() / 1000);
      const r = this.rate_window(identity, resource, identity === 'anonymous' ? k_anonymous_rate_limit : k_rate_limit, now);
      if (body.remaining !== undefined) {
        r.used = Math.max(0, r.limit - Number(body.remaining));
      }
      if (body.reset_in_s !== undefined) {
        r.reset = now + Number(body.reset_in_s);
      }
      return reply(200, { identity, resource, limit: r.limit, used: r.used, remaining: r.limit - r.used, reset: r.reset });
    }
    if (m === 'POST' && p === '/_double/app/hook-config') {
      // Replaces the App's webhook configuration; `secret: null` means no secret is set.
      const next = { ...this.app.hook_config, ...body };
      for (const k of Object.keys(next)) {
        if (next[k] === null) {
          delete next[k];
        }
      }
      this.app.hook_config = next;
      return reply(200, this.app.hook_config);
    }
    if (m === 'POST' && p === '/_double/hook-deliveries') {
      const list = Array.isArray(body) ? body : (body.deliveries || [body]);
      for (const d of list) {
        this.deliveries.push({
          id: d.id ?? this.id(), guid: d.guid || crypto.randomUUID(), delivered_at: d.delivered_at || iso(), redelivery: d.redelivery ?? false,
          duration: d.duration ?? 0.1, status: d.status || (d.status_code >= 200 && d.status_code < 300 ? 'OK' : 'Invalid HTTP Response: 503'),
          status_code: d.status_code ?? 503, event: d.event || 'package', action: d.action ?? 'published', installation_id: d.installation_id ?? null,
          repository_id: d.repository_id ?? null, throttled_at: d.throttled_at ?? null,
        });
      }
      return reply(201, this.deliveries);
    }
    if (m === 'GET' && p === '/_double/redeliveries') {
      return reply(200, this.redeliveries);
    }
    const rm = /^\/_double\/repos\/([^/]+)\/([^/]+)\/(move-ref|settings|releases|pulls\/(\d+))$/.exec(p);
    if (m === 'POST' && rm) {
      const r = this.repo(rm[1], rm[2]);
      if (!r) {
        return reply(404, { message: `no repository ${rm[1]}/${rm[2]}` });
      }
      if (rm[3] === 'move-ref') {
        return reply(200, await this.move_ref(r, body));
      }
      if (rm[3] === 'releases') {
        // A release of the repository (what a project's release workflow publishes): {tag_name,
        // name?, body?}.
        if (typeof body.tag_name !== 'string' || !body.tag_name) {
          return reply(400, { message: 'tag_name is required' });
        }
        r.releases = r.releases || [];
        const rel = { id: r.releases.length + 1, tag_name: body.tag_name, name: body.name ?? body.tag_name, body: body.body ?? null, created_at: iso(), published_at: iso() };
        r.releases.push(rel);
        return reply(201, rel);
      }
      if (rm[3] === 'settings') {
        for (const l of Array.isArray(body.labels) ? body.labels : []) {
          r.labels.add(String(l));
        }
        if (body.auto_merge_clean !== undefined) {
          r.auto_merge_clean = Boolean(body.auto_merge_clean);
        }
        return reply(200, { auto_merge_clean: r.auto_merge_clean, labels: [...r.labels] });
      }
      const pr = r.pulls.find((x) => x.number === Number(rm[4]));
      if (!pr) {
        return reply(404, { message: `no pull request ${rm[4]}` });
      }
      if (body.mergeable !== undefined) {
        pr.mergeable = Boolean(body.mergeable);
      }
      if (body.merge) {
        const sha = await r.git.locked(async () => this.merge(r, await this.refresh_pr(r, pr), body.merge, undefined, undefined, this.person_actor(body.actor)));
        return reply(sha ? 200 : 409, { merged: Boolean(sha), sha });
      }
      return reply(200, { number: pr.number, mergeable: pr.mergeable });
    }
    return reply(404, { message: `no control endpoint ${m} ${p}` });
  }

  // Moves a ref behind ferry's back: to `sha`, or to a new commit on top of it writing `files`
  // (default: a file named after the moment), authored by "Test <t@example.com>".
  async move_ref(r, body) {
    const ref = body.ref.startsWith('refs/') ? body.ref : (body.ref.startsWith('heads/') ? `refs/${body.ref}` : `refs/heads/${body.ref}`);
    return r.git.locked(async () => {
      const old = await r.git.rev_parse(ref);
      let sha = body.sha;
      if (!sha) {
        const files = body.files || { [`interloper-${Date.now()}.txt`]: 'moved behind ferry\'s back\n' };
        const edits = [];
        for (const [p, c] of Object.entries(files)) {
          edits.push(c === null ? { path: p, sha: null } : { path: p, mode: '100644', sha: await r.git.hash_blob(Buffer.from(c)) });
        }
        const tree = await r.git.build_tree(old ? await r.git.rev_parse(`${old}^{tree}`) : null, edits);
        const who = { name: 'Test', email: 't@example.com', date: iso() };
        sha = await r.git.commit_tree(tree, old ? [old] : [], `${body.message || 'Moved behind ferry\'s back'}\n`, who, who);
      }
      if (!(await r.git.cas(ref, sha, old))) {
        return { moved: false };
      }
      await this.ref_changed(r, ref, old, sha, this.person_actor(body.actor));
      return { moved: true, ref, from: old, to: sha };
    });
  }

  async state_json() {
    const repos = {};
    for (const r of this.repos.values()) {
      for (const pr of r.pulls) {
        await this.refresh_pr(r, pr);
      }
      const statuses = {};
      for (const [sha, list] of r.statuses) {
        statuses[sha] = list.map(({ state, context, description, target_url, created_at }) => ({ state, context, description, target_url, created_at }));
      }
      const comments = {};
      for (const [n, list] of r.comments) {
        comments[n] = list.map((c) => ({ id: c.id, body: c.body, user: c.user }));
      }
      const refs = {};
      for (const x of await r.git.refs()) {
        refs[x.ref] = x.sha;
      }
      repos[`${r.owner}/${r.name}`] = {
        installation_id: r.installation_id, default_branch: r.default_branch, dir: r.dir, refs, auto_merge_clean: r.auto_merge_clean,
        pulls: r.pulls.map((pr) => ({
          number: pr.number, node_id: pr.node_id, state: pr.state, title: pr.title, body: pr.body, head: pr.head_ref, head_sha: pr.head_sha,
          base: pr.base_ref, labels: pr.labels, reviewers: pr.reviewers, team_reviewers: pr.teams, auto_merge: pr.auto_merge,
          merged: pr.merged, merge_method: pr.merge_method || null, merge_commit_sha: pr.merge_commit_sha, mergeable: pr.mergeable,
        })),
        statuses, comments, created_commits: r.created_commits,
      };
    }
    const verified = {};
    for (const [sha, v] of this.verified) {
      verified[sha] = v.verified;
    }
    return { repos, verified_commits: verified, deliveries: this.deliveries, redeliveries: this.redeliveries };
  }
}

// ---------------------------------------------------------------- helpers

function read_body(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function safe_json(text) {
  if (!text) {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function send(res, status, body, headers = {}) {
  if (res.headersSent || res.destroyed) {
    return;
  }
  if (body === undefined || status === 204) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': data.length, ...headers });
  res.end(data);
}

async function main() {
  let opts;
  try {
    opts = parse_args(process.argv);
  } catch (e) {
    process.stderr.write(`github double: ${e.message}\n`);
    process.exit(2);
  }
  const d = new double(opts);
  const handler = (req, res) => {
    d.handle(req, res).catch((e) => {
      process.stderr.write(`github double: ${e.stack}\n`);
      send(res, 500, { message: e.message });
    });
  };
  const tls = opts.tls_cert && opts.tls_key;
  const server = tls
    ? https.createServer({ cert: fs.readFileSync(opts.tls_cert), key: fs.readFileSync(opts.tls_key) }, handler)
    : http.createServer(handler);
  // Longer than common clients' idle timeouts, so the client closes first and never reuses a
  // socket the server is closing.
  server.keepAliveTimeout = 65000;
  server.listen(opts.port, opts.host, () => {
    const port = server.address().port;
    d.base = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    process.stdout.write(`${JSON.stringify({ port, url: d.base, app_id: d.app.id, client_id: d.app.client_id, private_key_path: d.private_key_path })}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  main();
}

module.exports = { double };
