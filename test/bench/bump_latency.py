#!/usr/bin/env python3
"""Webhook -> PR latency of `ferry serve` against the GitHub double (test/doubles/github).

Starts the double with the example infra repo (infra/example-infra as dine-together/infra,
auto-merge left pending so each PR stays open), starts `ferry serve`, then POSTs N signed
`package` deliveries for ghcr.io/dine-together/app, each with a new sha-<hex> tag (so every one
writes a commit, moves the branch and updates the PR), and prints the answer times.
The first delivery also mints a token and clones the mirror; it is reported apart.

usage: test/bench/bump_latency.py [N] [FERRY_BINARY]   (needs `cd test && npm ci`)
"""
import json, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_double import package_payload, root, start  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
binary = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "build", "ferry")

with start(binary) as b:
    times = []
    for i in range(n + 1):
        status, dt = b.deliver("package", package_payload("app"))
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
    for line in open(b.ferry_log):
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
        _, r = b.control("/_double/requests")
        open(os.environ["BENCH_REQUESTS_OUT"], "wb").write(r)
    _, v = b.control("/_double/violations")
    print("violations:", v.decode())
