#!/usr/bin/env bash
# Times `vmafx score` against a libvmaf `vmaf` binary on the same clip pair, in the same run, at
# one thread and at all threads, and prints the wall-time ratios (libvmaf ÷ vmafx: above 1 means
# vmafx is faster) and peak RSS. Both tools score the default model and write JSON; the two JSON
# files are checked for identical scores so a fast wrong answer cannot pass.
#
#   bench/compare.sh /path/to/vmaf REF DIST [extra flags, e.g. -w 1920 -h 1080 -p 420 -b 8]
#
# Environment: VMAFX (path to vmafx; default target/release/vmafx, built if missing), RUNS
# (repetitions per configuration, best time kept; default 3), THREADS (the "all threads" count;
# default nproc).
set -euo pipefail
vmaf=${1:?usage: compare.sh /path/to/vmaf REF DIST [flags]}
ref=${2:?missing REF}
dist=${3:?missing DIST}
shift 3
root=$(cd "$(dirname "$0")/.." && pwd)
vmafx=${VMAFX:-$root/target/release/vmafx}
if [ ! -x "$vmafx" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p vmafx
fi
runs=${RUNS:-3}
all=${THREADS:-$(nproc)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Runs a command RUNS times; prints "best_seconds peak_rss_kib".
measure() {
  local best="" rss=0
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || {
      cat "$work/stderr" >&2
      return 1
    }
    read -r secs kib <"$work/time"
    if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; fi
    [ "$kib" -gt "$rss" ] && rss=$kib
  done
  echo "$best $rss"
}

frames() { python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["frames"]))' "$1"; }

printf '%-8s %-8s %10s %10s %9s %11s %11s\n' tool threads seconds fps ratio rss_mib rss_ratio
for threads in 1 "$all"; do
  read -r t_ref rss_ref < <(measure "$vmaf" -r "$ref" -d "$dist" "$@" --threads "$threads" -q --json -o "$work/libvmaf.json")
  read -r t_x rss_x < <(measure "$vmafx" score -r "$ref" -d "$dist" "$@" --threads "$threads" -q --json -o "$work/vmafx.json")
  n=$(frames "$work/vmafx.json")
  python3 - "$work/libvmaf.json" "$work/vmafx.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for fa, fb in zip(a["frames"], b["frames"]):
    for k, v in fa["metrics"].items():
        if fb["metrics"].get(k) != v:
            sys.exit(f"compare.sh: scores differ at frame {fa['frameNum']} {k}: libvmaf {v}, vmafx {fb['metrics'].get(k)}")
if len(a["frames"]) != len(b["frames"]):
    sys.exit("compare.sh: frame counts differ")
PY
  awk -v t="$threads" -v tr="$t_ref" -v tx="$t_x" -v n="$n" -v rr="$rss_ref" -v rx="$rss_x" 'BEGIN{
    printf "%-8s %-8s %10.3f %10.2f %9s %11.1f %11s\n", "libvmaf", t, tr, n/tr, "", rr/1024, "";
    printf "%-8s %-8s %10.3f %10.2f %9.3f %11.1f %11.3f\n", "vmafx", t, tx, n/tx, tr/tx, rx/1024, rr/rx }'
done
echo "ratio = libvmaf seconds / vmafx seconds (higher is better for vmafx); rss_ratio = libvmaf RSS / vmafx RSS"
