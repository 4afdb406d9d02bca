#!/usr/bin/env bash
# Build the real kube-apiserver the kube-real test runs (upstream v1.20.2), offline, from Debian 12's
# own `kubernetes` source package with Debian's Go 1.19, into a per-machine cache. Also unpacks
# Debian 12's kubectl (kubernetes-client 1.20) next to it, without installing it.
#
#   test/kube-real/build-apiserver.sh [--check]
#     --check   only say whether the cache is complete (exit 0) or not (exit 1); builds nothing
#
# Env:
#   FERRY_KUBE_CACHE   cache dir [$HOME/.cache/ferry-kube]; binaries land in $FERRY_KUBE_CACHE/bin
#   FERRY_KUBE_KEEP=1  keep the work dir ($FERRY_KUBE_CACHE/build, ~1.5 GB) after a build
#
# Why a build: no Debian package ships kube-apiserver (bookworm has only kubernetes-client), and
# only Debian's archive and npm are reachable from CI. Bookworm's source package is upstream's
# release tarball with its whole vendor/ tree, so it builds with nothing downloaded.
# The build takes 5-15 minutes on 2 cores (14.7 measured on a busy machine) and ~3 GB of disk while it runs; a binary that already
# reports the wanted version is kept, so CI on one machine pays it once.
set -euo pipefail

CACHE=${FERRY_KUBE_CACHE:-$HOME/.cache/ferry-kube}
BIN=$CACHE/bin
WORK=$CACHE/build
# Pinned: the test's expectations (served API groups, feature gates) are those of this release.
SRC_VERSION=1.20.5+really1.20.2-1.1+deb12u1
WANT=v1.20.2
GO=/usr/lib/go-1.19/bin/go

say() { printf 'build-apiserver: %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 1; }

have_apiserver() { [ -x "$BIN/kube-apiserver" ] && "$BIN/kube-apiserver" --version 2>/dev/null | grep -qx "Kubernetes $WANT"; }
have_kubectl120() { [ -x "$BIN/kubectl-1.20" ] && "$BIN/kubectl-1.20" version --client --short 2>/dev/null | grep -q 'v1\.20\.'; }

if [ "${1:-}" = --check ]; then
  have_apiserver && have_kubectl120 && exit 0
  exit 1
fi

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$BIN"

apt_ready=0
apt_update() { [ "$apt_ready" = 1 ] || { $sudo apt-get update -qq; apt_ready=1; }; }

# ---- kubectl 1.20 (Debian 12's kubernetes-client) -----------------------------------------------
# It conflicts with the `kubectl` 1.32 package many machines have, so it is unpacked, not installed.
if ! have_kubectl120; then
  apt_update
  tmp=$(mktemp -d)
  chmod 755 "$tmp"  # apt's _apt user downloads into it
  ( cd "$tmp" && apt-get download -q kubernetes-client >/dev/null ) || fail "apt-get download kubernetes-client failed"
  dpkg-deb -x "$tmp"/kubernetes-client_*.deb "$tmp/root"
  install -m 0755 "$tmp/root/usr/bin/kubectl" "$BIN/kubectl-1.20"
  rm -rf "$tmp"
  have_kubectl120 || fail "the unpacked kubectl does not report v1.20"
  say "kubectl 1.20 at $BIN/kubectl-1.20"
fi

if have_apiserver; then
  say "kube-apiserver $WANT already in $BIN"
  exit 0
fi

started=$SECONDS
# ---- build dependencies -------------------------------------------------------------------------
apt_update
$sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends --no-upgrade \
  golang-1.19-go golang-github-modern-go-reflect2-dev dpkg-dev ca-certificates >/dev/null
[ -x "$GO" ] || fail "$GO missing after installing golang-1.19-go"
reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
[ -f "$reflect2/go_above_118.go" ] || fail "Debian's reflect2 >= 1.0.2 sources not in $reflect2"

# ---- the source package -------------------------------------------------------------------------
# apt-get source needs deb-src lines; the machine's apt config usually has none. A temporary
# sources file pointing at the archives apt already uses is added and removed again on every exit.
mirror_for() { # suite -> first URI apt uses for it (deb822 .sources or one-line .list)
  { cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
      | awk -v s="$1" '/^URIs:/{u=$2} /^Suites:/{for(i=2;i<=NF;i++) if($i==s){print u; exit}}'
    grep -hE "^deb +(\[[^]]*\] +)?[^ ]+ +$1 " /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | sed -E 's/^deb +(\[[^]]*\] +)?//' | awk '{print $1; exit}'; } | head -1 || true; }
src_list=/etc/apt/sources.list.d/ferry-kube-real-src.sources
drop_src_list() { [ -f "$src_list" ] && { $sudo rm -f "$src_list"; $sudo apt-get update -qq || true; }; return 0; }

src=$WORK/src
if [ ! -f "$src/.unpacked" ]; then
  main_uri=$(mirror_for bookworm)
  sec_uri=$(mirror_for bookworm-security)
  [ -n "$main_uri" ] || fail "apt has no bookworm archive configured"
  [ -n "$sec_uri" ] || sec_uri=http://deb.debian.org/debian-security
  rm -rf "$src"
  mkdir -p "$src"
  trap drop_src_list EXIT
  $sudo tee "$src_list" >/dev/null <<SOURCES
# Temporary, written by ferry's test/kube-real/build-apiserver.sh and removed when it exits.
Types: deb-src
URIs: $main_uri
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: $sec_uri
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  $sudo apt-get update -qq
  say "apt-get source kubernetes=$SRC_VERSION"
  # apt-get source checks the .dsc against the signed Release files and applies debian/patches
  # (they touch kubectl printing only).
  # A later Debian security update replaces the pinned version on the mirror: then take the one
  # bookworm has now (still upstream 1.20.2, "really1.20.2"), and say so.
  if ! (cd "$src" && apt-get source -q "kubernetes=$SRC_VERSION") >"$WORK/source.log" 2>&1; then
    say "warning: kubernetes=$SRC_VERSION is not on the mirror; taking bookworm's current version"
    rm -rf "${src:?}"/*
    (cd "$src" && apt-get source -q kubernetes) >"$WORK/source.log" 2>&1 \
      || { tail -20 "$WORK/source.log" >&2; fail "apt-get source failed (log: $WORK/source.log)"; }
  fi
  drop_src_list
  trap - EXIT
  touch "$src/.unpacked"
fi
ksrc=$(find "$src" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -1)
[ -n "$ksrc" ] && [ -d "$ksrc/cmd/kube-apiserver" ] || fail "no kubernetes-*/cmd/kube-apiserver in $src"

# The vendored github.com/modern-go/reflect2 1.0.1 reads Go runtime internals that changed in Go
# 1.18: an apiserver built with it panics at run time. Debian's 1.0.2 is a drop-in replacement.
vr=$ksrc/vendor/github.com/modern-go/reflect2
if [ ! -f "$vr/go_above_118.go" ]; then
  find "$vr" -maxdepth 1 -type f ! -name LICENSE -delete
  cp "$reflect2"/*.go "$reflect2"/*.s "$vr"/
fi

# GOPATH mode with the vendor tree, nothing fetched (GOPROXY=off), static binary.
export GOPATH=$WORK/gopath GOCACHE=$WORK/gocache GO111MODULE=off GOPROXY=off GOFLAGS= \
  CGO_ENABLED=0 GOTOOLCHAIN=local PATH=/usr/lib/go-1.19/bin:$PATH
mkdir -p "$GOPATH/src/k8s.io"
ln -sfn "$ksrc" "$GOPATH/src/k8s.io/kubernetes"
cd "$GOPATH/src/k8s.io/kubernetes"

# pkg/generated/openapi/zz_generated.openapi.go is made by upstream's `make`, not shipped in the
# tarball. The inputs are the packages Makefile.generated_files selects: dirs whose Go files carry
# a `+k8s:` tag and `+k8s:openapi-gen=`, minus code-generator and sample-apiserver.
openapi=pkg/generated/openapi/zz_generated.openapi.go
if [ ! -s "$openapi" ]; then
  say "generating $openapi"
  $GO build -o "$WORK/openapi-gen" k8s.io/kubernetes/vendor/k8s.io/kube-openapi/cmd/openapi-gen
  hack/make-rules/helpers/cache_go_dirs.sh "$WORK/go_dirs.mk" >"$WORK/go_dirs.txt"
  # shellcheck disable=SC2046 # one dir per word is what find wants here
  find $(cat "$WORK/go_dirs.txt") -maxdepth 1 -type f -name '*.go' -print0 \
    | { xargs -0 grep -l '^// *+k8s:' || true; } \
    | { grep -v -e '^vendor/k8s.io/code-generator/' -e '^vendor/k8s.io/sample-apiserver/' || true; } \
    | { xargs grep -l '+k8s:openapi-gen=' || true; } \
    | xargs -n1 dirname | LC_ALL=C sort -u >"$WORK/openapi-dirs.txt"
  [ -s "$WORK/openapi-dirs.txt" ] || fail "no +k8s:openapi-gen packages found"
  "$WORK/openapi-gen" --logtostderr --v 0 \
    -i "$(sed 's|^|k8s.io/kubernetes/|' "$WORK/openapi-dirs.txt" | paste -sd, -)" \
    -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
    -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
    -r "$WORK/api-rule-violations.txt" --output-base "$GOPATH/src" >"$WORK/openapi-gen.log" 2>&1 \
    || { tail -20 "$WORK/openapi-gen.log" >&2; fail "openapi-gen failed (log: $WORK/openapi-gen.log)"; }
  [ -s "$openapi" ] || fail "openapi-gen wrote no $openapi"
  # Upstream's make rule compares this report with the known list; equal means same inputs.
  diff -q "$WORK/api-rule-violations.txt" api/api-rules/violation_exceptions.list >/dev/null \
    || say "warning: the API rule report differs from api/api-rules/violation_exceptions.list"
fi

# The version variables hack/lib/version.sh sets, so /version says 1.20 like a release build.
commit=$(sed -n 's/^[[:space:]]*gitCommit[[:space:]]*=[[:space:]]*"\([0-9a-f]\{40\}\)".*/\1/p' \
  staging/src/k8s.io/component-base/version/base.go)
ldflags="-s -w"
for p in k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version k8s.io/kubernetes/vendor/k8s.io/component-base/version; do
  ldflags+=" -X $p.gitVersion=$WANT -X $p.gitMajor=1 -X $p.gitMinor=20 -X $p.gitTreeState=clean"
  [ -z "$commit" ] || ldflags+=" -X $p.gitCommit=$commit"
done
say "go build cmd/kube-apiserver (the long step)"
$GO build -o "$BIN/kube-apiserver.new" -ldflags "$ldflags" k8s.io/kubernetes/cmd/kube-apiserver
mv "$BIN/kube-apiserver.new" "$BIN/kube-apiserver"
have_apiserver || fail "the built kube-apiserver does not report $WANT"
say "kube-apiserver $WANT built in $((SECONDS - started)) s: $BIN/kube-apiserver"

cd /
if [ "${FERRY_KUBE_KEEP:-0}" != 1 ]; then
  chmod -R u+w "$WORK" 2>/dev/null || true
  rm -rf "$WORK"
fi
