#!/bin/sh
# Times the marker scan + edit + diff (what `ferry plan` runs) against `grep -rl '$imagepolicy'`
# over the same generated monorepo (test/bench/gen_monorepo.py: 10,000 YAML files, ~50 MB,
# 2,000 markers), both warm, in the same run, and prints the ratio. Target: within 2x of grep.
#
# usage: test/bench/run_monorepo_bench.sh [path/to/markers_bench] [runs]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bench=${1:-$here/../../build/test/bench/markers_bench}
runs=${2:-10}
if [ ! -x "$bench" ]; then
  echo "build it first: cmake --build build --target markers_bench" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
python3 "$here/gen_monorepo.py" "$tmp/repo"

ours="$bench --plan-once $tmp/repo app-7"
theirs="grep -rl \$imagepolicy $tmp/repo"

# Warm the page cache and the binaries; check both find the same files.
grep -rl '$imagepolicy' "$tmp/repo" >/dev/null
$ours >/dev/null 2>"$tmp/ours.log" || true
cat "$tmp/ours.log"
echo "grep finds $(grep -rl '$imagepolicy' "$tmp/repo" | wc -l) files with markers"

if command -v hyperfine >/dev/null 2>&1; then
  hyperfine --warmup 2 --runs "$runs" --export-json "$tmp/h.json" \
    "$theirs" "$ours" >/dev/null
  python3 - "$tmp/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
g, o = r[0]["median"], r[1]["median"]
print(f"grep -rl: {g*1000:.0f} ms  markers: {o*1000:.0f} ms  ratio: {o/g:.2f}x (medians, hyperfine)")
PY
  exit 0
fi

# No hyperfine: alternate the two commands, wall-clock each with date +%s%N, take medians.
now() { date +%s%N; }
i=0
: >"$tmp/grep.ns"
: >"$tmp/ours.ns"
while [ "$i" -lt "$runs" ]; do
  t0=$(now); grep -rl '$imagepolicy' "$tmp/repo" >/dev/null; t1=$(now)
  echo $((t1 - t0)) >>"$tmp/grep.ns"
  t0=$(now); $ours >/dev/null 2>&1 || true; t1=$(now)
  echo $((t1 - t0)) >>"$tmp/ours.ns"
  i=$((i + 1))
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
g=$(median "$tmp/grep.ns")
o=$(median "$tmp/ours.ns")
awk -v g="$g" -v o="$o" -v n="$runs" 'BEGIN {
  printf "grep -rl: %.0f ms  markers (scan+edit+diff): %.0f ms  ratio: %.2fx (medians of %d runs)\n",
         g / 1e6, o / 1e6, o / g, n }'
