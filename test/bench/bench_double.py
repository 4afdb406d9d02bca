"""Shared set-up of the benchmarks that run `ferry serve` against the GitHub double.

start() launches test/doubles/github/server.js with the example infra repo
(infra/example-infra as dine-together/infra, installation 7, auto-merge left pending so PRs stay
open) and `ferry serve` pointed at it with debug logs; deliver() signs and POSTs one delivery.
"""
import contextlib, hashlib, hmac, json, os, secrets, subprocess, tempfile, time, urllib.request, uuid

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
secret = "bench-secret"


def wait_line(path, needle, deadline=60):
    until = time.time() + deadline
    while time.time() < until:
        with open(path) as f:
            for line in f:
                if needle in line:
                    return line
        time.sleep(0.02)
    raise SystemExit(f"no {needle!r} in {path}")


def call(url, method="GET", body=None):
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"content-type": "application/json", "user-agent": "bench"})
    with urllib.request.urlopen(req) as r:
        return r.status, r.read()


class setup:
    def __init__(self, tmp, double_url, port, ferry_log, pid=None, health_port=None):
        self.tmp, self.double_url, self.port, self.ferry_log = tmp, double_url, port, ferry_log
        self.pid, self.health_port = pid, health_port

    def control(self, path, method="GET", body=None):
        return call(self.double_url + path, method, body)

    def deliver(self, event, payload, delivery_id=None):
        body = json.dumps(payload).encode()
        sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/webhook", data=body, method="POST", headers={
            "content-type": "application/json", "x-github-event": event,
            "x-github-delivery": delivery_id or str(uuid.uuid4()), "x-hub-signature-256": sig})
        t0 = time.perf_counter()
        with urllib.request.urlopen(req) as r:
            status = r.status
        return status, (time.perf_counter() - t0) * 1000


def package_payload(name, tag=None):
    """A GHCR `package` delivery for ghcr.io/dine-together/<name> with a new sha-<hex> tag."""
    p = json.load(open(f"{root}/fixtures/github/package.published.ghcr-multiarch-index.json"))
    pkg = p["package"]
    pkg["name"], pkg["owner"]["login"] = name, "dine-together"
    pkg["package_version"]["container_metadata"]["tag"]["name"] = tag or "sha-" + secrets.token_hex(4)[:7]
    p["repository"]["name"], p["repository"]["full_name"] = name, f"dine-together/{name}"
    p["repository"]["owner"]["login"] = "dine-together"
    p["installation"] = {"id": 7}
    return p


@contextlib.contextmanager
def start(binary, extra_env=None):
    tmp = tempfile.mkdtemp(prefix="ferry-bench-")
    dlog, flog = open(f"{tmp}/double.log", "w"), open(f"{tmp}/ferry.log", "w")
    double = subprocess.Popen(["node", f"{root}/test/doubles/github/server.js", "--port", "0", "--state-dir",
                               f"{tmp}/d"], stdout=dlog, stderr=subprocess.STDOUT)
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
        env.update(extra_env or {})
        ferry = subprocess.Popen([binary, "serve"], stdout=flog, stderr=subprocess.STDOUT, env=env)
        try:
            port = json.loads(wait_line(f"{tmp}/ferry.log", '"listening"'))["port"]
            health_port = None
            if "FERRY_HEALTH_LISTEN" in env:
                health_port = json.loads(wait_line(f"{tmp}/ferry.log", '"listener":"health"'))["port"]
            yield setup(tmp, info["url"], port, f"{tmp}/ferry.log", ferry.pid, health_port)
        finally:
            ferry.terminate()
            ferry.wait()
    finally:
        double.terminate()
        double.wait()
