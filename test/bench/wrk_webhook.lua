-- wrk script: POST one signed GitHub delivery to /webhook on every request.
--
-- wrk's Lua has no HMAC, so the caller computes the signature (see run_wrk.sh):
--   FERRY_BENCH_BODY_FILE       path of the JSON body to send (required)
--   FERRY_BENCH_SIGNATURE       "sha256=<hex>" of that body under the webhook secret, or
--   FERRY_BENCH_SIGNATURE_FILE  a file holding it
--   FERRY_BENCH_EVENT           X-GitHub-Event (default registry_package)
--
-- The request is built once (wrk.method/body/headers), so wrk sends the same bytes every time
-- and the client spends no CPU formatting requests.

local function read_all(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
  local data = f:read("*a")
  f:close()
  return data
end

local body_file = os.getenv("FERRY_BENCH_BODY_FILE")
assert(body_file, "FERRY_BENCH_BODY_FILE is not set")

local signature = os.getenv("FERRY_BENCH_SIGNATURE")
if signature == nil or signature == "" then
  local sig_file = os.getenv("FERRY_BENCH_SIGNATURE_FILE")
  assert(sig_file, "set FERRY_BENCH_SIGNATURE or FERRY_BENCH_SIGNATURE_FILE")
  signature = read_all(sig_file):gsub("%s+$", "")
end
assert(signature:match("^sha256=%x+$") and #signature == 71, "bad signature: " .. signature)

wrk.method = "POST"
wrk.body = read_all(body_file)
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "GitHub-Hookshot/ferry-bench"
wrk.headers["X-GitHub-Event"] = os.getenv("FERRY_BENCH_EVENT") or "registry_package"
wrk.headers["X-GitHub-Delivery"] = "00000000-0000-4000-8000-000000000000"
wrk.headers["X-GitHub-Hook-ID"] = "1"
wrk.headers["X-Hub-Signature-256"] = signature

-- No response() callback: defining one makes wrk hand every response to Lua, which would
-- make the client, not the server, the bottleneck. done() reads wrk's own counters.
function done(summary, latency, requests)
  io.write(string.format("ferry-bench: %d requests, %d non-2xx/3xx, %d socket errors\n",
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
