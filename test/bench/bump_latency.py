#!/usr/bin/env python3
"""Webhook -> PR latency of `ferry serve` against the GitHub double (test/doubles/github).

Starts the double with the example infra repo (infra/example-infra as dine-together/infra,
auto-merge left pending so each PR stays open), starts `ferry serve`, then POSTs N signed
`package` deliveries for ghcr.io/dine-together/app, each with a new sha-<hex> tag (so every one
writes a commit, moves the branch and updates the PR), and prints the answer times.
The first delivery also mints a token and clones the mirror; it is reported apart.

usage: test/bench/bump_latency.py [N] [FERRY_BINARY]   (needs `cd test && npm ci`)
"""
import hashlib, hmac, json, os, re, secrets, subprocess, sys, tempfile, time, urllib.request, uuid

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
binary = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "build", "ferry")
secret = "bench-secret"


def wait_line(path, needle, deadline=60):
    until = time.time() + deadline
    while time.time() < until:
        with open(path) as f:
            for line in f:
                if needle in line:
                    return line
        time.sleep(0.02)
    sys.exit(f"no {needle!r} in {path}")


def call(url, method="GET", body=None):
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"content-type": "application/json", "user-agent": "bench"})
    with urllib.request.urlopen(req) as r:
        return r.status, r.read()


tmp = tempfile.mkdtemp(prefix="ferry-bench-")
dlog, flog = open(f"{tmp}/double.log", "w"), open(f"{tmp}/ferry.log", "w")
double = subprocess.Popen(["node", f"{root}/test/doubles/github/server.js", "--port", "0", "--state-dir", f"{tmp}/d"],
                          stdout=dlog, stderr=subprocess.STDOUT)
try:
    info = json.loads(wait_line(f"{tmp}/double.log", '"port"'))
    call(info["url"] + "/_double/repos", "POST", {"owner": "dine-together", "name": "infra", "installation_id": 7,
                                                  "dir": f"{root}/infra/example-infra"})
    call(info["url"] + "/_double/repos/dine-together/infra/settings", "POST", {"auto_merge_clean": False})
    env = {"PATH": os.environ["PATH"], "FERRY_LISTEN": "127.0.0.1:0", "FERRY_WEBHOOK_SECRET": secret,
           "FERRY_APP_ID": str(info["app_id"]), "FERRY_PRIVATE_KEY_FILE": info["private_key_path"],
           "FERRY_GITHUB_API_URL": info["url"], "FERRY_GITHUB_GRAPHQL_URL": info["url"] + "/graphql",
           "FERRY_INFRA_REPOS": "dine-together/infra", "FERRY_CACHE_DIR": f"{tmp}/cache",
           "FERRY_LOG_LEVEL": "debug"}
    ferry = subprocess.Popen([binary, "serve"], stdout=flog, stderr=subprocess.STDOUT, env=env)
    try:
        port = json.loads(wait_line(f"{tmp}/ferry.log", '"listening"'))["port"]
        fixture = json.load(open(f"{root}/fixtures/github/package.published.ghcr-multiarch-index.json"))
        times = []
        for i in range(n + 1):
            p = json.loads(json.dumps(fixture))
            pkg = p["package"]
            pkg["name"], pkg["owner"]["login"] = "app", "dine-together"
            tag = "sha-" + secrets.token_hex(4)[:7]
            pkg["package_version"]["container_metadata"]["tag"]["name"] = tag
            p["repository"]["name"], p["repository"]["full_name"] = "app", "dine-together/app"
            p["repository"]["owner"]["login"] = "dine-together"
            p["installation"] = {"id": 7}
            body = json.dumps(p).encode()
            sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/webhook", data=body, method="POST", headers={
                "content-type": "application/json", "x-github-event": "package",
                "x-github-delivery": str(uuid.uuid4()), "x-hub-signature-256": sig})
            t0 = time.perf_counter()
            with urllib.request.urlopen(req) as r:
                status = r.status
            dt = (time.perf_counter() - t0) * 1000
            if status != 200:
                sys.exit(f"delivery {i}: HTTP {status}")
            times.append(dt)
        first, rest = times[0], sorted(times[1:])
        pick = lambda q: rest[min(len(rest) - 1, int(q * len(rest)))]
        print(f"first delivery (token, clone): {first:.1f} ms")
        print(f"{len(rest)} deliveries, each a new commit + branch move + PR update: "
              f"p50 {pick(0.5):.1f} ms, p90 {pick(0.9):.1f} ms, p99 {pick(0.99):.1f} ms, "
              f"max {rest[-1]:.1f} ms")
        # Where the time goes: ferry's own timing of each GitHub call (debug "github call"
        # lines), grouped by method and path shape, over the deliveries after the first.
        calls, seen = {}, 0
        for line in open(f"{tmp}/ferry.log"):
            if '"delivery handled"' in line:
                seen += 1
            if '"github call"' not in line or seen < 1:
                continue
            c = json.loads(line)
            shape = re.sub(r"[0-9a-f]{40}", "{sha}", c["path"])
            shape = re.sub(r"/(pulls|issues)/\d+", r"/\1/{n}", shape)
            shape = re.sub(r"heads/ferry/.*", "heads/ferry/{branch}", shape)
            calls.setdefault(f'{c["method"]} {shape}', []).append(int(c["us"]) / 1000)
        total = sum(sum(v) for v in calls.values())
        print(f"GitHub calls per delivery (ferry's timing, {n} deliveries): "
              f"{sum(len(v) for v in calls.values()) / max(n, 1):.1f} calls, "
              f"{total / max(n, 1):.1f} ms")
        for k, v in sorted(calls.items(), key=lambda kv: -sum(kv[1])):
            v.sort()
            print(f"  {k:60s} x{len(v) / max(n, 1):4.1f}  p50 {v[len(v) // 2]:6.1f} ms  "
                  f"share {100 * sum(v) / max(total, 1e-9):4.1f}%")
        if os.environ.get("BENCH_REQUESTS_OUT"):  # every request the double saw, for a breakdown
            _, r = call(info["url"] + "/_double/requests")
            open(os.environ["BENCH_REQUESTS_OUT"], "wb").write(r)
        _, v = call(info["url"] + "/_double/violations")
        print("violations:", v.decode())
    finally:
        ferry.terminate(); ferry.wait()
finally:
    double.terminate(); double.wait()
