#!/usr/bin/env bash
# The one place that knows ferry's build and test dependencies. README, .ci/run, the CI
# workflow and infra/Dockerfile all call it, so a fresh Debian 12 machine needs nothing else.
#   infra/install-deps.sh          build + run dependencies
#   infra/install-deps.sh --test   also test tooling (git http-backend, wrk, clang/libFuzzer, npm packages,
#                                  etcd + a kube-apiserver v1.20 built once per machine, kubectl 1.20)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

build_pkgs=(
  build-essential cmake ninja-build pkg-config ccache git ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libgit2-dev libyaml-cpp-dev libsimdjson-dev libre2-dev
  libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# mmdebstrap + bubblewrap: infra/check-image-rootfs.sh (the image's runtime packages, proven without Docker).
test_pkgs=(wrk clang libclang-rt-14-dev clang-format curl openssl etcd-server mmdebstrap bubblewrap python3-yaml)

pkgs=("${build_pkgs[@]}")
[ "$want_test" -eq 1 ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "$want_test" -eq 1 ]; then
  # Contract tooling (GitHub's and Kubernetes' published schemas, example deliveries).
  if ! command -v npm >/dev/null 2>&1; then
    $sudo apt-get install -y -qq --no-install-recommends nodejs npm
  fi
  (cd "$here/test" && npm ci --no-audit --no-fund --loglevel=error)
  # The kube-real test's API server: built from Debian's kubernetes source package (5-15 minutes
  # on 2 cores the first time), cached in $HOME/.cache/ferry-kube and reused after that.
  "$here/test/kube-real/build-apiserver.sh"
fi
