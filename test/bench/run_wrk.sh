#!/usr/bin/env bash
# Throughput of `ferry serve` for a signed 14 KB registry_package delivery: the server pinned to
# one core, wrk (one thread, 64 connections) on another, a warm-up run first, then the measured
# run. Target (issue 14): >= 45,000 req/s, p99 < 2 ms, peak RSS < 30 MiB, 0 non-2xx.
#
# usage: test/bench/run_wrk.sh [FERRY_BINARY]        (default: build/ferry)
#
# By default the delivery is one ferry answers 204 without any GitHub call: GitHub's example
# registry_package body for a "docker" package (not a container image: handlers/
# package_published.cpp decide_package ignores it), so the figure is the ingress's own (read,
# HMAC over the raw bytes, JSON parse, dispatch, answer). serve needs no GitHub and no cluster
# for it: unless the caller sets them, the script makes a throw-away App key and points
# FERRY_GITHUB_API_URL at a closed port (a delivery that did call GitHub would answer 503 and
# count as non-2xx).
#
# environment:
#   FERRY_*            passed through to `ferry serve`; FERRY_LISTEN and FERRY_WEBHOOK_SECRET
#                      are set by this script, FERRY_APP_ID, FERRY_PRIVATE_KEY_FILE,
#                      FERRY_INFRA_REPOS, FERRY_GITHUB_API_URL and FERRY_CACHE_DIR defaulted
#   FERRY_SERVE_CMD    command that starts the server instead of "FERRY_BINARY serve"
#   BENCH_DURATION     measured wrk run (default 10s)   BENCH_WARMUP  warm-up run (default 3s, 0: none)
#   BENCH_CONNECTIONS  (default 64)
#   BENCH_SERVER_CPU   core for the server (default 0)  BENCH_CLIENT_CPU   (default 1)
#   BENCH_BODY_BYTES   body size (default 14336)        BENCH_EVENT        (registry_package)
#   BENCH_PACKAGE_TYPE package_type in the body (default docker: ignored before any API call).
#                      CONTAINER makes it a container image no rule names; point
#                      FERRY_GITHUB_API_URL at a GitHub double (test/doubles/github) for that.
#   BENCH_PERF         a path: also `perf record -g` the server during the measured run into it
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
binary="${1:-${FERRY_BINARY:-$root/build/ferry}}"
duration="${BENCH_DURATION:-10s}"
connections="${BENCH_CONNECTIONS:-64}"
server_cpu="${BENCH_SERVER_CPU:-0}"
client_cpu="${BENCH_CLIENT_CPU:-1}"
body_bytes="${BENCH_BODY_BYTES:-14336}"
package_type="${BENCH_PACKAGE_TYPE:-docker}"
warmup="${BENCH_WARMUP:-3s}"
event="${BENCH_EVENT:-registry_package}"
fixture="$root/fixtures/github/registry_package.published.docker-example.json"

for tool in wrk taskset openssl python3 curl; do
  command -v "$tool" >/dev/null || { echo "run_wrk.sh: $tool is required" >&2; exit 2; }
done
[[ -r "$fixture" ]] || { echo "run_wrk.sh: cannot read $fixture" >&2; exit 2; }
if [[ -z "${FERRY_SERVE_CMD:-}" && ! -x "$binary" ]]; then
  echo "run_wrk.sh: $binary is not an executable (build it, or pass its path)" >&2
  exit 2
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The body: GitHub's example registry_package delivery, made to look like a GHCR container
# publication for an image no rule names. The example's npm-style package_version.body (5 KB)
# is dropped, as real GHCR deliveries have none; an extra key pads the result to the requested
# size (receivers ignore unknown keys; GitHub adds fields over time).
python3 - "$fixture" "$work/body.json" "$body_bytes" "$package_type" <<'PY'
import json, sys
src, dst, size, package_type = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
d = json.load(open(src))
p = d["registry_package"]
p["name"] = "ferry-bench-no-rule-matches"
p["package_type"] = package_type
p["ecosystem"] = package_type.upper()
v = p["package_version"]
digest = "sha256:" + "ab" * 32
v["name"] = v["version"] = digest
v.pop("body", None)
v["container_metadata"]["tag"] = {"name": "sha-0123456", "digest": digest}
body = json.dumps(d, separators=(",", ":"))
if len(body) < size:
    d["ferry_bench_padding"] = ""
    body = json.dumps(d, separators=(",", ":"))
    d["ferry_bench_padding"] = "x" * max(0, size - len(body))
    body = json.dumps(d, separators=(",", ":"))
open(dst, "w").write(body)
PY

secret="ferry-bench-$(openssl rand -hex 16)"
hex="$(openssl dgst -sha256 -hmac "$secret" -r "$work/body.json" | cut -d' ' -f1)"
printf 'sha256=%s' "$hex" >"$work/signature"

# A free port: bind port 0, read what the kernel chose, release it.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

export FERRY_LISTEN="127.0.0.1:$port"
export FERRY_WEBHOOK_SECRET="$secret"
# What serve requires, when the caller did not say: nothing here is ever contacted.
if [[ -z "${FERRY_PRIVATE_KEY_FILE:-}" ]]; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/app.pem" 2>/dev/null
  export FERRY_PRIVATE_KEY_FILE="$work/app.pem"
fi
export FERRY_APP_ID="${FERRY_APP_ID:-1}"
export FERRY_INFRA_REPOS="${FERRY_INFRA_REPOS:-ferry-bench/infra}"
export FERRY_GITHUB_API_URL="${FERRY_GITHUB_API_URL:-http://127.0.0.1:1}"
export FERRY_CACHE_DIR="${FERRY_CACHE_DIR:-$work/cache}"
if [[ -n "${FERRY_SERVE_CMD:-}" ]]; then
  # shellcheck disable=SC2086
  taskset -c "$server_cpu" $FERRY_SERVE_CMD >"$work/server.log" 2>&1 &
else
  taskset -c "$server_cpu" "$binary" serve >"$work/server.log" 2>&1 &
fi
server_pid=$!

deadline=$((SECONDS + 20))
until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run_wrk.sh: the server exited; its output:" >&2
    cat "$work/server.log" >&2
    server_pid=""
    exit 1
  fi
  if ((SECONDS > deadline)); then
    echo "run_wrk.sh: the server did not become ready on port $port" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.1
done

# One delivery first, to show what the server answers (expected: 204, ignored).
status="$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/webhook" \
  -H 'Content-Type: application/json' -H "X-GitHub-Event: $event" \
  -H 'X-GitHub-Delivery: 00000000-0000-4000-8000-000000000001' \
  -H "X-Hub-Signature-256: $(cat "$work/signature")" --data-binary "@$work/body.json")"
echo "body: $(wc -c <"$work/body.json") bytes, event $event, first answer: HTTP $status"

export FERRY_BENCH_BODY_FILE="$work/body.json" FERRY_BENCH_SIGNATURE_FILE="$work/signature"
export FERRY_BENCH_EVENT="$event"
if [[ "$warmup" != "0" && "$warmup" != "0s" ]]; then
  # Warm-up: connections open, buffers and the JSON parser grown, caches and branch predictors
  # trained. Not reported.
  taskset -c "$client_cpu" wrk -t1 -c"$connections" -d"$warmup" \
    -s "$here/wrk_webhook.lua" "http://127.0.0.1:$port/webhook" >/dev/null
fi
perf_pid=""
if [[ -n "${BENCH_PERF:-}" ]]; then
  perf record -g -o "$BENCH_PERF" -p "$server_pid" 2>"$work/perf.log" &
  perf_pid=$!
  sleep 0.5
fi
# The server's CPU time (user + system, in clock ticks) around the measured run: CPU per
# request is the figure that does not depend on what else the machine runs.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
ticks_before="$(cpu_ticks)"
taskset -c "$client_cpu" wrk -t1 -c"$connections" -d"$duration" --latency \
  -s "$here/wrk_webhook.lua" "http://127.0.0.1:$port/webhook" | tee "$work/wrk.txt"
ticks_after="$(cpu_ticks)"
if [[ -n "$perf_pid" ]]; then
  kill -INT "$perf_pid"
  wait "$perf_pid" || true
  echo "perf profile of the measured run: $BENCH_PERF (perf report -i $BENCH_PERF)"
fi

rps="$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.txt")"
p50="$(awk '/^ +50%/ {print $2}' "$work/wrk.txt")"
p99="$(awk '/^ +99%/ {print $2}' "$work/wrk.txt")"
non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$work/wrk.txt")"
hwm="$(awk '/^VmHWM:/ {print $2 " " $3}' "/proc/$server_pid/status")"
requests="$(awk '/ requests in / {print $1}' "$work/wrk.txt")"
cpu_us="$(awk -v t="$((ticks_after - ticks_before))" -v hz="$(getconf CLK_TCK)" -v n="$requests" \
  'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "n/a" }')"

kill -TERM "$server_pid"
exit_code=0
wait "$server_pid" || exit_code=$?
server_pid=""

echo
echo "requests/s:        $rps"
echo "latency p50 / p99: $p50 / $p99"
echo "non-2xx answers:   ${non2xx:-0}"
echo "server peak RSS:   $hwm (VmHWM)"
echo "server CPU/request: $cpu_us us (user + system; 1 core at 45,000 req/s allows 22.2 us)"
echo "serve exit code after SIGTERM: $exit_code"
