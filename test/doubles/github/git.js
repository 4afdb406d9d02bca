'use strict';
// The real git repository is the double's source of truth: every object, ref and merge goes
// through the git CLI on a bare repository, so what ferry later fetches over smart HTTP is
// exactly what the API said it wrote.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');

const k_zero = '0000000000000000000000000000000000000000';

// Runs git in `dir` and resolves {code, stdout (Buffer), stderr}. Never rejects on a non-zero
// exit: callers decide what a failure means.
function run(dir, args, { input, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd: dir,
      env: {
        ...process.env,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_TERMINAL_PROMPT: '0',
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input === undefined ? undefined : input);
  });
}

// Like run() but rejects with the stderr when git fails.
async function must(dir, args, opts) {
  const r = await run(dir, args, opts);
  if (r.code !== 0) {
    throw new Error(`git ${args.join(' ')}: ${r.stderr.trim()}`);
  }
  return r.stdout.toString();
}

class repo_git {
  constructor(dir) {
    this.dir = dir;
    this.lock_tail = Promise.resolve();
  }

  // Serialises writers on one repository (the subprocesses are asynchronous).
  locked(fn) {
    const next = this.lock_tail.then(fn, fn);
    this.lock_tail = next.catch(() => {});
    return next;
  }

  async rev_parse(spec) {
    const r = await run(this.dir, ['rev-parse', '--verify', '--quiet', spec]);
    return r.code === 0 ? r.stdout.toString().trim() : null;
  }

  async object_type(sha) {
    if (!/^[0-9a-f]{40}$/.test(sha)) {
      return null;
    }
    const r = await run(this.dir, ['cat-file', '-t', sha]);
    return r.code === 0 ? r.stdout.toString().trim() : null;
  }

  async cat(sha) {
    const r = await run(this.dir, ['cat-file', '-p', sha]);
    return r.code === 0 ? r.stdout : null;
  }

  async hash_blob(buffer) {
    return (await must(this.dir, ['hash-object', '-w', '--stdin'], { input: buffer })).trim();
  }

  async blob_size(sha) {
    return Number((await must(this.dir, ['cat-file', '-s', sha])).trim());
  }

  // refs: {name -> sha} for refs/heads and refs/tags.
  async refs() {
    const out = await must(this.dir, ['for-each-ref', '--format=%(refname) %(objectname) %(objecttype)']);
    return out.split('\n').filter(Boolean).map((l) => {
      const [ref, sha, type] = l.split(' ');
      return { ref, sha, type };
    });
  }

  // Compare-and-swap: moves `ref` to `sha` only if it still points at `old` (null = must not
  // exist). Returns true on success.
  async cas(ref, sha, old) {
    const r = await run(this.dir, ['update-ref', ref, sha, old || k_zero]);
    return r.code === 0;
  }

  async delete_ref(ref, old) {
    const r = await run(this.dir, ['update-ref', '-d', ref, old]);
    return r.code === 0;
  }

  async is_ancestor(a, b) {
    const r = await run(this.dir, ['merge-base', '--is-ancestor', a, b]);
    return r.code === 0;
  }

  async merge_base(a, b) {
    const r = await run(this.dir, ['merge-base', a, b]);
    return r.code === 0 ? r.stdout.toString().trim() : null;
  }

  async count(range) {
    return Number((await must(this.dir, ['rev-list', '--count', range])).trim());
  }

  async rev_list(range, max) {
    const args = ['rev-list', '--reverse'];
    if (max) {
      args.push(`--max-count=${max}`);
    }
    args.push(range);
    return (await must(this.dir, args)).split('\n').filter(Boolean);
  }

  // Parsed commit: {tree, parents, author{name,email,date}, committer{...}, message}.
  async commit(sha) {
    if ((await this.object_type(sha)) !== 'commit') {
      return null;
    }
    const raw = (await must(this.dir, ['cat-file', 'commit', sha]));
    const split = raw.indexOf('\n\n');
    const head = raw.slice(0, split === -1 ? raw.length : split);
    const message = split === -1 ? '' : raw.slice(split + 2);
    const c = { sha, parents: [], message };
    for (const line of head.split('\n')) {
      const sp = line.indexOf(' ');
      const key = line.slice(0, sp);
      const val = line.slice(sp + 1);
      if (key === 'tree') {
        c.tree = val;
      } else if (key === 'parent') {
        c.parents.push(val);
      } else if (key === 'author' || key === 'committer') {
        c[key] = parse_ident(val);
      }
    }
    return c;
  }

  // Entries of a tree: [{mode, type, sha, size, path}]; recursive lists blobs and trees.
  async ls_tree(sha, recursive) {
    const args = ['ls-tree', '-l', '-z'];
    if (recursive) {
      args.push('-r', '-t');
    }
    args.push(sha);
    const out = await must(this.dir, args);
    return out.split('\0').filter(Boolean).map((l) => {
      const tab = l.indexOf('\t');
      const [mode, type, osha, size] = l.slice(0, tab).split(/ +/);
      return { mode, type, sha: osha, size: size === '-' ? undefined : Number(size), path: l.slice(tab + 1) };
    });
  }

  // The entry at `p` in the tree of commit-ish `rev`, or null.
  async entry(rev, p) {
    const r = await run(this.dir, ['ls-tree', '-l', '-z', rev, '--', p.replace(/\/+$/, '')]);
    if (r.code !== 0) {
      return null;
    }
    const l = r.stdout.toString().split('\0').filter(Boolean)[0];
    if (!l) {
      return null;
    }
    const tab = l.indexOf('\t');
    const [mode, type, osha, size] = l.slice(0, tab).split(/ +/);
    return { mode, type, sha: osha, size: size === '-' ? undefined : Number(size), path: l.slice(tab + 1) };
  }

  // Builds a tree from an optional base tree and edits [{path, mode, sha|null}] (sha null deletes
  // the path, a tree mode grafts a whole subtree), through a throw-away index file.
  async build_tree(base_tree, edits) {
    const index = path.join(os.tmpdir(), `double-index-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const env = { GIT_INDEX_FILE: index };
    try {
      if (base_tree) {
        await must(this.dir, ['read-tree', base_tree], { env });
      } else {
        await must(this.dir, ['read-tree', '--empty'], { env });
      }
      for (const e of edits) {
        // Whatever was at the path (a file, or a directory's files) goes first.
        const listed = await must(this.dir, ['ls-files', '-z', '--', e.path, `${e.path}/`], { env });
        const gone = listed.split('\0').filter(Boolean);
        if (gone.length) {
          const lines = gone.map((g) => `0 ${k_zero}\t${g}\n`).join('');
          await must(this.dir, ['update-index', '--index-info'], { env, input: lines });
        }
        if (e.sha === null) {
          continue;
        }
        if (e.mode === '040000') {
          await must(this.dir, ['read-tree', `--prefix=${e.path}/`, e.sha], { env });
        } else {
          await must(this.dir, ['update-index', '--add', '--index-info'],
            { env, input: `${e.mode} ${e.sha}\t${e.path}\n` });
        }
      }
      return (await must(this.dir, ['write-tree'], { env })).trim();
    } finally {
      fs.rmSync(index, { force: true });
    }
  }

  // `signed`: the object carries a gpgsig header, as the commits GitHub signs with its web-flow
  // key do (a client reading the raw commit, as ferry's mirror does, sees the signature).
  async commit_tree(tree, parents, message, author, committer, signed) {
    if (signed) {
      const when = (d) => (/^\d+ [+-]\d{4}$/.test(String(d)) ? d : `${Math.floor(Date.parse(d) / 1000)} +0000`);
      let raw = `tree ${tree}\n`;
      for (const p of parents) {
        raw += `parent ${p}\n`;
      }
      raw += `author ${author.name} <${author.email}> ${when(author.date)}\n`;
      raw += `committer ${committer.name} <${committer.email}> ${when(committer.date)}\n`;
      raw += 'gpgsig -----BEGIN PGP SIGNATURE-----\n \n (web-flow, double)\n -----END PGP SIGNATURE-----\n';
      raw += `\n${message}`;
      return (await must(this.dir, ['hash-object', '-t', 'commit', '-w', '--stdin'], { input: raw })).trim();
    }
    const args = ['commit-tree', tree];
    for (const p of parents) {
      args.push('-p', p);
    }
    const env = {
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_AUTHOR_DATE: author.date,
      GIT_COMMITTER_NAME: committer.name,
      GIT_COMMITTER_EMAIL: committer.email,
      GIT_COMMITTER_DATE: committer.date,
    };
    return (await must(this.dir, args, { env, input: message })).trim();
  }

  // Three-way merge of two commits without a work tree (git >= 2.38). Returns the tree, or
  // null on conflicts.
  async merge_trees(ours, theirs) {
    const r = await run(this.dir, ['merge-tree', '--write-tree', ours, theirs]);
    if (r.code !== 0) {
      return null;
    }
    return r.stdout.toString().split('\n')[0].trim();
  }

  // Applies the change base -> theirs onto ours (a cherry-pick) in a throw-away index. git
  // 2.39's merge-tree has no --merge-base, so this uses read-tree's three-way merge, which
  // resolves only trivial merges: anything else counts as a conflict (null).
  async pick_tree(base, ours, theirs) {
    const index = path.join(os.tmpdir(), `double-index-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const env = { GIT_INDEX_FILE: index };
    try {
      const r = await run(this.dir, ['read-tree', '-m', '-i', '--aggressive', base, ours, theirs], { env });
      if (r.code !== 0) {
        return null;
      }
      const w = await run(this.dir, ['write-tree'], { env });
      return w.code === 0 ? w.stdout.toString().trim() : null;
    } finally {
      fs.rmSync(index, { force: true });
    }
  }
}

function parse_ident(val) {
  const m = /^(.*) <(.*)> (\d+) ([+-]\d{4})$/.exec(val);
  if (!m) {
    return { name: val, email: '', date: '1970-01-01T00:00:00Z' };
  }
  return { name: m[1], email: m[2], date: new Date(Number(m[3]) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') };
}

async function init_bare(dir) {
  fs.mkdirSync(dir, { recursive: true });
  await must(dir, ['init', '--bare', '--quiet', '--initial-branch=main', '.']);
  // Let authenticated clients push over smart HTTP too (the double sets REMOTE_USER).
  await must(dir, ['config', 'http.receivepack', 'true']);
}

module.exports = { run, must, repo_git, init_bare, k_zero };
