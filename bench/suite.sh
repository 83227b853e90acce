#!/usr/bin/env bash
# Times the metrics codec engineers report beside VMAF, for libvmaf's `vmaf` tool and for
# `vmafx score`, on the same clip pair in the same run: VMAF alone (the default model), each
# extractor alone (`-n --feature X`), and the whole suite in one run (VMAF + float_ssim +
# float_ms_ssim + cambi + psnr_hvs + ciede + psnr). Prints seconds for both tools, the ratio
# libvmaf ÷ vmafx (above 1: vmafx is faster), and each tool's suite ÷ VMAF-alone cost. Every
# vmafx output is checked identical to libvmaf's at its printed precision, so a fast wrong
# answer cannot pass.
#
#   bench/suite.sh /path/to/vmaf REF DIST [extra flags for both tools]
#
# libvmaf must be v3.2.0; a default build has every extractor timed here. Environment: VMAFX
# (default target/release/vmafx, built if missing), RUNS (repetitions, best kept; default 1),
# THREADS (default 1, as libvmaf's figures in issue 14), FAST_METRICS (1: also time the ciede and
# suite runs with `vmafx score --fast-metrics`, whose ciede2000 is checked within the README's
# 2e-5 dB of libvmaf's and every other value identical, and print its suite ÷ VMAF too), CLOCK
# (`cpu`: user + system CPU seconds instead of wall seconds, steadier on a shared machine).
set -euo pipefail
vmaf=${1:?usage: suite.sh /path/to/vmaf REF DIST [flags]}
ref=${2:?missing REF}
dist=${3:?missing DIST}
shift 3
root=$(cd "$(dirname "$0")/.." && pwd)
vmafx=${VMAFX:-$root/target/release/vmafx}
if [ ! -x "$vmafx" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p vmafx
fi
runs=${RUNS:-1}
threads=${THREADS:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Runs a command RUNS times; prints the best wall (or, with CLOCK=cpu, CPU) time in seconds.
best_time() {
  local best=""
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || {
      cat "$work/stderr" >&2
      return 1
    }
    local secs
    if [ "${CLOCK:-wall}" = cpu ]; then
      secs=$(awk '{printf "%.2f", $2 + $3}' "$work/time")
    else
      secs=$(awk '{print $1}' "$work/time")
    fi
    if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; fi
  done
  echo "$best"
}

# Checks vmafx's JSON ($3) against libvmaf's ($2): identical, or with a 4th argument, ciede2000
# within that many dB (the fast mode's bound; prints the largest deviation).
same() {
  python3 - "$@" <<'PY'
import json, sys
label, a, b = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
bound = float(sys.argv[4]) if len(sys.argv) > 4 else None
if len(a["frames"]) != len(b["frames"]):
    sys.exit(f"suite.sh: {label}: frame counts differ")
worst = 0.0
for fa, fb in zip(a["frames"], b["frames"]):
    for k, v in fa["metrics"].items():
        got = fb["metrics"].get(k)
        if bound is not None and k == "ciede2000" and got is not None and abs(got - v) <= bound:
            worst = max(worst, abs(got - v))
        elif got != v:
            sys.exit(f"suite.sh: {label}: frame {fa['frameNum']} {k}: libvmaf {v}, vmafx {got}")
if bound is not None:
    print(f"{label} --fast-metrics: max |ciede2000 - libvmaf| = {worst:.2e} dB", file=sys.stderr)
PY
}

suite=(--feature float_ssim --feature float_ms_ssim --feature cambi --feature psnr_hvs --feature ciede --feature psnr)
declare -A flags=(
  [vmaf]=""
  [float_ssim]="-n --feature float_ssim"
  [float_ms_ssim]="-n --feature float_ms_ssim"
  [cambi]="-n --feature cambi"
  [psnr_hvs]="-n --feature psnr_hvs"
  [ciede]="-n --feature ciede"
  [psnr]="-n --feature psnr"
  [suite]="${suite[*]}"
)
printf '%-14s %10s %10s %8s\n' run libvmaf_s vmafx_s ratio
declare -A t_ref t_x t_fast
for run in vmaf float_ssim float_ms_ssim cambi psnr_hvs ciede psnr suite; do
  # shellcheck disable=SC2086 # the flag lists are word lists
  t_ref[$run]=$(best_time "$vmaf" -r "$ref" -d "$dist" "$@" ${flags[$run]} --threads "$threads" -q --json -o "$work/libvmaf.json")
  # shellcheck disable=SC2086
  t_x[$run]=$(best_time "$vmafx" score -r "$ref" -d "$dist" "$@" ${flags[$run]} --threads "$threads" -q --json -o "$work/vmafx.json")
  same "$run" "$work/libvmaf.json" "$work/vmafx.json"
  awk -v r="$run" -v a="${t_ref[$run]}" -v b="${t_x[$run]}" 'BEGIN{printf "%-14s %10.2f %10.2f %7.2fx\n", r, a, b, a/b}'
  if [ "${FAST_METRICS:-0}" = 1 ] && { [ "$run" = ciede ] || [ "$run" = suite ]; }; then
    # shellcheck disable=SC2086
    t_fast[$run]=$(best_time "$vmafx" score -r "$ref" -d "$dist" "$@" ${flags[$run]} --fast-metrics --threads "$threads" -q --json -o "$work/fast.json")
    same "$run" "$work/libvmaf.json" "$work/fast.json" 2e-5
    awk -v r="$run (fast)" -v a="${t_ref[$run]}" -v b="${t_fast[$run]}" 'BEGIN{printf "%-14s %10.2f %10.2f %7.2fx\n", r, a, b, a/b}'
  fi
done
awk -v a="${t_ref[suite]}" -v b="${t_ref[vmaf]}" -v c="${t_x[suite]}" -v d="${t_x[vmaf]}" \
  'BEGIN{printf "suite / VMAF alone: libvmaf %.2fx, vmafx %.2fx\n", a/b, c/d}'
if [ "${FAST_METRICS:-0}" = 1 ]; then
  awk -v c="${t_fast[suite]}" -v d="${t_x[vmaf]}" 'BEGIN{printf "suite / VMAF alone: vmafx --fast-metrics %.2fx\n", c/d}'
fi
