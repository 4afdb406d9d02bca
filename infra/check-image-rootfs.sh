#!/usr/bin/env bash
# Proves the container image's runtime package list is complete without Docker (no base image
# can be pulled here): builds a Debian 12 root filesystem with exactly the packages of
# infra/runtime-packages.txt on a minbase system (what debian:12-slim is), copies the ferry
# binary in, and runs it as uid/gid 65532 on a read-only root, as the manifests do:
#   - no shared library is missing (ldd inside the root),
#   - `ferry version` runs,
#   - `ferry demo` runs and prints exactly what the same binary prints on the host,
#   - `sleep` exists (the Deployment's preStop hook runs it).
#
#   infra/check-image-rootfs.sh [path/to/ferry]      # default: build/ferry
#
# The root filesystem is cached as a tarball keyed by the package list
# ($FERRY_ROOTFS_CACHE, default ~/.cache/ferry-rootfs), so CI on one machine builds it once.
# Needs root (mmdebstrap's root mode, chroot) and mmdebstrap + bubblewrap (install-deps --test).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
binary=$(realpath "${1:-$here/build/ferry}")
list=$here/infra/runtime-packages.txt
cache=${FERRY_ROOTFS_CACHE:-$HOME/.cache/ferry-rootfs}
uid=65532

log() { printf 'check-image-rootfs: %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

[ -x "$binary" ] || fail "no ferry binary at $binary (build it first)"
for tool in mmdebstrap bwrap chroot; do
  command -v "$tool" >/dev/null || fail "$tool missing (infra/install-deps.sh --test installs it)"
done
packages=$(grep -vE '^[[:space:]]*(#|$)' "$list" | tr -d ' ' | paste -sd, -)
[ -n "$packages" ] || fail "$list lists no package"
# The Dockerfile must install this same list (one source of truth).
grep -q 'COPY infra/runtime-packages.txt' "$here/infra/Dockerfile" \
  || fail "infra/Dockerfile does not install infra/runtime-packages.txt"

mkdir -p "$cache"
key=$( (cat "$list"; echo bookworm minbase) | sha256sum | cut -c1-16)
tarball=$cache/rootfs-$key.tar
start=$SECONDS
if [ ! -s "$tarball" ]; then
  log "building the root filesystem (bookworm, minbase + $packages)"
  mmdebstrap --quiet --format=tar --variant=minbase --include="$packages" bookworm "$tarball.tmp" \
    || fail "mmdebstrap failed: a package of $list may not exist in bookworm"
  mv "$tarball.tmp" "$tarball"
  # Keep only this list's rootfs.
  find "$cache" -name 'rootfs-*.tar' ! -name "rootfs-$key.tar" -delete
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
tar -C "$root" -xf "$tarball"
install -m 0755 "$binary" "$root/usr/local/bin/ferry"

missing=$(chroot "$root" /usr/bin/ldd /usr/local/bin/ferry | grep 'not found' || true)
[ -z "$missing" ] || fail "shared libraries missing from the runtime packages:
$missing"
[ -x "$root/bin/sleep" ] || fail "no /bin/sleep in the root (the preStop hook runs it)"

# Read-only root, uid/gid 65532, a private /tmp, nothing of the host: as in the Deployment.
run_in_root() {
  bwrap --ro-bind "$root" / --proc /proc --dev /dev --tmpfs /tmp --chdir /tmp \
    --unshare-all --uid "$uid" --gid "$uid" --die-with-parent --clearenv \
    --setenv PATH /usr/local/bin:/usr/bin:/bin "$@"
}
[ "$(run_in_root /usr/bin/id -u)" = "$uid" ] || fail "not running as uid $uid"
if run_in_root /usr/bin/touch /probe 2>/dev/null; then fail "the root is writable"; fi
run_in_root /usr/local/bin/ferry version >/dev/null || fail "ferry version failed in the root"
in_root=$(run_in_root /usr/local/bin/ferry demo) || fail "ferry demo failed in the root"
on_host=$(cd "$(mktemp -d)" && env -i PATH=/usr/bin:/bin "$binary" demo) || fail "ferry demo failed on the host"
[ "$in_root" = "$on_host" ] || { diff <(echo "$on_host") <(echo "$in_root") >&2 || true;
  fail "ferry demo printed something else in the root"; }
log "ok: $(grep -c . <<<"$in_root") lines of demo output identical; uid $uid; read-only root; $(( SECONDS - start )) s"
