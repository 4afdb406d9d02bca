#!/bin/sh
# Runs the test doubles' own tests (node --test): the GitHub double and the Kubernetes double. Exits non-zero when any test fails.
# Usage: test/doubles/run-tests.sh   (from anywhere; installs test/node_modules with npm ci
# when it is missing)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
test_dir=$(dirname "$here")
if [ ! -f "$test_dir/node_modules/@octokit/openapi/generated/api.github.com.deref.json" ]; then
  (cd "$test_dir" && npm ci --no-audit --no-fund)
fi
command -v git >/dev/null || { echo "run-tests.sh: git is required" >&2; exit 2; }
[ -x /usr/lib/git-core/git-http-backend ] || { echo "run-tests.sh: /usr/lib/git-core/git-http-backend is required" >&2; exit 2; }
command -v openssl >/dev/null || { echo "run-tests.sh: openssl is required (kube double PKI)" >&2; exit 2; }
cd "$test_dir"
exec node --test --test-reporter=spec "$here"/github/*.test.js "$here"/kube/*.test.js
