#!/usr/bin/env python3
"""Release trains (issue 12) against the GitHub double with GitHub's own secondary limits (80
content-creating requests a minute, 500 an hour per installation), two `ferry serve` replicas
sharing the installation, each with half the budget (FERRY_GITHUB_WRITES_PER_MINUTE=40,
_PER_HOUR=250, as docs/configuration.md advises).

  group   IMAGES images of one group, published within WINDOW seconds to the replicas in turn:
          time until one PR carries them all, writes, commits, 503s, secondary-limit responses.
  solo    SOLO images without a group, each published TAGS times with rising tags, shuffled,
          within WINDOW seconds: time until every image's PR is at its highest tag.

A delivery answered 503 (or not at all) is sent again 2 s later, as GitHub's redelivery and
ferry's sweeper would (they are slower: minutes).

usage: test/bench/train.py [group|solo|both] [FERRY_BINARY]   (needs `cd test && npm ci`)
environment: IMAGES (50), SOLO (20), TAGS (10), WINDOW (10)
"""
import concurrent.futures, contextlib, hashlib, hmac, json, os, random, subprocess, sys, tempfile, time
import urllib.error, urllib.request, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_double import call, package_payload, root, secret, wait_line  # noqa: E402

mode = sys.argv[1] if len(sys.argv) > 1 else "both"
binary = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "build", "ferry")
images = int(os.environ.get("IMAGES", "50"))
solo = int(os.environ.get("SOLO", "20"))
tags = int(os.environ.get("TAGS", "10"))
window = float(os.environ.get("WINDOW", "10"))
deadline = 600


def rules():
    r = "version: 1\nimages:\n"
    for i in range(images):
        r += f"  - name: g{i:02d}\n    image: ghcr.io/dine-together/g{i:02d}\n" \
             "    policy: {semver: {range: \">=1.0.0\"}}\n    group: train\n"
    for i in range(solo):
        r += f"  - name: u{i}\n    image: ghcr.io/dine-together/u{i}\n    policy: {{semver: {{range: \">=1.0.0\"}}}}\n"
    r += ("environments:\n  - name: staging\n    paths: [clusters/staging]\n"
          "    apply: {flux: {kind: Kustomization, name: apps, namespace: flux-system}}\n")
    return r


def kustomization(names):
    k = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n"
    for n in names:
        k += f"  - name: ghcr.io/dine-together/{n}\n    newTag: \"1.0.0\" # {{\"$imagepolicy\": \"flux-system:{n}:tag\"}}\n"
    return k


@contextlib.contextmanager
def replicas():
    tmp = tempfile.mkdtemp(prefix="ferry-train-")
    dlog = open(f"{tmp}/double.log", "w")
    double = subprocess.Popen(["node", f"{root}/test/doubles/github/server.js", "--port", "0", "--state-dir",
                               f"{tmp}/d"], stdout=dlog, stderr=subprocess.STDOUT)
    procs = []
    try:
        info = json.loads(wait_line(f"{tmp}/double.log", '"port"'))
        url = info["url"]
        call(url + "/_double/repos", "POST", {"owner": "dine-together", "name": "infra", "installation_id": 7,
                                             "dir": f"{root}/infra/example-infra"})
        call(url + "/_double/repos/dine-together/infra/settings", "POST", {"auto_merge_clean": False})
        call(url + "/_double/repos/dine-together/infra/move-ref", "POST", {"ref": "heads/main", "files": {
            ".github/ferry.yaml": rules(),
            "clusters/staging/train/kustomization.yaml": kustomization([f"g{i:02d}" for i in range(images)]),
            "clusters/staging/solo/kustomization.yaml": kustomization([f"u{i}" for i in range(solo)])}})
        call(url + "/_double/limits", "POST", {"writes_per_minute": 80, "writes_per_hour": 500, "forget_writes": True})
        ports = []
        for n in range(2):
            log = f"{tmp}/ferry-{n}.log"
            env = {"PATH": os.environ["PATH"], "FERRY_LISTEN": "127.0.0.1:0", "FERRY_WEBHOOK_SECRET": secret,
                   "FERRY_APP_ID": str(info["app_id"]), "FERRY_PRIVATE_KEY_FILE": info["private_key_path"],
                   "FERRY_GITHUB_API_URL": url, "FERRY_GITHUB_GRAPHQL_URL": url + "/graphql",
                   "FERRY_INFRA_REPOS": "dine-together/infra", "FERRY_CACHE_DIR": f"{tmp}/cache-{n}",
                   "FERRY_GITHUB_WRITES_PER_MINUTE": "40", "FERRY_GITHUB_WRITES_PER_HOUR": "250"}
            procs.append(subprocess.Popen([binary, "serve"], stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env))
            ports.append(json.loads(wait_line(log, '"listening"'))["port"])
        yield url, ports, tmp
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        double.terminate()
        double.wait()


def deliver(port, name, tag, delivery_id):
    p = package_payload(name, tag)
    digest = "sha256:" + hashlib.sha256(f"{name}:{tag}".encode()).hexdigest()
    p["package"]["package_version"]["name"] = digest
    p["package"]["package_version"]["container_metadata"]["tag"]["digest"] = digest
    p["package"]["package_version"]["target_commitish"] = "main"
    body = json.dumps(p).encode()
    sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/webhook", data=body, method="POST", headers={
        "content-type": "application/json", "x-github-event": "package", "x-github-delivery": delivery_id,
        "x-hub-signature-256": sig})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def run(url, ports, pubs, done):
    """Publishes `pubs` [(name, tag)] over `window` seconds, redelivers what failed, and returns the
    figures once done() holds."""
    t0 = time.time()
    ids = [str(uuid.uuid4()) for _ in pubs]
    first_503 = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(pubs)) as pool:
        futures = []
        for i, (name, tag) in enumerate(pubs):
            time.sleep(max(0.0, t0 + window * i / len(pubs) - time.time()))
            futures.append(pool.submit(deliver, ports[i % 2], name, tag, ids[i]))
        statuses = [f.result() for f in futures]
    first_503 = sum(1 for s in statuses if s == 503)
    pending = [i for i, s in enumerate(statuses) if s // 100 != 2]
    resent = 0
    while pending and time.time() - t0 < deadline:
        time.sleep(2)
        still = []
        for i in pending:
            resent += 1
            if deliver(ports[i % 2], pubs[i][0], pubs[i][1], ids[i]) // 100 != 2:
                still.append(i)
        pending = still
    while not done() and time.time() - t0 < deadline:
        time.sleep(0.2)
    took = time.time() - t0
    _, raw = call(url + "/_double/limits")
    lim = json.loads(raw)
    _, raw = call(url + "/_double/requests")
    commits = sum(1 for r in json.loads(raw) if r["status"] // 100 == 2 and (
        "createCommitOnBranch" in (r.get("operation") or "") or (r["method"] == "POST" and r["path"].endswith("/git/commits"))))
    writes = lim["writes"].get("installation:7", {}).get("last_hour", 0)
    # Writes ferry's budget held back (each failed its delivery with 503), both replicas.
    deferred = 0
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("ferry_github_writes_deferred_total"):
                    deferred += int(float(line.rsplit(" ", 1)[1]))
    return {"converged_s": round(took, 1), "deliveries": len(pubs), "answered_503": first_503,
            "redelivered": resent, "writes": writes,
            "writes_per_publication": round(writes / len(pubs), 2), "commits": commits,
            "deferred_writes": deferred, "secondary_limited": lim["secondary_limited"],
            "done": done()}


def state(url):
    _, raw = call(url + "/_double/state")
    return json.loads(raw)["repos"]["dine-together/infra"]


def group_done(url):
    pulls = [p for p in state(url)["pulls"] if p["state"] == "open" and p["head"] == "ferry/staging/group-train"]
    return len(pulls) == 1 and pulls[0]["body"].count("tag=1.1.0 -->") == images


def solo_done(url):
    titles = {p["head"]: p["title"] for p in state(url)["pulls"] if p["state"] == "open"}
    top = f"1.{tags}.0"
    return all(titles.get(f"ferry/staging/flux-system-u{i}") == f"ferry: bump u{i} to {top} in staging"
               for i in range(solo))


def main():
    results = {}
    if mode in ("group", "both"):
        with replicas() as (url, ports, _):
            results["group"] = run(url, ports, [(f"g{i:02d}", "1.1.0") for i in range(images)],
                                   lambda: group_done(url))
    if mode in ("solo", "both"):
        with replicas() as (url, ports, _):
            pubs = [(f"u{i}", f"1.{t}.0") for i in range(solo) for t in range(1, tags + 1)]
            random.Random(12).shuffle(pubs)
            results["solo"] = run(url, ports, pubs, lambda: solo_done(url))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
