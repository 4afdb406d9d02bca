#!/usr/bin/env python3
"""Soak benchmark (issue 10.3): `ferry serve` on loopback against the GitHub double for
SOAK_SECONDS (default 600), under a steady rate of signed deliveries while hostile clients
attack the webhook port at the same time:

  - idle flood: 1,100 connections that send nothing, reopened as soon as they close
    (above the 1,024-connection bound: ferry sheds the oldest idle ones);
  - slowloris: 100 connections sending one header byte every 5 s;
  - large unsigned bodies: 30 connections announcing 26,000,000 bytes and sending them as
    fast as ferry reads (each is refused 503 past the body budget, or 401 once read whole);
  - signed deliveries: SOAK_RATE per second (default 20) of a package event for an image no
    rule names, a ping, and every 10 s a new tag of a named image (a PR superseded: git fetches,
    commits, the mirror grows).

Every second it samples ferry's RSS and open fds (/proc) and the latency of GET /healthz on the
health listener (FERRY_HEALTH_LISTEN, what the kubelet probes), and prints start, peak and end,
with the probes' p50/p99/max and the deliveries' outcomes. Targets: RSS under the Deployment's
256 MiB limit, fds flat, probe p99 < 100 ms.

  python3 test/bench/soak.py [build/ferry]        (SOAK_SECONDS=60 for a short run)
"""
import asyncio, hashlib, hmac, json, os, statistics, sys, time, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_double  # noqa: E402

seconds = int(os.environ.get("SOAK_SECONDS", "600"))
rate = float(os.environ.get("SOAK_RATE", "20"))
binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(bench_double.root, "build", "ferry")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


async def idle_flood(port, n, stop):
    async def one():
        while not stop.is_set():
            try:
                r, w = await asyncio.open_connection("127.0.0.1", port)
                await r.read()  # until ferry closes it (shed, or idle timeout)
                w.close()
            except OSError:
                await asyncio.sleep(0.1)
    await asyncio.gather(*(one() for _ in range(n)))


async def slowloris(port, n, stop):
    async def one():
        while not stop.is_set():
            try:
                r, w = await asyncio.open_connection("127.0.0.1", port)
                for ch in b"POST /webhook HTTP/1.1\r\nHost: ferry\r\nX-Slow: " + b"a" * 1000:
                    if stop.is_set():
                        break
                    w.write(bytes([ch]))
                    await w.drain()
                    await asyncio.sleep(5)
                w.close()
            except OSError:
                await asyncio.sleep(0.5)
    await asyncio.gather(*(one() for _ in range(n)))


async def big_bodies(port, n, stop, answers):
    chunk = b"x" * 65536
    size = 26_000_000

    async def one():
        while not stop.is_set():
            try:
                r, w = await asyncio.open_connection("127.0.0.1", port)
                w.write(b"POST /webhook HTTP/1.1\r\nHost: ferry\r\nContent-Type: application/json\r\n"
                        b"X-GitHub-Event: push\r\nX-GitHub-Delivery: x\r\nX-Hub-Signature-256: sha256=00\r\n"
                        + f"Content-Length: {size}\r\n\r\n".encode())
                sent = 0
                reader = asyncio.ensure_future(r.readline())
                while sent < size and not reader.done() and not stop.is_set():
                    w.write(chunk)
                    await w.drain()
                    sent += len(chunk)
                status = (await asyncio.wait_for(reader, 30)).split(b" ")[1:2]
                answers[status[0].decode() if status else "none"] = answers.get(status[0].decode() if status else "none", 0) + 1
                w.close()
            except (OSError, asyncio.TimeoutError, IndexError):
                answers["broken"] = answers.get("broken", 0) + 1
                await asyncio.sleep(0.1)
    await asyncio.gather(*(one() for _ in range(n)))


async def signed(port, stop, outcomes):
    secret = bench_double.secret.encode()
    web = bench_double.package_payload("web")
    tick = 0

    async def post(event, payload):
        body = json.dumps(payload).encode()
        sig = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"POST /webhook HTTP/1.1\r\nHost: ferry\r\nConnection: close\r\nContent-Type: application/json\r\n"
                    + f"X-GitHub-Event: {event}\r\nX-GitHub-Delivery: {uuid.uuid4()}\r\n"
                      f"X-Hub-Signature-256: {sig}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
            await w.drain()
            line = await asyncio.wait_for(r.readline(), 30)
            status = line.split(b" ")[1].decode()
            w.close()
        except (OSError, asyncio.TimeoutError, IndexError):
            status = "broken"
        outcomes[f"{event} {status}"] = outcomes.get(f"{event} {status}", 0) + 1

    while not stop.is_set():
        tick += 1
        if tick % int(rate * 10) == 0:
            asyncio.ensure_future(post("package", bench_double.package_payload("app")))
        elif tick % 2 == 0:
            asyncio.ensure_future(post("package", web))
        else:
            asyncio.ensure_future(post("ping", {"zen": "soak", "hook_id": 1}))
        await asyncio.sleep(1 / rate)


# The prober is its own process, as the kubelet is: the attackers' event loop (and Python's GIL)
# must not delay it and be mistaken for ferry's latency.
PROBER = r"""
import socket, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
until = time.time() + seconds
while time.time() < until:
    t0 = time.perf_counter()
    ok = False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: ferry\r\nConnection: close\r\n\r\n")
            ok = b" 200 " in c.recv(64)
    except OSError:
        pass
    print(f"{(time.perf_counter() - t0) * 1000:.3f} {int(ok)}", flush=True)
    time.sleep(0.2)
"""


async def main(s):
    stop = asyncio.Event()
    answers, outcomes = {}, {}
    samples, probes, failed_probes = [], [], 0
    start = time.time()
    samples.append((0, rss_mib(s.pid), fds(s.pid)))
    tasks = [asyncio.ensure_future(idle_flood(s.port, 1100, stop)),
             asyncio.ensure_future(slowloris(s.port, 100, stop)),
             asyncio.ensure_future(big_bodies(s.port, 30, stop, answers)),
             asyncio.ensure_future(signed(s.port, stop, outcomes))]
    prober = await asyncio.create_subprocess_exec(sys.executable, "-c", PROBER, str(s.health_port),
                                                  str(seconds), stdout=asyncio.subprocess.PIPE)
    while time.time() - start < seconds:
        await asyncio.sleep(1)
        samples.append((int(time.time() - start), rss_mib(s.pid), fds(s.pid)))
    out, _ = await prober.communicate()
    for line in out.decode().split("\n"):
        if line:
            ms, ok = line.split()
            probes.append(float(ms))
            failed_probes += 0 if ok == "1" else 1
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(5)  # the attackers' sockets are gone; ferry notices and closes its ends
    samples.append((int(time.time() - start), rss_mib(s.pid), fds(s.pid)))
    peak_rss = max(samples, key=lambda x: x[1])
    peak_fds = max(samples, key=lambda x: x[2])
    q = statistics.quantiles(probes, n=100)
    print(f"soak: {seconds} s, {rate:g} signed deliveries/s, idle flood 1100, slowloris 100, 30 x 26 MB unsigned bodies")
    print(f"RSS MiB: start {samples[0][1]:.1f}, peak {peak_rss[1]:.1f} (at {peak_rss[0]} s), "
          f"under attack at the end {samples[-2][1]:.1f}, after {samples[-1][1]:.1f}")
    print(f"open fds: start {samples[0][2]}, peak {peak_fds[2]} (at {peak_fds[0]} s), "
          f"under attack at the end {samples[-2][2]}, after {samples[-1][2]}")
    print(f"/healthz on the health listener: {len(probes)} probes, p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms, "
          f"max {max(probes):.2f} ms, failed {failed_probes}")
    print("signed deliveries:", dict(sorted(outcomes.items())))
    print("large unsigned bodies answered:", dict(sorted(answers.items())))


with bench_double.start(binary, {"FERRY_HEALTH_LISTEN": "127.0.0.1:0", "FERRY_LOG_LEVEL": "info"}) as s:
    asyncio.run(main(s))
