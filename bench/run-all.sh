#!/usr/bin/env bash
# Runs bench/compare.sh on every clip pair bench/make-clips.sh wrote, at one and two threads,
# and prints one table per clip.
#
#   bench/run-all.sh /path/to/vmaf CLIPDIR [extra flags for both tools]
#
# Environment: as for compare.sh (VMAFX, RUNS, default 3), plus THREADS (the second thread
# count; default 2) and CLIPS (a space-separated subset of the names in CLIPDIR/clips.txt).
set -euo pipefail
vmaf=${1:?usage: run-all.sh /path/to/vmaf CLIPDIR [flags]}
dir=${2:?missing CLIPDIR (made by bench/make-clips.sh)}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$dir/clips.txt" ] || { echo "run-all.sh: $dir/clips.txt missing; run bench/make-clips.sh $dir" >&2; exit 1; }
export THREADS=${THREADS:-2}
while read -r name ref dist; do
  [ -n "$name" ] || continue
  if [ -n "${CLIPS:-}" ] && [[ " $CLIPS " != *" $name "* ]]; then continue; fi
  echo "== $name ($ref vs $dist)"
  "$here/compare.sh" "$vmaf" "$dir/$ref" "$dir/$dist" "$@"
  echo
done <"$dir/clips.txt"
