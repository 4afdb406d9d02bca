#!/usr/bin/env python3
"""GitHub calls per delivery kind (issue 14's table), against the GitHub double with a fixed delay
added to every REST call (a fault with delay_ms and no status), so that the answer time shows the
calls ferry makes one after another (plus its git fetch and its own work). BENCH_VERBOSE=1 lists
the calls of each delivery.

Scenarios, in order, on one `ferry serve`:
  warm-up      an image no rule names, first delivery (mints the token, clones the mirror)
  no rule      an image no rule names, within the rules view's 10 s
  new PR       ghcr.io/dine-together/app with a new tag: opens the staging PR
  no change    GitHub's redelivery of that delivery (same id): writes nothing
  supersede    app with another new tag: moves the open PR's branch and updates it
  new PR, labels exist   api with a new tag: opens its staging PR in a repository that has
               ferry's labels already (every PR after the first one ever)

usage: test/bench/round_trips.py [DELAY_MS=100] [FERRY_BINARY]   (needs `cd test && npm ci`)
"""
import json, os, sys, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_double import package_payload, root, start  # noqa: E402

delay = int(sys.argv[1]) if len(sys.argv) > 1 else 100
binary = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "build", "ferry")


def api_calls(b):
    _, r = b.control("/_double/requests")
    # The token mint is left out, as the issue counts it (one an hour per installation).
    # git smart HTTP (the mirror fetch) is not an API call and is left out too.
    return [x for x in json.loads(r) if "status" in x and "method" in x
            and not x["path"].endswith("/access_tokens") and ".git/" not in x["path"]]


with start(binary) as b:
    b.control("/_double/faults", "POST", {"path_regex": ".*", "delay_ms": delay, "count": 1000000})
    rows = []
    app_id = str(uuid.uuid4())
    app = package_payload("app")
    for name, event, payload, delivery in [
        ("warm-up (no rule, first)", "package", package_payload("web"), None),
        ("no rule (view fresh)", "package", package_payload("web"), None),
        ("new PR", "package", app, app_id),
        ("no change (redelivery)", "package", app, app_id),
        ("supersede", "package", package_payload("app"), None),
        ("new PR, labels exist", "package", package_payload("api", "1.5.0"), None),
    ]:
        b.control("/_double/requests", "DELETE")
        status, ms = b.deliver(event, payload, delivery)
        calls = api_calls(b)
        # A GraphQL query reads; a mutation writes.
        writes = sum(1 for c in calls if c["method"] != "GET" and not (
            c["path"].endswith("graphql") and str((c.get("body") or {}).get("query", "")).lstrip().startswith("query")))
        # Calls one after another finish at least `delay` apart; calls sent together finish
        # within a few ms of each other: clusters of completion times are the round trips.
        done = sorted(c["done_ms"] for c in calls)
        rounds = sum(1 for i, t in enumerate(done) if i == 0 or t - done[i - 1] >= delay / 2)
        rows.append((name, status, len(calls), rounds, writes, ms))
        if os.environ.get("BENCH_VERBOSE"):
            print(name, *[f'{c["method"]} {c["path"]} {c["status"]}' for c in calls], sep="\n  ")
    print(f"GitHub double, {delay} ms added to every REST call (token mint not counted)")
    print("| delivery | answer | API calls | sequential round trips | of which writes | answer time (ms) |")
    print("|---|---|---|---|---|---|")
    for name, status, n, rounds, w, ms in rows:
        print(f"| {name} | {status} | {n} | {rounds} | {w} | {ms:.0f} |")
    _, v = b.control("/_double/violations")
    print("violations:", v.decode())
